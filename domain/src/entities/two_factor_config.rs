use sea_orm::entity::prelude::*;

/// The 2FA configuration a server should have.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "two_factor_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server_id: Uuid,
    pub tenant_id: Uuid,
    pub enabled: bool,
    pub method: proto::Method,
    /// The topic whose endpoints receive codes, for `sms`.
    pub topic_id: Option<Uuid>,
    pub updated_at: ChronoDateTimeUtc,
    /// The newest revision; `enabled`, `method` and `topic_id` above are its target.
    pub revision: i64,
    /// See `rollout::Phase`.
    pub phase: PhaseName,
    /// When a scheduled revision is due.
    pub due_at: Option<ChronoDateTimeUtc>,
    /// When the revision entered its phase.
    pub phase_at: Option<ChronoDateTimeUtc>,
    pub failure_reason: Option<String>,
    /// What made it fail, for `failed`; the behaviour keys on this, never on the reason's words.
    pub failure_kind: Option<crate::rollout::FailureKind>,
    /// What the agent last acknowledged (revision 0: nothing yet, 2FA off).
    pub applied_revision: i64,
    pub applied_enabled: bool,
    pub applied_method: Option<proto::Method>,
    pub applied_topic_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::server::Entity", from = "Column::ServerId", to = "super::server::Column::Id")]
    Server,
}

impl Related<super::server::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Server.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// `two_factor_configs.phase`: where the newest revision stands (`rollout::Phase`); only the
/// console sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
pub enum PhaseName {
    Scheduled,
    Delivering,
    Applied,
    Failed,
    Canceled,
}
proto::wire_strings!(PhaseName {
    Scheduled => "scheduled",
    Delivering => "delivering",
    Applied => "applied",
    Failed => "failed",
    Canceled => "canceled",
});
