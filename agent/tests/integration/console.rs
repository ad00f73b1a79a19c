//! The agent's client side against a small in-memory stand-in for the console's agent API.
//! The stand-in reads and writes raw JSON, so these tests also pin the wire format.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::apply::{DROP_IN, PAM_CONF};
use agent::state::{self, AgentState};
use agent::{run_until, Options};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use clap::Parser;
use proto::agent::paths;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

use crate::sandbox::{Sandbox, SSHD};

#[derive(Default)]
struct Console {
    tokens: Vec<String>,
    /// credential → server id
    agents: HashMap<String, Uuid>,
    registrations: Vec<Value>,
    facts: Vec<Value>,
    heartbeats: Vec<Value>,
    /// The newest desired config, if any.
    revision: Option<Value>,
    acks: Vec<Value>,
}

type Shared = Arc<Mutex<Console>>;

struct Stub {
    url: String,
    state: Shared,
}

impl Stub {
    async fn start(tokens: &[&str]) -> Stub {
        let state: Shared = Arc::new(Mutex::new(Console {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }));
        let app = Router::new()
            .route(paths::REGISTER, post(register))
            .route(paths::FACTS, put(facts))
            .route(paths::HEARTBEAT, post(heartbeat))
            .route(paths::CONFIG, get(config))
            .route(paths::ACK, post(ack))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub { url: format!("http://{addr}"), state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Console) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    fn set_revision(&self, n: i64, enabled: bool) {
        let server_id = self.with(|c| *c.agents.values().next().expect("registered"));
        let rev = json!({
            "revision": n, "enabled": enabled, "method": "sms",
            "topic_urn": "urn:smn:region-1:tenant:ops-alerts",
            "server_id": server_id, "console_url": self.url,
        });
        self.with(|c| c.revision = Some(rev));
    }
}

fn error(status: StatusCode, code: &str, msg: &str) -> Response {
    (status, Json(json!({"error_code": code, "error_msg": msg}))).into_response()
}

fn authenticated(c: &Console, headers: &HeaderMap) -> bool {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.is_some_and(|b| c.agents.contains_key(b))
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "invalid_credential", "unknown agent credential")
}

async fn register(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut c = s.lock().unwrap();
    let token = body["install_token"].as_str().unwrap_or_default().to_owned();
    let Some(i) = c.tokens.iter().position(|t| *t == token) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_install_token", "unknown, used or expired install token");
    };
    c.tokens.remove(i);
    let (id, credential) = (Uuid::new_v4(), format!("cred-{}", Uuid::new_v4()));
    c.agents.insert(credential.clone(), id);
    c.registrations.push(body);
    (StatusCode::CREATED, Json(json!({"server_id": id, "credential": credential}))).into_response()
}

async fn facts(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut c = s.lock().unwrap();
    if !authenticated(&c, &headers) {
        return unauthorized();
    }
    c.facts.push(body);
    StatusCode::NO_CONTENT.into_response()
}

async fn heartbeat(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut c = s.lock().unwrap();
    if !authenticated(&c, &headers) {
        return unauthorized();
    }
    c.heartbeats.push(body);
    StatusCode::NO_CONTENT.into_response()
}

