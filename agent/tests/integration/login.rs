//! The agent's login socket against a stand-in console that answers as told: which failures
//! are the console's decision (deny, even in fail mode safe) and which are an outage (the fail
//! mode), break-glass codes offline, and a full socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::api::ApiClient;
use agent::login::{bind, LoginService, LoginStore};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::login::{Action, BreakGlassHash, FailMode, LoginPolicy, Step};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use uuid::Uuid;

/// What the stand-in answers to `POST /agent/v1/logins`.
#[derive(Clone)]
enum Answer {
    Status(u16),
    Garbage,
    Step(Step),
}

struct Rig {
    dir: tempfile::TempDir,
    answer: Arc<Mutex<Answer>>,
}

async fn rig(policy: LoginPolicy, answer: Answer) -> Rig {
    let answer = Arc::new(Mutex::new(answer));
    let a = Arc::clone(&answer);
    let app = Router::new()
        .route("/agent/v1/login-policy", get(move || async move { Json(policy.clone()) }))
        .route(
            "/agent/v1/logins",
            post(move || {
                let a = a.lock().unwrap().clone();
                async move {
                    match a {
                        Answer::Status(s) => (
                            StatusCode::from_u16(s).unwrap(),
                            r#"{"error_code":"X","error_msg":"told to"}"#.to_owned(),
                        ),
                        Answer::Garbage => (StatusCode::OK, r#"{"login_id":"nope"}"#.to_owned()),
                        Answer::Step(step) => (
                            StatusCode::OK,
                            serde_json::json!({"login_id": Uuid::new_v4(), "step": step}).to_string(),
                        ),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let client = ApiClient::new(&url, true).unwrap().with_credential("credential");
    let svc = LoginService::new(client, LoginStore::new(dir.path()), dir.path().join("pam.conf"));
    svc.refresh_policy().await.unwrap();
    let listener = bind(&dir.path().join("run/pam.sock")).unwrap();
    tokio::spawn(svc.serve(listener));
    Rig { dir, answer }
}

impl Rig {
    async fn connect(&self) -> (BufReader<tokio::net::unix::OwnedReadHalf>, tokio::net::unix::OwnedWriteHalf) {
        let (r, w) = UnixStream::connect(self.dir.path().join("run/pam.sock")).await.unwrap().into_split();
        (BufReader::new(r), w)
    }

    /// Starts a login and returns the first step.
    async fn start(&self) -> (Step, BufReader<tokio::net::unix::OwnedReadHalf>, tokio::net::unix::OwnedWriteHalf) {
        let (mut r, mut w) = self.connect().await;
        let start = r#"{"type":"start","account":"root","source_ip":"192.0.2.9","service":"sshd","tty":"ssh"}"#;
        w.write_all(format!("{start}\n").as_bytes()).await.unwrap();
        let step = read(&mut r).await;
        (step, r, w)
    }
}

async fn read(r: &mut BufReader<tokio::net::unix::OwnedReadHalf>) -> Step {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), r.read_line(&mut line)).await.unwrap().unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
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

#[tokio::test]
async fn a_failing_console_is_the_fail_mode_but_its_refusals_are_refusals() {
    let safe = rig(policy(FailMode::Safe, &[]), Answer::Status(500)).await;
    let (step, ..) = safe.start().await;
    assert_eq!(step.action, Action::Allow, "an outage in fail mode safe lets the login in");
    assert_eq!(safe.svc_queued(), 1, "and records it for the console");

    for refusal in [Answer::Status(429), Answer::Status(404), Answer::Status(422), Answer::Garbage] {
        *safe.answer.lock().unwrap() = refusal;
        let (step, ..) = safe.start().await;
        assert!(is_deny(&step), "the console's own answer is never the fail mode: {step:?}");
    }

    let secure = rig(policy(FailMode::Secure, &[]), Answer::Status(503)).await;
    let (step, ..) = secure.start().await;
    assert!(is_deny(&step));
}

impl Rig {
    fn svc_queued(&self) -> usize {
        LoginStore::new(self.dir.path()).queued().len()
    }
}

#[tokio::test]
async fn a_break_glass_code_works_once_while_the_console_is_down() {
    let r = rig(policy(FailMode::Secure, &["ABCDEFGHJKLMNPQRSTUV", "VUTSRQPNMLKJHGFEDCBA"]), Answer::Status(502)).await;
    let typed = |code: &str| format!("{{\"type\":\"answer\",\"answer\":\"{code}\"}}\n");
    let mut outcomes = vec![];
    for code in ["WRONGWRONGWRONGWRONG", "abcde-fghjk-lmnpq-rstuv", "ABCDEFGHJKLMNPQRSTUV"] {
        let (step, mut rd, mut w) = r.start().await;
        assert_eq!(step.action, Action::Prompt { text: "Break-glass code: ".into(), echo: false });
        w.write_all(typed(code).as_bytes()).await.unwrap();
        outcomes.push(read(&mut rd).await.action == Action::Allow);
    }
    assert_eq!(outcomes, [false, true, false], "a wrong code, a right one (as typed loosely), the same one again");
    assert_eq!(LoginStore::new(r.dir.path()).used_break_glass().len(), 1);
    let reasons: Vec<_> = LoginStore::new(r.dir.path()).queued().into_iter().map(|l| l.reason).collect();
    assert_eq!(reasons, ["break_glass_wrong", "break_glass", "break_glass_wrong"]);
}

#[tokio::test]
async fn a_step_too_long_for_the_module_is_a_refusal() {
    let long = Step::prompt("x".repeat(20_000), true);
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(long)).await;
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "the module would read it as garbage, i.e. its fail mode");
}

#[tokio::test]
async fn a_full_socket_says_no_at_once_instead_of_running_logins_into_the_deadline() {
    let r = rig(policy(FailMode::Safe, &[]), Answer::Step(Step::prompt("Code: ", false))).await;
    // 64 logins waiting at their prompt hold every slot.
    let mut held = vec![];
    for _ in 0..64 {
        held.push(r.start().await);
    }
    let t = std::time::Instant::now();
    let (step, ..) = r.start().await;
    assert!(is_deny(&step), "{step:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "refused at once");
    drop(held);
}
