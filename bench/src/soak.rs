//! `bench --soak [SECONDS]` (`./scripts/soak.sh`): the soak of issue 18, bounded and
//! self-stopping. For SECONDS (1800 by default), on loopback, against the real console started
//! as a child process (`server` next to this binary):
//! - 1,000 agents (servers seeded with agent credentials, as the long-poll bench seeds them)
//!   long-poll their configuration (`wait=25`) and heartbeat every 30 s over the agent API;
//! - logins at a steady rate (5 a second) through the real agent daemon (`hostguard-agent`, one
//!   per login server) with the PAM module's own logic and socket client, in SMS/Email mode:
//!   each code goes by email to a real SMTP server (`scripts/smtp_sink.py`) and is read from the
//!   mail received there (or from the outbox while the mail server is down); nine in ten are
//!   answered right (allowed), one in ten wrong three times (denied);
//! - two console users list (the 2FA tab, the login audit) and save (a server's login
//!   settings) steadily;
//! - the SMTP server is stopped and started again twice.
//!
//! The warm-up is the first 60 s (10 % of a shorter run). At the end it prints each figure
//! beside its target, and fails if one is missed: the console's RSS at the end within 10 % of
//! its RSS after the warm-up; no 5xx (and no other unexpected answer); each call kind's p99 in
//! the last minute at most twice its p99 in the first minute after the warm-up; every message
//! delivered exactly once; every login in the login audit with the result it ended with.
//! Knobs: `HOSTGUARD_SOAK_LOGINS_PER_SEC` (5), `HOSTGUARD_SOAK_CONSOLE_PER_SEC` (4),
//! `HOSTGUARD_BENCH_VERBOSE=1` (the console's RSS after `malloc_trim(0)` at the end, by gdb).

use crate::{percentile, verdict, Backend, ChildConsole, Res};
use domain::entities::{outbox, server_login};
use pam_hostguard::logic::Verdict;
use proto::{login::LoginStart, Channel, OutboxStatus};
use reqwest::StatusCode;
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};
use testkit::{Backend as TestBackend, Options};
use uuid::Uuid;

pub const DEFAULT_SECS: u64 = 1800;
const AGENTS: usize = 1000;
/// Servers with a real agent daemon that the logins go through (each has its own budget of
/// login starts a minute).
const LOGIN_SERVERS: usize = 3;
const POLL_WAIT: u64 = 25;
const HEARTBEAT_SECS: u64 = 30;
/// The topic's one confirmed endpoint: every login code goes there by email.
const ENDPOINT: &str = "ops@soak.test";
/// One login in this many answers a wrong code (three times) and must be denied.
const WRONG_EVERY: u64 = 10;
/// The longest the end waits for the outbox to empty.
const DRAIN: Duration = Duration::from_secs(180);

const HEARTBEAT: &str = "agent heartbeat";
const POLL: &str = "agent long poll (held 25 s)";
const LOGIN_RIGHT: &str = "login, right code (module → agent → console, 3 round trips)";
const LOGIN_WRONG: &str = "login, wrong code ×3 (4 round trips)";
const LIST_2FA: &str = "console: 2FA tab list";
const LIST_AUDIT: &str = "console: login audit list";
const SAVE: &str = "console: save login settings";
const KINDS: [&str; 7] = [HEARTBEAT, POLL, LOGIN_RIGHT, LOGIN_WRONG, LIST_2FA, LIST_AUDIT, SAVE];

/// `--soak [SECONDS]` among the arguments: the run's length.
pub fn seconds(mut args: impl Iterator<Item = String>) -> Option<u64> {
    args.position(|a| a == "--soak")?;
    Some(args.next().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SECS))
}

