//! The console's own sign-in past the password check (`accounts::sign_in`): what a sign-in
//! needs next (a code from the person's console authenticator, for tenant admins and operators
//! who have one), that authenticator itself, changing one's own password, and resetting a
//! forgotten one through a mailed link.

use crate::{
    accounts::{normalize_email, source_block, MAX_EMAIL_LEN, MAX_PASSWORD_LEN},
    audit::{self, Actor, AuditAction, Entry},
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{
        console_authenticator, console_wrong_code, outbox as outbox_entity, password_reset, session,
        tenant_console_policy, user,
    },
    error::{DomainError, DomainResult},
    factors::authenticators,
    lockout::{self, Counter, Gate},
    messages::{escape_html, html_page},
    outbox::{self, Channel, MessageKind, NewMessage},
    password,
    seal::{open, seal, sealing_key, server_key},
    tokens,
    users::UserState,
};
use chrono::{DateTime, Duration, Utc};
use rand::{rngs::OsRng, RngCore};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use secrecy::SecretString;
use uuid::Uuid;

/// How long a reset link works.
pub const RESET_VALID_MINUTES: i64 = 60;
/// Reset links one address may be sent in [`RESET_WINDOW_MINUTES`] (asked for, whether or not
/// an account has the address).
pub const RESETS_PER_ADDRESS: u64 = 3;
/// Reset requests one source address (its /64 for IPv6) may make in the window.
pub const RESETS_PER_SOURCE: u64 = 10;
pub const RESET_WINDOW_MINUTES: i64 = 60;

/// What a sign-in needs after a right password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Next {
    /// Nothing: the person is signed in (and it is audited).
    SignedIn,
    /// A current code from their console authenticator ([`complete_with_code`]). Until then the
    /// session is only half signed in and grants nothing.
    Code,
    /// They must have a console authenticator and have none: they add one now
    /// ([`begin_authenticator`] and [`confirm_authenticator`] for [`pending_caller`]), and nothing
    /// else is reachable until then.
    Enrol,
}

/// Whether `user` must sign in to the console with a second factor: operators always, tenant
/// admins unless their tenant turned it off, end users never (their portal has its own methods).
pub async fn must_have_factor<C: ConnectionTrait>(conn: &C, user: &user::Model) -> DomainResult<bool> {
    Ok(match (user.role, user.tenant_id) {
        (Role::Operator, _) => true,
        (Role::TenantAdmin, Some(tenant_id)) => admins_need_factor(conn, tenant_id).await?,
        (Role::TenantAdmin, None) => true,
        (Role::EndUser, _) => false,
    })
}

async fn admins_need_factor<C: ConnectionTrait>(conn: &C, tenant_id: Uuid) -> DomainResult<bool> {
    Ok(tenant_console_policy::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .map(|p| p.admins_need_second_factor)
        .unwrap_or(true))
}

/// Whether the caller's tenant asks its admins for a second factor at console sign-in.
pub async fn admins_policy(ctx: &Ctx, caller: &Caller) -> DomainResult<bool> {
    admins_need_factor(&ctx.db, caller.admin_tenant()?).await
}

