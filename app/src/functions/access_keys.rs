//! My Credentials → Access Keys: the signed-in tenant admin's keys for the HSS-compatible API.

#[cfg(feature = "ssr")]
use crate::models::AccessKeyRow;
use crate::models::{AccessKeys, AppError, NewAccessKey};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    pub use super::super::ssr::{actor, caller, parse_id};
    use domain::{Caller, Ctx};

    /// The caller's project id and the API's address, for the page and its curl example.
    pub async fn project(ctx: &Ctx, caller: &Caller) -> Result<(String, String), crate::models::AppError> {
        caller.admin_tenant()?;
        let (_, tenant) = domain::accounts::profile(ctx, caller).await?;
        let project_id = tenant.map(|t| t.project_id).unwrap_or_default();
        Ok((project_id, ctx.public_url.trim_end_matches('/').to_owned()))
    }
}

#[server(prefix = "/api", endpoint = "access_keys/list")]
pub async fn list_access_keys() -> Result<AccessKeys, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let keys = domain::access_keys::list(&ctx, &caller).await?;
    let (project_id, endpoint) = ssr::project(&ctx, &caller).await?;
    Ok(AccessKeys {
        keys: keys
            .into_iter()
            .map(|k| AccessKeyRow {
                id: k.id,
                access_key: k.access_key,
                description: k.description,
                status: k.status,
                created: k.created_at,
                last_used: k.last_used_at,
            })
            .collect(),
        project_id,
        endpoint,
        max_active: domain::access_keys::MAX_ACTIVE_PER_USER,
    })
}

/// Creates a key and returns its secret, which is never shown again.
#[server(prefix = "/api", endpoint = "access_keys/create")]
pub async fn create_access_key(description: String) -> Result<NewAccessKey, AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    let created = domain::access_keys::create(&ctx, &caller, &actor, &description).await?;
    let (project_id, endpoint) = ssr::project(&ctx, &caller).await?;
    Ok(NewAccessKey {
        access_key: created.key.access_key,
        secret_key: secrecy::ExposeSecret::expose_secret(&created.secret).to_owned(),
        project_id,
        endpoint,
    })
}

#[server(prefix = "/api", endpoint = "access_keys/revoke")]
pub async fn revoke_access_key(id: String) -> Result<(), AppError> {
    let (ctx, caller) = ssr::caller().await?;
    let actor = ssr::actor(&caller).await;
    domain::access_keys::revoke(&ctx, &caller, &actor, ssr::parse_id(&id, "access key")?).await?;
    Ok(())
}
