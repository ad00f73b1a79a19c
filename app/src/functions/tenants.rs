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
            id: t.tenant.id,
            name: t.tenant.name,
            project_id: t.tenant.project_id,
            admins: t.admins,
            end_users: t.end_users,
            servers: t.servers,
            servers_online: t.servers_online,
        })
        .collect())
}

/// Operators: registers a customer's server before its agent does.
#[server(prefix = "/api", endpoint = "admin/servers/register")]
pub async fn pre_register_server(
    tenant_id: String,
    name: String,
    ip: String,
    os_type: String,
    region: String,
) -> Result<String, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    caller.require_role(domain::Role::Operator)?;
    let actor = super::ssr::actor(&caller).await;
    let new = domain::servers::NewServer {
        tenant_id: super::ssr::parse_id(&tenant_id, "tenant")?,
        name,
        ip,
        os_type,
        region,
    };
    let server = domain::servers::pre_register(&ctx, &caller, &actor, &new).await?;
    Ok(server.name)
}
