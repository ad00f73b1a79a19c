use sea_orm::entity::prelude::*;

/// Who did what to what, when and from where.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// The user's email, or a description such as `endpoint +8613800000000`.
    pub actor: String,
    /// Stored as its dotted name, e.g. `topic.create`.
    pub action: proto::audit::AuditAction,
    pub target: String,
    pub detail: String,
    pub source_ip: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
