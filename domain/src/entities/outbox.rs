use sea_orm::entity::prelude::*;

/// A message waiting to be sent, being sent, sent or failed. Written in the same transaction
/// as the change that caused it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub channel: proto::Channel,
    pub kind: proto::MessageKind,
    pub recipient: String,
    /// Email sender name (the topic's display name).
    pub sender_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The secrets (link tokens, codes) of a message waiting to be sent, as a JSON array; the
    /// subject and bodies hold placeholders for them (see `outbox::render`). Cleared once the
    /// message is sent or given up, so no secret outlives its delivery.
    pub secrets: Option<String>,
    pub status: proto::OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: ChronoDateTimeUtc,
    /// The worker holding the message, until `lease_until`.
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub sent_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
