//! Authenticator apps (TOTP, RFC 6238: SHA-1, 6 digits, 30-second steps), as Microsoft
//! Authenticator or Google Authenticator add them from a QR code. An end user has at most
//! [`MAX_PER_USER`]; one counts once confirmed with a code from the app. Seeds are kept
//! encrypted with the server's secret key. Each code is accepted once: an authenticator
//! remembers the last time step it accepted and takes only later ones.

use super::{
    clean_name, end_user,
    guard::{self, SessionRef},
    lock_user,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::authenticator,
    error::{DomainError, DomainResult},
    seal::{open, seal, sealing_key, server_key},
};
use chrono::{DateTime, Duration, Utc};
use rand::{rngs::OsRng, RngCore};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use secrecy::SecretString;
use totp_rs::{Algorithm, Secret, TOTP};
use uuid::Uuid;

pub const MAX_PER_USER: u64 = 5;
pub const NAME_MAX: usize = 64;
pub const ISSUER: &str = "HostGuard";
pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
/// An enrolment not confirmed within this many minutes is over.
pub const ENROLMENT_VALID_MINUTES: i64 = 15;
/// 160-bit seeds, as RFC 4226 recommends for HMAC-SHA-1.
const SEED_BYTES: usize = 20;

/// A confirmed authenticator as its owner sees it (never the seed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticator {
    pub id: Uuid,
    pub name: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<authenticator::Model> for Authenticator {
    fn from(m: authenticator::Model) -> Self {
        Self { id: m.id, name: m.name, added_at: m.confirmed_at.unwrap_or(m.created_at), last_used_at: m.last_used_at }
    }
}

/// An enrolment under way: what the app needs, shown once (and never in `Debug`).
#[derive(Clone, Debug)]
pub struct Enrolment {
    pub id: Uuid,
    pub name: String,
    /// The seed in base32, for typing into an app by hand.
    pub secret: SecretString,
    /// `otpauth://totp/HostGuard:<email>?secret=…&issuer=HostGuard`, for the QR code.
    pub otpauth_uri: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// The time step of `t`.
pub fn step_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(STEP_SECS)
}

pub(crate) fn totp(secret_base32: &str, account: &str) -> DomainResult<TOTP> {
    let seed = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|_| DomainError::Internal("an authenticator's seed is not base32".into()))?;
    Ok(TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS as u64,
        seed,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    ))
}

/// Constant-time comparison: how much of a code matched must not show in the time taken.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The time step, within one of `now`'s (clocks drift, and typing takes time), whose code is
/// `code` and that is later than `after`.
pub(crate) fn matching_step(t: &TOTP, code: &str, now: DateTime<Utc>, after: i64) -> Option<i64> {
    let current = step_of(now);
    [current - 1, current, current + 1]
        .into_iter()
        .filter(|s| *s > after && *s >= 0)
        .find(|s| same(&t.generate((*s * STEP_SECS) as u64), code))
}

/// A code as typed: digits only, spaces dropped ("123 456" is 123456).
pub(crate) fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// What the seed of authenticator `id` is sealed for (bound in, so a copied row does not open).
fn owner(id: Uuid) -> String {
    format!("authenticator {id}")
}

/// The caller's confirmed authenticators, oldest first.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Authenticator>> {
    let (user_id, _) = end_user(caller)?;
    Ok(authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .order_by_asc(authenticator::Column::ConfirmedAt)
        .order_by_asc(authenticator::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(Authenticator::from)
        .collect())
}

async fn confirmed_count<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<u64> {
    Ok(authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .count(conn)
        .await?)
}

fn too_many() -> DomainError {
    DomainError::Conflict(format!(
        "You already have {MAX_PER_USER} authenticators, the most allowed. Remove one you no longer use, then add the new one."
    ))
}

