//! The real Unix-socket transport against a fake daemon thread: a whole dialogue, a daemon that
//! never answers, one that hangs up mid-login, and ones that send garbage.

// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pam_hostguard::logic::{authenticate, Conversation, Daemon, DaemonError, SystemClock, Verdict};
use pam_hostguard::transport::UnixDaemon;
use proto::login::{FailMode, LoginStart, ModuleRequest, Step, MAX_LINE_BYTES};

struct User {
    answers: Vec<String>,
    shown: Vec<String>,
}

impl Conversation for User {
    fn prompt(&mut self, text: &str, _echo: bool) -> Result<String, String> {
        self.shown.push(format!("prompt: {text}"));
        if self.answers.is_empty() {
            Err("no answer".into())
        } else {
            Ok(self.answers.remove(0))
        }
    }
    fn info(&mut self, text: &str) {
        self.shown.push(format!("info: {text}"));
    }
    fn error(&mut self, text: &str) {
        self.shown.push(format!("error: {text}"));
    }
}

/// A fake daemon on a socket in a temp dir: `script` gets the accepted connection and returns
/// the requests it read. `hold` keeps the connection open until the test drops its sender.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    path: PathBuf,
    thread: JoinHandle<Vec<ModuleRequest>>,
    _hold: mpsc::Sender<()>,
}

fn fake_daemon(script: impl FnOnce(&mut Peer) + Send + 'static) -> FakeDaemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let (hold, held) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut peer = Peer { reader: BufReader::new(stream.try_clone().unwrap()), stream, received: vec![] };
        script(&mut peer);
        let _ = held.recv_timeout(Duration::from_secs(40));
        peer.received
    });
    FakeDaemon { _dir: dir, path, thread, _hold: hold }
}

struct Peer {
    reader: BufReader<UnixStream>,
    stream: UnixStream,
    received: Vec<ModuleRequest>,
}

impl Peer {
    fn read(&mut self) {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        self.received.push(serde_json::from_str(&line).unwrap());
    }
    fn send(&mut self, step: &Step) {
        self.send_raw(format!("{}\n", serde_json::to_string(step).unwrap()).as_bytes());
    }
    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }
    fn hang_up(&mut self) {
        self.stream.shutdown(std::net::Shutdown::Both).unwrap();
    }
}

fn login() -> LoginStart {
    LoginStart { account: "root".into(), source_ip: "192.0.2.9".into(), service: "sshd".into(), tty: "ssh".into(), ..Default::default() }
}

fn run(daemon: FakeDaemon, answers: &[&str], timeout: Duration) -> (Verdict, Vec<String>, Vec<ModuleRequest>) {
    let mut user = User { answers: answers.iter().map(|a| a.to_string()).collect(), shown: vec![] };
    let mut transport = UnixDaemon::new(&daemon.path);
    let deadline = Instant::now() + timeout;
    let verdict = authenticate(&login(), deadline, FailMode::Secure, &mut user, &mut transport, &SystemClock);
    drop(transport);
    drop(daemon._hold);
    let received = daemon.thread.join().unwrap();
    (verdict, user.shown, received)
}

fn failed_because(verdict: &Verdict, why: &str) -> bool {
    matches!(verdict, Verdict::FailMode { allow: false, reason } if reason.contains(why))
}

#[test]
fn a_whole_dialogue_over_the_socket() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send(&Step::prompt("Input #25 Code: ", false).with_info("A code was sent."));
        peer.read();
        peer.send(&Step::allow());
    });
    let (verdict, shown, received) = run(daemon, &["123456"], Duration::from_secs(30));
    assert_eq!(verdict, Verdict::Allow);
    assert_eq!(shown, vec!["info: A code was sent.", "prompt: Input #25 Code: "]);
    assert_eq!(received, vec![ModuleRequest::Start(login()), ModuleRequest::Answer { answer: "123456".into() }]);
}

#[test]
fn a_daemon_that_never_answers_times_out_at_the_deadline() {
    let daemon = fake_daemon(|peer| peer.read());
    let started = Instant::now();
    let (verdict, shown, received) = run(daemon, &[], Duration::from_millis(300));
    assert!(failed_because(&verdict, "did not answer in time"), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(
        shown.last().map(String::as_str),
        Some(format!("error: {}", pam_hostguard::logic::SECURE_MESSAGE).as_str())
    );
    assert_eq!(received, vec![ModuleRequest::Start(login())]);
}

#[test]
fn a_daemon_that_hangs_up_mid_login_gets_the_fail_mode() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send(&Step::prompt("Input #25 Code: ", false));
        peer.read();
        peer.hang_up();
    });
    let (verdict, _, received) = run(daemon, &["123456"], Duration::from_secs(30));
    assert!(failed_because(&verdict, "closed the connection"), "{verdict:?}");
    assert_eq!(received.len(), 2);
}

#[test]
fn a_garbage_line_gets_the_fail_mode() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send_raw(b"{\"action\": \"let me in\"}\n");
    });
    let (verdict, _, _) = run(daemon, &[], Duration::from_secs(10));
    assert!(failed_because(&verdict, "cannot read"), "{verdict:?}");
}

#[test]
fn an_endless_line_is_cut_off_without_waiting_for_its_end() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        // The module may hang up before reading it all.
        let _ = peer.stream.write_all(&vec![b'x'; MAX_LINE_BYTES + 10]);
    });
    let started = Instant::now();
    let (verdict, _, _) = run(daemon, &[], Duration::from_secs(30));
    assert!(failed_because(&verdict, "longer than"), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn no_socket_or_nobody_listening_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let mut user = User { answers: vec![], shown: vec![] };
    let deadline = Instant::now() + Duration::from_secs(5);
    let verdict =
        authenticate(&login(), deadline, FailMode::Safe, &mut user, &mut UnixDaemon::new(&path), &SystemClock);
    assert!(matches!(&verdict, Verdict::FailMode { allow: true, reason } if reason.contains("cannot be reached")));
    drop(UnixListener::bind(&path).unwrap());
    let verdict =
        authenticate(&login(), deadline, FailMode::Safe, &mut user, &mut UnixDaemon::new(&path), &SystemClock);
    assert!(matches!(&verdict, Verdict::FailMode { allow: true, reason } if reason.contains("cannot be reached")));
}

#[test]
fn a_socket_served_by_another_uid_is_not_believed() {
    let daemon = fake_daemon(|_| {});
    let mut user = User { answers: vec![], shown: vec![] };
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut transport = UnixDaemon::new(&daemon.path).expecting_uid(me.wrapping_add(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    let verdict = authenticate(&login(), deadline, FailMode::Secure, &mut user, &mut transport, &SystemClock);
    assert!(failed_because(&verdict, "is served by uid"), "{verdict:?}");
}

#[test]
fn a_daemon_that_stopped_accepting_times_out_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // The smallest backlog, and nobody accepting: it fills after a connection or two.
    // SAFETY: a live listening socket; listen(2) again only changes its backlog.
    assert_eq!(unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) }, 0);
    let mut queued = vec![];
    loop {
        let mut transport = UnixDaemon::new(&path);
        match transport.connect(Instant::now() + Duration::from_millis(200)) {
            Ok(()) => queued.push(transport),
            Err(DaemonError::TimedOut) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued.len() < 10, "the backlog never filled");
    }
    let started = Instant::now();
    let mut user = User { answers: vec![], shown: vec![] };
    let deadline = started + Duration::from_millis(300);
    let verdict =
        authenticate(&login(), deadline, FailMode::Secure, &mut user, &mut UnixDaemon::new(&path), &SystemClock);
    assert!(failed_because(&verdict, "did not answer in time"), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}
