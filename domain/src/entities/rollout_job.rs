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
    pub status: JobStatus,
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub runs: i32,
    pub created_at: ChronoDateTimeUtc,
    pub finished_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `rollout_jobs.status`; only the console sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its due time.
    Pending,
    /// Handed its revision to the agent.
    Done,
    Canceled,
    /// A newer revision replaced it before it ran.
    Superseded,
}
proto::wire_strings!(JobStatus { Pending => "pending", Done => "done", Canceled => "canceled", Superseded => "superseded" });
