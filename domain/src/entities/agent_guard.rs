use sea_orm::entity::prelude::*;

/// What the console keeps about a server's agent to guard against it, or against someone
/// posing as it: a refused credential, and the offline logins it reported lately.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_guards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server_id: Uuid,
    pub tenant_id: Uuid,
    /// When a well-formed credential naming this server was last refused (written at most
    /// once a minute). Shown while it is later than the agent's last heartbeat.
    pub credential_rejected_at: Option<ChronoDateTimeUtc>,
    /// Start of the day-long window `offline_rows_in_window` counts in.
    pub offline_window_start: Option<ChronoDateTimeUtc>,
    pub offline_rows_in_window: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
