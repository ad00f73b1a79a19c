//! The real Unix-socket transport against a fake daemon thread: a whole dialogue, a daemon that
//! never answers, one that hangs up mid-login (with and without a last `deny`), and ones that
//! send garbage.

// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pam_hostguard::accounts::NssAccounts;
use pam_hostguard::logic::{authenticate, Conversation, Daemon, DaemonError, SystemClock, Verdict, UNSAFE_MESSAGE};
use pam_hostguard::transport::UnixDaemon;
use proto::login::{FailMode, LoginStart, ModuleRequest, Step, MAX_LINE_BYTES};

struct User {
    answers: Vec<String>,
    shown: Vec<String>,
    /// The user types only once this says so (or it is dropped).
    typing: Option<mpsc::Receiver<()>>,
}

impl Conversation for User {
    fn prompt(&mut self, text: &str, _echo: bool) -> Result<String, String> {
        self.shown.push(format!("prompt: {text}"));
        if let Some(typing) = &self.typing {
            let _ = typing.recv_timeout(Duration::from_secs(10));
        }
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
    LoginStart {
        account: "root".into(),
        source_ip: "192.0.2.9".into(),
        service: "sshd".into(),
        tty: "ssh".into(),
        ..Default::default()
    }
}

fn run(daemon: FakeDaemon, answers: &[&str], timeout: Duration) -> (Verdict, Vec<String>, Vec<ModuleRequest>) {
    let mut user = User { answers: answers.iter().map(|a| a.to_string()).collect(), shown: vec![], typing: None };
    let mut transport = UnixDaemon::new(&daemon.path);
    let deadline = Instant::now() + timeout;
    let verdict =
        authenticate(&login(), deadline, FailMode::Secure, &mut user, &mut transport, &NssAccounts, &SystemClock);
    drop(transport);
    drop(daemon._hold);
    let received = daemon.thread.join().unwrap();
    (verdict, user.shown, received)
}

/// The start as the daemon got it, with what the module sent as `timeout_secs` checked against
/// the deadline it was given and then left out.
fn sent_start(request: &ModuleRequest, timeout: Duration) -> LoginStart {
    let ModuleRequest::Start(start) = request else { panic!("not a start: {request:?}") };
    let secs = start.timeout_secs.expect("the start carries the time left");
    // Rounded up: a 300 ms deadline is sent as 1 s.
    let most = timeout.as_millis().div_ceil(1000) as u64;
    assert!(secs <= most && secs + 5 >= most, "timeout_secs {secs} for {timeout:?}");
    LoginStart { timeout_secs: None, ..start.clone() }
}

/// What the daemon gets for [`login`]: root, as the name service resolves it.
fn resolved() -> LoginStart {
    LoginStart { uid: Some(0), ..login() }
}

fn refused_because(verdict: &Verdict, why: &str) -> bool {
    matches!(verdict, Verdict::Refused { reason } if reason.contains(why))
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
    assert_eq!(received.len(), 2);
    assert_eq!(sent_start(&received[0], Duration::from_secs(30)), resolved());
    assert_eq!(received[1], ModuleRequest::Answer { answer: "123456".into() });
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
    assert_eq!(received.len(), 1);
    assert_eq!(sent_start(&received[0], Duration::from_millis(300)), resolved());
}

#[test]
fn a_daemon_that_hangs_up_mid_login_is_refused() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send(&Step::prompt("Input #25 Code: ", false));
        peer.read();
        peer.hang_up();
    });
    let (verdict, _, received) = run(daemon, &["123456"], Duration::from_secs(30));
    assert!(refused_because(&verdict, "closed the connection"), "{verdict:?}");
    assert_eq!(received.len(), 2);
}

#[test]
fn a_garbage_line_is_refused() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send_raw(b"{\"action\": \"let me in\"}\n");
    });
    let (verdict, _, _) = run(daemon, &[], Duration::from_secs(10));
    assert!(refused_because(&verdict, "cannot read"), "{verdict:?}");
}

/// Half a line, then a close (or silence): the daemon said something, so it is garbage, not a
/// missing daemon.
#[test]
fn half_a_line_then_a_close_or_silence_is_refused() {
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send_raw(b"{\"info\":[],\"action\":{\"type\":\"deny\",");
        peer.hang_up();
    });
    let (verdict, _, _) = run(daemon, &[], Duration::from_secs(10));
    assert!(refused_because(&verdict, "bytes of a line, then"), "{verdict:?}");
    let daemon = fake_daemon(|peer| {
        peer.read();
        peer.send_raw(b"{\"info\":[],");
    });
    let (verdict, _, _) = run(daemon, &[], Duration::from_millis(500));
    assert!(refused_because(&verdict, "bytes of a line, then"), "{verdict:?}");
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
    assert!(refused_because(&verdict, "longer than"), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn no_socket_or_nobody_listening_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let mut user = User { answers: vec![], shown: vec![], typing: None };
    let deadline = Instant::now() + Duration::from_secs(5);
    let verdict = authenticate(
        &login(),
        deadline,
        FailMode::Safe,
        &mut user,
        &mut UnixDaemon::new(&path),
        &NssAccounts,
        &SystemClock,
    );
    assert!(matches!(&verdict, Verdict::FailMode { allow: true, reason } if reason.contains("cannot be reached")));
    drop(UnixListener::bind(&path).unwrap());
    let verdict = authenticate(
        &login(),
        deadline,
        FailMode::Safe,
        &mut user,
        &mut UnixDaemon::new(&path),
        &NssAccounts,
        &SystemClock,
    );
    assert!(matches!(&verdict, Verdict::FailMode { allow: true, reason } if reason.contains("cannot be reached")));
}

