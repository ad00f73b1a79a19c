use sea_orm::entity::prelude::*;

/// An endpoint (phone number or email address) subscribed to a topic.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub topic_id: Uuid,
    pub protocol: proto::Protocol,
    pub endpoint: String,
    pub remark: String,
    pub status: proto::SubscriptionStatus,
    /// SHA-256 of the confirmation token; cleared once used.
    pub confirm_token_hash: Option<String>,
    pub confirm_expires_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    pub canceled_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
