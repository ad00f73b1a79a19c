//! Registering an agent with a token, and the credential it authenticates with from then on.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    ctx::Ctx,
    entities::{agent_install_token, server, two_factor_config as config},
    error::{DomainError, DomainResult},
    tokens,
};
use chrono::{DateTime, Utc};
use proto::agent::Facts;
use sea_orm::{sea_query::Expr, ActiveModelTrait, IntoActiveModel, PaginatorTrait, QueryOrder, QuerySelect};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::facts::{limits, Check};
use super::tokens::TokenState;

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
            action: match token.reinstall_server_id {
                Some(_) => AuditAction::AgentReinstall,
                None => AuditAction::AgentRegister,
            },
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
