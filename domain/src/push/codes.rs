//! "Get a code": an end user whose browser is one of their approval devices gets a one-time
//! code for one server login, for when their phone has no network. The request is signed by the
//! device's key over a single-use nonce the console gave ([`proto::push::code_request_message`]),
//! so a stolen portal session alone gets no code and a signature cannot be sent twice. A code
//! is [`DIGITS`] digits, kept as an argon2id hash, valid [`VALID_MINUTES`] minutes and for one
//! login; a new one replaces the one before; at most [`PER_HOUR`] an hour. Each is audited and
//! mailed to the person. At the login prompt it is typed like any passcode ([`use_code`]).

use super::{decide::SIGNATURE_BYTES, end_user, signature};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{approval_device, login_code, login_code_nonce, user},
    error::{DomainError, DomainResult},
    messages::{escape_html, html_page},
    outbox::{self, Channel, MessageKind, NewMessage},
};
use chrono::{DateTime, Duration, Utc};
use rand::{rngs::OsRng, Rng};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// Digits in a code: 10⁸ possibilities against at most a few wrong codes a login.
pub const DIGITS: usize = 8;
pub const VALID_MINUTES: i64 = 10;
/// Codes one person may get in an hour.
pub const PER_HOUR: u64 = 5;
/// How long a nonce waits for its signature.
pub const NONCE_VALID_MINUTES: i64 = 5;
/// Nonces one person may ask for in an hour (each costs a row; signing needs one).
pub const NONCES_PER_HOUR: u64 = 30;

/// A nonce for the device to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nonce {
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

/// A signed request for a code, as the portal sends it.
#[derive(Clone, Debug)]
pub struct CodeRequest {
    pub device_id: Uuid,
    pub nonce: String,
    /// ECDSA P-256 over SHA-256 of [`proto::push::code_request_message`], raw r‖s.
    pub signature: Vec<u8>,
}

/// A new code, shown once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
    /// Codes the person may still get this hour.
    pub left_this_hour: u64,
}

/// The code as typed, without spaces or dashes; `None` unless it is [`DIGITS`] digits.
pub(crate) fn normalize(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// `1234 5678`, easier to read off a screen and type.
fn shown(code: &str) -> String {
    format!("{} {}", &code[..DIGITS / 2], &code[DIGITS / 2..])
}

/// argon2id off the async workers.
async fn hash(code: String) -> DomainResult<String> {
    tokio::task::spawn_blocking(move || crate::password::hash_password(&code))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))
}

/// How long a code's check waits for a password-check slot before its login is refused: well
/// inside the agent's 10 s login call, so the agent hears a refusal, not silence.
pub const CHECK_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// argon2id off the async workers, holding one of the password-check slots while it runs.
async fn matches(ctx: &Ctx, code: String, hash: String) -> DomainResult<bool> {
    let permit = match tokio::time::timeout(CHECK_SLOT_WAIT, ctx.password_checks.clone().acquire_owned()).await {
        Ok(permit) => permit.map_err(|e| DomainError::Internal(e.to_string()))?,
        Err(_) => return Err(DomainError::Busy("too many codes are being checked at once; try again".into())),
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::password::verify_password(&code, &hash)
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))
}

/// A new nonce for the caller's device to sign. End users only.
pub async fn nonce(ctx: &Ctx, caller: &Caller) -> DomainResult<Nonce> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    // Old ones are of no use to anyone.
    login_code_nonce::Entity::delete_many()
        .filter(login_code_nonce::Column::UserId.eq(user_id))
        .filter(login_code_nonce::Column::CreatedAt.lt(now - Duration::hours(1)))
        .exec(&txn)
        .await?;
    let recent =
        login_code_nonce::Entity::find().filter(login_code_nonce::Column::UserId.eq(user_id)).count(&txn).await?;
    if recent >= NONCES_PER_HOUR {
        return Err(DomainError::RateLimited(
            "Too many code requests were started in the last hour. Try again later.".into(),
        ));
    }
    let (nonce, _) = crate::tokens::new_token();
    let row = login_code_nonce::Model {
        id: Uuid::new_v4(),
        tenant_id,
        user_id,
        nonce: nonce.clone(),
        created_at: now,
        expires_at: now + Duration::minutes(NONCE_VALID_MINUTES),
        used_at: None,
    };
    login_code_nonce::Entity::insert(login_code_nonce::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(Nonce { nonce, expires_at: row.expires_at })
}

fn bad_signature() -> DomainError {
    DomainError::validation("signature", "does not verify with this approval device's key for this request")
}

