use sea_orm::entity::prelude::*;

/// How a server's logins are handled beyond its 2FA method. A server without a row has the
/// defaults: fail mode secure, no exemptions, unenrolled accounts refused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server_id: Uuid,
    pub tenant_id: Uuid,
    pub fail_mode: proto::login::FailMode,
    /// Accounts without an end user, or end users without a factor, may log in (audited).
    pub allow_unenrolled: bool,
    /// JSON list of account names.
    pub exempt_accounts: String,
    /// JSON list of CIDR networks.
    pub exempt_networks: String,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
