//! The real module loaded by the real libpam: `pamtester` runs a service whose stack holds the
//! cdylib cargo just built, with a fake daemon on a socket in a temp dir. /etc/pam.d is replaced
//! by a bind mount inside a private mount namespace (`unshare -m`), so the host's PAM config is
//! never touched. Needs root, `unshare` and `pamtester`; says SKIP and passes without them.

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

use proto::login::{LoginStart, ModuleRequest, Step};

/// A fake daemon: reads the start, asks for a code, reads the answer, sends `last`; with no
/// `last` it hangs up right after asking. Hands back what it read.
fn fake_daemon(socket: &Path, last: Option<Step>) -> mpsc::Receiver<Vec<ModuleRequest>> {
    fake_daemon_then(socket, last, None)
}

/// [`fake_daemon`]; with `early`, it sends that `deny` right after asking, before any answer,
/// and closes the socket (as the agent does when it gives up waiting).
fn fake_daemon_then(socket: &Path, last: Option<Step>, early: Option<Step>) -> mpsc::Receiver<Vec<ModuleRequest>> {
    let listener = UnixListener::bind(socket).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut received = vec![];
        let mut exchange = |reply: Step| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            received.push(serde_json::from_str(&line).unwrap());
            writer.write_all(format!("{}\n", serde_json::to_string(&reply).unwrap()).as_bytes()).unwrap();
        };
        exchange(Step::prompt("Input #25 Code: ", false).with_info("A code was sent."));
        if let Some(early) = early {
            writer.write_all(format!("{}\n", serde_json::to_string(&early).unwrap()).as_bytes()).unwrap();
        } else if let Some(last) = last {
            exchange(last);
        }
        drop((reader, writer));
        tx.send(received).unwrap();
    });
    rx
}

/// Runs `pamtester hg-test root authenticate` with our module in the stack, `typed` on stdin.
fn pamtester(dir: &Path, fail_mode: &str, typed: &str) -> Output {
    pamtester_as(dir, fail_mode, "root", typed, None)
}

/// [`pamtester`] for `account`; with `wait`, `typed` reaches stdin only once it says so.
fn pamtester_as(
    dir: &Path,
    fail_mode: &str,
    account: &str,
    typed: &str,
    wait: Option<mpsc::Receiver<Vec<ModuleRequest>>>,
) -> Output {
    let pam_d = dir.join("pam.d");
    std::fs::create_dir(&pam_d).unwrap();
    std::fs::write(
        pam_d.join("hg-test"),
        format!(
            "auth required pam_permit.so\nauth required {} config={} socket={} timeout=30\n",
            module_path().display(),
            dir.join("pam.conf").display(),
            dir.join("pam.sock").display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("pam.conf"), format!("console_url=https://console.example\nfail_mode={fail_mode}\n"))
        .unwrap();
    let script = r#"mount --bind "$0" /etc/pam.d && exec pamtester -v -I rhost=192.0.2.9 -I tty=pts/7 hg-test "$1" authenticate"#;
    let mut child = Command::new("timeout")
        .args(["20", "unshare", "-m", "--propagation", "private", "sh", "-c", script])
        .arg(&pam_d)
        .arg(account)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(wait) = wait {
        wait.recv_timeout(Duration::from_secs(15)).unwrap();
    }
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

macro_rules! skip_unless_possible {
    () => {
        if let Some(why) = skip_reason() {
            println!("SKIP pamtester test: {why}");
            return;
        }
    };
}

/// The start for root, with the uid the module looked up; `timeout_secs` is checked against
/// `timeout=30` and left out.
fn start_of(received: &[ModuleRequest]) -> LoginStart {
    let Some(ModuleRequest::Start(start)) = received.first() else { panic!("no start: {received:?}") };
    assert!(matches!(start.timeout_secs, Some(25..=30)), "{start:?}");
    LoginStart { timeout_secs: None, ..start.clone() }
}

fn expected_start() -> LoginStart {
    LoginStart {
        account: "root".into(),
        source_ip: "192.0.2.9".into(),
        service: "hg-test".into(),
        tty: "pts/7".into(),
        uid: Some(0),
        ..Default::default()
    }
}

#[test]
fn pamtester_logs_in_when_the_daemon_allows() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let received = fake_daemon(&dir.path().join("pam.sock"), Some(Step::allow()));
    let output = pamtester(dir.path(), "secure", "123456\n");
    assert!(output.status.success(), "{}", text(&output));
    let received = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(start_of(&received), expected_start());
    assert_eq!(received.get(1..), Some(&[ModuleRequest::Answer { answer: "123456".into() }][..]));
    let out = text(&output);
    assert!(out.contains("A code was sent.") && out.contains("Input #25 Code: "), "{out}");
}

#[test]
fn pamtester_is_refused_when_the_daemon_denies_even_in_safe_mode() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let received = fake_daemon(&dir.path().join("pam.sock"), Some(Step::deny("Wrong code.")));
    let output = pamtester(dir.path(), "safe", "000000\n");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("Wrong code."), "{}", text(&output));
    let received = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(start_of(&received), expected_start());
    assert_eq!(received.get(1..), Some(&[ModuleRequest::Answer { answer: "000000".into() }][..]));
}

