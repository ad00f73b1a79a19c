//! Forgetting what is no longer needed: sign-in attempt counts past their window, delivered
//! messages and the login audit past the retention period, and used or expired tokens. Run on a schedule by the
//! server, beside the session store's own sweep of expired sessions.
//!
//! Issue 17's tables, and what each keeps:
//! - `push_requests`: the retention period, like the login audit they belong to (who approved
//!   which login, with which device); their notifier claims (`push_notifications`) go with them
//!   or a day after they were taken (a request expires in a minute, so nothing claims it again).
//! - `login_codes`, `login_code_nonces` ("Get a code"), `passkey_ceremonies`,
//!   `password_resets`, `console_wrong_codes`, `factor_step_ups`: spent or expired secrets and
//!   counts, dropped [`SPENT_AFTER`] after they were made (or expired): every rule that reads
//!   them looks back at most an hour.
//! - The SMS/call code of a login (`server_logins.code_hash`) and a pending phone's
//!   confirmation code: the hash is cleared [`SPENT_AFTER`] after the code expired; an
//!   unconfirmed phone whose last code is older than the retention period is dropped.
//! - `push_mutes`: [`SPENT_AFTER`] after the pause ended.
//! - `invitations`: the retention period past their expiry, but each person's newest stays (the
//!   Users page shows it, and a resend starts from it).
//! - Kept while they exist (removed by people, not by age): factors (`phones` confirmed,
//!   `passkeys`, `approval_devices`, `push_subscriptions`, `console_authenticators`), settings
//!   (`factor_preferences`, `tenant_console_policies`, the fraud policy) and `credit_ledger`
//!   (the balance is the ledger's sum).

use crate::{
    ctx::Ctx,
    entities::{
        agent_install_token, console_wrong_code, factor_step_up, invitation, login_attempt, login_code,
        login_code_nonce, outbox, passkey_ceremony, password_reset, phone, push_mute, push_notification, push_request,
        server_login, subscription, unsubscribe_token,
    },
    error::DomainResult,
};
use chrono::{DateTime, Duration, Utc};
use proto::OutboxStatus;
use sea_orm::{
    sea_query::Expr, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// How long delivered messages, the login audit, used or expired tokens and spent sign-in
/// counts are kept. At least two days: the confirmation limits look back that far (the login
/// limits, 15 minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention(pub Duration);

impl Default for Retention {
    fn default() -> Self {
        Retention(Duration::days(30))
    }
}

/// How long issue 17's short-lived secrets and counts are kept after they were made or ended:
/// a day, well past the longest window that reads them (an hour: codes and nonces a person may
/// get, password resets asked for, phone codes sent).
pub const SPENT_AFTER_HOURS: i64 = 24;

fn spent_after() -> Duration {
    Duration::hours(SPENT_AFTER_HOURS)
}

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub login_attempts: u64,
    pub messages: u64,
    pub install_tokens: u64,
    pub confirm_tokens: u64,
    pub unsubscribe_tokens: u64,
    /// Logins to servers (the login audit), online and offline.
    pub server_logins: u64,
    /// Push requests, and notifier claims left after theirs.
    pub push_requests: u64,
    pub push_claims: u64,
    pub push_mutes: u64,
    /// "Get a code": codes and the nonces signed for them.
    pub login_codes: u64,
    pub login_code_nonces: u64,
    pub passkey_ceremonies: u64,
    pub password_resets: u64,
    pub console_wrong_codes: u64,
    pub step_ups: u64,
    pub invitations: u64,
    /// SMS/call codes of logins, and pending phones' codes, whose hash was cleared.
    pub code_hashes: u64,
    /// Phones never confirmed.
    pub pending_phones: u64,
}