/// A tenant admin turns the second factor for their tenant's admins on or off. A current `code`
/// from the caller's console authenticator is needed if they have one (so a borrowed session
/// cannot turn it off; wrong codes count as at sign-in). Audited, and mailed to the tenant's
/// other admins.
pub async fn set_admins_policy(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    required: bool,
    code: &str,
) -> DomainResult<()> {
    let tenant_id = caller.admin_tenant()?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[caller.user_id]).await?;
    if admins_need_factor(&txn, tenant_id).await? == required {
        return Ok(());
    }
    if let Some(a) = confirmed_authenticator(&txn, caller.user_id).await? {
        let code = authenticators::normalize_code(code).ok_or_else(code_format)?;
        wrong_codes_lately(&txn, caller.user_id, now).await?;
        let Some(step) = check_code(ctx, &a, &caller.email, &code, now)? else {
            count_wrong_code(&txn, caller.user_id, now).await?;
            txn.commit().await?;
            return Err(DomainError::validation("code", "is not the code your authenticator app shows now"));
        };
        spend_step(&txn, a.id, step, now).await?;
    }
    tenant_console_policy::Entity::insert(tenant_console_policy::ActiveModel {
        tenant_id: Set(tenant_id),
        admins_need_second_factor: Set(required),
        updated_at: Set(now),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(tenant_console_policy::Column::TenantId)
            .update_columns([
                tenant_console_policy::Column::AdminsNeedSecondFactor,
                tenant_console_policy::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let rule = if required {
        "a second factor is needed at console sign-in"
    } else {
        "a password alone signs tenant admins in to the console"
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::ConsoleSecondFactorPolicy,
            target: "tenant admins".into(),
            detail: rule.into(),
        },
    )
    .await?;
    let others = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Role.eq(Role::TenantAdmin))
        .filter(user::Column::Id.ne(caller.user_id))
        .all(&txn)
        .await?;
    let what = if required {
        "Your organisation's admins now need an authenticator code, after the password, to sign in to the console"
    } else {
        "Your organisation's admins can now sign in to the console with a password alone"
    };
    let by = format!("{}, from {}", caller.email, actor.source_ip);
    for admin in others.iter().filter(|u| crate::users::state_of(u) == UserState::Active) {
        outbox::enqueue(&txn, now, security_message(ctx, admin, what, &by, now)).await?;
    }
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

/// The half-signed-in person as a caller, only to add their console authenticator
/// ([`Next::Enrol`]); nothing else takes it.
pub async fn pending_caller(ctx: &Ctx, user_id: Uuid) -> DomainResult<Caller> {
    let u = user::Entity::find_by_id(user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    if crate::users::state_of(&u) != UserState::Active || !may_enrol(u.role) {
        return Err(DomainError::Unauthenticated);
    }
    Ok(Caller { user_id: u.id, role: u.role, tenant_id: u.tenant_id, email: u.email })
}

/// After a right password: what else the sign-in of `user` needs. When nothing does, the
/// sign-in is complete and audited. Someone who has or needs a second factor on a console
/// without its secret key (which keeps authenticators) is refused: when in doubt, deny.
pub async fn after_password(ctx: &Ctx, user: &user::Model, source_ip: &str) -> DomainResult<Next> {
    let has = confirmed_authenticator(&ctx.db, user.id).await?.is_some();
    let needs = has || must_have_factor(&ctx.db, user).await?;
    if needs && server_key(ctx).is_none() {
        let detail = "right password, but the console has no HOSTGUARD_SECRET_KEY to check a second factor with";
        crate::accounts::record_failure(ctx, &user.email, user.tenant_id, source_ip, detail.into()).await?;
        return Err(not_configured());
    }
    if has {
        return Ok(Next::Code);
    }
    if needs {
        return Ok(Next::Enrol);
    }
    crate::accounts::record_sign_in(ctx, user, source_ip, "a password").await?;
    Ok(Next::SignedIn)
}

/// The refusal of a sign-in that needs a second factor on a console without its secret key:
/// a 503, since the console (not the person) is at fault and its operator must set the key.
pub fn not_configured() -> DomainError {
    DomainError::Busy(
        "This console is not configured for operator and administrator sign-in: it needs HOSTGUARD_SECRET_KEY \
         to check a second factor. Ask whoever runs it to set HOSTGUARD_SECRET_KEY and restart it."
            .into(),
    )
}

/// How long the second step may wait after the password.
pub const PENDING_VALID_MINUTES: i64 = 5;
/// Wrong second-step codes one person may type in [`WRONG_WINDOW_MINUTES`] (as for step-ups).
pub const WRONG_CODES: u64 = crate::factors::guard::WRONG_STEP_UPS;
pub const WRONG_WINDOW_MINUTES: i64 = crate::factors::guard::WRONG_WINDOW_MINUTES;
/// Who may have a console authenticator: the people who administer something.
fn may_enrol(role: Role) -> bool {
    matches!(role, Role::TenantAdmin | Role::Operator)
}

async fn confirmed_authenticator<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
) -> DomainResult<Option<console_authenticator::Model>> {
    Ok(console_authenticator::Entity::find()
        .filter(console_authenticator::Column::UserId.eq(user_id))
        .filter(console_authenticator::Column::ConfirmedAt.is_not_null())
        .one(conn)
        .await?)
}

/// What the seed of console authenticator `id` is sealed for.
fn owner(id: Uuid) -> String {
    format!("console authenticator {id}")
}

/// The account name an app shows next to the codes.
fn app_account(email: &str) -> String {
    format!("{email} (console)")
}

/// Spends `step` of console authenticator `id`: a code of it, or an earlier one, is never taken
/// again.
async fn spend_step(txn: &sea_orm::DatabaseTransaction, id: Uuid, step: i64, now: DateTime<Utc>) -> DomainResult<()> {
    console_authenticator::Entity::update_many()
        .col_expr(console_authenticator::Column::LastUsedStep, Expr::value(step))
        .col_expr(console_authenticator::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(console_authenticator::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The step of `code` if it is a current code of authenticator `a` not used before.
fn check_code(
    ctx: &Ctx,
    a: &console_authenticator::Model,
    email: &str,
    code: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<i64>> {
    let key = server_key(ctx)
        .ok_or_else(|| DomainError::Internal("no server key to open a console authenticator with".into()))?;
    let t = authenticators::totp(&open(key, &owner(a.id), &a.secret_ciphertext)?, &app_account(email))?;
    Ok(authenticators::matching_step(&t, code, now, a.last_used_step))
}

/// How many wrong second-step codes `user_id` typed lately; past [`WRONG_CODES`] in
/// [`WRONG_WINDOW_MINUTES`], a refusal, before any code is checked.
async fn wrong_codes_lately(
    txn: &sea_orm::DatabaseTransaction,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<u64> {
    let wrong = console_wrong_code::Entity::find()
        .filter(console_wrong_code::Column::UserId.eq(user_id))
        .filter(console_wrong_code::Column::CreatedAt.gt(now - Duration::minutes(WRONG_WINDOW_MINUTES)))
        .count(txn)
        .await?;
    if wrong >= WRONG_CODES {
        return Err(DomainError::RateLimited(format!(
            "Too many wrong codes were typed for your account. Try again in {WRONG_WINDOW_MINUTES} minutes."
        )));
    }
    Ok(wrong)
}

/// Counts a wrong code `user_id` typed (see [`wrong_codes_lately`]).
async fn count_wrong_code(txn: &sea_orm::DatabaseTransaction, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    console_wrong_code::Entity::insert(console_wrong_code::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Ends an addition or removal of the caller's console authenticator `name`: audited, and
/// mailed to them (`what` changed); then commits `txn` and wakes the outbox.
#[allow(clippy::too_many_arguments)]
async fn authenticator_changed(
    ctx: &Ctx,
    txn: sea_orm::DatabaseTransaction,
    caller: &Caller,
    actor: &Actor,
    action: AuditAction,
    name: &str,
    what: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let person = user::Entity::find_by_id(caller.user_id).one(&txn).await?.ok_or(DomainError::Unauthenticated)?;
    let entry = Entry {
        tenant_id: caller.tenant_id,
        action,
        target: caller.email.clone(),
        detail: format!("authenticator {name:?}"),
    };
    audit::record(&txn, now, actor, entry).await?;
    let by = format!("you, signed in from {}", actor.source_ip);
    outbox::enqueue(&txn, now, security_message(ctx, &person, what, &by, now)).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

fn code_format() -> DomainError {
    DomainError::validation(
        "code",
        format!("must be the {}-digit code your authenticator app shows", authenticators::DIGITS),
    )
}

/// The second step of a console sign-in: `code` from the person's console authenticator, after
/// their password (`user_id` is the half-signed-in session's). A code is accepted once; wrong
/// ones are capped per person like step-ups, and each is audited. Returns the person, now
/// signed in (audited).
pub async fn complete_with_code(ctx: &Ctx, user_id: Uuid, code: &str, source_ip: &str) -> DomainResult<user::Model> {
    let code = authenticators::normalize_code(code).ok_or_else(code_format)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    let person = user::Entity::find_by_id(user_id).one(&txn).await?.ok_or(DomainError::Unauthenticated)?;
    if crate::users::state_of(&person) != UserState::Active {
        return Err(DomainError::Unauthenticated);
    }
    let wrong = wrong_codes_lately(&txn, user_id, now).await?;
    let a = confirmed_authenticator(&txn, user_id).await?.ok_or(DomainError::Unauthenticated)?;
    let Some(step) = check_code(ctx, &a, &person.email, &code, now)? else {
        count_wrong_code(&txn, user_id, now).await?;
        let left = WRONG_CODES.saturating_sub(wrong + 1);
        let detail = format!("right password, wrong authenticator code ({left} more tries)");
        crate::accounts::record_failure_in(&txn, now, &person.email, person.tenant_id, source_ip, detail).await?;
        txn.commit().await?;
        return Err(DomainError::validation(
            "code",
            format!(
                "is not the code your authenticator app shows now ({left} more tr{} in the next {WRONG_WINDOW_MINUTES} minutes)",
                if left == 1 { "y" } else { "ies" }
            ),
        ));
    };
    spend_step(&txn, a.id, step, now).await?;
    txn.commit().await?;
    crate::accounts::record_sign_in(ctx, &person, source_ip, "a password and an authenticator code").await?;
    Ok(person)
}

/// Completes the sign-in of someone who had to add a console authenticator right after their
/// password ([`Next::Enrol`]) and just did; audited.
pub async fn signed_in_after_enrolment(ctx: &Ctx, user_id: Uuid, source_ip: &str) -> DomainResult<user::Model> {
    let person = user::Entity::find_by_id(user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    if confirmed_authenticator(&ctx.db, user_id).await?.is_none() {
        return Err(DomainError::Unauthenticated);
    }
    crate::accounts::record_sign_in(ctx, &person, source_ip, "a password and a newly added authenticator").await?;
    Ok(person)
}

/// The caller's console authenticator, as they see it (never the seed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleAuthenticator {
    pub name: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Where the caller stands: whether their role may have a console authenticator, and theirs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactorStatus {
    pub may_enrol: bool,
    pub authenticator: Option<ConsoleAuthenticator>,
}

pub async fn status(ctx: &Ctx, caller: &Caller) -> DomainResult<FactorStatus> {
    let authenticator = confirmed_authenticator(&ctx.db, caller.user_id).await?.map(|a| ConsoleAuthenticator {
        name: a.name,
        added_at: a.confirmed_at.unwrap_or(a.created_at),
        last_used_at: a.last_used_at,
    });
    Ok(FactorStatus { may_enrol: may_enrol(caller.role), authenticator })
}

/// Starts adding the caller's console authenticator: a new seed to show as a QR code and as
/// text, which counts once [`confirm_authenticator`]ed. A tenant admin or an operator has at most
/// one; to replace it they remove it first (which needs a code from it).
pub async fn begin_authenticator(ctx: &Ctx, caller: &Caller, name: &str) -> DomainResult<authenticators::Enrolment> {
    if !may_enrol(caller.role) {
        return Err(DomainError::Forbidden);
    }
    let name = crate::factors::clean_name("name", name, authenticators::NAME_MAX, "Authenticator app")?;
    let key = sealing_key(ctx, "Authenticators")?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[caller.user_id]).await?;
    if confirmed_authenticator(&txn, caller.user_id).await?.is_some() {
        return Err(DomainError::Conflict(
            "You already have an authenticator app for the console. To use another one, remove it first.".into(),
        ));
    }
    console_authenticator::Entity::delete_many()
        .filter(console_authenticator::Column::UserId.eq(caller.user_id))
        .exec(&txn)
        .await?;
    let secret = new_seed();
    let id = Uuid::new_v4();
    console_authenticator::Entity::insert(console_authenticator::ActiveModel {
        id: Set(id),
        user_id: Set(caller.user_id),
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
    let uri = authenticators::totp(&secret, &app_account(&caller.email))?.get_url();
    Ok(authenticators::Enrolment {
        id,
        name,
        secret: SecretString::from(secret),
        otpauth_uri: SecretString::from(uri),
        expires_at: now + Duration::minutes(authenticators::ENROLMENT_VALID_MINUTES),
    })
}

/// How long the code mailed when someone adds a console authenticator at sign-in works.
pub const ENROL_MAIL_VALID_MINUTES: i64 = 15;
/// Codes one person may be mailed in [`ENROL_MAIL_VALID_MINUTES`]: whoever knows the password
/// cannot flood the mailbox, nor void the owner's enrolment more than this often.
pub const ENROL_MAILS_PER_WINDOW: u64 = 3;
/// Wrong mailed codes one code survives.
pub const ENROL_MAIL_TRIES: u32 = 3;
/// Digits of a mailed code.
const MAIL_CODE_DIGITS: usize = 6;

/// The code mailed to the account's address when its console authenticator is added at sign-in,
/// kept in that half-signed-in session (server side) as a hash only: whoever begins the
/// enrolment must also read the account's mail, so a phished password alone cannot set the
/// second factor.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailedCode {
    pub hash: String,
    pub expires_at: DateTime<Utc>,
    /// Wrong codes typed against it so far.
    pub wrong: u32,
    /// The address it went to.
    pub sent_to: String,
}

fn mail_code_hash(user_id: Uuid, code: &str) -> String {
    tokens::hash_token(&format!("console enrolment {user_id} {code}"))
}

/// Starts adding the console authenticator of someone who must have one, right after their
/// password ([`Next::Enrol`]): as [`begin_authenticator`], and a one-time code mailed to the
/// account's address (at most [`ENROL_MAILS_PER_WINDOW`] in [`ENROL_MAIL_VALID_MINUTES`] per
/// person; a refusal changes nothing). [`confirm_sign_in_enrolment`] needs both codes.
pub async fn begin_sign_in_enrolment(
    ctx: &Ctx,
    caller: &Caller,
    name: &str,
    source_ip: &str,
) -> DomainResult<(authenticators::Enrolment, MailedCode)> {
    if !may_enrol(caller.role) {
        return Err(DomainError::Forbidden);
    }
    crate::factors::clean_name("name", name, authenticators::NAME_MAX, "Authenticator app")?;
    sealing_key(ctx, "Authenticators")?;
    let now = ctx.clock.now();
    let person = user::Entity::find_by_id(caller.user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    // One begin at a time per person, so parallel ones cannot all pass the count.
    crate::db::lock_key(&txn, &format!("console enrolment mail {}", person.id)).await?;
    let sent = outbox_entity::Entity::find()
        .filter(outbox_entity::Column::Kind.eq(MessageKind::ConsoleEnrolmentCode))
        .filter(outbox_entity::Column::Recipient.eq(&person.email))
        .filter(outbox_entity::Column::CreatedAt.gt(now - Duration::minutes(ENROL_MAIL_VALID_MINUTES)))
        .count(&txn)
        .await?;
    if sent >= ENROL_MAILS_PER_WINDOW {
        return Err(DomainError::RateLimited(format!(
            "A code was mailed to your address {ENROL_MAILS_PER_WINDOW} times in the last {ENROL_MAIL_VALID_MINUTES} \
             minutes. Use the newest one, or try again later."
        )));
    }
    let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
    let expires_at = now + Duration::minutes(ENROL_MAIL_VALID_MINUTES);
    let m = enrolment_code_message(&person, &code, source_ip, expires_at);
    outbox::enqueue(&txn, now, NewMessage { secrets: vec![code.clone()], ..m }).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    let enrolment = begin_authenticator(ctx, caller, name).await?;
    let mailed = MailedCode { hash: mail_code_hash(person.id, &code), expires_at, wrong: 0, sent_to: person.email };
    Ok((enrolment, mailed))
}

/// Why a mailed code cannot be used any more (or never was), if so.
fn mailed_unusable(mailed: Option<&MailedCode>, now: DateTime<Utc>) -> Option<DomainError> {
    let dead = match mailed {
        None => true,
        Some(m) => now >= m.expires_at || m.wrong >= ENROL_MAIL_TRIES,
    };
    dead.then(|| {
        DomainError::Conflict(format!(
            "The code from the email can no longer be used (it works once, for {ENROL_MAIL_VALID_MINUTES} minutes, \
             and {ENROL_MAIL_TRIES} wrong tries end it). Show the QR code again to get a new one."
        ))
    })
}

/// Finishes adding the console authenticator at sign-in: `mail_code` must be the code mailed by
/// [`begin_sign_in_enrolment`] (`mailed`, which this updates: a wrong try counts, a success
/// spends it) and `code` a current one from the app. Wrong mailed codes also count with the
/// person's wrong second-step codes, and are audited. A refusal adds nothing.
#[allow(clippy::too_many_arguments)]
pub async fn confirm_sign_in_enrolment(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    id: Uuid,
    code: &str,
    mail_code: &str,
    mailed: &mut Option<MailedCode>,
) -> DomainResult<ConsoleAuthenticator> {
    let mail_code = mail_code.trim().replace([' ', '-'], "");
    if mail_code.len() != MAIL_CODE_DIGITS || !mail_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::validation(
            "mail_code",
            format!("must be the {MAIL_CODE_DIGITS}-digit code from the email we sent you"),
        ));
    }
    let now = ctx.clock.now();
    if let Some(e) = mailed_unusable(mailed.as_ref(), now) {
        return Err(e);
    }
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[caller.user_id]).await?;
    let wrong = wrong_codes_lately(&txn, caller.user_id, now).await?;
    let right = mailed.as_ref().is_some_and(|m| m.hash == mail_code_hash(caller.user_id, &mail_code));
    if !right {
        count_wrong_code(&txn, caller.user_id, now).await?;
        let detail = "right password, wrong code from the email while adding an authenticator".into();
        crate::accounts::record_failure_in(&txn, now, &caller.email, caller.tenant_id, &actor.source_ip, detail)
            .await?;
        txn.commit().await?;
        let tries = mailed.as_mut().map(|m| {
            m.wrong += 1;
            ENROL_MAIL_TRIES.saturating_sub(m.wrong)
        });
        let left = tries.unwrap_or(0).min(WRONG_CODES.saturating_sub(wrong + 1) as u32);
        return Err(DomainError::validation(
            "mail_code",
            format!("is not the code from the email ({left} more tr{})", if left == 1 { "y" } else { "ies" }),
        ));
    }
    drop(txn);
    let added = confirm_authenticator(ctx, caller, actor, id, code).await?;
    *mailed = None;
    Ok(added)
}

/// The mail with the code that proves the mailbox when an authenticator is added at sign-in.
fn enrolment_code_message(person: &user::Model, code: &str, source_ip: &str, expires_at: DateTime<Utc>) -> NewMessage {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let subject = "Your HostGuard console code".to_owned();
    let what = format!(
        "Someone (from {source_ip}) signed in with the password of your HostGuard account {} and is adding an \
         authenticator app to it.",
        person.email
    );
    let act =
        format!("If this is you, type this code on the page as \"Code from the email\". It works once, until {until}:");
    let warn = "If this is not you, do not give this code to anyone: someone knows your password. Reset it from \
                the sign-in page at once.";
    let body_text = format!("{what}\n\n{act}\n{code}\n\n{warn}\n");
    let body_html = html_page(
        &subject,
        &[
            escape_html(&what),
            escape_html(&act),
            format!("<b>{}</b>", escape_html(code)),
            format!("<b>{}</b>", escape_html(warn)),
        ],
        "You receive this because your account's console sign-in needs an authenticator app.",
    );
    NewMessage {
        tenant_id: person.tenant_id,
        channel: Channel::Email,
        kind: MessageKind::ConsoleEnrolmentCode,
        recipient: person.email.clone(),
        sender_name: "HostGuard".into(),
        subject,
        body_text,
        body_html,
        secrets: vec![],
    }
}

/// A new 160-bit seed in base32.
fn new_seed() -> String {
    let mut seed = [0u8; 20];
    OsRng.fill_bytes(&mut seed);
    totp_rs::Secret::Raw(seed.to_vec()).to_encoded().to_string()
}

/// Finishes adding the caller's console authenticator with a code it shows now; from the next
/// sign-in on, the console asks for its code after the password. Audited and mailed.
pub async fn confirm_authenticator(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    id: Uuid,
    code: &str,
) -> DomainResult<ConsoleAuthenticator> {
    if !may_enrol(caller.role) {
        return Err(DomainError::Forbidden);
    }
    let code = authenticators::normalize_code(code).ok_or_else(code_format)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[caller.user_id]).await?;
    let pending = console_authenticator::Entity::find_by_id(id)
        .filter(console_authenticator::Column::UserId.eq(caller.user_id))
        .filter(console_authenticator::Column::ConfirmedAt.is_null())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("authenticator enrolment"))?;
    if now > pending.created_at + Duration::minutes(authenticators::ENROLMENT_VALID_MINUTES) {
        return Err(DomainError::Conflict(format!(
            "This enrolment has expired (you have {} minutes to confirm one). Add the authenticator again.",
            authenticators::ENROLMENT_VALID_MINUTES
        )));
    }
    let Some(step) = check_code(ctx, &pending, &caller.email, &code, now)? else {
        return Err(DomainError::validation(
            "code",
            "is not the code the app shows now. Type the newest code; if it still fails, check that the phone sets its time automatically",
        ));
    };
    let mut am: console_authenticator::ActiveModel = pending.into();
    am.confirmed_at = Set(Some(now));
    am.last_used_step = Set(step);
    let saved = console_authenticator::Entity::update(am).exec(&txn).await?;
    let what = format!("The authenticator app \"{}\" was added to your console sign-in", saved.name);
    let action = AuditAction::ConsoleAuthenticatorAdded;
    authenticator_changed(ctx, txn, caller, actor, action, &saved.name, &what, now).await?;
    Ok(ConsoleAuthenticator { name: saved.name, added_at: now, last_used_at: None })
}

/// Removes the caller's console authenticator; a current code from it is needed, so a borrowed
/// session cannot drop the second step. Audited and mailed.
pub async fn remove_authenticator(ctx: &Ctx, caller: &Caller, actor: &Actor, code: &str) -> DomainResult<()> {
    let code = authenticators::normalize_code(code).ok_or_else(code_format)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[caller.user_id]).await?;
    let a =
        confirmed_authenticator(&txn, caller.user_id).await?.ok_or(DomainError::NotFound("console authenticator"))?;
    let me = user::Entity::find_by_id(caller.user_id).one(&txn).await?.ok_or(DomainError::Unauthenticated)?;
    if must_have_factor(&txn, &me).await? {
        return Err(DomainError::Conflict(
            "Your console sign-in needs an authenticator app, so it cannot be removed. If you lost the phone, ask \
             an operator (or another admin of your organisation) for help."
                .into(),
        ));
    }
    wrong_codes_lately(&txn, caller.user_id, now).await?;
    if check_code(ctx, &a, &caller.email, &code, now)?.is_none() {
        count_wrong_code(&txn, caller.user_id, now).await?;
        txn.commit().await?;
        return Err(DomainError::validation("code", "is not the code your authenticator app shows now"));
    }
    console_authenticator::Entity::delete_many()
        .filter(console_authenticator::Column::UserId.eq(caller.user_id))
        .exec(&txn)
        .await?;
    let what = format!("The authenticator app \"{}\" was removed from your console sign-in", a.name);
    authenticator_changed(ctx, txn, caller, actor, AuditAction::ConsoleAuthenticatorRemoved, &a.name, &what, now).await
}

/// Enrols a console authenticator with a known seed (base32), confirmed at once: for the demo
/// data and the tests' fixtures, never reachable from a request.
pub async fn enrol_known_seed(ctx: &Ctx, user_id: Uuid, name: &str, secret_base32: &str) -> DomainResult<()> {
    let key = sealing_key(ctx, "Authenticators")?;
    let now = ctx.clock.now();
    let id = Uuid::new_v4();
    console_authenticator::Entity::delete_many()
        .filter(console_authenticator::Column::UserId.eq(user_id))
        .exec(&ctx.db)
        .await?;
    console_authenticator::Entity::insert(console_authenticator::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        secret_ciphertext: Set(seal(key, &owner(id), secret_base32)?),
        confirmed_at: Set(Some(now)),
        last_used_step: Set(0),
        last_used_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(())
}

/// Whether the stored session data `data` (JSON) belongs to `user_id`, signed in or half-way.
fn belongs_to(data: &str, user_id: Uuid) -> bool {
    let me = user_id.to_string();
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .map(|v| ["user_id", PENDING_USER_KEY].iter().any(|k| v.get(*k).and_then(|u| u.as_str()) == Some(me.as_str())))
        .unwrap_or(false)
}

/// The session data's key for a sign-in that has passed its password but not its second step.
pub const PENDING_USER_KEY: &str = "pending_user_id";

/// Ends every session of `user_id` except the one stored under `keep` (if any).
async fn end_sessions<C: ConnectionTrait>(conn: &C, user_id: Uuid, keep: Option<&str>) -> DomainResult<u64> {
    let mut q = session::Entity::find().filter(session::Column::Data.contains(user_id.to_string()));
    if let Some(keep) = keep {
        q = q.filter(session::Column::Id.ne(keep));
    }
    let ids: Vec<String> =
        q.all(conn).await?.into_iter().filter(|s| belongs_to(&s.data, user_id)).map(|s| s.id).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(session::Entity::delete_many().filter(session::Column::Id.is_in(ids)).exec(conn).await?.rows_affected)
}

/// Voids the reset links `user_id` has not used: a password change makes them pointless.
async fn void_resets<C: ConnectionTrait>(conn: &C, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_reset::Column::UserId.eq(user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

fn check_new(field: &'static str, new: &str) -> DomainResult<()> {
    password::check_new_password(new).map_err(|m| DomainError::validation(field, m))
}

async fn hash(new: &str) -> DomainResult<String> {
    let pw = new.to_owned();
    tokio::task::spawn_blocking(move || password::hash_password(&pw))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))
}

/// The caller changes their own password: `current` must be right (wrong ones count like wrong
/// sign-ins, so a borrowed session cannot guess it), `new` follows the password rule and
/// differs. Every other session of theirs ends (`keep` is this one's id), unused reset links
/// stop working, and the change is audited and mailed. Returns how many sessions ended.
pub async fn change_password(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    current: &str,
    new: &str,
    keep: &str,
) -> DomainResult<u64> {
    if current.is_empty() {
        return Err(DomainError::validation("current_password", "is required"));
    }
    if current.len() > MAX_PASSWORD_LEN {
        return Err(DomainError::validation("current_password", "is not your current password"));
    }
    check_new("new_password", new)?;
    if new == current {
        return Err(DomainError::validation("new_password", "must differ from your current password"));
    }
    let now = ctx.clock.now();
    let me = user::Entity::find_by_id(caller.user_id).one(&ctx.db).await?.ok_or(DomainError::Unauthenticated)?;
    let name = Counter::Name(&me.email);
    let attempt = match lockout::count_attempt(ctx, name, now).await? {
        Gate::Locked { until } => {
            return Err(DomainError::Locked { retry_after_secs: (until - now).num_seconds().max(1) })
        }
        Gate::Open { attempt } => attempt,
    };
    let Ok(permit) = ctx.password_checks.clone().try_acquire_owned() else {
        return Err(DomainError::Busy("too many password checks at once; try again in a few seconds".into()));
    };
    let (candidate, stored) = (current.to_owned(), me.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password::verify_password(&candidate, &stored)
    })
    .await
    .map_err(|e| DomainError::Internal(e.to_string()))?;
    if !ok {
        tokio::time::sleep(ctx.lockout.delay(attempt)).await;
        if attempt >= ctx.lockout.lock_after {
            return Err(DomainError::Locked { retry_after_secs: ctx.lockout.lock_for.num_seconds().max(1) });
        }
        return Err(DomainError::validation("current_password", "is not your current password"));
    }
    lockout::clear(ctx, name).await?;
    let new_hash = hash(new).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[me.id]).await?;
    // Only if the password is still the one just checked: two changes at once, one wins.
    let changed = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
        .filter(user::Column::Id.eq(me.id))
        .filter(user::Column::PasswordHash.eq(me.password_hash.clone()))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(DomainError::Conflict("Your password was changed meanwhile. Sign in again.".into()));
    }
    void_resets(&txn, me.id, now).await?;
    let ended = end_sessions(&txn, me.id, Some(keep)).await?;
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: me.tenant_id,
            action: AuditAction::ConsolePasswordChanged,
            target: me.email.clone(),
            detail: format!("{ended} other session{} signed out", if ended == 1 { "" } else { "s" }),
        },
    )
    .await?;
    let by = format!("you, signed in from {}", actor.source_ip);
    outbox::enqueue(&txn, now, password_changed_message(ctx, &me, &by, now)).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(ended)
}

/// Someone asks for a link to reset the password of `email`. The answer is the same whether or
/// not an active account has that address (an `Ok`, or the same rate limit, which counts
/// requests rather than accounts); only an active account's address gets a link, valid for
/// [`RESET_VALID_MINUTES`] and once. A newer link voids the older ones.
pub async fn request_reset(ctx: &Ctx, email: &str, source_ip: &str) -> DomainResult<()> {
    if email.len() > MAX_EMAIL_LEN {
        return Err(DomainError::validation("email", format!("must be at most {MAX_EMAIL_LEN} characters")));
    }
    let email = normalize_email(email);
    if email.is_empty() {
        return Err(DomainError::validation("email", "is required"));
    }
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(DomainError::validation("email", "must be an email address such as name@example.com"));
    }
    let source = source_block(source_ip);
    let now = ctx.clock.now();
    let since = now - Duration::minutes(RESET_WINDOW_MINUTES);
    let txn = crate::db::write_txn(&ctx.db).await?;
    // One request at a time per address and per source, so parallel ones cannot all pass the count.
    crate::db::lock_key(&txn, &format!("password reset {email}")).await?;
    crate::db::lock_key(&txn, &format!("password reset from {source}")).await?;
    password_reset::Entity::delete_many()
        .filter(password_reset::Column::CreatedAt.lt(now - Duration::days(7)))
        .exec(&txn)
        .await?;
    let from_source = password_reset::Entity::find()
        .filter(password_reset::Column::SourceIp.eq(&source))
        .filter(password_reset::Column::CreatedAt.gt(since))
        .count(&txn)
        .await?;
    if from_source >= RESETS_PER_SOURCE {
        return Err(DomainError::RateLimited(
            "Too many password resets were asked for from your address. Try again in an hour.".into(),
        ));
    }
    let for_address = password_reset::Entity::find()
        .filter(password_reset::Column::Email.eq(&email))
        .filter(password_reset::Column::CreatedAt.gt(since))
        .count(&txn)
        .await?;
    if for_address >= RESETS_PER_ADDRESS {
        return Err(DomainError::RateLimited(format!(
            "A reset link was asked for this address {RESETS_PER_ADDRESS} times in the last hour. Use the newest \
             link you received, or try again in an hour."
        )));
    }
    let person = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .filter(|u| crate::users::state_of(u) == UserState::Active);
    let expires_at = now + Duration::minutes(RESET_VALID_MINUTES);
    let token = match &person {
        Some(p) => {
            void_resets(&txn, p.id, now).await?;
            Some(tokens::new_token())
        }
        None => None,
    };
    password_reset::Entity::insert(password_reset::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(person.as_ref().map(|p| p.id)),
        email: Set(email.clone()),
        source_ip: Set(source),
        token_hash: Set(token.as_ref().map(|(_, h)| h.clone())),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    if let (Some(p), Some((token, _))) = (&person, token) {
        let link = format!("{}/reset-password?token={token}", ctx.public_url.trim_end_matches('/'));
        let m = reset_message(p, &link, source_ip, expires_at);
        outbox::enqueue(&txn, now, NewMessage { secrets: vec![token], ..m }).await?;
        audit::record(
            &txn,
            now,
            &Actor::new(email.clone(), source_ip),
            Entry {
                tenant_id: p.tenant_id,
                action: AuditAction::ConsolePasswordResetRequested,
                target: email.clone(),
                detail: format!("link mailed, valid until {}", expires_at.format("%Y-%m-%d %H:%M UTC")),
            },
        )
        .await?;
    }
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(())
}

/// The one answer for a reset link that cannot be used, whatever the reason.
fn link_unusable() -> DomainError {
    DomainError::Conflict(
        "This link cannot be used: it has expired (links work for an hour), was used already, or a newer one was \
         sent. Ask for a new link on the sign-in page."
            .into(),
    )
}

/// Sets a new password with a reset link's `token`. The link works once; every session of the
/// person ends, their sign-in name's failed attempts are forgotten, and the change is audited
/// and mailed. A second factor is still asked at the next sign-in, so a mailbox alone is not
/// enough to get in. Returns the sign-in name.
pub async fn reset_password(ctx: &Ctx, token: &str, new: &str, source_ip: &str) -> DomainResult<String> {
    let token = token.trim();
    if token.is_empty() || token.len() > 100 {
        return Err(link_unusable());
    }
    check_new("password", new)?;
    let now = ctx.clock.now();
    let hashed = tokens::hash_token(token);
    let found = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(&hashed))
        .one(&ctx.db)
        .await?
        .ok_or_else(link_unusable)?;
    if found.used_at.is_some() || now >= found.expires_at {
        return Err(link_unusable());
    }
    let user_id = found.user_id.ok_or_else(link_unusable)?;
    let new_hash = hash(new).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::db::lock_rows::<user::Entity>(&txn, &[user_id]).await?;
    // Spent here and only once: of two uses at once, one updates the row.
    let spent = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
        .filter(password_reset::Column::Id.eq(found.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    let person = user::Entity::find_by_id(user_id).one(&txn).await?;
    let person = match person {
        Some(p) if spent == 1 && crate::users::state_of(&p) == UserState::Active => p,
        _ => return Err(link_unusable()),
    };
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    void_resets(&txn, user_id, now).await?;
    let ended = end_sessions(&txn, user_id, None).await?;
    audit::record(
        &txn,
        now,
        &Actor::new(person.email.clone(), source_ip),
        Entry {
            tenant_id: person.tenant_id,
            action: AuditAction::ConsolePasswordReset,
            target: person.email.clone(),
            detail: format!(
                "password set with a reset link; {ended} session{} signed out",
                if ended == 1 { "" } else { "s" }
            ),
        },
    )
    .await?;
    let by = format!("someone with the reset link mailed to you, from {source_ip}");
    outbox::enqueue(&txn, now, password_changed_message(ctx, &person, &by, now)).await?;
    txn.commit().await?;
    lockout::clear(ctx, Counter::Name(&person.email)).await?;
    ctx.outbox_signal.notify_one();
    Ok(person.email)
}

/// The mail with a reset link.
fn reset_message(person: &user::Model, link: &str, source_ip: &str, expires_at: DateTime<Utc>) -> NewMessage {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let subject = "Reset your HostGuard password".to_owned();
    let what =
        format!("Someone (from {source_ip}) asked to reset the password of your HostGuard account {}.", person.email);
    let act = format!("To choose a new password, open this link. It works once, until {until}:");
    let ignore = "If you did not ask for this, ignore this message: your password stays as it is.";
    let body_text = format!("{what}\n\n{act}\n{link}\n\n{ignore}\n");
    let body_html = html_page(
        &subject,
        &[
            escape_html(&what),
            format!("{} <a href=\"{1}\">{1}</a>", escape_html(&act), escape_html(link)),
            escape_html(ignore),
        ],
        "You receive this because a password reset was asked for on the HostGuard sign-in page.",
    );
    NewMessage {
        tenant_id: person.tenant_id,
        channel: Channel::Email,
        kind: MessageKind::PasswordReset,
        recipient: person.email.clone(),
        sender_name: "HostGuard".into(),
        subject,
        body_text,
        body_html,
        secrets: vec![],
    }
}

/// The mail that tells a tenant admin or operator their console sign-in changed (`what`, a
/// sentence), and what to do if it was not them.
fn security_message(ctx: &Ctx, person: &user::Model, what: &str, by: &str, at: DateTime<Utc>) -> NewMessage {
    let facts = format!("{what}.\n\nWhen: {}\nBy: {by}\nAccount: {}", at.format("%Y-%m-%d %H:%M UTC"), person.email);
    let account = format!("{}/account/security", ctx.public_url.trim_end_matches('/'));
    let report = format!(
        "If this wasn't you, someone may know your password: reset it from the sign-in page at once, and check \
         {account}."
    );
    let footer = "You receive this for every change of how you sign in to the console; it cannot be turned off.";
    account_mail(
        person,
        MessageKind::ConsoleSignInChanged,
        "Your HostGuard console sign-in changed",
        &facts,
        &report,
        footer,
    )
}

/// The mail that tells someone their password changed, and what to do if it was not them.
fn password_changed_message(ctx: &Ctx, person: &user::Model, by: &str, at: DateTime<Utc>) -> NewMessage {
    let what = format!(
        "The password of your HostGuard account {} was changed.\n\nWhen: {}\nBy: {by}",
        person.email,
        at.format("%Y-%m-%d %H:%M UTC")
    );
    let signin = format!("{}/signin", ctx.public_url.trim_end_matches('/'));
    let report = format!(
        "Your other sessions were signed out. If this wasn't you, reset your password at once from {signin} \
         (\"Forgot your password?\") and tell your administrator."
    );
    let footer = "You receive this for every change of your password; it cannot be turned off.";
    account_mail(person, MessageKind::PasswordChanged, "Your HostGuard password was changed", &what, &report, footer)
}

/// A mail about a change to `person`'s own sign-in: the `facts` (lines), then in bold what to
/// do if it was not them.
fn account_mail(
    person: &user::Model,
    kind: MessageKind,
    subject: &str,
    facts: &str,
    report: &str,
    footer: &str,
) -> NewMessage {
    let body_html = html_page(
        subject,
        &[
            facts.split('\n').filter(|l| !l.is_empty()).map(escape_html).collect::<Vec<_>>().join("<br>"),
            format!("<b>{}</b>", escape_html(report)),
        ],
        footer,
    );
    NewMessage {
        tenant_id: person.tenant_id,
        channel: Channel::Email,
        kind,
        recipient: person.email.clone(),
        sender_name: "HostGuard".into(),
        subject: subject.to_owned(),
        body_text: format!("{facts}\n\n{report}\n"),
        body_html,
        secrets: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_its_user_signed_in_or_half_way() {
        let me = Uuid::new_v4();
        assert!(belongs_to(&format!(r#"{{"user_id":"{me}","signed_in_at":1}}"#), me));
        assert!(belongs_to(&format!(r#"{{"pending_user_id":"{me}"}}"#), me));
        assert!(!belongs_to(&format!(r#"{{"user_id":"{}","note":"{me}"}}"#, Uuid::new_v4()), me));
        assert!(!belongs_to("not json", me));
    }

    #[test]
    fn a_mailed_code_dies_when_it_expires_or_after_its_wrong_tries() {
        let now = Utc::now();
        let m = MailedCode {
            hash: String::new(),
            expires_at: now + Duration::minutes(15),
            wrong: 0,
            sent_to: String::new(),
        };
        assert!(mailed_unusable(Some(&m), now).is_none());
        assert!(mailed_unusable(Some(&m), now + Duration::minutes(15)).is_some());
        assert!(mailed_unusable(Some(&MailedCode { wrong: ENROL_MAIL_TRIES, ..m.clone() }), now).is_some());
        assert!(mailed_unusable(None, now).is_some());
    }
}