fn knob(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v: &f64| *v > 0.0).unwrap_or(default)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every call's time and answer.
struct Metrics {
    start: Instant,
    /// (kind, seconds since the start, ms)
    samples: Mutex<Vec<(&'static str, f64, f64)>>,
    /// (kind, HTTP status) → count, for answers other than the expected ones.
    unexpected: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Calls that got no answer (connection refused, timeout), by kind and error.
    errors: Mutex<BTreeMap<String, u64>>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    fn new(start: Instant) -> Metrics {
        Metrics {
            start,
            samples: Mutex::default(),
            unexpected: Mutex::default(),
            errors: Mutex::default(),
            calls: Mutex::default(),
        }
    }

    fn sample(&self, kind: &'static str, t0: Instant) {
        let at = t0.duration_since(self.start).as_secs_f64();
        lock(&self.samples).push((kind, at, t0.elapsed().as_secs_f64() * 1000.0));
        *lock(&self.calls).entry(kind).or_default() += 1;
    }

    fn error(&self, kind: &'static str, e: impl std::fmt::Display) {
        // Errors name URLs with ids: keep the first 120 characters, enough to tell them apart.
        let e: String = e.to_string().chars().take(120).collect();
        *lock(&self.errors).entry(format!("{kind}: {e}")).or_default() += 1;
    }

    /// Sends `req`, times it and records its answer; the body when the status is one of `expect`.
    async fn call(&self, kind: &'static str, req: reqwest::RequestBuilder, expect: &[u16]) -> Option<(u16, String)> {
        let t0 = Instant::now();
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                self.error(kind, e);
                return None;
            }
        };
        let status = res.status().as_u16();
        let body = match res.text().await {
            Ok(b) => b,
            Err(e) => {
                self.error(kind, e);
                return None;
            }
        };
        self.sample(kind, t0);
        if !expect.contains(&status) {
            *lock(&self.unexpected).entry((kind, status)).or_default() += 1;
            if lock(&self.unexpected).values().sum::<u64>() <= 5 {
                println!("  {kind}: HTTP {status}: {}", body.chars().take(200).collect::<String>());
            }
            return None;
        }
        Some((status, body))
    }

    /// p99 and p50 (ms) and count of `kind`'s calls started in `[from, to)` seconds.
    fn p99(&self, kind: &str, from: f64, to: f64) -> Option<(f64, f64, usize)> {
        let mut v: Vec<f64> = lock(&self.samples)
            .iter()
            .filter(|(k, at, _)| *k == kind && *at >= from && *at < to)
            .map(|s| s.2)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some((percentile(&v, 0.99), percentile(&v, 0.5), v.len()))
    }
}

/// What the setup made, as plain data.
struct Setup {
    tenant_id: Uuid,
    /// (server id, name, agent credential) of the servers whose real agent daemon runs.
    login_servers: Vec<(Uuid, String, String)>,
    /// (server id, agent credential) of the 1,000 simulated agents.
    agents: Vec<(Uuid, String)>,
    /// (email, password, console authenticator seed) of the console users.
    admins: Vec<(String, String, String)>,
}

/// Makes the tenant, its servers and users through a console of the test harness, in a runtime
/// of its own that is shut down afterwards: none of that console's workers outlive the setup.
fn setup(backend: TestBackend, database_url: String) -> Res<Setup> {
    std::thread::spawn(move || -> Res<Setup> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let out = rt.block_on(setup_in(backend, database_url));
        rt.shutdown_background();
        out
    })
    .join()
    .map_err(|_| "the setup panicked")?
}

async fn setup_in(backend: TestBackend, database_url: String) -> Res<Setup> {
    use domain::audit::Actor;
    let app = testkit::spawn_app_with(backend, Options { database_url: Some(database_url), ..Options::empty() }).await;
    let p = app.protected_server("Soak", "soak-login-0", &[ENDPOINT]).await;
    app.put_in_force(&p, Some("sms")).await;
    let actor = Actor::new("soak", "127.0.0.1");
    let mut login_servers = vec![(p.server_id, p.server_name.clone(), p.credential.clone())];
    for i in 1..LOGIN_SERVERS {
        let name = format!("soak-login-{i}");
        let (token, _) = domain::agents::create_install_token(&app.ctx, &p.caller, &actor).await?;
        let r = domain::agents::register(&app.ctx, &token, &testkit::debian_facts(&name), "127.0.0.1").await?;
        let q = testkit::Protected {
            tenant: p.tenant.clone(),
            admin: p.admin.clone(),
            caller: p.caller.clone(),
            server_id: r.server_id,
            server_name: name.clone(),
            credential: secrecy::ExposeSecret::expose_secret(&r.credential).to_owned(),
            topic_id: p.topic_id,
        };
        app.put_in_force(&q, Some("sms")).await;
        login_servers.push((q.server_id, name, q.credential));
    }
    let mut rows = testkit::ready_servers(p.tenant.id, "soak-agent", AGENTS);
    let mut agents = Vec::with_capacity(AGENTS);
    for row in &mut rows {
        let id = match &row.id {
            ActiveValue::Set(id) | ActiveValue::Unchanged(id) => *id,
            ActiveValue::NotSet => return Err("a seeded server has no id".into()),
        };
        let (secret, _) = domain::tokens::new_token();
        let credential = format!("hga_{}_{secret}", id.simple());
        row.agent_credential_hash = ActiveValue::Set(Some(domain::tokens::hash_token(&credential)));
        row.agent_version = ActiveValue::Set(Some("0.1.0".into()));
        agents.push((id, credential));
    }
    for chunk in rows.chunks(500) {
        app.insert_servers(chunk.to_vec()).await;
    }
    let second = p.tenant.admin(&app, "admin2").await;
    let mut admins = vec![];
    for who in [&p.admin, &second] {
        let seed = testkit::console_sign_in::seed_of(who.id).ok_or("a console user has no authenticator seed")?;
        admins.push((who.email.clone(), who.password.clone(), seed));
    }
    // Its workers may be inside a transaction: closing the pool waits for each connection to
    // come back, so none is left holding a lock when the runtime drops them.
    tokio::time::timeout(Duration::from_secs(30), app.ctx.db.close_by_ref())
        .await
        .map_err(|_| "closing the setup's pool")??;
    Ok(Setup { tenant_id: p.tenant.id, login_servers, agents, admins })
}

