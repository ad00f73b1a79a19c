//! Signing in and out, and who is signed in.

use crate::models::{AppError, CurrentUser};
use leptos::prelude::*;

/// Checks the email and password; on success starts a new session (with a new id) and sends
/// the browser back to `next` (the page that asked for sign-in) or else to the role's home page.
#[server(prefix = "/api", endpoint = "auth/sign_in")]
pub async fn sign_in(email: String, password: String, #[server(default)] next: String) -> Result<(), AppError> {
    use super::ssr::{ctx, session, source_ip, store_err, SIGNED_IN_AT, USER_ID};
    use crate::models::RoleHome;
    use domain::console_auth::PENDING_USER_KEY;
    let ctx = ctx()?;
    let user = match domain::accounts::sign_in(&ctx, &email, &password, &source_ip().await).await {
        Ok(user) => user,
        Err(e) => {
            let error = AppError::from(e);
            // A plain form post (no wasm yet) cannot show a returned error: send the browser
            // back to the form with the error's code.
            if plain_form_post() {
                let next = safe_next(&next)
                    .map(|n| format!("&next={}", crate::components::list::encode(n)))
                    .unwrap_or_default();
                leptos_axum::redirect(&format!("/signin?error={}{next}", error.code()));
            }
            return Err(error);
        }
    };
    let ip = source_ip().await;
    let session = session().await?;
    let step = match domain::console_auth::after_password(&ctx, &user, &ip).await? {
        domain::console_auth::Next::SignedIn => None,
        domain::console_auth::Next::Code => Some(("/signin/code", false)),
        domain::console_auth::Next::Enrol => Some(("/signin/enrol", true)),
    };
    if let Some((page, enrol)) = step {
        // Half signed in: the session names the person only under a key nothing else reads.
        session.cycle_id().await.map_err(store_err)?;
        session.remove_value(USER_ID).await.map_err(store_err)?;
        session.remove_value(SIGNED_IN_AT).await.map_err(store_err)?;
        session.insert(PENDING_USER_KEY, user.id).await.map_err(store_err)?;
        session.insert(PENDING_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
        session.insert(PENDING_ENROL, enrol).await.map_err(store_err)?;
        let next = safe_next(&next).map(|n| format!("?next={}", crate::components::list::encode(n))).unwrap_or_default();
        leptos_axum::redirect(&format!("{page}{next}"));
        return Ok(());
    }
    // A new id at sign-in, so an id planted before sign-in is worth nothing after it.
    session.cycle_id().await.map_err(store_err)?;
    session.insert(USER_ID, user.id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
    let home = user.role.home();
    tracing::info!(user = %user.id, "signed in");
    leptos_axum::redirect(safe_next(&next).unwrap_or(home));
    Ok(())
}

/// Where a half-signed-in session keeps when its password was right.
#[cfg(feature = "ssr")]
const PENDING_AT: &str = "pending_at";

/// The second step of a sign-in: a code from the person's console authenticator, in the session
/// whose password was right within the last few minutes. Then as `sign_in`: a new session id,
/// and back to `next` or the role's home page.
#[server(prefix = "/api", endpoint = "auth/sign_in_code")]
pub async fn sign_in_code(code: String, #[server(default)] next: String) -> Result<(), AppError> {
    use super::ssr::{ctx, session, source_ip, store_err, SIGNED_IN_AT, USER_ID};
    use crate::models::RoleHome;
    use domain::console_auth::{PENDING_USER_KEY, PENDING_VALID_MINUTES};
    let ctx = ctx()?;
    let session = session().await?;
    let pending = session.get::<uuid::Uuid>(PENDING_USER_KEY).await.map_err(store_err)?;
    let at = session.get::<i64>(PENDING_AT).await.map_err(store_err)?.unwrap_or(0);
    let fresh = ctx.clock.now().timestamp() - at <= PENDING_VALID_MINUTES * 60;
    let result = match pending {
        Some(user_id) if fresh => domain::console_auth::complete_with_code(&ctx, user_id, &code, &source_ip().await)
            .await
            .map_err(AppError::from),
        // Converted from the domain's error, which also sets the response's status.
        _ => Err(AppError::from(domain::DomainError::Conflict(format!(
            "Your sign-in was not finished within {PENDING_VALID_MINUTES} minutes. Enter your email and password again."
        )))),
    };
    let user = match result {
        Ok(user) => user,
        Err(error) => {
            if plain_form_post() {
                let next = safe_next(&next)
                    .map(|n| format!("&next={}", crate::components::list::encode(n)))
                    .unwrap_or_default();
                leptos_axum::redirect(&format!("/signin/code?error={}{next}", error.code()));
            }
            return Err(error);
        }
    };
    session.cycle_id().await.map_err(store_err)?;
    for key in [PENDING_USER_KEY, PENDING_AT, PENDING_ENROL, PENDING_MAIL] {
        session.remove_value(key).await.map_err(store_err)?;
    }
    session.insert(USER_ID, user.id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
    tracing::info!(user = %user.id, "signed in with a second step");
    leptos_axum::redirect(safe_next(&next).unwrap_or(user.role.home()));
    Ok(())
}

/// Where a half-signed-in session notes that its person must add a console authenticator.
#[cfg(feature = "ssr")]
const PENDING_ENROL: &str = "pending_enrol";

/// The person of a half-signed-in session that must add a console authenticator, while fresh.
#[cfg(feature = "ssr")]
async fn pending_enrolment() -> Result<(domain::Ctx, domain::Caller), AppError> {
    use super::ssr::{ctx, session, store_err};
    use domain::console_auth::{PENDING_USER_KEY, PENDING_VALID_MINUTES};
    let ctx = ctx()?;
    let session = session().await?;
    let pending = session.get::<uuid::Uuid>(PENDING_USER_KEY).await.map_err(store_err)?;
    let enrol = session.get::<bool>(PENDING_ENROL).await.map_err(store_err)?.unwrap_or(false);
    let at = session.get::<i64>(PENDING_AT).await.map_err(store_err)?.unwrap_or(0);
    // Adding the app takes longer than typing a code: three times the code step's wait.
    let fresh = ctx.clock.now().timestamp() - at <= 3 * PENDING_VALID_MINUTES * 60;
    match pending {
        Some(user_id) if enrol && fresh => {
            let caller = domain::console_auth::pending_caller(&ctx, user_id).await?;
            Ok((ctx, caller))
        }
        _ => Err(domain::DomainError::Conflict(
            "Your sign-in was not finished in time. Enter your email and password again.".into(),
        )
        .into()),
    }
}

/// Where a half-signed-in session keeps the code mailed for its enrolment (hashed).
#[cfg(feature = "ssr")]
const PENDING_MAIL: &str = "pending_enrol_mail";

/// The start of adding a console authenticator at sign-in: the app's QR code and secret, and
/// where the code that must also be typed was mailed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SignInEnrolment {
    pub authenticator: crate::models::NewAuthenticator,
    pub mailed_to: String,
}

/// Right after the password, for someone who must have a console authenticator and has none:
/// starts adding it (the QR code and the secret), and mails a code to the account's address.
#[server(prefix = "/api", endpoint = "auth/enrol/begin")]
pub async fn begin_sign_in_enrolment(#[server(default)] name: String) -> Result<SignInEnrolment, AppError> {
    use super::ssr::{session, source_ip, store_err};
    let (ctx, caller) = pending_enrolment().await?;
    let (enrolment, mailed) =
        domain::console_auth::begin_sign_in_enrolment(&ctx, &caller, &name, &source_ip().await).await?;
    let mailed_to = mailed.sent_to.clone();
    session().await?.insert(PENDING_MAIL, mailed).await.map_err(store_err)?;
    let authenticator = super::portal::ssr::new_authenticator(enrolment)?;
    Ok(SignInEnrolment { authenticator, mailed_to })
}

/// Finishes adding it with a code it shows and the mailed code, which completes the sign-in.
#[server(prefix = "/api", endpoint = "auth/enrol/confirm")]
pub async fn confirm_sign_in_enrolment(
    id: String,
    code: String,
    #[server(default)] mail_code: String,
    #[server(default)] next: String,
) -> Result<(), AppError> {
    use super::ssr::{parse_id, session, source_ip, store_err, SIGNED_IN_AT, USER_ID};
    use crate::models::RoleHome;
    use domain::console_auth::{MailedCode, PENDING_USER_KEY};
    let (ctx, caller) = pending_enrolment().await?;
    let ip = source_ip().await;
    let actor = domain::audit::Actor::new(caller.email.clone(), ip.clone());
    let id = parse_id(&id, "authenticator enrolment")?;
    let session = session().await?;
    let mut mailed = session.get::<MailedCode>(PENDING_MAIL).await.map_err(store_err)?;
    let result =
        domain::console_auth::confirm_sign_in_enrolment(&ctx, &caller, &actor, id, &code, &mail_code, &mut mailed).await;
    // A wrong try counts against the code, a success spends it.
    match &mailed {
        Some(m) => session.insert(PENDING_MAIL, m).await.map_err(store_err)?,
        None => drop(session.remove_value(PENDING_MAIL).await.map_err(store_err)?),
    }
    result?;
    let user = domain::console_auth::signed_in_after_enrolment(&ctx, caller.user_id, &ip).await?;
    session.cycle_id().await.map_err(store_err)?;
    for key in [PENDING_USER_KEY, PENDING_AT, PENDING_ENROL, PENDING_MAIL] {
        session.remove_value(key).await.map_err(store_err)?;
    }
    session.insert(USER_ID, user.id).await.map_err(store_err)?;
    session.insert(SIGNED_IN_AT, ctx.clock.now().timestamp()).await.map_err(store_err)?;
    leptos_axum::redirect(safe_next(&next).unwrap_or(user.role.home()));
    Ok(())
}

/// Whether the caller's tenant asks its admins for a second factor at console sign-in; `None`
/// for anyone but a tenant admin (the setting is theirs).
#[server(prefix = "/api", endpoint = "account/console_policy")]
pub async fn console_policy() -> Result<Option<bool>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    if caller.role != domain::Role::TenantAdmin {
        return Ok(None);
    }
    Ok(Some(domain::console_auth::admins_policy(&ctx, &caller).await?))
}

/// A tenant admin turns it on or off for their tenant's admins, with a current code from their
/// console authenticator if they have one (audited; the other admins are mailed).
#[server(prefix = "/api", endpoint = "account/console_policy/save")]
pub async fn save_console_policy(#[server(default)] required: bool, #[server(default)] code: String) -> Result<bool, AppError> {
    use super::ssr::{actor, caller};
    let (ctx, caller) = caller().await?;
    let actor = actor(&caller).await;
    domain::console_auth::set_admins_policy(&ctx, &caller, &actor, required, &code).await?;
    Ok(required)
}

/// The signed-in person changes their own password (the current one is needed). Their other
/// sessions end; this one stays. Returns how many ended.
#[server(prefix = "/api", endpoint = "auth/change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<u64, AppError> {
    use super::ssr::{actor, caller, session, store_err};
    let (ctx, caller) = caller().await?;
    let actor = actor(&caller).await;
    let current = session().await?;
    // A session not saved yet has no id; saving it now gives it one to keep.
    if current.id().is_none() {
        current.save().await.map_err(store_err)?;
    }
    let keep = current.id().map(|id| id.to_string()).unwrap_or_default();
    Ok(domain::console_auth::change_password(&ctx, &caller, &actor, &current_password, &new_password, &keep).await?)
}

