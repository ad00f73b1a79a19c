//! The whole login chain, real at every hop: `pamtester` runs a PAM service whose stack holds
//! the real `pam_hostguard.so`, which asks the real agent daemon (`hostguard-agent`) on its Unix
//! socket, which asks the real console, which mails the code through the real SMTP sink. The
//! agent reaches the console through a TCP relay the test can cut, to take the console away.
//! /etc/pam.d is replaced by a bind mount in a private mount namespace (`unshare -m`), so the
//! host's PAM configuration is never touched. Needs root, `unshare` and `pamtester`.

use crate::common::*;
use domain::entities::server_login;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_debug() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target")).join("debug")
}

/// Built by `cargo build -p agent -p pam_hostguard` (scripts/test.sh does).
pub(crate) fn built(name: &str) -> PathBuf {
    let path = target_debug().join(name);
    assert!(path.exists(), "{} is missing: run `cargo build -p agent -p pam_hostguard` first", path.display());
    path
}

/// Why this machine cannot run these tests, if it cannot (CI runs as root with both tools).
pub(crate) fn skip_reason() -> Option<&'static str> {
    let on_path = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.ok().as_deref() != Some("0") {
        return Some("not root");
    }
    ["unshare", "pamtester", "mount"]
        .into_iter()
        .find(|t| !on_path(t))
        .map(|_| "unshare, pamtester or mount is missing")
}

