//! Agents: one-time install tokens, registration, the agent's own credential, facts,
//! heartbeats, handing revisions over by long poll, and acknowledgements.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::Notify;
use uuid::Uuid;

/// Per-server wake-ups for agents waiting in a long poll on this replica.
#[derive(Debug, Default)]
pub struct Signals {
    waiting: Mutex<HashMap<Uuid, Arc<Notify>>>,
}

impl Signals {
    /// The signal a long poll for `server_id` waits on.
    pub fn subscribe(&self, server_id: Uuid) -> Arc<Notify> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(server_id).or_default().clone()
    }

    /// Forgets the signal once no poll holds it.
    pub fn release(&self, server_id: Uuid) {
        let mut map = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&server_id).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(&server_id);
        }
    }

    pub fn wake(&self, server_id: Uuid) {
        if let Some(n) = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&server_id) {
            n.notify_waiters();
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
}

use crate::{
    audit::{self, Actor, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{agent_install_token, server, topic, two_factor_config as config},
    error::{DomainError, DomainResult, FieldError},
    rollout::Ack,
    tokens,
};
use chrono::{DateTime, Utc};
use sea_orm::{sea_query::Expr, ActiveModelTrait, IntoActiveModel, PaginatorTrait, QueryOrder, QuerySelect};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// How long an install token can register a server.
pub const INSTALL_TOKEN_HOURS: i64 = 24;
/// An agent silent for longer is shown offline.
pub const OFFLINE_AFTER_SECS: i64 = 180;
/// The newest tokens the 2FA tab lists.
pub const TOKENS_LISTED: u64 = 50;

/// A new one-time install token for the caller's tenant; only its hash is kept. It registers a
/// new server, or a pre-registered one that has no agent yet; never one that has an agent.
pub async fn create_install_token(ctx: &Ctx, caller: &Caller, actor: &Actor) -> DomainResult<(String, DateTime<Utc>)> {
    let tenant_id = caller.admin_tenant()?;
    issue_token(ctx, caller, actor, tenant_id, None).await
}

/// A one-time re-install token bound to one server of the caller's tenant: the only way to
/// replace the agent (and its credential) of a server that already has one, e.g. after the
/// machine was rebuilt. Another tenant's server is "not found".
pub async fn create_reinstall_token(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    server_id: Uuid,
) -> DomainResult<(String, DateTime<Utc>)> {
    let tenant_id = caller.admin_tenant()?;
    let s = server::Entity::find_by_id(server_id)
        .filter(server::Column::TenantId.eq(tenant_id))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("server"))?;
    issue_token(ctx, caller, actor, tenant_id, Some(&s)).await
}

async fn issue_token(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    tenant_id: Uuid,
    reinstall: Option<&server::Model>,
) -> DomainResult<(String, DateTime<Utc>)> {
    let (token, hash) = tokens::new_token();
    let now = ctx.clock.now();
    let expires_at = now + chrono::Duration::hours(INSTALL_TOKEN_HOURS);
    let txn = crate::db::write_txn(&ctx.db).await?;
    agent_install_token::Entity::insert(agent_install_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        token_hash: Set(hash),
        created_by: Set(caller.user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        server_id: Set(None),
        revoked_at: Set(None),
        reinstall_server_id: Set(reinstall.map(|s| s.id)),
    })
    .exec_without_returning(&txn)
    .await?;
    let valid = format!("valid until {}", expires_at.format("%Y-%m-%d %H:%M UTC"));
    let (action, target, detail) = match reinstall {
        None => ("agent.install_token", "agent install token".to_owned(), valid),
        Some(s) => (
            "agent.reinstall_token",
            s.name.clone(),
            format!("re-install token for server {}: replaces its agent; {valid}", s.id),
        ),
    };
    audit::record(&txn, now, actor, Entry { tenant_id: Some(tenant_id), action, target, detail }).await?;
    txn.commit().await?;
    Ok((format!("hgi_{token}"), expires_at))
}

