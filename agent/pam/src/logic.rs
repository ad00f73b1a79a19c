//! Every decision the PAM module makes: its arguments, its fail mode, and the login dialogue with
//! the agent daemon. Written against [`Conversation`], [`Daemon`], [`Accounts`] and [`Clock`] so
//! the tests drive it without PAM, a socket, a name service or a real clock; `lib.rs` only plugs
//! the system into these traits.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proto::login::{
    Action, FailMode, LoginStart, ModuleRequest, Step, DEFAULT_LOGIN_TIMEOUT_SECS, MAX_ANSWER_CHARS, MAX_LINE_BYTES,
    SOCKET_PATH,
};

/// Where the agent writes the module's settings (see `agent/src/apply.rs`).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/hostguard/pam.conf";
/// A daemon that keeps asking is broken or hostile; the console asks a handful of times at most.
pub const MAX_STEPS: usize = 20;
/// The time an answer leaves the daemon to reply before the deadline; see [`dialogue`].
pub const ANSWER_RESERVE: Duration = Duration::from_secs(15);
/// After a failed send, how long the module looks for a step the daemon sent before hanging up.
/// A daemon that hung up has nothing more in flight, so what it sent is already buffered.
pub const LAST_WORD_WAIT: Duration = Duration::from_secs(1);
/// The shortest `timeout=` accepted: the reserve and some time to type.
pub const MIN_TIMEOUT_SECS: u64 = 30;
/// The longest `timeout=` accepted; PAM stacks should not hang for longer than this.
pub const MAX_TIMEOUT_SECS: u64 = 600;
/// pam.conf is a few lines; more than this is not ours.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

pub const SECURE_MESSAGE: &str =
    "HostGuard could not verify this login: the HostGuard agent on this server is not answering. Login refused.";
pub const TOO_SLOW_MESSAGE: &str = "HostGuard: the login took too long. Please log in again.";
pub const TOO_MANY_STEPS_MESSAGE: &str = "HostGuard: too many steps for one login. Please log in again.";
pub const CANNOT_ASK_MESSAGE: &str = "HostGuard could not ask for the second factor. Login refused.";
pub const TOO_LONG_MESSAGE: &str = "HostGuard: this login's details are too long. Login refused.";
pub const DENIED_MESSAGE: &str = "HostGuard refused this login.";
pub const UNSAFE_MESSAGE: &str = "HostGuard could not verify this login safely. Login refused.";
pub const BROKEN_MESSAGE: &str = "HostGuard: the agent on this server broke off this login. Login refused.";
pub const NO_ACCOUNT_MESSAGE: &str = "HostGuard could not look up this account on this server. Login refused.";

/// The user's side of the login: PAM's conversation function in the module.
pub trait Conversation {
    /// Ask for a line; `echo` false hides what is typed. `Err` says why no answer came.
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String>;
    fn info(&mut self, text: &str);
    fn error(&mut self, text: &str);
}

/// Why the daemon could not carry the login. Only a daemon that is not there at all (unreachable,
/// or silent or gone before its first step) ends in the fail mode; an impostor, garbage, or a
/// daemon that answered and then broke off is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonError {
    /// No socket, or nobody listening on it.
    Unreachable(String),
    /// The socket is served by a process that is not the agent's uid (or its uid cannot be read).
    /// That is not a missing daemon but someone else answering in its place: denied.
    Impostor(String),
    /// Nothing came back before the login's deadline.
    TimedOut,
    /// The daemon hung up.
    Closed,
    /// A line that is not a step this module knows.
    Garbage(String),
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Unreachable(why) => write!(f, "the agent daemon cannot be reached: {why}"),
            DaemonError::Impostor(why) => write!(f, "the login socket is not served by the agent: {why}"),
            DaemonError::TimedOut => f.write_str("the agent daemon did not answer in time"),
            DaemonError::Closed => f.write_str("the agent daemon closed the connection mid-login"),
            DaemonError::Garbage(why) => write!(f, "the agent daemon sent an answer the module cannot read: {why}"),
        }
    }
}

/// The agent daemon, one login per connection. Each call gives up at `deadline`.
pub trait Daemon {
    fn connect(&mut self, deadline: Instant) -> Result<(), DaemonError>;
    fn send(&mut self, request: &ModuleRequest, deadline: Instant) -> Result<(), DaemonError>;
    fn receive(&mut self, deadline: Instant) -> Result<Step, DaemonError>;
}

