//! Sign-in and the signed-in user's identity.

use crate::users::UserState;
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{tenant, user},
    error::{DomainError, DomainResult},
    lockout::{self, Counter, Gate},
    password,
};
use sea_orm::{sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The sign-in name as stored: trimmed and lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The longest sign-in name looked at; email addresses are at most 254 characters.
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest password looked at. argon2 would take any length; nobody types more.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks an email and password: the first step of a console sign-in (the caller then asks
/// [`crate::console_auth::after_password`] what comes next). A refusal after the password was
/// checked is written to the audit trail. Every attempt is counted, per sign-in name and per source
/// address, before its password is checked; after a few wrong ones the answers slow down,
/// then the name (or the address) is refused for a while without any check. Neither the
/// message, the delay nor the lock says whether an account with that name exists.
pub async fn sign_in(ctx: &Ctx, email: &str, password: &str, source_ip: &str) -> DomainResult<user::Model> {
    if email.len() > MAX_EMAIL_LEN {
        return Err(DomainError::validation("email", format!("must be at most {MAX_EMAIL_LEN} characters")));
    }
    let login = normalize_email(email);
    if login.is_empty() {
        return Err(DomainError::validation("email", "is required"));
    }
    if !login.contains('@') {
        return Err(DomainError::validation("email", "must be an email address such as name@example.com"));
    }
    if password.is_empty() {
        return Err(DomainError::validation("password", "is required"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(DomainError::validation("password", format!("must be at most {MAX_PASSWORD_LEN} characters")));
    }
    let now = ctx.clock.now();
    let block = source_block(source_ip);
    let source = Counter::Source(&block);
    if let Gate::Locked { until } = lockout::count_attempt(ctx, source, now).await? {
        let minutes = ((until - now).num_seconds().max(1) + 59) / 60;
        return Err(DomainError::RateLimited(format!(
            "too many failed sign-ins from your address; try again in {minutes} minute{}",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    let attempt = match lockout::count_attempt(ctx, Counter::Name(&login), now).await? {
        Gate::Locked { until } => {
            return Err(DomainError::Locked { retry_after_secs: (until - now).num_seconds().max(1) })
        }
        Gate::Open { attempt } => attempt,
    };
    // argon2 costs tens of milliseconds of CPU and 19 MiB each: past a few at once, a fast
    // refusal beats a queue that grows with the attack. The refused attempt still counts.
    let Ok(permit) = ctx.password_checks.clone().try_acquire_owned() else {
        return Err(DomainError::Busy("too many sign-ins at once; try again in a few seconds".into()));
    };

    let found = user::Entity::find().filter(user::Column::Email.eq(&login)).one(&ctx.db).await?;
    // Some(tenant) when the name is an account's (the tenant is None for operators).
    let tenant_of_found = found.as_ref().map(|u| u.tenant_id);
    let candidate = password.to_owned();
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    // Off the async workers; the permit lives as long as the hashing.
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match hash {
            Some(hash) => password::verify_password(&candidate, &hash),
            None => {
                password::burn_verification(&candidate);
                false
            }
        }
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))?;

    if let (true, Some(user)) = (ok, found) {
        lockout::clear(ctx, Counter::Name(&login)).await?;
        lockout::take_back(ctx, source).await?;
        // Said only to someone who knows the password, so it tells nobody else anything.
        match crate::users::state_of(&user) {
            UserState::Locked => {
                record_failure(
                    ctx,
                    &login,
                    user.tenant_id,
                    source_ip,
                    "right password, but the account is locked".into(),
                )
                .await?;
                return Err(DomainError::Conflict(
                    "This account is locked. Ask your administrator to unlock it.".into(),
                ));
            }
            UserState::Invited => {
                record_failure(
                    ctx,
                    &login,
                    user.tenant_id,
                    source_ip,
                    "right password, but the account is not active yet".into(),
                )
                .await?;
                return Err(DomainError::Conflict(
                    "This account is not active yet: finish your invitation by adding an authenticator app from \
                     its link, or ask your administrator to send you a new invitation."
                        .into(),
                ));
            }
            UserState::Active => {}
        }
        return Ok(user);
    }
    tracing::info!(attempt, "failed sign-in");
    let locked = attempt >= ctx.lockout.lock_after;
    let detail = if locked {
        format!("wrong password; the sign-in name is refused for {} minutes", ctx.lockout.lock_for.num_minutes())
    } else {
        "wrong password".to_owned()
    };
    record_failure(ctx, &login, tenant_of_found.flatten(), source_ip, detail).await?;
    tokio::time::sleep(ctx.lockout.delay(attempt)).await;
    if locked {
        return Err(DomainError::Locked { retry_after_secs: ctx.lockout.lock_for.num_seconds().max(1) });
    }
    Err(DomainError::InvalidCredentials)
}

/// Writes a refused console sign-in to the audit trail: under the person's tenant when the name
/// is an account's (so its admins see it), else for operators only. Never the password.
pub(crate) async fn record_failure(
    ctx: &Ctx,
    login: &str,
    tenant_id: Option<Uuid>,
    source_ip: &str,
    detail: String,
) -> DomainResult<()> {
    record_failure_in(&ctx.db, ctx.clock.now(), login, tenant_id, source_ip, detail).await
}

/// [`record_failure`] within a transaction the refusal writes more in (a wrong code's count).
pub(crate) async fn record_failure_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<chrono::Utc>,
    login: &str,
    tenant_id: Option<Uuid>,
    source_ip: &str,
    detail: String,
) -> DomainResult<()> {
    audit::record(
        conn,
        now,
        &Actor::new(login, source_ip),
        Entry { tenant_id, action: AuditAction::ConsoleSignInFailed, target: login.to_owned(), detail },
    )
    .await
}

/// Writes a completed console sign-in (every step the account needs) to the audit trail and
/// notes it for the Users page.
pub(crate) async fn record_sign_in(ctx: &Ctx, user: &user::Model, source_ip: &str, how: &str) -> DomainResult<()> {
    signed_in(ctx, user.id).await?;
    audit::record(
        &ctx.db,
        ctx.clock.now(),
        &Actor::new(user.email.clone(), source_ip),
        Entry {
            tenant_id: user.tenant_id,
            action: AuditAction::ConsoleSignIn,
            target: user.email.clone(),
            detail: format!("signed in with {how}"),
        },
    )
    .await
}

/// The address block one sign-in counter covers: the address itself for IPv4, its /64 for
/// IPv6 (one subscriber's usual allocation, so a host cannot step around the limit by changing
/// the low bits).
pub fn source_block(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => ip.to_owned(),
    }
}

/// Notes when `user_id` last signed in, for the Users page.
pub async fn signed_in(ctx: &Ctx, user_id: Uuid) -> DomainResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::LastSignInAt, Expr::value(Some(ctx.clock.now())))
        .filter(user::Column::Id.eq(user_id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The caller behind a session's user id. A user deleted, locked or not active since sign-in
/// is no caller: their sessions end at their next request.
pub async fn caller(ctx: &Ctx, user_id: Uuid) -> DomainResult<Caller> {
    let u = user::Entity::find_by_id(user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    if crate::users::state_of(&u) != UserState::Active {
        return Err(DomainError::Unauthenticated);
    }
    Ok(Caller { user_id: u.id, role: u.role, tenant_id: u.tenant_id, email: u.email })
}

/// The caller's own account and tenant.
pub async fn profile(ctx: &Ctx, caller: &Caller) -> DomainResult<(user::Model, Option<tenant::Model>)> {
    let u = user::Entity::find_by_id(caller.user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    let t = match u.tenant_id {
        Some(id) => tenant::Entity::find_by_id(id).one(&ctx.db).await?,
        None => None,
    };
    Ok((u, t))
}

/// Creates a user. Used by the demo data and by operator tools.
pub async fn create_user(
    ctx: &Ctx,
    tenant_id: Option<Uuid>,
    email: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> DomainResult<user::Model> {
    let email = normalize_email(email);
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(DomainError::validation("email", "must be an email address such as name@example.com"));
    }
    if display_name.trim().is_empty() {
        return Err(DomainError::validation("display_name", "is required"));
    }
    password::check_new_password(password).map_err(|m| DomainError::validation("password", m))?;
    if (role == Role::Operator) != tenant_id.is_none() {
        return Err(DomainError::validation("tenant_id", "operators have no tenant; everyone else has one"));
    }
    let pw = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&pw))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let row = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        email: Set(email),
        display_name: Set(display_name.trim().to_owned()),
        role: Set(role),
        password_hash: Set(hash),
        created_at: Set(ctx.clock.now()),
        // Made with a password, so usable at once; invited people start inactive instead.
        activated_at: Set(Some(ctx.clock.now())),
        locked_at: Set(None),
        last_sign_in_at: Set(None),
    };
    Ok(user::Entity::insert(row).exec_with_returning(&ctx.db).await?)
}

#[cfg(test)]
mod source_tests {
    #[test]
    fn ipv6_addresses_count_per_64() {
        use super::source_block;
        assert_eq!(source_block("2001:db8:1:2:aaaa::1"), source_block("2001:db8:1:2:ffff::9"));
        assert_ne!(source_block("2001:db8:1:2::1"), source_block("2001:db8:1:3::1"));
        assert_eq!(source_block("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(source_block("192.0.2.7"), "192.0.2.7");
    }
}
