//! The numbers of push at the login prompt (issue 17).
//!
//! 1. Approve → PAM: a login waits at the push prompt, run by the PAM module's own logic and
//!    socket client against the real agent daemon (a child process) and the console; the
//!    person's phone approves with the signed `portal/approvals/decide` call. Measured from that
//!    call to the module's verdict, over 200 pushes, with the approval sent to the replica the
//!    agent talks to and to a second replica on the same database.
//! 2. 1,000 logins waiting on a push at once (their agents' answer calls held by the console):
//!    the console's RSS and threads, and its database connections, before and while they wait.
//!    The console is a child process (`server` next to this binary) so that it is measured alone.
//! 3. (Run first, before the others move the console's clock.) The agent daemon's side: as many logins as one agent takes at once (its cap), each through
//!    the PAM module's logic and socket client, each choosing Push and waiting on it. The agent
//!    process's RSS and threads before and while they wait; then logins past the cap (each must
//!    be denied, promptly); then each person denies on the phone, which ends every login.

use crate::{percentile, verdict, Res};
use domain::entities::{push_request, server_login, user};
use proto::login::{FailMode, LoginAnswer, LoginReply, LoginStart};
use proto::push::PushDecision;
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter};
use std::path::Path;
use std::time::{Duration, Instant};
use testkit::{approve::Approver, Backend as TestBackend, Options, TestApp};
use uuid::Uuid;

const APPROVALS: usize = 200;
const WARMUP: usize = 10;
/// Pushes per person: at most 10 an hour may be sent to one person.
const PER_PERSON: usize = 10;
const WAITING: usize = 1000;
/// Servers the waiting logins are spread over (each agent's login calls have their own budget).
const WAITING_SERVERS: usize = 10;

/// Logins one agent daemon handles at once (agent/src/login.rs `MAX_CONCURRENT_LOGINS`); more
/// are refused at once. The bench checks it: all of these wait, and the next ones are refused.
const AGENT_CAP: usize = 64;
/// Logins tried while the agent is full.
const PAST_CAP: usize = 8;

/// The PAM conversation of a person who chooses Push and presses Enter: the number the prompt
/// shows goes to the bench (the person reads it to type it in the app).
struct Person {
    numbers: tokio::sync::mpsc::UnboundedSender<u16>,
    said: String,
}

