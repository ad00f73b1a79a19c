//! The login audit: every login that reached HostGuard's module on the tenant's servers, newest
//! first, filtered by server, account, result and time.

use crate::{
    caller::Caller,
    ctx::Ctx,
    entities::server_login,
    error::{DomainError, DomainResult, FieldError},
    servers::{page_offset, Page},
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginMethod, LoginOutcome, LoginReason, LoginResult};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub server_id: Option<Uuid>,
    /// Exact account name.
    pub account: Option<String>,
    /// `allowed`, `denied` or `open` (still running, or abandoned).
    pub result: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only logins the agent decided alone for this reason (`fail_safe`, `break_glass`, …).
    pub offline_reason: Option<String>,
    pub page: u64,
    pub page_size: u64,
}

/// One login as the audit shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub server_id: Uuid,
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub service: String,
    pub method: LoginMethod,
    pub result: LoginOutcome,
    pub reason: String,
    pub offline: bool,
}

pub(super) fn row(m: server_login::Model, now: DateTime<Utc>) -> AuditRow {
    let result = match m.result {
        Some(r) => r.into(),
        None if super::timed_out(&m, now) => LoginOutcome::Abandoned,
        None => LoginOutcome::Open,
    };
    let reason = if result == LoginOutcome::Abandoned && m.reason.is_empty() {
        "the login was given up before it finished".to_owned()
    } else {
        m.reason
    };
    AuditRow {
        id: m.id,
        at: m.created_at,
        server_id: m.server_id,
        server_name: m.server_name,
        account: m.account,
        source_ip: m.source_ip,
        service: m.service,
        method: m.method,
        result,
        reason,
        offline: m.offline,
    }
}

/// The tenant admin's login audit.
pub async fn list(ctx: &Ctx, caller: &Caller, q: &AuditQuery) -> DomainResult<Page<AuditRow>> {
    let tenant_id = caller.admin_tenant()?;
    let offset = page_offset(q.page, q.page_size)?;
    let mut find = server_login::Entity::find().filter(server_login::Column::TenantId.eq(tenant_id));
    if let Some(id) = q.server_id {
        find = find.filter(server_login::Column::ServerId.eq(id));
    }
    if let Some(a) = q.account.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        if a.chars().count() > super::limits::ACCOUNT {
            return Err(DomainError::validation(
                "account",
                format!("must be at most {} characters", super::limits::ACCOUNT),
            ));
        }
        find = find.filter(server_login::Column::Account.eq(a));
    }
    match q.result.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => {}
        Some("open") => find = find.filter(server_login::Column::Result.is_null()),
        Some(r) => match LoginResult::parse(r) {
            Some(r) => find = find.filter(server_login::Column::Result.eq(r)),
            None => {
                return Err(DomainError::Invalid(vec![FieldError::new("result", "must be allowed, denied or open")]))
            }
        },
    }
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if s > u {
            return Err(DomainError::validation("since", "must not be after until"));
        }
    }
    if let Some(r) = q.offline_reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        let Some(reason) = LoginReason::parse(r) else {
            return Err(DomainError::validation("reason", "must be a reason an agent reports, such as fail_safe"));
        };
        let text = super::settings::offline_reason_text(reason);
        find = find.filter(server_login::Column::Offline.eq(true)).filter(server_login::Column::Reason.eq(text));
    }
    if let Some(s) = q.since {
        find = find.filter(server_login::Column::CreatedAt.gte(s));
    }
    if let Some(u) = q.until {
        find = find.filter(server_login::Column::CreatedAt.lte(u));
    }
    newest_first(ctx, find, offset, q.page_size).await
}

/// One page of `find`'s logins, newest first, as the audit shows them.
async fn newest_first(
    ctx: &Ctx,
    find: sea_orm::Select<server_login::Entity>,
    offset: u64,
    page_size: u64,
) -> DomainResult<Page<AuditRow>> {
    let total = find.clone().count(&ctx.db).await?;
    let now = ctx.clock.now();
    let items = find
        .order_by_desc(server_login::Column::CreatedAt)
        .order_by_desc(server_login::Column::Id)
        .offset(offset)
        .limit(page_size)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| row(m, now))
        .collect();
    Ok(Page { items, total })
}

/// The tenant's servers, by name: what the audit can be filtered by.
pub async fn servers(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<(Uuid, String)>> {
    use crate::entities::server;
    let tenant_id = caller.admin_tenant()?;
    Ok(server::Entity::find()
        .select_only()
        .column(server::Column::Id)
        .column(server::Column::Name)
        .filter(server::Column::TenantId.eq(tenant_id))
        .order_by_asc(server::Column::Name)
        .into_tuple::<(Uuid, String)>()
        .all(&ctx.db)
        .await?)
}

/// The calling end user's own logins (their sign-in history on the portal), newest first:
/// the logins whose server account is mapped to them.
pub async fn for_end_user(ctx: &Ctx, caller: &Caller, page: u64, page_size: u64) -> DomainResult<Page<AuditRow>> {
    caller.require_role(crate::caller::Role::EndUser)?;
    let offset = page_offset(page, page_size)?;
    let find = server_login::Entity::find().filter(server_login::Column::EndUserId.eq(caller.user_id));
    newest_first(ctx, find, offset, page_size).await
}

/// How far back a server's page looks for logins let in by fail mode safe.
pub const SAFE_MODE_LOOKBACK_DAYS: i64 = 7;

/// Logins a server's agent let in without a second factor while the console was unreachable
/// (fail mode safe), in the last [`SAFE_MODE_LOOKBACK_DAYS`]: the server's page warns of them
/// once the agent has reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeModeAllows {
    pub count: u64,
    pub last_at: DateTime<Utc>,
    /// The start of the period counted.
    pub since: DateTime<Utc>,
}

pub async fn safe_mode_allows(ctx: &Ctx, caller: &Caller, server_id: Uuid) -> DomainResult<Option<SafeModeAllows>> {
    let s = crate::servers::get(ctx, caller, server_id).await?;
    let since = ctx.clock.now() - Duration::days(SAFE_MODE_LOOKBACK_DAYS);
    let text = super::settings::offline_reason_text(LoginReason::FailSafe);
    let find = server_login::Entity::find()
        .filter(server_login::Column::ServerId.eq(s.id))
        .filter(server_login::Column::Offline.eq(true))
        .filter(server_login::Column::Reason.eq(text))
        .filter(server_login::Column::CreatedAt.gte(since));
    let count = find.clone().count(&ctx.db).await?;
    let last = find.order_by_desc(server_login::Column::CreatedAt).limit(1).one(&ctx.db).await?;
    Ok(last.map(|l| SafeModeAllows { count, last_at: l.created_at, since }))
}
