//! Phones: an end user's number for SMS passcodes and "call me". A phone counts once the
//! person types back the [`DIGITS`]-digit code sent to it by SMS (kept hashed, good for
//! [`CODE_VALID_MINUTES`] and [`MAX_ATTEMPTS`] tries; sending again is rate-limited). A user has
//! at most one phone in force; a new one replaces it only once confirmed, so a mistyped number
//! never locks anybody out. Adding, renaming and removing follow [`guard`]'s rules.

use super::{
    clean_name, end_user,
    guard::{self, SessionRef},
    lock_user,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::phone,
    error::{DomainError, DomainResult},
    outbox::{self, Channel, MessageKind, NewMessage},
    validate::Phone,
};
use chrono::{DateTime, Duration, Utc};
use rand::{rngs::OsRng, Rng};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

pub const DIGITS: usize = 6;
pub const CODE_VALID_MINUTES: i64 = 10;
/// Wrong codes a sent code survives; then a new one must be sent.
pub const MAX_ATTEMPTS: i32 = 3;
/// The wait between two codes to one phone.
pub const RESEND_AFTER_SECS: i64 = 60;
/// Codes sent for a user's new phones in [`SENDS_WINDOW_MINUTES`], over every number tried.
pub const MAX_SENDS: i32 = 5;
pub const SENDS_WINDOW_MINUTES: i64 = 60;
pub const NAME_MAX: usize = 64;

/// The phone in force, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneFactor {
    pub id: Uuid,
    pub name: String,
    pub number: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A phone waiting for the code sent to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPhone {
    pub id: Uuid,
    pub name: String,
    pub number: String,
    pub code_expires_at: DateTime<Utc>,
    /// When another code may be sent.
    pub resend_at: DateTime<Utc>,
}

/// The caller's phones: the one in force and the one waiting to replace it (or to be the first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phones {
    pub in_force: Option<PhoneFactor>,
    pub pending: Option<PendingPhone>,
}

fn factor(m: phone::Model) -> PhoneFactor {
    PhoneFactor {
        id: m.id,
        added_at: m.confirmed_at.unwrap_or(m.created_at),
        name: m.name,
        number: m.number,
        last_used_at: m.last_used_at,
    }
}

fn pending(m: phone::Model) -> PendingPhone {
    let sent = m.code_sent_at.unwrap_or(m.created_at);
    PendingPhone {
        id: m.id,
        code_expires_at: m.code_expires_at.unwrap_or(sent),
        resend_at: sent + Duration::seconds(RESEND_AFTER_SECS),
        name: m.name,
        number: m.number,
    }
}

/// The stored hash of a code, bound to its phone row.
fn hash(phone_id: Uuid, code: &str) -> String {
    crate::tokens::hash_token(&format!("phone {phone_id}:{code}"))
}

fn new_code() -> String {
    format!("{:0width$}", OsRng.gen_range(0..10u32.pow(DIGITS as u32)), width = DIGITS)
}

async fn confirmed<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Option<phone::Model>> {
    Ok(phone::Entity::find()
        .filter(phone::Column::UserId.eq(user_id))
        .filter(phone::Column::ConfirmedAt.is_not_null())
        .order_by_desc(phone::Column::ConfirmedAt)
        .one(conn)
        .await?)
}

async fn unconfirmed<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Option<phone::Model>> {
    Ok(phone::Entity::find()
        .filter(phone::Column::UserId.eq(user_id))
        .filter(phone::Column::ConfirmedAt.is_null())
        .one(conn)
        .await?)
}

/// At a login: the confirmed phone in force for `user_id`, if any. A phone being added does not
/// count until it is confirmed; the one it replaces counts until then.
pub async fn login_phone<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Option<Phone>> {
    confirmed(conn, user_id)
        .await?
        .map(|p| {
            Phone::parse(&p.number)
                .map_err(|e| DomainError::Internal(format!("phone {} holds a number that {e}", p.id)))
        })
        .transpose()
}