/// An account as the system's name service (NSS: files, SSSD, winbind) knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The canonical name (`pw_name`), whatever spelling found it.
    pub name: String,
    pub uid: u32,
}

/// The name service. With SSSD or winbind `Alice` and `alice@corp` may find the same account as
/// `alice`; the daemon must only ever see the canonical name, so limits and mappings apply to it.
pub trait Accounts {
    /// `Ok(None)`: no such account. `Err`: the lookup failed (why, for the log).
    fn lookup(&self, name: &str) -> Result<Option<Account>, String>;
}

pub trait Clock {
    fn now(&self) -> Instant;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The module's arguments on its PAM line, e.g. `config=/etc/hostguard/pam.conf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    pub socket: PathBuf,
    pub timeout: Duration,
    /// Arguments that were ignored, for the log.
    pub problems: Vec<String>,
}

impl Args {
    pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Args {
        let mut parsed = Args {
            config: PathBuf::from(DEFAULT_CONFIG_PATH),
            socket: PathBuf::from(SOCKET_PATH),
            timeout: Duration::from_secs(DEFAULT_LOGIN_TIMEOUT_SECS),
            problems: vec![],
        };
        for arg in args {
            match arg.split_once('=') {
                Some(("config", path)) if !path.is_empty() => parsed.config = PathBuf::from(path),
                Some(("socket", path)) if !path.is_empty() => parsed.socket = PathBuf::from(path),
                Some(("timeout", secs)) => match secs.parse::<u64>() {
                    Ok(secs) if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&secs) => {
                        parsed.timeout = Duration::from_secs(secs)
                    }
                    _ => parsed.problems.push(format!(
                        "ignored {arg:?}: the timeout is whole seconds from {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS}"
                    )),
                },
                _ => parsed.problems.push(format!("ignored unknown argument {arg:?}")),
            }
        }
        parsed
    }
}

/// The fail mode in pam.conf's `key=value` lines. Only an explicit, unanimous `fail_mode=safe`
/// opens the door; anything else (missing, misspelt, contradicting) is secure.
pub fn fail_mode_from(text: &str) -> FailMode {
    let mut mode = None;
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.split_once('=') else { continue };
        if key.trim() != "fail_mode" {
            continue;
        }
        match (mode, FailMode::parse(value.trim())) {
            (None | Some(FailMode::Safe), Some(FailMode::Safe)) => mode = Some(FailMode::Safe),
            _ => return FailMode::Secure,
        }
    }
    mode.unwrap_or(FailMode::Secure)
}

/// The fail mode in the file at `path`; secure when it cannot be read.
pub fn read_fail_mode(path: &Path) -> FailMode {
    let mut text = String::new();
    match std::fs::File::open(path).and_then(|f| f.take(MAX_CONFIG_BYTES).read_to_string(&mut text)) {
        Ok(_) => fail_mode_from(&text),
        Err(_) => FailMode::Secure,
    }
}

/// What the module tells PAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The daemon let the login in.
    Allow,
    /// The daemon, the deadline or the user's side refused it; the message was shown.
    Deny,
    /// The module refused it because something on this server cannot be trusted: the module
    /// panicked, the socket is served by another uid, the daemon sent garbage or broke off after
    /// its first step, or the account does not resolve. Never the fail mode; the message was shown and `reason` goes to the
    /// system log at error level.
    Refused { reason: String },
    /// The daemon was missing (nothing reachable, or no step at all before the deadline or the
    /// hang-up), so the fail mode decided. `reason` goes to the system
    /// log, so an allowed login leaves a local record.
    FailMode { allow: bool, reason: String },
}

/// How the dialogue ended, before the fail mode is applied.
#[derive(Debug)]
enum Outcome {
    Allowed,
    Denied(String),
    /// Denied with `message` shown; `reason` is for the system log.
    Refused {
        message: &'static str,
        reason: String,
    },
    /// Only a daemon that is missing, with nothing said: the fail mode's case.
    Broken(String),
}

