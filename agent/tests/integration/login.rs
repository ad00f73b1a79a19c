//! The agent's login socket against a stand-in console that answers as told: which failures
//! are refusals (deny, even in fail mode safe) and which are a proven outage (the fail mode),
//! safe-mode limits, a rejected credential, break-glass codes offline, a full socket, the
//! module's deadline, and the offline queue.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::api::ApiClient;
use agent::login::{bind, LoginService, LoginStore};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::agent::paths;
use proto::login::{
    Action, BreakGlassHash, FailMode, LoginPolicy, LoginReason, LoginResult, OfflineLogin, OfflineReport, Step,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use uuid::Uuid;

/// What the stand-in answers to a login call.
#[derive(Clone)]
enum Answer {
    Status(u16),
    Garbage,
    Step(Step),
    /// Answers after this long (past the agent's 10 s call timeout).
    Sleep(Duration),
    /// 403 with an `error_msg` longer than a module line.
    LongError,
    /// 200 with a body that does not parse, quoting a string longer than a module line.
    LongGarbage,
    /// A push still pending: `ask_again` with the push prompt this many more times, then allow.
    AskAgain(u32),
}

struct Console {
    policy: LoginPolicy,
    start: Answer,
    answer: Answer,
    /// What `GET /login-policy` (the agent's probe) gets: the policy, or this status.
    probe: Option<u16>,
    /// Waited before answering a login start.
    start_delay: Duration,
    /// Reports of more logins than this get 413.
    report_limit: usize,
    /// A report holding a login of this account gets 422.
    poison: Option<String>,
    /// Every report gets this status.
    report_status: Option<u16>,
    reported: Vec<OfflineLogin>,
    answers: Vec<String>,
}

type Shared = Arc<Mutex<Console>>;

fn respond(a: Answer) -> (StatusCode, String) {
    match a {
        Answer::Status(s) => {
            (StatusCode::from_u16(s).unwrap(), r#"{"error_code":"X","error_msg":"told to"}"#.to_owned())
        }
        Answer::Garbage => (StatusCode::OK, r#"{"login_id":"nope"}"#.to_owned()),
        Answer::LongError => (
            StatusCode::FORBIDDEN,
            serde_json::json!({"error_code": "E".repeat(20_000), "error_msg": "m".repeat(20_000)}).to_string(),
        ),
        // serde's error quotes the string it did not expect, all of it.
        Answer::LongGarbage => {
            (StatusCode::OK, serde_json::json!({"login_id": Uuid::new_v4(), "step": "g".repeat(20_000)}).to_string())
        }
        Answer::Step(step) => {
            (StatusCode::OK, serde_json::json!({"login_id": Uuid::new_v4(), "step": step}).to_string())
        }
        Answer::AskAgain(_) => (
            StatusCode::OK,
            serde_json::json!({"login_id": Uuid::new_v4(), "ask_again": true,
                "step": Step::prompt("Push sent: enter 472 in the app, or type a code: ", true)})
            .to_string(),
        ),
        Answer::Sleep(_) => unreachable!("handled by the caller"),
    }
}

async fn login_call(a: Answer) -> (StatusCode, String) {
    match a {
        Answer::Sleep(d) => {
            tokio::time::sleep(d).await;
            respond(Answer::Step(Step::allow()))
        }
        a => respond(a),
    }
}

async fn serve(console: Shared) -> String {
    let (c1, c2, c3, c4) = (console.clone(), console.clone(), console.clone(), console.clone());
    let app = Router::new()
        .route(
            paths::LOGIN_POLICY,
            get(move || async move {
                let (probe, policy) = {
                    let c = c1.lock().unwrap();
                    (c.probe, c.policy.clone())
                };
                match probe {
                    Some(s) => respond(Answer::Status(s)),
                    None => (StatusCode::OK, serde_json::to_string(&policy).unwrap()),
                }
            }),
        )
        .route(
            paths::LOGINS,
            post(move || async move {
                let (a, delay) = {
                    let c = c2.lock().unwrap();
                    (c.start.clone(), c.start_delay)
                };
                tokio::time::sleep(delay).await;
                login_call(a).await
            }),
        )
        .route(
            paths::LOGIN_ANSWER,
            post(move |Path(_id): Path<Uuid>, Json(body): Json<serde_json::Value>| async move {
                let a = {
                    let mut c = c3.lock().unwrap();
                    c.answers.push(body["answer"].as_str().unwrap().to_owned());
                    let a = c.answer.clone();
                    if let Answer::AskAgain(n) = a {
                        c.answer = if n > 1 { Answer::AskAgain(n - 1) } else { Answer::Step(Step::allow()) };
                    }
                    a
                };
                login_call(a).await
            }),
        )
        .route(
            paths::LOGINS_OFFLINE,
            post(move |Json(report): Json<OfflineReport>| async move {
                let mut c = c4.lock().unwrap();
                if let Some(s) = c.report_status {
                    return StatusCode::from_u16(s).unwrap();
                }
                if report.logins.len() > c.report_limit {
                    return StatusCode::PAYLOAD_TOO_LARGE;
                }
                if c.poison.as_ref().is_some_and(|p| report.logins.iter().any(|l| &l.account == p)) {
                    return StatusCode::UNPROCESSABLE_ENTITY;
                }
                c.reported.extend(report.logins);
                StatusCode::NO_CONTENT
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Rig {
    dir: tempfile::TempDir,
    console: Shared,
    svc: Arc<LoginService>,
}

/// A console that answers `start` to login starts (and, until told otherwise, allows answers).
async fn rig(policy: LoginPolicy, start: Answer) -> Rig {
    let console = Arc::new(Mutex::new(Console {
        policy,
        start,
        answer: Answer::Step(Step::allow()),
        probe: None,
        start_delay: Duration::ZERO,
        report_limit: 500,
        poison: None,
        report_status: None,
        reported: vec![],
        answers: vec![],
    }));
    let url = serve(console.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let svc = start_service(&url, dir.path());
    svc.refresh_policy().await.unwrap();
    Rig { dir, console, svc }
}

fn start_service(url: &str, dir: &std::path::Path) -> Arc<LoginService> {
    let client = ApiClient::new(url, true).unwrap().with_credential("credential");
    let svc = LoginService::new(client, LoginStore::new(dir), dir.join("pam.conf"));
    let listener = bind(&dir.join("run/pam.sock")).unwrap();
    tokio::spawn(Arc::clone(&svc).serve(listener));
    svc
}

/// A console that is stopped (connection refused); the agent has `policy` on disk from before.
fn stopped(policy: LoginPolicy) -> (tempfile::TempDir, Arc<LoginService>) {
    let dir = tempfile::tempdir().unwrap();
    LoginStore::new(dir.path()).save_policy(&policy).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let svc = start_service(&format!("http://127.0.0.1:{port}"), dir.path());
    (dir, svc)
}

type Reader = BufReader<OwnedReadHalf>;

async fn connect(dir: &std::path::Path) -> (Reader, OwnedWriteHalf) {
    let (r, w) = UnixStream::connect(dir.join("run/pam.sock")).await.unwrap().into_split();
    (BufReader::new(r), w)
}

fn start_line(account: &str, source: &str, timeout_secs: Option<u64>) -> String {
    let mut start =
        serde_json::json!({"type": "start", "account": account, "source_ip": source, "service": "sshd", "tty": "ssh"});
    if let Some(t) = timeout_secs {
        start["timeout_secs"] = t.into();
    }
    format!("{start}\n")
}

/// Starts a login as `account` from `source` and returns the first step.
async fn login(dir: &std::path::Path, account: &str, source: &str) -> (Step, Reader, OwnedWriteHalf) {
    let (mut r, mut w) = connect(dir).await;
    w.write_all(start_line(account, source, None).as_bytes()).await.unwrap();
    let step = read(&mut r).await;
    (step, r, w)
}

impl Rig {
    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    async fn start(&self) -> (Step, Reader, OwnedWriteHalf) {
        login(self.dir.path(), "root", "192.0.2.9").await
    }

    fn set(&self, f: impl FnOnce(&mut Console)) {
        f(&mut self.console.lock().unwrap())
    }

    fn queued(&self) -> Vec<OfflineLogin> {
        LoginStore::new(self.dir.path()).queued()
    }
}

async fn read(r: &mut Reader) -> Step {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), r.read_line(&mut line)).await.unwrap().unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

async fn answer(r: &mut Reader, w: &mut OwnedWriteHalf, text: &str) -> Step {
    let line = serde_json::json!({"type": "answer", "answer": text});
    w.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    read(r).await
}

fn policy(mode: FailMode, codes: &[&str]) -> LoginPolicy {
    LoginPolicy {
        fail_mode: mode,
        break_glass: codes
            .iter()
            .map(|c| BreakGlassHash {
                id: Uuid::new_v4(),
                sha256: Sha256::digest(c.as_bytes()).iter().map(|b| format!("{b:02x}")).collect(),
            })
            .collect(),
        ..Default::default()
    }
}

fn is_deny(step: &Step) -> bool {
    matches!(step.action, Action::Deny { .. })
}

const REFUSALS: [u16; 9] = [302, 400, 401, 403, 405, 413, 415, 500, 502];

#[tokio::test]
async fn in_safe_mode_a_failed_login_call_is_a_refusal_while_the_console_answers() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Status(500)).await;
    for status in REFUSALS {
        r.set(|c| c.start = Answer::Status(status));
        let (step, ..) = r.start().await;
        assert!(is_deny(&step), "HTTP {status} to the login start, probe answered: {step:?}");
    }
    r.set(|c| c.start = Answer::Step(Step::prompt("Code: ", false)));
    for status in REFUSALS {
        r.set(|c| c.answer = Answer::Status(status));
        let (step, mut rd, mut w) = r.start().await;
        assert!(matches!(step.action, Action::Prompt { .. }), "{step:?}");
        let step = answer(&mut rd, &mut w, "' OR 1=1 --").await;
        assert!(is_deny(&step), "HTTP {status} to the answer, probe answered: {step:?}");
    }
    for refusal in [Answer::Status(429), Answer::Status(404), Answer::Status(422), Answer::Garbage] {
        r.set(|c| c.start = refusal);
        let (step, ..) = r.start().await;
        assert!(is_deny(&step), "the console's own answer is never the fail mode: {step:?}");
    }
    assert!(r.queued().is_empty(), "nothing was decided without the console");
    assert!(LoginStore::new(&r.path()).fail_safe_allows().unwrap().is_empty());
}

#[tokio::test]
async fn a_login_call_that_times_out_while_the_console_answers_is_denied() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Sleep(Duration::from_secs(15))).await;
    let t = std::time::Instant::now();
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "{step:?}");
    assert!(t.elapsed() < Duration::from_secs(15), "the agent gave up on the call: {:?}", t.elapsed());
}

#[tokio::test]
async fn a_stopped_console_or_a_proxy_saying_502_to_everything_gets_the_fail_mode() {
    let (dir, _svc) = stopped(policy(FailMode::Safe, &[]));
    let (step, ..) = login(dir.path(), "root", "192.0.2.9").await;
    assert_eq!(step.action, Action::Allow, "stopped console, fail mode safe: {step:?}");
    assert_eq!(LoginStore::new(dir.path()).queued()[0].reason, LoginReason::FailSafe);

    let r = rig(policy(FailMode::Safe, &[]), Answer::Status(502)).await;
    r.set(|c| c.probe = Some(502));
    let (step, ..) = r.start().await;
    assert_eq!(step.action, Action::Allow, "a gateway in front of a stopped console: {step:?}");
    // Mid-login too.
    r.set(|c| {
        c.start = Answer::Step(Step::prompt("Code: ", false));
        c.answer = Answer::Status(504);
        c.probe = None;
    });
    let (_, mut rd, mut w) = r.start().await;
    r.set(|c| c.probe = Some(503));
    assert_eq!(answer(&mut rd, &mut w, "123456").await.action, Action::Allow);
    let reasons: Vec<_> = r.queued().into_iter().map(|l| l.reason).collect();
    assert_eq!(reasons, [LoginReason::FailSafe, LoginReason::FailSafe]);

    let (dir, _svc) = stopped(policy(FailMode::Secure, &[]));
    let (step, ..) = login(dir.path(), "root", "192.0.2.9").await;
    assert!(is_deny(&step), "fail mode secure: {step:?}");
}

#[tokio::test]
async fn safe_mode_allows_are_limited_per_account_and_source_and_the_count_survives_a_restart() {
    let (dir, svc) = stopped(policy(FailMode::Safe, &[]));
    let mut allowed = vec![];
    for i in 0..4 {
        let (step, ..) = login(dir.path(), "root", &format!("192.0.2.{i}")).await;
        allowed.push(step.action == Action::Allow);
    }
    assert_eq!(allowed, [true, true, true, false], "3 per account");
    let (step, ..) = login(dir.path(), "deploy", "192.0.2.50").await;
    assert_eq!(step.action, Action::Allow, "another account");
    let mut allowed = vec![];
    for i in 0..10 {
        let (step, ..) = login(dir.path(), &format!("user{i}"), "198.51.100.1").await;
        allowed.push(step.action == Action::Allow);
    }
    assert_eq!(allowed.iter().filter(|a| **a).count(), 10);
    let (step, ..) = login(dir.path(), "user99", "198.51.100.1").await;
    assert!(is_deny(&step), "an 11th from one source: {step:?}");

    let q = LoginStore::new(dir.path()).queued();
    let limited: Vec<_> = q.iter().filter(|l| l.reason == LoginReason::FailSafeLimited).collect();
    assert_eq!(limited.len(), 2);
    assert!(limited.iter().all(|l| l.result == LoginResult::Denied));

    // A restarted agent still counts them.
    drop(svc);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _svc = start_service(&format!("http://127.0.0.1:{port}"), dir.path());
    let (step, ..) = login(dir.path(), "root", "192.0.2.77").await;
    assert!(is_deny(&step), "{step:?}");
}

#[tokio::test]
async fn a_rejected_credential_keeps_break_glass_and_never_allows_in_safe_mode() {
    let r = rig(policy(FailMode::Safe, &["ABCDEFGHJKLMNPQRSTUV"]), Answer::Status(401)).await;
    r.set(|c| c.probe = Some(401));
    let (step, mut rd, mut w) = r.start().await;
    assert_eq!(
        step.action,
        Action::Prompt { text: "Break-glass code: ".into(), echo: false },
        "not the safe-mode allow"
    );
    assert!(is_deny(&answer(&mut rd, &mut w, "WRONGWRONGWRONGWRONG").await));
    let (_, mut rd, mut w) = r.start().await;
    assert_eq!(answer(&mut rd, &mut w, "ABCDE-FGHJK-LMNPQ-RSTUV").await.action, Action::Allow);
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "no code left, and never the safe-mode allow: {step:?}");
    let reasons: Vec<_> = r.queued().into_iter().map(|l| l.reason).collect();
    assert_eq!(reasons, [LoginReason::BreakGlassWrong, LoginReason::BreakGlass, LoginReason::FailSecure]);

    // Told by the daemon (its heartbeat got 401): the console is not even asked.
    r.set(|c| {
        c.start = Answer::Step(Step::allow());
        c.probe = None;
    });
    r.svc.set_credential_rejected(true);
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "{step:?}");
    r.svc.set_credential_rejected(false);
    assert_eq!(r.start().await.0.action, Action::Allow);
}

