//! The agent API (`<console>/agent/v1`): the JSON bodies the agent and the console exchange.
//! Existing agents depend on these field names and value strings; change them only with a new
//! API version.

use crate::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The agent API's paths, written once: the console routes them, the agent's client calls them,
/// and the tests use them.
pub mod paths {
    use uuid::Uuid;

    macro_rules! v1 {
        ($path:literal) => {
            concat!("/agent/v1", $path)
        };
    }

    /// Every path starts with this.
    pub const BASE: &str = v1!("");
    pub const OPENAPI: &str = v1!("/openapi.json");
    pub const REGISTER: &str = v1!("/register");
    pub const FACTS: &str = v1!("/facts");
    pub const HEARTBEAT: &str = v1!("/heartbeat");
    /// The long poll for a revision (`?after=&wait=`).
    pub const CONFIG: &str = v1!("/config");
    /// The same wait over one WebSocket the agent keeps open: each [`super::StreamWait`] it
    /// sends is answered by one [`super::StreamAnswer`]. A waiting agent then costs the console
    /// its socket and a few kB, not an HTTP connection's buffers and a request in flight.
    pub const CONFIG_STREAM: &str = v1!("/config/stream");
    pub const ACK: &str = v1!("/ack");
    pub const LOGINS: &str = v1!("/logins");
    pub const LOGINS_OFFLINE: &str = v1!("/logins/offline");
    /// [`login_answer`]'s route, with its parameter as the router and the OpenAPI document name it.
    pub const LOGIN_ANSWER: &str = v1!("/logins/{login_id}/answer");
    pub const LOGIN_POLICY: &str = v1!("/login-policy");

    /// Where the answer to login `login_id` goes.
    pub fn login_answer(login_id: Uuid) -> String {
        LOGIN_ANSWER.replace("{login_id}", &login_id.to_string())
    }

    /// The long poll for a revision newer than `after`, held up to `wait` seconds.
    pub fn config(after: i64, wait: u64) -> String {
        format!("{CONFIG}?after={after}&wait={wait}")
    }
}

/// What an agent reports about its server; sent at registration and on every facts report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facts {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::hostname))]
    pub hostname: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::ips))]
    pub ips: Vec<String>,
    /// `linux` or `windows` ([`crate::OsType`]). A string on the wire so that the console can
    /// name every bad fact in one answer rather than stop at the first.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::OsType))]
    pub os_type: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub os_name: String,
    /// As `sshd -V` prints it, e.g. `OpenSSH_9.2p1`; `None` when sshd could not be run.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub openssh_version: Option<String>,
    pub sshd_use_pam: Option<bool>,
    pub sshd_kbd_interactive: Option<bool>,
    pub sshd_permit_empty_passwords: Option<bool>,
    pub selinux: Option<SelinuxMode>,
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub agent_version: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::conflicting_software))]
    pub conflicting_software: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::must_change_password_accounts))]
    pub must_change_password_accounts: Vec<String>,
    /// sshd `Match` blocks that set UsePAM, KbdInteractiveAuthentication or AuthenticationMethods,
    /// at most [`limits::LIST`], texts cut to [`limits::TEXT`] characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub sshd_match_overrides: Vec<SshdMatchOverride>,
    /// How many more such settings the agent found than it lists.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub sshd_match_overrides_more: u32,
    /// Whether sshd reads HostGuard's drop-in and what it reads before it; `None` from agents
    /// older than this field, or when sshd_config could not be read.
    #[serde(default)]
    pub sshd_drop_in: Option<SshdDropInCheck>,
    /// The agent's check of sshd's PAM auth stack with HostGuard's line where it would go; `None`
    /// from agents older than this field.
    #[serde(default)]
    pub pam_stack: Option<PamStackCheck>,
}

/// The longest lists and texts the console takes in a facts report; agents cut theirs to fit
/// (and count what they left out) rather than have the whole report refused.
pub mod limits {
    /// Entries of `sshd_match_overrides`, `earlier_settings` and `pam_stack.problems`.
    pub const LIST: usize = 64;
    /// Characters of each text in those entries.
    pub const TEXT: usize = 512;
}

/// What stands between HostGuard's PAM line and a safe login: a line before it that can end the
/// login with success, a failed password that reaches it, or a line the agent cannot read. The
/// agent refuses to apply 2FA while there is any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PamStackCheck {
    /// Empty when the stack is safe.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub problems: Vec<PamStackProblem>,
    /// How many more problems the agent found than it lists.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub more: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PamStackProblem {
    /// The file, as the server names it (e.g. `/etc/pam.d/common-auth`).
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub file: String,
    /// 1-based; 0 when the problem is the file as a whole.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub line: u32,
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub problem: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub fix: String,
}

/// Whether HostGuard's drop-in (`/etc/ssh/sshd_config.d/50-hostguard.conf`) would take effect.
/// sshd keeps the first value it reads for a keyword, so the drop-in wins unless sshd_config does
/// not include `sshd_config.d/*.conf` or something sets the same keyword before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshdDropInCheck {
    /// sshd_config has an `Include` of `sshd_config.d/*.conf`.
    pub included: bool,
    /// Every global `UsePAM`, `KbdInteractiveAuthentication` (or `ChallengeResponseAuthentication`)
    /// and `AuthenticationMethods` that sshd reads before the drop-in, in the order it reads them;
    /// harmless values (`yes`) included.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub earlier_settings: Vec<SshdSetting>,
    /// How many more such settings the agent found than it lists.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub more: u32,
}

