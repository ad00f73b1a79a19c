//! The login dialogue: how a login on a server gets its second factor.
//!
//! Three parties, two hops (see `docs/login-protocol.md` for the whole story):
//!
//! ```text
//! PAM module ──Unix socket, JSON lines──▶ agent daemon ──HTTPS, agent API──▶ console
//! ```
//!
//! The console drives the dialogue. Every answer is the next [`Step`]: lines to show, then a
//! prompt, a numbered choice, success or a refusal. The module only shows steps and passes the
//! user's answers back, so a new method needs no change to the module (or to a Windows
//! credential provider speaking the same protocol).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the agent daemon listens for the PAM module. The directory is root's alone (0700) and
/// the daemon also checks that the peer is root.
pub const SOCKET_PATH: &str = "/run/hostguard/pam.sock";
/// The longest line either side of the socket sends; anything longer is garbage.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// The longest a login may spend in HostGuard's hands, the user's typing included, unless the
/// module is configured otherwise.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 90;
pub use crate::exempt::MIN_EXEMPT_PREFIX;

/// The longest answer a user may type.
pub const MAX_ANSWER_CHARS: usize = 256;

/// A login that reached HostGuard's module, after the password was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginStart {
    /// The account being logged in to (PAM_USER), e.g. `root`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::account))]
    pub account: String,
    /// The address the login comes from (PAM_RHOST); empty for a local login.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::source_ip))]
    pub source_ip: String,
    /// The PAM service, e.g. `sshd`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::service))]
    pub service: String,
    /// The terminal (PAM_TTY), e.g. `ssh`; may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::tty))]
    pub tty: String,
    /// The account's uid, as the module's name service lookup (`getpwnam`) found it. With it,
    /// `account` is the canonical name that lookup returned, not the spelling the user typed.
    /// Absent from older modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295i64))]
    pub uid: Option<u32>,
    /// The whole seconds the module will still wait for this login (its deadline, less the time
    /// already spent). The agent waits for the user at least as long, never less, so it never
    /// hangs up on a module that still expects an answer. Absent from older modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::timeout_secs))]
    pub timeout_secs: Option<u64>,
}

/// What the PAM module sends the daemon: one `start`, then one `answer` per prompt or choice, on
/// the same connection. The connection is the login: an answer belongs to the login started on
/// it, so one PAM session can never answer another's prompts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModuleRequest {
    Start(LoginStart),
    /// What the user typed at the last prompt (for a choice: the number of the option).
    Answer {
        answer: String,
    },
}

/// The user's answer, on its way from the daemon to the console.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginAnswer {
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub answer: String,
}

/// Codes are secrets: `Debug` leaves the answer out.
impl std::fmt::Debug for LoginAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAnswer").field("answer", &"[REDACTED]").finish()
    }
}

/// The next step of a login: lines to show, then what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    /// Information lines shown before the action (PAM_TEXT_INFO), e.g. "A code was sent.".
    #[serde(default)]
    pub info: Vec<String>,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Ask the user for a line; `echo` false hides what they type (codes).
    Prompt { text: String, echo: bool },
    /// Show the options numbered from 1 and ask for a number; the answer is that number.
    Choice { text: String, options: Vec<String> },
    /// The second factor is proven: let the login in.
    Allow,
    /// Refuse the login and show `message`.
    Deny { message: String },
}

impl Step {
    pub fn allow() -> Self {
        Step { info: vec![], action: Action::Allow }
    }

    pub fn deny(message: impl Into<String>) -> Self {
        Step { info: vec![], action: Action::Deny { message: message.into() } }
    }

    pub fn prompt(text: impl Into<String>, echo: bool) -> Self {
        Step { info: vec![], action: Action::Prompt { text: text.into(), echo } }
    }

    pub fn with_info(mut self, line: impl Into<String>) -> Self {
        self.info.push(line.into());
        self
    }

    /// True for a step that ends the login.
    pub fn is_final(&self) -> bool {
        matches!(self.action, Action::Allow | Action::Deny { .. })
    }
}

/// The console's answer to the agent for a login: the login's id and its next step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginReply {
    pub login_id: Uuid,
    pub step: Step,
    /// Agent API only, never passed to the front end: the console is still waiting for
    /// something the user does elsewhere (a push approval) and held the call as long as it
    /// may. The agent asks again with an empty answer instead of showing `step`, while its
    /// front end's deadline allows. An older agent ignores the field and shows `step`, which
    /// is the same prompt again, so pressing Enter keeps waiting there too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ask_again: bool,
}