#[tokio::test]
async fn a_break_glass_code_works_once_while_the_console_is_down() {
    let r = rig(policy(FailMode::Secure, &["ABCDEFGHJKLMNPQRSTUV", "VUTSRQPNMLKJHGFEDCBA"]), Answer::Status(502)).await;
    r.set(|c| c.probe = Some(502));
    let mut outcomes = vec![];
    for code in ["WRONGWRONGWRONGWRONG", "abcde-fghjk-lmnpq-rstuv", "ABCDEFGHJKLMNPQRSTUV"] {
        let (step, mut rd, mut w) = r.start().await;
        assert_eq!(step.action, Action::Prompt { text: "Break-glass code: ".into(), echo: false });
        outcomes.push(answer(&mut rd, &mut w, code).await.action == Action::Allow);
    }
    assert_eq!(outcomes, [false, true, false], "a wrong code, a right one (as typed loosely), the same one again");
    assert_eq!(LoginStore::new(&r.path()).used_break_glass().unwrap().len(), 1);
    let reasons: Vec<_> = r.queued().into_iter().map(|l| l.reason).collect();
    assert_eq!(reasons, [LoginReason::BreakGlassWrong, LoginReason::BreakGlass, LoginReason::BreakGlassWrong]);
}

#[tokio::test]
async fn a_step_too_long_for_the_module_is_a_refusal() {
    let long = Step::prompt("x".repeat(20_000), true);
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(long)).await;
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "the module would read it as garbage, i.e. its fail mode");
}

