//! Starts the real console on a random port with a fresh database, like a user would meet it.
//! SQLite gets a temporary file; PostgreSQL a new database in the throwaway cluster that
//! `scripts/test.sh` starts (its admin URL is in `HOSTGUARD_TEST_POSTGRES_URL`).

#![allow(dead_code)]

use domain::{lockout::LockoutPolicy, ManualClock};
use leptos::prelude::LeptosOptions;
use reqwest::{header, redirect::Policy, Response};
use sea_orm::{ConnectionTrait, Database};
use server::config::Config;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub ctx: domain::Ctx,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub public_url: Option<String>,
    pub lockout: LockoutPolicy,
    /// Join an existing database (a second replica) instead of making a fresh one.
    pub database_url: Option<String>,
    /// The SMTP server mail goes to; by default a port where nothing listens.
    pub smtp_port: Option<u16>,
    /// An HTTP SMS gateway; by default the development outbox.
    pub sms_gateway_url: Option<String>,
    /// `HOSTGUARD_SECRET_KEY` (64 hex digits); by default [`TEST_SECRET_KEY`], `None` for none.
    pub secret_key: Option<String>,
    /// More settings, as `HOSTGUARD_*` variables.
    pub env: Vec<(&'static str, String)>,
}

/// The server secret key the tests run with, so access keys can be created.
pub const TEST_SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl Default for Options {
    fn default() -> Self {
        Self {
            public_url: None,
            lockout: LockoutPolicy::default(),
            database_url: None,
            smtp_port: None,
            sms_gateway_url: None,
            secret_key: Some(TEST_SECRET_KEY.to_string()),
            env: vec![],
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, opts: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = opts.database_url.is_none();
    let database_url = match (opts.database_url, backend) {
        (Some(url), _) => url,
        (None, Backend::Sqlite) => format!("sqlite://{}?mode=rwc", dir.path().join("hostguard.db").display()),
        (None, Backend::Postgres) => fresh_postgres_database().await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let mut vars = vec![
        ("HOSTGUARD_DATABASE_URL".to_string(), database_url.clone()),
        ("HOSTGUARD_LISTEN".to_string(), addr.to_string()),
        ("HOSTGUARD_DEMO".to_string(), "true".to_string()),
        ("HOSTGUARD_SMTP_HOST".to_string(), "127.0.0.1".to_string()),
        ("HOSTGUARD_SMTP_PORT".to_string(), opts.smtp_port.unwrap_or(9).to_string()),
        ("HOSTGUARD_DELIVERY_POLL_MS".to_string(), "50".to_string()),
    ];
    if let Some(url) = opts.sms_gateway_url {
        vars.push(("HOSTGUARD_SMS_GATEWAY_URL".to_string(), url));
        vars.push(("HOSTGUARD_SMS_ACCOUNT".to_string(), "AC-test".to_string()));
        vars.push(("HOSTGUARD_SMS_TOKEN".to_string(), "gateway-secret".to_string()));
    }
    if let Some(key) = opts.secret_key {
        vars.push(("HOSTGUARD_SECRET_KEY".to_string(), key));
    }
    vars.extend(opts.env.into_iter().map(|(k, v)| (k.to_string(), v)));
    if let Some(url) = opts.public_url {
        vars.push(("HOSTGUARD_PUBLIC_URL".to_string(), url));
    }
    let config = Config::load(&vars).expect("test configuration is valid");
    let leptos_options = LeptosOptions::builder().output_name("hostguard").site_addr(addr).build();
    let clock = ManualClock::new(chrono::Utc::now());
    let console =
        server::build(&config, leptos_options, Arc::new(clock.clone()), opts.lockout).await.expect("console starts");
    assert_eq!(console.demo_created, fresh, "a fresh database, and only that, gets the demo data");
    let ctx = console.ctx.clone();
    let limits = config.limits;
    tokio::spawn(server::serve::serve(listener, console.router, limits, std::future::pending::<()>()));
    TestApp {
        base: format!("http://{addr}"),
        database_url,
        ctx,
        clock,
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap(),
        _dir: dir,
    }
}

pub async fn fresh_postgres_database() -> String {
    let admin = std::env::var("HOSTGUARD_TEST_POSTGRES_URL").expect(
        "HOSTGUARD_TEST_POSTGRES_URL is not set. Run the tests with scripts/test.sh, which starts a throwaway PostgreSQL 15 cluster",
    );
    let name = format!("hg_{}", uuid::Uuid::new_v4().simple());
    let db = Database::connect(&admin).await.expect("connect to the test cluster");
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    db.close().await.ok();
    let (base, _) = admin.rsplit_once('/').expect("admin URL ends with a database name");
    format!("{base}/{name}")
}

/// The demo sign-ins.
pub const ACME_ADMIN: (&str, &str) = ("admin@acme.example", "acme-admin-demo-2026");
pub const GLOBEX_ADMIN: (&str, &str) = ("admin@globex.example", "globex-admin-demo-2026");
pub const ALICE: (&str, &str) = ("alice@acme.example", "alice-demo-2026");
pub const OPERATOR: (&str, &str) = ("ops@hostguard.example", "operator-demo-2026");

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls a server function the way a browser's form does, with an optional session cookie.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Response {
        let mut req = self.http.post(self.url(&format!("/api/{endpoint}"))).form(form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.expect("request")
    }

    /// The 2FA tab's list (`two-factor/list`): page 1 of 100, no filters, except the fields in
    /// `given` (fields of its `query` argument, e.g. `("search", "web")`).
    pub async fn list_two_factor(&self, cookie: Option<&str>, given: &[(&str, &str)]) -> Response {
        let mut form: Vec<(String, &str)> = vec![("query[page_size]".into(), "100")];
        for (k, v) in given {
            let key = format!("query[{k}]");
            form.retain(|(have, _)| *have != key);
            form.push((key, v));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.call("two-factor/list", &form, cookie).await
    }

    pub async fn get_page(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path)).header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.expect("request")
    }

    /// Signs in and returns the response.
    pub async fn sign_in_raw(&self, who: (&str, &str), cookie: Option<&str>) -> Response {
        self.call("auth/sign_in", &[("email", who.0), ("password", who.1)], cookie).await
    }

    /// Signs in and returns the `name=value` session cookie.
    pub async fn sign_in(&self, who: (&str, &str)) -> String {
        let res = self.sign_in_raw(who, None).await;
        assert_eq!(res.status(), 200, "sign-in of {} succeeds", who.0);
        session_cookie(&res).expect("sign-in sets the session cookie")
    }

    /// The email of the signed-in user, or None.
    pub async fn me(&self, cookie: &str) -> Option<String> {
        let res = self.call("auth/me", &[], Some(cookie)).await;
        assert_eq!(res.status(), 200);
        let v: serde_json::Value = res.json().await.unwrap();
        v.get("email").and_then(|e| e.as_str()).map(str::to_owned)
    }
}

/// The full `Set-Cookie` header of the session cookie, if the response sets it.
pub fn set_session_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", server::SESSION_COOKIE)))
        .map(str::to_owned)
}

