use sea_orm::entity::prelude::*;

/// A customer's server (an ECS in Huawei Cloud's words), known through its agent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub ip: String,
    /// `linux` or `windows`.
    pub os_type: String,
    pub os_name: String,
    pub region: String,
    /// Host protection (the HSS agent's protection) is on.
    pub protection_enabled: bool,
    /// `online` or `offline`.
    pub agent_status: String,
    pub last_seen_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
