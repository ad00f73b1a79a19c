//! `bench`: the numbers of issue 4, measured on the real console.
//!
//! For SQLite (a temporary file) and, when `HOSTGUARD_BENCH_POSTGRES_URL` or
//! `HOSTGUARD_TEST_POSTGRES_URL` names a PostgreSQL cluster, for a fresh database in it:
//! 1. a tenant with 100,000 servers: the 2FA tab's list (`POST /api/two-factor/list`) and the
//!    HSS API's host list (`GET /v5/{project_id}/setting/two-factor-login/hosts`) over HTTP,
//!    p50 and p95 of 200 calls after 20 to warm up;
//! 2. enabling 10,000 servers in one call (`two-factor/save`), and how fast the console's own
//!    rollout worker hands the 10,000 jobs over once the apply delay has passed;
//! 3. 10,000 agents long-polling (`GET /agent/v1/config?wait=30`) one console started as a child
//!    process (`server` next to this binary): its RSS and CPU while they wait.
//! 4. 10,000 agents on the config stream (one WebSocket each), and as many as the open-file limit
//!    lets one console hold (issue 18's "agents one console holds", 100,000 where the limit
//!    allows; their sockets in helper processes, `bench --hold-streams`): RSS and CPU (held.rs).
//!
//! Run it with `./scripts/bench.sh`, which starts a throwaway PostgreSQL, raises the open-file
//! limit and builds in release mode. Knobs: `HOSTGUARD_BENCH_ONLY=SQLite|PostgreSQL`,
//! `HOSTGUARD_BENCH_KEEP=1` (keep the databases), `HOSTGUARD_BENCH_VERBOSE=1` (the worker's
//! progress, and where the long polls' memory goes), `HOSTGUARD_BENCH_DIRECT=1` (time
//! `run_due_jobs` batch by batch from the bench instead of through the worker).

mod held;
mod logins;
mod push;
mod soak;

use ::server::config::Config;
use domain::{
    audit::Actor,
    entities::{rollout_job, server, tenant, user},
    lockout::LockoutPolicy,
    ManualClock,
};
use leptos::prelude::LeptosOptions;
use reqwest::{header, redirect::Policy, StatusCode};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const SERVERS: usize = 100_000;
const ENABLE: usize = 10_000;
const AGENTS: usize = 10_000;
const WARMUP: usize = 20;
const SAMPLES: usize = 200;
const IDLE_SECS: u64 = 10;
const ADMIN: (&str, &str) = ("admin@acme.example", "acme-admin-demo-2026");

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
    /// p95 target for the list, in ms.
    fn list_target_ms(self) -> f64 {
        match self {
            Backend::Sqlite => 20.0,
            Backend::Postgres => 30.0,
        }
    }
}

const USAGE: &str = "\
bench: the 2FA list with 100,000 servers, enabling 10,000 in one call, and 10,000 long polls;
the login numbers (--logins only) and push at the login prompt (--push only); --list: the list only,
on SQLite and (with HOSTGUARD_BENCH_POSTGRES_URL or HOSTGUARD_TEST_POSTGRES_URL) PostgreSQL.
Run it with ./scripts/bench.sh, which builds it and the server binary next to it.
Knobs: HOSTGUARD_BENCH_ONLY=SQLite|PostgreSQL, HOSTGUARD_BENCH_KEEP=1, HOSTGUARD_BENCH_VERBOSE=1,
HOSTGUARD_BENCH_DIRECT=1, HOSTGUARD_BENCH_AGENTS_ONLY=1 (only the waiting agents; =streams: only the config stream),
HOSTGUARD_BENCH_WRAP=\"heaptrack -o FILE\" (the child consoles under a profiler).
bench --hold-streams ADDR: a helper of the agents-one-console-holds row (credentials on stdin).
bench --soak [SECONDS]: the soak (default 1800 s; ./scripts/soak.sh), see bench/src/soak.rs.";