#[tokio::test]
async fn a_full_socket_says_no_but_only_after_reading_the_start() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(Step::prompt("Code: ", false))).await;
    // 64 logins waiting at their prompt hold every slot.
    let mut held = vec![];
    for _ in 0..64 {
        held.push(r.start().await);
    }
    let t = std::time::Instant::now();
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "{step:?}");
    // Under the 5 s the agent gives a module to send its start (`FIRST_REQUEST_TIMEOUT`): a
    // refusal that waited for a slot or for that deadline takes longer.
    assert!(t.elapsed() < Duration::from_secs(4), "refused at once");
    // A module slow to send its start still gets to send it, and reads the refusal.
    let (mut rd, mut w) = connect(&r.path()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.write_all(start_line("root", "192.0.2.9", None).as_bytes()).await.expect("the agent still reads the start");
    assert!(is_deny(&read(&mut rd).await));
    drop(held);
}

#[tokio::test]
async fn the_last_step_survives_a_module_that_is_still_sending() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(Step::deny("No."))).await;
    r.set(|c| c.start_delay = Duration::from_millis(300));
    let (mut rd, mut w) = connect(&r.path()).await;
    w.write_all(start_line("root", "192.0.2.9", None).as_bytes()).await.unwrap();
    // Sent while the agent waits for the console: unread when it answers.
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.write_all(b"{\"type\":\"answer\",\"answer\":\"late\"}\n").await.unwrap();
    let mut all = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), rd.read_to_string(&mut all)).await.unwrap();
    assert!(read.is_ok(), "the agent hung up cleanly, not with a reset: {read:?}");
    let step: Step = serde_json::from_str(all.trim()).unwrap();
    assert!(is_deny(&step));
}