/// Codes `user_id` got in the hour before `now`.
async fn issued_lately<C: ConnectionTrait>(conn: &C, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<u64> {
    Ok(login_code::Entity::find()
        .filter(login_code::Column::UserId.eq(user_id))
        .filter(login_code::Column::CreatedAt.gt(now - Duration::hours(1)))
        .count(conn)
        .await?)
}

/// A one-time code for the caller, if `req` is signed by one of their approval devices over a
/// nonce the console gave them that is unused and unexpired. The nonce is spent by the attempt,
/// whatever its outcome. A bad signature is audited (a session that cannot sign may be a
/// stolen one). The code replaces any unused one before it.
pub async fn issue(ctx: &Ctx, caller: &Caller, actor: &Actor, req: &CodeRequest) -> DomainResult<IssuedCode> {
    let (user_id, tenant_id) = end_user(caller)?;
    if req.signature.len() != SIGNATURE_BYTES {
        return Err(DomainError::validation(
            "signature",
            format!("must be {SIGNATURE_BYTES} bytes (ECDSA P-256, r and s), base64-encoded"),
        ));
    }
    // Made before the transaction: hashing takes tens of milliseconds.
    let code = format!("{:0width$}", OsRng.gen_range(0..10u32.pow(DIGITS as u32)), width = DIGITS);
    let code_hash = hash(code.clone()).await?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let nonce = login_code_nonce::Entity::find()
        .filter(login_code_nonce::Column::Nonce.eq(req.nonce.trim()))
        .filter(login_code_nonce::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("code request"))?;
    let device = approval_device::Entity::find_by_id(req.device_id)
        .filter(approval_device::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("approval device"))?;
    let spent = login_code_nonce::Entity::update_many()
        .col_expr(login_code_nonce::Column::UsedAt, Expr::value(Some(now)))
        .filter(login_code_nonce::Column::Id.eq(nonce.id))
        .filter(login_code_nonce::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(DomainError::Conflict(
            "This code request was already used: nothing was issued. Press Get a code again.".into(),
        ));
    }
    let message = proto::push::code_request_message(&nonce.nonce);
    if !signature::verifies(&device.public_key, &message, &req.signature) {
        tracing::warn!(device = %device.id, "a code request with a bad signature was refused");
        let entry = Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::LoginCodeSignatureRefused,
            target: caller.email.clone(),
            detail: format!("the signature does not verify with device {:?}; no code was issued", device.name),
        };
        audit::record(&txn, now, actor, entry).await?;
        txn.commit().await?;
        return Err(bad_signature());
    }
    if nonce.expires_at <= now {
        txn.commit().await?;
        return Err(DomainError::Conflict(
            "This code request expired before it was signed: nothing was issued. Press Get a code again.".into(),
        ));
    }
    let issued = issued_lately(&txn, user_id, now).await?;
    if issued >= PER_HOUR {
        txn.commit().await?;
        let oldest = login_code::Entity::find()
            .filter(login_code::Column::UserId.eq(user_id))
            .filter(login_code::Column::CreatedAt.gt(now - Duration::hours(1)))
            .order_by_asc(login_code::Column::CreatedAt)
            .one(&ctx.db)
            .await?;
        let again = oldest.map(|c| c.created_at + Duration::hours(1)).unwrap_or(now + Duration::hours(1));
        return Err(DomainError::RateLimited(format!(
            "You got {PER_HOUR} codes in the last hour, the most allowed. The next one can be had after {}.",
            again.format("%H:%M UTC")
        )));
    }
    login_code::Entity::update_many()
        .col_expr(login_code::Column::ReplacedAt, Expr::value(Some(now)))
        .filter(login_code::Column::UserId.eq(user_id))
        .filter(login_code::Column::UsedAt.is_null())
        .filter(login_code::Column::ReplacedAt.is_null())
        .filter(login_code::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    let expires_at = now + Duration::minutes(VALID_MINUTES);
    let row = login_code::Model {
        id: Uuid::new_v4(),
        tenant_id,
        user_id,
        device_id: device.id,
        code_hash,
        created_at: now,
        expires_at,
        used_at: None,
        login_id: None,
        replaced_at: None,
    };
    login_code::Entity::insert(login_code::ActiveModel::from(row)).exec_without_returning(&txn).await?;
    approval_device::Entity::update_many()
        .col_expr(approval_device::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(approval_device::Column::Id.eq(device.id))
        .exec(&txn)
        .await?;
    let entry = Entry {
        tenant_id: Some(tenant_id),
        action: AuditAction::LoginCodeIssued,
        target: caller.email.clone(),
        detail: format!(
            "a one-time code for one login, valid {VALID_MINUTES} minutes, asked for with device {:?}",
            device.name
        ),
    };
    audit::record(&txn, now, actor, entry).await?;
    let portal_url = format!("{}/portal/approvals", ctx.public_url.trim_end_matches('/'));
    outbox::enqueue(&txn, now, got_a_code(tenant_id, &caller.email, &device.name, actor, now, &portal_url)).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(IssuedCode { code: shown(&code), expires_at, left_this_hour: PER_HOUR - issued - 1 })
}

/// To the person: they got a code (never the code itself), and what to do if it was not them.
fn got_a_code(
    tenant_id: Uuid,
    email: &str,
    device: &str,
    actor: &Actor,
    at: DateTime<Utc>,
    portal_url: &str,
) -> NewMessage {
    let subject = "You got a one-time HostGuard code".to_owned();
    let facts = format!(
        "A one-time code for one server login was shown on your approval device \"{device}\".\n\n\
         When: {}\nFrom: {}\nAccount: {email}\nValid until: {}",
        at.format("%Y-%m-%d %H:%M UTC"),
        actor.source_ip,
        (at + Duration::minutes(VALID_MINUTES)).format("%H:%M UTC"),
    );
    let report = "If this wasn't you, someone has your portal session and that device: contact your administrator \
                  at once, and ask them to remove the device and check your logins.";
    let text = format!("{facts}\n\n{report}\n\nYour approval devices: {portal_url}\n");
    let html = html_page(
        &subject,
        &[
            facts.split('\n').filter(|l| !l.is_empty()).map(escape_html).collect::<Vec<_>>().join("<br>"),
            format!("<b>{}</b>", escape_html(report)),
            format!("Your approval devices: <a href=\"{0}\">{0}</a>", escape_html(portal_url)),
        ],
        "You receive this for every code you get; it cannot be turned off.",
    );
    NewMessage {
        tenant_id: Some(tenant_id),
        channel: Channel::Email,
        kind: MessageKind::LoginCodeIssued,
        recipient: email.to_owned(),
        sender_name: "HostGuard".into(),
        subject,
        body_text: text,
        body_html: html,
        secrets: vec![],
    }
}

/// The people whose code this process is checking now: one check at a time each, per console
/// process (replicas each keep their own; the spend's conditional `UPDATE` is what makes a code
/// work once across them). A person has
/// one live code and types it at one login; a burst of answers for them is someone else's, and
/// each would cost an argon2 check (which the login's row lock serialized when the check ran
/// in the transaction).
static CHECKING: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<Uuid>>> =
    std::sync::LazyLock::new(Default::default);

/// A person's check in progress; ends when dropped.
struct Checking(Uuid);

impl Checking {
    fn start(user_id: Uuid) -> Option<Checking> {
        let mut people = CHECKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Lazily: a `Checking` made and dropped here would lock `CHECKING` again, and take the
        // person out of it.
        people.insert(user_id).then(|| Checking(user_id))
    }
}

impl Drop for Checking {
    fn drop(&mut self) {
        CHECKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.0);
    }
}

/// At a login, before its write transaction: which of `user_id`'s live codes `typed` is, if
/// any. The argon2 checks take tens of milliseconds each, so they run here, outside the
/// transaction; on SQLite that transaction is a batch other logins' writes share. A second
/// answer for the same person while one is checked is refused (busy), not checked beside it.
pub(crate) async fn find_code(ctx: &Ctx, user_id: Uuid, typed: &str, now: DateTime<Utc>) -> DomainResult<Option<Uuid>> {
    let Some(code) = normalize(typed) else { return Ok(None) };
    let live = login_code::Entity::find()
        .filter(login_code::Column::UserId.eq(user_id))
        .filter(login_code::Column::UsedAt.is_null())
        .filter(login_code::Column::ReplacedAt.is_null())
        .filter(login_code::Column::ExpiresAt.gt(now))
        .order_by_desc(login_code::Column::CreatedAt)
        .all(&ctx.db)
        .await?;
    if live.is_empty() {
        return Ok(None);
    }
    let Some(_checking) = Checking::start(user_id) else {
        return Err(DomainError::Busy("another code for this person is being checked; try again".into()));
    };
    for candidate in live {
        if matches(ctx, code.clone(), candidate.code_hash).await? {
            return Ok(Some(candidate.id));
        }
    }
    Ok(None)
}

/// In the login's transaction: spends code `found` ([`find_code`]'s answer) of `user_id` for
/// login `login_id`, if it is still unused, unreplaced and unexpired. The UPDATE is
/// conditional, so of two logins typing it at once only one gets in.
pub(crate) async fn use_code<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    login_id: Uuid,
    found: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let Some(id) = found else { return Ok(false) };
    let spent = login_code::Entity::update_many()
        .col_expr(login_code::Column::UsedAt, Expr::value(Some(now)))
        .col_expr(login_code::Column::LoginId, Expr::value(Some(login_id)))
        .filter(login_code::Column::Id.eq(id))
        .filter(login_code::Column::UserId.eq(user_id))
        .filter(login_code::Column::UsedAt.is_null())
        .filter(login_code::Column::ReplacedAt.is_null())
        .filter(login_code::Column::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    Ok(spent.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits_typed_loosely() {
        assert_eq!(normalize("1234 5678").as_deref(), Some("12345678"));
        assert_eq!(normalize("1234-5678").as_deref(), Some("12345678"));
        assert_eq!(normalize("123456"), None, "an authenticator code is not one");
        assert_eq!(normalize("1234567a"), None);
        assert_eq!(normalize("123456789"), None);
        assert_eq!(shown("01234567"), "0123 4567");
    }
}
