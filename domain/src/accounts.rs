//! Sign-in and the signed-in user's identity.

use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{login_attempt, tenant, user},
    error::{DomainError, DomainResult},
    lockout::{AttemptState, Gate},
    password,
};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The sign-in name as stored: trimmed and lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email and password. Wrong answers are counted per sign-in name; after a few they
/// are answered slowly, then the name is locked for a while. Neither the message, the delay
/// nor the lock says whether an account with that name exists.
pub async fn sign_in(ctx: &Ctx, email: &str, password: &str) -> DomainResult<user::Model> {
    let login = normalize_email(email);
    if login.is_empty() {
        return Err(DomainError::validation("email", "is required"));
    }
    if password.is_empty() {
        return Err(DomainError::validation("password", "is required"));
    }
    let now = ctx.clock.now();
    let state = load_attempts(ctx, &login).await?;
    if let Gate::Locked { until } = ctx.lockout.gate(&state, now) {
        return Err(DomainError::Locked { retry_after_secs: (until - now).num_seconds().max(1) });
    }

    let found = user::Entity::find().filter(user::Column::Email.eq(&login)).one(&ctx.db).await?;
    let candidate = password.to_owned();
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify_password(&candidate, &hash),
        None => {
            password::burn_verification(&candidate);
            false
        }
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))?;

    if ok {
        login_attempt::Entity::delete_by_id(login).exec(&ctx.db).await?;
        return Ok(found.expect("verified against a found user"));
    }

    let (next, delay) = ctx.lockout.record_failure(&state, now);
    save_attempts(ctx, &login, &next).await?;
    tracing::info!(failures = next.failures, locked = next.locked_until.is_some(), "failed sign-in");
    tokio::time::sleep(delay).await;
    match next.locked_until {
        Some(until) => Err(DomainError::Locked { retry_after_secs: (until - now).num_seconds().max(1) }),
        None => Err(DomainError::InvalidCredentials),
    }
}

async fn load_attempts(ctx: &Ctx, login: &str) -> DomainResult<AttemptState> {
    Ok(login_attempt::Entity::find_by_id(login.to_owned())
        .one(&ctx.db)
        .await?
        .map(|row| AttemptState {
            failures: row.failures.max(0) as u32,
            last_failure: row.last_failure_at,
            locked_until: row.locked_until,
        })
        .unwrap_or_default())
}

async fn save_attempts(ctx: &Ctx, login: &str, state: &AttemptState) -> DomainResult<()> {
    let row = login_attempt::ActiveModel {
        login: Set(login.to_owned()),
        failures: Set(state.failures as i32),
        last_failure_at: Set(state.last_failure),
        locked_until: Set(state.locked_until),
    };
    login_attempt::Entity::insert(row)
        .on_conflict(
            OnConflict::column(login_attempt::Column::Login)
                .update_columns([
                    login_attempt::Column::Failures,
                    login_attempt::Column::LastFailureAt,
                    login_attempt::Column::LockedUntil,
                ])
                .to_owned(),
        )
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The caller behind a session's user id. A user deleted since sign-in is no caller.
pub async fn caller(ctx: &Ctx, user_id: Uuid) -> DomainResult<Caller> {
    let u = user::Entity::find_by_id(user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    let role = Role::parse(&u.role).ok_or_else(|| DomainError::Internal(format!("unknown role {}", u.role)))?;
    Ok(Caller { user_id: u.id, role, tenant_id: u.tenant_id, email: u.email })
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
        role: Set(role.as_str().to_owned()),
        password_hash: Set(hash),
        created_at: Set(ctx.clock.now()),
    };
    Ok(user::Entity::insert(row).exec_with_returning(&ctx.db).await?)
}