/// Starts adding an authenticator: a new seed, to show as a QR code and as text. It counts only
/// once [`confirm`]ed; starting another enrolment drops this one. Needs what any change of
/// factors needs (see [`guard`]): a fresh step-up in `session`, or for a first factor the
/// invitation's own pages.
pub async fn begin(ctx: &Ctx, caller: &Caller, session: SessionRef, name: &str) -> DomainResult<Enrolment> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = clean_name("name", name, NAME_MAX, "Authenticator app")?;
    let key = sealing_key(ctx, "Authenticators")?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    guard::permit(&txn, user_id, session, now).await?;
    if confirmed_count(&txn, user_id).await? >= MAX_PER_USER {
        return Err(too_many());
    }
    authenticator::Entity::delete_many()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_null())
        .exec(&txn)
        .await?;
    let mut seed = [0u8; SEED_BYTES];
    OsRng.fill_bytes(&mut seed);
    let secret = Secret::Raw(seed.to_vec()).to_encoded().to_string();
    let id = Uuid::new_v4();
    authenticator::Entity::insert(authenticator::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        name: Set(name.clone()),
        secret_ciphertext: Set(seal(key, &owner(id), &secret)?),
        confirmed_at: Set(None),
        last_used_step: Set(0),
        last_used_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    let uri = totp(&secret, &caller.email)?.get_url();
    Ok(Enrolment {
        id,
        name,
        secret: SecretString::from(secret),
        otpauth_uri: SecretString::from(uri),
        expires_at: now + Duration::minutes(ENROLMENT_VALID_MINUTES),
    })
}

/// Finishes adding an authenticator with a code it shows now; audited and mailed to the user.
/// The code is spent: it cannot also log in. Needs a fresh step-up in `session` (or, for a first
/// factor, the invitation's own pages; it then uses the invitation up).
pub async fn confirm(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    id: Uuid,
    code: &str,
) -> DomainResult<Authenticator> {
    let (user_id, tenant_id) = end_user(caller)?;
    let code = normalize_code(code)
        .ok_or_else(|| DomainError::validation("code", format!("must be the {DIGITS}-digit code the app shows")))?;
    let key = sealing_key(ctx, "Authenticators")?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let pending = authenticator::Entity::find_by_id(id)
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_null())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("authenticator enrolment"))?;
    let permit = guard::permit(&txn, user_id, session, now).await?;
    if now > pending.created_at + Duration::minutes(ENROLMENT_VALID_MINUTES) {
        return Err(DomainError::Conflict(format!(
            "This enrolment has expired (you have {ENROLMENT_VALID_MINUTES} minutes to confirm one). Add the authenticator again."
        )));
    }
    if confirmed_count(&txn, user_id).await? >= MAX_PER_USER {
        return Err(too_many());
    }
    let t = totp(&open(key, &owner(id), &pending.secret_ciphertext)?, &caller.email)?;
    let Some(step) = matching_step(&t, &code, now, 0) else {
        return Err(DomainError::validation(
            "code",
            "is not the code the app shows now. Type the newest code; if it still fails, check that the phone sets its time automatically",
        ));
    };
    let mut am: authenticator::ActiveModel = pending.into();
    am.confirmed_at = Set(Some(now));
    am.last_used_step = Set(step);
    let saved = authenticator::Entity::update(am).exec(&txn).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorAuthenticatorAdded,
            target: caller.email.clone(),
            detail: format!("authenticator {:?}", saved.name),
        },
    )
    .await?;
    guard::after_change(&txn, tenant_id, user_id, session, permit, actor, now).await?;
    let what = format!("The authenticator app \"{}\" was added", saved.name);
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(saved.into())
}

/// Removes one of the caller's authenticators; audited and mailed to the user. Needs a fresh
/// step-up in `session`. The last authenticator or phone stays: a user keeps at least one way
/// to log in (add the new one first, then remove the old one).
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, session: SessionRef, id: Uuid) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let found = authenticator::Entity::find_by_id(id)
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("authenticator"))?;
    guard::permit(&txn, user_id, session, now).await?;
    if super::reusable_factors(&txn, user_id).await? <= 1 {
        return Err(super::last_factor(&found.name));
    }
    authenticator::Entity::delete_by_id(found.id).exec(&txn).await?;
    let change = super::Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::FactorAuthenticatorRemoved,
        detail: format!("authenticator {:?}", found.name),
        told: Some(format!("The authenticator app \"{}\" was removed", found.name)),
    };
    super::changed(ctx, txn, actor, change, super::ChangedBy::Person, now).await
}