impl pam_hostguard::logic::Conversation for Person {
    fn prompt(&mut self, text: &str, _echo: bool) -> Result<String, String> {
        if text == domain::logins::MENU_PROMPT {
            return Ok("1".into());
        }
        let number = text
            .strip_prefix("Push sent: enter ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("not a push prompt: {text:?}"))?;
        self.numbers.send(number).map_err(|e| e.to_string())?;
        Ok(String::new())
    }
    fn info(&mut self, _text: &str) {}
    fn error(&mut self, text: &str) {
        self.said = text.to_owned();
    }
}

/// `n` people who each own server account `push{i}` and have an approval device and a portal
/// session.
async fn people(app: &TestApp, p: &testkit::Protected, n: usize, tag: &str) -> Vec<(String, Approver)> {
    let mut out = vec![];
    for i in 0..n {
        let account = format!("{tag}{i}");
        let who = app.account_owner(p, &format!("{tag}-person{i}"), &account).await;
        out.push((account, app.approver(&who).await));
    }
    out
}

/// p50 and p99 (ms) from the signed approval to the module's verdict, with the approval sent
/// to `approve_on` while the agent talks to `app`.
async fn approve_to_pam(app: &TestApp, approve_on: &TestApp, tag: &str) -> Res<(f64, f64, f64)> {
    let p = app.protected_server(&format!("Bench Push {tag}"), &format!("push-{tag}"), &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let people = people(app, &p, (APPROVALS + WARMUP).div_ceil(PER_PERSON), tag).await;
    let agent = crate::logins::Agent::start(app, &p).await?;
    let (mut times, mut calls) = (vec![], vec![]);
    for i in 0..APPROVALS + WARMUP {
        // A minute apart on the consoles' clocks: at most 3 pushes a minute per person, and
        // logins per server per minute.
        app.clock.advance(chrono::Duration::seconds(61));
        if !std::ptr::eq(app, approve_on) {
            approve_on.clock.advance(chrono::Duration::seconds(61));
        }
        let (account, phone) = &people[i / PER_PERSON];
        let (tx, mut numbers) = tokio::sync::mpsc::unbounded_channel();
        let socket = agent.socket.clone();
        let login = LoginStart {
            account: account.clone(),
            source_ip: format!("203.0.113.{}", i % 200),
            service: "sshd".into(),
            tty: "ssh".into(),
            ..Default::default()
        };
        let module = tokio::task::spawn_blocking(move || {
            let mut person = Person { numbers: tx, said: String::new() };
            let mut daemon = pam_hostguard::transport::UnixDaemon::new(&socket);
            let verdict = pam_hostguard::logic::authenticate(
                &login,
                Instant::now() + Duration::from_secs(50),
                FailMode::Secure,
                &mut person,
                &mut daemon,
                &crate::logins::ConsoleAccounts,
                &pam_hostguard::logic::SystemClock,
            );
            (verdict, Instant::now(), person.said)
        });
        let number = numbers.recv().await.ok_or("the login ended before its push prompt")?;
        let request = phone.pending(approve_on).await.first().map(|r| r.id).ok_or("no pending request")?;
        // The Enter reaches the console and its call is held; the approval then comes at a
        // point of the poller's cycle that varies from push to push.
        tokio::time::sleep(Duration::from_millis(300 + (i as u64 * 37) % 100)).await;
        let t0 = Instant::now();
        let decided = phone.decide(approve_on, request, number, PushDecision::Approve).await;
        let call = t0.elapsed();
        let (verdict, t1, said) = module.await?;
        match decided {
            Ok(d) if d.status == PushStatus::Approved => {}
            other => return Err(format!("push {i}: the approval was refused: {other:?}").into()),
        }
        if verdict != pam_hostguard::logic::Verdict::Allow {
            return Err(format!("push {i}: the login was not allowed: {verdict:?}: {said}").into());
        }
        if i >= WARMUP {
            times.push((t1 - t0).as_secs_f64() * 1000.0);
            calls.push(call.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    calls.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), percentile(&calls, 0.5)))
}

/// `Threads:` of `/proc/<pid>/status`.
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Open files of `pid` that are the SQLite database (each connection opens it).
fn sqlite_handles(pid: u32, db: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    dir.flatten().filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == db)).count()
}

/// The console child's database connections, and a description: PostgreSQL's view of them (by
/// application name: all, and those inside a query or a transaction), or SQLite's open
/// database files (one per connection).
async fn connections(app: &TestApp, backend: crate::Backend, pid: u32, db_file: &Path) -> (i64, String) {
    match backend {
        crate::Backend::Sqlite => {
            let n = sqlite_handles(pid, db_file);
            (n as i64, format!("{n} open database files"))
        }
        crate::Backend::Postgres => {
            let q = "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity \
                     WHERE application_name = 'hostguard-bench-console'";
            let row = app
                .ctx
                .db
                .query_one_raw(sea_orm::Statement::from_string(app.ctx.db.get_database_backend(), q))
                .await
                .ok()
                .flatten();
            let n = |i: usize| row.as_ref().and_then(|r| r.try_get_by_index::<i64>(i).ok()).unwrap_or(-1);
            (n(0), format!("{} connections, {} busy", n(0), n(1)))
        }
    }
}

