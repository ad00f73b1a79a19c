//! What the lines around HostGuard's decide, shown with the real libpam (issue 15 item 4): the
//! stacks the agent now refuses to apply really skip the module, or run it after a wrong
//! password. `pamtester` runs in a private mount namespace (`unshare -m`) where /etc/pam.d, and
//! /etc/passwd and /etc/shadow with one made-up account, are bind mounts of files in a temp dir;
//! the host's files are never touched. Needs root, `unshare` and `pamtester`; says SKIP and passes
//! without them.

// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{module_path, skip_reason};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use proto::login::{ModuleRequest, Step};

/// The made-up account, and its password hashed as `openssl passwd -6 -salt hgsalt right-password`.
const ACCOUNT: &str = "hgtest";
const PASSWORD: &str = "right-password";
const PASSWORD_HASH: &str =
    "$6$hgsalt$5HcDu92UJQaustWxzxB1Bfa60qSUmA1za54iF1WqJJMjdwtZTMdWE2lccN.X4lYFoNztaO0YdUU5pmtvnwxbx.";

macro_rules! skip_unless_possible {
    () => {
        if let Some(why) = skip_reason() {
            println!("SKIP stack order test: {why}");
            return;
        }
    };
}

/// A daemon that would refuse every login: asks for a code, then denies. Reports each request
/// it reads, so a test can tell whether the module ran at all.
fn denying_daemon(socket: &Path) -> mpsc::Receiver<ModuleRequest> {
    let listener = UnixListener::bind(socket).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        for reply in [Step::prompt("Input #25 Code: ", false), Step::deny("Wrong code.")] {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let _ = tx.send(serde_json::from_str(&line).unwrap());
            writer.write_all(format!("{}\n", serde_json::to_string(&reply).unwrap()).as_bytes()).unwrap();
        }
    });
    rx
}

/// Runs `pamtester hg-test hgtest authenticate` with `auth_lines` as the whole auth stack
/// (`{module}` stands for HostGuard's line), `typed` on stdin.
fn pamtester(dir: &Path, auth_lines: &str, typed: &str) -> Output {
    let pam_d = dir.join("pam.d");
    std::fs::create_dir(&pam_d).unwrap();
    let ours = format!(
        "auth required {} config={} socket={} timeout=30",
        module_path().display(),
        dir.join("pam.conf").display(),
        dir.join("pam.sock").display()
    );
    std::fs::write(pam_d.join("hg-test"), auth_lines.replace("{module}", &ours)).unwrap();
    std::fs::write(dir.join("pam.conf"), "fail_mode=secure\n").unwrap();
    std::fs::write(
        dir.join("passwd"),
        format!("root:x:0:0:root:/root:/bin/sh\n{ACCOUNT}:x:4242:4242::/nonexistent:/bin/sh\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("shadow"),
        format!("root:*:19000:0:99999:7:::\n{ACCOUNT}:{PASSWORD_HASH}:19000:0:99999:7:::\n"),
    )
    .unwrap();
    let script = r#"mount --bind "$0/pam.d" /etc/pam.d && mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/shadow" /etc/shadow && exec pamtester -v -I rhost=192.0.2.9 hg-test "$1" authenticate"#;
    let mut child = Command::new("timeout")
        .args(["20", "unshare", "-m", "--propagation", "private", "sh", "-c", script])
        .arg(dir)
        .arg(ACCOUNT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether the module asked the daemon anything during the run.
fn module_ran(requests: &mpsc::Receiver<ModuleRequest>) -> bool {
    requests.recv_timeout(Duration::from_millis(500)).is_ok()
}

const DEBIAN: &str = "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n{module}\n";

/// The hole: with `auth sufficient pam_permit.so` ahead, libpam ends the stack with success
/// before HostGuard's module, and a daemon that would refuse is never asked.
#[test]
fn sufficient_ahead_of_the_module_logs_in_without_asking_it() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let requests = denying_daemon(&dir.path().join("pam.sock"));
    let output = pamtester(dir.path(), &format!("auth sufficient pam_permit.so\n{DEBIAN}"), "wrong\n000000\n");
    assert!(output.status.success(), "the login went in: {}", text(&output));
    assert!(!module_ran(&requests), "the module was never reached");
}

/// The other hole: after a hand-written `auth required pam_unix.so`, a wrong password goes on to
/// HostGuard's module, which asks the daemon (and would send a code).
#[test]
fn required_pam_unix_runs_the_module_after_a_wrong_password() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let requests = denying_daemon(&dir.path().join("pam.sock"));
    let output = pamtester(dir.path(), "auth required pam_unix.so\n{module}\n", "wrong-password\n000000\n");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(module_ran(&requests), "the module ran for a wrong password: {}", text(&output));
}

/// The stack the agent accepts: a wrong password ends the login before the module, a right one
/// reaches it (and the daemon's refusal stands).
#[test]
fn debians_stack_reaches_the_module_only_after_the_right_password() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let requests = denying_daemon(&dir.path().join("pam.sock"));
    let output = pamtester(dir.path(), DEBIAN, "wrong-password\n000000\n");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(!module_ran(&requests), "a wrong password never reaches the module: {}", text(&output));

    let dir = tempfile::tempdir().unwrap();
    let requests = denying_daemon(&dir.path().join("pam.sock"));
    let output = pamtester(dir.path(), DEBIAN, &format!("{PASSWORD}\n000000\n"));
    assert!(!output.status.success(), "the daemon denied: {}", text(&output));
    assert!(text(&output).contains("Wrong code."), "{}", text(&output));
    match requests.recv_timeout(Duration::from_secs(5)).unwrap() {
        ModuleRequest::Start(start) => assert_eq!(start.account, ACCOUNT),
        other => panic!("expected a start, got {other:?}"),
    }
}

/// Why the agent refuses any line with a backslash or CR (pam_stack.rs): libpam 1.5.2 ends a
/// line at `#` even after `\`, and does not continue a line ending `\` CR-LF, so the
/// `sufficient` line a simple reader would join onto the one before really runs.
#[test]
fn a_backslash_before_a_comment_or_cr_does_not_continue_the_line() {
    skip_unless_possible!();
    for head in ["auth required pam_env.so \\# note\n", "auth required pam_env.so \\\r\n"] {
        let dir = tempfile::tempdir().unwrap();
        let requests = denying_daemon(&dir.path().join("pam.sock"));
        let stack = format!("{head}auth sufficient pam_permit.so\n{DEBIAN}");
        let output = pamtester(dir.path(), &stack, "wrong\n000000\n");
        assert!(output.status.success(), "{head:?}: the login went in: {}", text(&output));
        assert!(!module_ran(&requests), "{head:?}: the module was never reached");
    }
}

/// libpam skips a comment inside a continuation and keeps joining: `requisite pam_deny.so`
/// becomes arguments of pam_unix, and a wrong password reaches the module.
#[test]
fn a_comment_inside_a_continuation_swallows_the_next_line() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let requests = denying_daemon(&dir.path().join("pam.sock"));
    let stack = "auth [success=1 default=ignore] pam_unix.so nullok \\\n# note\nauth requisite pam_deny.so\nauth required pam_permit.so\n{module}\n";
    let output = pamtester(dir.path(), stack, "wrong-password\n000000\n");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(module_ran(&requests), "the module ran for a wrong password: {}", text(&output));
}
