//! Several accounts on one device (the portal's account switcher): the end-user accounts this
//! browser has a parked session for, parking the current one to sign in to another, and
//! switching. The parked sessions' ids stay in an HttpOnly cookie; the page only ever sees a
//! handle for each. Which accounts are still good is `domain::device_accounts`'.

use crate::models::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Another account signed in on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherAccount {
    pub handle: String,
    pub email: String,
    pub display_name: String,
    pub tenant_name: Option<String>,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::models::AppError;
    use domain::Ctx;

    /// The session cookie (the server's `SESSION_COOKIE`).
    pub const SESSION_COOKIE: &str = "hostguard_session";
    /// The ids of this browser's parked sessions.
    pub const PARKED_COOKIE: &str = "hostguard_accounts";

    /// The value of cookie `name` on this request.
    pub fn request_cookie(name: &str) -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        parts.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
            c.split(';').find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
        })
    }

    /// Sets cookie `name` as the session layer sets its own: HttpOnly, SameSite=Lax, the whole
    /// site, Secure over HTTPS; `max_age` seconds (0 removes it).
    pub fn set_cookie(ctx: &Ctx, name: &str, value: &str, max_age: i64) -> Result<(), AppError> {
        let secure = if ctx.public_url.starts_with("https://") { "; Secure" } else { "" };
        let cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax; HttpOnly{secure}");
        let value = http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?;
        let res = leptos::prelude::use_context::<leptos_axum::ResponseOptions>().ok_or(AppError::Internal)?;
        res.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }

    /// The parked session ids as the browser sent them.
    pub fn parked_ids() -> Vec<String> {
        request_cookie(PARKED_COOKIE).map(|v| domain::device_accounts::parse_cookie(&v)).unwrap_or_default()
    }

    pub fn save_parked(ctx: &Ctx, ids: &[String]) -> Result<(), AppError> {
        let value = domain::device_accounts::cookie_value(ids);
        let max_age = if value.is_empty() { 0 } else { ctx.sessions.absolute.num_seconds() };
        set_cookie(ctx, PARKED_COOKIE, &value, max_age)
    }

    /// The id of this request's session: the one signed in now.
    pub async fn current_session_id() -> Result<String, AppError> {
        let session = super::super::ssr::session().await?;
        session.id().map(|id| id.to_string()).ok_or_else(|| domain::DomainError::Unauthenticated.into())
    }
}

/// The other end-user accounts signed in on this device (not the current one), as the
/// account menu lists them.
#[server(prefix = "/api", endpoint = "portal/accounts")]
pub async fn other_accounts() -> Result<Vec<OtherAccount>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let mut found = Vec::new();
    for id in ssr::parked_ids() {
        if let Some(a) = domain::device_accounts::parked(&ctx, &id).await? {
            if a.user_id != caller.user_id && !found.iter().any(|f: &OtherAccount| f.email == a.email) {
                found.push(OtherAccount {
                    handle: a.handle,
                    email: a.email,
                    display_name: a.display_name,
                    tenant_name: a.tenant_name,
                });
            }
        }
    }
    Ok(found)
}

/// Parks the current account's session and leaves this request without one, so the browser
/// can sign in to another account; the parked one stays a switch away.
#[server(prefix = "/api", endpoint = "portal/accounts/add")]
pub async fn add_account() -> Result<(), AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let current = ssr::current_session_id().await?;
    let mut ids: Vec<String> = ssr::parked_ids().into_iter().filter(|id| *id != current).collect();
    ids.push(current);
    ssr::save_parked(&ctx, &ids)?;
    // The session itself is left as it is (parked), only this browser's cookie for it goes.
    ssr::set_cookie(&ctx, ssr::SESSION_COOKIE, "", 0)?;
    leptos_axum::redirect("/signin?next=%2Fportal");
    Ok(())
}

/// Switches this browser to the parked account `handle`: its session becomes the one in use,
/// and the current one is parked. A parked session that has ended is dropped and "not found".
/// The switcher posts a plain form, so the browser then loads the portal anew as the other
/// account (every page and resource of the old one gone).
#[server(prefix = "/api", endpoint = "portal/accounts/switch")]
pub async fn switch_account(handle: String) -> Result<(), AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let current = ssr::current_session_id().await?;
    let parked = ssr::parked_ids();
    let Some(target) = parked.iter().find(|id| domain::device_accounts::handle(id) == handle.trim()).cloned() else {
        return Err(domain::DomainError::NotFound("account").into());
    };
    let mut ids: Vec<String> = parked.into_iter().filter(|id| *id != target && *id != current).collect();
    let Some(account) =
        domain::device_accounts::parked(&ctx, &target).await?.filter(|a| a.user_id != caller.user_id)
    else {
        ssr::save_parked(&ctx, &ids)?;
        leptos_axum::redirect("/portal");
        return Err(domain::DomainError::NotFound("account").into());
    };
    ids.push(current);
    ssr::save_parked(&ctx, &ids)?;
    ssr::set_cookie(&ctx, ssr::SESSION_COOKIE, &target, ctx.sessions.idle.num_seconds())?;
    tracing::info!(from = %caller.user_id, to = %account.user_id, "switched accounts on one device");
    leptos_axum::redirect("/portal");
    Ok(())
}
