//! Server-side helpers for server functions: the rules' context and the signed-in caller.

use crate::models::AppError;
use domain::{Caller, Ctx, DomainError};
use leptos::prelude::use_context;
use tower_sessions::Session;
use uuid::Uuid;

pub const USER_ID: &str = "user_id";
pub const SIGNED_IN_AT: &str = "signed_in_at";

pub fn ctx() -> Result<Ctx, AppError> {
    use_context::<Ctx>().ok_or_else(|| {
        tracing::error!("no Ctx in the Leptos context");
        AppError::Internal
    })
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "no session layer");
        AppError::Internal
    })
}

pub fn store_err(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store error");
    AppError::Internal
}

/// The signed-in caller, or `Unauthenticated` if there is none or the session has passed its
/// absolute lifetime (the idle timeout is the session store's expiry).
pub async fn caller_opt() -> Result<Option<(Ctx, Caller)>, AppError> {
    let ctx = ctx()?;
    let session = session().await?;
    let Some(user_id) = session.get::<Uuid>(USER_ID).await.map_err(store_err)? else {
        return Ok(None);
    };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await.map_err(store_err)?.unwrap_or(0);
    if ctx.clock.now().timestamp() - signed_in_at > ctx.sessions.absolute.num_seconds() {
        session.flush().await.map_err(store_err)?;
        return Ok(None);
    }
    match domain::accounts::caller(&ctx, user_id).await {
        Ok(caller) => Ok(Some((ctx, caller))),
        Err(DomainError::Unauthenticated) => {
            session.flush().await.map_err(store_err)?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn caller() -> Result<(Ctx, Caller), AppError> {
    caller_opt().await?.ok_or_else(|| DomainError::Unauthenticated.into())
}

/// An id from the request; a malformed one is "not found", like an id of another tenant.
pub fn parse_id(id: &str, what: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim()).map_err(|_| DomainError::NotFound(what).into())
}

/// The address the request came from (the TCP peer; proxies are not trusted).
pub async fn source_ip() -> String {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The caller as the audit trail names them.
pub async fn actor(caller: &Caller) -> domain::audit::Actor {
    domain::audit::Actor::new(caller.email.clone(), source_ip().await)
}