pub async fn purge(ctx: &Ctx, retention: Retention) -> DomainResult<Purged> {
    let now = ctx.clock.now();
    let before = now - retention.0;
    // A count is spent once its window has passed and any lock it set is over.
    let spent = now - ctx.lockout.window.max(ctx.lockout.lock_for);
    let login_attempts = login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::LastFailureAt.lte(spent))
        .filter(
            Condition::any()
                .add(login_attempt::Column::LockedUntil.is_null())
                .add(login_attempt::Column::LockedUntil.lte(now)),
        )
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // Messages still to be sent stay whatever their age; sent and failed ones go.
    let messages = outbox::Entity::delete_many()
        .filter(outbox::Column::Status.is_in([OutboxStatus::Sent, OutboxStatus::Held, OutboxStatus::Failed]))
        .filter(outbox::Column::CreatedAt.lte(before))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    let install_tokens = agent_install_token::Entity::delete_many()
        .filter(
            Condition::any()
                .add(agent_install_token::Column::ExpiresAt.lte(before))
                .add(agent_install_token::Column::UsedAt.lte(before)),
        )
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // An expired confirmation link can only fail; its hash is dropped (a resend makes a new one).
    let confirm_tokens = subscription::Entity::update_many()
        .col_expr(subscription::Column::ConfirmTokenHash, Expr::value(Option::<String>::None))
        .filter(subscription::Column::ConfirmTokenHash.is_not_null())
        .filter(subscription::Column::ConfirmExpiresAt.lte(now))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // Unsubscribe links stay valid as long as their subscription exists.
    let live = subscription::Entity::find().select_only().column(subscription::Column::Id).into_query();
    let unsubscribe_tokens = unsubscribe_token::Entity::delete_many()
        .filter(unsubscribe_token::Column::SubscriptionId.not_in_subquery(live))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    // The login audit keeps the retention period; older logins are long over (a dialogue ends
    // within minutes), so no limit counts them any more.
    let server_logins = server_login::Entity::delete_many()
        .filter(server_login::Column::CreatedAt.lte(before))
        .exec(&ctx.db)
        .await?
        .rows_affected;
    let issue17 = purge_issue17(&ctx.db, now, before).await?;
    Ok(Purged {
        login_attempts,
        messages,
        install_tokens,
        confirm_tokens,
        unsubscribe_tokens,
        server_logins,
        ..issue17
    })
}

/// Issue 17's tables (see the module's first lines for what each keeps and why).
async fn purge_issue17<C: ConnectionTrait>(db: &C, now: DateTime<Utc>, before: DateTime<Utc>) -> DomainResult<Purged> {
    let stale = now - spent_after();
    // Decisions on logins are part of the login audit: they keep its period. The mute rule reads
    // a person's last few decisions, which this leaves as they are for the whole period.
    let push_requests = drop_where::<push_request::Entity, _>(db, push_request::Column::CreatedAt.lte(before)).await?;
    // The notifier only claims pending, unexpired requests (a minute at most): an older claim
    // stops nothing.
    let push_claims =
        drop_where::<push_notification::Entity, _>(db, push_notification::Column::CreatedAt.lte(stale)).await?;
    let push_mutes = drop_where::<push_mute::Entity, _>(db, push_mute::Column::Until.lte(stale)).await?;
    // "Get a code": at most so many an hour, each good for minutes; the code's use is in the
    // login audit.
    let login_codes = drop_where::<login_code::Entity, _>(
        db,
        Condition::all().add(login_code::Column::CreatedAt.lte(stale)).add(login_code::Column::ExpiresAt.lte(stale)),
    )
    .await?;
    let login_code_nonces = drop_where::<login_code_nonce::Entity, _>(
        db,
        Condition::all()
            .add(login_code_nonce::Column::CreatedAt.lte(stale))
            .add(login_code_nonce::Column::ExpiresAt.lte(stale)),
    )
    .await?;
    let passkey_ceremonies =
        drop_where::<passkey_ceremony::Entity, _>(db, passkey_ceremony::Column::ExpiresAt.lte(stale)).await?;
    // Requests count towards the hourly limits per address and source; the link works an hour.
    let password_resets = drop_where::<password_reset::Entity, _>(
        db,
        Condition::all()
            .add(password_reset::Column::CreatedAt.lte(stale))
            .add(password_reset::Column::ExpiresAt.lte(stale)),
    )
    .await?;
    let console_wrong_codes =
        drop_where::<console_wrong_code::Entity, _>(db, console_wrong_code::Column::CreatedAt.lte(stale)).await?;
    // Wrong step-ups count for minutes; a right one lets its session change factors for minutes.
    let step_ups = drop_where::<factor_step_up::Entity, _>(
        db,
        Condition::all().add(factor_step_up::Column::CreatedAt.lte(stale)).add(
            Condition::any()
                .add(factor_step_up::Column::ExpiresAt.is_null())
                .add(factor_step_up::Column::ExpiresAt.lte(stale)),
        ),
    )
    .await?;
    let invitations = purge_invitations(db, before).await?;
    // A phone nobody confirmed within the retention period is abandoned.
    let pending_phones = phone::Entity::delete_many()
        .filter(phone::Column::ConfirmedAt.is_null())
        .filter(phone::Column::CreatedAt.lte(before))
        .filter(Condition::any().add(phone::Column::CodeSentAt.is_null()).add(phone::Column::CodeSentAt.lte(before)))
        .exec(db)
        .await?
        .rows_affected;
    // A login's SMS or call code is good for minutes; the login row itself is the audit.
    let login_hashes = server_login::Entity::update_many()
        .col_expr(server_login::Column::CodeHash, Expr::value(Option::<String>::None))
        .filter(server_login::Column::CodeHash.is_not_null())
        .filter(server_login::Column::CodeExpiresAt.lte(stale))
        .exec(db)
        .await?
        .rows_affected;
    // A pending phone's code, likewise; the phone stays pending (a new code can be sent), its
    // send count and time kept for the send limit.
    let phone_hashes = phone::Entity::update_many()
        .col_expr(phone::Column::CodeHash, Expr::value(Option::<String>::None))
        .filter(phone::Column::CodeHash.is_not_null())
        .filter(phone::Column::CodeExpiresAt.lte(stale))
        .exec(db)
        .await?
        .rows_affected;
    Ok(Purged {
        push_requests,
        push_claims,
        push_mutes,
        login_codes,
        login_code_nonces,
        passkey_ceremonies,
        password_resets,
        console_wrong_codes,
        step_ups,
        invitations,
        code_hashes: login_hashes + phone_hashes,
        pending_phones,
        ..Purged::default()
    })
}