#[tokio::main]
async fn main() {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let started = Instant::now();
    raise_fd_limit();
    // A helper process of the "agents one console holds" row (see held.rs).
    if let [flag, addr] = &std::env::args().skip(1).collect::<Vec<_>>()[..] {
        if flag == "--hold-streams" {
            let failed = held::helper(addr).await.is_err();
            std::process::exit(i32::from(failed));
        }
    }
    let mut backends = vec![(Backend::Sqlite, None)];
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match var("HOSTGUARD_BENCH_POSTGRES_URL").or_else(|| var("HOSTGUARD_TEST_POSTGRES_URL")) {
        Some(url) => backends.push((Backend::Postgres, Some(url))),
        _ => println!(
            "PostgreSQL: skipped (set HOSTGUARD_BENCH_POSTGRES_URL, or run ./scripts/bench.sh, which starts a throwaway cluster)"
        ),
    }
    let only: Option<String> = std::env::var("HOSTGUARD_BENCH_ONLY").ok();
    // `--logins`: only the login numbers (code verification, the login path).
    let logins_only = std::env::args().skip(1).any(|a| a == "--logins");
    // `--push`: only the push numbers (approve → PAM, 1,000 logins waiting on a push).
    let push_only = std::env::args().skip(1).any(|a| a == "--push");
    let agents_only = std::env::var("HOSTGUARD_BENCH_AGENTS_ONLY").is_ok();
    // `--soak [SECONDS]`: the soak instead of the numbers.
    let soak = soak::seconds(std::env::args().skip(1));
    // `--list`: only the list numbers (and the enable they are measured around), no agents.
    let list_only = std::env::args().skip(1).any(|a| a == "--list");
    let mut failed = false;
    for (backend, admin_url) in backends {
        if only.as_deref().is_some_and(|o| !o.eq_ignore_ascii_case(backend.name())) {
            continue;
        }
        println!("== {} ==", backend.name());
        if let (Backend::Postgres, Some(url)) = (backend, &admin_url) {
            match postgres_durability(url).await {
                Ok(line) => println!("{line}"),
                Err(e) => println!("PostgreSQL: cannot read its settings: {e}"),
            }
        }
        if let Some(secs) = soak {
            failed |= soak::run(backend, admin_url.as_deref(), secs).await.map_or_else(
                |e| {
                    println!("{}: soak failed: {e}", backend.name());
                    true
                },
                |met| !met,
            );
            continue;
        }
        if !push_only && !agents_only && !list_only {
            if let Err(e) = logins::run(backend).await {
                println!("{}: login bench failed: {e}", backend.name());
                failed = true;
            }
        }
        if !logins_only && !agents_only && !list_only {
            if let Err(e) = push::run(backend).await {
                println!("{}: push bench failed: {e}", backend.name());
                failed = true;
            }
        }
        if logins_only || push_only {
            continue;
        }
        if let Err(e) = run(backend, admin_url.as_deref(), list_only).await {
            println!("{}: bench failed: {e}", backend.name());
            failed = true;
        }
    }
    println!("bench took {:.0} s", started.elapsed().as_secs_f64());
    // The consoles started in this process keep background workers; leave without waiting for them.
    std::process::exit(if failed { 1 } else { 0 });
}

fn raise_fd_limit() {
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && (lim.rlim_cur as usize) < AGENTS + 1000 {
            println!(
                "warning: only {} open files allowed; the long-poll bench needs about {} (ulimit -n 65536)",
                lim.rlim_cur,
                AGENTS + 1000
            );
        }
    }
}

struct Console {
    base: String,
    database_url: String,
    ctx: domain::Ctx,
    clock: ManualClock,
    http: reqwest::Client,
    /// The admin's session, signed in once: the console's clock stands still, so a second
    /// sign-in would present the same authenticator code, which is refused as a replay.
    session: tokio::sync::OnceCell<String>,
    _dir: TempDir,
}