impl LoginReply {
    pub fn new(login_id: Uuid, step: Step) -> Self {
        LoginReply { login_id, step, ask_again: false }
    }
}

crate::wire_enum! {
    /// What a server does with a login when the console cannot be reached.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[derive(Default)]
    FailMode {
        /// Deny (break-glass codes still work).
        #[default]
        Secure => "secure",
        /// Allow, record locally, and report once the console is back.
        Safe => "safe",
    }
}

/// A break-glass code as the agent keeps it: never the code, only its SHA-256 (hex). Codes are
/// 20 random base32 characters (100 bits), so a plain hash is enough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakGlassHash {
    pub id: Uuid,
    pub sha256: String,
}

/// A break-glass code as both the console and the agent hash it: ASCII letters and digits only,
/// in upper case, so the code may be typed with dashes, spaces or in lower case.
pub fn normalize_break_glass(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// What the agent needs to decide logins on its own while the console is unreachable. Fetched
/// with every heartbeat and kept on disk (root only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginPolicy {
    pub fail_mode: FailMode,
    /// Accounts that never get a second factor.
    #[serde(default)]
    pub exempt_accounts: Vec<String>,
    /// Source networks (CIDR, e.g. `10.0.0.0/8`) that never get a second factor.
    #[serde(default)]
    pub exempt_networks: Vec<String>,
    /// Unused break-glass codes.
    #[serde(default)]
    pub break_glass: Vec<BreakGlassHash>,
}

crate::wire_enum! {
    /// How a login ended.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    LoginResult {
        Allowed => "allowed",
        Denied => "denied",
    }
}

crate::wire_enum! {
    /// Why the agent decided a login alone, as it reports it.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    LoginReason {
        /// An unused break-glass code was typed.
        BreakGlass => "break_glass",
        /// A code was typed that is not an unused break-glass code of this server.
        BreakGlassWrong => "break_glass_wrong",
        /// Let in by fail mode safe.
        FailSafe => "fail_safe",
        /// Fail mode safe, but too many logins were let in for this account or source.
        FailSafeLimited => "fail_safe_limited",
        /// Denied by fail mode secure (or the agent's credential was rejected).
        FailSecure => "fail_secure",
        /// The account never gets a second factor.
        ExemptAccount => "exempt_account",
        /// The source address is in an exempt network.
        ExemptNetwork => "exempt_network",
    }
}

crate::wire_enum! {
    /// Which second factor a login was asked for.
    LoginMethod {
        /// SMS/Email: a code sent to an endpoint of the server's topic.
        Sms => "sms",
        /// Verification code: from the end user's own factors.
        Code => "code",
        /// No second factor was asked (2FA off, exempt, decided offline).
        None => "none",
    }
}

impl From<crate::Method> for LoginMethod {
    fn from(m: crate::Method) -> Self {
        match m {
            crate::Method::Sms => LoginMethod::Sms,
            crate::Method::Code => LoginMethod::Code,
        }
    }
}

crate::wire_enum! {
    /// Where a login's dialogue stands.
    LoginStage {
        /// Waiting for a phone number or email address of the topic (SMS/Email).
        Recipient => "recipient",
        /// Waiting for the code that was sent.
        Code => "code",
        /// Verification-code method: waiting for a code from the end user's authenticator app, a
        /// recovery code, a code sent by SMS or call, or the number of a method to use.
        Verify => "verify",
        /// Verification-code method: a push was sent; an empty answer waits for its approval,
        /// anything else is taken as at `verify`.
        Push => "push",
        /// Over; the login's [`LoginResult`] says how.
        Done => "done",
    }
}

crate::wire_enum! {
    /// A login as the audit and the end user's sign-in history show it: its result, or where an
    /// unfinished one stands.
    LoginOutcome {
        Allowed => "allowed",
        Denied => "denied",
        /// Still running.
        Open => "open",
        /// Given up before it finished (older than a login may last, without a result).
        Abandoned => "abandoned",
    }
}

impl From<LoginResult> for LoginOutcome {
    fn from(r: LoginResult) -> Self {
        match r {
            LoginResult::Allowed => LoginOutcome::Allowed,
            LoginResult::Denied => LoginOutcome::Denied,
        }
    }
}

crate::wire_enum! {
    /// How a person proved a login, as their portal's sign-in history filters it.
    SignInMethod {
        Push => "push",
        Authenticator => "authenticator",
        Recovery => "recovery",
        Sms => "sms",
        Call => "call",
        /// A one-time code from the portal's "Get a code".
        PortalCode => "portal_code",
    }
}

