use sea_orm::entity::prelude::*;

/// A tenant admin's invitation of an end user: a link (only its SHA-256 kept) with which the
/// person sets a password and enrols a first factor. Resending replaces the hash, so the old
/// link dies; a newer invitation of the same person revokes this one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// Email or SMS.
    pub channel: proto::Channel,
    /// The address or phone number the link was sent to.
    pub address: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The admin, as the audit trail names them.
    pub invited_by: String,
    pub created_at: ChronoDateTimeUtc,
    /// The last time the link was sent (the first send, or a resend).
    pub sent_at: ChronoDateTimeUtc,
    /// Messages sent for this invitation, for the resend limits.
    pub sends: i32,
    pub expires_at: ChronoDateTimeUtc,
    pub password_set_at: Option<ChronoDateTimeUtc>,
    pub accepted_at: Option<ChronoDateTimeUtc>,
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
