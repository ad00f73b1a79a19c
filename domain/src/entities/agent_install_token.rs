use sea_orm::entity::prelude::*;

/// A one-time token an agent registers with. Only its SHA-256 is stored. An install token
/// registers a new server (or a pre-registered one without an agent); a re-install token,
/// issued from one server's page, is the only way to replace the agent of a server that has one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_install_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_by: Uuid,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    pub used_at: Option<ChronoDateTimeUtc>,
    /// The server the token registered.
    pub server_id: Option<Uuid>,
    /// A revoked token registers nothing.
    pub revoked_at: Option<ChronoDateTimeUtc>,
    /// Set on a re-install token: the one server it may register, replacing its agent.
    pub reinstall_server_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
