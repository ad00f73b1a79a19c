//! The login audit, and a server's login protection: fail mode, exemptions, unenrolled
//! accounts and break-glass codes.

use crate::models::{AppError, BreakGlassStatus, LoginAuditPage, LoginAuditQuery, LoginSettingsView, ServerChoice};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) mod convert {
    use crate::models::{AppError, LoginRow, LoginSettingsView};
    use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
    use domain::DomainError;

    pub fn row(r: domain::logins::audit::AuditRow) -> LoginRow {
        LoginRow {
            id: r.id,
            time: r.at,
            server_id: r.server_id,
            server_name: r.server_name,
            account: r.account,
            source_ip: r.source_ip,
            service: r.service,
            method: r.method,
            result: r.result,
            reason: r.reason,
            offline: r.offline,
        }
    }

    pub fn settings(s: domain::logins::LoginSettings) -> LoginSettingsView {
        LoginSettingsView {
            fail_mode: s.fail_mode,
            allow_unenrolled: s.allow_unenrolled,
            exempt_accounts: s.exempt_accounts,
            exempt_networks: s.exempt_networks.iter().map(ToString::to_string).collect(),
        }
    }

    /// A time filter as typed, in UTC. A value to the minute or day covers all of it, so
    /// "until 09:30" includes a login at 09:30:40, which the table shows as 09:30.
    pub fn time(field: &'static str, value: &str, end: bool) -> Result<Option<DateTime<Utc>>, AppError> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(None);
        }
        let last = |span: Duration| if end { span - Duration::milliseconds(1) } else { Duration::zero() };
        let t = if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            Some(t.with_timezone(&Utc))
        } else if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
            Some(t.and_utc())
        } else if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M") {
            Some(t.and_utc() + last(Duration::minutes(1)))
        } else {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc() + last(Duration::days(1)))
        };
        t.map(Some).ok_or_else(|| {
            DomainError::validation(field, "must be a UTC date and time such as 2026-11-26T09:30").into()
        })
    }

    /// One entry a line; blank lines are dropped, so `exempt_networks[1]` is the second entry.
    pub fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }
}

/// One page of the tenant's login audit, newest first.
#[server(prefix = "/api", endpoint = "logins/list")]
pub async fn list_logins(#[server(default)] query: LoginAuditQuery) -> Result<LoginAuditPage, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let server_id = match query.server.trim() {
        "" => None,
        id => Some(super::ssr::parse_id(id, "server")?),
    };
    let q = domain::logins::audit::AuditQuery {
        server_id,
        account: Some(query.account),
        result: Some(query.result),
        since: convert::time("since", &query.since, false)?,
        until: convert::time("until", &query.until, true)?,
        offline_reason: Some(query.reason),
        page: query.page,
        page_size: query.page_size,
    };
    let page = domain::logins::audit::list(&ctx, &caller, &q).await?;
    Ok(LoginAuditPage {
        items: page.items.into_iter().map(convert::row).collect(),
        total: page.total,
        page: query.page,
        page_size: query.page_size,
    })
}

/// The tenant's servers, for the audit's server filter.
#[server(prefix = "/api", endpoint = "logins/servers")]
pub async fn login_servers() -> Result<Vec<ServerChoice>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let servers = domain::logins::audit::servers(&ctx, &caller).await?;
    Ok(servers.into_iter().map(|(id, name)| ServerChoice { id, name }).collect())
}

#[server(prefix = "/api", endpoint = "logins/settings")]
pub async fn login_settings(server_id: String) -> Result<LoginSettingsView, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let id = super::ssr::parse_id(&server_id, "server")?;
    Ok(convert::settings(domain::logins::settings::get(&ctx, &caller, id).await?))
}

/// Saves a server's login settings from its form: the lists are one entry a line, and the
/// checkbox is present when ticked.
#[server(prefix = "/api", endpoint = "logins/settings/save")]
pub async fn save_login_settings(
    server_id: String,
    #[server(default)] fail_mode: String,
    #[server(default)] allow_unenrolled: Option<String>,
    #[server(default)] exempt_accounts: String,
    #[server(default)] exempt_networks: String,
) -> Result<LoginSettingsView, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let id = super::ssr::parse_id(&server_id, "server")?;
    let change = domain::logins::SettingsChange {
        fail_mode,
        allow_unenrolled: matches!(allow_unenrolled.as_deref().map(str::trim), Some("on" | "true" | "1")),
        exempt_accounts: convert::lines(&exempt_accounts),
        exempt_networks: convert::lines(&exempt_networks),
    };
    let actor = super::ssr::actor(&caller).await;
    Ok(convert::settings(domain::logins::settings::update(&ctx, &caller, &actor, id, &change).await?))
}

#[server(prefix = "/api", endpoint = "logins/break_glass")]
pub async fn break_glass(server_id: String) -> Result<BreakGlassStatus, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let id = super::ssr::parse_id(&server_id, "server")?;
    let (unused, issued) = domain::logins::settings::break_glass_status(&ctx, &caller, id).await?;
    Ok(BreakGlassStatus { unused, issued })
}

/// A new set of break-glass codes, returned this once; the unused earlier ones stop working.
#[server(prefix = "/api", endpoint = "logins/break_glass/issue")]
pub async fn issue_break_glass(server_id: String) -> Result<Vec<String>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let id = super::ssr::parse_id(&server_id, "server")?;
    let actor = super::ssr::actor(&caller).await;
    Ok(domain::logins::settings::issue_break_glass(&ctx, &caller, &actor, id).await?)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::convert::{lines, time};

    #[test]
    fn time_filters_cover_the_minute_or_day_typed() {
        let t = |v: &str, end: bool| time("since", v, end).unwrap().map(|t| t.to_rfc3339());
        assert_eq!(t("", false), None);
        assert_eq!(t("2026-11-26T09:30", false).unwrap(), "2026-11-26T09:30:00+00:00");
        assert_eq!(t("2026-11-26T09:30", true).unwrap(), "2026-11-26T09:30:59.999+00:00");
        assert_eq!(t("2026-11-26", true).unwrap(), "2026-11-26T23:59:59.999+00:00");
        assert_eq!(t("2026-11-26T09:30:00+01:00", false).unwrap(), "2026-11-26T08:30:00+00:00");
        let err = time("until", "yesterday", true).unwrap_err();
        assert!(err.to_string().starts_with("Until: "), "{err}");
    }

    #[test]
    fn list_fields_are_one_entry_a_line() {
        assert_eq!(lines("backup\r\n\n  deploy \n"), ["backup", "deploy"]);
    }
}
