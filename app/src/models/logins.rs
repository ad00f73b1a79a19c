//! What the login audit page and a server's login protection exchange with their server
//! functions.

use chrono::{DateTime, Utc};
use proto::login::{FailMode, LoginMethod, LoginOutcome};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One page of the login audit. Empty filters match everything; `page` counts from 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginAuditQuery {
    /// A server's id.
    pub server: String,
    /// Exact account name.
    pub account: String,
    /// `allowed`, `denied` or `open`.
    pub result: String,
    /// UTC, as a `datetime-local` input gives it (`2026-11-26T09:30`), a date, or RFC 3339.
    pub since: String,
    pub until: String,
    /// An offline reason (`fail_safe`, `break_glass`, …): only logins the agent decided alone so.
    pub reason: String,
    pub page: u64,
    pub page_size: u64,
}

impl Default for LoginAuditQuery {
    fn default() -> Self {
        LoginAuditQuery {
            server: String::new(),
            account: String::new(),
            result: String::new(),
            since: String::new(),
            until: String::new(),
            reason: String::new(),
            page: 1,
            page_size: 20,
        }
    }
}

/// A login as the audit shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRow {
    pub id: Uuid,
    pub time: DateTime<Utc>,
    pub server_id: Uuid,
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub service: String,
    pub method: LoginMethod,
    pub result: LoginOutcome,
    pub reason: String,
    /// Decided by the agent alone while the console was unreachable.
    pub offline: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAuditPage {
    pub items: Vec<LoginRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerChoice {
    pub id: Uuid,
    pub name: String,
}

/// A server's login settings as the form shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSettingsView {
    pub fail_mode: FailMode,
    pub allow_unenrolled: bool,
    pub exempt_accounts: Vec<String>,
    pub exempt_networks: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassStatus {
    pub unused: usize,
    /// When the unused codes were issued.
    pub issued: Option<DateTime<Utc>>,
}