/// Where a token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Can still register (once).
    Valid,
    Used,
    Revoked,
    Expired,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Valid => "valid",
            TokenState::Used => "used",
            TokenState::Revoked => "revoked",
            TokenState::Expired => "expired",
        }
    }

    fn of(t: &agent_install_token::Model, now: DateTime<Utc>) -> TokenState {
        if t.used_at.is_some() {
            TokenState::Used
        } else if t.revoked_at.is_some() {
            TokenState::Revoked
        } else if t.expires_at <= now {
            TokenState::Expired
        } else {
            TokenState::Valid
        }
    }
}

/// One install or re-install token, as the 2FA tab lists it (never the token itself).
#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub id: Uuid,
    /// The server a re-install token replaces the agent of.
    pub reinstall_server: Option<(Uuid, String)>,
    /// The server the token registered, once used.
    pub registered_server: Option<(Uuid, String)>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub state: TokenState,
}

/// The tenant's newest install and re-install tokens, newest first.
pub async fn list_tokens(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<TokenInfo>> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let rows = agent_install_token::Entity::find()
        .filter(agent_install_token::Column::TenantId.eq(tenant_id))
        .order_by_desc(agent_install_token::Column::CreatedAt)
        .order_by_desc(agent_install_token::Column::Id)
        .limit(TOKENS_LISTED)
        .all(&ctx.db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().flat_map(|t| [t.server_id, t.reinstall_server_id]).flatten().collect();
    let names: HashMap<Uuid, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        server::Entity::find()
            .filter(server::Column::TenantId.eq(tenant_id))
            .filter(server::Column::Id.is_in(ids))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect()
    };
    let named = |id: Option<Uuid>| id.map(|id| (id, names.get(&id).cloned().unwrap_or_else(|| "(deleted)".into())));
    Ok(rows
        .into_iter()
        .map(|t| TokenInfo {
            id: t.id,
            reinstall_server: named(t.reinstall_server_id),
            registered_server: named(t.server_id),
            created_at: t.created_at,
            expires_at: t.expires_at,
            used_at: t.used_at,
            revoked_at: t.revoked_at,
            state: TokenState::of(&t, now),
        })
        .collect())
}

