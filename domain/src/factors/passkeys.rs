//! Passkeys (WebAuthn, checked by kanidm's webauthn-rs): an end user registers them on the
//! portal like any factor (a fresh step-up), or as a first one on an invitation's own pages
//! (audited and mailed), and uses one to sign in to the portal, to step up before a factor change, and to
//! approve a push request from any browser. Every assertion needs user verification, so a
//! passkey is a factor on its own.
//!
//! Each ceremony's state (its challenge) stays on the server in `passkey_ceremonies`, bound to
//! its purpose, its user and, for an approval, to the request, the number and the decision; the
//! call that finishes a ceremony deletes it first, so a challenge is answered once, and only
//! within [`CEREMONY_VALID_SECS`]. The relying party is the console's public URL.

use super::{
    clean_name, end_user,
    guard::{self, SessionRef},
    lock_user, Changed, ChangedBy,
};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    caller::Caller,
    ctx::Ctx,
    entities::{
        passkey,
        passkey_ceremony::{self, Purpose},
        push_request, user,
    },
    error::{DomainError, DomainResult},
    lockout::{self, Counter, Gate},
    push,
    users::UserState,
};
use chrono::{DateTime, Duration, Utc};
use proto::push::{PushDecision, PushStatus};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey as Credential, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

/// How long a challenge may be answered.
pub const CEREMONY_VALID_SECS: i64 = 120;
/// Passkeys one person may have.
pub const MAX_PER_USER: u64 = 10;
pub const NAME_MAX: usize = 64;
/// What the browser may send back (an attestation or assertion, JSON).
const RESPONSE_MAX_BYTES: usize = 16 * 1024;
const PRODUCT: &str = "HostGuard";

/// A passkey as its owner sees it (never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passkey {
    pub id: Uuid,
    pub name: String,
    pub added_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<passkey::Model> for Passkey {
    fn from(m: passkey::Model) -> Self {
        Self { id: m.id, name: m.name, added_at: m.created_at, last_used_at: m.last_used_at }
    }
}

/// A ceremony started: its id, and the options for `navigator.credentials.create` or `.get`
/// (webauthn-rs's JSON: binary fields in base64url).
#[derive(Clone, Debug)]
pub struct Challenge {
    pub ceremony_id: Uuid,
    pub options: Value,
}

/// The relying party for `public_url`: its host is the RP id and its origin the one origin
/// allowed. Browsers refuse an IP address as an RP id, so a console reached on a loopback
/// address (development, tests) is the relying party `localhost` on the same port.
pub fn relying_party(public_url: &str) -> DomainResult<Webauthn> {
    let bad = |why: String| DomainError::Internal(format!("passkeys need a usable public URL: {why}"));
    let mut origin = passkey_origin(public_url).map_err(|e| bad(e.to_string()))?;
    let rp_id = origin.host_str().ok_or_else(|| bad("no host".into()))?.to_owned();
    origin.set_path("");
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(PRODUCT).timeout(std::time::Duration::from_secs(CEREMONY_VALID_SECS as u64)).build())
        .map_err(|e| bad(e.to_string()))
}

/// The console's public URL as passkeys see it: a loopback address becomes `localhost`.
pub fn passkey_origin(public_url: &str) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(public_url)?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if loopback {
        url.set_host(Some("localhost"))?;
    }
    Ok(url)
}

fn internal(what: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("{what}: {e}"))
}

fn ceremony_gone() -> DomainError {
    DomainError::Conflict(format!(
        "This passkey request has expired or was already used (each works once, for {CEREMONY_VALID_SECS} seconds). \
         Try again."
    ))
}

fn refused() -> DomainError {
    DomainError::validation("credential", "is not a valid answer from one of your passkeys to this request")
}

/// Reads what the browser sent: `T` as JSON, within [`RESPONSE_MAX_BYTES`].
fn parse_response<T: serde::de::DeserializeOwned>(json: &str) -> DomainResult<T> {
    if json.len() > RESPONSE_MAX_BYTES {
        return Err(DomainError::validation("credential", format!("must be at most {RESPONSE_MAX_BYTES} bytes")));
    }
    serde_json::from_str(json)
        .map_err(|_| DomainError::validation("credential", "must be the browser's WebAuthn answer, as JSON"))
}

