use sea_orm::entity::prelude::*;

/// A break-glass code of a server: lets one login in while the console is unreachable. Only
/// its SHA-256 is kept, here and on the agent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "break_glass_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub server_id: Uuid,
    pub sha256: String,
    pub created_at: ChronoDateTimeUtc,
    pub used_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
