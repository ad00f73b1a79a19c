//! The module's decisions, driven by a fake user and a fake daemon.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shown {
    Info(String),
    Error(String),
    Prompt { text: String, echo: bool },
}

/// The user: answers prompts from a list, and may take `typing` on the fake clock per answer.
struct FakeUser {
    answers: VecDeque<Result<String, String>>,
    shown: Vec<Shown>,
    clock: Rc<Cell<Instant>>,
    typing: Duration,
}

impl Conversation for FakeUser {
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String> {
        self.shown.push(Shown::Prompt { text: text.into(), echo });
        self.clock.set(self.clock.get() + self.typing);
        self.answers.pop_front().unwrap_or_else(|| Err("no more answers".into()))
    }
    fn info(&mut self, text: &str) {
        self.shown.push(Shown::Info(text.into()));
    }
    fn error(&mut self, text: &str) {
        self.shown.push(Shown::Error(text.into()));
    }
}

enum Reply {
    Line(String),
    TimedOut,
    Closed,
    Panic,
}

fn line(step: &Step) -> Reply {
    Reply::Line(serde_json::to_string(step).unwrap())
}

/// The daemon: answers each request with the next scripted reply, decoded like the real transport.
struct FakeDaemon {
    missing: bool,
    /// Serves the socket under another uid.
    impostor: bool,
    /// From this send on (0 is the start), the daemon has hung up: sends fail and nothing more is
    /// read, but what it sent before hanging up is still there to receive.
    hung_up_before_send: Option<usize>,
    sends: usize,
    replies: VecDeque<Reply>,
    received: Vec<ModuleRequest>,
    clock: Rc<Cell<Instant>>,
    /// How long connecting takes on the fake clock.
    connecting: Duration,
}

impl Daemon for FakeDaemon {
    fn connect(&mut self, _deadline: Instant) -> Result<(), DaemonError> {
        self.clock.set(self.clock.get() + self.connecting);
        if self.missing {
            return Err(DaemonError::Unreachable("/run/hostguard/pam.sock: No such file or directory".into()));
        }
        if self.impostor {
            return Err(DaemonError::Impostor("/run/hostguard/pam.sock is served by uid 1000, not 0".into()));
        }
        Ok(())
    }
    fn send(&mut self, request: &ModuleRequest, _deadline: Instant) -> Result<(), DaemonError> {
        self.sends += 1;
        if self.hung_up_before_send.is_some_and(|n| self.sends > n) {
            return Err(DaemonError::Closed);
        }
        self.received.push(request.clone());
        Ok(())
    }
    fn receive(&mut self, _deadline: Instant) -> Result<Step, DaemonError> {
        match self.replies.pop_front() {
            Some(Reply::Line(line)) => decode_step(line.as_bytes()),
            Some(Reply::TimedOut) => Err(DaemonError::TimedOut),
            Some(Reply::Closed) | None => Err(DaemonError::Closed),
            Some(Reply::Panic) => panic!("bug in the dialogue"),
        }
    }
}

/// A name service like SSSD's: case-insensitive, and `@corp` names the same account.
struct FakeNss;

impl Accounts for FakeNss {
    fn lookup(&self, name: &str) -> Result<Option<Account>, String> {
        let name = name.to_lowercase();
        match name.strip_suffix("@corp").unwrap_or(&name) {
            "root" => Ok(Some(Account { name: "root".into(), uid: 0 })),
            "alice" => Ok(Some(Account { name: "alice".into(), uid: 1001 })),
            "flaky" => Err("getpwnam_r: Input/output error".into()),
            "panics" => panic!("bug in the lookup"),
            _ => Ok(None),
        }
    }
}

struct FakeClock(Rc<Cell<Instant>>);

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.0.get()
    }
}

struct Run {
    verdict: Verdict,
    shown: Vec<Shown>,
    received: Vec<ModuleRequest>,
}