/// Whether the user has a confirmed phone (it counts as a factor).
pub(crate) async fn has_phone<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<bool> {
    Ok(confirmed(conn, user_id).await?.is_some())
}

/// The caller's phones.
pub async fn status(ctx: &Ctx, caller: &Caller) -> DomainResult<Phones> {
    let (user_id, _) = end_user(caller)?;
    Ok(Phones {
        in_force: confirmed(&ctx.db, user_id).await?.map(factor),
        pending: unconfirmed(&ctx.db, user_id).await?.map(pending),
    })
}

/// The SMS that carries a confirmation code (a secret of the message: masked for operators,
/// dropped once sent).
fn code_message(tenant_id: Uuid, number: &Phone, code: &str, purpose: &str) -> NewMessage {
    NewMessage {
        tenant_id: Some(tenant_id),
        channel: Channel::Sms,
        kind: MessageKind::PhoneConfirmation,
        recipient: number.as_str().to_owned(),
        sender_name: "HostGuard".into(),
        subject: format!("HostGuard code for {purpose}"),
        body_text: format!(
            "[HostGuard] {code} is your code to {purpose}. Valid {CODE_VALID_MINUTES} min. \
             If you did not ask for it, ignore this message."
        ),
        body_html: String::new(),
        secrets: vec![code.to_owned()],
    }
}

/// Writes a new code for the pending phone `row` and queues its SMS; returns the row as saved.
async fn send_code(
    txn: &DatabaseTransaction,
    row: phone::Model,
    codes_sent: i32,
    now: DateTime<Utc>,
) -> DomainResult<phone::Model> {
    let code = new_code();
    let number = Phone::parse(&row.number).map_err(|e| DomainError::Internal(format!("phone number {e}")))?;
    let message = code_message(row.tenant_id, &number, &code, "confirm this phone for HostGuard sign-in");
    let mut am: phone::ActiveModel = row.into();
    am.code_hash = Set(Some(hash(*am.id.as_ref(), &code)));
    am.code_expires_at = Set(Some(now + Duration::minutes(CODE_VALID_MINUTES)));
    am.code_attempts = Set(0);
    am.code_sent_at = Set(Some(now));
    am.codes_sent = Set(codes_sent + 1);
    let saved = phone::Entity::update(am).exec(txn).await?;
    outbox::enqueue(txn, now, message).await?;
    Ok(saved)
}

fn too_many_sends() -> DomainError {
    DomainError::RateLimited(format!(
        "{MAX_SENDS} codes were sent for new phones in the last {SENDS_WINDOW_MINUTES} minutes, the most allowed. \
         Try again later."
    ))
}

fn wait_to_resend(at: DateTime<Utc>, now: DateTime<Utc>) -> DomainError {
    DomainError::RateLimited(format!(
        "A code was sent less than a minute ago. Wait {} seconds before asking for another.",
        (at - now).num_seconds().max(1)
    ))
}

/// Codes sent lately for the user's pending phone, which a new one inherits: starting over with
/// another number must not reset the limit.
fn recent_sends(old: Option<&phone::Model>, now: DateTime<Utc>) -> i32 {
    old.filter(|p| p.created_at > now - Duration::minutes(SENDS_WINDOW_MINUTES)).map_or(0, |p| p.codes_sent)
}

