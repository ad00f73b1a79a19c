//! The tenant's servers, for the Two-Factor Authentication tab.

use crate::models::{AppError, Region, ServerPage, ServerRow};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn row(s: domain::entities::server::Model) -> ServerRow {
    let mut readiness: Vec<crate::models::ReadinessItem> = domain::servers::readiness(&s)
        .into_iter()
        .map(|f| crate::models::ReadinessItem {
            rule: f.rule.to_owned(),
            blocker: f.severity == domain::readiness::Severity::Blocker,
            message: f.message,
        })
        .collect();
    readiness.sort_by_key(|f| !f.blocker);
    let region = domain::servers::REGIONS
        .iter()
        .find(|(id, _)| *id == s.region)
        .map(|(_, name)| name.to_string())
        .unwrap_or(s.region);
    ServerRow {
        id: s.id.to_string(),
        name: s.name,
        ip: s.ip,
        os_type: s.os_type,
        os_name: s.os_name,
        region,
        protection_enabled: s.protection_enabled,
        agent_online: s.agent_status == "online",
        last_seen: s.last_seen_at.map(super::ssr::datetime),
        readiness,
    }
}

/// One page of servers. `page` counts from 1; `region` empty means all regions.
#[server(prefix = "/api", endpoint = "servers/list")]
pub async fn list_servers(search: String, region: String, page: u64, page_size: u64) -> Result<ServerPage, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    if page == 0 {
        return Err(domain::DomainError::validation("page", "must be 1 or more").into());
    }
    let q = domain::servers::ServerQuery { search: Some(search), region: Some(region), page: page - 1, page_size };
    let result = domain::servers::list(&ctx, &caller, &q).await?;
    Ok(ServerPage { items: result.items.into_iter().map(row).collect(), total: result.total, page, page_size })
}

#[server(prefix = "/api", endpoint = "servers/get")]
pub async fn get_server(id: String) -> Result<ServerRow, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::from(domain::DomainError::NotFound("server")))?;
    Ok(row(domain::servers::get(&ctx, &caller, id).await?))
}

#[server(prefix = "/api", endpoint = "regions")]
pub async fn list_regions() -> Result<Vec<Region>, AppError> {
    Ok(domain::servers::REGIONS
        .iter()
        .map(|(id, name)| Region { id: id.to_string(), name: name.to_string() })
        .collect())
}