/// One login's setting; `Setup::new(..).run()` drives it.
struct Setup {
    fail_mode: FailMode,
    missing: bool,
    impostor: bool,
    hung_up_before_send: Option<usize>,
    replies: Vec<Reply>,
    answers: Vec<String>,
    typing: Duration,
    connecting: Duration,
    login: LoginStart,
}

impl Setup {
    fn new(fail_mode: FailMode, replies: Vec<Reply>, answers: Vec<&str>) -> Setup {
        Setup {
            fail_mode,
            missing: false,
            impostor: false,
            hung_up_before_send: None,
            replies,
            answers: answers.into_iter().map(str::to_owned).collect(),
            typing: Duration::from_secs(1),
            connecting: Duration::ZERO,
            login: login(),
        }
    }

    fn run(self) -> Run {
        let now = Instant::now();
        let clock = Rc::new(Cell::new(now));
        let mut user = FakeUser {
            answers: self.answers.into_iter().map(Ok).collect(),
            shown: vec![],
            clock: clock.clone(),
            typing: self.typing,
        };
        let mut daemon = FakeDaemon {
            missing: self.missing,
            impostor: self.impostor,
            hung_up_before_send: self.hung_up_before_send,
            sends: 0,
            replies: self.replies.into(),
            received: vec![],
            clock: clock.clone(),
            connecting: self.connecting,
        };
        let deadline = now + Duration::from_secs(90);
        let verdict =
            authenticate(&self.login, deadline, self.fail_mode, &mut user, &mut daemon, &FakeNss, &FakeClock(clock));
        Run { verdict, shown: user.shown, received: daemon.received }
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

/// The start the daemon gets for [`login`]: the lookup's uid, and the whole 90 s left.
fn start() -> ModuleRequest {
    ModuleRequest::Start(LoginStart { uid: Some(0), timeout_secs: Some(90), ..login() })
}

fn answer(text: &str) -> ModuleRequest {
    ModuleRequest::Answer { answer: text.into() }
}

fn run_with(
    fail_mode: FailMode,
    missing: bool,
    replies: Vec<Reply>,
    answers: Vec<&str>,
    typing: Duration,
    login: LoginStart,
) -> Run {
    let mut setup = Setup::new(fail_mode, replies, answers);
    setup.missing = missing;
    setup.typing = typing;
    setup.login = login;
    setup.run()
}

fn run(fail_mode: FailMode, replies: Vec<Reply>, answers: Vec<&str>) -> Run {
    Setup::new(fail_mode, replies, answers).run()
}

fn code_prompt() -> Step {
    Step::prompt("Input #25 Code: ", false)
}

/// A daemon failure, in both fail modes: secure denies and says why, safe allows silently.
fn assert_fail_mode(replies: impl Fn() -> Vec<Reply>, answers: Vec<&str>, reason: &str) {
    let secure = run(FailMode::Secure, replies(), answers.clone());
    assert!(
        matches!(&secure.verdict, Verdict::FailMode { allow: false, reason: r } if r.contains(reason)),
        "{:?}",
        secure.verdict
    );
    assert_eq!(secure.shown.last(), Some(&Shown::Error(SECURE_MESSAGE.into())));
    let safe = run(FailMode::Safe, replies(), answers);
    assert!(
        matches!(&safe.verdict, Verdict::FailMode { allow: true, reason: r } if r.contains(reason)),
        "{:?}",
        safe.verdict
    );
    assert!(!safe.shown.iter().any(|s| matches!(s, Shown::Error(_))));
}

#[test]
fn a_right_code_lets_the_login_in() {
    let run = run(FailMode::Secure, vec![line(&code_prompt()), line(&Step::allow())], vec!["123456"]);
    assert_eq!(run.verdict, Verdict::Allow);
    assert_eq!(run.received, vec![start(), answer("123456")]);
    assert_eq!(run.shown, vec![Shown::Prompt { text: "Input #25 Code: ".into(), echo: false }]);
}

#[test]
fn a_deny_shows_the_daemons_message_and_is_not_the_fail_mode() {
    let run = run(FailMode::Safe, vec![line(&code_prompt()), line(&Step::deny("Wrong code."))], vec!["000000"]);
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown.last(), Some(&Shown::Error("Wrong code.".into())));
}

#[test]
fn a_deny_without_a_message_still_says_something() {
    let run = run(FailMode::Secure, vec![line(&Step::deny(" "))], vec![]);
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown, vec![Shown::Error(DENIED_MESSAGE.into())]);
}