#[test]
fn pamtester_without_a_daemon_is_refused_in_secure_mode() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let output = pamtester(dir.path(), "secure", "");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("HostGuard could not verify this login"), "{}", text(&output));
}

#[test]
fn pamtester_without_a_daemon_logs_in_in_safe_mode() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let output = pamtester(dir.path(), "safe", "");
    assert!(output.status.success(), "{}", text(&output));
}

/// The module writes with MSG_NOSIGNAL: a daemon that hangs up must not kill the process that
/// loaded the module (sshd) with SIGPIPE. The daemon had asked for the code, so it was there:
/// refused even in safe mode (it used to be the fail mode, and safe mode let the login in).
#[test]
fn pamtester_survives_a_daemon_that_hangs_up_mid_login() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let _received = fake_daemon(&dir.path().join("pam.sock"), None);
    let output = pamtester(dir.path(), "safe", "123456\n");
    // An exit code at all: not killed by a signal.
    assert!(output.status.code().is_some_and(|c| c != 0), "{}", text(&output));
    assert!(text(&output).contains("broke off this login"), "{}", text(&output));
}

/// The attack: a refusal longer than a line. Before: garbage, the fail mode, PAM_SUCCESS.
#[test]
fn pamtester_is_refused_when_the_daemon_sends_an_over_long_deny_in_safe_mode() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let long = Step::deny(format!("refused ({})", "x".repeat(proto::login::MAX_LINE_BYTES)));
    let _received = fake_daemon(&dir.path().join("pam.sock"), Some(long));
    let output = pamtester(dir.path(), "safe", "123456\n");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("could not verify this login safely"), "{}", text(&output));
}

/// The agent gave up waiting and said so before the answer came; the module's late send fails.
/// The deny it already got wins over that failure: refused, even in safe mode.
#[test]
fn pamtester_is_refused_when_the_daemon_denied_before_the_answer_and_hung_up() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let early = Step::deny("HostGuard: the login took too long. Log in again.");
    let gone = fake_daemon_then(&dir.path().join("pam.sock"), None, Some(early));
    // The code is typed only after the daemon has closed.
    let output = pamtester_as(dir.path(), "safe", "root", "123456\n", Some(gone));
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("the login took too long"), "{}", text(&output));
}

/// An account the name service does not know is refused by the module, even in safe mode and
/// with a daemon that would allow it; the daemon is never asked.
#[test]
fn pamtester_refuses_an_account_that_does_not_resolve() {
    skip_unless_possible!();
    let dir = tempfile::tempdir().unwrap();
    let listener = UnixListener::bind(dir.path().join("pam.sock")).unwrap();
    listener.set_nonblocking(true).unwrap();
    let output = pamtester_as(dir.path(), "safe", "hostguard-no-such-account", "123456\n", None);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("could not look up this account"), "{}", text(&output));
    assert!(listener.accept().is_err(), "the daemon was asked");
}