/// A login the agent decided alone while the console was unreachable, reported later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineLogin {
    /// Chosen by the agent, so that a report sent twice is recorded once.
    pub id: Uuid,
    /// When it happened (RFC 3339), within the last 30 days; a time ahead of the console's is
    /// recorded as now.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub at: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::account))]
    pub account: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::source_ip))]
    pub source_ip: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::service))]
    pub service: String,
    /// `allowed` for the reasons `break_glass`, `fail_safe`, `exempt_account` and
    /// `exempt_network`; `denied` for the others.
    pub result: LoginResult,
    /// A reason this console does not know is refused on its own, not the whole report.
    #[cfg_attr(feature = "openapi", schema(value_type = LoginReason))]
    pub reason: crate::MaybeKnown<LoginReason>,
    /// The break-glass code used, if one was.
    #[serde(default)]
    pub break_glass_id: Option<Uuid>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineReport {
    /// At most 500; a report is recorded whole or refused whole.
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub logins: Vec<OfflineLogin>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module and the daemon may be different versions for a while: pin the JSON.
    #[test]
    fn the_socket_format_is_pinned() {
        let start = ModuleRequest::Start(LoginStart {
            account: "root".into(),
            source_ip: "192.0.2.7".into(),
            service: "sshd".into(),
            tty: "ssh".into(),
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_value(&start).unwrap(),
            serde_json::json!({"type": "start", "account": "root", "source_ip": "192.0.2.7", "service": "sshd", "tty": "ssh"})
        );
        assert_eq!(
            serde_json::to_value(ModuleRequest::Answer { answer: "123456".into() }).unwrap(),
            serde_json::json!({"type": "answer", "answer": "123456"})
        );
        let step = Step::prompt("Input #25 Code: ", false).with_info("A code was sent.");
        assert_eq!(
            serde_json::to_value(&step).unwrap(),
            serde_json::json!({"info": ["A code was sent."], "action": {"type": "prompt", "text": "Input #25 Code: ", "echo": false}})
        );
        assert_eq!(
            serde_json::to_value(Step::allow()).unwrap(),
            serde_json::json!({"info": [], "action": {"type": "allow"}})
        );
        let choice: Step =
            serde_json::from_str(r#"{"action":{"type":"choice","text":"Pick: ","options":["Push","SMS"]}}"#).unwrap();
        assert_eq!(choice.action, Action::Choice { text: "Pick: ".into(), options: vec!["Push".into(), "SMS".into()] });
        assert!(serde_json::from_str::<Step>(r#"{"action":{"type":"allow_everyone"}}"#).is_err());
        assert!(format!("{:?}", LoginAnswer { answer: "123456".into() }).contains("REDACTED"));
    }

    /// `ask_again` is an agent-API addition: absent unless set, and a reply without it reads.
    #[test]
    fn ask_again_is_only_sent_when_set() {
        let id = Uuid::nil();
        let plain = serde_json::to_value(LoginReply::new(id, Step::allow())).unwrap();
        assert!(plain.get("ask_again").is_none());
        let again = LoginReply { ask_again: true, ..LoginReply::new(id, Step::prompt("Push sent: ", true)) };
        assert_eq!(serde_json::to_value(&again).unwrap()["ask_again"], true);
        let old: LoginReply =
            serde_json::from_value(serde_json::json!({"login_id": id, "step": {"action": {"type": "allow"}}})).unwrap();
        assert!(!old.ask_again);
    }

    /// Agents already in the field report offline logins in this exact form.
    #[test]
    fn the_offline_report_format_is_pinned() {
        let login = OfflineLogin {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            at: "2026-01-01T00:00:00+00:00".into(),
            account: "root".into(),
            source_ip: "192.0.2.9".into(),
            service: "sshd".into(),
            result: LoginResult::Denied,
            reason: LoginReason::FailSafeLimited.into(),
            break_glass_id: None,
        };
        assert_eq!(
            serde_json::to_string(&login).unwrap(),
            r#"{"id":"01234567-89ab-cdef-0123-456789abcdef","at":"2026-01-01T00:00:00+00:00","account":"root","source_ip":"192.0.2.9","service":"sshd","result":"denied","reason":"fail_safe_limited","break_glass_id":null}"#
        );
        for r in LoginReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(serde_json::from_value::<LoginReason>(serde_json::json!(r.as_str())).unwrap(), *r);
        }
        assert!(serde_json::from_str::<LoginReason>(r#""fail_open""#).is_err());
    }
}