/// At a login: the name of the user's authenticator that shows `code` now and has not accepted
/// it (or a later one) before. Accepting is one conditional UPDATE, so of two logins racing
/// with one code exactly one wins.
pub(crate) async fn use_code<C: ConnectionTrait>(
    ctx: &Ctx,
    conn: &C,
    user_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<String>> {
    let Some(key) = server_key(ctx) else {
        tracing::error!("HOSTGUARD_SECRET_KEY is not set: authenticator codes cannot be checked");
        return Ok(None);
    };
    let apps = authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(user_id))
        .filter(authenticator::Column::ConfirmedAt.is_not_null())
        .order_by_asc(authenticator::Column::ConfirmedAt)
        .all(conn)
        .await?;
    for app in apps {
        let secret = match open(key, &owner(app.id), &app.secret_ciphertext) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(authenticator = %app.id, error = %e, "skipping an authenticator");
                continue;
            }
        };
        let Some(step) = matching_step(&totp(&secret, "")?, code, now, app.last_used_step) else {
            continue;
        };
        let taken = authenticator::Entity::update_many()
            .col_expr(authenticator::Column::LastUsedStep, Expr::value(step))
            .col_expr(authenticator::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(authenticator::Column::Id.eq(app.id))
            .filter(authenticator::Column::LastUsedStep.lt(step))
            .exec(conn)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Some(app.name));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1: the seed "12345678901234567890", 8 digits there; the 6-digit
    // codes are their last six.
    const RFC_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn codes_follow_rfc_6238() {
        let t = totp(RFC_SEED, "alice@acme.example").unwrap();
        assert_eq!(t.generate(59), "287082");
        assert_eq!(t.generate(1_111_111_109), "081804");
        assert_eq!(t.generate(1_234_567_890), "005924");
        assert_eq!(t.generate(2_000_000_000), "279037");
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_only_after_the_last_used_step() {
        let t = totp(RFC_SEED, "a").unwrap();
        let now = at(1_234_567_890);
        let s = step_of(now);
        let code_at = |step: i64| t.generate((step * STEP_SECS) as u64);
        assert_eq!(matching_step(&t, &code_at(s), now, 0), Some(s));
        assert_eq!(matching_step(&t, &code_at(s - 1), now, 0), Some(s - 1), "one step late");
        assert_eq!(matching_step(&t, &code_at(s + 1), now, 0), Some(s + 1), "one step early");
        assert_eq!(matching_step(&t, &code_at(s - 2), now, 0), None, "two steps late");
        assert_eq!(matching_step(&t, &code_at(s + 2), now, 0), None);
        assert_eq!(matching_step(&t, &code_at(s), now, s), None, "a step already used");
        assert_eq!(matching_step(&t, &code_at(s - 1), now, s - 1), None, "replayed");
        assert_eq!(matching_step(&t, &code_at(s), now, s - 1), Some(s), "the next step is fine");
    }

    #[test]
    fn the_otpauth_uri_names_hostguard_and_the_user() {
        let uri = totp(RFC_SEED, "alice@acme.example").unwrap().get_url();
        assert_eq!(
            uri,
            "otpauth://totp/HostGuard:alice%40acme.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=HostGuard"
        );
    }

    #[test]
    fn codes_are_read_as_typed() {
        assert_eq!(normalize_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("12345a"), None);
        assert_eq!(normalize_code("١٢٣٤٥٦"), None, "only ASCII digits");
        assert!(same("123456", "123456") && !same("123456", "123457") && !same("123456", "12345"));
    }
}
