//! The portal's sign-in history with filters: the end user's own logins to servers. The rules
//! are `domain::logins::history`'s.

use crate::models::{AppError, ServerChoice};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use proto::login::{LoginOutcome, SignInMethod};
use serde::{Deserialize, Serialize};

/// The history's filters, as the page's URL carries them. Empty ones match everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    /// `allowed`, `denied`, `open` or `abandoned`.
    pub result: String,
    /// A server's id.
    pub server: String,
    /// UTC dates (`2026-12-06`) or times, as the login audit takes them; `until` covers its day.
    pub since: String,
    pub until: String,
    /// How the login was proven (`push`, `authenticator`, …).
    pub method: String,
    pub page: u64,
    pub page_size: u64,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        Self {
            result: String::new(),
            server: String::new(),
            since: String::new(),
            until: String::new(),
            method: String::new(),
            page: 1,
            page_size: 20,
        }
    }
}

/// One of the person's logins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub time: DateTime<Utc>,
    pub server: String,
    pub account: String,
    pub source_ip: String,
    pub result: LoginOutcome,
    pub method: Option<SignInMethod>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub items: Vec<HistoryRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

impl crate::components::list::Paged for HistoryPage {
    fn counts(&self) -> (usize, u64, u64, u64) {
        (self.items.len(), self.total, self.page, self.page_size)
    }
}

/// One page of the caller's logins, newest first.
#[server(prefix = "/api", endpoint = "portal/history/search")]
pub async fn search_history(#[server(default)] query: HistoryQuery) -> Result<HistoryPage, AppError> {
    use domain::DomainError;
    let (ctx, caller) = super::ssr::caller().await?;
    let result = match query.result.trim() {
        "" => None,
        r => Some(LoginOutcome::parse(r).ok_or_else(|| {
            AppError::from(DomainError::validation("result", "must be allowed, denied, open or abandoned"))
        })?),
    };
    let method = match query.method.trim() {
        "" => None,
        m => Some(SignInMethod::parse(m).ok_or_else(|| {
            AppError::from(DomainError::validation(
                "method",
                "must be push, authenticator, recovery, sms, call or portal_code",
            ))
        })?),
    };
    let server_id = match query.server.trim() {
        "" => None,
        id => Some(super::ssr::parse_id(id, "server")?),
    };
    let q = domain::logins::history::HistoryQuery {
        result,
        server_id,
        since: super::logins::convert::time("since", &query.since, false)?,
        until: super::logins::convert::time("until", &query.until, true)?,
        method,
        page: query.page,
        page_size: query.page_size,
    };
    let found = domain::logins::history::search(&ctx, &caller, &q).await?;
    Ok(HistoryPage {
        items: found
            .items
            .into_iter()
            .map(|r| HistoryRow {
                method: domain::logins::history::method_of(&r.reason),
                time: r.at,
                server: r.server_name,
                account: r.account,
                source_ip: r.source_ip,
                result: r.result,
                reason: r.reason,
            })
            .collect(),
        total: found.total,
        page: query.page,
        page_size: query.page_size,
    })
}

/// The servers the caller has logins on, for the server filter.
#[server(prefix = "/api", endpoint = "portal/history/servers")]
pub async fn history_servers() -> Result<Vec<ServerChoice>, AppError> {
    let (ctx, caller) = super::ssr::caller().await?;
    let found = domain::logins::history::servers(&ctx, &caller).await?;
    Ok(found.into_iter().map(|(id, name)| ServerChoice { id, name }).collect())
}
