//! The end user's self-service portal.

#[cfg(feature = "ssr")]
use crate::models::SignInRow;
use crate::models::{
    AppError, AuthenticatorRow, CurrentUser, NewAuthenticator, SignInHistory, SignInMethods, SteppedUp,
};
use leptos::prelude::*;

/// The end user's own account. Only end users have a portal.
#[server(prefix = "/api", endpoint = "portal/account")]
pub async fn my_account() -> Result<CurrentUser, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let (user, tenant) = domain::accounts::profile(&ctx, &caller).await?;
    Ok(CurrentUser {
        email: user.email,
        display_name: user.display_name,
        role: caller.role,
        tenant_name: tenant.map(|t| t.name),
    })
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    pub use super::super::ssr::{actor, caller, parse_id};
    use super::super::ssr::{session, store_err};
    use crate::models::AppError;

    /// Where this session's step-up reference lives in its (server-side) data.
    const STEP_UP_REF: &str = domain::factors::guard::SESSION_REF_KEY;

    /// This portal session's reference for step-ups, made on first use. It lives only in the
    /// session's server-side data, so a step-up made here holds for no other session; it is
    /// gone with the session at sign-out, and a new sign-in (which keeps the data under a new
    /// id) gets a new one, so no step-up outlives the sign-in it was made in.
    pub async fn session_ref() -> Result<domain::factors::SessionRef, AppError> {
        if let Some(found) = existing_session_ref().await? {
            return Ok(found);
        }
        let session = session().await?;
        let signed_in_at = session.get::<i64>(super::super::ssr::SIGNED_IN_AT).await.map_err(store_err)?;
        let id = uuid::Uuid::new_v4();
        session.insert(STEP_UP_REF, (id, signed_in_at)).await.map_err(store_err)?;
        // Stored now: a first factor's rule reads this session's sign-in time from the store.
        session.save().await.map_err(store_err)?;
        Ok(domain::factors::SessionRef(id))
    }

    /// This session's step-up reference if it has one, without writing the session (pages
    /// read it while they render, when the session may already be saved).
    pub async fn existing_session_ref() -> Result<Option<domain::factors::SessionRef>, AppError> {
        let session = session().await?;
        let signed_in_at = session.get::<i64>(super::super::ssr::SIGNED_IN_AT).await.map_err(store_err)?;
        let stored = session.get::<(uuid::Uuid, Option<i64>)>(STEP_UP_REF).await.map_err(store_err)?;
        Ok(stored.filter(|(_, at)| *at == signed_in_at).map(|(id, _)| domain::factors::SessionRef(id)))
    }

    /// A new authenticator as the page shows it once: its secret, QR code and link.
    pub fn new_authenticator(e: domain::factors::authenticators::Enrolment) -> Result<crate::models::NewAuthenticator, AppError> {
        use secrecy::ExposeSecret;
        Ok(crate::models::NewAuthenticator {
            qr_data_uri: qr_data_uri(e.otpauth_uri.expose_secret())?,
            id: e.id,
            name: e.name,
            secret: e.secret.expose_secret().to_owned(),
            otpauth_uri: e.otpauth_uri.expose_secret().to_owned(),
            expires: e.expires_at,
        })
    }

    /// The otpauth URI as a QR code: an SVG, as a data URI for an `<img>` (no markup of ours
    /// is injected into the page).
    pub fn qr_data_uri(uri: &str) -> Result<String, AppError> {
        use base64::Engine;
        let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| {
            tracing::error!(error = %e, "cannot draw the QR code");
            AppError::Internal
        })?;
        let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
        Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
    }
}

#[cfg(feature = "ssr")]
fn authenticator_row(a: domain::factors::authenticators::Authenticator) -> AuthenticatorRow {
    AuthenticatorRow {
        id: a.id,
        name: a.name,
        added: a.added_at,
        last_used: a.last_used_at,
    }
}

/// The end user's authenticators and recovery codes, and whether this session may change them.
#[server(prefix = "/api", endpoint = "portal/methods")]
pub async fn my_sign_in_methods() -> Result<SignInMethods, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let apps = domain::factors::authenticators::list(&ctx, &caller).await?;
    let recovery = domain::factors::recovery::status(&ctx, &caller).await?;
    // A session without a reference has made no step-up: a fresh reference finds none.
    let session = ssr::existing_session_ref().await?.unwrap_or(domain::factors::SessionRef(uuid::Uuid::new_v4()));
    let state = domain::factors::guard::state(&ctx, &caller, session).await?;
    Ok(SignInMethods {
        has_factor: state.has_factor,
        verified_until: state.stepped_up_until,
        enrolment_open_until: state.enrolment_open_until,
        step_up_minutes: domain::factors::guard::STEP_UP_VALID_MINUTES,
        authenticators: apps.into_iter().map(authenticator_row).collect(),
        max_authenticators: domain::factors::authenticators::MAX_PER_USER,
        recovery_left: recovery.left,
        recovery_total: domain::factors::recovery::CODES as u64,
        recovery_generated: recovery.generated_at,
    })
}

/// A current code from one of the user's factors: this session may then change them for a few
/// minutes (adding or removing an authenticator, new recovery codes).
#[server(prefix = "/api", endpoint = "portal/step_up")]
pub async fn step_up(code: String) -> Result<SteppedUp, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let until = domain::factors::step_up(&ctx, &caller, ssr::session_ref().await?, &code).await?;
    Ok(SteppedUp { until })
}

/// Starts adding an authenticator app: its QR code and secret, shown once.
#[server(prefix = "/api", endpoint = "portal/authenticators/begin")]
pub async fn begin_authenticator(name: String) -> Result<NewAuthenticator, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    ssr::new_authenticator(domain::factors::authenticators::begin(&ctx, &caller, ssr::session_ref().await?, &name).await?)
}

/// Finishes adding an authenticator with a code it shows.
#[server(prefix = "/api", endpoint = "portal/authenticators/confirm")]
pub async fn confirm_authenticator(id: String, code: String) -> Result<AuthenticatorRow, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "authenticator enrolment")?;
    let session = ssr::session_ref().await?;
    let a = domain::factors::authenticators::confirm(&ctx, &caller, &actor, session, id, &code).await?;
    Ok(authenticator_row(a))
}

#[server(prefix = "/api", endpoint = "portal/authenticators/remove")]
pub async fn remove_authenticator(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let id = ssr::parse_id(&id, "authenticator")?;
    domain::factors::authenticators::remove(&ctx, &caller, &actor, ssr::session_ref().await?, id).await?;
    Ok(())
}

/// A new set of recovery codes, shown once; the old set stops working.
#[server(prefix = "/api", endpoint = "portal/recovery/generate")]
pub async fn generate_recovery_codes() -> Result<Vec<String>, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    Ok(domain::factors::recovery::generate(&ctx, &caller, &actor, ssr::session_ref().await?).await?)
}

/// The end user's logins to servers, newest first.
#[server(prefix = "/api", endpoint = "portal/history")]
pub async fn my_sign_in_history(page: u64, page_size: u64) -> Result<SignInHistory, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let found = domain::logins::audit::for_end_user(&ctx, &caller, page, page_size).await?;
    Ok(SignInHistory {
        rows: found
            .items
            .into_iter()
            .map(|r| SignInRow {
                time: r.at,
                server: r.server_name,
                account: r.account,
                source_ip: r.source_ip,
                result: r.result,
                reason: r.reason,
            })
            .collect(),
        total: found.total,
        page,
        page_size,
    })
}
