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

/// The last step: a code from the new app. The account is active, and this browser is signed
/// in to the portal (a new session id, as at any sign-in).
#[server(prefix = "/api", endpoint = "public/invitation/authenticator/confirm")]
pub async fn confirm_invitation_authenticator(token: String, id: String, code: String) -> Result<(), AppError> {
    use super::ssr::{ctx, session, source_ip, store_err, SIGNED_IN_AT, USER_ID};
    let ctx = ctx()?;
    let id = super::ssr::parse_id(&id, "authenticator enrolment")?;
    let ip = source_ip().await;
    let accepted = domain::users::invitations::confirm_authenticator(&ctx, &token, id, &code, &ip).await?;
    let session = session().await?;
    session.cycle_id().await.map_err(store_err)?;
    session.insert(USER_ID, accepted.user_id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
    tracing::info!(user = %accepted.user_id, "accepted an invitation and signed in");
    // A plain form post goes on to the portal; the app loads it itself, anew, so that the page
    // knows who is signed in now.
    if crate::functions::auth::plain_form_post() {
        leptos_axum::redirect("/portal");
    }
    Ok(())
}
