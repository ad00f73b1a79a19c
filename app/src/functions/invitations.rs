//! Public: the invitation link's page. No sign-in; the token in the link is the proof. Reading
//! the link changes nothing (mail scanners fetch links); each step is a POST.

use crate::models::{
    users::{InvitationAuthenticator, InvitationLink},
    AppError,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn link(v: domain::users::invitations::LinkView) -> InvitationLink {
    InvitationLink {
        tenant_name: v.tenant_name,
        email: v.email,
        display_name: v.display_name,
        expires: v.expires_at,
        password_set: v.password_set,
    }
}

/// What the link is for. Changes nothing.
#[server(prefix = "/api", endpoint = "public/invitation")]
pub async fn preview_invitation(token: String) -> Result<InvitationLink, AppError> {
    let ctx = super::ssr::ctx()?;
    Ok(link(domain::users::invitations::preview(&ctx, &token).await?))
}

/// The first step: the person's password, typed twice.
#[server(prefix = "/api", endpoint = "public/invitation/password")]
pub async fn set_invitation_password(token: String, password: String, repeat: String) -> Result<InvitationLink, AppError> {
    let ctx = super::ssr::ctx()?;
    if password != repeat {
        return Err(domain::DomainError::validation("repeat", "must be the same password as above").into());
    }
    let ip = super::ssr::source_ip().await;
    Ok(link(domain::users::invitations::set_password(&ctx, &token, &password, &ip).await?))
}

/// The second step: an authenticator app to add.
#[server(prefix = "/api", endpoint = "public/invitation/authenticator/begin")]
pub async fn begin_invitation_authenticator(
    token: String,
    #[server(default)] name: String,
) -> Result<InvitationAuthenticator, AppError> {
    use secrecy::ExposeSecret;
    let ctx = super::ssr::ctx()?;
    let e = domain::users::invitations::begin_authenticator(&ctx, &token, &name).await?;
    let uri = e.otpauth_uri.expose_secret().to_owned();
    Ok(InvitationAuthenticator {
        id: e.id,
        name: e.name,
        secret: e.secret.expose_secret().to_owned(),
        qr_data_uri: super::portal::ssr::qr_data_uri(&uri)?,
        otpauth_uri: uri,
        expires: e.expires_at,
    })
}

/// Signs this browser in as the person who just accepted their invitation: a new session id,
/// as at any sign-in, whose step-up reference is the one the acceptance made (the browser just
/// proved the new factor, so it may add another at once).
#[cfg(feature = "ssr")]
async fn sign_in_accepted(ctx: &domain::Ctx, accepted: &domain::users::invitations::Accepted) -> Result<(), AppError> {
    use super::ssr::{session, store_err, SIGNED_IN_AT, USER_ID};
    let session = session().await?;
    session.cycle_id().await.map_err(store_err)?;
    let now = ctx.clock.now().timestamp();
    session.insert(USER_ID, accepted.user_id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, now).await.map_err(store_err)?;
    session
        .insert(domain::factors::guard::SESSION_REF_KEY, (accepted.session.0, Some(now)))
        .await
        .map_err(store_err)?;
    tracing::info!(user = %accepted.user_id, "accepted an invitation and signed in");
    Ok(())
}

/// The last step: a code from the new app. The account is active, and this browser is signed
/// in to the portal (a new session id, as at any sign-in).
#[server(prefix = "/api", endpoint = "public/invitation/authenticator/confirm")]
pub async fn confirm_invitation_authenticator(token: String, id: String, code: String) -> Result<(), AppError> {
    let ctx = super::ssr::ctx()?;
    let id = super::ssr::parse_id(&id, "authenticator enrolment")?;
    let ip = super::ssr::source_ip().await;
    let accepted = domain::users::invitations::confirm_authenticator(&ctx, &token, id, &code, &ip).await?;
    sign_in_accepted(&ctx, &accepted).await?;
    // A plain form post goes on to the portal; the app loads it itself, anew, so that the page
    // knows who is signed in now.
    if crate::functions::auth::plain_form_post() {
        leptos_axum::redirect("/portal");
    }
    Ok(())
}

/// The second step with a passkey instead of an app: the options for
/// `navigator.credentials.create` and the ceremony's id.
#[server(prefix = "/api", endpoint = "public/invitation/passkey/begin")]
pub async fn begin_invitation_passkey(
    token: String,
    #[server(default)] name: String,
) -> Result<crate::functions::passkeys::PasskeyChallenge, AppError> {
    let ctx = super::ssr::ctx()?;
    let c = domain::users::invitations::begin_passkey(&ctx, &token, &name).await?;
    Ok(crate::functions::passkeys::PasskeyChallenge { ceremony_id: c.ceremony_id, options: c.options.to_string() })
}

/// The last step with a passkey: the browser's answer (`credential`, JSON) registers it; the
/// account is active and this browser signed in, as with an app.
#[server(prefix = "/api", endpoint = "public/invitation/passkey/finish")]
pub async fn finish_invitation_passkey(token: String, ceremony_id: String, credential: String) -> Result<(), AppError> {
    let ctx = super::ssr::ctx()?;
    let id = super::ssr::parse_id(&ceremony_id, "passkey request")?;
    let ip = super::ssr::source_ip().await;
    let accepted = domain::users::invitations::finish_passkey(&ctx, &token, id, &credential, &ip).await?;
    sign_in_accepted(&ctx, &accepted).await
}
