//! What the console's own sign-in settings exchange: a tenant admin's or operator's console
//! authenticator (never its seed after enrolment).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The caller's console authenticator, as they see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleAuthenticatorRow {
    pub name: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// The Sign-in and security page's view of the caller's second step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleFactorView {
    /// Tenant admins and operators may have one; end users use the portal's methods instead.
    pub may_enrol: bool,
    pub authenticator: Option<ConsoleAuthenticatorRow>,
}