async fn config(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let after: i64 = q["after"].parse().unwrap();
    let wait: u64 = q["wait"].parse().unwrap();
    assert!(wait <= 30);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        {
            let c = s.lock().unwrap();
            if !authenticated(&c, &headers) {
                return unauthorized();
            }
            if let Some(rev) = c.revision.as_ref().filter(|r| r["revision"].as_i64().unwrap() > after) {
                return Json(rev.clone()).into_response();
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return StatusCode::NO_CONTENT.into_response();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ack(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut c = s.lock().unwrap();
    if !authenticated(&c, &headers) {
        return unauthorized();
    }
    let newest = c.revision.as_ref().and_then(|r| r["revision"].as_i64());
    let accepted = body["revision"].as_i64() == newest;
    c.acks.push(body);
    Json(json!({"accepted": accepted})).into_response()
}

fn options(stub: &Stub, sb: &Sandbox, extra: &[&str]) -> Options {
    let root = sb.root().display().to_string();
    let mut args = vec![
        "hostguard-agent",
        "--console",
        &stub.url,
        "--insecure-http",
        "--root",
        &root,
        "--sshd",
        SSHD,
        "--name",
        "web-01",
    ];
    args.extend_from_slice(extra);
    Options::try_parse_from(args).unwrap()
}

async fn once(stub: &Stub, sb: &Sandbox, extra: &[&str]) -> Result<(), agent::AgentError> {
    let mut args = vec!["--once"];
    args.extend_from_slice(extra);
    run_until(options(stub, sb, &args), std::future::pending()).await
}

/// Writes the install token to a file in the sandbox, the way an admin passes it.
fn token_file(sb: &Sandbox, token: &str) -> String {
    let path = sb.path("root/install-token");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.display().to_string()
}

fn saved_state(sb: &Sandbox) -> AgentState {
    state::load(&sb.path("var/lib/hostguard/agent.json")).unwrap().expect("state saved")
}

const FACT_FIELDS: [&str; 16] = [
    "agent_version",
    "conflicting_software",
    "hostname",
    "ips",
    "must_change_password_accounts",
    "openssh_version",
    "os_name",
    "os_type",
    "pam_stack",
    "selinux",
    "sshd_drop_in",
    "sshd_kbd_interactive",
    "sshd_match_overrides",
    "sshd_match_overrides_more",
    "sshd_permit_empty_passwords",
    "sshd_use_pam",
];

#[tokio::test]
async fn once_registers_applies_acks_and_then_reuses_its_credential() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;

    // First run: registers, reports, finds nothing to apply yet.
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    let st = saved_state(&sb);
    assert_eq!(st.console, stub.url);
    assert_eq!(st.applied_revision, 0);
    assert_eq!(stub.with(|c| c.agents.get(&st.credential).copied()), Some(st.server_id));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sb.path("var/lib/hostguard/agent.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let (registrations, facts, heartbeats) =
        stub.with(|c| (c.registrations.clone(), c.facts.clone(), c.heartbeats.clone()));
    assert_eq!(registrations.len(), 1);
    assert_eq!(registrations[0]["install_token"], "tok-1");
    assert_eq!(registrations[0]["facts"]["hostname"], "web-01");
    assert_eq!(facts.len(), 1);
    let f = facts[0].as_object().unwrap();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, FACT_FIELDS);
    assert_eq!(f["os_type"], "linux");
    assert_eq!(f["os_name"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(f["hostname"], "web-01");
    assert_eq!(f["sshd_use_pam"], true);
    assert_eq!(f["sshd_kbd_interactive"], false);
    // Stock Debian: the `no` comes after the Include, so the agent's drop-in wins.
    assert_eq!(f["sshd_drop_in"], json!({"included": true, "earlier_settings": [], "more": 0}));
    // Stock Debian's PAM stack is safe for HostGuard's line.
    assert_eq!(f["pam_stack"], json!({"problems": [], "more": 0}));
    assert_eq!(f["sshd_permit_empty_passwords"], false);
    assert_eq!(f["selinux"], "disabled");
    assert_eq!(f["agent_version"], env!("CARGO_PKG_VERSION"));
    assert!(f["openssh_version"].as_str().unwrap().starts_with("OpenSSH_"));
    assert_eq!(heartbeats, [json!({"agent_version": env!("CARGO_PKG_VERSION"), "applied_revision": 0})]);

    // Second run, no token: uses the saved credential, applies revision 1 and acks it.
    stub.set_revision(1, true);
    once(&stub, &sb, &[]).await.unwrap();
    assert_eq!(stub.with(|c| c.registrations.len()), 1);
    assert_eq!(stub.with(|c| c.acks.clone()), [json!({"revision": 1, "ok": true, "error": null})]);
    assert_eq!(saved_state(&sb).applied_revision, 1);
    assert!(sb.read(DROP_IN).unwrap().contains("(revision 1)"));
    assert_eq!(sb.read(PAM_CONF).unwrap(), agent::pam_conf::render(proto::login::FailMode::Secure));

    // Third run: nothing newer, nothing applied, and the heartbeat reports revision 1.
    once(&stub, &sb, &[]).await.unwrap();
    assert_eq!(stub.with(|c| c.acks.len()), 1);
    assert_eq!(stub.with(|c| c.heartbeats.last().unwrap()["applied_revision"].clone()), 1);

    // Disabling.
    stub.set_revision(2, false);
    once(&stub, &sb, &[]).await.unwrap();
    assert_eq!(stub.with(|c| c.acks.last().cloned()).unwrap(), json!({"revision": 2, "ok": true, "error": null}));
    assert!(!sb.path(DROP_IN).exists());
    assert_eq!(sb.read("etc/pam.d/sshd").unwrap(), crate::sandbox::PAM_SSHD);
}

#[tokio::test]
async fn failed_apply_acks_the_reason() {
    let sb = Sandbox::new();
    sb.write_sshd_config(&format!(
        "{}Match User nobody\n    X11Forwarding no\nInclude {}\n",
        sb.base_settings(),
        sb.include_glob()
    ));
    let before = sb.etc_snapshot();
    let stub = Stub::start(&["tok-1"]).await;
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    stub.set_revision(1, true);

    let err = once(&stub, &sb, &[]).await.unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let acks = stub.with(|c| c.acks.clone());
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["revision"], 1);
    assert_eq!(acks[0]["ok"], false);
    let msg = acks[0]["error"].as_str().unwrap();
    assert!(msg.starts_with("sshd -t failed: ") && msg.ends_with("the previous configuration was restored"), "{msg}");
    assert_eq!(saved_state(&sb).applied_revision, 0);
    assert_eq!(sb.etc_snapshot(), before);
}

#[tokio::test]
async fn unauthorized_ends_with_exit_code_3() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;

    // An unknown install token.
    let err = once(&stub, &sb, &["--token-file", &token_file(&sb, "wrong")]).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(!sb.path("var/lib/hostguard/agent.json").exists());

    // A credential the console no longer knows (the server was deleted).
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    stub.with(|c| c.agents.clear());
    let err = once(&stub, &sb, &[]).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
}

#[tokio::test]
async fn a_rejected_credential_does_not_stop_the_daemon() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    let agents = stub.with(|c| std::mem::take(&mut c.agents));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = options(&stub, &sb, &["--poll-wait", "1", "--heartbeat-secs", "1"]);
    let daemon = tokio::spawn(run_until(opts, async move {
        let _ = stopped.await;
    }));
    let status_path = sb.path("var/lib/hostguard/status.json");
    let status = || agent::state::load_status(&status_path).map(|s| s.state);
    wait_for(|| status().as_deref() == Some("credential_rejected")).await;
    let message = agent::state::load_status(&status_path).unwrap().message;
    assert!(message.contains("re-install the agent with a new install token"), "{message}");
    assert!(!daemon.is_finished(), "the daemon keeps running");

    // The socket is still served; with no console to ask, the login is decided as in fail mode
    // secure (no break-glass codes here): refused, with the reason.
    let (r, mut w) = tokio::net::UnixStream::connect(sb.path("var/lib/hostguard/pam.sock")).await.unwrap().into_split();
    w.write_all(b"{\"type\":\"start\",\"account\":\"root\",\"source_ip\":\"192.0.2.9\",\"service\":\"sshd\"}\n")
        .await
        .unwrap();
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await.unwrap();
    assert!(line.contains("\"deny\"") && line.contains("credential was rejected"), "{line}");

    // The console takes the credential again (say, the server was restored): back to normal.
    stub.with(|c| c.agents = agents);
    wait_for(|| status().as_deref() == Some("ok")).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), daemon).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn no_state_and_no_token_is_a_usage_error() {
    let sb = Sandbox::new();
    let stub = Stub::start(&[]).await;
    let err = once(&stub, &sb, &[]).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--token"), "{err}");
}