/// The mail the SMTP server received, read from its directory as it arrives.
#[derive(Default)]
struct Mailbox {
    files: HashSet<OsString>,
    /// (recipient, subject) → times received.
    received: HashMap<(String, String), u64>,
    /// subject → the login code in it.
    codes: HashMap<String, String>,
    unreadable: u64,
}

impl Mailbox {
    fn scan(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name();
            // The sink writes `.<name>.eml` and renames it: skip the half-written.
            if name.to_string_lossy().starts_with('.') || !name.to_string_lossy().ends_with(".eml") {
                continue;
            }
            if !self.files.insert(name) {
                continue;
            }
            let raw = std::fs::read(e.path()).unwrap_or_default();
            let Ok(mail) = mailparse::parse_mail(&raw) else {
                self.unreadable += 1;
                continue;
            };
            let header = |name: &str| {
                mail.headers
                    .iter()
                    .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
                    .map(|h| h.get_value())
                    .unwrap_or_default()
            };
            let (to, subject) = (header("X-Envelope-To"), header("Subject"));
            let text = std::iter::once(&mail)
                .chain(mail.subparts.iter())
                .find(|p| p.ctype.mimetype == "text/plain")
                .and_then(|p| p.get_body().ok())
                .unwrap_or_default();
            if let Some(code) = code_in(&text) {
                self.codes.insert(subject.clone(), code);
            }
            *self.received.entry((to, subject)).or_default() += 1;
        }
    }
}

/// The code of a login code's text: `Input #12: 123456 is the verification code …`.
fn code_in(text: &str) -> Option<String> {
    let rest = &text[text.find("Input #")?..];
    let code: String = rest[rest.find(": ")? + 2..].chars().take(6).collect();
    (code.len() == 6 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}

/// Where a login's code was read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    Mail,
    Outbox,
}

