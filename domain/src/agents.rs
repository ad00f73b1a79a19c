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
        self.waiting.lock().unwrap().entry(server_id).or_default().clone()
    }

    /// Forgets the signal once no poll holds it.
    pub fn release(&self, server_id: Uuid) {
        let mut map = self.waiting.lock().unwrap();
        if map.get(&server_id).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(&server_id);
        }
    }

    pub fn wake(&self, server_id: Uuid) {
        if let Some(n) = self.waiting.lock().unwrap().get(&server_id) {
            n.notify_waiters();
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap().len()
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
use sea_orm::{sea_query::Expr, ActiveModelTrait, IntoActiveModel};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// How long an install token can register a server.
pub const INSTALL_TOKEN_HOURS: i64 = 24;
/// An agent silent for longer is shown offline.
pub const OFFLINE_AFTER_SECS: i64 = 180;

/// A new one-time install token for the caller's tenant; only its hash is kept.
pub async fn create_install_token(ctx: &Ctx, caller: &Caller, actor: &Actor) -> DomainResult<(String, DateTime<Utc>)> {
    let tenant_id = caller.admin_tenant()?;
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
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: "agent.install_token",
            target: "agent install token".into(),
            detail: format!("valid until {}", expires_at.format("%Y-%m-%d %H:%M UTC")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((format!("hgi_{token}"), expires_at))
}

/// What an agent reports about its server.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facts {
    pub hostname: String,
    pub ips: Vec<String>,
    /// `linux` or `windows`.
    pub os_type: String,
    pub os_name: String,
    /// As `sshd -V` prints it, e.g. `OpenSSH_9.2p1`.
    pub openssh_version: Option<String>,
    pub sshd_use_pam: Option<bool>,
    pub sshd_kbd_interactive: Option<bool>,
    pub sshd_permit_empty_passwords: Option<bool>,
    /// `enforcing`, `permissive` or `disabled`.
    pub selinux: Option<String>,
    pub agent_version: String,
    #[serde(default)]
    pub conflicting_software: Vec<String>,
    #[serde(default)]
    pub must_change_password_accounts: Vec<String>,
}

impl Facts {
    fn check(&self) -> DomainResult<()> {
        let mut errors = vec![];
        let name = self.hostname.trim();
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            errors.push(FieldError::new("hostname", "must be 1 to 64 letters, digits, -, _ or ."));
        }
        if self.ips.len() > 32 || self.ips.iter().any(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
            errors.push(FieldError::new("ips", "must be at most 32 IPv4 or IPv6 addresses"));
        }
        if self.os_type != "linux" && self.os_type != "windows" {
            errors.push(FieldError::new("os_type", "must be linux or windows"));
        }
        if self.os_name.len() > 128 || self.agent_version.len() > 32 {
            errors.push(FieldError::new("os_name", "os_name and agent_version must be at most 128 and 32 characters"));
        }
        if self.selinux.as_deref().is_some_and(|s| !["enforcing", "permissive", "disabled"].contains(&s)) {
            errors.push(FieldError::new("selinux", "must be enforcing, permissive or disabled"));
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
        m.os_type = Set(self.os_type.clone());
        m.os_name = Set(self.os_name.clone());
        m.openssh_version = Set(self.openssh_version.clone());
        m.sshd_use_pam = Set(self.sshd_use_pam);
        m.sshd_kbd_interactive = Set(self.sshd_kbd_interactive);
        m.sshd_permit_empty_passwords = Set(self.sshd_permit_empty_passwords);
        m.selinux = Set(self.selinux.clone());
        m.conflicting_software = Set(join(&self.conflicting_software));
        m.must_change_password_accounts = Set(join(&self.must_change_password_accounts));
        m.agent_version = Set(Some(self.agent_version.clone()));
        m.facts_at = Set(Some(now));
        m.agent_status = Set("online".into());
        m.last_seen_at = Set(Some(now));
    }
}

/// An agent registered: its server and the credential it authenticates with from now on.
#[derive(Clone, Debug)]
pub struct Registered {
    pub server_id: Uuid,
    pub credential: String,
}

fn new_credential(server_id: Uuid) -> (String, String) {
    let (secret, _) = tokens::new_token();
    let credential = format!("hga_{}_{secret}", server_id.simple());
    let hash = tokens::hash_token(&credential);
    (credential, hash)
}

/// Registers an agent with a one-time install token. A server of the tenant with the same name
/// (pre-registered by an operator, or an earlier install) is taken over, and its old credential
/// stops working; otherwise a new server joins the inventory. Host protection is on from now.
pub async fn register(ctx: &Ctx, install_token: &str, facts: &Facts, source_ip: &str) -> DomainResult<Registered> {
    facts.check()?;
    let hash = tokens::hash_token(install_token.strip_prefix("hgi_").unwrap_or(install_token));
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    let token = agent_install_token::Entity::find()
        .filter(agent_install_token::Column::TokenHash.eq(hash))
        .one(&txn)
        .await?
        .filter(|t| t.used_at.is_none() && t.expires_at > now)
        .ok_or(DomainError::Unauthenticated)?;
    let name = facts.hostname.trim().to_owned();
    let existing = server::Entity::find()
        .filter(server::Column::TenantId.eq(token.tenant_id))
        .filter(server::Column::Name.eq(name.as_str()))
        .one(&txn)
        .await?;
    let server_id = existing.as_ref().map_or_else(Uuid::new_v4, |s| s.id);
    let (credential, credential_hash) = new_credential(server_id);
    let is_new = existing.is_none();
    let mut m = match existing {
        Some(s) => s.into_active_model(),
        None => server::ActiveModel {
            id: Set(server_id),
            tenant_id: Set(token.tenant_id),
            name: Set(name.clone()),
            region: Set(crate::servers::REGIONS[0].0.into()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    facts.write_to(&mut m, now);
    m.protection_enabled = Set(true);
    m.agent_credential_hash = Set(Some(credential_hash));
    if is_new {
        server::Entity::insert(m).exec_without_returning(&txn).await?;
    } else {
        m.update(&txn).await?;
    }
    agent_install_token::Entity::update_many()
        .col_expr(agent_install_token::Column::UsedAt, Expr::value(now))
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
            action: "agent.register",
            target: name,
            detail: format!("agent {} on {}", facts.agent_version, facts.os_name),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Registered { server_id, credential })
}

/// The server whose agent holds `credential`, if it is valid.
pub async fn authenticate(ctx: &Ctx, credential: &str) -> DomainResult<server::Model> {
    if !credential.starts_with("hga_") || credential.len() > 200 {
        return Err(DomainError::Unauthenticated);
    }
    server::Entity::find()
        .filter(server::Column::AgentCredentialHash.eq(tokens::hash_token(credential)))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::Unauthenticated)
}

pub async fn report_facts(ctx: &Ctx, s: &server::Model, facts: &Facts) -> DomainResult<()> {
    facts.check()?;
    let mut m = server::ActiveModel { id: Set(s.id), ..Default::default() };
    facts.write_to(&mut m, ctx.clock.now());
    server::Entity::update(m).exec(&ctx.db).await?;
    Ok(())
}

pub async fn heartbeat(ctx: &Ctx, s: &server::Model) -> DomainResult<()> {
    server::Entity::update_many()
        .col_expr(server::Column::AgentStatus, Expr::value("online"))
        .col_expr(server::Column::LastSeenAt, Expr::value(ctx.clock.now()))
        .filter(server::Column::Id.eq(s.id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Agents silent for `OFFLINE_AFTER_SECS` are offline. Servers without an agent credential
/// (demo data) keep the status they have.
pub async fn mark_silent_offline(ctx: &Ctx) -> DomainResult<u64> {
    let before = ctx.clock.now() - chrono::Duration::seconds(OFFLINE_AFTER_SECS);
    let res = server::Entity::update_many()
        .col_expr(server::Column::AgentStatus, Expr::value("offline"))
        .filter(server::Column::AgentStatus.eq("online"))
        .filter(server::Column::AgentCredentialHash.is_not_null())
        .filter(server::Column::LastSeenAt.lt(before))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected)
}

/// A revision of the 2FA configuration for the agent to apply.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub revision: i64,
    pub enabled: bool,
    /// `sms` (codes to a topic's endpoints) or `code` (the user's own factors).
    pub method: String,
    pub topic_urn: Option<String>,
    pub server_id: Uuid,
    pub console_url: String,
}

/// The revision handed to this server's agent, if it is newer than `after`.
pub async fn assignment(ctx: &Ctx, server_id: Uuid, after: i64) -> DomainResult<Option<Assignment>> {
    let Some(c) = config::Entity::find_by_id(server_id)
        .filter(config::Column::Phase.eq("delivering"))
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
        method: c.method,
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
                    "revision {revision}: 2FA {}, acknowledged after the deadline had marked it failed",
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
