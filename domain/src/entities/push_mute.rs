use sea_orm::entity::prelude::*;

/// A pause of an end user's out-of-portal push notifications (the portal still shows their
/// requests): after "This wasn't me", or after several denials in a row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_mutes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub reason: MuteReason,
    /// The request whose decision started it.
    pub request_id: Uuid,
    pub created_at: ChronoDateTimeUtc,
    pub until: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Why notifications were paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum MuteReason {
    /// The person pressed "This wasn't me".
    #[sea_orm(string_value = "fraud")]
    Fraud,
    /// The person denied several requests in a row.
    #[sea_orm(string_value = "denials")]
    Denials,
}
