//! Several accounts on one device: a person with portal accounts in two tenants keeps a
//! signed-in session for each in one browser and switches between them without signing in
//! again. Each account keeps its own session (its own step-ups, timeouts and sign-out), and a
//! request carries exactly one of them, so one account's session never acts as another's. The
//! browser holds the ids of the sessions not in use ("parked") in an HttpOnly cookie beside the
//! session cookie; this module says which of them are still good and whose they are.

use crate::{
    caller::Role,
    ctx::Ctx,
    entities::{session, tenant, user},
    error::DomainResult,
    users::{state_of, UserState},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Sessions a browser may keep parked besides the one in use.
pub const MAX_PARKED: usize = 4;

/// The session cookie's name over plain http (development, tests).
pub const SESSION_COOKIE: &str = "hostguard_session";
/// The parked sessions' cookie's name over plain http.
pub const PARKED_COOKIE: &str = "hostguard_accounts";
/// Over HTTPS the names carry the `__Host-` prefix: the browser then takes them only with
/// Secure, Path=/ and no Domain, so a sibling subdomain can neither plant nor overwrite them.
/// Browsers refuse the prefix without Secure, hence plain names over http.
pub const SECURE_SESSION_COOKIE: &str = "__Host-hostguard_session";
pub const SECURE_PARKED_COOKIE: &str = "__Host-hostguard_accounts";

/// The one place the console's cookie names come from (the session layer and the app both ask).
impl Ctx {
    /// Served over HTTPS: cookies are Secure and `__Host-` named.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies() {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    pub fn parked_cookie(&self) -> &'static str {
        if self.secure_cookies() {
            SECURE_PARKED_COOKIE
        } else {
            PARKED_COOKIE
        }
    }
}

/// A parked session's account, as the switcher shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedAccount {
    /// What the browser names it by when it switches: not the session id, which stays in the
    /// HttpOnly cookie.
    pub handle: String,
    pub session_id: String,
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub tenant_name: Option<String>,
}

/// The name the switcher uses for session `id`: a prefix of its SHA-256.
pub fn handle(session_id: &str) -> String {
    crate::tokens::hash_token(&format!("parked-session:{session_id}"))[..16].to_owned()
}

/// The ids a parked-sessions cookie holds: at most [`MAX_PARKED`], each a plausible session id
/// (what is not one is dropped unread).
pub fn parse_cookie(value: &str) -> Vec<String> {
    let mut ids: Vec<String> = value
        .split('.')
        .map(str::trim)
        .filter(|s| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .collect();
    ids.dedup();
    ids.truncate(MAX_PARKED);
    ids
}

/// The cookie value for `ids`, newest last, keeping the newest [`MAX_PARKED`].
pub fn cookie_value(ids: &[String]) -> String {
    let skip = ids.len().saturating_sub(MAX_PARKED);
    ids[skip..].join(".")
}

/// The end-user account session `session_id` is signed in to, if it still is: the session
/// exists and has not expired (idle, or past the absolute lifetime since sign-in), and its
/// person is an active end user. Anything else is `None`: a parked session that ended is
/// simply gone from the switcher.
pub async fn parked(ctx: &Ctx, session_id: &str) -> DomainResult<Option<ParkedAccount>> {
    let now = ctx.clock.now();
    let Some(row) = session::Entity::find_by_id(session_id.to_owned())
        .filter(session::Column::ExpiresAt.gt(now))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    let Ok(data) = serde_json::from_str::<serde_json::Value>(&row.data) else { return Ok(None) };
    let user_id = data.get("user_id").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok());
    let signed_in_at = data.get("signed_in_at").and_then(serde_json::Value::as_i64);
    let (Some(user_id), Some(signed_in_at)) = (user_id, signed_in_at) else { return Ok(None) };
    if now.timestamp() - signed_in_at > ctx.sessions.absolute.num_seconds() {
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(user_id).one(&ctx.db).await? else { return Ok(None) };
    if u.role != Role::EndUser || state_of(&u) != UserState::Active {
        return Ok(None);
    }
    let tenant_name = match u.tenant_id {
        Some(id) => tenant::Entity::find_by_id(id).one(&ctx.db).await?.map(|t| t.name),
        None => None,
    };
    Ok(Some(ParkedAccount {
        handle: handle(session_id),
        session_id: session_id.to_owned(),
        user_id: u.id,
        email: u.email,
        display_name: u.display_name,
        tenant_name,
    }))
}

/// Ends the sessions `ids` for good: their stored rows are deleted, so a copy of any of their
/// cookies opens nothing afterwards. Ids with no session are skipped. Returns how many ended.
pub async fn end_sessions(ctx: &Ctx, ids: &[String]) -> DomainResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ended =
        session::Entity::delete_many().filter(session::Column::Id.is_in(ids.iter().cloned())).exec(&ctx.db).await?;
    Ok(ended.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_keeps_a_few_plausible_ids() {
        assert_eq!(parse_cookie("abc.def..x y.ghi"), ["abc", "def", "ghi"]);
        assert_eq!(parse_cookie(""), Vec::<String>::new());
        let many: Vec<String> = (0..6).map(|i| format!("id{i}")).collect();
        assert_eq!(cookie_value(&many), "id2.id3.id4.id5", "the newest are kept");
        assert_eq!(parse_cookie(&cookie_value(&many)).len(), MAX_PARKED);
        assert_eq!(handle("a").len(), 16);
        assert_ne!(handle("a"), handle("b"));
    }
}