#[tokio::test]
async fn daemon_long_polls_applies_and_stops_on_shutdown() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts =
        options(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1"), "--poll-wait", "2", "--heartbeat-secs", "1"]);
    let agent = tokio::spawn(run_until(opts, async move {
        let _ = stopped.await;
    }));

    wait_for(|| stub.with(|c| !c.agents.is_empty())).await;
    // The agent is now (or soon) parked in a long poll; a new revision must reach it.
    stub.set_revision(1, true);
    wait_for(|| stub.with(|c| !c.acks.is_empty())).await;
    assert_eq!(stub.with(|c| c.acks[0].clone()), json!({"revision": 1, "ok": true, "error": null}));
    assert!(sb.path(DROP_IN).exists());
    wait_for(|| stub.with(|c| c.heartbeats.iter().any(|h| h["applied_revision"] == 1))).await;
    assert!(stub.with(|c| c.facts.len()) >= 1);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), agent).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn daemon_survives_an_unreachable_console() {
    let sb = Sandbox::new();
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let root = sb.root().display().to_string();
    let token = token_file(&sb, "t");
    let opts = Options::try_parse_from([
        "hostguard-agent",
        "--console",
        &url,
        "--insecure-http",
        "--root",
        &root,
        "--token-file",
        &token,
    ])
    .unwrap();
    let result = run_until(opts, tokio::time::sleep(Duration::from_secs(2))).await;
    assert!(result.is_ok(), "{result:?}");
    // In --once mode the same failure is reported instead.
    let opts = Options::try_parse_from([
        "hostguard-agent",
        "--console",
        &url,
        "--insecure-http",
        "--root",
        &root,
        "--token-file",
        &token,
        "--once",
    ])
    .unwrap();
    assert_eq!(run_until(opts, std::future::pending()).await.unwrap_err().exit_code(), 1);
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn parse(args: &[&str]) -> Options {
    Options::try_parse_from(args).unwrap()
}

#[tokio::test]
async fn a_plain_http_console_needs_insecure_http() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    let root = sb.root().display().to_string();
    let token = token_file(&sb, "tok-1");
    let opts = parse(&["hostguard-agent", "--console", &stub.url, "--root", &root, "--token-file", &token, "--once"]);
    let err = run_until(opts, std::future::pending()).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("plain http") && err.to_string().contains("--insecure-http"), "{err}");
    assert_eq!(stub.with(|c| c.registrations.len()), 0, "nothing was sent");
    let opts = parse(&["hostguard-agent", "--console", "ftp://x", "--root", &root, "--token-file", &token]);
    assert_eq!(run_until(opts, std::future::pending()).await.unwrap_err().exit_code(), 2);
}

