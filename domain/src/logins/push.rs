//! Push at the login prompt: choosing `1` sends the person a push request (a `push_requests`
//! row) whose number the prompt shows, and an empty answer at that prompt waits for its
//! decision. The approval side (`push`) decides requests; the two share only the table, so a
//! decision made on any replica reaches the login.

use super::{finish, server_login, PushWaiting, Stage};
use crate::{
    ctx::Ctx,
    entities::{approval_device, push_request},
    error::DomainResult,
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginResult, Step};
use proto::push::PushStatus;
use rand::Rng;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

/// How long a push request waits for its decision.
pub const PUSH_VALID_SECS: i64 = 60;
/// Pushes one person may be sent a minute ...
pub const PUSHES_PER_MINUTE: u64 = 3;
/// ... and an hour (push fatigue).
pub const PUSHES_PER_HOUR: u64 = 10;

/// Whether the person can approve a push: they have an approval device or a passkey.
pub(super) async fn can_approve(conn: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<bool> {
    let devices =
        approval_device::Entity::find().filter(approval_device::Column::UserId.eq(user_id)).count(conn).await?;
    Ok(devices > 0 || crate::factors::passkeys::count(conn, user_id).await? > 0)
}

/// The short portal address where a person with a passkey approves from any browser, as a
/// prompt line: `None` unless the address is plain printable ASCII (prompts stay plain). On a
/// loopback address it names `localhost`, where passkeys work.
pub fn passkey_line(public_url: &str) -> Option<String> {
    let base = crate::factors::passkeys::passkey_origin(public_url).ok()?;
    let url = format!("{}/a", base.as_str().trim_end_matches('/'));
    (url.len() <= 120 && url.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| format!("Or approve with a passkey at {url}"))
}

/// Why no push may be sent to the person now, if one may not.
pub(super) async fn over_limit(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<String>> {
    let since = |d: Duration| {
        push_request::Entity::find()
            .filter(push_request::Column::UserId.eq(user_id))
            .filter(push_request::Column::CreatedAt.gt(now - d))
            .count(conn)
    };
    if since(Duration::minutes(1)).await? >= PUSHES_PER_MINUTE || since(Duration::hours(1)).await? >= PUSHES_PER_HOUR {
        return Ok(Some(format!(
            "Push is paused: at most {PUSHES_PER_MINUTE} pushes a minute and {PUSHES_PER_HOUR} an hour."
        )));
    }
    Ok(None)
}

/// The prompt while a push is pending: the number is in the prompt itself, so every client
/// shows it.
pub fn prompt(number: i32) -> String {
    format!("Push sent: enter {number} in the app, or type a code: ")
}

pub const WAIT_INFO: &str = "Press Enter to wait for your approval.";

/// Sends login `row` a new push request (an older one of the same login is dropped as expired).
pub(super) async fn send(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Step> {
    push_request::Entity::update_many()
        .col_expr(push_request::Column::Status, Expr::value(PushStatus::Expired.as_str()))
        .col_expr(push_request::Column::DecidedAt, Expr::value(now))
        .filter(push_request::Column::LoginId.eq(row.id))
        .filter(push_request::Column::Status.eq(PushStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    let number = rand::rngs::OsRng.gen_range(100..=999);
    push_request::Entity::insert(push_request::ActiveModel {
        id: sea_orm::ActiveValue::Set(Uuid::new_v4()),
        tenant_id: sea_orm::ActiveValue::Set(row.tenant_id),
        user_id: sea_orm::ActiveValue::Set(user_id),
        login_id: sea_orm::ActiveValue::Set(row.id),
        server_name: sea_orm::ActiveValue::Set(row.server_name.clone()),
        account: sea_orm::ActiveValue::Set(row.account.clone()),
        source_ip: sea_orm::ActiveValue::Set(row.source_ip.clone()),
        number: sea_orm::ActiveValue::Set(number),
        status: sea_orm::ActiveValue::Set(PushStatus::Pending),
        wrong_numbers: sea_orm::ActiveValue::Set(0),
        created_at: sea_orm::ActiveValue::Set(now),
        expires_at: sea_orm::ActiveValue::Set(now + Duration::seconds(PUSH_VALID_SECS)),
        decided_at: sea_orm::ActiveValue::Set(None),
        device_id: sea_orm::ActiveValue::Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    row.stage = Stage::Push;
    let mut step = Step::prompt(prompt(number), true).with_info("HostGuard: a push was sent to your approval devices.");
    if crate::factors::passkeys::count(txn, user_id).await? > 0 {
        if let Some(line) = passkey_line(&ctx.public_url) {
            step = step.with_info(line);
        }
    }
    Ok(step.with_info(WAIT_INFO))
}

/// The login's newest push request: the pending one if there is one (sending a new one drops
/// the older), else the latest (two may share a timestamp).
pub(super) async fn newest(conn: &impl ConnectionTrait, login_id: Uuid) -> DomainResult<Option<push_request::Model>> {
    let all = push_request::Entity::find()
        .filter(push_request::Column::LoginId.eq(login_id))
        .order_by_asc(push_request::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(all.iter().rev().find(|r| r.status == PushStatus::Pending).or(all.last()).cloned())
}

/// A pending request still inside its minute.
pub(super) fn pending(r: &push_request::Model, now: DateTime<Utc>) -> bool {
    r.status == PushStatus::Pending && now <= r.expires_at
}

/// The empty answer at the push prompt: the request's decision, or (still pending) the same
/// prompt and what to wait for.
pub(super) async fn outcome(
    txn: &DatabaseTransaction,
    row: &mut server_login::Model,
    now: DateTime<Utc>,
) -> DomainResult<(Step, Option<PushWaiting>)> {
    let Some(r) = newest(txn, row.id).await? else {
        return Ok((
            finish(
                row,
                now,
                LoginResult::Denied,
                "no push request",
                Step::deny("HostGuard: this login cannot continue. Log in again."),
            ),
            None,
        ));
    };
    let step = match r.status {
        PushStatus::Approved => finish(row, now, LoginResult::Allowed, "push approved", Step::allow()),
        PushStatus::Denied => finish(
            row,
            now,
            LoginResult::Denied,
            "push denied",
            Step::deny("HostGuard: the push was denied. Login refused."),
        ),
        PushStatus::Fraud => finish(
            row,
            now,
            LoginResult::Denied,
            "push reported as not the person's (\"This wasn't me\")",
            Step::deny("HostGuard: the push was reported as not you. Login refused."),
        ),
        PushStatus::Pending if now <= r.expires_at => {
            let step =
                Step::prompt(prompt(r.number), true).with_info("Still waiting for your approval.").with_info(WAIT_INFO);
            return Ok((step, Some(PushWaiting { request_id: r.id, expires_at: r.expires_at })));
        }
        PushStatus::Pending | PushStatus::Expired => finish(
            row,
            now,
            LoginResult::Denied,
            "push expired",
            Step::deny(format!("HostGuard: the push was not approved within {PUSH_VALID_SECS} seconds. Log in again.")),
        ),
    };
    Ok((step, None))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_passkey_line_is_short_plain_ascii() {
        assert_eq!(
            super::passkey_line("https://console.example.com/").as_deref(),
            Some("Or approve with a passkey at https://console.example.com/a")
        );
        assert_eq!(
            super::passkey_line("http://127.0.0.1:3000").as_deref(),
            Some("Or approve with a passkey at http://localhost:3000/a")
        );
        assert_eq!(super::passkey_line("not a url"), None);
    }

    #[test]
    fn the_number_is_inside_the_prompt() {
        assert_eq!(super::prompt(472), "Push sent: enter 472 in the app, or type a code: ");
    }
}
