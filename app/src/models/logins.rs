//! What the login audit page and a server's login protection exchange with their server
//! functions.

use serde::{Deserialize, Serialize};

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
    pub id: String,
    pub time: String,
    pub server_id: String,
    pub server_name: String,
    pub account: String,
    pub source_ip: String,
    pub service: String,
    /// `sms`, `code` or `none`.
    pub method: String,
    /// `allowed`, `denied`, `open` (still running) or `abandoned`.
    pub result: String,
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
    pub id: String,
    pub name: String,
}

/// A server's login settings as the form shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSettingsView {
    /// `secure` or `safe`.
    pub fail_mode: String,
    pub allow_unenrolled: bool,
    pub exempt_accounts: Vec<String>,
    pub exempt_networks: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassStatus {
    pub unused: usize,
    /// When the unused codes were issued.
    pub issued: Option<String>,
}
