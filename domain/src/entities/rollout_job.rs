use sea_orm::entity::prelude::*;

/// A durable job: hand revision `revision` of a server's 2FA configuration to its agent once
/// `due_at` has come. Workers lease jobs, so each runs once across replicas and restarts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rollout_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub server_id: Uuid,
    pub revision: i64,
    pub due_at: ChronoDateTimeUtc,
    /// `pending`, `done`, `canceled` or `superseded`.
    pub status: String,
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub runs: i32,
    pub created_at: ChronoDateTimeUtc,
    pub finished_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

stored_enum!(
    /// `rollout_jobs.status`.
    JobStatus {
        /// Waiting for its due time.
        Pending => "pending",
        /// Handed its revision to the agent.
        Done => "done",
        Canceled => "canceled",
        /// A newer revision replaced it before it ran.
        Superseded => "superseded",
    }
);
