//! A tenant admin's or operator's authenticator app for signing in to the console: see it, add
//! it (QR code, then a code from it), remove it (a code from it needed).

use crate::models::{
    console_auth::{ConsoleAuthenticatorRow, ConsoleFactorView},
    AppError, NewAuthenticator,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn row(a: domain::console_auth::ConsoleAuthenticator) -> ConsoleAuthenticatorRow {
    ConsoleAuthenticatorRow { name: a.name, added: a.added_at, last_used: a.last_used_at }
}

#[server(prefix = "/api", endpoint = "account/console_factor")]
pub async fn my_console_factor() -> Result<ConsoleFactorView, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let s = domain::console_auth::status(&ctx, &caller).await?;
    Ok(ConsoleFactorView { may_enrol: s.may_enrol, authenticator: s.authenticator.map(row) })
}

/// Starts adding the caller's console authenticator: the QR code and the secret, shown once.
#[server(prefix = "/api", endpoint = "account/console_factor/begin")]
pub async fn begin_console_authenticator(#[server(default)] name: String) -> Result<NewAuthenticator, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    super::portal::ssr::new_authenticator(domain::console_auth::begin_authenticator(&ctx, &caller, &name).await?)
}

/// Finishes adding it with a code it shows; the next sign-in asks for its code.
#[server(prefix = "/api", endpoint = "account/console_factor/confirm")]
pub async fn confirm_console_authenticator(id: String, code: String) -> Result<ConsoleAuthenticatorRow, AppError> {
    use super::ssr::{actor, caller, parse_id};
    let (ctx, caller) = caller().await?;
    let actor = actor(&caller).await;
    let id = parse_id(&id, "authenticator enrolment")?;
    Ok(row(domain::console_auth::confirm_authenticator(&ctx, &caller, &actor, id, &code).await?))
}

/// Removes it, with a current code from it.
#[server(prefix = "/api", endpoint = "account/console_factor/remove")]
pub async fn remove_console_authenticator(code: String) -> Result<(), AppError> {
    use super::ssr::{actor, caller};
    let (ctx, caller) = caller().await?;
    let actor = actor(&caller).await;
    domain::console_auth::remove_authenticator(&ctx, &caller, &actor, &code).await?;
    Ok(())
}