/// Mails a password-reset link to `email` if an active account has it. The answer is the same
/// either way.
#[server(prefix = "/api", endpoint = "auth/forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use super::ssr::{ctx, source_ip};
    let ctx = ctx()?;
    domain::console_auth::request_reset(&ctx, &email, &source_ip().await).await?;
    Ok(())
}

/// Sets a new password with the token of a reset link; then the person signs in with it.
#[server(prefix = "/api", endpoint = "auth/reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use super::ssr::{ctx, source_ip};
    let ctx = ctx()?;
    domain::console_auth::reset_password(&ctx, &token, &password, &source_ip().await).await?;
    Ok(())
}

#[server(prefix = "/api", endpoint = "auth/sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ssr::{ctx, session, store_err};
    let ctx = ctx()?;
    let session = session().await?;
    // Other accounts parked on this device: the next one becomes current (see
    // `sign_out_to_parked`); "Sign out of all accounts" ends them all.
    if super::device_accounts::ssr::sign_out_to_parked(&ctx, &session).await? {
        leptos_axum::redirect("/portal");
        return Ok(());
    }
    session.flush().await.map_err(store_err)?;
    super::device_accounts::ssr::forget_session_cookie(&ctx)?;
    leptos_axum::redirect("/signin");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(prefix = "/api", endpoint = "auth/me")]
