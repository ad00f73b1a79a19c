//! `pam_hostguard.so`: the PAM entry points. This file only reads PAM's items and arguments,
//! adapts PAM's conversation to [`logic::Conversation`] and turns the verdict into a PAM code;
//! every decision is in [`logic`], the socket in [`transport`], the account lookup in [`accounts`].

pub mod accounts;
pub mod logic;
pub mod transport;

use std::ffi::{c_char, c_int, CStr, CString};
use std::time::Instant;

use pam::constants::{
    PamFlag, PamResultCode, PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_SILENT, PAM_TEXT_INFO,
};
use pam::conv::Conv;
use pam::items::{RHost, Service, Tty};
use pam::module::{PamHandle, PamHooks};
use proto::login::LoginStart;

use accounts::NssAccounts;
use logic::{Args, Conversation, SystemClock, Verdict};
use transport::UnixDaemon;

struct HostGuard;
pam::pam_hooks!(HostGuard);

impl PamHooks for HostGuard {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        // The dialogue catches its own panics; this catches the shim's. Unwinding into libpam
        // would abort sshd's PAM child, and a panic is never a success.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| authenticate(pamh, args, flags))) {
            Ok(code) => code,
            Err(payload) => {
                // Dropping a panic payload can panic again; it is a few bytes, leak it.
                std::mem::forget(payload);
                log(pamh, libc::LOG_ERR, "login refused: the module panicked");
                PamResultCode::PAM_AUTH_ERR
            }
        }
    }

    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        PamResultCode::PAM_SUCCESS
    }
}

fn authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
    let started = Instant::now();
    let args = Args::parse(args.iter().filter_map(|a| a.to_str().ok()));
    for problem in &args.problems {
        log(pamh, libc::LOG_WARNING, problem);
    }
    let account = match pamh.get_user(None) {
        Ok(account) => account,
        Err(code) => return code,
    };
    let login = LoginStart {
        account,
        source_ip: item_text(pamh.get_item::<RHost>().ok().flatten().map(|i| i.0)),
        service: item_text(pamh.get_item::<Service>().ok().flatten().map(|i| i.0)),
        tty: item_text(pamh.get_item::<Tty>().ok().flatten().map(|i| i.0)),
        ..Default::default()
    };
    let fail_mode = logic::read_fail_mode(&args.config);
    let conv = match pamh.get_item::<Conv>() {
        Ok(Some(conv)) => conv,
        // Nobody to ask: the second factor cannot be proven.
        Ok(None) | Err(_) => return PamResultCode::PAM_CONV_ERR,
    };
    let mut conv = PamConversation { conv, silent: flags & PAM_SILENT != 0 };
    let mut daemon = UnixDaemon::new(&args.socket);
    let deadline = started + args.timeout;
    let verdict = logic::authenticate(&login, deadline, fail_mode, &mut conv, &mut daemon, &NssAccounts, &SystemClock);
    let who = || format!("account={} source_ip={} service={}", login.account, login.source_ip, login.service);
    match verdict {
        Verdict::Allow => PamResultCode::PAM_SUCCESS,
        Verdict::Deny => PamResultCode::PAM_AUTH_ERR,
        Verdict::Refused { reason } => {
            log(pamh, libc::LOG_ERR, &format!("login refused ({}): {reason}", who()));
            PamResultCode::PAM_AUTH_ERR
        }
        Verdict::FailMode { allow, reason } => {
            let who = who();
            if allow {
                log(
                    pamh,
                    libc::LOG_WARNING,
                    &format!("login ALLOWED by fail mode safe without a second factor ({who}): {reason}"),
                );
                PamResultCode::PAM_SUCCESS
            } else {
                log(pamh, libc::LOG_ERR, &format!("login denied by fail mode secure ({who}): {reason}"));
                PamResultCode::PAM_AUTH_ERR
            }
        }
    }
}

fn item_text(item: Option<&CStr>) -> String {
    item.map(|c| c.to_string_lossy().into_owned()).unwrap_or_default()
}

/// PAM's conversation function as a [`Conversation`].
struct PamConversation<'a> {
    conv: Conv<'a>,
    /// PAM_SILENT: no informational or error messages, prompts only.
    silent: bool,
}

impl Conversation for PamConversation<'_> {
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String> {
        let style = if echo { PAM_PROMPT_ECHO_ON } else { PAM_PROMPT_ECHO_OFF };
        match self.conv.send(style, text) {
            Ok(Some(typed)) => typed.as_str().map(str::to_owned).map_err(|_| "the answer is not UTF-8".to_owned()),
            Ok(None) => Err("the conversation returned no answer".into()),
            Err(code) => Err(format!("the conversation failed ({code:?})")),
        }
    }

    fn info(&mut self, text: &str) {
        if !self.silent {
            let _ = self.conv.send(PAM_TEXT_INFO, &text.replace('\0', ""));
        }
    }

    fn error(&mut self, text: &str) {
        if !self.silent {
            let _ = self.conv.send(PAM_ERROR_MSG, &text.replace('\0', ""));
        }
    }
}

#[link(name = "pam")]
extern "C" {
    // Linux-PAM's logger: LOG_AUTHPRIV, prefixed with the module and service names.
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
}

fn log(pamh: &PamHandle, priority: c_int, message: &str) {
    let Ok(message) = CString::new(message.replace('\0', "")) else { return };
    // SAFETY: `pamh` is the live handle PAM gave us; "%s" takes exactly the one C string passed.
    unsafe { pam_syslog(pamh, priority, c"%s".as_ptr(), message.as_ptr()) }
}