fn credential_of(row: &passkey::Model) -> DomainResult<Credential> {
    serde_json::from_str(&row.credential).map_err(|e| internal("a stored passkey does not read", e))
}

/// Saves a new ceremony and returns its id.
#[allow(clippy::too_many_arguments)]
async fn open_ceremony<C: ConnectionTrait>(
    conn: &C,
    purpose: Purpose,
    owner: Option<(Uuid, Uuid)>,
    session: Option<SessionRef>,
    name: Option<String>,
    approval: Option<(Uuid, u16, PushDecision)>,
    state: String,
    now: DateTime<Utc>,
) -> DomainResult<Uuid> {
    // Ceremonies nobody finished are of no use to anyone.
    passkey_ceremony::Entity::delete_many()
        .filter(passkey_ceremony::Column::ExpiresAt.lt(now - Duration::hours(1)))
        .exec(conn)
        .await?;
    let id = Uuid::new_v4();
    passkey_ceremony::Entity::insert(passkey_ceremony::ActiveModel {
        id: Set(id),
        purpose: Set(purpose),
        tenant_id: Set(owner.map(|o| o.1)),
        user_id: Set(owner.map(|o| o.0)),
        session_ref: Set(session.map(|s| s.0)),
        name: Set(name),
        request_id: Set(approval.map(|a| a.0)),
        number: Set(approval.map(|a| i32::from(a.1))),
        decision: Set(approval.map(|a| a.2)),
        state: Set(state),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(CEREMONY_VALID_SECS)),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Takes ceremony `id` for `purpose` (and `user_id`, when it has one): deleted at once, in its
/// own statement, so it is used up even if the answer then fails. Another user's, another
/// purpose's, an expired or a used one is "gone".
async fn take_ceremony(
    ctx: &Ctx,
    id: Uuid,
    purpose: Purpose,
    user_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<passkey_ceremony::Model> {
    let found = passkey_ceremony::Entity::find_by_id(id)
        .filter(passkey_ceremony::Column::Purpose.eq(purpose))
        .one(&ctx.db)
        .await?
        .filter(|c| c.user_id == user_id)
        .ok_or_else(ceremony_gone)?;
    let taken =
        passkey_ceremony::Entity::delete_many().filter(passkey_ceremony::Column::Id.eq(id)).exec(&ctx.db).await?;
    if taken.rows_affected != 1 || found.expires_at <= now {
        return Err(ceremony_gone());
    }
    Ok(found)
}

async fn rows_of<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<Vec<passkey::Model>> {
    Ok(passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .order_by_asc(passkey::Column::Id)
        .all(conn)
        .await?)
}

/// How many passkeys `user_id` has (each is a factor that lasts).
pub(crate) async fn count<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<u64> {
    Ok(passkey::Entity::find().filter(passkey::Column::UserId.eq(user_id)).count(conn).await?)
}

/// The caller's passkeys, oldest first.
pub async fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Passkey>> {
    let (user_id, _) = end_user(caller)?;
    Ok(rows_of(&ctx.db, user_id).await?.into_iter().map(Passkey::from).collect())
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Starts registering a passkey named `name` for the caller. Needs what any change of factors
/// needs (see [`guard`]): a fresh step-up in `session`, or for a first factor the invitation's
/// own pages. The options ask for a discoverable credential (so it can sign in without an
/// email) with user verification, and exclude the caller's passkeys.
pub async fn register_begin(ctx: &Ctx, caller: &Caller, session: SessionRef, name: &str) -> DomainResult<Challenge> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = clean_name("name", name, NAME_MAX, "Passkey")?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    guard::permit(&txn, user_id, session, now).await?;
    let existing = rows_of(&txn, user_id).await?;
    if existing.len() as u64 >= MAX_PER_USER {
        return Err(too_many());
    }
    let exclude = existing.iter().map(|p| p.credential_id.clone()).collect::<Vec<_>>();
    let (options, state) = rp
        .start_passkey_registration(user_id, &caller.email, &caller.email, Some(exclude))
        .map_err(|e| internal("starting a passkey registration", e))?;
    let mut options = serde_json::to_value(&options).map_err(|e| internal("registration options", e))?;
    if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    let state = serde_json::to_string(&state).map_err(|e| internal("registration state", e))?;
    let id =
        open_ceremony(&txn, Purpose::Register, Some((user_id, tenant_id)), Some(session), Some(name), None, state, now)
            .await?;
    txn.commit().await?;
    Ok(Challenge { ceremony_id: id, options })
}

fn too_many() -> DomainError {
    DomainError::Conflict(format!(
        "You already have {MAX_PER_USER} passkeys, the most allowed. Remove one you no longer use, then add the new one."
    ))
}

/// Finishes registering: `response` is the browser's answer (`RegisterPublicKeyCredential`
/// JSON) to ceremony `ceremony_id`. Audited and mailed; a first factor uses up its invitation.
pub async fn register_finish(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    ceremony_id: Uuid,
    response: &str,
) -> DomainResult<Passkey> {
    let (user_id, tenant_id) = end_user(caller)?;
    let response: RegisterPublicKeyCredential = parse_response(response)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let ceremony = take_ceremony(ctx, ceremony_id, Purpose::Register, Some(user_id), now).await?;
    if ceremony.session_ref != Some(session.0) {
        return Err(ceremony_gone());
    }
    let state: PasskeyRegistration =
        serde_json::from_str(&ceremony.state).map_err(|e| internal("a stored registration does not read", e))?;
    let credential = rp.finish_passkey_registration(&response, &state).map_err(|e| {
        tracing::info!(error = %e, "a passkey registration was refused");
        refused()
    })?;
    let credential_id = credential.cred_id().to_vec();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let permit = guard::permit(&txn, user_id, session, now).await?;
    if count(&txn, user_id).await? >= MAX_PER_USER {
        return Err(too_many());
    }
    let taken =
        passkey::Entity::find().filter(passkey::Column::CredentialId.eq(credential_id.clone())).count(&txn).await?;
    if taken > 0 {
        return Err(DomainError::Conflict("This passkey is registered already.".into()));
    }
    let row = passkey::Model {
        id: Uuid::new_v4(),
        tenant_id,
        user_id,
        name: ceremony.name.unwrap_or_else(|| "Passkey".into()),
        credential_id,
        credential: serde_json::to_string(&credential).map_err(|e| internal("a passkey", e))?,
        created_at: now,
        last_used_at: None,
    };
    let inserted = passkey::Entity::insert(passkey::ActiveModel::from(row.clone())).exec_without_returning(&txn).await;
    match inserted {
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(DomainError::Conflict("This passkey is registered already.".into()))
        }
        other => other?,
    };
    audit::record(
        &txn,
        now,
        actor,
        Entry {
            tenant_id: Some(tenant_id),
            action: AuditAction::FactorPasskeyAdded,
            target: caller.email.clone(),
            detail: format!("passkey {:?}", row.name),
        },
    )
    .await?;
    guard::after_change(&txn, tenant_id, user_id, session, permit, actor, now).await?;
    let what = format!("The passkey \"{}\" was added", row.name);
    guard::tell(ctx, &txn, tenant_id, &caller.email, what, guard::by_the_user(actor), now).await?;
    txn.commit().await?;
    ctx.outbox_signal.notify_one();
    Ok(row.into())
}

async fn own_row<C: ConnectionTrait>(conn: &C, user_id: Uuid, id: Uuid) -> DomainResult<passkey::Model> {
    passkey::Entity::find_by_id(id)
        .filter(passkey::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .ok_or(DomainError::NotFound("passkey"))
}

/// Renames one of the caller's passkeys. Needs a fresh step-up in `session`; audited and mailed.
pub async fn rename(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    session: SessionRef,
    id: Uuid,
    name: &str,
) -> DomainResult<String> {
    let (user_id, tenant_id) = end_user(caller)?;
    let name = clean_name("name", name, NAME_MAX, "")?;
    if name.is_empty() {
        return Err(DomainError::validation("name", "is required"));
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let found = own_row(&txn, user_id, id).await?;
    guard::require_step_up(&txn, user_id, session, now).await?;
    if found.name == name {
        return Ok(name);
    }
    passkey::Entity::update_many()
        .col_expr(passkey::Column::Name, Expr::value(name.clone()))
        .filter(passkey::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let change = Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::FactorRenamed,
        detail: format!("passkey {:?} renamed {name:?}", found.name),
        told: Some(format!("The passkey \"{}\" was renamed \"{name}\"", found.name)),
    };
    super::changed(ctx, txn, actor, change, ChangedBy::Person, now).await?;
    Ok(name)
}

/// Removes one of the caller's passkeys. Needs a fresh step-up in `session`; audited and
/// mailed. The last factor that lasts (passkey, authenticator app or phone) stays.
pub async fn remove(ctx: &Ctx, caller: &Caller, actor: &Actor, session: SessionRef, id: Uuid) -> DomainResult<()> {
    let (user_id, tenant_id) = end_user(caller)?;
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    let found = own_row(&txn, user_id, id).await?;
    guard::permit(&txn, user_id, session, now).await?;
    if super::reusable_factors(&txn, user_id).await? <= 1 {
        return Err(super::last_factor(&found.name));
    }
    passkey::Entity::delete_by_id(found.id).exec(&txn).await?;
    let change = Changed {
        tenant_id,
        person: &caller.email,
        action: AuditAction::FactorPasskeyRemoved,
        detail: format!("passkey {:?}", found.name),
        told: Some(format!("The passkey \"{}\" was removed", found.name)),
    };
    super::changed(ctx, txn, actor, change, ChangedBy::Person, now).await
}

/// Starts an assertion: discoverable (any passkey of this site, for signing in) or limited to
/// `user_id`'s passkeys. The browser asks for it when the person presses a button, so not in
/// conditional (autofill) mediation.
async fn assertion_options<C: ConnectionTrait>(
    conn: &C,
    rp: &Webauthn,
    user_id: Option<Uuid>,
) -> DomainResult<(Value, String)> {
    let (options, state) =
        rp.start_discoverable_authentication().map_err(|e| internal("starting a passkey assertion", e))?;
    let mut options = serde_json::to_value(&options).map_err(|e| internal("assertion options", e))?;
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    if let Some(user_id) = user_id {
        let rows = rows_of(conn, user_id).await?;
        if rows.is_empty() {
            return Err(DomainError::Conflict("You have no passkey yet: add one on the Security info page.".into()));
        }
        let allow: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::json!({ "type": "public-key", "id": base64url(&r.credential_id) }))
            .collect();
        if let Some(pk) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
            pk.insert("allowCredentials".into(), Value::Array(allow));
        }
    }
    let state = serde_json::to_string(&state).map_err(|e| internal("assertion state", e))?;
    Ok((options, state))
}

/// Checks `response` against the ceremony's `state` with the passkey it names, as stored now
/// (so a signature counter that went back is refused even if another assertion moved it since
/// the ceremony began), and saves the passkey's new counter. With `owner`, the passkey must be
/// theirs; the user handle, when the authenticator gives one, must name the passkey's owner.
/// Lock the passkey's row first where two assertions could race: the caller's transaction.
async fn verify_assertion<C: ConnectionTrait>(
    conn: &C,
    rp: &Webauthn,
    state: &str,
    response: &PublicKeyCredential,
    owner: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<passkey::Model> {
    let state: DiscoverableAuthentication =
        serde_json::from_str(state).map_err(|e| internal("a stored assertion does not read", e))?;
    let row = passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(response.get_credential_id().to_vec()))
        .one(conn)
        .await?
        .ok_or_else(refused)?;
    crate::db::lock_rows::<passkey::Entity>(conn, &[row.id]).await?;
    let row = passkey::Entity::find_by_id(row.id).one(conn).await?.ok_or_else(refused)?;
    if owner.is_some_and(|o| o != row.user_id) {
        return Err(refused());
    }
    if let Some(handle) = response.get_user_unique_id() {
        if Uuid::from_slice(handle).ok() != Some(row.user_id) {
            return Err(refused());
        }
    }
    let mut credential = credential_of(&row)?;
    let result = rp.finish_discoverable_authentication_v2(response, state, &credential).map_err(|e| {
        tracing::info!(passkey = %row.id, error = %e, "a passkey assertion was refused");
        refused()
    })?;
    if !result.user_verified() {
        return Err(refused());
    }
    credential.update_credential(&result);
    let saved = serde_json::to_string(&credential).map_err(|e| internal("a passkey", e))?;
    passkey::Entity::update_many()
        .col_expr(passkey::Column::Credential, Expr::value(saved.clone()))
        .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(passkey::Column::Id.eq(row.id))
        .exec(conn)
        .await?;
    Ok(passkey::Model { credential: saved, last_used_at: Some(now), ..row })
}

/// Starts signing in with a passkey: no email needed, the authenticator names its user.
///
/// Each start counts against `source_ip`'s limit of failed sign-ins (the one wrong passwords
/// count against, [`crate::lockout`]) until a passkey answers it, so one address can neither
/// open ceremonies nor try assertions without end; past the limit it is refused until the
/// address's lock ends.
pub async fn sign_in_begin(ctx: &Ctx, source_ip: &str) -> DomainResult<Challenge> {
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let block = crate::accounts::source_block(source_ip);
    if let Gate::Locked { until } = lockout::count_attempt(ctx, Counter::Source(&block), now).await? {
        let minutes = ((until - now).num_seconds().max(1) + 59) / 60;
        return Err(DomainError::RateLimited(format!(
            "Too many sign-ins were started from your address without finishing. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    let (options, state) = assertion_options(&ctx.db, &rp, None).await?;
    let id = open_ceremony(&ctx.db, Purpose::SignIn, None, None, None, None, state, now).await?;
    Ok(Challenge { ceremony_id: id, options })
}

/// Finishes signing in with a passkey: the person whose passkey answered, if their account is
/// active. A passkey is verified by the person (PIN or biometrics) on their own device, so this
/// sign-in counts as two factors.
/// A sign-in finished gives its start back to `source_ip`'s count.
pub async fn sign_in_finish(
    ctx: &Ctx,
    ceremony_id: Uuid,
    response: &str,
    source_ip: &str,
) -> DomainResult<user::Model> {
    let response: PublicKeyCredential = parse_response(response)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let ceremony = take_ceremony(ctx, ceremony_id, Purpose::SignIn, None, now).await?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    let row = verify_assertion(&txn, &rp, &ceremony.state, &response, None, now).await?;
    let person = user::Entity::find_by_id(row.user_id).one(&txn).await?.ok_or_else(refused)?;
    match crate::users::state_of(&person) {
        UserState::Locked => {
            return Err(DomainError::Conflict("This account is locked. Ask your administrator to unlock it.".into()))
        }
        UserState::Invited => {
            return Err(DomainError::Conflict(
                "This account is not active yet: finish your invitation from its link.".into(),
            ))
        }
        UserState::Active => {}
    }
    txn.commit().await?;
    lockout::take_back(ctx, Counter::Source(&crate::accounts::source_block(source_ip))).await?;
    crate::accounts::signed_in(ctx, person.id).await?;
    Ok(person)
}

/// Starts a step-up with one of the caller's passkeys (instead of a code).
pub async fn step_up_begin(ctx: &Ctx, caller: &Caller, session: SessionRef) -> DomainResult<Challenge> {
    let (user_id, tenant_id) = end_user(caller)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let (options, state) = assertion_options(&ctx.db, &rp, Some(user_id)).await?;
    let id = open_ceremony(&ctx.db, Purpose::StepUp, Some((user_id, tenant_id)), Some(session), None, None, state, now)
        .await?;
    Ok(Challenge { ceremony_id: id, options })
}

/// Finishes a step-up with a passkey: `session` may change the caller's factors for
/// [`guard::STEP_UP_VALID_MINUTES`]. Returns until when.
pub async fn step_up_finish(
    ctx: &Ctx,
    caller: &Caller,
    session: SessionRef,
    ceremony_id: Uuid,
    response: &str,
) -> DomainResult<DateTime<Utc>> {
    let (user_id, tenant_id) = end_user(caller)?;
    let response: PublicKeyCredential = parse_response(response)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let ceremony = take_ceremony(ctx, ceremony_id, Purpose::StepUp, Some(user_id), now).await?;
    if ceremony.session_ref != Some(session.0) {
        return Err(ceremony_gone());
    }
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_user(&txn, user_id).await?;
    verify_assertion(&txn, &rp, &ceremony.state, &response, Some(user_id), now).await?;
    guard::record(&txn, tenant_id, user_id, Some(session), now).await?;
    txn.commit().await?;
    Ok(now + Duration::minutes(guard::STEP_UP_VALID_MINUTES))
}

/// Starts deciding push request `request_id` with a passkey: the challenge is bound to the
/// request, the typed `number` and the `decision`, and only an assertion to it decides, with
/// exactly those. The number is checked when the answer comes, as with a device's signature.
pub async fn approve_begin(
    ctx: &Ctx,
    caller: &Caller,
    request_id: Uuid,
    number: u16,
    decision: PushDecision,
) -> DomainResult<Challenge> {
    let (user_id, tenant_id) = end_user(caller)?;
    push::decide::check_number(number, decision)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let request = push_request::Entity::find_by_id(request_id)
        .filter(push_request::Column::TenantId.eq(tenant_id))
        .filter(push_request::Column::UserId.eq(user_id))
        .one(&ctx.db)
        .await?
        .ok_or(DomainError::NotFound("push request"))?;
    if request.status != PushStatus::Pending || request.expires_at <= now {
        return Err(DomainError::Conflict("This request is no longer waiting: nothing to decide.".into()));
    }
    let (options, state) = assertion_options(&ctx.db, &rp, Some(user_id)).await?;
    let id = open_ceremony(
        &ctx.db,
        Purpose::Approve,
        Some((user_id, tenant_id)),
        None,
        None,
        Some((request_id, number, decision)),
        state,
        now,
    )
    .await?;
    Ok(Challenge { ceremony_id: id, options })
}

/// Finishes deciding with a passkey: the assertion must answer ceremony `ceremony_id` (the
/// caller's, for one request, number and decision) with one of the caller's passkeys; then the
/// decision is made as [`push::decide`] makes a device's (wrong numbers counted, audited).
/// A refused assertion is audited like a refused device signature.
pub async fn approve_finish(
    ctx: &Ctx,
    caller: &Caller,
    actor: &Actor,
    ceremony_id: Uuid,
    response: &str,
) -> DomainResult<push::Outcome> {
    let (user_id, tenant_id) = end_user(caller)?;
    let response: PublicKeyCredential = parse_response(response)?;
    let rp = relying_party(&ctx.public_url)?;
    let now = ctx.clock.now();
    let ceremony = take_ceremony(ctx, ceremony_id, Purpose::Approve, Some(user_id), now).await?;
    let (Some(request_id), Some(number), Some(decision)) = (ceremony.request_id, ceremony.number, ceremony.decision)
    else {
        return Err(ceremony_gone());
    };
    let number = u16::try_from(number).map_err(|_| ceremony_gone())?;
    let txn = crate::db::write_txn(&ctx.db).await?;
    let request = push::decide::lock_request(&txn, tenant_id, user_id, request_id).await?;
    let row = match verify_assertion(&txn, &rp, &ceremony.state, &response, Some(user_id), now).await {
        Ok(row) => row,
        Err(e @ DomainError::Invalid(_)) => {
            let how = "the passkey's answer does not verify".to_owned();
            push::decide::refused_signature(txn, caller, actor, &request, decision, how, now).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let approver = push::decide::Approver { id: row.id, label: format!("passkey {:?}", row.name) };
    push::decide::apply(ctx, txn, caller, actor, &request, &approver, number, decision, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_url_and_loopback_is_localhost() {
        let rp = relying_party("https://console.example.com").unwrap();
        assert_eq!(rp.get_allowed_origins()[0].as_str(), "https://console.example.com/");
        let local = relying_party("http://127.0.0.1:3201").unwrap();
        assert_eq!(local.get_allowed_origins()[0].as_str(), "http://localhost:3201/");
        assert!(relying_party("not a url").is_err());
    }
}