#[test]
fn a_prompt_with_echo_on_passes_the_typed_answer_as_typed() {
    let phone = Step::prompt("Phone number or email: ", true);
    let run = run(FailMode::Secure, vec![line(&phone), line(&Step::allow())], vec![" +8613800000000 "]);
    assert_eq!(run.verdict, Verdict::Allow);
    assert_eq!(run.shown, vec![Shown::Prompt { text: "Phone number or email: ".into(), echo: true }]);
    assert_eq!(run.received, vec![start(), answer(" +8613800000000 ")]);
}

#[test]
fn a_choice_numbers_its_options_from_one_and_sends_the_trimmed_number() {
    let choice = Step {
        info: vec![],
        action: Action::Choice {
            text: "Choose a method: ".into(),
            options: vec!["Push".into(), "SMS passcode".into()],
        },
    };
    let run = run(FailMode::Secure, vec![line(&choice), line(&Step::allow())], vec![" 2\n"]);
    assert_eq!(run.verdict, Verdict::Allow);
    assert_eq!(
        run.shown,
        vec![
            Shown::Info("1. Push".into()),
            Shown::Info("2. SMS passcode".into()),
            Shown::Prompt { text: "Choose a method: ".into(), echo: true },
        ]
    );
    assert_eq!(run.received, vec![start(), answer("2")]);
}

#[test]
fn info_lines_are_shown_before_the_action() {
    let step = code_prompt().with_info("A code was sent to +86 138****0000.").with_info("It is valid for 5 minutes.");
    let run = run(FailMode::Secure, vec![line(&step), line(&Step::allow().with_info("Welcome."))], vec!["1"]);
    assert_eq!(run.verdict, Verdict::Allow);
    assert_eq!(
        run.shown,
        vec![
            Shown::Info("A code was sent to +86 138****0000.".into()),
            Shown::Info("It is valid for 5 minutes.".into()),
            Shown::Prompt { text: "Input #25 Code: ".into(), echo: false },
            Shown::Info("Welcome.".into()),
        ]
    );
}

#[test]
fn a_missing_daemon_gets_the_fail_mode() {
    let secure = run_with(FailMode::Secure, true, vec![], vec![], Duration::ZERO, login());
    assert!(
        matches!(&secure.verdict, Verdict::FailMode { allow: false, reason } if reason.contains("cannot be reached"))
    );
    assert_eq!(secure.shown, vec![Shown::Error(SECURE_MESSAGE.into())]);
    assert!(secure.received.is_empty());
    let safe = run_with(FailMode::Safe, true, vec![], vec![], Duration::ZERO, login());
    assert!(matches!(&safe.verdict, Verdict::FailMode { allow: true, reason } if reason.contains("cannot be reached")));
    assert!(safe.shown.is_empty());
}

/// Refused in both fail modes (never safe mode's allow), with `message` shown.
fn assert_refused_in_both(replies: impl Fn() -> Vec<Reply>, answers: Vec<&str>, message: &str, reason: &str) {
    for fail_mode in [FailMode::Safe, FailMode::Secure] {
        let run = run(fail_mode, replies(), answers.clone());
        assert_refused(&run, message, reason);
    }
}

#[test]
fn a_daemon_that_never_sends_a_first_step_gets_the_fail_mode() {
    assert_fail_mode(|| vec![Reply::TimedOut], vec![], "did not answer in time");
    assert_fail_mode(|| vec![Reply::Closed], vec![], "closed the connection");
}

