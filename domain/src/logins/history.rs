//! The portal's sign-in history: an end user's own logins to servers (those whose server
//! account is mapped to them), newest first, filtered by result, server, time and how the login
//! was proven. Nobody else's logins, whatever the filters say.

use super::audit::AuditRow;
use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::server_login,
    error::{DomainError, DomainResult},
    servers::{page_offset, Page},
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginOutcome, SignInMethod};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    pub result: Option<LoginOutcome>,
    pub server_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub method: Option<SignInMethod>,
    pub page: u64,
    pub page_size: u64,
}

/// The start of the reason the login rules record when `m` proved a login (see `code.rs`,
/// `push.rs`), as a LIKE pattern.
fn reason_pattern(m: SignInMethod) -> &'static str {
    match m {
        SignInMethod::Push => "push %",
        SignInMethod::Authenticator => "code from authenticator%",
        SignInMethod::Recovery => "recovery code%",
        SignInMethod::Sms => "SMS passcode%",
        SignInMethod::Call => "code from the call%",
        SignInMethod::PortalCode => "one-time code from the portal%",
    }
}

/// How the login was proven, read back from its reason.
pub fn method_of(reason: &str) -> Option<SignInMethod> {
    SignInMethod::ALL.iter().copied().find(|m| {
        let p = reason_pattern(*m);
        reason.starts_with(p.trim_end_matches('%'))
    })
}

/// One page of the caller's logins. End users only.
pub async fn search(ctx: &Ctx, caller: &Caller, q: &HistoryQuery) -> DomainResult<Page<AuditRow>> {
    caller.require_role(Role::EndUser)?;
    let offset = page_offset(q.page, q.page_size)?;
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if s > u {
            return Err(DomainError::validation("since", "must not be after until"));
        }
    }
    let now = ctx.clock.now();
    let stale = now - Duration::minutes(super::LOGIN_VALID_MINUTES);
    let mut find = server_login::Entity::find().filter(server_login::Column::EndUserId.eq(caller.user_id));
    find = match q.result {
        None => find,
        Some(LoginOutcome::Allowed) => find.filter(server_login::Column::Result.eq(proto::login::LoginResult::Allowed)),
        Some(LoginOutcome::Denied) => find.filter(server_login::Column::Result.eq(proto::login::LoginResult::Denied)),
        Some(LoginOutcome::Open) => {
            find.filter(server_login::Column::Result.is_null()).filter(server_login::Column::CreatedAt.gte(stale))
        }
        Some(LoginOutcome::Abandoned) => {
            find.filter(server_login::Column::Result.is_null()).filter(server_login::Column::CreatedAt.lt(stale))
        }
    };
    if let Some(id) = q.server_id {
        find = find.filter(server_login::Column::ServerId.eq(id));
    }
    if let Some(s) = q.since {
        find = find.filter(server_login::Column::CreatedAt.gte(s));
    }
    if let Some(u) = q.until {
        find = find.filter(server_login::Column::CreatedAt.lte(u));
    }
    if let Some(m) = q.method {
        find = find.filter(server_login::Column::Reason.like(reason_pattern(m)));
    }
    let total = find.clone().count(&ctx.db).await?;
    let items = find
        .order_by_desc(server_login::Column::CreatedAt)
        .order_by_desc(server_login::Column::Id)
        .offset(offset)
        .limit(q.page_size)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| super::audit::row(m, now))
        .collect();
    Ok(Page { items, total })
}

/// The servers the caller has logins on, by name, for the history's server filter.
pub async fn servers(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<(Uuid, String)>> {
    caller.require_role(Role::EndUser)?;
    let mut found: Vec<(Uuid, String)> = server_login::Entity::find()
        .select_only()
        .column(server_login::Column::ServerId)
        .column(server_login::Column::ServerName)
        .filter(server_login::Column::EndUserId.eq(caller.user_id))
        .distinct()
        .into_tuple()
        .all(&ctx.db)
        .await?;
    // A renamed server is listed once.
    found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    found.dedup_by(|a, b| a.0 == b.0);
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_as_methods() {
        assert_eq!(method_of("push approved"), Some(SignInMethod::Push));
        assert_eq!(method_of("code from authenticator Phone"), Some(SignInMethod::Authenticator));
        assert_eq!(method_of("recovery code used (9 left)"), Some(SignInMethod::Recovery));
        assert_eq!(method_of("SMS passcode accepted"), Some(SignInMethod::Sms));
        assert_eq!(method_of("code from the call accepted"), Some(SignInMethod::Call));
        assert_eq!(method_of("one-time code from the portal accepted"), Some(SignInMethod::PortalCode));
        assert_eq!(method_of("3 wrong codes"), None);
    }
}
