use sea_orm::entity::prelude::*;

/// A Web Push subscription of an end user's browser or phone (or a UnifiedPush/ntfy
/// endpoint): where to post notifications of their push requests, and the RFC 8291 keys that
/// encrypt them so the push service cannot read them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub endpoint: String,
    /// The subscription's P-256 public key, an uncompressed point (65 bytes).
    pub p256dh: Vec<u8>,
    /// The subscription's 16-byte authentication secret.
    pub auth: Vec<u8>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