/// The daemon was there (it asked for the code); a timeout or close after that is a refusal.
/// Before: the fail mode, so safe mode let the login in.
#[test]
fn a_daemon_that_breaks_off_after_its_first_step_is_refused_even_in_safe_mode() {
    let timed_out = || vec![line(&code_prompt()), Reply::TimedOut];
    assert_refused_in_both(timed_out, vec!["123456"], BROKEN_MESSAGE, "did not answer in time");
    let closed = || vec![line(&code_prompt()), Reply::Closed];
    assert_refused_in_both(closed, vec!["123456"], BROKEN_MESSAGE, "closed the connection");
}

/// Before: garbage was the fail mode, so safe mode let the login in.
#[test]
fn garbage_from_the_daemon_is_refused_even_in_safe_mode() {
    assert_refused_in_both(|| vec![Reply::Line("HTTP/1.1 200 OK".into())], vec![], UNSAFE_MESSAGE, "cannot read");
    assert_refused_in_both(|| vec![Reply::Line(r#"{"info":[]}"#.into())], vec![], UNSAFE_MESSAGE, "cannot read");
    let later = || vec![line(&code_prompt()), Reply::Line("{".into())];
    assert_refused_in_both(later, vec!["123456"], UNSAFE_MESSAGE, "cannot read");
}

/// The attack: a refusal whose message is longer than a line. Before: garbage, the fail mode,
/// and safe mode's PAM_SUCCESS.
#[test]
fn an_over_long_line_from_the_daemon_is_refused_even_in_safe_mode() {
    let long = || vec![line(&Step::deny(format!("refused ({})", "x".repeat(MAX_LINE_BYTES))))];
    assert_refused_in_both(long, vec![], UNSAFE_MESSAGE, "longer than");
    let long_later = || vec![line(&code_prompt()), line(&Step::deny("x".repeat(MAX_LINE_BYTES)))];
    assert_refused_in_both(long_later, vec!["123456"], UNSAFE_MESSAGE, "longer than");
    // Just under the limit is fine.
    let fits = Step::deny("y".repeat(MAX_LINE_BYTES - 60));
    assert!(serde_json::to_string(&fits).unwrap().len() <= MAX_LINE_BYTES);
    assert_eq!(run(FailMode::Safe, vec![line(&fits)], vec![]).verdict, Verdict::Deny);
}

#[test]
fn an_unknown_action_is_refused_even_in_safe_mode() {
    let unknown = || vec![Reply::Line(r#"{"info":[],"action":{"type":"allow_everyone"}}"#.into())];
    assert_refused_in_both(unknown, vec![], UNSAFE_MESSAGE, "allow_everyone");
}

/// Refused in both fail modes: the message is shown and `reason` is in the verdict for the log.
fn assert_refused(run: &Run, message: &str, reason: &str) {
    assert!(matches!(&run.verdict, Verdict::Refused { reason: r } if r.contains(reason)), "{:?}", run.verdict);
    assert_eq!(run.shown.last(), Some(&Shown::Error(message.into())));
}

#[test]
fn a_panic_in_the_dialogue_is_refused_even_in_safe_mode() {
    for fail_mode in [FailMode::Safe, FailMode::Secure] {
        let run = run(fail_mode, vec![line(&code_prompt()), Reply::Panic], vec!["123456"]);
        assert_refused(&run, UNSAFE_MESSAGE, "panicked");
    }
    let mut panics = Setup::new(FailMode::Safe, vec![line(&Step::allow())], vec![]);
    panics.login.account = "panics".into();
    let run = panics.run();
    assert_refused(&run, UNSAFE_MESSAGE, "panicked");
    assert!(run.received.is_empty());
}

#[test]
fn a_deny_sent_before_the_answer_wins_over_the_failed_send() {
    // The agent gave up waiting for the answer (its 120 s), said so and hung up; the module's
    // late answer then fails to send. Before: a broken daemon, so safe mode let the login in.
    let gave_up = "HostGuard: the login took too long. Log in again.";
    for fail_mode in [FailMode::Safe, FailMode::Secure] {
        let mut setup = Setup::new(fail_mode, vec![line(&code_prompt()), line(&Step::deny(gave_up))], vec!["123456"]);
        setup.hung_up_before_send = Some(1);
        let run = setup.run();
        assert_eq!(run.verdict, Verdict::Deny, "{fail_mode:?}");
        assert_eq!(run.shown.last(), Some(&Shown::Error(gave_up.into())));
        assert_eq!(run.received, vec![start()], "the answer never got through");
    }
}

#[test]
fn a_busy_daemon_that_denies_before_reading_the_start_denies() {
    let busy = "HostGuard: too many logins are in progress on this server. Try again in a moment.";
    let mut setup = Setup::new(FailMode::Safe, vec![line(&Step::deny(busy).with_info("Sorry."))], vec![]);
    setup.hung_up_before_send = Some(0);
    let run = setup.run();
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown, vec![Shown::Info("Sorry.".into()), Shown::Error(busy.into())]);
    assert!(run.received.is_empty());
}

#[test]
fn an_allow_or_prompt_sent_before_the_request_got_through_is_refused() {
    let mut allow = Setup::new(FailMode::Safe, vec![line(&code_prompt()), line(&Step::allow())], vec!["123456"]);
    allow.hung_up_before_send = Some(1);
    assert_refused(&allow.run(), UNSAFE_MESSAGE, "sent allow before it had the module's request");
    let mut prompt = Setup::new(FailMode::Safe, vec![line(&code_prompt())], vec![]);
    prompt.hung_up_before_send = Some(0);
    assert_refused(&prompt.run(), UNSAFE_MESSAGE, "sent a prompt before");
}

#[test]
fn a_daemon_that_hung_up_before_any_step_gets_the_fail_mode() {
    let before_start = |fail_mode| {
        let mut setup = Setup::new(fail_mode, vec![], vec![]);
        setup.hung_up_before_send = Some(0);
        setup.run()
    };
    assert!(matches!(before_start(FailMode::Safe).verdict, Verdict::FailMode { allow: true, .. }));
    let secure = before_start(FailMode::Secure);
    assert!(
        matches!(&secure.verdict, Verdict::FailMode { allow: false, reason } if reason.contains("closed the connection")),
        "{:?}",
        secure.verdict
    );
}

/// Before: a hang-up after the prompt, or garbage left behind, was the fail mode.
#[test]
fn a_daemon_that_hung_up_after_a_step_or_left_garbage_is_refused_even_in_safe_mode() {
    for fail_mode in [FailMode::Safe, FailMode::Secure] {
        let mut after_prompt = Setup::new(fail_mode, vec![line(&code_prompt())], vec!["123456"]);
        after_prompt.hung_up_before_send = Some(1);
        assert_refused(&after_prompt.run(), BROKEN_MESSAGE, "closed the connection");
        let mut garbage = Setup::new(fail_mode, vec![Reply::Line("HTTP/1.1 400".into())], vec![]);
        garbage.hung_up_before_send = Some(0);
        assert_refused(&garbage.run(), UNSAFE_MESSAGE, "cannot read");
    }
}

#[test]
fn a_socket_served_by_another_uid_is_refused_not_the_fail_mode() {
    let mut setup = Setup::new(FailMode::Safe, vec![line(&Step::allow())], vec![]);
    setup.impostor = true;
    let run = setup.run();
    assert_refused(&run, UNSAFE_MESSAGE, "is served by uid 1000");
    assert!(run.received.is_empty());
}

#[test]
fn the_start_carries_the_whole_seconds_left_rounded_up() {
    let mut setup = Setup::new(FailMode::Secure, vec![line(&Step::allow())], vec![]);
    setup.connecting = Duration::from_millis(2500);
    let run = setup.run();
    assert_eq!(run.verdict, Verdict::Allow);
    assert_eq!(
        run.received,
        vec![ModuleRequest::Start(LoginStart { uid: Some(0), timeout_secs: Some(88), ..login() })]
    );
}

#[test]
fn the_daemon_gets_the_canonical_account_name_and_uid() {
    for typed in ["alice", "Alice", "ALICE@corp", "alice@corp"] {
        let mut setup = Setup::new(FailMode::Secure, vec![line(&Step::allow())], vec![]);
        setup.login.account = typed.into();
        let run = setup.run();
        assert_eq!(run.verdict, Verdict::Allow);
        let canonical = LoginStart { account: "alice".into(), uid: Some(1001), timeout_secs: Some(90), ..login() };
        assert_eq!(run.received, vec![ModuleRequest::Start(canonical)], "typed {typed:?}");
    }
}

#[test]
fn an_account_that_does_not_resolve_is_refused_without_asking_the_daemon() {
    for (typed, reason) in [("mallory", "does not resolve"), ("flaky", "Input/output error")] {
        let mut setup = Setup::new(FailMode::Safe, vec![line(&Step::allow())], vec![]);
        setup.login.account = typed.into();
        let run = setup.run();
        assert_refused(&run, NO_ACCOUNT_MESSAGE, reason);
        assert!(run.received.is_empty());
    }
}

#[test]
fn an_over_long_account_name_is_denied_before_it_is_looked_up() {
    let mut setup = Setup::new(FailMode::Safe, vec![line(&Step::allow())], vec![]);
    setup.login.account = "a".repeat(MAX_LINE_BYTES);
    let run = setup.run();
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown, vec![Shown::Error(TOO_LONG_MESSAGE.into())]);
}

#[test]
fn a_daemon_that_keeps_asking_is_denied_even_in_safe_mode() {
    let forever = || (0..MAX_STEPS + 5).map(|_| line(&code_prompt())).collect::<Vec<_>>();
    let answers = vec!["1"; MAX_STEPS + 5];
    let run = run(FailMode::Safe, forever(), answers);
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown.last(), Some(&Shown::Error(TOO_MANY_STEPS_MESSAGE.into())));
    assert_eq!(run.received.len(), MAX_STEPS);
}

#[test]
fn a_user_slower_than_the_deadline_is_denied_not_failed_open() {
    let replies = vec![line(&code_prompt()), line(&Step::allow())];
    let run = run_with(FailMode::Safe, false, replies, vec!["123456"], Duration::from_secs(91), login());
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown.last(), Some(&Shown::Error(TOO_SLOW_MESSAGE.into())));
    // The late answer never reaches the daemon.
    assert_eq!(run.received, vec![start()]);
}

#[test]
fn an_answer_too_close_to_the_deadline_is_denied_not_timed_out_into_safe_mode() {
    // 76 s of a 90 s login gone: the daemon would have under ANSWER_RESERVE to reply, and a
    // reply arriving after the deadline would read as a broken daemon, i.e. the fail mode.
    let replies = vec![line(&code_prompt()), line(&Step::allow())];
    let run = run_with(FailMode::Safe, false, replies, vec!["123456"], Duration::from_secs(76), login());
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.received, vec![start()], "the late answer never reaches the daemon");
    let replies = vec![line(&code_prompt()), line(&Step::allow())];
    let in_time = run_with(FailMode::Safe, false, replies, vec!["123456"], Duration::from_secs(74), login());
    assert_eq!(in_time.verdict, Verdict::Allow);
}