/// Starts adding a phone: sends a code to `number` by SMS. The phone counts only once
/// [`confirm`]ed; until then the phone in force (if any) keeps working. Starting again drops
/// the earlier pending phone. Needs a fresh step-up in `session` (or, for a first factor, the
/// invitation's own pages: see [`guard`]).
pub async fn begin(
    ctx: &Ctx,
    caller: &Caller,
    session: SessionRef,
    number: &str,
    name: &str,
) -> DomainResult<PendingPhone> {
    let (user_id, tenant_id) = end_user(caller)?;
    let number = Phone::parse(number.trim()).map_err(|rule| DomainError::validation("number", rule))?;
    let name = clean_name("name", name, NAME_MAX, "Phone")?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    guard::permit(&txn, user_id, session, now).await?;
    if confirmed(&txn, user_id).await?.is_some_and(|p| p.number == number.as_str()) {
        return Err(DomainError::validation("number", "is already your phone"));
    }
    let old = unconfirmed(&txn, user_id).await?;
    if let Some(sent) = old.as_ref().and_then(|p| p.code_sent_at) {
        let at = sent + Duration::seconds(RESEND_AFTER_SECS);
        if at > now {
            return Err(wait_to_resend(at, now));
        }
    }
    let sends = recent_sends(old.as_ref(), now);
    if sends >= MAX_SENDS {
        return Err(too_many_sends());
    }
    phone::Entity::delete_many()
        .filter(phone::Column::UserId.eq(user_id))
        .filter(phone::Column::ConfirmedAt.is_null())
        .exec(&txn)
        .await?;
    let row = phone::Entity::insert(phone::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        name: Set(name),
        number: Set(number.into_inner()),
        confirmed_at: Set(None),
        code_hash: Set(None),
        code_expires_at: Set(None),
        code_attempts: Set(0),
        code_sent_at: Set(None),
        codes_sent: Set(0),
        last_used_at: Set(None),
        // A replacement inherits its predecessor's age, so the send window is not reset.
        created_at: Set(old.filter(|_| sends > 0).map_or(now, |p| p.created_at)),
    })
    .exec_with_returning(&txn)
    .await?;
    let saved = send_code(&txn, row, sends, now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(pending(saved))
}

/// Sends a new code to the pending phone `id` (the old one stops working).
pub async fn resend(ctx: &Ctx, caller: &Caller, session: SessionRef, id: Uuid) -> DomainResult<PendingPhone> {
    let (user_id, _) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let row = unconfirmed(&txn, user_id).await?.filter(|p| p.id == id).ok_or(DomainError::NotFound("pending phone"))?;
    guard::permit(&txn, user_id, session, now).await?;
    if let Some(sent) = row.code_sent_at {
        let at = sent + Duration::seconds(RESEND_AFTER_SECS);
        if at > now {
            return Err(wait_to_resend(at, now));
        }
    }
    let sends = recent_sends(Some(&row), now);
    if sends >= MAX_SENDS {
        return Err(too_many_sends());
    }
    let saved = send_code(&txn, row, sends, now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(pending(saved))
}

/// Finishes adding the pending phone `id` with the code sent to it. It becomes the phone in
/// force, and the one it replaces (if any) is removed. Audited and mailed to the user. A wrong
/// code is counted; after [`MAX_ATTEMPTS`] the code is spent and a new one must be sent.
pub async fn confirm(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    id: Uuid,
    code: &str,
) -> DomainResult<PhoneFactor> {
    let (user_id, tenant_id) = end_user(caller)?;
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::validation("code", format!("must be the {DIGITS}-digit code sent to the phone")));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let row = unconfirmed(&txn, user_id).await?.filter(|p| p.id == id).ok_or(DomainError::NotFound("pending phone"))?;
    let permit = guard::permit(&txn, user_id, session, now).await?;
    let (Some(stored), Some(expires)) = (row.code_hash.clone(), row.code_expires_at) else {
        return Err(DomainError::Conflict("No code is waiting for this phone. Send a new code.".into()));
    };
    if row.code_attempts >= MAX_ATTEMPTS {
        return Err(DomainError::Conflict(format!(
            "The code was typed wrong {MAX_ATTEMPTS} times and no longer works. Send a new code."
        )));
    }
    if now > expires {
        return Err(DomainError::Conflict(format!(
            "The code has expired (a code is good for {CODE_VALID_MINUTES} minutes). Send a new code."
        )));
    }
    if hash(row.id, &typed) != stored {
        let attempts = row.code_attempts + 1;
        let mut am: phone::ActiveModel = row.into();
        am.code_attempts = Set(attempts);
        phone::Entity::update(am).exec(&txn).await?;
        txn.commit().await?;
        let left = MAX_ATTEMPTS - attempts;
        return Err(DomainError::validation(
            "code",
            if left > 0 {
                format!(
                    "is not the code sent to the phone ({left} more tr{} for this code)",
                    if left == 1 { "y" } else { "ies" }
                )
            } else {
                "is not the code sent to the phone, and that was the last try: send a new code".to_owned()
            },
        ));
    }
    let replaced = confirmed(&txn, user_id).await?;
    if let Some(old) = &replaced {
        phone::Entity::delete_by_id(old.id).exec(&txn).await?;
    }
    let mut am: phone::ActiveModel = row.into();
    am.confirmed_at = Set(Some(now));
    am.code_hash = Set(None);
    am.code_expires_at = Set(None);
    am.code_attempts = Set(0);
    am.code_sent_at = Set(None);
    am.codes_sent = Set(0);
    let saved = phone::Entity::update(am).exec(&txn).await?;
    let (detail, what) = match &replaced {
        Some(old) => (
            format!(
                "phone {:?} ({}) replaced {:?} ({})",
                saved.name,
                masked(&saved.number),
                old.name,
                masked(&old.number)
            ),
            format!(
                "The phone \"{}\" ({}) was added, and replaced \"{}\" ({})",
                saved.name,
                masked(&saved.number),
                old.name,
                masked(&old.number)
            ),
        ),
        None => (
            format!("phone {:?} ({})", saved.name, masked(&saved.number)),
            format!("The phone \"{}\" ({}) was added", saved.name, masked(&saved.number)),
        ),
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorPhoneAdded,
            target: caller.email.clone(),
            detail,
        },
    )
    .await?;
    guard::after_change(&txn, tenant_id, user_id, session, permit, actor, now).await?;
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(factor(saved))
}

