//! Every decision the PAM module makes: its arguments, its fail mode, and the login dialogue with
//! the agent daemon. Written against [`Conversation`], [`Daemon`] and [`Clock`] so the tests drive
//! it without PAM, a socket or a real clock; `lib.rs` only plugs PAM into these traits.

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

/// The user's side of the login: PAM's conversation function in the module.
pub trait Conversation {
    /// Ask for a line; `echo` false hides what is typed. `Err` says why no answer came.
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String>;
    fn info(&mut self, text: &str);
    fn error(&mut self, text: &str);
}

/// Why the daemon could not carry the login; each one ends in the fail mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonError {
    /// No socket, refused, or not the daemon we expect.
    Unreachable(String),
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
                    Ok(secs) if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&secs) => parsed.timeout = Duration::from_secs(secs),
                    _ => parsed
                        .problems
                        .push(format!(
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
    /// The daemon was missing or broken, so the fail mode decided. `reason` goes to the system
    /// log, so an allowed login leaves a local record.
    FailMode { allow: bool, reason: String },
}

/// How the dialogue ended, before the fail mode is applied.
#[derive(Debug)]
enum Outcome {
    Allowed,
    Denied(String),
    Broken(String),
}

/// Runs one login to its verdict. Never panics: a panic in the dialogue is a broken module and
/// gets the fail mode, like a broken daemon.
pub fn authenticate(
    login: &LoginStart,
    deadline: Instant,
    fail_mode: FailMode,
    conv: &mut dyn Conversation,
    daemon: &mut dyn Daemon,
    clock: &dyn Clock,
) -> Verdict {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dialogue(login, deadline, conv, daemon, clock)));
    let outcome = run.unwrap_or_else(|payload| {
        // Dropping a panic payload can panic again; it is a few bytes, leak it.
        std::mem::forget(payload);
        Outcome::Broken("the module panicked during the login".into())
    });
    match outcome {
        Outcome::Allowed => Verdict::Allow,
        Outcome::Denied(message) => {
            conv.error(if message.trim().is_empty() { DENIED_MESSAGE } else { &message });
            Verdict::Deny
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
    clock: &dyn Clock,
) -> Outcome {
    let mut request = ModuleRequest::Start(login.clone());
    // Answers are cut to MAX_ANSWER_CHARS, so only the start can outgrow a line.
    if serde_json::to_string(&request).map_or(true, |line| line.len() > MAX_LINE_BYTES) {
        return Outcome::Denied(TOO_LONG_MESSAGE.into());
    }
    if let Err(e) = daemon.connect(deadline) {
        return Outcome::Broken(e.to_string());
    }
    for _ in 0..MAX_STEPS {
        let step = match daemon.send(&request, deadline).and_then(|()| daemon.receive(deadline)) {
            Ok(step) => step,
            Err(e) => return Outcome::Broken(e.to_string()),
        };
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
