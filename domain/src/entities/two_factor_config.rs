use sea_orm::entity::prelude::*;

/// The 2FA configuration a server should have.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "two_factor_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server_id: Uuid,
    pub tenant_id: Uuid,
    pub enabled: bool,
    /// `sms` (SMS/Email through a topic) or `code` (verification code from the user's factors).
    pub method: String,
    /// The topic whose endpoints receive codes, for `sms`.
    pub topic_id: Option<Uuid>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
