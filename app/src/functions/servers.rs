//! A server's own page, and the regions. The Two-Factor Authentication tab's list is in
//! `two_factor.rs`.

use crate::models::{AppError, Region, ServerRow};
use leptos::prelude::*;

/// What stands in the way of 2FA on a server (`two_factor::Row::readiness`): blockers first,
/// then warnings.
#[cfg(feature = "ssr")]
pub(crate) fn readiness_items(findings: &[domain::readiness::Finding]) -> Vec<crate::models::ReadinessItem> {
    use crate::models::ReadinessItem;
    let mut readiness = findings
        .iter()
        .map(|f| ReadinessItem {
            rule: f.rule,
            blocker: f.severity == domain::readiness::Severity::Blocker,
            message: f.message.clone(),
        })
        .collect::<Vec<_>>();
    readiness.sort_by_key(|f| !f.blocker);
    readiness
}

#[cfg(feature = "ssr")]
fn row(r: &domain::two_factor::Row) -> ServerRow {
    let s = &r.server;
    let region = domain::servers::REGIONS
        .iter()
        .find(|(id, _)| *id == s.region)
        .map(|(_, name)| name.to_string())
        .unwrap_or_else(|| s.region.clone());
    ServerRow {
        id: s.id,
        name: s.name.clone(),
        ip: s.ip.clone(),
        os_type: s.os_type,
        os_name: s.os_name.clone(),
        region,
        protection_enabled: s.protection_enabled,
        agent_online: r.agent_online,
        last_seen: s.last_seen_at,
        readiness: readiness_items(&r.readiness),
        ips: s.ips.split(',').map(str::trim).filter(|ip| !ip.is_empty()).map(str::to_owned).collect(),
        agent_version: s.agent_version.clone(),
        openssh_version: s.openssh_version.clone(),
        two_factor: None,
        two_factor_cancelable: r.effective.pending.is_some(),
        agent_credential_rejected: None,
        safe_mode_allows: None,
    }
}

#[server(prefix = "/api", endpoint = "servers/get")]
pub async fn get_server(id: String) -> Result<ServerRow, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    use domain::rollout::{Method, Status};
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::from(domain::DomainError::NotFound("server")))?;
    let r = domain::two_factor::get(&ctx, &caller, id).await?;
    let shown = r.effective.shown();
    let method = shown.method.unwrap_or(Method::Code);
    let topic = match method {
        Method::Sms => shown.topic.as_ref().map(|t| format!(", topic {}", t.display_name)).unwrap_or_default(),
        Method::Code => String::new(),
    };
    let how = format!("{}{topic}", method.label());
    let in_force = &r.effective.in_force;
    let two_factor = match &r.status {
        Status::Enabled => format!("Enabled ({how})"),
        Status::Disabled => "Disabled".to_owned(),
        Status::Enabling { seconds_left } if *seconds_left > 0 => {
            format!("Enabling… ({how}; applies in {seconds_left} s)")
        }
        Status::Enabling { .. } => format!("Enabling… ({how}; waiting for the agent)"),
        Status::Disabling { seconds_left } if *seconds_left > 0 => format!("Disabling… (applies in {seconds_left} s)"),
        Status::Disabling { .. } => "Disabling… (waiting for the agent)".to_owned(),
        // A failed change leaves what was in force; a failed first enable leaves 2FA off.
        Status::Failed { reason } if in_force.on => format!("Failed: {reason}. Still in force: {how}."),
        Status::Failed { reason } => format!("Failed: {reason}. 2FA is off on this server."),
    };
    let rejected = domain::agents::credential_rejected(&ctx, &r.server).await?;
    let allows = domain::logins::audit::safe_mode_allows(&ctx, &caller, id).await?;
    let safe_mode_allows = allows.map(|a| crate::models::SafeModeAllows {
        count: a.count,
        days: domain::logins::audit::SAFE_MODE_LOOKBACK_DAYS,
        last: a.last_at,
        audit_href: format!(
            "/hss/login-audit?server={id}&reason=fail_safe&since={}",
            a.since.format("%Y-%m-%dT%H:%M")
        ),
    });
    Ok(ServerRow {
        two_factor: Some(two_factor),
        agent_credential_rejected: rejected,
        safe_mode_allows,
        ..row(&r)
    })
}

#[server(prefix = "/api", endpoint = "regions")]
pub async fn list_regions() -> Result<Vec<Region>, AppError> {
    Ok(domain::servers::REGIONS
        .iter()
        .map(|(id, name)| Region { id: id.to_string(), name: name.to_string() })
        .collect())
}

/// Remembers the region chosen in the top bar (a cookie, so a reload keeps it). Empty means
/// all regions.
#[server(prefix = "/api", endpoint = "regions/choose")]
pub async fn choose_region(region: String) -> Result<(), AppError> {
    use crate::components::layout::REGION_COOKIE;
    let region = region.trim();
    if !region.is_empty() && !domain::servers::REGIONS.iter().any(|(id, _)| *id == region) {
        return Err(AppError::Validation {
            field: "region".into(),
            message: "must be one of the listed regions".into(),
        });
    }
    // Only the server reads it (pages carry the region they were drawn with); Secure as the
    // session cookie is, when the console is served over HTTPS.
    let secure = if super::ssr::ctx()?.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = if region.is_empty() {
        format!("{REGION_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly{secure}")
    } else {
        format!("{REGION_COOKIE}={region}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}")
    };
    if let (Some(res), Ok(value)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&cookie))
    {
        res.append_header(http::header::SET_COOKIE, value);
    }
    Ok(())
}
