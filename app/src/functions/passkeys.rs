//! Passkeys: registering them on the Security info page, signing in to the portal with one,
//! stepping up with one, and approving a push request with one. Each ceremony is two calls:
//! `begin` returns the options for `navigator.credentials.create` / `.get` (JSON, binary fields
//! in base64url) and a ceremony id; `finish` takes the browser's answer (JSON) for that id. The
//! rules are `domain::factors::passkeys`'s.

use crate::models::{AppError, DecisionResult, PushDecision, SteppedUp};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A passkey as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub name: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A ceremony started: its id and the WebAuthn options, as JSON text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyChallenge {
    pub ceremony_id: Uuid,
    pub options: String,
}

/// Where the browser goes after a passkey sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub next: String,
}

/// The session key that says how this session signed in: `"passkey"` after a passkey sign-in,
/// which the person verified on their own device, so it is a second factor too.
pub const SIGNED_IN_WITH: &str = "signed_in_with";

#[cfg(feature = "ssr")]
mod ssr {
    use super::{PasskeyChallenge, PasskeyRow};
    use crate::models::AppError;

    pub fn row(p: domain::factors::passkeys::Passkey) -> PasskeyRow {
        PasskeyRow { id: p.id, name: p.name, added: p.added_at, last_used: p.last_used_at }
    }

    pub fn challenge(c: domain::factors::passkeys::Challenge) -> PasskeyChallenge {
        PasskeyChallenge { ceremony_id: c.ceremony_id, options: c.options.to_string() }
    }

    pub fn ceremony(id: &str) -> Result<uuid::Uuid, AppError> {
        super::super::ssr::parse_id(id, "passkey request")
    }
}

/// The caller's passkeys.
#[server(prefix = "/api", endpoint = "portal/passkeys")]
pub async fn my_passkeys() -> Result<Vec<PasskeyRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    Ok(domain::factors::passkeys::list(&ctx, &caller).await?.into_iter().map(ssr::row).collect())
}

/// Starts adding a passkey. Needs a fresh step-up in this session (or an open invitation for a
/// first sign-in method).
#[server(prefix = "/api", endpoint = "portal/passkeys/register/begin")]
pub async fn begin_passkey(name: String) -> Result<PasskeyChallenge, AppError> {
    use super::portal::ssr::{caller, session_ref};
    let (ctx, caller) = caller().await?;
    let c = domain::factors::passkeys::register_begin(&ctx, &caller, session_ref().await?, &name).await?;
    Ok(ssr::challenge(c))
}

/// Finishes adding a passkey with the browser's answer (`credential`, JSON).
#[server(prefix = "/api", endpoint = "portal/passkeys/register/finish")]
pub async fn finish_passkey(ceremony_id: String, credential: String) -> Result<PasskeyRow, AppError> {
    use super::portal::ssr::{actor, caller, session_ref};
    let (ctx, caller) = caller().await?;
    let id = ssr::ceremony(&ceremony_id)?;
    let actor = actor(&caller).await;
    let p = domain::factors::passkeys::register_finish(&ctx, &caller, &actor, session_ref().await?, id, &credential)
        .await?;
    Ok(ssr::row(p))
}

#[server(prefix = "/api", endpoint = "portal/passkeys/rename")]
pub async fn rename_passkey(id: String, name: String) -> Result<String, AppError> {
    use super::portal::ssr::{actor, caller, parse_id, session_ref};
    let (ctx, caller) = caller().await?;
    let id = parse_id(&id, "passkey")?;
    let actor = actor(&caller).await;
    Ok(domain::factors::passkeys::rename(&ctx, &caller, &actor, session_ref().await?, id, &name).await?)
}

/// Removes a passkey. Needs a fresh step-up; the last sign-in method stays.
#[server(prefix = "/api", endpoint = "portal/passkeys/remove")]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use super::portal::ssr::{actor, caller, parse_id, session_ref};
    let (ctx, caller) = caller().await?;
    let id = parse_id(&id, "passkey")?;
    let actor = actor(&caller).await;
    domain::factors::passkeys::remove(&ctx, &caller, &actor, session_ref().await?, id).await?;
    Ok(())
}