#[tokio::test]
async fn a_token_on_the_command_line_is_refused() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    let err = once(&stub, &sb, &["--token", "tok-1"]).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("--token-file"), "{err}");
    assert_eq!(stub.with(|c| c.registrations.len()), 0);
}

#[tokio::test]
async fn the_binary_reads_the_token_from_the_environment_or_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let stub = Stub::start(&["tok-env", "tok-stdin"]).await;
    let bin = env!("CARGO_BIN_EXE_hostguard-agent");
    let run = |token_via_env: bool| {
        let sb = Sandbox::new();
        let url = stub.url.clone();
        async move {
            let status = tokio::task::spawn_blocking(move || {
                let mut cmd = Command::new(bin);
                cmd.args(["--console", &url, "--insecure-http", "--sshd", SSHD, "--once"])
                    .arg("--root")
                    .arg(sb.root())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if token_via_env {
                    cmd.env("HOSTGUARD_INSTALL_TOKEN", "tok-env").stdin(Stdio::null());
                } else {
                    cmd.env_remove("HOSTGUARD_INSTALL_TOKEN").args(["--token-file", "-"]).stdin(Stdio::piped());
                }
                let mut child = cmd.spawn().unwrap();
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(b"tok-stdin\n").unwrap();
                }
                child.wait().unwrap()
            })
            .await
            .unwrap();
            assert!(status.success(), "{status}");
        }
    };
    run(true).await;
    run(false).await;
    let tokens: Vec<Value> = stub.with(|c| c.registrations.iter().map(|r| r["install_token"].clone()).collect());
    assert_eq!(tokens, [json!("tok-env"), json!("tok-stdin")]);
}

#[tokio::test]
async fn pam_conf_takes_nothing_from_the_revision() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    stub.set_revision(1, true);
    stub.with(|c| c.revision.as_mut().unwrap()["console_url"] = json!("https://attacker.example"));
    once(&stub, &sb, &[]).await.unwrap();
    // The module reads only the fail mode, which comes from the login policy.
    assert_eq!(sb.read(PAM_CONF).unwrap(), agent::pam_conf::render(proto::login::FailMode::Secure));
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let sb = Sandbox::new();
    let stub = Stub::start(&["tok-1"]).await;
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    stub.set_revision(1, true);
    let huge = "x".repeat(2 * 1024 * 1024);
    stub.with(|c| c.revision.as_mut().unwrap()["topic_urn"] = json!(huge));
    let err = once(&stub, &sb, &[]).await.unwrap_err();
    assert!(err.to_string().contains("larger than 1048576 bytes"), "{err}");
    assert!(!sb.path(DROP_IN).exists(), "nothing applied");
    assert_eq!(stub.with(|c| c.acks.len()), 0);
}

#[tokio::test]
async fn a_failed_sshd_reload_acks_an_error_and_restores_the_files() {
    let sb = Sandbox::new();
    let before = sb.etc_snapshot();
    let stub = Stub::start(&["tok-1"]).await;
    once(&stub, &sb, &["--token-file", &token_file(&sb, "tok-1")]).await.unwrap();
    stub.set_revision(1, true);
    let err = once(&stub, &sb, &["--reload-command", "false"]).await.unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let acks = stub.with(|c| c.acks.clone());
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["ok"], false);
    let msg = acks[0]["error"].as_str().unwrap();
    assert!(msg.starts_with("reloading sshd failed: false exited with"), "{msg}");
    assert!(msg.ends_with("the previous configuration was restored"), "{msg}");
    assert_eq!(sb.etc_snapshot(), before);
    assert_eq!(saved_state(&sb).applied_revision, 0);
}