/// Runs one login to its verdict. `login.account` is PAM_USER as typed; the daemon gets the name
/// service's canonical name and uid instead. Never panics: a panic in the dialogue is a bug, not a
/// missing daemon, and is refused (in safe mode the fail mode would let the login in).
pub fn authenticate(
    login: &LoginStart,
    deadline: Instant,
    fail_mode: FailMode,
    conv: &mut dyn Conversation,
    daemon: &mut dyn Daemon,
    accounts: &dyn Accounts,
    clock: &dyn Clock,
) -> Verdict {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dialogue(login, deadline, conv, daemon, accounts, clock)
    }));
    let outcome = run.unwrap_or_else(|payload| {
        // Dropping a panic payload can panic again; it is a few bytes, leak it.
        std::mem::forget(payload);
        Outcome::Refused { message: UNSAFE_MESSAGE, reason: "the module panicked during the login".into() }
    });
    match outcome {
        Outcome::Allowed => Verdict::Allow,
        Outcome::Denied(message) => {
            conv.error(if message.trim().is_empty() { DENIED_MESSAGE } else { &message });
            Verdict::Deny
        }
        Outcome::Refused { message, reason } => {
            conv.error(message);
            Verdict::Refused { reason }
        }
        Outcome::Broken(reason) => match fail_mode {
            FailMode::Secure => {
                conv.error(SECURE_MESSAGE);
                Verdict::FailMode { allow: false, reason }
            }
            FailMode::Safe => Verdict::FailMode { allow: true, reason },
        },
    }
}

fn dialogue(
    login: &LoginStart,
    deadline: Instant,
    conv: &mut dyn Conversation,
    daemon: &mut dyn Daemon,
    accounts: &dyn Accounts,
    clock: &dyn Clock,
) -> Outcome {
    // Answers are cut to MAX_ANSWER_CHARS, so only the start can outgrow a line. Checked as typed
    // too, so a huge PAM_USER never reaches the name service.
    let mut start = LoginStart { timeout_secs: Some(seconds_left(deadline, clock)), ..login.clone() };
    if !fits_one_line(&start) {
        return Outcome::Denied(TOO_LONG_MESSAGE.into());
    }
    // An account the name service does not know cannot log in; the daemon is not asked.
    let account = match accounts.lookup(&login.account) {
        Ok(Some(account)) => account,
        Ok(None) => {
            return Outcome::Refused { message: NO_ACCOUNT_MESSAGE, reason: "the account does not resolve".into() }
        }
        Err(why) => {
            return Outcome::Refused {
                message: NO_ACCOUNT_MESSAGE,
                reason: format!("the account lookup failed: {why}"),
            }
        }
    };
    start.account = account.name;
    start.uid = Some(account.uid);
    if !fits_one_line(&start) {
        return Outcome::Denied(TOO_LONG_MESSAGE.into());
    }
    if let Err(e) = daemon.connect(deadline) {
        return match e {
            DaemonError::Impostor(_) => Outcome::Refused { message: UNSAFE_MESSAGE, reason: e.to_string() },
            _ => Outcome::Broken(e.to_string()),
        };
    }
    // What is left when the start leaves (never more than was checked above), so the agent waits
    // for this login as long as the module does.
    start.timeout_secs = Some(seconds_left(deadline, clock));
    let mut request = ModuleRequest::Start(start);
    // Once the daemon has sent a step it was there: whatever goes wrong later is a refusal.
    let mut answered = false;
    for _ in 0..MAX_STEPS {
        let step = match daemon.send(&request, deadline) {
            Ok(()) => daemon.receive(deadline),
            Err(e) => return last_word(daemon, e, deadline.min(clock.now() + LAST_WORD_WAIT), answered, conv),
        };
        let step = match step {
            Ok(step) => step,
            Err(e) => return broken(e, answered),
        };
        answered = true;
        for line in &step.info {
            conv.info(line);
        }
        let typed = match step.action {
            Action::Allow => return Outcome::Allowed,
            Action::Deny { message } => return Outcome::Denied(message),
            Action::Prompt { text, echo } => conv.prompt(&text, echo),
            Action::Choice { text, options } => {
                for (i, option) in options.iter().enumerate() {
                    conv.info(&format!("{}. {option}", i + 1));
                }
                conv.prompt(&text, true).map(|typed| typed.trim().to_owned())
            }
        };
        let Ok(typed) = typed else {
            return Outcome::Denied(CANNOT_ASK_MESSAGE.into());
        };
        // The daemon and the console were fine; the user was slow. Not the fail mode.
        // Each answer leaves the daemon ANSWER_RESERVE to reply (more than its own wait for the
        // console). An answer typed so late that the daemon could not reply in time would
        // otherwise time out into the fail mode, which in safe mode lets the login in.
        if clock.now() + ANSWER_RESERVE >= deadline {
            return Outcome::Denied(TOO_SLOW_MESSAGE.into());
        }
        request = ModuleRequest::Answer { answer: cut(typed) };
    }
    Outcome::Denied(TOO_MANY_STEPS_MESSAGE.into())
}