#[test]
fn a_conversation_that_cannot_ask_is_denied_even_in_safe_mode() {
    let run = run(FailMode::Safe, vec![line(&code_prompt()), line(&Step::allow())], vec![]);
    assert_eq!(run.verdict, Verdict::Deny);
    assert_eq!(run.shown.last(), Some(&Shown::Error(CANNOT_ASK_MESSAGE.into())));
    assert_eq!(run.received, vec![start()]);
}

#[test]
fn an_over_long_answer_is_cut_to_the_limit() {
    let typed = "é".repeat(MAX_ANSWER_CHARS + 50);
    let cut = run(FailMode::Secure, vec![line(&code_prompt()), line(&Step::allow())], vec![&typed]);
    assert_eq!(cut.verdict, Verdict::Allow);
    assert_eq!(cut.received.get(1), Some(&answer(&"é".repeat(MAX_ANSWER_CHARS))));
    let exact = "7".repeat(MAX_ANSWER_CHARS);
    let whole = run(FailMode::Secure, vec![line(&code_prompt()), line(&Step::allow())], vec![&exact]);
    assert_eq!(whole.received.get(1), Some(&answer(&exact)));
}

#[test]
fn a_start_too_long_for_one_line_is_denied_without_asking_the_daemon() {
    let mut long = login();
    long.source_ip = "h".repeat(MAX_LINE_BYTES);
    let run = run_with(FailMode::Safe, false, vec![line(&Step::allow())], vec![], Duration::ZERO, long);
    assert_eq!(run.verdict, Verdict::Deny);
    assert!(run.received.is_empty());
}