/// `name=value` of the session cookie the response sets.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_session_cookie(res).map(|v| v.split(';').next().unwrap().to_owned())
}

/// Runs the same async test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::common::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                ($body)($crate::common::Backend::Postgres).await
            }
        }
    };
}

/// A real SMTP server (Python's aiosmtpd, from `scripts/smtp_sink.py`) that keeps each message
/// it receives as a file. Stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut sink = SmtpSink { port, dir: tempfile::tempdir().unwrap(), child: None };
        sink.restart().await;
        sink
    }

    /// Starts the server (again) on the same port.
    pub async fn restart(&mut self) {
        let python = workspace().join(".tools/venv/bin/python");
        assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());
        let child = std::process::Command::new(python)
            .arg(workspace().join("scripts/smtp_sink.py"))
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the SMTP sink did not start");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.iter().map(|p| Mail::parse(&std::fs::read(p).unwrap())).collect()
    }

    pub fn messages_to(&self, to: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|m| m.to.contains(to)).collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` messages, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let got = self.messages_to(to);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{to} received {} messages, expected {count}", self.messages_to(to).len());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A received email, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let parsed = mailparse::parse_mail(raw).expect("a valid email");
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
                .map(|h| h.get_value())
                .unwrap_or_default()
        };
        let part = |mime: &str| {
            parsed.subparts.iter().find(|p| p.ctype.mimetype == mime).map(|p| p.get_body().unwrap()).unwrap_or_default()
        };
        Mail {
            from: header("From"),
            to: header("To"),
            subject: header("Subject"),
            content_type: parsed.ctype.mimetype.clone(),
            text: part("text/plain"),
            html: part("text/html"),
        }
    }

    /// The first link in the text that starts with `prefix` (e.g. `http://…/smn/confirm`).
    pub fn link(&self, path: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(path))
            .map(|w| w.trim_end_matches(['.', ',']).to_owned())
    }
}

/// Polls `check` until it is true (up to 10 s).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// `n` Linux servers of a tenant that are ready for 2FA (agent online, PAM and
/// keyboard-interactive on), named `{prefix}-00000` on, to write straight to the database.
pub fn ready_servers(tenant_id: uuid::Uuid, prefix: &str, n: usize) -> Vec<domain::entities::server::ActiveModel> {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| domain::entities::server::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            name: Set(format!("{prefix}-{i:05}")),
            ip: Set(format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)),
            ips: Set(String::new()),
            os_type: Set("linux".into()),
            os_name: Set("Debian 12".into()),
            region: Set("ap-southeast-1".into()),
            protection_enabled: Set(true),
            agent_status: Set("online".into()),
            last_seen_at: Set(Some(now)),
            created_at: Set(now),
            sshd_use_pam: Set(Some(true)),
            sshd_kbd_interactive: Set(Some(true)),
            sshd_permit_empty_passwords: Set(Some(false)),
            openssh_version: Set(Some("OpenSSH_9.2p1".into())),
            selinux: Set(Some("disabled".into())),
            must_change_password_accounts: Set(String::new()),
            conflicting_software: Set(String::new()),
            ..Default::default()
        })
        .collect()
}
