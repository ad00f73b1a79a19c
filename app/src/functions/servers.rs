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
        ips: s.ips.split(',').map(str::trim).filter(|ip| !ip.is_empty()).map(str::to_owned).collect(),
        agent_version: s.agent_version,
        openssh_version: s.openssh_version,
        two_factor: None,
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
    use domain::rollout::Status;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::from(domain::DomainError::NotFound("server")))?;
    let r = domain::two_factor::get(&ctx, &caller, id).await?;
    let how = match r.config.as_ref().map(|c| c.method.as_str()) {
        Some("sms") => {
            format!("SMS/Email{}", r.topic.as_ref().map(|t| format!(", topic {}", t.display_name)).unwrap_or_default())
        }
        _ => "verification code".to_owned(),
    };
    let two_factor = match r.status {
        Status::Enabled => format!("Enabled ({how})"),
        Status::Disabled => "Disabled".to_owned(),
        Status::Enabling { seconds_left } if seconds_left > 0 => {
            format!("Enabling… ({how}; applies in {seconds_left} s)")
        }
        Status::Enabling { .. } => format!("Enabling… ({how}; waiting for the agent)"),
        Status::Disabling { seconds_left } if seconds_left > 0 => format!("Disabling… (applies in {seconds_left} s)"),
        Status::Disabling { .. } => "Disabling… (waiting for the agent)".to_owned(),
        Status::Failed { reason } => format!("Failed: {reason}"),
    };
    Ok(ServerRow { two_factor: Some(two_factor), ..row(r.server) })
}

#[server(prefix = "/api", endpoint = "regions")]
pub async fn list_regions() -> Result<Vec<Region>, AppError> {
    Ok(domain::servers::REGIONS
        .iter()
        .map(|(id, name)| Region { id: id.to_string(), name: name.to_string() })
        .collect())
}