/// Slow: the agent used to hang up after 120 s, whatever the module's deadline.
#[tokio::test]
async fn the_agent_waits_for_the_user_as_long_as_the_modules_deadline() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(Step::prompt("Code: ", false))).await;
    let (mut rd, mut w) = connect(&r.path()).await;
    w.write_all(start_line("root", "192.0.2.9", Some(200)).as_bytes()).await.unwrap();
    assert!(matches!(read(&mut rd).await.action, Action::Prompt { .. }));
    tokio::time::sleep(Duration::from_secs(125)).await;
    assert_eq!(answer(&mut rd, &mut w, "123456").await.action, Action::Allow);
    assert_eq!(r.console.lock().unwrap().answers, ["123456"]);
}

fn offline_login(account: &str, break_glass: bool) -> OfflineLogin {
    OfflineLogin {
        id: Uuid::new_v4(),
        at: "2026-11-26T01:02:03Z".into(),
        account: account.into(),
        source_ip: "192.0.2.9".into(),
        service: "sshd".into(),
        result: if break_glass { LoginResult::Allowed } else { LoginResult::Denied },
        reason: if break_glass { LoginReason::BreakGlass } else { LoginReason::FailSecure }.into(),
        break_glass_id: break_glass.then(Uuid::new_v4),
    }
}

