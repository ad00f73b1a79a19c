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
    pub os_type: proto::OsType,
    pub os_name: String,
    pub region: String,
    /// Host protection (the HSS agent's protection) is on.
    pub protection_enabled: bool,
    /// When the agent was last heard from; whether it is online is computed from this and the
    /// clock (`Model::agent_online`), never stored.
    pub last_seen_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    // Facts the agent reports; `None` where it could not tell.
    /// e.g. `OpenSSH_8.9p1`.
    pub openssh_version: Option<String>,
    pub sshd_use_pam: Option<bool>,
    pub sshd_kbd_interactive: Option<bool>,
    pub sshd_permit_empty_passwords: Option<bool>,
    pub selinux: Option<proto::agent::SelinuxMode>,
    /// Windows accounts with "User must change password at next logon", comma-separated.
    pub must_change_password_accounts: String,
    /// Conflicting security software, comma-separated.
    pub conflicting_software: String,
    /// SHA-256 of the agent's credential; `None` until an agent registered for this server.
    pub agent_credential_hash: Option<String>,
    pub agent_version: Option<String>,
    /// Every address the agent reported, comma-separated (`ip` is the first).
    pub ips: String,
    /// When the agent last reported its facts.
    pub facts_at: Option<ChronoDateTimeUtc>,
    /// sshd `Match` blocks that change 2FA's settings (JSON list of
    /// `readiness::SshdMatchOverride`), as the agent last reported them.
    pub sshd_match_overrides: String,
    /// Whether sshd reads HostGuard's drop-in first (JSON `readiness::SshdDropInCheck`), as the
    /// agent last reported it; `None` from agents too old to report it.
    pub sshd_drop_in: Option<String>,
    /// HostGuard's check of sshd's PAM auth stack (JSON `readiness::PamStackCheck`), as the agent
    /// last reported it; `None` from agents too old to report it.
    pub pam_stack: Option<String>,
    /// How many more `Match` settings the agent found than `sshd_match_overrides` lists.
    pub sshd_match_overrides_more: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::two_factor_config::Entity")]
    TwoFactorConfig,
}

impl Related<super::two_factor_config::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TwoFactorConfig.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether the agent was heard from within `agents::OFFLINE_AFTER_SECS` of `now`: the one
    /// rule for the Online/Offline the console shows, filters and counts (`agent_online_condition`).
    pub fn agent_online(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.last_seen_at.is_some_and(|seen| seen >= online_cutoff(now))
    }
}

/// The earliest `last_seen_at` of an agent that is online at `now`.
pub fn online_cutoff(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now - chrono::Duration::seconds(crate::agents::OFFLINE_AFTER_SECS)
}

/// The SQL condition for `Model::agent_online` (`online == false`: offline, never heard from
/// included), so that a filtered or counted list agrees with the status shown.
pub fn agent_online_condition(online: bool, now: chrono::DateTime<chrono::Utc>) -> sea_orm::Condition {
    let seen = Column::LastSeenAt.gte(online_cutoff(now));
    if online {
        sea_orm::Condition::all().add(seen)
    } else {
        sea_orm::Condition::any().add(Column::LastSeenAt.is_null()).add(Column::LastSeenAt.lt(online_cutoff(now)))
    }
}