/// Revokes a token of the caller's tenant so it can no longer register. Revoking a revoked or
/// expired token changes nothing; a used one is refused (its agent has its own credential now).
pub async fn revoke_token(ctx: &Ctx, caller: &Caller, actor: &Actor, token_id: Uuid) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let t = agent_install_token::Entity::find_by_id(token_id)
        .filter(agent_install_token::Column::TenantId.eq(tenant_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("install token"))?;
    if t.used_at.is_some() {
        return Err(DomainError::Conflict(
            "this token was already used to register a server; a used token cannot register again, so there is nothing to revoke".into(),
        ));
    }
    if t.revoked_at.is_some() {
        return Ok(());
    }
    let done = agent_install_token::Entity::update_many()
        .col_expr(agent_install_token::Column::RevokedAt, Expr::value(now))
        .filter(agent_install_token::Column::Id.eq(t.id))
        .filter(agent_install_token::Column::UsedAt.is_null())
        .filter(agent_install_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(DomainError::Conflict("this token was used while it was being revoked".into()));
    }
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(t.tenant_id),
            action: "agent.token_revoke",
            target: if t.reinstall_server_id.is_some() { "agent re-install token" } else { "agent install token" }
                .into(),
            detail: format!("token {} created {}", t.id, t.created_at.format("%Y-%m-%d %H:%M UTC")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Longest lengths the agent API accepts for each fact; longer is refused naming the field.
pub mod limits {
    pub const HOSTNAME: usize = 64;
    pub const IPS: usize = 32;
    /// The longest textual IPv6 address (with an embedded IPv4 address).
    pub const IP: usize = 45;
    pub const OS_NAME: usize = 128;
    pub const VERSION: usize = 64;
    pub const AGENT_VERSION: usize = 32;
    pub const SOFTWARE: usize = 32;
    pub const SOFTWARE_NAME: usize = 128;
    pub const ACCOUNTS: usize = 256;
    pub const ACCOUNT_NAME: usize = 64;
    /// Agents cut their lists and texts to these (`proto::agent::limits`) and count the rest.
    pub const MATCH_OVERRIDES: usize = proto::agent::limits::LIST;
    pub const MATCH_TEXT: usize = proto::agent::limits::TEXT;
    /// Settings sshd reads before HostGuard's drop-in; texts are limited like `MATCH_TEXT`.
    pub const EARLIER_SETTINGS: usize = proto::agent::limits::LIST;
    /// Problems in the PAM stack; texts are limited like `MATCH_TEXT`.
    pub const PAM_PROBLEMS: usize = proto::agent::limits::LIST;
    pub const INSTALL_TOKEN: usize = 200;
}

pub use proto::agent::{Assignment, Facts};
use proto::OsType;

/// The console's checks of what an agent reports.
trait Check {
    fn check(&self) -> DomainResult<()>;
    fn write_to(&self, m: &mut server::ActiveModel, now: DateTime<Utc>);
}

impl Check for Facts {
    fn check(&self) -> DomainResult<()> {
        use limits::*;
        let mut errors = vec![];
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        let too_long = |v: &str, max: usize| v.chars().count() > max;
        let list_bad = |v: &[String], count: usize, max: usize| {
            v.len() > count || v.iter().any(|x| x.trim().is_empty() || too_long(x, max) || x.contains(','))
        };
        let name = self.hostname.trim();
        if name.is_empty()
            || name.len() > HOSTNAME
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bad("hostname", format!("must be 1 to {HOSTNAME} letters, digits, -, _ or ."));
        }
        if self.ips.len() > IPS || self.ips.iter().any(|ip| ip.len() > IP || ip.parse::<std::net::IpAddr>().is_err()) {
            bad("ips", format!("must be at most {IPS} IPv4 or IPv6 addresses"));
        }
        if OsType::parse(&self.os_type).is_none() {
            bad("os_type", "must be linux or windows".into());
        }
        if too_long(&self.os_name, OS_NAME) {
            bad("os_name", format!("must be at most {OS_NAME} characters"));
        }
        if self.openssh_version.as_deref().is_some_and(|v| too_long(v, VERSION)) {
            bad("openssh_version", format!("must be at most {VERSION} characters"));
        }
        if too_long(&self.agent_version, AGENT_VERSION) {
            bad("agent_version", format!("must be at most {AGENT_VERSION} characters"));
        }
        if list_bad(&self.conflicting_software, SOFTWARE, SOFTWARE_NAME) {
            bad(
                "conflicting_software",
                format!("must be at most {SOFTWARE} names of 1 to {SOFTWARE_NAME} characters without commas"),
            );
        }
        if list_bad(&self.must_change_password_accounts, ACCOUNTS, ACCOUNT_NAME) {
            bad(
                "must_change_password_accounts",
                format!("must be at most {ACCOUNTS} account names of 1 to {ACCOUNT_NAME} characters without commas"),
            );
        }
        if self.sshd_match_overrides.len() > MATCH_OVERRIDES
            || self
                .sshd_match_overrides
                .iter()
                .any(|o| [&o.file, &o.criteria, &o.keyword, &o.value].iter().any(|v| too_long(v, MATCH_TEXT)))
        {
            bad(
                "sshd_match_overrides",
                format!("must be at most {MATCH_OVERRIDES} entries whose texts have at most {MATCH_TEXT} characters"),
            );
        }
        if let Some(d) = &self.sshd_drop_in {
            if d.earlier_settings.len() > EARLIER_SETTINGS
                || d.earlier_settings
                    .iter()
                    .any(|s| [&s.file, &s.keyword, &s.value].iter().any(|v| too_long(v, MATCH_TEXT)))
            {
                bad(
                    "sshd_drop_in",
                    format!(
                        "earlier_settings must be at most {EARLIER_SETTINGS} entries whose texts have at most {MATCH_TEXT} characters"
                    ),
                );
            }
        }
        if let Some(p) = &self.pam_stack {
            if p.problems.len() > PAM_PROBLEMS
                || p.problems.iter().any(|x| [&x.file, &x.problem, &x.fix].iter().any(|v| too_long(v, MATCH_TEXT)))
            {
                bad(
                    "pam_stack",
                    format!("problems must be at most {PAM_PROBLEMS} entries whose texts have at most {MATCH_TEXT} characters"),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    fn write_to(&self, m: &mut server::ActiveModel, now: DateTime<Utc>) {
        let join = |v: &[String]| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ");
        m.ip = Set(self.ips.first().cloned().unwrap_or_default());
        m.ips = Set(self.ips.join(","));
        if let Some(os) = OsType::parse(&self.os_type) {
            m.os_type = Set(os); // `check` refused any other value
        }
        m.os_name = Set(self.os_name.clone());
        m.openssh_version = Set(self.openssh_version.clone());
        m.sshd_use_pam = Set(self.sshd_use_pam);
        m.sshd_kbd_interactive = Set(self.sshd_kbd_interactive);
        m.sshd_permit_empty_passwords = Set(self.sshd_permit_empty_passwords);
        m.selinux = Set(self.selinux);
        m.conflicting_software = Set(join(&self.conflicting_software));
        m.must_change_password_accounts = Set(join(&self.must_change_password_accounts));
        m.sshd_match_overrides = Set(serde_json::to_string(&self.sshd_match_overrides).unwrap_or_default());
        m.sshd_drop_in = Set(self.sshd_drop_in.as_ref().and_then(|d| serde_json::to_string(d).ok()));
        m.sshd_match_overrides_more = Set(i32::try_from(self.sshd_match_overrides_more).unwrap_or(i32::MAX));
        m.pam_stack = Set(self.pam_stack.as_ref().and_then(|p| serde_json::to_string(p).ok()));
        m.agent_version = Set(Some(self.agent_version.clone()));
        m.facts_at = Set(Some(now));
        m.last_seen_at = Set(Some(now));
    }
}

/// An agent registered: its server and the credential it authenticates with from now on.
#[derive(Clone, Debug)]
pub struct Registered {
    pub server_id: Uuid,
    /// Shown to the agent once; `Debug` hides it.
    pub credential: secrecy::SecretString,
}

fn new_credential(server_id: Uuid) -> (String, String) {
    let (secret, _) = tokens::new_token();
    let credential = format!("hga_{}_{secret}", server_id.simple());
    let hash = tokens::hash_token(&credential);
    (credential, hash)
}

/// Registers an agent with a one-time token, which is used up atomically (of concurrent
/// registrations with one token exactly one succeeds).
///
/// - A re-install token replaces the agent of the one server it was issued for: the old
///   credential stops working.
/// - An install token takes over a pre-registered server of the same name that has no agent
///   yet, or else adds a new server. It never takes over a server that has an agent: a host
///   name proves nothing, and that server's revisions and acknowledgements belong to its agent.
///   Like an HSS agent installed on another machine with the same name, the newcomer is listed
///   as a server of its own (names are not unique), rather than refused, so cloned images and
///   rebuilt machines still register; replacing a server's agent takes a re-install token.
pub async fn register(ctx: &Ctx, install_token: &str, facts: &Facts, source_ip: &str) -> DomainResult<Registered> {
    facts.check()?;
    if install_token.len() > limits::INSTALL_TOKEN {
        return Err(DomainError::Unauthenticated);
    }
    let hash = tokens::hash_token(install_token.strip_prefix("hgi_").unwrap_or(install_token));
    let now = ctx.clock.now();
    // Unknown, used, revoked or expired tokens are turned away on a read, before any write
    // transaction (which SQLite serializes) is opened.
    let token = agent_install_token::Entity::find()
        .filter(agent_install_token::Column::TokenHash.eq(hash))
        .one(&ctx.db)
        .await?
        .filter(|t| TokenState::of(t, now) == TokenState::Valid)
        .ok_or(DomainError::Unauthenticated)?;

    let txn = crate::db::write_txn(&ctx.db).await?;
    // The claim: only one registration can turn `used_at` from NULL (PostgreSQL re-checks the
    // condition after a concurrent update commits), so the token registers one server.
    let claimed = agent_install_token::Entity::update_many()
        .col_expr(agent_install_token::Column::UsedAt, Expr::value(now))
        .filter(agent_install_token::Column::Id.eq(token.id))
        .filter(agent_install_token::Column::UsedAt.is_null())
        .filter(agent_install_token::Column::RevokedAt.is_null())
        .filter(agent_install_token::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(DomainError::Unauthenticated);
    }

    let name = facts.hostname.trim().to_owned();
    let mut taken_over: Option<server::Model> = None;
    let mut detail = String::new();
    if let Some(bound) = token.reinstall_server_id {
        let s = server::Entity::find_by_id(bound)
            .filter(server::Column::TenantId.eq(token.tenant_id))
            .one(&txn)
            .await?
            .ok_or(DomainError::Conflict(
                "the server this re-install token was issued for no longer exists; use an install token".into(),
            ))?;
        detail = format!("re-installed: replaces the agent of server {} (re-install token {})", s.id, token.id);
        taken_over = Some(s);
    } else {
        // Pre-registered servers of that name without an agent, oldest first.
        let candidates = server::Entity::find()
            .filter(server::Column::TenantId.eq(token.tenant_id))
            .filter(server::Column::Name.eq(name.as_str()))
            .filter(server::Column::AgentCredentialHash.is_null())
            .order_by_asc(server::Column::CreatedAt)
            .all(&txn)
            .await?;
        for s in candidates {
            // Only while it still has no agent: a concurrent registration may have taken it.
            let (credential, hash) = new_credential(s.id);
            let mut m = <server::ActiveModel as Default>::default();
            facts.write_to(&mut m, now);
            m.protection_enabled = Set(true);
            m.agent_credential_hash = Set(Some(hash));
            let done = server::Entity::update_many()
                .set(m)
                .filter(server::Column::Id.eq(s.id))
                .filter(server::Column::AgentCredentialHash.is_null())
                .exec(&txn)
                .await?;
            if done.rows_affected == 1 {
                let detail = format!("took over the pre-registered server {}", s.id);
                return finish_registration(ctx, txn, &token, s.id, credential, facts, &name, source_ip, &detail).await;
            }
        }
    }

    let (server_id, credential) = match taken_over {
        Some(s) => {
            let (credential, hash) = new_credential(s.id);
            let mut m = s.clone().into_active_model();
            facts.write_to(&mut m, now);
            m.protection_enabled = Set(true);
            m.agent_credential_hash = Set(Some(hash));
            m.update(&txn).await?;
            if let Some(revision) = redeliver(&txn, &s, now).await? {
                detail.push_str(&format!("; its 2FA configuration (revision {revision}) is delivered again"));
            }
            (s.id, credential)
        }
        None => {
            let server_id = Uuid::new_v4();
            let (credential, hash) = new_credential(server_id);
            let mut m = server::ActiveModel {
                id: Set(server_id),
                tenant_id: Set(token.tenant_id),
                name: Set(name.clone()),
                region: Set(crate::servers::REGIONS[0].0.into()),
                created_at: Set(now),
                ..Default::default()
            };
            facts.write_to(&mut m, now);
            m.protection_enabled = Set(true);
            m.agent_credential_hash = Set(Some(hash));
            server::Entity::insert(m).exec_without_returning(&txn).await?;
            let same_name = server::Entity::find()
                .filter(server::Column::TenantId.eq(token.tenant_id))
                .filter(server::Column::Name.eq(name.as_str()))
                .filter(server::Column::Id.ne(server_id))
                .count(&txn)
                .await?;
            detail = if same_name > 0 {
                format!("new server {server_id}; {same_name} other server(s) have this name and keep their agents")
            } else {
                format!("new server {server_id}")
            };
            (server_id, credential)
        }
    };
    finish_registration(ctx, txn, &token, server_id, credential, facts, &name, source_ip, &detail).await
}

/// After a re-install nothing says the machine still has the applied configuration (it may have
/// been rebuilt), so the console must not go on showing it: the applied revision is handed to
/// the new agent again, and the server shows Enabling… / Disabling… until that agent
/// acknowledges it (or Failed after the deadline). Returns the revision, if there was one.
async fn redeliver(
    txn: &sea_orm::DatabaseTransaction,
    s: &server::Model,
    now: DateTime<Utc>,
) -> DomainResult<Option<i64>> {
    let Some(c) = config::Entity::find_by_id(s.id).one(txn).await? else { return Ok(None) };
    let mut r = crate::two_factor::rollout_of(&c);
    let Some(latest) = r.latest.as_mut().filter(|l| matches!(l.phase, crate::rollout::Phase::Applied { .. })) else {
        return Ok(None);
    };
    latest.phase = crate::rollout::Phase::Delivering { since: now };
    let revision = latest.number;
    r.applied = None;
    crate::two_factor::store(txn, s.id, s.tenant_id, &r, now).await?;
    Ok(Some(revision))
}

#[allow(clippy::too_many_arguments)]
async fn finish_registration(
    ctx: &Ctx,
    txn: sea_orm::DatabaseTransaction,
    token: &agent_install_token::Model,
    server_id: Uuid,
    credential: String,
    facts: &Facts,
    name: &str,
    source_ip: &str,
    how: &str,
) -> DomainResult<Registered> {
    let now = ctx.clock.now();
    agent_install_token::Entity::update_many()
        .col_expr(agent_install_token::Column::ServerId, Expr::value(server_id))
        .filter(agent_install_token::Column::Id.eq(token.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        now,
        &Actor::new(format!("agent on {name}"), source_ip),
        Entry {
            tenant_id: Some(token.tenant_id),
            action: if token.reinstall_server_id.is_some() { "agent.reinstall" } else { "agent.register" },
            target: name.to_owned(),
            detail: format!("agent {} on {}; {how}", facts.agent_version, facts.os_name),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Registered { server_id, credential: credential.into() })
}

/// The server whose agent holds `credential`, if it is valid.
///
/// A well-formed credential that names an existing server but is not its current one (the
/// agent was re-installed elsewhere, or its credential replaced) is written down on that
/// server, so the console can say so: such an agent keeps serving logins from its stored
/// policy and cannot tell the console itself.
pub async fn authenticate(ctx: &Ctx, credential: &str) -> DomainResult<server::Model> {
    if !credential.starts_with("hga_") || credential.len() > 200 {
        return Err(DomainError::Unauthenticated);
    }
    let found = server::Entity::find()
        .filter(server::Column::AgentCredentialHash.eq(tokens::hash_token(credential)))
        .one(&ctx.db)
        .await?;
    if let Some(s) = found {
        return Ok(s);
    }
    if let Some(server_id) = credential_server(credential) {
        // Best effort: the caller is refused either way.
        if let Err(e) = note_rejected(ctx, server_id).await {
            tracing::warn!(%server_id, error = %e, "could not record a refused agent credential");
        }
    }
    Err(DomainError::Unauthenticated)
}

/// The server id a credential of [`new_credential`]'s shape names (`hga_<id>_<secret>`).
fn credential_server(credential: &str) -> Option<Uuid> {
    let (id, secret) = credential.strip_prefix("hga_")?.split_once('_')?;
    if id.len() != 32 || secret.is_empty() {
        return None;
    }
    Uuid::try_parse(id).ok()
}

/// A refused credential is written down at most this often per server: a flood of bad calls
/// costs one write a minute, and anyone who knows a server's id can change nothing else.
pub const REJECTION_NOTED_EVERY_SECS: i64 = 60;

async fn note_rejected(ctx: &Ctx, server_id: Uuid) -> DomainResult<()> {
    use crate::entities::agent_guard;
    let now = ctx.clock.now();
    let cutoff = now - chrono::Duration::seconds(REJECTION_NOTED_EVERY_SECS);
    let guard = agent_guard::Entity::find_by_id(server_id).one(&ctx.db).await?;
    if guard.as_ref().and_then(|g| g.credential_rejected_at).is_some_and(|at| at > cutoff) {
        return Ok(());
    }
    if guard.is_none() {
        let Some(tenant_id) = server::Entity::find_by_id(server_id)
            .select_only()
            .column(server::Column::TenantId)
            .into_tuple::<Uuid>()
            .one(&ctx.db)
            .await?
        else {
            return Ok(()); // no such server: nothing to say about it
        };
        let row = agent_guard::ActiveModel {
            server_id: Set(server_id),
            tenant_id: Set(tenant_id),
            credential_rejected_at: Set(Some(now)),
            offline_window_start: Set(None),
            offline_rows_in_window: Set(0),
        };
        let inserted = agent_guard::Entity::insert(row)
            .on_conflict(sea_orm::sea_query::OnConflict::column(agent_guard::Column::ServerId).do_nothing().to_owned())
            .exec_without_returning(&ctx.db)
            .await?;
        if inserted == 1 {
            return Ok(());
        }
    }
    // Only this column, and only once the last note is a minute old (also under concurrency).
    agent_guard::Entity::update_many()
        .col_expr(agent_guard::Column::CredentialRejectedAt, Expr::value(now))
        .filter(agent_guard::Column::ServerId.eq(server_id))
        .filter(
            sea_orm::Condition::any()
                .add(agent_guard::Column::CredentialRejectedAt.is_null())
                .add(agent_guard::Column::CredentialRejectedAt.lte(cutoff)),
        )
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// When a credential for `s` was last refused, if that is later than its agent was last heard
/// from with a valid one: then the agent on the machine is probably running with a replaced
/// credential, and a re-install (with a token from the server's page) is the fix. A valid
/// heartbeat after it makes it stale, so one forged call shows for at most a heartbeat.
pub async fn credential_rejected(ctx: &Ctx, s: &server::Model) -> DomainResult<Option<DateTime<Utc>>> {
    let at = crate::entities::agent_guard::Entity::find_by_id(s.id)
        .one(&ctx.db)
        .await?
        .and_then(|g| g.credential_rejected_at);
    Ok(at.filter(|at| s.last_seen_at.is_none_or(|seen| *at > seen)))
}

pub async fn report_facts(ctx: &Ctx, s: &server::Model, facts: &Facts) -> DomainResult<()> {
    facts.check()?;
    let mut m = server::ActiveModel { id: Set(s.id), ..Default::default() };
    facts.write_to(&mut m, ctx.clock.now());
    server::Entity::update(m).exec(&ctx.db).await?;
    Ok(())
}

/// The agent is alive and runs `applied_revision`; a host on a revision the console does not
/// show is brought back in step (`two_factor::reconcile`).
pub async fn heartbeat(ctx: &Ctx, s: &server::Model, applied_revision: i64, source_ip: &str) -> DomainResult<()> {
    server::Entity::update_many()
        .col_expr(server::Column::LastSeenAt, Expr::value(ctx.clock.now()))
        .filter(server::Column::Id.eq(s.id))
        .exec(&ctx.db)
        .await?;
    crate::two_factor::reconcile(ctx, s, applied_revision, source_ip).await?;
    Ok(())
}

/// The revision handed to this server's agent, if it is newer than `after`.
pub async fn assignment(ctx: &Ctx, server_id: Uuid, after: i64) -> DomainResult<Option<Assignment>> {
    let Some(c) = config::Entity::find_by_id(server_id)
        .filter(config::Column::Phase.eq(config::PhaseName::Delivering))
        .filter(config::Column::Revision.gt(after))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    let topic_urn = match c.topic_id {
        Some(id) => topic::Entity::find_by_id(id).one(&ctx.db).await?.map(|t| t.urn),
        None => None,
    };
    Ok(Some(Assignment {
        revision: c.revision,
        enabled: c.enabled,
        method: Some(c.method),
        topic_urn,
        server_id,
        console_url: ctx.public_url.clone(),
    }))
}

/// Waits up to `wait` for a revision newer than `after`: the long poll.
pub async fn wait_for_assignment(
    ctx: &Ctx,
    server_id: Uuid,
    after: i64,
    wait: std::time::Duration,
) -> DomainResult<Option<Assignment>> {
    let signal = ctx.agent_signals.subscribe(server_id);
    let result = async {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(a) = assignment(ctx, server_id, after).await? {
                return Ok(Some(a));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }
    .await;
    drop(signal);
    ctx.agent_signals.release(server_id);
    result
}

/// The agent's report on a revision. Returns whether it counted (false for a revision that is no
/// longer the newest, or was not handed over).
pub async fn acknowledge(
    ctx: &Ctx,
    s: &server::Model,
    revision: i64,
    outcome: Result<(), String>,
    source_ip: &str,
) -> DomainResult<bool> {
    if let Err(reason) = &outcome {
        if reason.len() > 4000 {
            return Err(DomainError::validation("error", "must be at most 4000 characters"));
        }
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::two_factor::lock_servers(&txn, &[s.id]).await?;
    let Some(c) = config::Entity::find_by_id(s.id).one(&txn).await? else { return Ok(false) };
    let mut r = crate::two_factor::rollout_of(&c);
    let ack = r.ack(revision, outcome.clone(), now);
    if ack == Ack::Stale {
        return Ok(false);
    }
    crate::two_factor::store(&txn, s.id, s.tenant_id, &r, now).await?;
    let enabled = c.enabled;
    let late_after = if c.phase == config::PhaseName::Canceled {
        "a cancel"
    } else {
        "the deadline had marked it failed"
    };
    audit::record(
        &txn,
        now,
        &Actor::new(format!("agent on {}", s.name), source_ip),
        Entry {
            tenant_id: Some(s.tenant_id),
            action: if ack == Ack::Failed { "2fa.failed" } else { "2fa.applied" },
            target: s.name.clone(),
            detail: match outcome {
                Ok(()) if ack == Ack::AppliedLate => format!(
                    "revision {revision}: 2FA {}, acknowledged after {late_after}",
                    if enabled { "on" } else { "off" }
                ),
                Ok(()) => format!("revision {revision}: 2FA {}", if enabled { "on" } else { "off" }),
                Err(e) => format!("revision {revision}: {e}"),
            },
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// What one agent may write through the agent API: a token bucket per server and kind of call,
/// so that one agent (of any tenant) cannot keep the database busy for all. Kept in memory on
/// each replica; the per-server limits in the database (logins a minute, offline rows a day)
/// hold across replicas. Measured in real time (not the console's clock): it bounds real load,
/// and an agent in a test whose clock stands still must not run dry.
pub mod budget {
    use std::{collections::HashMap, sync::Mutex, time::Instant};
    use uuid::Uuid;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Kind {
        /// Opening and answering logins: people are waiting, and a busy server has bursts.
        Logins,
        /// Facts, heartbeats, acknowledgements and offline reports.
        Reports,
    }

    impl Kind {
        /// Calls in a burst, and calls a second after it.
        pub fn limits(self) -> (f64, f64) {
            match self {
                // Above `logins::STARTS_PER_SERVER_PER_MINUTE` with an answer or two each.
                Kind::Logins => (600.0, 20.0),
                // A heartbeat every 30 s, facts now and then, an offline queue in chunks.
                Kind::Reports => (60.0, 0.5),
            }
        }
    }

    /// Buckets kept before idle full ones are dropped.
    const KEPT: usize = 100_000;

    #[derive(Debug, Default)]
    pub struct WriteBudgets {
        buckets: Mutex<HashMap<(Uuid, Kind), (f64, Instant)>>,
    }

    impl WriteBudgets {
        /// Spends one call of `kind` for `server_id`'s agent; past its budget, `Err` with the
        /// whole seconds until the next call is allowed.
        pub fn take(&self, server_id: Uuid, kind: Kind, now: Instant) -> Result<(), u64> {
            let (burst, per_sec) = kind.limits();
            let mut map = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() >= KEPT {
                map.retain(|(_, k), (tokens, at)| {
                    let (burst, per_sec) = k.limits();
                    *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec < burst
                });
            }
            let (tokens, at) = map.entry((server_id, kind)).or_insert((burst, now));
            *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(burst);
            *at = (*at).max(now);
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                Ok(())
            } else {
                Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;

        #[test]
        fn a_burst_passes_then_calls_wait_for_the_refill() {
            let b = WriteBudgets::default();
            let (s, other) = (Uuid::new_v4(), Uuid::new_v4());
            let t = Instant::now();
            for _ in 0..60 {
                assert_eq!(b.take(s, Kind::Reports, t), Ok(()));
            }
            assert_eq!(b.take(s, Kind::Reports, t), Err(2), "0.5 a second: the next one in 2 s");
            assert_eq!(b.take(s, Kind::Logins, t), Ok(()), "logins have their own bucket");
            assert_eq!(b.take(other, Kind::Reports, t), Ok(()), "and every server its own");
            assert_eq!(b.take(s, Kind::Reports, t + Duration::from_secs(2)), Ok(()));
            assert!(b.take(s, Kind::Reports, t + Duration::from_secs(2)).is_err());
            assert!(b.take(s, Kind::Reports, t).is_err(), "an earlier time adds nothing");
            for _ in 0..600 {
                assert_eq!(b.take(other, Kind::Logins, t), Ok(()));
            }
            assert_eq!(b.take(other, Kind::Logins, t), Err(1));
        }
    }
}