#[tokio::test]
async fn a_full_offline_queue_never_drops_a_break_glass_use() {
    let r = rig(policy(FailMode::Secure, &[]), Answer::Status(502)).await;
    r.set(|c| c.probe = Some(502));
    // Left by an agent before this one: the oldest two are break-glass uses.
    let mut old: Vec<OfflineLogin> = vec![offline_login("root", true), offline_login("root", true)];
    old.extend((0..9_998).map(|i| offline_login(&format!("u{i}"), false)));
    std::fs::write(r.path().join("offline-logins.json"), serde_json::to_vec(&old).unwrap()).unwrap();
    let (step, ..) = r.start().await;
    assert!(is_deny(&step));
    let q = r.queued();
    assert_eq!(q.len(), 10_000);
    assert_eq!(q[0].id, old[0].id);
    assert_eq!(q[1].id, old[1].id);
    assert_eq!(q[2].id, old[3].id, "the oldest other login went");
    assert_eq!(q.last().unwrap().account, "root", "the new one is kept");
}

#[tokio::test]
async fn a_refused_report_is_split_not_dropped_whole() {
    let r = rig(policy(FailMode::Secure, &[]), Answer::Status(502)).await;
    let mut queued: Vec<OfflineLogin> = (0..300).map(|i| offline_login(&format!("u{i}"), i % 7 == 0)).collect();
    queued[150].account = "poison".into();
    std::fs::write(r.path().join("offline-logins.json"), serde_json::to_vec(&queued).unwrap()).unwrap();
    r.set(|c| {
        c.report_limit = 50;
        c.poison = Some("poison".into());
    });
    let sent = r.svc.flush_offline().await.unwrap();
    assert_eq!(sent, 300);
    let reported: Vec<Uuid> = r.console.lock().unwrap().reported.iter().map(|l| l.id).collect();
    let want: Vec<Uuid> = queued.iter().filter(|l| l.account != "poison").map(|l| l.id).collect();
    assert_eq!(reported, want, "all but the one malformed login, in order");
    assert!(r.queued().is_empty());

    // Too many at once (429), even for one login: kept for the next flush, not dropped.
    r.set(|c| c.probe = Some(502));
    for _ in 0..2 {
        assert!(is_deny(&r.start().await.0));
    }
    r.set(|c| {
        c.probe = None;
        c.report_status = Some(429);
    });
    assert!(r.svc.flush_offline().await.is_err());
    assert_eq!(r.queued().len(), 2);
    r.set(|c| c.report_status = None);
    assert_eq!(r.svc.flush_offline().await.unwrap(), 2);
    assert!(r.queued().is_empty());
}