/// Starts a step-up with a passkey (instead of a code).
#[server(prefix = "/api", endpoint = "portal/passkeys/step_up/begin")]
pub async fn begin_passkey_step_up() -> Result<PasskeyChallenge, AppError> {
    use super::portal::ssr::{caller, session_ref};
    let (ctx, caller) = caller().await?;
    Ok(ssr::challenge(domain::factors::passkeys::step_up_begin(&ctx, &caller, session_ref().await?).await?))
}

#[server(prefix = "/api", endpoint = "portal/passkeys/step_up/finish")]
pub async fn finish_passkey_step_up(ceremony_id: String, credential: String) -> Result<SteppedUp, AppError> {
    use super::portal::ssr::{caller, session_ref};
    let (ctx, caller) = caller().await?;
    let id = ssr::ceremony(&ceremony_id)?;
    let until =
        domain::factors::passkeys::step_up_finish(&ctx, &caller, session_ref().await?, id, &credential).await?;
    Ok(SteppedUp { until })
}

/// Starts signing in with a passkey (no email: the authenticator names its person).
#[server(prefix = "/api", endpoint = "auth/passkey/begin")]
pub async fn begin_passkey_sign_in() -> Result<PasskeyChallenge, AppError> {
    let ctx = super::ssr::ctx()?;
    let ip = super::ssr::source_ip().await;
    Ok(ssr::challenge(domain::factors::passkeys::sign_in_begin(&ctx, &ip).await?))
}

/// Finishes signing in with a passkey: a new session (with a new id), as a password sign-in
/// starts one, marked as signed in with a passkey. Returns where to go: `next` if it is a path
/// on this site, else the person's home page.
#[server(prefix = "/api", endpoint = "auth/passkey/finish")]
pub async fn finish_passkey_sign_in(
    ceremony_id: String,
    credential: String,
    #[server(default)] next: String,
) -> Result<SignedIn, AppError> {
    use super::ssr::{ctx, session, store_err, SIGNED_IN_AT, USER_ID};
    use crate::models::RoleHome;
    let ctx = ctx()?;
    let id = ssr::ceremony(&ceremony_id)?;
    let ip = super::ssr::source_ip().await;
    let user = domain::factors::passkeys::sign_in_finish(&ctx, id, &credential, &ip).await?;
    let session = session().await?;
    session.cycle_id().await.map_err(store_err)?;
    session.insert(USER_ID, user.id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
    session.insert(SIGNED_IN_WITH, "passkey").await.map_err(store_err)?;
    tracing::info!(user = %user.id, "signed in with a passkey");
    let home = user.role.home();
    Ok(SignedIn { next: super::auth::safe_next(&next).unwrap_or(home).to_owned() })
}

/// Starts deciding a push request with a passkey: the challenge is bound to this request, the
/// typed `number` and the `decision`.
#[server(prefix = "/api", endpoint = "portal/approvals/passkey/begin")]
pub async fn begin_passkey_decision(
    request_id: String,
    number: String,
    decision: PushDecision,
) -> Result<PasskeyChallenge, AppError> {
    use super::portal::ssr::{caller, parse_id};
    let (ctx, caller) = caller().await?;
    let request_id = parse_id(&request_id, "push request")?;
    let typed = number.trim();
    let number = if typed.is_empty() && decision != PushDecision::Approve {
        0
    } else {
        typed.parse::<u16>().ok().filter(|n| *n <= 999).ok_or_else(|| {
            AppError::from(domain::DomainError::validation("number", "must be the 3-digit number the login prompt shows"))
        })?
    };
    let c = domain::factors::passkeys::approve_begin(&ctx, &caller, request_id, number, decision).await?;
    Ok(ssr::challenge(c))
}

/// Finishes deciding with the passkey's answer: the decision bound to the challenge is made.
#[server(prefix = "/api", endpoint = "portal/approvals/passkey/finish")]
pub async fn finish_passkey_decision(ceremony_id: String, credential: String) -> Result<DecisionResult, AppError> {
    use super::portal::ssr::{actor, caller};
    let (ctx, caller) = caller().await?;
    let id = ssr::ceremony(&ceremony_id)?;
    let actor = actor(&caller).await;
    let outcome = domain::factors::passkeys::approve_finish(&ctx, &caller, &actor, id, &credential).await?;
    Ok(DecisionResult { status: outcome.status, muted_until: outcome.muted_until })
}