/// An HTTP proxy in front of the console, where a reverse proxy or a WAF would stand: it passes
/// every request on, except that it answers a set status to the paths that contain a set text.
pub(crate) struct Gate {
    pub(crate) addr: std::net::SocketAddr,
    refuse: std::sync::Arc<std::sync::Mutex<Option<(String, u16)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    pub(crate) async fn start(console: &str) -> Gate {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let refuse: std::sync::Arc<std::sync::Mutex<Option<(String, u16)>>> = Default::default();
        let (rule, console) = (refuse.clone(), console.trim_end_matches('/').to_owned());
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (rule, console, http) = (rule.clone(), console.clone(), http.clone());
            async move {
                let refused = rule.lock().unwrap().clone().filter(|(path, _)| uri.path().contains(path.as_str()));
                if let Some((_, status)) = refused {
                    let page = "<html><body><h1>Request blocked</h1></body></html>";
                    return (StatusCode::from_u16(status).unwrap(), HeaderMap::new(), Bytes::from(page));
                }
                let mut headers = headers;
                headers.remove(axum::http::header::HOST);
                let sent = http.request(method, format!("{console}{uri}")).headers(headers).body(body).send().await;
                match sent {
                    Ok(resp) => {
                        let (status, mut headers) = (resp.status(), resp.headers().clone());
                        // The body is passed on whole; hyper frames it anew.
                        headers.remove(axum::http::header::TRANSFER_ENCODING);
                        headers.remove(axum::http::header::CONTENT_LENGTH);
                        headers.remove(axum::http::header::CONNECTION);
                        (status, headers, resp.bytes().await.unwrap_or_default())
                    }
                    Err(_) => (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::from("bad gateway")),
                }
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Gate { addr, refuse, task }
    }

    /// Answers `status` to every request whose path contains `path`.
    pub(crate) fn refuse(&self, path: &str, status: u16) {
        *self.refuse.lock().unwrap() = Some((path.to_owned(), status));
    }

    pub(crate) fn pass(&self) {
        *self.refuse.lock().unwrap() = None;
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP relay from a local port to the console; [`Relay::cut`] takes the console away from
/// the agent (connection refused, open connections dropped), [`Relay::restore`] brings it back.
pub(crate) struct Relay {
    pub(crate) port: u16,
    target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub(crate) async fn start(target: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut relay = Relay { port, target, task: None };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    pub(crate) fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub(crate) async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

struct Rig {
    app: TestApp,
    sink: SmtpSink,
    p: Protected,
    dir: tempfile::TempDir,
    relay: Relay,
    gate: Gate,
    agent: Option<tokio::process::Child>,
}

const OPS: &str = "ops@pam-e2e.test";
const DEV: &str = "dev@pam-e2e.test";
const PHONE: &str = "+8613800000077";

impl Rig {
    async fn new(backend: Backend) -> Rig {
        let sink = SmtpSink::start().await;
        let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Options::empty() }).await;
        let p = app.protected_server("Acme PAM", "pam-01", &[OPS, DEV, PHONE]).await;
        app.put_in_force(&p, Some("sms")).await;
        // The agent → a relay that can be cut → an HTTP proxy that can refuse → the console.
        let gate = Gate::start(&app.base).await;
        let relay = Relay::start(gate.addr).await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let ok = std::process::Command::new(workspace().join("scripts/agent-sandbox.sh"))
            .arg(&root)
            .arg("pam-01")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        // Registered already: the agent starts from its state file, as after an install.
        let state = serde_json::json!({
            "console": format!("http://127.0.0.1:{}", relay.port),
            "server_id": p.server_id,
            "credential": p.credential,
            "applied_revision": 1,
        });
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state/agent.json"), state.to_string()).unwrap();
        std::fs::write(dir.path().join("pam.conf"), "fail_mode=secure\n").unwrap();
        let mut rig = Rig { app, sink, p, dir, relay, gate, agent: None };
        rig.start_agent().await;
        rig
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn start_agent(&mut self) {
        let child = tokio::process::Command::new(built("hostguard-agent"))
            .args(["--console", &format!("http://127.0.0.1:{}", self.relay.port), "--insecure-http"])
            .args(["--name", "pam-01", "--poll-wait", "1", "--heartbeat-secs", "1"])
            .arg("--root")
            .arg(self.path("root"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .arg("--socket")
            .arg(self.path("run/pam.sock"))
            .env("RUST_LOG", if std::env::var_os("TEST_LOG").is_some() { "debug" } else { "error" })
            .kill_on_drop(true)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.agent = Some(child);
        let (sock, policy) = (self.path("run/pam.sock"), self.path("state/login-policy.json"));
        eventually("the agent listens and has its policy", || async { sock.exists() && policy.exists() }).await;
    }

    /// Waits until the agent's stored login policy satisfies `check`.
    async fn agent_policy(&self, what: &str, check: impl Fn(&proto::login::LoginPolicy) -> bool) {
        let path = self.path("state/login-policy.json");
        eventually(what, || async {
            std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).is_some_and(|p| check(&p))
        })
        .await;
    }

    /// `pamtester` logging in to `account` from `rhost` through a service whose stack is
    /// `pam_permit` (the password) and our module.
    fn login(&self, account: &str, rhost: &str) -> Pam {
        let pam_d = self.path("pam.d");
        std::fs::create_dir_all(&pam_d).unwrap();
        std::fs::write(
            pam_d.join("hg-e2e"),
            format!(
                "auth required pam_permit.so\nauth required {} config={} socket={} timeout=30\n",
                built("libpam_hostguard.so").display(),
                self.path("pam.conf").display(),
                self.path("run/pam.sock").display()
            ),
        )
        .unwrap();
        // stdbuf: pamtester's stdout is a pipe, and C stdio would hold the info lines until exit.
        let script = r#"mount --bind "$0" /etc/pam.d && exec stdbuf -o0 pamtester -v -I rhost="$1" hg-e2e "$2" authenticate 2>&1"#;
        let mut child = tokio::process::Command::new("timeout")
            .args(["40", "unshare", "-m", "--propagation", "private", "sh", "-c", script])
            .arg(&pam_d)
            .args([rhost, account])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Pam { child, stdin, stdout, seen: String::new() }
    }

    async fn code_mails(&self, to: &str) -> Vec<(i32, String)> {
        self.sink
            .messages_to(to)
            .iter()
            .filter(|m| m.subject.starts_with("Login code"))
            .map(|m| {
                let rest = m.text.split("Input #").nth(1).unwrap();
                let (n, rest) = rest.split_once(": ").unwrap();
                (n.parse().unwrap(), rest.split_whitespace().next().unwrap().to_owned())
            })
            .collect()
    }

    /// The code of login number `n` mailed to `to`, once it has arrived.
    async fn code(&self, to: &str, n: i32) -> String {
        eventually("the code arrives", || async { self.code_mails(to).await.iter().any(|(m, _)| *m == n) }).await;
        self.code_mails(to).await.into_iter().find(|(m, _)| *m == n).map(|(_, c)| c).unwrap()
    }

    async fn logins(&self) -> Vec<server_login::Model> {
        server_login::Entity::find()
            .filter(server_login::Column::ServerId.eq(self.p.server_id))
            .all(&self.app.ctx.db)
            .await
            .unwrap()
    }
}

struct Pam {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    seen: String,
}

impl Pam {
    /// Reads pamtester's output until `text` appears (the prompt it waits at).
    async fn expect(&mut self, text: &str) {
        let mut buf = [0u8; 4096];
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            while !self.seen.contains(text) {
                let n = self.stdout.read(&mut buf).await.unwrap();
                if n == 0 {
                    return false;
                }
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            true
        })
        .await;
        assert!(matches!(found, Ok(true)), "never saw {text:?}; pamtester said:\n{}", self.seen);
    }

    /// Reads up to the code prompt and returns its number (`Input #25 Code: ` → 25).
    async fn code_prompt(&mut self) -> i32 {
        self.expect(" Code: ").await;
        let at = self.seen.rfind("Input #").expect("a numbered prompt");
        let n = self.seen[at + 7..].split(' ').next().unwrap().parse().unwrap();
        self.seen.clear();
        n
    }

    async fn type_line(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for pamtester to end: whether PAM let the login in, and everything it printed.
    async fn outcome(mut self) -> (bool, String) {
        drop(self.stdin);
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).await.unwrap();
        self.seen.push_str(&rest);
        let status = self.child.wait().await.unwrap();
        (status.success(), self.seen)
    }
}

macro_rules! skip_unless_possible {
    () => {
        if let Some(why) = skip_reason() {
            println!("SKIP real PAM test: {why}");
            return;
        }
    };
}

async fn sms_email_codes_through_the_real_pam_stack(backend: Backend) {
    skip_unless_possible!();
    let rig = Rig::new(backend).await;

    // A right code logs in.
    let mut pam = rig.login("root", "198.51.100.7");
    pam.expect("Phone number or email address: ").await;
    pam.type_line(OPS).await;
    let number = pam.code_prompt().await;
    let code = rig.code(OPS, number).await;
    pam.type_line(&code).await;
    let (ok, out) = pam.outcome().await;
    assert!(ok, "a right code logs in:\n{out}");
    assert!(out.contains("successfully authenticated"), "{out}");
    assert!(
        rig.sink.messages_to(DEV).iter().all(|m| !m.subject.starts_with("Login code")),
        "an address gets its own code only"
    );

    // A replayed code is refused: the old code does nothing for a new login; its own code works.
    let mut pam = rig.login("root", "198.51.100.7");
    pam.expect("Phone number or email address: ").await;
    pam.type_line(OPS).await;
    let number2 = pam.code_prompt().await;
    let code2 = rig.code(OPS, number2).await;
    assert_ne!(number2, number, "each login has its own number");
    pam.type_line(if code == code2 { "000000" } else { &code }).await;
    pam.expect("Wrong code. 2 attempts left.").await;
    pam.type_line(&code2).await;
    assert!(pam.outcome().await.0, "its own code logs in after the replay was refused");

    // A phone number of the topic sends to every endpoint; three wrong codes end the login.
    // (An account this host has: the module refuses names the name service does not know.)
    let mut pam = rig.login("daemon", "198.51.100.8");
    pam.expect("Phone number or email address: ").await;
    pam.type_line("+86 138 0000 0077").await;
    let number3 = pam.code_prompt().await;
    let code3 = rig.code(DEV, number3).await;
    assert_eq!(rig.code(OPS, number3).await, code3, "a phone number of the topic sends to every endpoint");
    let wrong = if code3 == "111111" { "222222" } else { "111111" };
    pam.type_line(wrong).await;
    for _ in 0..2 {
        pam.code_prompt().await;
        pam.type_line(wrong).await;
    }
    let (ok, out) = pam.outcome().await;
    assert!(!ok, "three wrong codes are refused:\n{out}");
    assert!(out.contains("no attempts are left"), "{out}");

    // An expired code is refused (the console's clock moves on while the user reads the mail).
    let mut pam = rig.login("root", "198.51.100.7");
    pam.expect("Phone number or email address: ").await;
    pam.type_line(OPS).await;
    let number4 = pam.code_prompt().await;
    let code4 = rig.code(OPS, number4).await;
    rig.app.clock.advance(chrono::Duration::minutes(6));
    pam.type_line(&code4).await;
    let (ok, out) = pam.outcome().await;
    assert!(!ok && out.contains("expired"), "{out}");

    let results: Vec<_> = rig.logins().await.into_iter().filter_map(|l| l.result).collect();
    assert_eq!(results.iter().filter(|r| r.as_str() == "allowed").count(), 2, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.as_str() == "denied").count(), 2, "{results:?}");
}
on_both_databases!(sms_email_codes_through_the_real_pam_stack, super::sms_email_codes_through_the_real_pam_stack);

async fn fail_modes_break_glass_and_exemptions_through_the_real_pam_stack(backend: Backend) {
    skip_unless_possible!();
    let mut rig = Rig::new(backend).await;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let settings = |fail_mode: &str| domain::logins::SettingsChange {
        fail_mode: fail_mode.into(),
        allow_unenrolled: false,
        exempt_accounts: vec!["backup".into()],
        exempt_networks: vec!["10.20.0.0/16".into()],
    };
    domain::logins::settings::update(&rig.app.ctx, &rig.p.caller, &actor, rig.p.server_id, &settings("safe"))
        .await
        .unwrap();
    rig.agent_policy("the agent has the safe policy", |p| p.fail_mode == proto::login::FailMode::Safe).await;

    // Exempt account and network: in without a prompt, and audited by the console.
    assert!(rig.login("backup", "198.51.100.7").outcome().await.0);
    assert!(rig.login("root", "10.20.1.2").outcome().await.0);
    let reasons: Vec<_> = rig.logins().await.into_iter().map(|l| l.reason).collect();
    assert!(
        reasons.contains(&"exempt account backup".to_owned())
            && reasons.contains(&"exempt network 10.20.0.0/16".to_owned()),
        "{reasons:?}"
    );

    // Console down, fail mode safe: allowed, recorded locally, reported when it is back.
    rig.relay.cut();
    let (ok, out) = rig.login("root", "198.51.100.7").outcome().await;
    assert!(ok, "safe mode lets the login in while the console is down:\n{out}");
    assert!(out.contains("fail mode safe"), "{out}");
    rig.relay.restore().await;
    eventually("the offline login is reported", || async {
        rig.logins().await.iter().any(|l| l.offline && l.reason.contains("fail mode safe"))
    })
    .await;

    // Fail mode secure with break-glass codes.
    domain::logins::settings::update(&rig.app.ctx, &rig.p.caller, &actor, rig.p.server_id, &settings("secure"))
        .await
        .unwrap();
    let codes = domain::logins::settings::issue_break_glass(&rig.app.ctx, &rig.p.caller, &actor, rig.p.server_id)
        .await
        .unwrap();
    rig.agent_policy("the agent has the secure policy and 10 codes", |p| {
        p.fail_mode == proto::login::FailMode::Secure && p.break_glass.len() == 10
    })
    .await;
    rig.relay.cut();
    let mut pam = rig.login("root", "198.51.100.7");
    pam.expect("Break-glass code: ").await;
    pam.type_line("AAAAA-BBBBB-CCCCC-DDDDD").await;
    let (ok, out) = pam.outcome().await;
    assert!(!ok && out.contains("not an unused break-glass code"), "{out}");
    for (attempt, expect_ok) in [(1, true), (2, false)] {
        let mut pam = rig.login("root", "198.51.100.7");
        pam.expect("Break-glass code: ").await;
        pam.type_line(&codes[0].to_lowercase()).await;
        let (ok, out) = pam.outcome().await;
        assert_eq!(ok, expect_ok, "break-glass use {attempt}: works once\n{out}");
    }
    assert!(rig.login("backup", "198.51.100.7").outcome().await.0, "exemptions hold offline too");
    rig.relay.restore().await;
    eventually("the break-glass use is reported and the code spent", || async {
        rig.logins().await.iter().any(|l| l.offline && l.reason.contains("break-glass code used"))
    })
    .await;
    rig.agent_policy("the spent code is gone from the policy", |p| p.break_glass.len() == 9).await;

    // The daemon gone, secure: the module refuses on its own.
    rig.agent.take().unwrap().kill().await.unwrap();
    let (ok, out) = rig.login("root", "198.51.100.7").outcome().await;
    assert!(!ok, "no daemon, fail mode secure: refused\n{out}");
    rig.start_agent().await;

    // Verification-code mode: an account linked to nobody is refused, with what to do.
    rig.app.put_in_force(&rig.p, Some("code")).await;
    let (ok, out) = rig.login("root", "198.51.100.7").outcome().await;
    assert!(!ok && out.contains("not linked"), "{out}");

    // Linked to an end user with no factor: refused, and told where to enroll.
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let bob = rig.p.tenant.end_user(&rig.app, "bob").await;
    let mapping = domain::factors::mapping::NewMapping {
        account: domain::validate::AccountName::parse("root").unwrap(),
        end_user_id: bob.id,
        server_id: None,
    };
    domain::factors::mapping::add(&rig.app.ctx, &rig.p.caller, &actor, &mapping).await.unwrap();
    let (ok, out) = rig.login("root", "198.51.100.7").outcome().await;
    assert!(!ok && out.contains("/portal"), "{out}");

    // A recovery code works once.
    let bob_caller = domain::Caller {
        user_id: bob.id,
        role: domain::Role::EndUser,
        tenant_id: Some(rig.p.tenant.id),
        email: bob.email.clone(),
    };
    // His first factor, as the invitation's own pages add it (the link proved, the password set).
    let session = rig.app.invitation_session(&bob).await;
    let codes = domain::factors::recovery::generate(&rig.app.ctx, &bob_caller, &actor, session).await.unwrap();
    for (attempt, expect_ok) in [(1, true), (2, false)] {
        let mut pam = rig.login("root", "198.51.100.7");
        pam.expect("Verification code: ").await;
        pam.type_line(&codes[0]).await;
        if !expect_ok {
            // A spent code is just a wrong one: the login asks again, up to three times.
            for _ in 0..2 {
                pam.expect("attempt").await;
                pam.type_line(&codes[0]).await;
            }
        }
        let (ok, out) = pam.outcome().await;
        assert_eq!(ok, expect_ok, "recovery code use {attempt}:\n{out}");
    }
}
on_both_databases!(
    fail_modes_break_glass_and_exemptions_through_the_real_pam_stack,
    super::fail_modes_break_glass_and_exemptions_through_the_real_pam_stack
);

/// Shown on the main of before: a proxy answering 403 to `/answer`, while heartbeats went through,
/// let `' OR 1=1 --` in under fail mode safe. A refusal is a refusal, whoever says it.
async fn a_proxy_refusing_the_answer_denies_the_login_in_safe_mode(backend: Backend) {
    skip_unless_possible!();
    let mut rig = Rig::new(backend).await;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let safe = domain::logins::SettingsChange {
        fail_mode: "safe".into(),
        allow_unenrolled: false,
        exempt_accounts: vec![],
        exempt_networks: vec![],
    };
    domain::logins::settings::update(&rig.app.ctx, &rig.p.caller, &actor, rig.p.server_id, &safe).await.unwrap();
    rig.agent_policy("the agent has the safe policy", |p| p.fail_mode == proto::login::FailMode::Safe).await;

    for status in [403, 500, 502] {
        rig.gate.refuse("/answer", status);
        let mut pam = rig.login("root", "198.51.100.7");
        pam.expect("Phone number or email address: ").await;
        pam.type_line("' OR 1=1 --").await;
        let (ok, out) = pam.outcome().await;
        assert!(!ok, "HTTP {status} to the answer, with the console up, is a refusal:\n{out}");
        assert!(out.contains("refused this login"), "{out}");
    }
    rig.gate.pass();
    assert!(rig.logins().await.iter().all(|l| !l.offline), "nothing was decided offline");

    // The console really gone (the relay cut): that is the fail mode, and safe lets it in.
    rig.relay.cut();
    let (ok, out) = rig.login("root", "198.51.100.7").outcome().await;
    assert!(ok && out.contains("fail mode safe"), "{out}");
    rig.relay.restore().await;
}
on_both_databases!(
    a_proxy_refusing_the_answer_denies_the_login_in_safe_mode,
    super::a_proxy_refusing_the_answer_denies_the_login_in_safe_mode
);