/// What a failed receive (or send) means. Garbage is never an outage: a daemon (or whatever holds
/// its socket) answered, and a long refusal read as garbage must not become safe mode's allow.
/// A close or timeout is the fail mode's case only before the daemon's first step.
fn broken(e: DaemonError, answered: bool) -> Outcome {
    match e {
        DaemonError::Garbage(_) | DaemonError::Impostor(_) => {
            Outcome::Refused { message: UNSAFE_MESSAGE, reason: e.to_string() }
        }
        _ if answered => {
            Outcome::Refused { message: BROKEN_MESSAGE, reason: format!("{e}, after it had answered this login") }
        }
        _ => Outcome::Broken(e.to_string()),
    }
}

/// A send failed: the daemon may have hung up after a final `deny` (it gave up waiting, was busy,
/// or never got a start). A final step already received wins over the failed send, so read what
/// it left before calling it broken. Anything but a `deny` came before the daemon had our request,
/// which breaks the protocol: refused, never the fail mode.
fn last_word(
    daemon: &mut dyn Daemon,
    send_error: DaemonError,
    until: Instant,
    answered: bool,
    conv: &mut dyn Conversation,
) -> Outcome {
    match daemon.receive(until) {
        Ok(Step { info, action: Action::Deny { message } }) => {
            for line in &info {
                conv.info(line);
            }
            Outcome::Denied(message)
        }
        Ok(step) => {
            let kind = match step.action {
                Action::Allow => "allow",
                Action::Prompt { .. } => "a prompt",
                Action::Choice { .. } => "a choice",
                Action::Deny { .. } => "deny",
            };
            Outcome::Refused {
                message: UNSAFE_MESSAGE,
                reason: format!("the agent daemon sent {kind} before it had the module's request, then hung up"),
            }
        }
        Err(e @ DaemonError::Garbage(_)) => broken(e, answered),
        // Nothing more was sent back: gone, and the fail mode's case only if it never answered.
        Err(_) => broken(send_error, answered),
    }
}

/// Whole seconds until `deadline`, rounded up: the agent may wait a little longer, never less.
fn seconds_left(deadline: Instant, clock: &dyn Clock) -> u64 {
    let left = deadline.saturating_duration_since(clock.now());
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

fn fits_one_line(start: &LoginStart) -> bool {
    serde_json::to_string(&ModuleRequest::Start(start.clone())).is_ok_and(|line| line.len() <= MAX_LINE_BYTES)
}

/// An over-long answer is cut, not refused: the console judges it (a cut code is simply wrong).
fn cut(mut answer: String) -> String {
    if let Some((at, _)) = answer.char_indices().nth(MAX_ANSWER_CHARS) {
        answer.truncate(at);
    }
    answer
}

/// One step from one line the daemon sent (without its '\n').
pub fn decode_step(line: &[u8]) -> Result<Step, DaemonError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(DaemonError::Garbage(format!("a line longer than {MAX_LINE_BYTES} bytes")));
    }
    serde_json::from_slice(line).map_err(|e| DaemonError::Garbage(e.to_string()))
}

/// One request as one line, '\n' included.
pub fn encode_request(request: &ModuleRequest) -> Result<Vec<u8>, DaemonError> {
    let mut line = serde_json::to_vec(request).map_err(|e| DaemonError::Garbage(e.to_string()))?;
    line.push(b'\n');
    Ok(line)
}

#[cfg(test)]
#[path = "logic_tests.rs"]
mod tests;