pub async fn who_am_i() -> Result<Option<CurrentUser>, AppError> {
    use super::ssr::caller_opt;
    let Some((ctx, caller)) = caller_opt().await? else { return Ok(None) };
    let (user, tenant) = domain::accounts::profile(&ctx, &caller).await?;
    Ok(Some(CurrentUser {
        email: user.email,
        display_name: user.display_name,
        role: caller.role,
        tenant_name: tenant.map(|t| t.name),
    }))
}

/// `next` if it is a path on this site: it starts with one `/` and holds nothing a browser
/// could read as another host (`//evil`, `/\evil`) or a scheme, and no control characters.
/// Anything else is dropped, so a sign-in link can never send the user elsewhere.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.len() <= 2000
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        // No dot segments or encoded slashes and dots: `/..//evil` is resolved by browsers to
        // `//evil`, which a later navigation could read as another host.
        && !next.split(['/', '?', '#']).any(|segment| segment == "." || segment == "..")
        && !["%2e", "%2f", "%5c"].iter().any(|bad| next.to_ascii_lowercase().contains(bad))
        && !next.starts_with("/signin")
        && !next.starts_with("/api/");
    ok.then_some(next)
}

/// True when the browser posted the form itself rather than the app calling the function.
#[cfg(feature = "ssr")]
pub(crate) fn plain_form_post() -> bool {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_on_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next("/smn/topics/abc?x=1"), Some("/smn/topics/abc?x=1"));
        assert_eq!(safe_next("/hss/two-factor"), Some("/hss/two-factor"));
        for bad in [
            "",
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\tevil",
            "javascript:alert(1)",
            "evil.example",
            "/signin?next=//evil",
            "/ /evil",
            "/..//evil.example",
            "/%2e%2e//evil.example",
            "/%2F/evil.example",
            "/%5cevil.example",
            "/hss/./two-factor",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