/// The code of the message with `subject`: from the mail received, or, when it has not arrived
/// within half a second (the SMTP server is down), from the outbox, which keeps it until sent.
async fn find_code(db: &sea_orm::DatabaseConnection, mail: &Mutex<Mailbox>, subject: &str) -> Option<(String, Source)> {
    let until = Instant::now() + Duration::from_secs(30);
    let mut i = 0u32;
    while Instant::now() < until {
        if let Some(code) = lock(mail).codes.get(subject) {
            return Some((code.clone(), Source::Mail));
        }
        if i >= 25 && i.is_multiple_of(5) {
            let m = outbox::Entity::find().filter(outbox::Column::Subject.eq(subject)).one(db).await.ok().flatten();
            let code = m
                .and_then(|m| m.secrets)
                .and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok())
                .and_then(|s| s.into_iter().next());
            if let Some(code) = code {
                return Some((code, Source::Outbox));
            }
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The PAM conversation of a person who names the topic's address and types the code mailed
/// to it (or, for a wrong-code login, another code each time). The time spent here (reading
/// the mail) is left out of the login's time.
struct Person {
    rt: tokio::runtime::Handle,
    db: sea_orm::DatabaseConnection,
    mail: Arc<Mutex<Mailbox>>,
    account: String,
    server_name: String,
    wrong: bool,
    code: Option<(String, Source)>,
    in_conversation: Duration,
    said: String,
}

impl pam_hostguard::logic::Conversation for Person {
    fn prompt(&mut self, text: &str, _echo: bool) -> Result<String, String> {
        let t = Instant::now();
        let answer = if text.starts_with("Phone number") {
            Ok(ENDPOINT.to_owned())
        } else if let Some(number) = text.strip_prefix("Input #").and_then(|r| r.split(' ').next()) {
            let subject = format!("Login code #{number} for {}@{}", self.account, self.server_name);
            if self.code.is_none() {
                self.code = self.rt.block_on(find_code(&self.db, &self.mail, &subject));
            }
            match &self.code {
                Some((code, _)) if self.wrong => {
                    // Never the right one: its last digit moved on by one.
                    let last = code.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0);
                    Ok(format!("{}{}", &code[..5], (last + 1) % 10))
                }
                Some((code, _)) => Ok(code.clone()),
                None => Err(format!("no code arrived for {subject:?} within 30 s")),
            }
        } else {
            Err(format!("unexpected prompt {text:?}"))
        };
        self.in_conversation += t.elapsed();
        if let Err(e) = &answer {
            self.said = e.clone();
        }
        answer
    }
    fn info(&mut self, _text: &str) {}
    fn error(&mut self, text: &str) {
        self.said = text.to_owned();
    }
}

/// One login as it ended.
struct Made {
    account: String,
    wrong: bool,
    verdict: Verdict,
    source: Option<Source>,
    said: String,
}

fn login(
    n: u64,
    socket: PathBuf,
    server_name: String,
    rt: tokio::runtime::Handle,
    db: sea_orm::DatabaseConnection,
    mail: Arc<Mutex<Mailbox>>,
    metrics: Arc<Metrics>,
) -> Made {
    let wrong = n % WRONG_EVERY == WRONG_EVERY - 1;
    // One account per login and a source address of its own: under the code-sending limits
    // (5 codes an account, 10 an address, in 15 minutes).
    let account = format!("soak{n}");
    let req = LoginStart {
        account: account.clone(),
        source_ip: format!("198.{}.{}.{}", 18 + (n >> 16) % 2, (n >> 8) % 256, n % 256),
        service: "sshd".into(),
        tty: "ssh".into(),
        ..Default::default()
    };
    let mut person = Person {
        rt,
        db,
        mail,
        account: account.clone(),
        server_name,
        wrong,
        code: None,
        in_conversation: Duration::ZERO,
        said: String::new(),
    };
    let mut daemon = pam_hostguard::transport::UnixDaemon::new(&socket);
    let t0 = Instant::now();
    let verdict = pam_hostguard::logic::authenticate(
        &req,
        Instant::now() + Duration::from_secs(60),
        proto::login::FailMode::Secure,
        &mut person,
        &mut daemon,
        &crate::logins::ConsoleAccounts,
        &pam_hostguard::logic::SystemClock,
    );
    let ours = t0.elapsed().saturating_sub(person.in_conversation);
    let at = t0.duration_since(metrics.start).as_secs_f64();
    let kind = if wrong { LOGIN_WRONG } else { LOGIN_RIGHT };
    lock(&metrics.samples).push((kind, at, ours.as_secs_f64() * 1000.0));
    *lock(&metrics.calls).entry(kind).or_default() += 1;
    Made { account, wrong, verdict, source: person.code.map(|c| c.1), said: person.said }
}

/// A simulated agent: long polls one after the other, as the agent daemon does.
async fn poll_loop(m: Arc<Metrics>, http: reqwest::Client, base: String, credential: String, end: Instant) {
    let mut after = 0;
    while Instant::now() < end {
        let req = http.get(format!("{base}{}", proto::agent::paths::config(after, POLL_WAIT))).bearer_auth(&credential);
        match m.call(POLL, req, &[200, 204]).await {
            Some((200, body)) => {
                if let Ok(a) = serde_json::from_str::<proto::agent::Assignment>(&body) {
                    after = a.revision;
                    let ack = proto::agent::AckRequest { revision: a.revision, ok: true, error: None };
                    let req =
                        http.post(format!("{base}{}", proto::agent::paths::ACK)).bearer_auth(&credential).json(&ack);
                    m.call("agent ack", req, &[200, 204]).await;
                }
            }
            Some(_) => {}
            // As the agent does after a failure: wait a little before the next poll.
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

async fn heartbeat_loop(
    m: Arc<Metrics>,
    http: reqwest::Client,
    base: String,
    credential: String,
    first: Duration,
    end: Instant,
) {
    tokio::time::sleep(first).await;
    let mut every = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    loop {
        every.tick().await;
        if Instant::now() >= end {
            return;
        }
        let body = proto::agent::HeartbeatRequest { agent_version: "0.1.0".into(), applied_revision: 0 };
        let req = http.post(format!("{base}{}", proto::agent::paths::HEARTBEAT)).bearer_auth(&credential).json(&body);
        m.call(HEARTBEAT, req, &[200, 204]).await;
    }
}

/// Signs in over HTTP, with the console authenticator's code when asked: the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, email: &str, password: &str, seed: &str) -> Res<String> {
    let res =
        http.post(format!("{base}/api/auth/sign_in")).form(&[("email", email), ("password", password)]).send().await?;
    if res.status() != StatusCode::OK {
        return Err(format!("sign-in of {email}: HTTP {}", res.status()).into());
    }
    let cookie = testkit::session_cookie(&res).ok_or("the sign-in set no session cookie")?;
    if !testkit::console_sign_in::asks_for_code(&res) {
        return Ok(cookie);
    }
    let code = testkit::console_sign_in::code_at(seed, chrono::Utc::now());
    let res = http
        .post(format!("{base}/api/auth/sign_in_code"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[("code", code.as_str())])
        .send()
        .await?;
    if res.status() != StatusCode::OK {
        return Err(format!("the sign-in code of {email} was refused: HTTP {}", res.status()).into());
    }
    testkit::session_cookie(&res).ok_or_else(|| "the second step set no session cookie".into())
}

/// A console user: the 2FA tab, the login audit, and saving a server's login settings, in turn.
#[allow(clippy::too_many_arguments)]
async fn console_user(
    m: Arc<Metrics>,
    http: reqwest::Client,
    base: String,
    cookie: String,
    servers: Arc<Vec<(Uuid, String)>>,
    who: usize,
    per_sec: f64,
    end: Instant,
) {
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let post = |endpoint: &str| http.post(format!("{base}/api/{endpoint}")).header(reqwest::header::COOKIE, &cookie);
    let mut k = 0usize;
    loop {
        every.tick().await;
        if Instant::now() >= end {
            return;
        }
        match k % 3 {
            0 => {
                let search = if k.is_multiple_of(2) { String::new() } else { format!("soak-agent-00{}", k % 100) };
                m.call(LIST_2FA, post("two-factor/list").form(&crate::list_form(&search, "")), &[200]).await;
            }
            1 => {
                let form = [
                    ("query[server]", ""),
                    ("query[account]", ""),
                    ("query[result]", if k.is_multiple_of(2) { "" } else { "denied" }),
                    ("query[since]", ""),
                    ("query[until]", ""),
                    ("query[reason]", ""),
                    ("query[page]", "1"),
                    ("query[page_size]", "20"),
                ];
                m.call(LIST_AUDIT, post("logins/list").form(&form), &[200]).await;
            }
            _ => {
                // A simulated agent's server, never one the logins go through.
                let (id, _) = &servers[(k / 3 * 2 + who) % servers.len()];
                let networks = if (k / 3).is_multiple_of(2) { "192.0.2.0/24" } else { "" };
                let id = id.to_string();
                let form = [
                    ("server_id", id.as_str()),
                    ("fail_mode", "secure"),
                    ("exempt_accounts", ""),
                    ("exempt_networks", networks),
                ];
                m.call(SAVE, post("logins/settings/save").form(&form), &[200]).await;
            }
        }
        k += 1;
    }
}

/// `RssAnon`, `RssFile` and `RssShmem` of `/proc/<pid>/status` (the heap, mapped files such as
/// the binary, shared memory such as SQLite's WAL index), in MB.
pub(crate) fn rss_parts(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    ["RssAnon:", "RssFile:", "RssShmem:"]
        .iter()
        .map(|name| {
            let kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            format!("{} {:.1} MB", name.trim_start_matches("Rss").trim_end_matches(':').to_lowercase(), mb(kb))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Runs the soak on `backend` for `secs` seconds; whether every target was met.
pub async fn run(backend: Backend, admin_url: Option<&str>, secs: u64) -> Res<bool> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace directory")?;
    if !workspace.join(".tools/venv/bin/python").exists() {
        return Err("the SMTP sink needs .tools/venv (run scripts/setup.sh)".into());
    }
    let dir = crate::TempDir(std::env::temp_dir().join(format!("hostguard-soak-{}", Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0)?;
    let (database_url, tb) = match backend {
        Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.0.join("hostguard.db").display()), TestBackend::Sqlite),
        Backend::Postgres => (
            testkit::create_postgres_database(admin_url.ok_or("no PostgreSQL URL")?, "hg_soak").await?,
            TestBackend::Postgres,
        ),
    };
    let result = soak(backend, &database_url, tb, secs).await;
    if let (Backend::Postgres, Some(admin)) = (backend, admin_url) {
        if crate::keep() {
            println!("  (kept {database_url})");
        } else {
            crate::drop_postgres_database(admin, &database_url).await;
        }
    }
    result
}

async fn soak(backend: Backend, database_url: &str, tb: TestBackend, secs: u64) -> Res<bool> {
    let name = backend.name();
    let t = Instant::now();
    let s = setup(tb, database_url.to_owned())?;
    println!(
        "setup ({name}): {AGENTS} agents' servers, {LOGIN_SERVERS} login servers, {} console users in {:.1} s",
        s.admins.len(),
        t.elapsed().as_secs_f64()
    );
    let mut sink = testkit::SmtpSink::start().await;
    let sink_dir = sink.dir.path().to_path_buf();
    let console = ChildConsole::start_with(
        database_url,
        &[
            ("HOSTGUARD_SMTP_PORT", sink.port.to_string()),
            ("HOSTGUARD_SECRET_KEY", testkit::TEST_SECRET_KEY.to_owned()),
        ],
    )
    .await?;
    let (base, pid) = (console.base.clone(), console.pid());
    let db = domain::db::connect(database_url).await?;

    let total = secs as f64;
    let warm = (total / 10.0).min(60.0);
    let window = ((total - warm) / 2.0).min(60.0);
    let logins_per_sec = knob("HOSTGUARD_SOAK_LOGINS_PER_SEC", 5.0);
    let console_per_sec = knob("HOSTGUARD_SOAK_CONSOLE_PER_SEC", 4.0);
    let outage = ((total - warm) * 0.05).clamp(5.0, 30.0);
    let outages = [warm + (total - warm) * 0.3, warm + (total - warm) * 0.65];
    println!(
        "soak ({name}): {secs} s on {base} (warm-up {warm:.0} s): {AGENTS} agents long-polling and heartbeating, {logins_per_sec} logins/s through {LOGIN_SERVERS} agent daemons (1 in {WRONG_EVERY} with wrong codes), {} console users at {console_per_sec} calls/s, the SMTP server down for {outage:.0} s at {:.0} s and {:.0} s",
        s.admins.len(),
        outages[0],
        outages[1]
    );

    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let m = Arc::new(Metrics::new(start));
    let mail = Arc::new(Mutex::new(Mailbox::default()));
    let mut background = tokio::task::JoinSet::new();

    // The mailbox, read every 100 ms (until the checks are done).
    {
        let (mail, dir) = (Arc::clone(&mail), sink_dir.clone());
        background.spawn(async move {
            loop {
                lock(&mail).scan(&dir);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    // The agents: one client, a connection each (as 1,000 hosts would have).
    let agent_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(POLL_WAIT + 30))
        .pool_max_idle_per_host(2 * AGENTS)
        .build()?;
    let mut agents = tokio::task::JoinSet::new();
    for (i, (_, credential)) in s.agents.iter().enumerate() {
        let (m, http, base, credential) = (Arc::clone(&m), agent_http.clone(), base.clone(), credential.clone());
        let first = Duration::from_millis((i as u64 * HEARTBEAT_SECS * 1000) / AGENTS as u64);
        agents.spawn(heartbeat_loop(Arc::clone(&m), http.clone(), base.clone(), credential.clone(), first, end));
        agents.spawn(async move {
            // Spread over the first 5 s, as agents starting at once would not be.
            tokio::time::sleep(Duration::from_millis(i as u64 * 5)).await;
            poll_loop(m, http, base, credential, end).await
        });
    }

    // The real agent daemons.
    let mut daemons = vec![];
    for (id, server_name, credential) in &s.login_servers {
        daemons.push((crate::logins::Agent::start_for(&base, *id, credential).await?, server_name.clone()));
    }
    let sockets: Vec<(PathBuf, String)> = daemons.iter().map(|(a, n)| (a.socket.clone(), n.clone())).collect();

    // The console users.
    let console_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let servers = Arc::new(s.agents.clone());
    let mut users = tokio::task::JoinSet::new();
    for (who, (email, password, seed)) in s.admins.iter().enumerate() {
        let cookie = sign_in(&console_http, &base, email, password, seed).await?;
        users.spawn(console_user(
            Arc::clone(&m),
            console_http.clone(),
            base.clone(),
            cookie,
            Arc::clone(&servers),
            who,
            console_per_sec / s.admins.len() as f64,
            end,
        ));
    }

    // The SMTP server's two outages.
    let sink_task = tokio::spawn(async move {
        let mut log = vec![];
        for at in outages {
            tokio::time::sleep_until((start + Duration::from_secs_f64(at)).into()).await;
            sink.stop();
            let (down, down_at) = (Instant::now(), chrono::Utc::now());
            tokio::time::sleep(Duration::from_secs_f64(outage)).await;
            sink.restart().await;
            log.push((at, down.elapsed().as_secs_f64(), down_at, chrono::Utc::now()));
        }
        (sink, log)
    });

    // The console's RSS, every second, and what it is made of after the warm-up and at the end.
    let rss_task = tokio::spawn(async move {
        let (mut rss, mut parts) = (vec![], vec![]);
        while Instant::now() < end {
            rss.push((start.elapsed().as_secs_f64(), crate::rss_kb(pid).0));
            if parts.is_empty() && start.elapsed().as_secs_f64() >= warm {
                parts.push(rss_parts(pid));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        rss.push((start.elapsed().as_secs_f64(), crate::rss_kb(pid).0));
        parts.push(rss_parts(pid));
        (rss, parts)
    });

    // The logins, at a steady rate until the end.
    let rt = tokio::runtime::Handle::current();
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / logins_per_sec));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running = tokio::task::JoinSet::new();
    let (mut made, mut skipped, mut n) = (vec![], 0u64, 0u64);
    let mut next_report = start + Duration::from_secs(60);
    loop {
        every.tick().await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        while let Some(r) = running.try_join_next() {
            made.push(r?);
        }
        if now >= next_report {
            next_report += Duration::from_secs(60);
            println!(
                "  {:>5.0} s: {} logins ended, RSS {:.0} MB, {} answers other than expected, {} calls without an answer",
                start.elapsed().as_secs_f64(),
                made.len(),
                mb(crate::rss_kb(pid).0),
                lock(&m.unexpected).values().sum::<u64>(),
                lock(&m.errors).values().sum::<u64>()
            );
        }
        // Logins pile up only if the console or the agents stall: count, do not queue.
        if running.len() >= 64 {
            skipped += 1;
            continue;
        }
        let (socket, server_name) = sockets[(n % sockets.len() as u64) as usize].clone();
        let (rt, db, mail, m) = (rt.clone(), db.clone(), Arc::clone(&mail), Arc::clone(&m));
        running.spawn_blocking(move || login(n, socket, server_name, rt, db, mail, m));
        n += 1;
    }
    while let Some(r) = running.join_next().await {
        made.push(r?);
    }
    while users.join_next().await.is_some() {}
    agents.abort_all();
    let (rss, parts) = rss_task.await?;
    let (sink, outage_log) = sink_task.await?;
    let ran = start.elapsed().as_secs_f64();

    // The mail: wait for the outbox to empty, and the mailbox to hold what was sent.
    let drained = Instant::now();
    let messages = loop {
        let all = outbox::Entity::find().all(&db).await?;
        let pending = all.iter().filter(|o| o.status == OutboxStatus::Pending).count();
        let sent = all.iter().filter(|o| o.channel == Channel::Email && o.status == OutboxStatus::Sent).count() as u64;
        lock(&mail).scan(&sink_dir);
        let received: u64 = lock(&mail).received.values().sum();
        if (pending == 0 && received >= sent) || drained.elapsed() > DRAIN {
            break all;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let drain_secs = drained.elapsed().as_secs_f64();
    background.abort_all();
    let mut queued: HashMap<(String, String), u64> = HashMap::new();
    let (mut sent, mut failed, mut pending, mut retried, mut while_down) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for o in messages.iter().filter(|o| o.channel == Channel::Email) {
        *queued.entry((o.recipient.clone(), o.subject.clone())).or_default() += 1;
        match o.status {
            OutboxStatus::Sent => sent += 1,
            OutboxStatus::Failed => failed += 1,
            OutboxStatus::Pending => pending += 1,
            OutboxStatus::Held => {}
        }
        // `attempts` counts the successful one too.
        retried += u64::from(o.status == OutboxStatus::Sent && o.attempts > 1);
        while_down += u64::from(outage_log.iter().any(|(_, _, down, up)| o.created_at >= *down && o.created_at <= *up));
    }
    let (received_total, duplicates, lost, unexpected_mail, unreadable) = {
        let mb = lock(&mail);
        let received_total: u64 = mb.received.values().sum();
        let duplicates: u64 = mb.received.iter().map(|(k, n)| n.saturating_sub(*queued.get(k).unwrap_or(&0))).sum();
        let lost: u64 = queued.iter().map(|(k, n)| n.saturating_sub(*mb.received.get(k).unwrap_or(&0))).sum();
        let unexpected_mail = mb.received.keys().filter(|k| !queued.contains_key(*k)).count();
        (received_total, duplicates, lost, unexpected_mail, mb.unreadable)
    };
    let queued_total: u64 = queued.values().sum();

    // The login audit.
    let rows = server_login::Entity::find().filter(server_login::Column::TenantId.eq(s.tenant_id)).all(&db).await?;
    let by_account: HashMap<&str, &server_login::Model> = rows.iter().map(|r| (r.account.as_str(), r)).collect();
    let (mut allowed, mut denied, mut wrong_verdicts, mut in_audit, mut from_outbox) = (0, 0, 0, 0, 0);
    let mut shown = 0;
    for l in &made {
        let expected = if l.wrong { Verdict::Deny } else { Verdict::Allow };
        match l.verdict {
            Verdict::Allow => allowed += 1,
            Verdict::Deny => denied += 1,
            _ => {}
        }
        from_outbox += usize::from(l.source == Some(Source::Outbox));
        if l.verdict != expected {
            wrong_verdicts += 1;
            if shown < 5 {
                shown += 1;
                println!(
                    "  login {} ({}): {:?}, expected {expected:?}: {}",
                    l.account,
                    if l.wrong { "wrong code" } else { "right code" },
                    l.verdict,
                    l.said
                );
            }
        }
        let want = if l.wrong { proto::login::LoginResult::Denied } else { proto::login::LoginResult::Allowed };
        in_audit += usize::from(by_account.get(l.account.as_str()).is_some_and(|r| r.result == Some(want)));
    }

    // The report.
    let mut met = true;
    let mut line = |ok: bool, text: String| {
        met &= ok;
        println!("{text} {}", verdict(ok));
    };
    println!("== soak ({name}), {ran:.0} s ==");
    let rss_at = |at: f64| rss.iter().find(|(t, _)| *t >= at).or(rss.last()).map_or(0, |r| r.1);
    let (rss_warm, rss_end) = (rss_at(warm), rss.last().map_or(0, |r| r.1));
    let rss_max = rss.iter().filter(|(t, _)| *t >= warm).map(|r| r.1).max().unwrap_or(0);
    let growth = (rss_end as f64 - rss_warm as f64) / (rss_warm.max(1) as f64) * 100.0;
    line(
        rss_end as f64 <= rss_warm as f64 * 1.10,
        format!(
            "console RSS: {:.1} MB after the warm-up ({warm:.0} s), {:.1} MB at the end ({growth:+.1} %), at most {:.1} MB in between (target: end within 10 % of after the warm-up)",
            mb(rss_warm),
            mb(rss_end),
            mb(rss_max)
        ),
    );
    let two_thirds = warm + (total - warm) * 2.0 / 3.0;
    println!(
        "  RSS at {:.0} s (two thirds of the way): {:.1} MB; growth in the last third {:+.1} MB, in the two before {:+.1} MB (a cache filling slows down, a leak does not)",
        two_thirds,
        mb(rss_at(two_thirds)),
        mb(rss_end) - mb(rss_at(two_thirds)),
        mb(rss_at(two_thirds)) - mb(rss_warm)
    );
    println!(
        "  made of: after the warm-up {}; at the end {}",
        parts.first().map_or("-", String::as_str),
        parts.last().map_or("-", String::as_str)
    );
    if crate::verbose() {
        // gdb stops the console to call into it (once a panic in parking_lot followed): on request only.
        println!("  at the end, after malloc_trim(0) (gdb): {:.1} MB", mb(crate::trimmed_rss(pid)));
    }
    let fives: u64 = lock(&m.unexpected).iter().filter(|((_, s), _)| *s >= 500).map(|(_, n)| n).sum();
    let calls: u64 = lock(&m.calls).values().sum();
    line(fives == 0, format!("5xx answers: {fives} of {calls} calls (target 0)"));
    let others: BTreeMap<_, _> =
        lock(&m.unexpected).iter().filter(|((_, s), _)| *s < 500).map(|(k, n)| (*k, *n)).collect();
    let errors = lock(&m.errors).clone();
    let no_answer: u64 = errors.values().sum();
    line(
        others.is_empty() && no_answer == 0,
        format!(
            "other unexpected answers: {} {others:?}; calls without an answer: {no_answer} (target 0)",
            others.values().sum::<u64>()
        ),
    );
    for (e, count) in errors.iter().take(5) {
        println!("  {count} × {e}");
    }
    let (first, last) = ((warm, warm + window), (total - window, total));
    println!(
        "p99 per call kind, first {window:.0} s after the warm-up ({:.0}–{:.0} s) vs the last {window:.0} s ({:.0}–{:.0} s) (target: last ≤ 2 × first):",
        first.0, first.1, last.0, last.1
    );
    for kind in KINDS {
        match (m.p99(kind, first.0, first.1), m.p99(kind, last.0, last.1)) {
            (Some((a, a50, na)), Some((b, b50, nb))) => line(
                b <= 2.0 * a,
                format!(
                    "  {kind}: p99 {a:.1} ms ({na} calls) → {b:.1} ms ({nb} calls), ×{:.2} (p50 {a50:.1} → {b50:.1} ms)",
                    b / a.max(1e-9)
                ),
            ),
            // Each poll is held 25 s and counted when it starts: a short window may see none.
            _ if kind == POLL && window < 2.0 * POLL_WAIT as f64 => {
                println!("  {kind}: n/a (a window shorter than two polls)")
            }
            _ => line(false, format!("  {kind}: no calls in one of the windows")),
        }
    }
    let calls_by_kind = lock(&m.calls).clone();
    println!("  calls: {calls_by_kind:?}");
    println!(
        "SMTP server: stopped {} times ({}), restarted after each",
        outage_log.len(),
        outage_log.iter().map(|(at, d, _, _)| format!("at {at:.0} s for {d:.0} s")).collect::<Vec<_>>().join(", ")
    );
    line(
        lost == 0 && duplicates == 0 && failed == 0 && pending == 0 && unexpected_mail == 0 && unreadable == 0,
        format!(
            "mail: {queued_total} messages queued, {sent} sent ({while_down} queued while the server was down, {retried} sent after a failed attempt), {received_total} received: {lost} lost, {duplicates} duplicates, {failed} given up, {pending} still pending, {unexpected_mail} not from the outbox, {unreadable} unreadable (drained in {drain_secs:.0} s) (target: every message exactly once)"
        ),
    );
    let right = made.iter().filter(|l| !l.wrong).count();
    line(
        wrong_verdicts == 0 && skipped == 0,
        format!(
            "logins: {} made ({right} with the right code, {} with wrong ones), {allowed} allowed, {denied} denied, {wrong_verdicts} ended otherwise than expected, {skipped} skipped (64 already running); codes read from the mail {} times, from the outbox while the mail was down {from_outbox} times (target: right → allowed, wrong → denied)",
            made.len(),
            made.len() - right,
            made.iter().filter(|l| l.source == Some(Source::Mail)).count(),
        ),
    );
    line(
        in_audit == made.len() && rows.len() == made.len(),
        format!(
            "login audit: {in_audit} of {} logins have their row with the result they ended with; {} rows in all (target: every login, with its result)",
            made.len(),
            rows.len()
        ),
    );
    let log =
        std::env::temp_dir().join(format!("hostguard-bench-server-{}.log", base.rsplit(':').next().unwrap_or("")));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let bad = text.lines().filter(|l| l.contains("ERROR") || l.contains("panicked")).count();
    println!("console log {}: {bad} error lines", log.display());
    drop(daemons);
    drop(console);
    drop(sink);
    Ok(met)
}
