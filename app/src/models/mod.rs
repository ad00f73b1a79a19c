//! Types the UI and its server functions exchange. They compile to wasm, so they do not use
//! the `domain` crate; server functions map domain models into them.

mod access_keys;
mod error;
mod factors;
pub mod logins;
pub mod two_factor;

pub use access_keys::{AccessKeyRow, AccessKeys, NewAccessKey};
#[cfg(feature = "ssr")]
pub use error::set_status;
pub use error::{field_label, AppError, FieldError};
pub use factors::{
    AccountMappingRow, AuthenticatorRow, Choice, EndUserRow, EnrolmentOpened, NewAuthenticator, ServerAccounts,
    SignInHistory, SignInMethods, SignInRow, SteppedUp,
};
pub use logins::{BreakGlassStatus, LoginAuditPage, LoginAuditQuery, LoginRow, LoginSettingsView, ServerChoice};
use serde::{Deserialize, Serialize};

pub use proto::{Method, OsType, Protocol, Role, SubscriptionStatus, TwoFactorState, TwoFactorStatus, PAGE_SIZES};

/// Where a role lands after signing in.
pub trait RoleHome {
    fn home(self) -> &'static str;
}

impl RoleHome for Role {
    fn home(self) -> &'static str {
        match self {
            Role::Operator => "/admin/tenants",
            Role::TenantAdmin => "/hss/two-factor",
            Role::EndUser => "/portal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub tenant_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRow {
    pub id: String,
    pub name: String,
    pub ip: String,
    pub os_type: String,
    pub os_name: String,
    /// The region's display name.
    pub region: String,
    pub protection_enabled: bool,
    pub agent_online: bool,
    pub last_seen: Option<String>,
    /// What stands in the way of 2FA on this server: blockers first, then warnings.
    pub readiness: Vec<ReadinessItem>,
    pub agent_version: Option<String>,
    pub openssh_version: Option<String>,
    /// Every address the agent reported.
    pub ips: Vec<String>,
    /// The 2FA status as the tab shows it, e.g. "Enabled (verification code)"; set on the
    /// server's own page.
    pub two_factor: Option<String>,
    /// A 2FA change is on its way (waiting for the apply delay or for the agent): it can be
    /// canceled.
    #[serde(default)]
    pub two_factor_cancelable: bool,
    /// When a credential for this server was last refused, while that is later than its
    /// agent's last heartbeat (set on the server's own page).
    #[serde(default)]
    pub agent_credential_rejected: Option<String>,
    /// Logins let in without a second factor by fail mode safe lately (the server's page).
    #[serde(default)]
    pub safe_mode_allows: Option<SafeModeAllows>,
}

/// Logins a server's agent let in without a second factor while the console was unreachable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeModeAllows {
    pub count: u64,
    pub days: i64,
    /// The latest, as the console shows times.
    pub last: String,
    /// The login audit showing exactly them.
    pub audit_href: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadinessItem {
    /// The rule's name, e.g. `sshd_use_pam`.
    pub rule: String,
    /// Blocks enabling 2FA; otherwise a warning.
    pub blocker: bool,
    /// Names the server, the rule and the fix.
    pub message: String,
}

impl ReadinessItem {
    /// Whether it refuses a save. A failed last change does not: saving again (or Retry) is
    /// how it is fixed, and domain takes that save.
    pub fn refuses_save(&self) -> bool {
        self.blocker && self.rule != "last_apply_failed"
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicRow {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub urn: String,
    pub created: String,
    /// Subscriptions that are not canceled, and how many of them are confirmed.
    pub subscriptions: u64,
    pub confirmed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub remark: String,
    pub status: SubscriptionStatus,
    pub created: String,
}

/// What a confirmation or unsubscribe link did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkOutcome {
    pub topic_name: String,
    pub topic_display_name: String,
    pub protocol: String,
    pub endpoint: String,
    pub already: bool,
}

/// The outbox view operators ask for; empty strings mean "all". Carried in the URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxQuery {
    /// A tenant's id.
    pub tenant: String,
    /// `pending`, `sent`, `held` or `failed`.
    pub status: String,
    /// `email`, `sms` or `voice`.
    pub channel: String,
    pub page: u64,
    pub page_size: u64,
}

impl Default for OutboxQuery {
    fn default() -> Self {
        OutboxQuery { tenant: String::new(), status: String::new(), channel: String::new(), page: 1, page_size: 20 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxPage {
    pub items: Vec<OutboxRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: String,
    /// The tenant's name; `None` for messages of no tenant.
    pub tenant: Option<String>,
    pub created: String,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub source_ip: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub admins: u64,
    pub end_users: u64,
    pub servers: u64,
    pub servers_online: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub id: String,
    pub name: String,
}

/// A server as the Two-Factor Authentication tab lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorRow {
    pub id: String,
    pub name: String,
    pub ip: String,
    pub os_type: String,
    pub os_name: String,
    pub agent_online: bool,
    /// The Status column, with the seconds left of the apply delay or the failure's reason.
    #[serde(flatten)]
    pub status: TwoFactorStatus,
    /// What the agent last acknowledged.
    pub in_force: TwoFactorSetting,
    /// The Method column: of an enable on its way, else of what is in force.
    pub method: Option<Method>,
    /// The Topic column (the topic's display name, for SMS/Email): likewise.
    pub topic: Option<String>,
    /// That topic's URN.
    pub topic_urn: Option<String>,
    pub readiness: Vec<ReadinessItem>,
}

/// One 2FA setting of a server: on or off, and with what.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorSetting {
    pub on: bool,
    pub method: Option<Method>,
    /// The topic's display name, for SMS/Email.
    pub topic: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorPage {
    pub items: Vec<TwoFactorRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
    /// How long a saved change waits before it is applied.
    pub apply_delay_secs: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicOption {
    pub id: String,
    pub name: String,
    pub display_name: String,
}

/// A server a change left alone, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusedServer {
    pub name: String,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub changed: usize,
    pub refused: Vec<RefusedServer>,
    /// Servers a save skipped: the change would have changed nothing on them.
    #[serde(default)]
    pub unchanged: Vec<RefusedServer>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstallCommand {
    pub command: String,
    pub expires: String,
}