#[test]
fn the_fail_mode_is_secure_unless_the_config_says_safe() {
    assert_eq!(fail_mode_from(""), FailMode::Secure);
    assert_eq!(fail_mode_from("fail_mode=safe\n"), FailMode::Safe);
    assert_eq!(fail_mode_from("  fail_mode = safe  \r\n"), FailMode::Safe);
    assert_eq!(fail_mode_from("fail_mode=secure\n"), FailMode::Secure);
    // The agent's file, with the fail mode among keys the module does not use.
    let agent = "# Managed by HostGuard (revision 4). Changes are overwritten.\nconsole_url=https://console.example\nserver_id=5f0c\nmethod=sms\ntopic_urn=urn:smn:x\nrevision=4\nfail_mode=safe\n";
    assert_eq!(fail_mode_from(agent), FailMode::Safe);
    for garbage in [
        "fail_mode=SAFE",
        "fail_mode=open",
        "fail_mode=",
        "fail_mode safe",
        "#fail_mode=safe",
        "fail_mode=safe\nfail_mode=secure",
        "fail_mode=safe\nfail_mode=bogus",
        "\u{0}\u{1}garbage",
    ] {
        assert_eq!(fail_mode_from(garbage), FailMode::Secure, "{garbage:?}");
    }
}

#[test]
fn a_missing_or_unreadable_config_is_secure() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_fail_mode(&dir.path().join("absent.conf")), FailMode::Secure);
    assert_eq!(read_fail_mode(dir.path()), FailMode::Secure);
    let conf = dir.path().join("pam.conf");
    std::fs::write(&conf, "fail_mode=safe\n").unwrap();
    assert_eq!(read_fail_mode(&conf), FailMode::Safe);
    std::fs::write(&conf, [0xff, 0xfe, b'\n']).unwrap();
    assert_eq!(read_fail_mode(&conf), FailMode::Secure);
}

#[test]
fn module_arguments_have_defaults_and_bad_ones_are_ignored() {
    let defaults = Args::parse([]);
    assert_eq!(defaults.config, PathBuf::from("/etc/hostguard/pam.conf"));
    assert_eq!(defaults.socket, PathBuf::from(SOCKET_PATH));
    assert_eq!(defaults.timeout, Duration::from_secs(DEFAULT_LOGIN_TIMEOUT_SECS));
    assert!(defaults.problems.is_empty());
    let set = Args::parse(["config=/tmp/x.conf", "socket=/tmp/x.sock", "timeout=45"]);
    assert_eq!(
        (set.config, set.socket, set.timeout),
        ("/tmp/x.conf".into(), "/tmp/x.sock".into(), Duration::from_secs(45))
    );
    // Under 30 s nothing would be left to type once the daemon's reserve is kept.
    let bad = Args::parse(["timeout=0", "timeout=10", "timeout=forever", "timeout=100000", "debug"]);
    assert_eq!(bad.timeout, Duration::from_secs(DEFAULT_LOGIN_TIMEOUT_SECS));
    assert_eq!(bad.problems.len(), 5);
}
