//! Verification-code mode: the server account belongs to an end user (see
//! `factors::mapping`), who proves the login with a code from one of their authenticator apps
//! or with one of their recovery codes, or with a method the prompt offers (see `methods`: push,
//! call me, SMS passcode). An account that belongs to nobody, or to someone with no factor yet,
//! is refused with what to do, unless the server allows unenrolled accounts.

use super::{finish, methods, push, server_login, LoginSettings, PushWaiting, Stage, MAX_CODE_ATTEMPTS};
use crate::{
    ctx::Ctx,
    error::{DomainError, DomainResult},
    factors::{authenticators, mapping, recovery},
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginResult, Step};
use proto::DefaultMethod;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

pub const PROMPT: &str = "Verification code: ";
/// Wrong codes one end user may type over all their logins in [`USER_WINDOW_MINUTES`]; past
/// that, their logins are refused for a while (3 per login would let an attacker who knows the
/// password simply open more logins).
pub const USER_WRONG_CODES: i64 = 10;
pub const USER_WINDOW_MINUTES: i64 = 15;

fn portal(ctx: &Ctx) -> String {
    format!("{}/portal", ctx.public_url.trim_end_matches('/'))
}

/// Wrong codes typed for `user_id`'s logins lately: one number (0 when none).
fn wrong_codes_query(user_id: Uuid, now: DateTime<Utc>) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Expr, Func, Query};
    Query::select()
        .expr(Func::coalesce([Expr::from(Func::sum(Expr::col(server_login::Column::Attempts))), Expr::val(0i64)]))
        .from(server_login::Entity)
        .and_where(server_login::Column::EndUserId.eq(user_id))
        .and_where(server_login::Column::CreatedAt.gt(now - Duration::minutes(USER_WINDOW_MINUTES)))
        .and_where(server_login::Column::Attempts.gt(0))
        .to_owned()
}

/// Wrong codes typed for `user_id`'s logins lately.
async fn recent_wrong_codes(txn: &DatabaseTransaction, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<i64> {
    let row = txn.query_one(&wrong_codes_query(user_id, now)).await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}

fn too_many_wrong(row: &mut server_login::Model, now: DateTime<Utc>) -> Step {
    finish(
        row,
        now,
        LoginResult::Denied,
        &format!("more than {USER_WRONG_CODES} wrong codes for this user in {USER_WINDOW_MINUTES} minutes"),
        Step::deny(format!(
            "HostGuard: too many wrong codes were typed for this account's user. Try again in {USER_WINDOW_MINUTES} minutes."
        )),
    )
}

fn deny_locked(row: &mut server_login::Model, email: &str, now: DateTime<Utc>) -> Step {
    let message = format!(
        "HostGuard: the account {} belongs to a HostGuard user whose account is locked. Ask your administrator.",
        row.account
    );
    finish(row, now, LoginResult::Denied, &format!("user locked ({email})"), Step::deny(message))
}

/// What a code's check needs of the login's person, read at once: whether they are locked, and
/// the wrong codes typed for them lately. `None`: not an end user of the login's tenant (gone).
#[derive(Debug, sea_orm::FromQueryResult)]
struct PersonNow {
    email: String,
    locked_at: Option<DateTime<Utc>>,
    recent_wrong: i64,
}

async fn person_now<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<PersonNow>> {
    use crate::entities::user;
    use sea_orm::sea_query::{SimpleExpr, SubQueryStatement};
    let wrong =
        SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(wrong_codes_query(user_id, now))));
    Ok(user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(crate::Role::EndUser.as_str()))
        .select_only()
        .column(user::Column::Email)
        .column(user::Column::LockedAt)
        .column_as(wrong, "recent_wrong")
        .into_model::<PersonNow>()
        .one(conn)
        .await?)
}

/// The denial when login `row`'s person is locked (or gone) now.
fn locked(row: &mut server_login::Model, person: Option<&PersonNow>, now: DateTime<Utc>) -> Option<Step> {
    match person {
        Some(p) if p.locked_at.is_none() => None,
        Some(p) => Some(deny_locked(row, &p.email, now)),
        None => Some(finish(
            row,
            now,
            LoginResult::Denied,
            "the login's user is gone",
            Step::deny("HostGuard: this login cannot continue. Log in again."),
        )),
    }
}