/// The attack: the console's refusal quoted into a deny longer than the module's line. The module
/// reads that as garbage (which its fail mode used to let in). Every step must fit one line.
#[tokio::test]
async fn a_long_refusal_from_the_console_still_fits_one_line() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::LongError).await;
    for refusal in [Answer::LongError, Answer::LongGarbage] {
        r.set(|c| c.start = refusal);
        let (mut rd, mut w) = connect(r.dir.path()).await;
        w.write_all(start_line("root", "192.0.2.9", None).as_bytes()).await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(30), rd.read_line(&mut line)).await.unwrap().unwrap();
        assert!(line.len() <= proto::login::MAX_LINE_BYTES, "a {} byte line", line.len());
        let step: Step = serde_json::from_str(&line).unwrap();
        assert!(is_deny(&step), "{step:?}");
    }
}

/// Before: an unreadable record of used codes read as "none used", and using a code rewrote it
/// as just that code, so every code used before worked again.
#[tokio::test]
async fn an_unreadable_record_of_used_break_glass_codes_refuses_and_is_left_alone() {
    let (dir, _svc) = stopped(policy(FailMode::Secure, &["ABCDEFGHJKLMNPQRSTUV"]));
    let used = dir.path().join("break-glass-used.json");
    std::fs::write(&used, b"[\"not a uuid").unwrap();
    let (step, ..) = login(dir.path(), "root", "192.0.2.9").await;
    assert!(is_deny(&step), "no prompt for a code: {step:?}");
    // Readable when the prompt goes out, unreadable when the right code comes back.
    std::fs::write(&used, b"[]").unwrap();
    let (step, mut rd, mut w) = login(dir.path(), "root", "192.0.2.9").await;
    assert_eq!(step.action, Action::Prompt { text: "Break-glass code: ".into(), echo: false });
    std::fs::write(&used, b"{torn").unwrap();
    let step = answer(&mut rd, &mut w, "ABCDEFGHJKLMNPQRSTUV").await;
    assert!(is_deny(&step), "{step:?}");
    assert_eq!(std::fs::read(&used).unwrap(), b"{torn", "not rewritten");
    assert!(LoginStore::new(dir.path()).used_break_glass().is_err());
}