/// One sshd setting, where the agent found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshdSetting {
    /// The file, as the server names it.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub file: String,
    /// 1-based.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub line: u32,
    /// As sshd spells it, e.g. `KbdInteractiveAuthentication`.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub keyword: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub value: String,
}

/// A setting inside an sshd `Match` block that 2FA depends on, as the agent found it. sshd
/// applies it only to logins that match, so the global settings can look ready while, say,
/// `Match User deploy` / `AuthenticationMethods publickey` lets those logins skip the code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshdMatchOverride {
    /// The file the `Match` block is in.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub file: String,
    /// The line of the setting in that file (1-based).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, maximum = 4294967295i64))]
    pub line: u32,
    /// The `Match` criteria, e.g. `User deploy`.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub criteria: String,
    /// `AuthenticationMethods`, `UsePAM` or `KbdInteractiveAuthentication`.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub keyword: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub value: String,
}

crate::wire_enum! {
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    SelinuxMode {
        Enforcing => "enforcing",
        Permissive => "permissive",
        Disabled => "disabled",
    }
}

/// `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// The one-time token from the console's install command.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub install_token: String,
    pub facts: Facts,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest").field("install_token", &"[REDACTED]").field("facts", &self.facts).finish()
    }
}

/// `Debug` leaves the credential out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub server_id: Uuid,
    /// Send as `Authorization: Bearer <credential>` from now on. Shown once.
    pub credential: String,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("server_id", &self.server_id)
            .field("credential", &"[REDACTED]")
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub agent_version: String,
    /// The revision the agent runs; 0 before its first. At most 2^53 - 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 9007199254740991i64))]
    pub applied_revision: i64,
}

/// A revision of the server's 2FA configuration for the agent to apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub revision: i64,
    pub enabled: bool,
    /// `sms` (codes to a topic's endpoints) or `code` (the user's own factors). The console
    /// always sends it; agents accept a disabling revision without it.
    #[serde(default)]
    pub method: Option<Method>,
    #[serde(default)]
    pub topic_urn: Option<String>,
    pub server_id: Uuid,
    /// The console that handed it out. Agents ask the console they were configured with.
    #[serde(default)]
    pub console_url: String,
}

/// One wait on the config stream ([`paths::CONFIG_STREAM`]): what a long poll's query says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamWait {
    /// Answer with a revision newer than this one.
    pub after: i64,
    /// Seconds to wait for one, as the long poll's `wait` (0 to 30).
    pub wait: u64,
}

/// The console's answer to one [`StreamWait`]: the revision, or none after `wait` seconds; or an
/// error, as the long poll would have answered it, after which the console closes the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
    /// The HTTP status the long poll would have answered with, and its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// The agent's outcome of applying a revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckRequest {
    pub revision: i64,
    pub ok: bool,
    /// Why it could not be applied, when `ok` is false.
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckResponse {
    /// False for a revision that is no longer the newest; that is not an error.
    pub accepted: bool,
}

/// The body of every 4xx/5xx answer: a stable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub error_code: String,
    pub error_msg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_ones_agents_call() {
        assert_eq!(paths::REGISTER, "/agent/v1/register");
        assert_eq!(paths::LOGIN_POLICY, "/agent/v1/login-policy");
        let id = Uuid::nil();
        assert_eq!(paths::login_answer(id), "/agent/v1/logins/00000000-0000-0000-0000-000000000000/answer");
        assert_eq!(paths::config(3, 30), "/agent/v1/config?after=3&wait=30");
    }

    /// The JSON agents already in the field send and read.
    #[test]
    fn the_wire_format_is_unchanged() {
        let a = Assignment {
            revision: 3,
            enabled: true,
            method: Some(Method::Sms),
            topic_urn: Some("urn:smn:r:p:t".into()),
            server_id: Uuid::nil(),
            console_url: "https://c".into(),
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"revision": 3, "enabled": true, "method": "sms", "topic_urn": "urn:smn:r:p:t",
                "server_id": "00000000-0000-0000-0000-000000000000", "console_url": "https://c"})
        );
        let f: Facts = serde_json::from_value(serde_json::json!({
            "hostname": "h", "ips": [], "os_type": "linux", "os_name": "Debian", "openssh_version": null,
            "sshd_use_pam": true, "sshd_kbd_interactive": null, "sshd_permit_empty_passwords": false,
            "selinux": "permissive", "agent_version": "0.1.0"
        }))
        .unwrap();
        assert_eq!(f.selinux, Some(SelinuxMode::Permissive));
        assert!(f.sshd_match_overrides.is_empty());
        assert_eq!(f.sshd_drop_in, None, "agents older than the field");
        assert_eq!((f.pam_stack, f.sshd_match_overrides_more), (None, 0), "agents older than the fields");

        let f = Facts {
            sshd_drop_in: Some(SshdDropInCheck {
                included: true,
                earlier_settings: vec![SshdSetting {
                    file: "/etc/ssh/sshd_config".into(),
                    line: 2,
                    keyword: "UsePAM".into(),
                    value: "no".into(),
                }],
                more: 0,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&f).unwrap()["sshd_drop_in"],
            serde_json::json!({"included": true, "earlier_settings": [
                {"file": "/etc/ssh/sshd_config", "line": 2, "keyword": "UsePAM", "value": "no"}], "more": 0})
        );
        let old: SshdDropInCheck = serde_json::from_value(serde_json::json!({"included": true})).unwrap();
        assert_eq!(old.more, 0);
    }
}
