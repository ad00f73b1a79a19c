//! The end user's self-service portal.

use crate::models::{AppError, CurrentUser};
use leptos::prelude::*;

/// The end user's own account. Only end users have a portal.
#[server(prefix = "/api", endpoint = "portal/account")]
pub async fn my_account() -> Result<CurrentUser, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::EndUser)?;
    let (user, tenant) = domain::accounts::profile(&ctx, &caller).await?;
    Ok(CurrentUser {
        email: user.email,
        display_name: user.display_name,
        role: caller.role,
        tenant_name: tenant.map(|t| t.name),
    })
}