/// Logins of `p` waiting at the push prompt, each with its own person and pending request, as
/// if each person had chosen Push a moment ago (written straight to the database).
async fn waiting_logins(app: &TestApp, p: &testkit::Protected, n: usize) -> Res<Vec<Uuid>> {
    let now = chrono::Utc::now();
    let (mut users, mut logins, mut requests) = (vec![], vec![], vec![]);
    for i in 0..n {
        let (user_id, login_id) = (Uuid::new_v4(), Uuid::new_v4());
        users.push(user::ActiveModel {
            id: Set(user_id),
            tenant_id: Set(Some(p.tenant.id)),
            email: Set(format!("wait{i}@{}.bench", p.server_name)),
            display_name: Set(format!("Waiting {i}")),
            role: Set(domain::Role::EndUser),
            password_hash: Set("!".into()),
            created_at: Set(now),
            activated_at: Set(Some(now)),
            locked_at: Set(None),
            last_sign_in_at: Set(None),
        });
        logins.push(server_login::ActiveModel {
            id: Set(login_id),
            tenant_id: Set(p.tenant.id),
            server_id: Set(p.server_id),
            server_name: Set(p.server_name.clone()),
            account: Set(format!("wait{i}")),
            source_ip: Set("198.51.100.7".into()),
            source_block: Set("198.51.100.7".into()),
            service: Set("sshd".into()),
            method: Set(proto::login::LoginMethod::Code),
            number: Set(0),
            stage: Set(proto::login::LoginStage::Push),
            code_hash: Set(None),
            code_sent_at: Set(None),
            code_expires_at: Set(None),
            attempts: Set(0),
            result: Set(None),
            reason: Set("push sent".into()),
            offline: Set(false),
            end_user_id: Set(Some(user_id)),
            created_at: Set(now),
            finished_at: Set(None),
        });
        requests.push(push_request::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(p.tenant.id),
            user_id: Set(user_id),
            login_id: Set(login_id),
            server_name: Set(p.server_name.clone()),
            account: Set(format!("wait{i}")),
            source_ip: Set("198.51.100.7".into()),
            number: Set(100 + (i % 900) as i32),
            status: Set(PushStatus::Pending),
            wrong_numbers: Set(0),
            created_at: Set(now),
            // Longer than the measurement: every call is held its whole time.
            expires_at: Set(now + chrono::Duration::minutes(5)),
            decided_at: Set(None),
            device_id: Set(None),
        });
    }
    user::Entity::insert_many(users).exec_without_returning(&app.ctx.db).await?;
    server_login::Entity::insert_many(logins).exec_without_returning(&app.ctx.db).await?;
    push_request::Entity::insert_many(requests).exec_without_returning(&app.ctx.db).await?;
    let ids = server_login::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(&server_login::Column::ServerId, p.server_id))
        .all(&app.ctx.db)
        .await?;
    Ok(ids.into_iter().map(|l| l.id).collect())
}