/// Sends a code by SMS to the phone in force, to step up with (see [`guard::step_up`]): for a
/// person whose phone is their only lasting factor, or who has no app at hand. Same limits as
/// a confirmation code. Returns when another may be sent.
pub async fn send_step_up_code(ctx: &Ctx, caller: &Caller) -> DomainResult<DateTime<Utc>> {
    let (user_id, _) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let row = confirmed(&txn, user_id)
        .await?
        .ok_or_else(|| DomainError::Conflict("You have no phone to send a code to.".into()))?;
    let mut sends = row.codes_sent;
    if let Some(sent) = row.code_sent_at {
        let at = sent + Duration::seconds(RESEND_AFTER_SECS);
        if at > now {
            return Err(wait_to_resend(at, now));
        }
        if sent <= now - Duration::minutes(SENDS_WINDOW_MINUTES) {
            sends = 0;
        }
    }
    if sends >= MAX_SENDS {
        return Err(too_many_sends());
    }
    let code = new_code();
    let number = Phone::parse(&row.number).map_err(|e| DomainError::Internal(format!("phone number {e}")))?;
    let message = code_message(row.tenant_id, &number, &code, "change your HostGuard sign-in methods");
    let mut am: phone::ActiveModel = row.into();
    am.code_hash = Set(Some(hash(*am.id.as_ref(), &code)));
    am.code_expires_at = Set(Some(now + Duration::minutes(CODE_VALID_MINUTES)));
    am.code_attempts = Set(0);
    am.code_sent_at = Set(Some(now));
    am.codes_sent = Set(sends + 1);
    phone::Entity::update(am).exec(&txn).await?;
    outbox::enqueue(&txn, now, message).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(now + Duration::seconds(RESEND_AFTER_SECS))
}

/// In a step-up: whether `code` is the one [`send_step_up_code`] sent to the user's phone in
/// force, still good. A right code is spent; a wrong one counts against the sent code.
pub(crate) async fn use_step_up_code(
    txn: &DatabaseTransaction,
    user_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let Some(row) = confirmed(txn, user_id).await? else { return Ok(false) };
    let (Some(stored), Some(expires)) = (row.code_hash.clone(), row.code_expires_at) else { return Ok(false) };
    if now > expires || row.code_attempts >= MAX_ATTEMPTS {
        return Ok(false);
    }
    let right = hash(row.id, code) == stored;
    let attempts = row.code_attempts + 1;
    let mut am: phone::ActiveModel = row.into();
    if right {
        am.code_hash = Set(None);
        am.code_expires_at = Set(None);
        am.last_used_at = Set(Some(now));
    } else {
        am.code_attempts = Set(attempts);
    }
    phone::Entity::update(am).exec(txn).await?;
    Ok(right)
}

