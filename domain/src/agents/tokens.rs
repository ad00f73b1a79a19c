//! One-time install and re-install tokens: issuing, listing and revoking them.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{agent_install_token, server},
    error::{DomainError, DomainResult},
    tokens,
};
use chrono::{DateTime, Utc};
use sea_orm::{sea_query::Expr, QueryOrder, QuerySelect};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// How long an install token can register a server.
pub const INSTALL_TOKEN_HOURS: i64 = 24;
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
        None => (AuditAction::AgentInstallToken, "agent install token".to_owned(), valid),
        Some(s) => (
            AuditAction::AgentReinstallToken,
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

    pub(super) fn of(t: &agent_install_token::Model, now: DateTime<Utc>) -> TokenState {
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
            action: AuditAction::AgentTokenRevoke,
            target: if t.reinstall_server_id.is_some() { "agent re-install token" } else { "agent install token" }
                .into(),
            detail: format!("token {} created {}", t.id, t.created_at.format("%Y-%m-%d %H:%M UTC")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