async fn thousand_waiting(app: &TestApp, backend: crate::Backend) -> Res<()> {
    let mut servers = vec![];
    for s in 0..WAITING_SERVERS {
        let p = app.protected_server(&format!("Bench Waiting {s}"), &format!("wait-{s:02}"), &[]).await;
        app.put_in_force(&p, Some("code")).await;
        let ids = waiting_logins(app, &p, WAITING / WAITING_SERVERS).await?;
        servers.push((p, ids));
    }
    let db_file =
        Path::new(app.database_url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default()).to_path_buf();
    let url = match backend {
        crate::Backend::Postgres => format!("{}?application_name=hostguard-bench-console", app.database_url),
        crate::Backend::Sqlite => app.database_url.clone(),
    };
    let console = crate::ChildConsole::start(&url).await?;
    let pid = console.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mb = |kb: u64| kb as f64 / 1024.0;
    let (rss0, threads0, (_, conns0)) =
        (crate::rss_kb(pid).0, threads(pid), connections(app, backend, pid, &db_file).await);

    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(0).build()?;
    let mut held = tokio::task::JoinSet::new();
    for (p, ids) in &servers {
        for id in ids {
            let (http, url, cred) = (
                http.clone(),
                format!("{}{}", console.base, proto::agent::paths::login_answer(*id)),
                p.credential.clone(),
            );
            held.spawn(async move {
                let res = http.post(url).bearer_auth(cred).json(&LoginAnswer { answer: String::new() }).send().await?;
                let status = res.status();
                let reply: LoginReply = res.json().await.map_err(|e| format!("HTTP {status}: {e}"))?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(reply.ask_again)
            });
        }
    }
    // Every call reached the console and is held (8 s each); measure in the middle of the hold.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut rss, mut thr) = (0, 0);
    for _ in 0..10 {
        rss = rss.max(crate::rss_kb(pid).0);
        thr = thr.max(threads(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (conn_count, conns) = connections(app, backend, pid, &db_file).await;
    let still_held = held.len() - {
        let mut done = 0;
        while let Some(r) = held.try_join_next() {
            r??;
            done += 1;
        }
        done
    };
    let mut asked_again = 0;
    while let Some(r) = held.join_next().await {
        asked_again += usize::from(r??);
    }
    println!(
        "{WAITING} logins waiting on a push ({}), console process: RSS {:.0} MB while they wait ({:.0} MB before, {:.1} kB per waiting login); threads {thr} ({threads0} before); database: {conns} ({conns0} before); {still_held} calls held at once, {asked_again} answered \"ask again\" after the hold (target: no thread or connection per waiting login: {})",
        backend.name(),
        mb(rss),
        mb(rss0),
        (rss.saturating_sub(rss0)) as f64 / WAITING as f64,
        // No thread or connection per waiting login: both stay far below one per login.
        verdict(thr < (WAITING / 20) as u64 && conn_count < (WAITING / 20) as i64 && still_held == WAITING && asked_again == WAITING)
    );
    Ok(())
}

/// What the PAM module's logic ended with: its verdict, when, and the last error it showed.
type Ended = (pam_hostguard::logic::Verdict, Instant, String);

/// The PAM module's logic and socket client logging `account` in through the agent's socket, as
/// a person who chooses Push and presses Enter (the shown number goes to `numbers`).
fn module_login(
    socket: std::path::PathBuf,
    account: String,
    i: usize,
    numbers: tokio::sync::mpsc::UnboundedSender<u16>,
) -> tokio::task::JoinHandle<Ended> {
    let login = LoginStart {
        account,
        source_ip: format!("198.51.100.{}", 1 + i % 200),
        service: "sshd".into(),
        tty: "ssh".into(),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || {
        let mut person = Person { numbers, said: String::new() };
        let mut daemon = pam_hostguard::transport::UnixDaemon::new(&socket);
        let verdict = pam_hostguard::logic::authenticate(
            &login,
            // Longer than the measurement: the logins end by the phones' denials, this bounds it.
            Instant::now() + Duration::from_secs(120),
            FailMode::Secure,
            &mut person,
            &mut daemon,
            &crate::logins::ConsoleAccounts,
            &pam_hostguard::logic::SystemClock,
        );
        (verdict, Instant::now(), person.said)
    })
}

/// The agent daemon with [`AGENT_CAP`] logins waiting on a push: its RSS and threads, and what
/// happens to logins past the cap.
async fn agent_waiting(app: &TestApp, backend: crate::Backend) -> Res<()> {
    use pam_hostguard::logic::Verdict;
    let p = app.protected_server("Bench Agent Waiting", "agent-wait", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    // One person per login: pushes a minute and an hour are limited per person.
    let people = people(app, &p, AGENT_CAP, "aw").await;
    let agent = crate::logins::Agent::start(app, &p).await?;
    let pid = agent.pid().ok_or("the agent daemon exited")?;
    // Past its start and first poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss0, threads0, fds0) = (crate::rss_kb(pid).0, threads(pid), crate::open_fds(pid));

    let mut logins = vec![];
    for (i, (account, _)) in people.iter().enumerate() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        logins.push((module_login(agent.socket.clone(), account.clone(), i, tx), rx));
    }
    let started = Instant::now();
    let mut numbers = vec![];
    for (i, (_, rx)) in logins.iter_mut().enumerate() {
        let number = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await;
        numbers.push(number.ok().flatten().ok_or(format!("login {i} ended before its push prompt"))?);
    }
    let all_prompted = started.elapsed();
    // Every one pressed Enter: the agent holds each module's connection and asks the console,
    // which holds each call (and answers "ask again" until the push is decided).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut rss, mut thr, mut fds) = (0, 0, 0);
    for _ in 0..15 {
        rss = rss.max(crate::rss_kb(pid).0);
        thr = thr.max(threads(pid));
        fds = fds.max(crate::open_fds(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Past the cap: each must be denied, and at once.
    let mut past = vec![];
    for i in 0..PAST_CAP {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let t0 = Instant::now();
        past.push((t0, module_login(agent.socket.clone(), format!("past{i}"), 200 + i, tx)));
    }
    let (mut refused, mut slowest) = (0, Duration::ZERO);
    for (i, (t0, module)) in past.into_iter().enumerate() {
        let (verdict, t1, said) = module.await?;
        if verdict == Verdict::Allow {
            return Err(format!("login {i} past the agent's cap was allowed").into());
        }
        refused += usize::from(verdict == Verdict::Deny && said.contains("too many logins"));
        slowest = slowest.max(t1 - t0);
    }
    let still_waiting = logins.iter().filter(|(m, _)| !m.is_finished()).count();

    // Each person denies on the phone: every login ends, denied.
    let t0 = Instant::now();
    for ((_, phone), number) in people.iter().zip(&numbers) {
        let decided = phone.decide_pending(app, *number, PushDecision::Deny).await;
        if !matches!(&decided, Ok(d) if d.status == PushStatus::Denied) {
            return Err(format!("the phone's denial was refused: {decided:?}").into());
        }
    }
    let mut denied = 0;
    for (module, _) in logins {
        let (verdict, _, said) = module.await?;
        if verdict == Verdict::Allow {
            return Err(format!("a login denied on the phone was allowed: {said}").into());
        }
        denied += usize::from(verdict == Verdict::Deny);
    }
    let ended = t0.elapsed();

    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "{AGENT_CAP} logins waiting on a push through one agent daemon ({}; PAM module logic → agent socket → console; its cap, {AGENT_CAP} logins at once), agent process: RSS {:.1} MB while they wait ({:.1} MB before, {:.1} kB per waiting login); threads {thr} ({threads0} before); open files {fds} ({fds0} before); {still_waiting}/{AGENT_CAP} still waiting after the measurement (all at their push prompt {:.1} s after they started); then denied on the phones: {denied}/{AGENT_CAP} denied in {:.1} s (target: no thread per waiting login: {})",
        backend.name(),
        mb(rss),
        mb(rss0),
        rss.saturating_sub(rss0) as f64 / AGENT_CAP as f64,
        all_prompted.as_secs_f64(),
        ended.as_secs_f64(),
        verdict(thr <= threads0 + 2 && still_waiting == AGENT_CAP && denied == AGENT_CAP)
    );
    println!(
        "past the agent's cap ({}; {PAST_CAP} more logins while {AGENT_CAP} wait): {refused}/{PAST_CAP} denied \"too many logins\", none allowed, the slowest in {:.0} ms (target: each denied within 1 s: {}); the console's own limit is {} login starts per server a minute",
        backend.name(),
        slowest.as_secs_f64() * 1000.0,
        verdict(refused == PAST_CAP && slowest < Duration::from_secs(1)),
        domain::logins::STARTS_PER_SERVER_PER_MINUTE
    );
    Ok(())
}

/// Runs the push benchmarks on consoles of their own.
pub async fn run(backend: crate::Backend) -> Res<()> {
    let tb = match backend {
        crate::Backend::Sqlite => TestBackend::Sqlite,
        crate::Backend::Postgres => TestBackend::Postgres,
    };
    let app = testkit::spawn_app_with(tb, Options::empty()).await;
    agent_waiting(&app, backend).await?;
    let (p50, p99, call) = approve_to_pam(&app, &app, "one").await?;
    println!(
        "approve → PAM ({}, one replica; signed portal/approvals/decide → the module's verdict, {APPROVALS} pushes): p50 {p50:.0} ms, p99 {p99:.0} ms; the approve call itself p50 {call:.0} ms (target p99 < 300 ms: {})",
        backend.name(),
        verdict(p99 < 300.0)
    );
    let replica =
        testkit::spawn_app_with(tb, Options { database_url: Some(app.database_url.clone()), ..Options::empty() }).await;
    let (p50, p99, call) = approve_to_pam(&app, &replica, "two").await?;
    println!(
        "approve → PAM ({}, two replicas; approved on B, the login waits on A): p50 {p50:.0} ms, p99 {p99:.0} ms; the approve call itself p50 {call:.0} ms (target p99 < 300 ms: {})",
        backend.name(),
        verdict(p99 < 300.0)
    );
    thousand_waiting(&app, backend).await
}
