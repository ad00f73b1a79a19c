//! The portal's phone factor (add with a code sent by SMS, replace, remove), renaming a factor,
//! the default method, a step-up with a code sent to the phone, and signing out the person's
//! other sessions after a change.

use crate::models::{AppError, DefaultMethod, PhonesView, PendingPhoneRow, PhoneRow, StepUpCodeSent};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::portal::ssr::{actor, caller, existing_session_ref, parse_id, session_ref};
    use crate::models::{PendingPhoneRow, PhoneRow};
    use domain::factors::phones::{PendingPhone, PhoneFactor};

    pub fn phone_row(p: PhoneFactor) -> PhoneRow {
        PhoneRow { id: p.id, name: p.name, number: p.number, added: p.added_at, last_used: p.last_used_at }
    }

    pub fn pending_row(p: PendingPhone) -> PendingPhoneRow {
        PendingPhoneRow { id: p.id, name: p.name, number: p.number, code_expires: p.code_expires_at, resend_at: p.resend_at }
    }
}

/// The end user's phone (in force and pending) and default method.
#[server(prefix = "/api", endpoint = "portal/phones")]
pub async fn my_phones() -> Result<PhonesView, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let phones = domain::factors::phones::status(&ctx, &caller).await?;
    let (default_method, choosable) = domain::factors::settings::default_method_of(&ctx, &caller).await?;
    // A session without a reference has made no step-up: a fresh reference finds none.
    let session = ssr::existing_session_ref().await?.unwrap_or(domain::factors::SessionRef(uuid::Uuid::new_v4()));
    let state = domain::factors::guard::state(&ctx, &caller, session).await?;
    Ok(PhonesView {
        needs_step_up: state.has_factor && state.stepped_up_until.is_none(),
        in_force: phones.in_force.map(ssr::phone_row),
        pending: phones.pending.map(ssr::pending_row),
        default_method,
        choosable,
        code_valid_minutes: domain::factors::phones::CODE_VALID_MINUTES,
    })
}

/// Starts adding a phone: a code is sent to `number` by SMS.
#[server(prefix = "/api", endpoint = "portal/phones/begin")]
pub async fn begin_phone(number: String, #[server(default)] name: String) -> Result<PendingPhoneRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let session = ssr::session_ref().await?;
    let p = domain::factors::phones::begin(&ctx, &caller, session, &number, &name).await?;
    Ok(ssr::pending_row(p))
}

/// Sends a new code to the pending phone.
#[server(prefix = "/api", endpoint = "portal/phones/resend")]
pub async fn resend_phone_code(id: String) -> Result<PendingPhoneRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let id = ssr::parse_id(&id, "pending phone")?;
    let p = domain::factors::phones::resend(&ctx, &caller, ssr::session_ref().await?, id).await?;
    Ok(ssr::pending_row(p))
}

/// Finishes adding a phone with the code sent to it; it replaces the phone in force, if any.
#[server(prefix = "/api", endpoint = "portal/phones/confirm")]
pub async fn confirm_phone(id: String, code: String) -> Result<PhoneRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "pending phone")?;
    let session = ssr::session_ref().await?;
    let p = domain::factors::phones::confirm(&ctx, &caller, &actor, session, id, &code).await?;
    Ok(ssr::phone_row(p))
}

/// Removes the phone in force (while another authenticator remains) or cancels a pending one.
#[server(prefix = "/api", endpoint = "portal/phones/remove")]
pub async fn remove_phone(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "phone")?;
    domain::factors::phones::remove(&ctx, &caller, &actor, ssr::session_ref().await?, id).await?;
    Ok(())
}

/// Renames an authenticator (`kind` = `authenticator`) or the phone (`phone`).
#[server(prefix = "/api", endpoint = "portal/factors/rename")]
pub async fn rename_factor(kind: String, id: String, name: String) -> Result<String, AppError> {
    use domain::factors::settings::Named;
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let (kind, what) = match kind.as_str() {
        "authenticator" => (Named::Authenticator, "authenticator"),
        "phone" => (Named::Phone, "phone"),
        _ => return Err(domain::DomainError::validation("kind", "must be authenticator or phone").into()),
    };
    let id = ssr::parse_id(&id, what)?;
    let session = ssr::session_ref().await?;
    Ok(domain::factors::settings::rename(&ctx, &caller, &actor, session, kind, id, &name).await?)
}

/// Chooses the method the login prompt tries first.
#[server(prefix = "/api", endpoint = "portal/default_method")]
pub async fn set_default_method(method: String) -> Result<DefaultMethod, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let method = DefaultMethod::parse(method.trim())
        .ok_or_else(|| domain::DomainError::validation("method", "must be push, call, sms or code"))?;
    let session = ssr::session_ref().await?;
    domain::factors::settings::set_default_method(&ctx, &caller, &actor, session, method).await?;
    Ok(method)
}

/// Sends a code to the phone in force, to confirm it's the person (then `portal/step_up`).
#[server(prefix = "/api", endpoint = "portal/step_up/send_code")]
pub async fn send_step_up_code() -> Result<StepUpCodeSent, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let resend_at = domain::factors::phones::send_step_up_code(&ctx, &caller).await?;
    Ok(StepUpCodeSent { resend_at })
}

/// Ends every other session of the person (after a change, in case someone else is signed in).
#[server(prefix = "/api", endpoint = "portal/sessions/sign_out_others")]
pub async fn sign_out_other_sessions() -> Result<u64, AppError> {
    use super::ssr::{session, store_err};
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let step_up = ssr::session_ref().await?;
    let current = session().await?;
    // A session not saved yet has no id; saving it now gives it one to keep.
    if current.id().is_none() {
        current.save().await.map_err(store_err)?;
    }
    let keep = current.id().map(|id| id.to_string()).unwrap_or_default();
    Ok(domain::factors::settings::sign_out_other_sessions(&ctx, &caller, &actor, step_up, &keep).await?)
}
