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

    /// The value of cookie `name` on this request.
    pub fn request_cookie(name: &str) -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        parts.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
            c.split(';').find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
        })
    }

    /// Sets cookie `name` as the session layer sets its own: HttpOnly, SameSite=Lax, the whole
    /// site and no Domain, Secure over HTTPS (as the `__Host-` names then require); `max_age`
    /// seconds (0 removes it).
    pub fn set_cookie(ctx: &Ctx, name: &str, value: &str, max_age: i64) -> Result<(), AppError> {
        let secure = if ctx.secure_cookies() { "; Secure" } else { "" };
        let cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax; HttpOnly{secure}");
        let value = http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?;
        let res = leptos::prelude::use_context::<leptos_axum::ResponseOptions>().ok_or(AppError::Internal)?;
        res.append_header(http::header::SET_COOKIE, value);
        Ok(())
    }

    /// Removes the session cookie with the attributes it was set with. The session layer's own
    /// removal (after a flush) lacks Secure, which a browser refuses for a `__Host-` name; the
    /// session row is gone either way, so this only tidies the browser.
    pub fn forget_session_cookie(ctx: &Ctx) -> Result<(), AppError> {
        if request_cookie(ctx.session_cookie()).is_some() {
            set_cookie(ctx, ctx.session_cookie(), "", 0)?;
        }
        Ok(())
    }

    /// The parked session ids as the browser sent them.
    pub fn parked_ids(ctx: &Ctx) -> Vec<String> {
        request_cookie(ctx.parked_cookie()).map(|v| domain::device_accounts::parse_cookie(&v)).unwrap_or_default()
    }

    pub fn save_parked(ctx: &Ctx, ids: &[String]) -> Result<(), AppError> {
        let value = domain::device_accounts::cookie_value(ids);
        let max_age = if value.is_empty() { 0 } else { ctx.sessions.absolute.num_seconds() };
        set_cookie(ctx, ctx.parked_cookie(), &value, max_age)
    }

    /// Sign-out of the current account when others are parked on this device: as in Google's
    /// account chooser, the newest parked account still signed in becomes the current one (the
    /// browser loads the portal as it), so the others stay a switch away. The current session
    /// is ended server-side. `false` when no parked account is still good: the caller signs out
    /// as usual (and the stale parked cookie is dropped).
    pub async fn sign_out_to_parked(ctx: &Ctx, session: &tower_sessions::Session) -> Result<bool, AppError> {
        let parked = parked_ids(ctx);
        if parked.is_empty() {
            return Ok(false);
        }
        let current = session.id().map(|id| id.to_string());
        let mut next = None;
        for id in parked.iter().rev().filter(|id| Some(*id) != current.as_ref()) {
            if domain::device_accounts::parked(ctx, id).await?.is_some() {
                next = Some(id.clone());
                break;
            }
        }
        let Some(next) = next else {
            save_parked(ctx, &[])?;
            return Ok(false);
        };
        // The row is deleted rather than the session flushed: a flushed session makes the
        // session layer append a removal of the session cookie after ours, undoing the switch.
        // Nothing in this request writes the session again, so the row stays gone.
        if let Some(current) = &current {
            domain::device_accounts::end_sessions(ctx, std::slice::from_ref(current)).await?;
        }
        let rest: Vec<String> = parked.into_iter().filter(|id| *id != next && Some(id) != current.as_ref()).collect();
        save_parked(ctx, &rest)?;
        set_cookie(ctx, ctx.session_cookie(), &next, ctx.sessions.idle.num_seconds())?;
        Ok(true)
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
    for id in ssr::parked_ids(&ctx) {
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
    let mut ids: Vec<String> = ssr::parked_ids(&ctx).into_iter().filter(|id| *id != current).collect();
    ids.push(current);
    ssr::save_parked(&ctx, &ids)?;
    // The session itself is left as it is (parked), only this browser's cookie for it goes.
    ssr::set_cookie(&ctx, ctx.session_cookie(), "", 0)?;
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
    let parked = ssr::parked_ids(&ctx);
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
    ssr::set_cookie(&ctx, ctx.session_cookie(), &target, ctx.sessions.idle.num_seconds())?;
    tracing::info!(from = %caller.user_id, to = %account.user_id, "switched accounts on one device");
    leptos_axum::redirect("/portal");
    Ok(())
}

/// "Sign out of all accounts": ends this device's current session and every parked one on the
/// server (their rows deleted, so a copied cookie is worthless), clears both cookies and goes
/// to the sign-in page. Needs no signed-in caller: holding a session's id is what ending it takes.
#[server(prefix = "/api", endpoint = "auth/sign_out_all")]
pub async fn sign_out_all() -> Result<(), AppError> {
    use super::ssr::{ctx, session, store_err};
    let ctx = ctx()?;
    let session = session().await?;
    let parked = ssr::parked_ids(&ctx);
    let ended = domain::device_accounts::end_sessions(&ctx, &parked).await?;
    // Deletes the current row; the session layer then removes the session cookie.
    session.flush().await.map_err(store_err)?;
    ssr::forget_session_cookie(&ctx)?;
    if ssr::request_cookie(ctx.parked_cookie()).is_some() {
        ssr::save_parked(&ctx, &[])?;
    }
    tracing::info!(parked = ended, "signed out of all accounts on one device");
    leptos_axum::redirect("/signin");
    Ok(())
}
