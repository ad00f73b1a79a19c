//! Tenant accounts, for operators.

use crate::models::{AppError, TenantRow};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "admin/tenants")]
pub async fn list_tenants() -> Result<Vec<TenantRow>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let tenants = domain::tenants::list(&ctx, &caller).await?;
    Ok(tenants
        .into_iter()
        .map(|t| TenantRow {
            name: t.tenant.name,
            project_id: t.tenant.project_id,
            admins: t.admins,
            end_users: t.end_users,
            servers: t.servers,
            servers_online: t.servers_online,
        })
        .collect())
}