/// Before: an unreadable safe-mode count started again from zero.
#[tokio::test]
async fn an_unreadable_safe_mode_count_refuses_the_allow() {
    let (dir, _svc) = stopped(policy(FailMode::Safe, &[]));
    let count = dir.path().join("fail-safe-allows.json");
    std::fs::write(&count, b"garbage").unwrap();
    let (step, ..) = login(dir.path(), "root", "192.0.2.9").await;
    assert!(is_deny(&step), "{step:?}");
    assert_eq!(std::fs::read(&count).unwrap(), b"garbage");
    // Gone (not unreadable) is an empty count.
    std::fs::remove_file(&count).unwrap();
    let (step, ..) = login(dir.path(), "root", "192.0.2.9").await;
    assert_eq!(step.action, Action::Allow);
}

/// Before: each spelling of one source (mapped IPv6, another address in its /64, junk) had its
/// own count.
#[tokio::test]
async fn safe_mode_counts_a_source_however_it_is_spelt() {
    let (dir, _svc) = stopped(policy(FailMode::Safe, &[]));
    for (spellings, what) in [
        (["192.0.2.7", "::ffff:192.0.2.7"], "IPv4 and IPv4-mapped IPv6"),
        (["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"], "one IPv6 /64"),
        (["", "host.example"], "no address"),
    ] {
        let mut allowed = 0;
        for i in 0..12 {
            let (step, ..) = login(dir.path(), &format!("{what}{i}"), spellings[i % 2]).await;
            allowed += usize::from(step.action == Action::Allow);
        }
        assert_eq!(allowed, 10, "{what}");
    }
}

/// A push still pending after the console's held call: the agent asks again with an empty
/// answer, never showing the module the repeated prompt, and passes on the final step.
#[tokio::test]
async fn a_pending_push_is_asked_again_without_the_module() {
    let r = rig(policy(FailMode::Secure, &[]), Answer::Step(Step::prompt("Push sent: ", true))).await;
    r.set(|c| c.answer = Answer::AskAgain(2));
    let (_, mut rd, mut w) = r.start().await;
    let step = answer(&mut rd, &mut w, "").await;
    assert_eq!(step.action, Action::Allow);
    assert_eq!(r.console.lock().unwrap().answers, ["", "", ""], "the first answer, then two asks");
}

/// A push that stays pending: the agent denies before the module's deadline (30 s here), never
/// leaving the module to time out.
#[tokio::test]
async fn a_push_pending_too_long_is_denied_before_the_modules_deadline() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(Step::prompt("Push sent: ", true))).await;
    r.set(|c| c.answer = Answer::AskAgain(1000));
    let began = std::time::Instant::now();
    let (mut rd, mut w) = connect(&r.path()).await;
    w.write_all(start_line("root", "192.0.2.9", Some(30)).as_bytes()).await.unwrap();
    read(&mut rd).await;
    let step = answer(&mut rd, &mut w, "").await;
    assert_eq!(
        step.action,
        Action::Deny { message: "HostGuard: the push was not approved in time. Log in again.".into() }
    );
    let took = began.elapsed();
    assert!(took < Duration::from_secs(28) && took > Duration::from_secs(15), "{took:?}");
    let asks = r.console.lock().unwrap().answers.len();
    assert!((10..=25).contains(&asks), "paced, not a tight loop: {asks} asks");
}
