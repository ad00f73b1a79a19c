use sea_orm::entity::prelude::*;

/// One confirmation message sent to an endpoint, for the limits per endpoint. Not tied to the
/// subscription, so deleting and adding it again does not reset the count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "confirmation_sends")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub protocol: proto::Protocol,
    /// Normalized: email addresses lower-case, phone numbers as `+` and digits.
    pub endpoint: String,
    pub sent_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