/// The first step of a verification-code login.
pub(super) async fn begin(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    settings: &LoginSettings,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    let portal = portal(ctx);
    let mapped = mapping::resolve(txn, row.tenant_id, row.server_id, &row.account).await?;
    // The mapping is checked when it is made; the user may have gone since.
    if let Some(id) = mapped {
        // Pushes, sends and wrong codes are counted per person across servers (`start` locks
        // only this server): hold the person's row before counting or sending, as answers do.
        // Also orders this login after a lock of the person in flight.
        crate::db::lock_rows::<crate::entities::user::Entity>(txn, &[id]).await?;
    }
    let user = match mapped {
        Some(id) => match crate::factors::end_user_in(txn, row.tenant_id, id).await {
            Ok(u) => Some(u),
            Err(DomainError::NotFound(_)) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let offer = match &user {
        Some(u) => methods::offer(txn, row, u.id, now).await?,
        None => methods::Offer::default(),
    };
    let enrolled = match &user {
        Some(u) => offer.any() || crate::factors::has_factor(txn, u.id).await?,
        None => false,
    };
    row.end_user_id = user.as_ref().map(|u| u.id);
    // A locked person gets in nowhere, whatever else the server allows.
    if let Some(u) = user.as_ref().filter(|u| u.locked_at.is_some()) {
        return Ok(deny_locked(row, &u.email, now));
    }
    let user = match user {
        Some(u) if enrolled => u,
        _ if settings.allow_unenrolled => {
            let why = format!(
                "account {} has no enrolled HostGuard user; allowed by the server's \"allow unenrolled accounts\" setting",
                row.account
            );
            return Ok(finish(
                row,
                now,
                LoginResult::Allowed,
                &why,
                Step::allow().with_info(format!(
                "HostGuard: this account has no second factor yet. Enroll one at {portal}; logins will soon require it."
            )),
            ));
        }
        None => {
            let message = format!(
                "HostGuard: the account {account} is not linked to a HostGuard user, so this server cannot verify \
                 the login. Ask your administrator to link the account {account} to you, then enroll at {portal}.",
                account = row.account
            );
            return Ok(finish(
                row,
                now,
                LoginResult::Denied,
                "account not linked to a HostGuard user",
                Step::deny(message),
            ));
        }
        Some(u) => {
            let message = format!(
                "HostGuard: the account {} belongs to a HostGuard user who has no authenticator yet. \
                 Sign in to {portal}, enroll an authenticator app under Sign-in methods, then log in again.",
                row.account
            );
            let reason = format!("{} has no authenticator or recovery code", u.email);
            return Ok(finish(row, now, LoginResult::Denied, &reason, Step::deny(message)));
        }
    };
    if recent_wrong_codes(txn, user.id, now).await? >= USER_WRONG_CODES {
        return Ok(too_many_wrong(row, now));
    }
    row.stage = Stage::Verify;
    if offer.any() {
        // The person's default method is tried first, if it is offered now.
        let first = match crate::factors::settings::default_method(txn, user.id).await? {
            Some(DefaultMethod::Push) if offer.push => Some(1),
            Some(DefaultMethod::Call) if offer.call => Some(2),
            Some(DefaultMethod::Sms) if offer.sms => Some(3),
            _ => None,
        };
        if let Some(choice) = first {
            let mut step = methods::choose(ctx, txn, row, user.id, &offer, choice, now).await?;
            if row.stage == Stage::Push || row.code_hash.is_some() {
                step.info.extend(offer.lines());
            }
            return Ok(step);
        }
        return Ok(offer.step(None));
    }
    Ok(Step::prompt(PROMPT, false)
        .with_info("HostGuard: enter the 6-digit code from your authenticator app, or one of your recovery codes."))
}

/// The prompt again after `line`: the push prompt while the login's push is pending, the menu
/// when there is one, the code prompt otherwise.
async fn again(
    txn: &DatabaseTransaction,
    row: &server_login::Model,
    offer: &methods::Offer,
    line: String,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    if row.stage == Stage::Push {
        if let Some(r) = push::newest(txn, row.id).await?.filter(|r| push::pending(r, now)) {
            return Ok(Step::prompt(push::prompt(r.number), true).with_info(line).with_info(push::WAIT_INFO));
        }
    }
    if offer.any() {
        return Ok(offer.step(Some(line)));
    }
    Ok(Step::prompt(PROMPT, false).with_info(line))
}

/// Before the login's write transaction: the portal code ([`crate::push::codes`]) the answer
/// is, if it is one, checked there so that argon2 does not hold the write. Only an answer shaped
/// like a portal code costs anything, and argon2 runs only where the transaction would check a
/// code: a login still taking codes, whose person is neither locked nor past their wrong codes.
/// (The transaction checks all of that again; this only spares the CPU.)
pub(super) async fn portal_code(
    ctx: &Ctx,
    server_id: Uuid,
    login_id: Uuid,
    answer: &str,
) -> DomainResult<Option<Uuid>> {
    let typed = answer.trim();
    if crate::push::codes::normalize(typed).is_none() {
        return Ok(None);
    }
    let now = ctx.clock.now();
    let row = server_login::Entity::find_by_id(login_id)
        .filter(server_login::Column::ServerId.eq(server_id))
        .one(&ctx.db)
        .await?;
    let Some((row, user_id)) = row.and_then(|r| r.end_user_id.map(|u| (r, u))) else { return Ok(None) };
    if !matches!(row.stage, Stage::Verify | Stage::Push) || super::timed_out(&row, now) {
        return Ok(None);
    }
    match person_now(&ctx.db, row.tenant_id, user_id, now).await? {
        Some(p) if p.locked_at.is_none() && p.recent_wrong < USER_WRONG_CODES => {
            crate::push::codes::find_code(ctx, user_id, typed, now).await
        }
        _ => Ok(None),
    }
}

/// The user answered the prompt: a code, the number of a method, or (at the push prompt)
/// nothing, to wait for the push's decision. `portal_code` is [`portal_code`]'s answer.
pub(super) async fn verify(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    answer: &str,
    portal_code: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<(Step, Option<PushWaiting>)> {
    let Some(user_id) = row.end_user_id else {
        return Ok((
            finish(
                row,
                now,
                LoginResult::Denied,
                "the login has no user",
                Step::deny("HostGuard: this login cannot continue. Log in again."),
            ),
            None,
        ));
    };
    // The person may have been locked since the login began: re-read under the user's row
    // lock (which locking takes too), so no code, push or passkey lets them in afterwards.
    // The wrong codes typed for them lately come with it (one statement).
    let person = person_now(txn, row.tenant_id, user_id, now).await?;
    if let Some(step) = locked(row, person.as_ref(), now) {
        return Ok((step, None));
    }
    let recent_wrong = person.map_or(0, |p| p.recent_wrong);
    let typed = answer.trim();
    if row.stage == Stage::Push && typed.is_empty() {
        return push::outcome(txn, row, now).await;
    }
    if recent_wrong >= USER_WRONG_CODES {
        return Ok((too_many_wrong(row, now), None));
    }
    // The methods offered matter for a menu answer (nothing, or a method's number) and for the
    // next prompt; a code is checked without reading them (fewer statements on the hot path).
    let menu_answer = typed.is_empty() || methods::choice(typed).is_some();
    let offer = if menu_answer { Some(methods::offer(txn, row, user_id, now).await?) } else { None };
    if let Some(offer) = offer.as_ref().filter(|o| o.any()) {
        if typed.is_empty() {
            // Enter alone at the menu: shown again, not counted as a wrong code.
            return Ok((offer.step(None), None));
        }
        if let Some(choice) = methods::choice(typed) {
            return Ok((methods::choose(ctx, txn, row, user_id, offer, choice, now).await?, None));
        }
    }
    if row.stage == Stage::Push {
        if let Some(r) = push::newest(txn, row.id).await?.filter(|r| push::pending(r, now)) {
            if typed == r.number.to_string() {
                let line = format!("Type {} in the app, not here.", r.number);
                let offer = match offer {
                    Some(offer) => offer,
                    None => methods::offer(txn, row, user_id, now).await?,
                };
                return Ok((again(txn, row, &offer, line, now).await?, None));
            }
        }
    }
    if methods::sent_code_matches(row, typed, now) {
        let reason =
            if row.reason.starts_with("call") { "code from the call accepted" } else { "SMS passcode accepted" };
        return Ok((finish(row, now, LoginResult::Allowed, reason, Step::allow()), None));
    }
    if crate::push::codes::use_code(txn, user_id, row.id, portal_code, now).await? {
        let reason = "one-time code from the portal accepted";
        return Ok((finish(row, now, LoginResult::Allowed, reason, Step::allow()), None));
    }
    if let Some(code) = authenticators::normalize_code(answer) {
        if let Some(name) = authenticators::use_code(ctx, txn, user_id, &code, now).await? {
            return Ok((
                finish(row, now, LoginResult::Allowed, &format!("code from authenticator {name}"), Step::allow()),
                None,
            ));
        }
    } else if recovery::use_code(txn, user_id, answer, now).await? {
        let left = recovery::left(txn, user_id).await?;
        let reason = format!("recovery code used ({left} left)");
        let step = Step::allow().with_info(format!(
            "HostGuard: recovery code accepted; {left} left. Generate new ones at {}/methods.",
            portal(ctx)
        ));
        return Ok((finish(row, now, LoginResult::Allowed, &reason, step), None));
    }
    row.attempts += 1;
    if row.attempts >= MAX_CODE_ATTEMPTS {
        return Ok((
            finish(
                row,
                now,
                LoginResult::Denied,
                &format!("{MAX_CODE_ATTEMPTS} wrong codes"),
                Step::deny("HostGuard: wrong code, and no attempts are left. Log in again."),
            ),
            None,
        ));
    }
    let left = MAX_CODE_ATTEMPTS - row.attempts;
    let line = format!("Wrong code. {left} attempt{} left.", if left == 1 { "" } else { "s" });
    let offer = match offer {
        Some(offer) => offer,
        None => methods::offer(txn, row, user_id, now).await?,
    };
    Ok((again(txn, row, &offer, line, now).await?, None))
}
