//! Types the UI and its server functions exchange. They compile to wasm, so they do not use
//! the `domain` crate; server functions map domain models into them.

mod access_keys;
mod agents;
mod approvals;
mod error;
mod factors;
mod labels;
pub mod console_auth;
pub mod logins;
mod phones;
mod readiness;
pub mod two_factor;
pub mod users;

pub use access_keys::{AccessKeyRow, AccessKeys, NewAccessKey};
pub use agents::{AgentToken, TokenKind, TokenState};
pub use approvals::{ApprovalDeviceRow, Approvals, DecisionResult, PendingPush, PushDecision, PushStatus};
#[cfg(feature = "ssr")]
pub use error::set_status;
pub use error::{field_label, AppError, FieldError};
pub use factors::{
    AccountMappingRow, AuthenticatorRow, Choice, NewAuthenticator, ServerAccounts,
    SignInHistory, SignInMethods, SignInRow, SteppedUp,
};
pub use labels::{capitalized, login_method_cell, method_cell, Label, Status};
pub use logins::{BreakGlassStatus, LoginAuditPage, LoginAuditQuery, LoginRow, LoginSettingsView, ServerChoice};
pub use phones::{DefaultMethod, PhonesView, PendingPhoneRow, PhoneRow, StepUpCodeSent};
pub use readiness::{ReadinessItem, ReadinessRule};
use serde::{Deserialize, Serialize};

pub use chrono::{DateTime, Utc};
pub use proto::login::{FailMode, LoginMethod, LoginOutcome};
pub use proto::{
    AccessKeyStatus, Channel, MessageKind, Method, OsType, OutboxStatus, Protocol, Role, SubscriptionStatus,
    TwoFactorState, TwoFactorStatus, PAGE_SIZES,
};
pub use uuid::Uuid;

/// A time as the console shows it: in UTC, to the minute. The server and the browser draw the
/// same text from the same value, whatever the browser's time zone.
pub fn utc(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // By hand: chrono's `format` parses its pattern at run time, which carries strftime's
    // parser and formatter into the wasm.
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month(), t.day(), t.hour(), t.minute())
}

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
    pub id: Uuid,
    pub name: String,
    pub ip: String,
    pub os_type: OsType,
    pub os_name: String,
    /// The region's display name.
    pub region: String,
    pub protection_enabled: bool,
    pub agent_online: bool,
    pub last_seen: Option<DateTime<Utc>>,
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
    pub agent_credential_rejected: Option<DateTime<Utc>>,
    /// Logins let in without a second factor by fail mode safe lately (the server's page).
    #[serde(default)]
    pub safe_mode_allows: Option<SafeModeAllows>,
}

/// Logins a server's agent let in without a second factor while the console was unreachable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeModeAllows {
    pub count: u64,
    pub days: i64,
    /// The latest.
    pub last: DateTime<Utc>,
    /// The login audit showing exactly them.
    pub audit_href: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub urn: String,
    pub created: DateTime<Utc>,
    /// Subscriptions that are not canceled, and how many of them are confirmed.
    pub subscriptions: u64,
    pub confirmed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub protocol: Protocol,
    pub endpoint: String,
    pub remark: String,
    pub status: SubscriptionStatus,
    pub created: DateTime<Utc>,
}

/// What a confirmation or unsubscribe link did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkOutcome {
    pub topic_name: String,
    pub topic_display_name: String,
    pub protocol: Protocol,
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
    pub id: Uuid,
    /// The tenant's name; `None` for messages of no tenant.
    pub tenant: Option<String>,
    pub created: DateTime<Utc>,
    pub channel: Channel,
    pub kind: MessageKind,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub time: DateTime<Utc>,
    pub actor: String,
    pub action: proto::audit::AuditAction,
    pub target: String,
    pub detail: String,
    pub source_ip: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    pub id: Uuid,
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
    pub id: Uuid,
    pub name: String,
    pub ip: String,
    pub os_type: OsType,
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
    pub id: Uuid,
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
    pub expires: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c1d2e-0000-4000-8000-000000000001";

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T09:30:40Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_show_in_utc_to_the_minute() {
        assert_eq!(utc(at()), "2026-11-26 09:30 UTC");
    }

    /// The JSON server functions send: ids as strings, times in RFC 3339, enums by their
    /// stored names (what the browser and the API tests read).
    #[test]
    fn rows_keep_their_wire_format() {
        let row = LoginRow {
            id: Uuid::parse_str(ID).unwrap(),
            time: at(),
            server_id: Uuid::parse_str(ID).unwrap(),
            server_name: "web-01".into(),
            account: "root".into(),
            source_ip: "198.51.100.7".into(),
            service: "sshd".into(),
            method: LoginMethod::None,
            result: LoginOutcome::Abandoned,
            reason: String::new(),
            offline: false,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            format!(
                r#"{{"id":"{ID}","time":"2026-11-26T09:30:40Z","server_id":"{ID}","server_name":"web-01","account":"root","source_ip":"198.51.100.7","service":"sshd","method":"none","result":"abandoned","reason":"","offline":false}}"#
            )
        );
        let token = AgentToken {
            id: Uuid::parse_str(ID).unwrap(),
            kind: TokenKind::Reinstall,
            for_server: Some("web-01".into()),
            registered: None,
            created: at(),
            expires: at(),
            state: TokenState::Valid,
            state_at: None,
        };
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            format!(
                r#"{{"id":"{ID}","kind":"re-install","for_server":"web-01","registered":null,"created":"2026-11-26T09:30:40Z","expires":"2026-11-26T09:30:40Z","state":"valid","state_at":null}}"#
            )
        );
        let item = ReadinessItem { rule: ReadinessRule::SshdUsePam, blocker: true, message: "m".into() };
        assert_eq!(serde_json::to_string(&item).unwrap(), r#"{"rule":"sshd_use_pam","blocker":true,"message":"m"}"#);
        let settings = LoginSettingsView {
            fail_mode: FailMode::Safe,
            allow_unenrolled: false,
            exempt_accounts: vec![],
            exempt_networks: vec![],
        };
        assert_eq!(
            serde_json::to_string(&settings).unwrap(),
            r#"{"fail_mode":"safe","allow_unenrolled":false,"exempt_accounts":[],"exempt_networks":[]}"#
        );
    }
}
