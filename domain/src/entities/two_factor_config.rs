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
    /// The newest revision; `enabled`, `method` and `topic_id` above are its target.
    pub revision: i64,
    /// `scheduled`, `delivering`, `applied`, `failed` or `canceled` (see `rollout::Phase`).
    pub phase: String,
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
    pub applied_method: Option<String>,
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

stored_enum!(
    /// `two_factor_configs.phase`: where the newest revision stands (`rollout::Phase`).
    PhaseName {
        Scheduled => "scheduled",
        Delivering => "delivering",
        Applied => "applied",
        Failed => "failed",
        Canceled => "canceled",
    }
);