#[test]
fn a_socket_served_by_another_uid_is_refused_even_in_safe_mode() {
    let daemon = fake_daemon(|_| {});
    let mut user = User { answers: vec![], shown: vec![], typing: None };
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut transport = UnixDaemon::new(&daemon.path).expecting_uid(me.wrapping_add(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    let verdict =
        authenticate(&login(), deadline, FailMode::Safe, &mut user, &mut transport, &NssAccounts, &SystemClock);
    assert!(matches!(&verdict, Verdict::Refused { reason } if reason.contains("is served by uid")), "{verdict:?}");
    assert_eq!(user.shown, vec![format!("error: {UNSAFE_MESSAGE}")]);
}

/// The agent's way of ending a login early: accept, write a `deny`, close the socket (unread
/// requests and all), and tell the test it is gone.
fn deny_and_close(listener: UnixListener, read_start: bool, message: &'static str) -> mpsc::Receiver<()> {
    let (closed, gone) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        if read_start {
            let mut start = String::new();
            reader.read_line(&mut start).unwrap();
            writer
                .write_all(
                    format!("{}\n", serde_json::to_string(&Step::prompt("Input #25 Code: ", false)).unwrap())
                        .as_bytes(),
                )
                .unwrap();
        }
        writer.write_all(format!("{}\n", serde_json::to_string(&Step::deny(message)).unwrap()).as_bytes()).unwrap();
        drop((reader, writer));
        closed.send(()).unwrap();
    });
    gone
}

/// The real transport, whose first send waits until `gate` says the daemon is gone.
struct SendsLate {
    inner: UnixDaemon,
    gate: Option<mpsc::Receiver<()>>,
}

impl Daemon for SendsLate {
    fn connect(&mut self, deadline: Instant) -> Result<(), DaemonError> {
        self.inner.connect(deadline)
    }
    fn send(&mut self, request: &ModuleRequest, deadline: Instant) -> Result<(), DaemonError> {
        if let Some(gate) = self.gate.take() {
            gate.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        self.inner.send(request, deadline)
    }
    fn receive(&mut self, deadline: Instant) -> Result<Step, DaemonError> {
        self.inner.receive(deadline)
    }
}

#[test]
fn a_deny_before_the_answer_wins_when_the_answer_cannot_be_sent() {
    // The agent gave up on the answer, denied and closed; the user types after that, so the
    // module's send fails for real (EPIPE). Safe mode: a broken daemon would let the login in.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let gave_up = "HostGuard: the login took too long. Log in again.";
    let gone = deny_and_close(UnixListener::bind(&path).unwrap(), true, gave_up);
    let mut user = User { answers: vec!["123456".into()], shown: vec![], typing: Some(gone) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let verdict = authenticate(
        &login(),
        deadline,
        FailMode::Safe,
        &mut user,
        &mut UnixDaemon::new(&path),
        &NssAccounts,
        &SystemClock,
    );
    assert_eq!(verdict, Verdict::Deny);
    assert_eq!(user.shown, vec!["prompt: Input #25 Code: ".to_owned(), format!("error: {gave_up}")]);
}

#[test]
fn a_busy_daemon_that_denies_and_closes_before_the_start_is_sent_denies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let busy = "HostGuard: too many logins are in progress on this server. Try again in a moment.";
    let gone = deny_and_close(UnixListener::bind(&path).unwrap(), false, busy);
    let mut transport = SendsLate { inner: UnixDaemon::new(&path), gate: Some(gone) };
    // The send itself fails: the start never reaches the daemon.
    transport.connect(Instant::now() + Duration::from_secs(5)).unwrap();
    let start = ModuleRequest::Start(resolved());
    assert_eq!(transport.send(&start, Instant::now() + Duration::from_secs(5)), Err(DaemonError::Closed));

    let gone = deny_and_close(UnixListener::bind(dir.path().join("busy.sock")).unwrap(), false, busy);
    let mut transport = SendsLate { inner: UnixDaemon::new(dir.path().join("busy.sock")), gate: Some(gone) };
    let mut user = User { answers: vec![], shown: vec![], typing: None };
    let deadline = Instant::now() + Duration::from_secs(30);
    let verdict =
        authenticate(&login(), deadline, FailMode::Safe, &mut user, &mut transport, &NssAccounts, &SystemClock);
    assert_eq!(verdict, Verdict::Deny);
    assert_eq!(user.shown, vec![format!("error: {busy}")]);
}

#[test]
fn a_deny_written_before_the_start_is_read_still_denies() {
    // The other order of the same race: the start got through but was never read, and the daemon
    // closed with it unread. The module reads the deny before the reset.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pam.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let (started, start_sent) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        start_sent.recv_timeout(Duration::from_secs(10)).unwrap();
        stream.write_all(format!("{}\n", serde_json::to_string(&Step::deny("Busy.")).unwrap()).as_bytes()).unwrap();
    });
    let mut transport = UnixDaemon::new(&path);
    let deadline = Instant::now() + Duration::from_secs(10);
    transport.connect(deadline).unwrap();
    transport.send(&ModuleRequest::Start(resolved()), deadline).unwrap();
    started.send(()).unwrap();
    server.join().unwrap();
    assert_eq!(transport.receive(deadline), Ok(Step::deny("Busy.")));
    assert_eq!(transport.receive(deadline), Err(DaemonError::Closed));
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
    let mut user = User { answers: vec![], shown: vec![], typing: None };
    let deadline = started + Duration::from_millis(300);
    let verdict = authenticate(
        &login(),
        deadline,
        FailMode::Secure,
        &mut user,
        &mut UnixDaemon::new(&path),
        &NssAccounts,
        &SystemClock,
    );
    assert!(failed_because(&verdict, "did not answer in time"), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}