/// A number as mail and the audit trail show it: the last 4 digits.
pub fn masked(number: &str) -> String {
    let tail: String = number.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("ending {tail}")
}

/// Removes the caller's phone `id`: the one in force (if another factor remains: see
/// [`super::left_after_removing`]), or the pending one (a cancel). Needs a fresh step-up;
/// removing the one in force is audited and mailed.
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, session: SessionRef, id: Uuid) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let found = phone::Entity::find_by_id(id)
        .filter(phone::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("phone"))?;
    guard::permit(&txn, user_id, session, now).await?;
    if found.confirmed_at.is_none() {
        phone::Entity::delete_by_id(found.id).exec(&txn).await?;
        txn.commit().await?;
        return Ok(());
    }
    if super::reusable_factors(&txn, user_id).await? <= 1 {
        return Err(super::last_factor(&found.name));
    }
    phone::Entity::delete_by_id(found.id).exec(&txn).await?;
    let change = super::Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::FactorPhoneRemoved,
        detail: format!("phone {:?} ({})", found.name, masked(&found.number)),
        told: Some(format!("The phone \"{}\" ({}) was removed", found.name, masked(&found.number))),
    };
    super::changed(ctx, txn, actor, change, super::ChangedBy::Person, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_six_digits_and_hashes_are_bound_to_the_phone() {
        for _ in 0..50 {
            let c = new_code();
            assert_eq!(c.len(), DIGITS);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(hash(a, "123456"), hash(a, "123456"));
        assert_ne!(hash(a, "123456"), hash(b, "123456"));
    }

    #[test]
    fn numbers_are_masked_to_their_last_four_digits() {
        assert_eq!(masked("+14155550123"), "ending 0123");
    }

    #[test]
    fn the_code_is_a_secret_of_its_sms() {
        let number = Phone::parse("+14155550123").unwrap();
        let m = code_message(Uuid::nil(), &number, "042137", "confirm this phone");
        assert_eq!(m.channel, Channel::Sms);
        assert_eq!(m.recipient, "+14155550123");
        assert!(m.body_text.contains("042137") && m.secrets == vec!["042137".to_owned()]);
        assert!(m.body_text.chars().all(|c| !c.is_control()));
    }

    mod with_a_database {
        use super::super::*;
        use crate::{
            clock::{Clock, ManualClock},
            entities::{outbox as outbox_row, tenant, user},
            Role,
        };
        use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
        use std::sync::Arc;

        struct World {
            ctx: Ctx,
            clock: ManualClock,
            alice: Caller,
            actor: Actor,
            session: SessionRef,
            path: std::path::PathBuf,
        }

        impl Drop for World {
            fn drop(&mut self) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
                }
            }
        }

        /// Alice, an end user of Acme with no factor yet, on her invitation's own pages (its
        /// password chosen): `session` is what they add her first factor under.
        async fn world() -> World {
            let path = std::env::temp_dir().join(format!("hg-phones-{}.db", Uuid::new_v4().simple()));
            let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
            crate::db::migrate(&db).await.unwrap();
            let clock = ManualClock::new(Utc::now());
            let ctx = Ctx::for_tests(db, Arc::new(clock.clone()));
            let tenant_id = Uuid::new_v4();
            tenant::Entity::insert(tenant::ActiveModel {
                id: Set(tenant_id),
                name: Set("acme".into()),
                project_id: Set(Uuid::new_v4().simple().to_string()),
                created_at: Set(clock.now()),
            })
            .exec_without_returning(&ctx.db)
            .await
            .unwrap();
            let user_id = Uuid::new_v4();
            user::Entity::insert(user::ActiveModel {
                id: Set(user_id),
                tenant_id: Set(Some(tenant_id)),
                email: Set("alice@acme.example".into()),
                display_name: Set("Alice".into()),
                role: Set(Role::EndUser),
                password_hash: Set(String::new()),
                created_at: Set(clock.now()),
                activated_at: Set(Some(clock.now())),
                last_sign_in_at: Set(None),
                locked_at: Set(None),
            })
            .exec_without_returning(&ctx.db)
            .await
            .unwrap();
            let person = user::Entity::find_by_id(user_id).one(&ctx.db).await.unwrap().unwrap();
            // Her first factor comes from her invitation's own pages: the reference is the
            // invitation's, once its password is set.
            let invitation = crate::users::invitations::open_with_known_token(
                &ctx.db,
                tenant_id,
                &person,
                "admin@acme.example",
                "alice-token",
                clock.now(),
            )
            .await
            .unwrap();
            crate::users::invitations::set_password(&ctx, "alice-token", "a long enough password 1", "192.0.2.1")
                .await
                .unwrap();
            let alice =
                Caller { user_id, role: Role::EndUser, tenant_id: Some(tenant_id), email: "alice@acme.example".into() };
            let session = SessionRef(invitation);
            crate::entities::session::Entity::insert(crate::entities::session::ActiveModel {
                id: Set("world".into()),
                data: Set(format!(r#"{{"user_id":"{user_id}","signed_in_at":1}}"#)),
                expires_at: Set(clock.now() + Duration::hours(1)),
            })
            .exec_without_returning(&ctx.db)
            .await
            .unwrap();
            World { ctx, clock, alice, actor: Actor::new("alice@acme.example", "192.0.2.1"), session, path }
        }

        /// The code of the newest SMS to `number`, as the development outbox holds it.
        async fn sent_code(w: &World, number: &str) -> String {
            let m = outbox_row::Entity::find()
                .filter(outbox_row::Column::Recipient.eq(number))
                .order_by_desc(outbox_row::Column::CreatedAt)
                .one(&w.ctx.db)
                .await
                .unwrap()
                .expect("an SMS was queued");
            let code = outbox::render(&m).body_text.split_whitespace().nth(1).unwrap().to_owned();
            assert!(!m.body_text.contains(&code), "the stored text holds a placeholder, not the code");
            code
        }

        #[tokio::test]
        async fn login_phone_is_the_confirmed_phone_in_force() {
            let w = world().await;
            let uid = w.alice.user_id;
            assert_eq!(login_phone(&w.ctx.db, uid).await.unwrap(), None);
            let p = begin(&w.ctx, &w.alice, w.session, "+14155550123", "Work").await.unwrap();
            assert_eq!(login_phone(&w.ctx.db, uid).await.unwrap(), None, "not before it is confirmed");
            let code = sent_code(&w, "+14155550123").await;
            let wrong = if code == "000000" { "111111" } else { "000000" };
            let err = confirm(&w.ctx, &w.alice, &w.actor, w.session, p.id, wrong).await.unwrap_err();
            assert!(err.to_string().contains("2 more tries"), "{err}");
            confirm(&w.ctx, &w.alice, &w.actor, w.session, p.id, &code).await.unwrap();
            assert_eq!(login_phone(&w.ctx.db, uid).await.unwrap().unwrap().as_str(), "+14155550123");

            // A replacement: the old phone stays in force until the new one is confirmed.
            let n = begin(&w.ctx, &w.alice, w.session, "+14155550999", "New").await.unwrap();
            assert_eq!(login_phone(&w.ctx.db, uid).await.unwrap().unwrap().as_str(), "+14155550123");
            let code = sent_code(&w, "+14155550999").await;
            w.clock.advance(Duration::minutes(2));
            confirm(&w.ctx, &w.alice, &w.actor, w.session, n.id, &code).await.unwrap();
            assert_eq!(login_phone(&w.ctx.db, uid).await.unwrap().unwrap().as_str(), "+14155550999");
            let all = status(&w.ctx, &w.alice).await.unwrap();
            assert!(all.pending.is_none() && all.in_force.unwrap().name == "New");

            // The only factor that lasts cannot go.
            let err = remove(&w.ctx, &w.alice, &w.actor, w.session, n.id).await.unwrap_err();
            assert!(matches!(err, DomainError::Conflict(_)), "{err}");
        }

        #[tokio::test]
        async fn a_phone_steps_up_and_settings_need_a_step_up() {
            use crate::entities::session;
            use crate::factors::settings::{self, Named};
            let w = world().await;
            let uid = w.alice.user_id;
            let p = begin(&w.ctx, &w.alice, w.session, "+14155550123", "").await.unwrap();
            confirm(&w.ctx, &w.alice, &w.actor, w.session, p.id, &sent_code(&w, "+14155550123").await).await.unwrap();
            assert_eq!(settings::default_method(&w.ctx.db, uid).await.unwrap(), None);
            settings::set_default_method(&w.ctx, &w.alice, &w.actor, w.session, proto::DefaultMethod::Sms)
                .await
                .unwrap();
            assert_eq!(settings::default_method(&w.ctx.db, uid).await.unwrap(), Some(proto::DefaultMethod::Sms));
            let err = settings::set_default_method(&w.ctx, &w.alice, &w.actor, w.session, proto::DefaultMethod::Code)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("method: needs an authenticator app"), "{err}");
            let name = settings::rename(&w.ctx, &w.alice, &w.actor, w.session, Named::Phone, p.id, " Work mobile ")
                .await
                .unwrap();
            assert_eq!(name, "Work mobile");
            let err = settings::rename(&w.ctx, &w.alice, &w.actor, w.session, Named::Authenticator, p.id, "x")
                .await
                .unwrap_err();
            assert!(matches!(err, DomainError::NotFound(_)));

            // Another session of Alice's has not stepped up: it may change nothing...
            let other = SessionRef(Uuid::new_v4());
            let err =
                settings::rename(&w.ctx, &w.alice, &w.actor, other, Named::Phone, p.id, "Mine").await.unwrap_err();
            assert!(err.to_string().contains("code"), "{err}");
            // ...until it types the code sent to the phone (once: a replay fails).
            send_step_up_code(&w.ctx, &w.alice).await.unwrap();
            assert!(matches!(send_step_up_code(&w.ctx, &w.alice).await, Err(DomainError::RateLimited(_))));
            let code = sent_code(&w, "+14155550123").await;
            guard::step_up(&w.ctx, &w.alice, other, &code).await.unwrap();
            assert!(guard::step_up(&w.ctx, &w.alice, SessionRef(Uuid::new_v4()), &code).await.is_err(), "spent");
            settings::rename(&w.ctx, &w.alice, &w.actor, other, Named::Phone, p.id, "Mine").await.unwrap();

            // Signing out the other sessions ends Alice's others, not the kept one nor Bob's.
            let bob = Uuid::new_v4();
            session::Entity::delete_by_id("world").exec(&w.ctx.db).await.unwrap();
            for (id, user) in [("kept", uid), ("old", uid), ("bobs", bob)] {
                session::Entity::insert(session::ActiveModel {
                    id: Set(id.into()),
                    data: Set(format!(r#"{{"user_id":"{user}","signed_in_at":1}}"#)),
                    expires_at: Set(w.clock.now() + Duration::hours(1)),
                })
                .exec_without_returning(&w.ctx.db)
                .await
                .unwrap();
            }
            assert_eq!(
                settings::sign_out_other_sessions(&w.ctx, &w.alice, &w.actor, w.session, "kept").await.unwrap(),
                1
            );
            let left: Vec<String> =
                session::Entity::find().all(&w.ctx.db).await.unwrap().into_iter().map(|s| s.id).collect();
            assert_eq!(left.len(), 2);
            assert!(left.contains(&"kept".to_owned()) && left.contains(&"bobs".to_owned()));
        }
    }
}