/// Deletes `E`'s rows that meet `condition`; how many went.
async fn drop_where<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> DomainResult<u64> {
    Ok(E::delete_many().filter(condition).exec(db).await?.rows_affected)
}

/// Invitations expired before `before`, except each person's newest: the Users page shows it
/// and a resend starts from it.
async fn purge_invitations<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> DomainResult<u64> {
    let old: Vec<(Uuid, Uuid, DateTime<Utc>)> = invitation::Entity::find()
        .select_only()
        .columns([invitation::Column::Id, invitation::Column::UserId, invitation::Column::CreatedAt])
        .filter(invitation::Column::ExpiresAt.lte(before))
        .into_tuple()
        .all(db)
        .await?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut users: Vec<Uuid> = old.iter().map(|(_, u, _)| *u).collect();
    users.sort_unstable();
    users.dedup();
    let mut newest: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for chunk in users.chunks(500) {
        let rows: Vec<(Uuid, DateTime<Utc>)> = invitation::Entity::find()
            .select_only()
            .columns([invitation::Column::UserId, invitation::Column::CreatedAt])
            .filter(invitation::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (user, at) in rows {
            let e = newest.entry(user).or_insert(at);
            *e = (*e).max(at);
        }
    }
    let gone: Vec<Uuid> =
        old.into_iter().filter(|(_, u, at)| newest.get(u).is_some_and(|n| at < n)).map(|(id, _, _)| id).collect();
    let mut purged = 0;
    for chunk in gone.chunks(500) {
        purged += invitation::Entity::delete_many()
            .filter(invitation::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::SPENT_AFTER_HOURS;
    use crate::{console_auth, factors, logins, push};

    /// Nothing dropped after [`SPENT_AFTER_HOURS`] may still count for a rule.
    #[test]
    fn spent_rows_outlive_every_window_that_reads_them() {
        let minutes = [
            60, // login codes and nonces an hour, phone code sends
            push::codes::VALID_MINUTES,
            push::codes::NONCE_VALID_MINUTES,
            push::mute::MUTE_MINUTES,
            console_auth::RESET_WINDOW_MINUTES,
            console_auth::RESET_VALID_MINUTES,
            console_auth::WRONG_WINDOW_MINUTES,
            factors::guard::WRONG_WINDOW_MINUTES,
            factors::guard::STEP_UP_VALID_MINUTES,
            factors::phones::SENDS_WINDOW_MINUTES,
            factors::phones::CODE_VALID_MINUTES,
            factors::passkeys::CEREMONY_VALID_SECS / 60 + 1,
            logins::LOGIN_VALID_MINUTES,
        ];
        for m in minutes {
            assert!(m < SPENT_AFTER_HOURS * 60, "{m} minutes");
        }
    }
}