/// A directory removed at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if keep() {
            println!("  (kept {})", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `HOSTGUARD_BENCH_KEEP=1` keeps the databases, to look at them afterwards.
fn keep() -> bool {
    std::env::var("HOSTGUARD_BENCH_KEEP").is_ok_and(|v| v == "1")
}

/// `HOSTGUARD_BENCH_DIRECT=1` runs the jobs by calling `run_due_jobs` from the bench (the
/// console's worker then looks only once a minute), timing each batch.
fn direct() -> bool {
    std::env::var("HOSTGUARD_BENCH_DIRECT").is_ok_and(|v| v == "1")
}

/// `HOSTGUARD_BENCH_VERBOSE=1` prints the rollout worker's progress.
fn verbose() -> bool {
    std::env::var("HOSTGUARD_BENCH_VERBOSE").is_ok_and(|v| v == "1")
}

/// Whether the PostgreSQL cluster flushes its commits: the verify and login numbers are only
/// what users get on a cluster with `fsync` and `full_page_writes` on (`scripts/bench.sh`
/// starts one; the tests' cluster has both off). The console's own sessions always ask for
/// `synchronous_commit=on`.
async fn postgres_durability(admin: &str) -> Res<String> {
    let db = Database::connect(admin).await?;
    let settings: Vec<String> = domain::db::postgres_durability(&db)
        .await?
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    db.close().await.ok();
    // The console's sessions set synchronous_commit themselves; the cluster's fsync and
    // full_page_writes they cannot.
    let durable = ["fsync=on", "full_page_writes=on"].iter().all(|on| settings.iter().any(|s| s == on));
    Ok(format!(
        "PostgreSQL cluster: {} ({})",
        settings.join(", "),
        match durable {
            true => "commits reach the disk; the console's sessions run with synchronous_commit=on",
            false => "NOT DURABLE: commits skip the disk or risk torn pages, so its verify and login numbers are not what users get",
        }
    ))
}

async fn drop_postgres_database(admin: &str, url: &str) {
    let Some((_, name)) = url.rsplit_once('/') else { return };
    if let Ok(db) = Database::connect(admin).await {
        let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        db.close().await.ok();
    }
}

async fn start_console(backend: Backend, admin_url: Option<&str>) -> Res<Console> {
    let dir = TempDir(std::env::temp_dir().join(format!("hostguard-bench-{}", Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0)?;
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.0.join("hostguard.db").display()),
        Backend::Postgres => {
            testkit::create_postgres_database(admin_url.ok_or("no PostgreSQL URL")?, "hg_bench").await?
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let vars: Vec<(String, String)> = [
        ("HOSTGUARD_DATABASE_URL", database_url.as_str()),
        ("HOSTGUARD_LISTEN", &addr.to_string()),
        ("HOSTGUARD_DEMO", "true"),
        ("HOSTGUARD_SMTP_HOST", "127.0.0.1"),
        ("HOSTGUARD_SMTP_PORT", "9"),
        ("HOSTGUARD_DELIVERY_POLL_MS", if direct() { "60000" } else { "50" }),
        // Access keys' secrets are encrypted with it (any fixed key does for a bench).
        ("HOSTGUARD_SECRET_KEY", "62656e6368206b6579206f6620746865206275696c7420636f6e736f6c652e2e"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::load(&vars)?;
    let leptos_options = LeptosOptions::builder().output_name("hostguard").site_addr(addr).build();
    let clock = ManualClock::new(chrono::Utc::now());
    let console = ::server::build(&config, leptos_options, Arc::new(clock.clone()), LockoutPolicy::default()).await?;
    let ctx = console.ctx.clone();
    let (router, limits) = (console.router, config.limits);
    tokio::spawn(async move {
        let _ = ::server::serve::serve(listener, router, limits, std::future::pending::<()>()).await;
    });
    Ok(Console {
        base: format!("http://{addr}"),
        database_url,
        ctx,
        clock,
        http: reqwest::Client::builder().redirect(Policy::none()).timeout(Duration::from_secs(120)).build()?,
        session: tokio::sync::OnceCell::new(),
        _dir: dir,
    })
}

impl Console {
    async fn call(&self, endpoint: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Res<reqwest::Response> {
        let mut req = self.http.post(format!("{}/api/{endpoint}", self.base)).form(form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        Ok(req.send().await?)
    }

    async fn sign_in(&self) -> Res<String> {
        self.session.get_or_try_init(|| self.sign_in_once()).await.cloned()
    }

    async fn sign_in_once(&self) -> Res<String> {
        let res = self.call("auth/sign_in", &[("email", ADMIN.0), ("password", ADMIN.1)], None).await?;
        if res.status() != StatusCode::OK {
            return Err(format!("sign-in failed: {}", res.status()).into());
        }
        let cookie = testkit::session_cookie(&res).ok_or("sign-in set no session cookie")?;
        if !testkit::console_sign_in::asks_for_code(&res) {
            return Ok(cookie);
        }
        // The demo admin's console authenticator, whose seed the demo publishes.
        let seed = domain::demo::console_seed(ADMIN.0).ok_or("the demo admin has no published authenticator seed")?;
        let code = testkit::console_sign_in::code_at(seed, chrono::Utc::now());
        let res = self.call("auth/sign_in_code", &[("code", &code)], Some(&cookie)).await?;
        if res.status() != StatusCode::OK {
            return Err(format!("the sign-in code was refused: {}", res.status()).into());
        }
        testkit::session_cookie(&res).ok_or_else(|| "the second step set no session cookie".into())
    }
}

/// The fleet: 100,000 servers of Acme; the first 10,000 Linux ones are the ones to enable, and
/// 10,000 others have agent credentials for the long polls.
struct Fleet {
    enable: Vec<Uuid>,
    agents: Vec<String>,
}

async fn insert_fleet(c: &Console) -> Res<(Fleet, Duration)> {
    let acme = tenant::Entity::find()
        .filter(tenant::Column::Name.eq("Acme Retail"))
        .one(&c.ctx.db)
        .await?
        .ok_or("the demo tenant Acme Retail is missing")?;
    let now = chrono::Utc::now();
    let regions = domain::servers::REGIONS;
    // Credentials for the waiting agents, and for as many as one console here can hold.
    let credentials = AGENTS.max(held::agents()).min(SERVERS);
    let mut fleet = Fleet { enable: Vec::with_capacity(ENABLE), agents: Vec::with_capacity(credentials) };
    let started = Instant::now();
    let txn = c.ctx.db.begin().await?;
    let mut rows = Vec::with_capacity(1000);
    for i in 1..=SERVERS {
        let id = Uuid::new_v4();
        let windows = i % 4 == 0;
        let (role, os_name, openssh) = match i % 4 {
            0 => ("rdp", "Windows Server 2022 Datacenter", None),
            1 => ("web", "Ubuntu 22.04 LTS", Some("OpenSSH_8.9p1")),
            2 => ("app", "Huawei Cloud EulerOS 2.0", Some("OpenSSH_8.8p1")),
            _ => ("db", "Debian GNU/Linux 12 (bookworm)", Some("OpenSSH_9.2p1")),
        };
        let linux_fact = |v: bool| if windows { None } else { Some(v) };
        let ip = format!("10.{}.{}.{}", 16 + i / 65536, i / 256 % 256, i % 256);
        // From the 50,001st server on (the first AGENTS are the waiting agents' ones), wrapping.
        let credential_hash = if (i + SERVERS - 50_001) % SERVERS < credentials {
            let (secret, _) = domain::tokens::new_token();
            let credential = format!("hga_{}_{secret}", id.simple());
            let hash = domain::tokens::hash_token(&credential);
            fleet.agents.push(credential);
            Some(hash)
        } else {
            None
        };
        if !windows && fleet.enable.len() < ENABLE {
            fleet.enable.push(id);
        }
        rows.push(server::ActiveModel {
            id: Set(id),
            tenant_id: Set(acme.id),
            name: Set(format!("acme-{role}-{i:05}")),
            ip: Set(ip.clone()),
            ips: Set(ip),
            os_type: Set(if windows { proto::OsType::Windows } else { proto::OsType::Linux }),
            os_name: Set(os_name.into()),
            region: Set(regions[i % regions.len()].0.into()),
            protection_enabled: Set(true),
            last_seen_at: Set(Some(now)),
            created_at: Set(now),
            openssh_version: Set(openssh.map(str::to_owned)),
            sshd_use_pam: Set(linux_fact(true)),
            sshd_kbd_interactive: Set(linux_fact(true)),
            sshd_permit_empty_passwords: Set(linux_fact(false)),
            selinux: Set((!windows).then_some(proto::agent::SelinuxMode::Disabled)),
            must_change_password_accounts: Set(String::new()),
            conflicting_software: Set(String::new()),
            agent_credential_hash: Set(credential_hash),
            agent_version: Set(Some("0.1.0".into())),
            facts_at: Set(Some(now)),
            sshd_match_overrides: Set(String::new()),
            sshd_drop_in: Set(None),
            pam_stack: Set(None),
            sshd_match_overrides_more: Set(0),
        });
        if rows.len() == 1000 {
            server::Entity::insert_many(std::mem::take(&mut rows)).exec_without_returning(&txn).await?;
        }
    }
    if !rows.is_empty() {
        server::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    let took = started.elapsed();
    // Fresh statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would gather;
    // on PostgreSQL also the visibility map autovacuum sets after a bulk insert (it did about
    // 10 s after this one), so that the list's cases don't depend on whether it came yet.
    let analyze = match c.ctx.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    c.ctx.db.execute_unprepared(analyze).await?;
    Ok((fleet, took))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// p50 and p95 in ms of `SAMPLES` sequential calls after `WARMUP`, and the last body.
async fn latencies<F, Fut>(mut call: F) -> Res<(f64, f64, String)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<reqwest::Response>>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    let mut body = String::new();
    for i in 0..WARMUP + SAMPLES {
        let t = Instant::now();
        let res = call().await?;
        let status = res.status();
        body = res.text().await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != StatusCode::OK {
            return Err(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>()).into());
        }
        if i >= WARMUP {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.95), body))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

/// The 2FA tab's first page of 10, with a search text and a status filter.
fn list_form<'a>(search: &'a str, status: &'a str) -> [(&'static str, &'a str); 8] {
    [
        ("query[search]", search),
        ("query[status]", status),
        ("query[os_type]", ""),
        ("query[method]", ""),
        ("query[sort]", ""),
        ("query[region]", ""),
        ("query[page]", "1"),
        ("query[page_size]", "10"),
    ]
}

async fn bench_list(c: &Console, backend: Backend) -> Res<()> {
    let cookie = c.sign_in().await?;
    let target = backend.list_target_ms();
    let searches = [
        ("no filter", ""),
        ("name filter \"web-0421\"", "web-0421"),
        ("broad name filter \"web\"", "web"),
        ("name filter matching every server \"acme\"", "acme"),
    ];
    for (label, search) in searches {
        let form = list_form(search, "");
        let (p50, p95, body) = latencies(|| c.call("two-factor/list", &form, Some(&cookie))).await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let total = v["total"].as_u64().unwrap_or(0);
        println!(
            "list 100k servers ({}), 2FA tab, {label}: p50 {p50:.1} ms, p95 {p95:.1} ms, {total} matching (target p95 < {target:.0} ms) {}",
            backend.name(),
            verdict(p95 < target)
        );
    }
    // The HSS API's host list (`Authorization: Bearer <AK>.<SK>`, a key of Acme's admin).
    let acme = tenant::Entity::find()
        .filter(tenant::Column::Name.eq("Acme Retail"))
        .one(&c.ctx.db)
        .await?
        .ok_or("no Acme tenant in the demo data")?;
    let admin =
        user::Entity::find().filter(user::Column::Email.eq(ADMIN.0)).one(&c.ctx.db).await?.ok_or("no Acme admin")?;
    let caller = domain::Caller {
        user_id: admin.id,
        role: domain::Role::TenantAdmin,
        tenant_id: Some(acme.id),
        email: admin.email.clone(),
    };
    let key = domain::access_keys::create(&c.ctx, &caller, &Actor::new(ADMIN.0, "127.0.0.1"), "bench").await?;
    let bearer = format!("Bearer {}.{}", key.key.access_key, secrecy::ExposeSecret::expose_secret(&key.secret));
    let queries = [
        ("no filter", ""),
        ("host_name \"web-0421\"", "&host_name=web-0421"),
        ("broad host_name \"web\"", "&host_name=web"),
        ("host_name matching every server \"acme\"", "&host_name=acme"),
    ];
    for (label, query) in queries {
        let url = format!("{}/v5/{}/setting/two-factor-login/hosts?limit=10&offset=0{query}", c.base, acme.project_id);
        let (p50, p95, body) =
            latencies(|| async { Ok(c.http.get(&url).header(header::AUTHORIZATION, &bearer).send().await?) }).await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let total = v["total_num"].as_u64().unwrap_or(0);
        println!(
            "list 100k servers ({}), HSS API, {label}: p50 {p50:.1} ms, p95 {p95:.1} ms, {total} matching (target p95 < {target:.0} ms) {}",
            backend.name(),
            verdict(p95 < target)
        );
    }
    Ok(())
}

async fn bench_enable(c: &Console, backend: Backend, fleet: &Fleet) -> Res<()> {
    let cookie = c.sign_in().await?;
    let ids: Vec<String> = fleet.enable.iter().map(Uuid::to_string).collect();
    let mut form: Vec<(&str, &str)> = ids.iter().map(|id| ("change[server_ids][]", id.as_str())).collect();
    form.extend([("change[action]", "enable"), ("change[method]", "code")]);
    let started = Instant::now();
    let res = c.call("two-factor/save", &form, Some(&cookie)).await?;
    let took = started.elapsed();
    let status = res.status();
    let body = res.text().await?;
    if status != StatusCode::OK {
        return Err(format!("save: HTTP {status}: {}", body.chars().take(300).collect::<String>()).into());
    }
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let changed = v["changed"].as_u64().unwrap_or(0);
    println!(
        "enable {ENABLE} servers in one call ({}), HTTP two-factor/save: {:.0} ms, {changed} changed (target < 1000 ms) {}",
        backend.name(),
        took.as_secs_f64() * 1000.0,
        verdict(took < Duration::from_secs(1) && changed == ENABLE as u64)
    );

    // The jobs fall due; the console's own rollout worker (every 50 ms, 1000 a lease) runs them.
    let done =
        || async { rollout_job::Entity::find().filter(rollout_job::Column::Status.eq("done")).count(&c.ctx.db).await };
    let before = done().await?;
    c.clock.advance(c.ctx.rollout.apply_delay + chrono::Duration::seconds(1));
    let started = Instant::now();
    if direct() {
        loop {
            let t = Instant::now();
            let n = domain::two_factor::run_due_jobs(&c.ctx, "bench", 1000).await?.len();
            println!("  run_due_jobs: {n} in {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
            if n == 0 {
                break;
            }
        }
    }
    let mut first: Option<Instant> = None;
    let mut last = 0;
    loop {
        let t = Instant::now();
        let n = done().await? - before;
        if verbose() && t.elapsed() > Duration::from_millis(50) {
            println!("  counting took {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
        if verbose() && n != last {
            println!("  {:>6.0} ms: {n} done", started.elapsed().as_secs_f64() * 1000.0);
            last = n;
        }
        if n > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if n >= changed {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("only {n} of {changed} jobs ran in 120 s").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed().as_secs_f64();
    let rate = changed as f64 / total;
    let since_first = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(total);
    println!(
        "rollout worker ({}): {changed} jobs handed over in {:.2} s from the clock passing the delay = {rate:.0} jobs/s ({:.0} jobs/s from the first one done) (target >= 5000/s) {}",
        backend.name(),
        total,
        changed as f64 / since_first.max(1e-6),
        verdict(rate >= 5000.0)
    );
    Ok(())
}

/// `/proc/<pid>/status` VmRSS and VmHWM, in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based), so 11 and 12 here.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// RSS (kB) after glibc's `malloc_trim(0)` ran in `pid` (by gdb, when installed): what the
/// allocator holds on to versus what is in use.
fn trimmed_rss(pid: u32) -> u64 {
    let _ = std::process::Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-ex", "call (int) malloc_trim(0)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    rss_kb(pid).0
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_binary() -> Res<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("server");
    if !path.exists() {
        return Err(format!("{} is missing: build it with `cargo build -p server --bins`", path.display()).into());
    }
    Ok(path)
}

/// A console started as a child process (`server` next to this binary) on an existing
/// database, so that its memory and threads are measured alone. Killed when dropped.
struct ChildConsole {
    base: String,
    child: Child,
}

impl ChildConsole {
    async fn start(database_url: &str) -> Res<ChildConsole> {
        Self::start_with(database_url, &[]).await
    }

    /// [`ChildConsole::start`] with more `HOSTGUARD_*` settings (they win over the defaults).
    async fn start_with(database_url: &str, env: &[(&str, String)]) -> Res<ChildConsole> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace directory")?.to_path_buf();
        let log_path = std::env::temp_dir().join(format!("hostguard-bench-server-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        // HOSTGUARD_BENCH_WRAP="heaptrack -o /tmp/console": the console under a profiler (its
        // RSS is then the wrapper's; read the profiler's own figures). Killing the wrapper at
        // the end leaves the console itself running: stop it by hand after reading the profile.
        let wrap: Vec<String> =
            std::env::var("HOSTGUARD_BENCH_WRAP").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut c = std::process::Command::new(program);
                c.args(args).arg(server_binary()?);
                c
            }
            None => std::process::Command::new(server_binary()?),
        };
        let child = command
            .current_dir(&workspace)
            .env("HOSTGUARD_DATABASE_URL", database_url)
            .env("HOSTGUARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOSTGUARD_DEMO", "false")
            .env("HOSTGUARD_SMTP_HOST", "127.0.0.1")
            .env("HOSTGUARD_SMTP_PORT", "9")
            .env("RUST_LOG", "warn")
            .env("LEPTOS_OUTPUT_NAME", "hostguard")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let child = Child(child);
        let probe = reqwest::Client::new();
        let up = Instant::now();
        loop {
            if probe.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if up.elapsed() > Duration::from_secs(60) {
                return Err(format!("the server child did not start; see {}", log_path.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(ChildConsole { base, child })
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }
}

/// A fresh child console about to be given waiting agents: its address (`host:port`) and pid,
/// its RSS (kB) and open files before them, and when they began to connect.
struct Baseline {
    console: ChildConsole,
    addr: String,
    pid: u32,
    rss_before: u64,
    fds_before: usize,
    opened: Instant,
}

impl Baseline {
    /// Starts the console and reads its baseline once it has settled (a second).
    async fn start(database_url: &str) -> Res<Baseline> {
        let console = ChildConsole::start(database_url).await?;
        let (addr, pid) = (console.base.trim_start_matches("http://").to_owned(), console.pid());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss_before, _) = rss_kb(pid);
        let fds_before = open_fds(pid);
        Ok(Baseline { console, addr, pid, rss_before, fds_before, opened: Instant::now() })
    }
}

async fn bench_long_polls(c: &Console, backend: Backend, fleet: &Fleet) -> Res<()> {
    let console = ChildConsole::start(&c.database_url).await?;
    let (base, pid) = (console.base.clone(), console.pid());
    let probe = reqwest::Client::new();
    // One short poll proves the credentials work.
    let res =
        probe.get(format!("{base}{}", proto::agent::paths::config(0, 0))).bearer_auth(&fleet.agents[0]).send().await?;
    if res.status() != StatusCode::NO_CONTENT {
        return Err(format!("a short poll answered {} instead of 204", res.status()).into());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    if verbose() {
        // What a connection costs without a request in flight: 10,000 idle keep-alive
        // connections that each had one /healthz answered.
        let (rss0, _) = rss_kb(pid);
        let mut idle = Vec::with_capacity(AGENTS);
        for _ in 0..AGENTS {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n").await?;
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await?;
            idle.push(s);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss1, _) = rss_kb(pid);
        println!(
            "  {AGENTS} idle keep-alive connections: RSS {:.0} MB -> {:.0} MB ({:.1} kB each); after malloc_trim(0) {:.0} MB",
            rss0 as f64 / 1024.0,
            rss1 as f64 / 1024.0,
            (rss1 as f64 - rss0 as f64) / AGENTS as f64,
            trimmed_rss(pid) as f64 / 1024.0
        );
        drop(idle);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ctx = &c.ctx;
        let sizes = (
            std::mem::size_of_val(&::server::long_poll::wait_for_assignment(
                ctx,
                &Default::default(),
                Uuid::nil(),
                0,
                Duration::ZERO,
            )),
            std::mem::size_of_val(&domain::agents::authenticate(ctx, "hga_x")),
            std::mem::size_of_val(&domain::agents::assignment(ctx, Uuid::nil(), 0)),
        );
        println!(
            "  future sizes: wait_for_assignment {} B, authenticate {} B, assignment {} B",
            sizes.0, sizes.1, sizes.2
        );
    }
    let (rss_before, _) = rss_kb(pid);
    let fds_before = open_fds(pid);

    // 10,000 long polls at once, over several clients (each opens its own connections).
    let clients = (0..8)
        .map(|_| reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(0).build())
        .collect::<Result<Vec<_>, _>>()?;
    let opened = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, credential) in fleet.agents[..AGENTS].iter().enumerate() {
        let client = clients[i % clients.len()].clone();
        let url = format!("{base}{}", proto::agent::paths::config(0, 30));
        let credential = credential.clone();
        tasks.spawn(async move { client.get(url).bearer_auth(credential).send().await.map(|r| r.status()) });
    }
    // Wait until the child holds a connection for each.
    loop {
        let fds = open_fds(pid);
        if fds >= fds_before + AGENTS {
            break;
        }
        if opened.elapsed() > Duration::from_secs(15) {
            println!("  (only {} connections open after 15 s)", fds.saturating_sub(fds_before));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_secs = opened.elapsed().as_secs_f64();
    // Let authentication and the first look at the assignment finish before measuring idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let early = tasks.len();
    let (cpu_pct, peak_rss, rss, hwm) = idle_figures(pid).await;
    let idle = IDLE_SECS as f64;
    let waiting = tasks.len();
    let finished_early = AGENTS - waiting;
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "{AGENTS} agents long-polling ({}), server process: RSS {:.0} MB while they wait (peak {:.0} MB, high-water {:.0} MB; {:.0} MB before), CPU {cpu_pct:.1}% of one core over {idle:.0} s idle; {waiting} polls still waiting, {finished_early} answered early; connections opened in {open_secs:.1} s (target RSS < 200 MB) {}",
        backend.name(),
        mb(rss),
        mb(peak_rss),
        mb(hwm),
        mb(rss_before),
        verdict(hwm < 200 * 1024 && finished_early == 0)
    );
    if verbose() {
        println!("  with the polls waiting, after malloc_trim(0): RSS {:.0} MB", mb(trimmed_rss(pid)));
    }
    if early != waiting || finished_early > 0 {
        let mut statuses = std::collections::BTreeMap::new();
        tasks.abort_all();
        while let Some(r) = tasks.join_next().await {
            if let Ok(r) = r {
                *statuses.entry(r.map(|s| s.to_string()).unwrap_or_else(|e| format!("error: {e}"))).or_insert(0) += 1;
            }
        }
        println!("  answers before the wait ended: {statuses:?}");
    }
    // What stays after every poll has been answered (204 at 30 s) and its connection closed:
    // memory the allocator keeps rather than memory the polls hold.
    if verbose() {
        let answered = Instant::now();
        while tasks.join_next().await.is_some() {}
        drop(clients);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let anon = smaps.lines().find(|l| l.starts_with("Anonymous:")).unwrap_or("").trim().to_owned();
        println!(
            "  after all polls were answered ({:.0} s later) and closed: RSS {:.0} MB ({anon}), {} open fds; after malloc_trim(0): {:.0} MB",
            answered.elapsed().as_secs_f64(),
            mb(rss_kb(pid).0),
            open_fds(pid),
            mb(trimmed_rss(pid))
        );
    }
    tasks.abort_all();
    drop(console);
    Ok(())
}

/// `pid` over [`IDLE_SECS`] while its agents wait: its CPU (% of one core), its peak RSS, and
/// its RSS and high-water mark at the end (kB).
async fn idle_figures(pid: u32) -> (f64, u64, u64, u64) {
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    let mut peak_rss = 0;
    while t0.elapsed() < Duration::from_secs(IDLE_SECS) {
        peak_rss = peak_rss.max(rss_kb(pid).0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu_pct = (cpu_ticks(pid) - cpu0) as f64 / ticks_per_sec / t0.elapsed().as_secs_f64() * 100.0;
    let (rss, hwm) = rss_kb(pid);
    (cpu_pct, peak_rss.max(rss), rss, hwm)
}

/// 10,000 agents waiting on the config stream (one WebSocket each, `GET /agent/v1/config/stream`,
/// as the agent waits since issue 18), on a fresh child console: its RSS and CPU while they
/// wait. The same fleet as the long polls, so the two lines compare.
async fn bench_streams(c: &Console, backend: Backend, fleet: &Fleet) -> Res<()> {
    let Baseline { console, addr, pid, rss_before, fds_before, opened } = Baseline::start(&c.database_url).await?;
    if verbose() {
        println!("  the fresh console, before its agents: {}", soak::rss_parts(pid));
    }
    // Handshakes a few hundred at a time, as agents starting over a minute would.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(256));
    let counts = Arc::new((std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0)));
    let mut tasks = tokio::task::JoinSet::new();
    for credential in &fleet.agents[..AGENTS] {
        tasks.spawn(held::hold_stream(addr.clone(), credential.clone(), handshakes.clone(), counts.clone()));
    }
    let agents = AGENTS;
    loop {
        let fds = open_fds(pid);
        if fds >= fds_before + agents || opened.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_secs = opened.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_pct, peak_rss, rss, hwm) = idle_figures(pid).await;
    let connected = open_fds(pid).saturating_sub(fds_before);
    let failed = counts.1.load(std::sync::atomic::Ordering::Relaxed);
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "{agents} agents waiting on the config stream ({}), server process: RSS {:.0} MB while they wait (peak {:.0} MB, high-water {:.0} MB; {:.0} MB before: {:.1} kB per agent), CPU {cpu_pct:.1}% of one core over {IDLE_SECS} s; {connected} sockets open, {failed} handshakes failed; opened in {open_secs:.1} s (target RSS < 100 MB) {}",
        backend.name(),
        mb(rss),
        mb(peak_rss),
        mb(hwm),
        mb(rss_before),
        (hwm as f64 - rss_before as f64) / agents as f64,
        verdict(hwm < 100 * 1024 && failed == 0 && connected >= agents)
    );
    if verbose() {
        println!("  with the streams waiting: {}", soak::rss_parts(pid));
        println!("  with the streams waiting, after malloc_trim(0): RSS {:.0} MB", mb(trimmed_rss(pid)));
    }
    tasks.abort_all();
    drop(console);
    Ok(())
}

async fn run(backend: Backend, admin_url: Option<&str>, list_only: bool) -> Res<()> {
    let started = Instant::now();
    let c = start_console(backend, admin_url).await?;
    let (fleet, took) = insert_fleet(&c).await?;
    println!(
        "setup ({}): {SERVERS} servers inserted in {:.1} s (insert_many of 1000 in one transaction)",
        backend.name(),
        took.as_secs_f64()
    );
    let result = async {
        // HOSTGUARD_BENCH_AGENTS_ONLY=1: only the waiting agents (long polls, streams).
        if std::env::var("HOSTGUARD_BENCH_AGENTS_ONLY").is_err() {
            bench_list(&c, backend).await?;
            bench_enable(&c, backend, &fleet).await?;
            // The list again, now that 10,000 servers have a configuration.
            bench_list_after(&c, backend).await?;
        }
        if list_only {
            return Ok(());
        }
        // HOSTGUARD_BENCH_AGENTS_ONLY=streams: the config stream alone, without the long polls.
        if std::env::var("HOSTGUARD_BENCH_AGENTS_ONLY").as_deref() != Ok("streams") {
            bench_long_polls(&c, backend, &fleet).await?;
        }
        bench_streams(&c, backend, &fleet).await?;
        held::bench_most(&c, backend, &fleet.agents).await
    }
    .await;
    if keep() {
        println!("  (kept {})", c.database_url);
    } else if let (Backend::Postgres, Some(admin)) = (backend, admin_url) {
        drop_postgres_database(admin, &c.database_url).await;
    }
    println!("({} took {:.0} s)", backend.name(), started.elapsed().as_secs_f64());
    result
}

async fn bench_list_after(c: &Console, backend: Backend) -> Res<()> {
    // Statistics that count the 10,000 new configurations, as after the fleet's insert.
    c.ctx.db.execute_unprepared("ANALYZE").await?;
    let cookie = c.sign_in().await?;
    let target = backend.list_target_ms();
    let cases = [
        ("status filter \"enabling\" (10k configs)", "", "enabling"),
        ("status filter \"disabled\"", "", "disabled"),
        ("status filter \"enabling\" and name filter \"web\"", "web", "enabling"),
    ];
    for (label, search, status) in cases {
        let form = list_form(search, status);
        let (p50, p95, body) = latencies(|| c.call("two-factor/list", &form, Some(&cookie))).await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        println!(
            "list 100k servers ({}), 2FA tab, {label}: p50 {p50:.1} ms, p95 {p95:.1} ms, {} matching (target p95 < {target:.0} ms) {}",
            backend.name(),
            v["total"].as_u64().unwrap_or(0),
            verdict(p95 < target)
        );
    }
    Ok(())
}
