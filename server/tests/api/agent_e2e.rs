//! Real processes: the real agent binary against the real console, writing PAM and sshd files
//! under a `--root` sandbox that the real `sshd -t` checks; and the real server binary killed
//! with SIGKILL while 500 rollout jobs are pending.

use crate::common::*;
use app::functions::{agents::CreateInstallCommand, two_factor::SaveTwoFactor};
use app::models::{ReadinessRule, TwoFactorRow, TwoFactorState, TwoFactorStatus};
use domain::entities::{rollout_job, server};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The agent binary, built by `cargo build -p agent` (scripts/test.sh does).
fn agent_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
    let bin = target.join("debug/hostguard-agent");
    assert!(bin.exists(), "{} is missing: run `cargo build -p agent` first", bin.display());
    bin
}

fn sandbox(dir: &Path, name: &str, broken: bool) {
    let mut cmd = Command::new(workspace().join("scripts/agent-sandbox.sh"));
    cmd.arg(dir).arg(name);
    if broken {
        cmd.arg("--broken");
    }
    assert!(cmd.status().unwrap().success(), "agent-sandbox.sh");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn row(app: &TestApp, cookie: &str, name: &str) -> Option<TwoFactorRow> {
    app.two_factor_rows(cookie, name).await.into_iter().find(|r| r.name == name)
}

async fn status(app: &TestApp, cookie: &str, name: &str) -> Option<TwoFactorState> {
    row(app, cookie, name).await.map(|r| r.status.state())
}

async fn a_real_agent_applies_the_revision_and_the_console_shows_enabled(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    sandbox(&good, "e2e-good", false);
    sandbox(&bad, "e2e-bad", true);
    // Stock Debian's `KbdInteractiveAuthentication no`, after the Include: the agent's drop-in
    // wins, so the console only warns and the agent turns it on.
    let good_config = good.join("etc/ssh/sshd_config");
    let stock = std::fs::read_to_string(&good_config)
        .unwrap()
        .replace("KbdInteractiveAuthentication yes", "KbdInteractiveAuthentication no");
    std::fs::write(&good_config, stock).unwrap();
    let pam_before = std::fs::read_to_string(good.join("etc/pam.d/sshd")).unwrap();
    let bad_config_before = std::fs::read_to_string(bad.join("etc/ssh/sshd_config")).unwrap();

    let mut agents = vec![];
    for (root, name) in [(&good, "e2e-good"), (&bad, "e2e-bad")] {
        let command = app.run(&admin, CreateInstallCommand {}).await.command;
        let token = &token_of(&command);
        // As the shown command does: register once with the token on standard input, never in
        // the agent's arguments; then the service runs from the saved registration, without it.
        let register = command.lines().find(|l| l.contains("sudo hostguard-agent")).unwrap();
        let (_, agent_part) = register.split_once(" | ").unwrap();
        assert!(!agent_part.contains(token) && agent_part.ends_with("--token-file - --once &&"), "{command}");
        assert!(agent_part.contains("--insecure-http"), "the test console is plain http: {command}");
        let common = |cmd: &mut Command| {
            cmd.args([
                "--console",
                &app.base,
                "--insecure-http",
                "--name",
                name,
                "--poll-wait",
                "5",
                "--heartbeat-secs",
                "2",
            ])
            .arg("--root")
            .arg(root);
        };
        let mut once = Command::new(agent_binary());
        common(&mut once);
        let mut once = once
            .args(["--token-file", "-", "--once"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = once.stdin.take().unwrap();
            writeln!(stdin, "{token}").unwrap();
        }
        // Waited for off the test's runtime, which also serves the console.
        let out = tokio::task::spawn_blocking(move || once.wait_with_output()).await.unwrap().unwrap();
        assert!(out.status.success(), "--once registers and exits cleanly: {}", String::from_utf8_lossy(&out.stderr));
        assert!(root.join("var/lib/hostguard/agent.json").exists(), "the registration is saved");
        let mut service = Command::new(agent_binary());
        common(&mut service);
        let child = service.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        agents.push(Killed(child));
    }
    for name in ["e2e-good", "e2e-bad"] {
        eventually("the agent registers", || async { row(&app, &admin, name).await.is_some() }).await;
    }
    let r = row(&app, &admin, "e2e-good").await.unwrap();
    assert!(r.agent_online);
    assert_eq!(r.os_name, "Debian GNU/Linux 12 (bookworm)");
    assert!(r.readiness.iter().all(|f| !f.blocker), "{r:?}");
    let kbd = r.readiness.iter().find(|f| f.rule == ReadinessRule::SshdKeyboardInteractive);
    assert!(kbd.is_some_and(|f| f.message.contains("turns it on")), "{r:?}");

    let bad_id = row(&app, &admin, "e2e-bad").await.unwrap().id;
    let saved = app.run(&admin, SaveTwoFactor { change: enable_code(&[r.id, bad_id]) }).await;
    assert_eq!(saved.changed, 2);
    assert_eq!(status(&app, &admin, "e2e-good").await, Some(TwoFactorState::Enabling));
    app.clock.advance(chrono::Duration::seconds(300));

    let wait_for = |name: &'static str, want: TwoFactorState| {
        let (app, admin) = (&app, &admin);
        async move {
            for _ in 0..300 {
                if status(app, admin, name).await == Some(want) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{name} never became {want:?}: {:?}", row(app, admin, name).await);
        }
    };
    wait_for("e2e-good", TwoFactorState::Enabled).await;
    let dropin = std::fs::read_to_string(good.join("etc/ssh/sshd_config.d/50-hostguard.conf")).unwrap();
    assert!(dropin.contains("KbdInteractiveAuthentication yes") && dropin.contains("UsePAM yes"), "{dropin}");
    let pam = std::fs::read_to_string(good.join("etc/pam.d/sshd")).unwrap();
    assert_eq!(pam.matches("pam_hostguard.so").count(), 1, "{pam}");
    let status_out =
        Command::new("/usr/sbin/sshd").arg("-t").arg("-f").arg(good.join("etc/ssh/sshd_config")).output().unwrap();
    assert!(status_out.status.success(), "the real sshd accepts what the agent wrote");
    let effective =
        Command::new("/usr/sbin/sshd").arg("-T").arg("-f").arg(good.join("etc/ssh/sshd_config")).output().unwrap();
    let effective = String::from_utf8_lossy(&effective.stdout);
    assert!(effective.lines().any(|l| l == "kbdinteractiveauthentication yes"), "the drop-in won: {effective}");

    // The broken server: sshd -t refused the change, the agent put everything back and said why.
    wait_for("e2e-bad", TwoFactorState::Failed).await;
    let TwoFactorStatus::Failed { reason: failure } = row(&app, &admin, "e2e-bad").await.unwrap().status else {
        panic!("e2e-bad failed")
    };
    assert!(failure.contains("sshd -t failed") && failure.contains("restored"), "{failure}");
    assert_eq!(std::fs::read_to_string(bad.join("etc/ssh/sshd_config")).unwrap(), bad_config_before);
    assert!(!bad.join("etc/ssh/sshd_config.d/50-hostguard.conf").exists());

    // Disable: the files go back to what they were.
    app.run(&admin, SaveTwoFactor { change: disable(&[r.id]) }).await;
    app.clock.advance(chrono::Duration::seconds(300));
    wait_for("e2e-good", TwoFactorState::Disabled).await;
    assert_eq!(std::fs::read_to_string(good.join("etc/pam.d/sshd")).unwrap(), pam_before);
    assert!(!good.join("etc/ssh/sshd_config.d/50-hostguard.conf").exists());
}
on_both_databases!(
    a_real_agent_applies_the_revision_and_the_console_shows_enabled,
    super::a_real_agent_applies_the_revision_and_the_console_shows_enabled
);

/// The server binary, on its own database and port.
fn start_server(database_url: &str, port: u16) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .env("HOSTGUARD_DATABASE_URL", database_url)
            .env("HOSTGUARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOSTGUARD_DEMO", "true")
            .env("HOSTGUARD_APPLY_DELAY_SECS", "3")
            .env("HOSTGUARD_DELIVERY_POLL_MS", "50")
            .env("HOSTGUARD_SMTP_PORT", "9")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server"),
    )
}

async fn a_server_killed_with_500_pending_jobs_applies_each_once_after_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("kill.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready =
        || async { http.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success()).unwrap_or(false) };
    let mut srv = start_server(&database_url, port);
    eventually_within("the server is ready", Duration::from_secs(60), ready).await;

    // 500 ready servers for Acme, written straight to the database.
    let db = Database::connect(&database_url).await.unwrap();
    let tenant = domain::entities::tenant::Entity::find()
        .filter(domain::entities::tenant::Column::Name.eq("Acme Retail"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let rows = ready_servers(tenant.id, "kill", 500);
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
    for chunk in rows.chunks(250) {
        server::Entity::insert_many(chunk.to_vec()).exec_without_returning(&db).await.unwrap();
    }
    // This console runs without HOSTGUARD_SECRET_KEY, so it refuses anyone who needs a second
    // factor: Acme's admins sign in with a password alone here.
    domain::entities::tenant_console_policy::Entity::insert(domain::entities::tenant_console_policy::ActiveModel {
        tenant_id: sea_orm::Set(tenant.id),
        admins_need_second_factor: sea_orm::Set(false),
        updated_at: sea_orm::Set(chrono::Utc::now()),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();

    // Sign in and enable 2FA on all 500 in one call.
    let res = http
        .post(format!("{base}/api/auth/sign_in"))
        .form(&[("email", ACME_ADMIN.0), ("password", ACME_ADMIN.1)])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&res).expect("signed in");
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let res = http
        .post(format!("{base}/api/two-factor/save"))
        .header("cookie", &cookie)
        .form(
            &list
                .iter()
                .map(|id| ("change[server_ids][]", id.as_str()))
                .chain([("change[action]", "enable"), ("change[method]", "code")])
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // SIGKILL while every job is still waiting for its delay.
    srv.0.kill().unwrap();
    srv.0.wait().unwrap();
    let pending = rollout_job::Entity::find().filter(rollout_job::Column::Status.eq("pending")).all(&db).await.unwrap();
    assert_eq!(pending.len(), 500, "the jobs survive the kill");

    // Restart: every job runs, once.
    let _srv = start_server(&database_url, port);
    eventually_within("the restarted server is ready", Duration::from_secs(60), ready).await;
    for _ in 0..300 {
        let done = rollout_job::Entity::find().filter(rollout_job::Column::Status.eq("done")).all(&db).await.unwrap();
        if done.len() == 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jobs = rollout_job::Entity::find().all(&db).await.unwrap();
    assert_eq!(jobs.len(), 500);
    assert!(jobs.iter().all(|j| j.status.as_str() == "done" && j.runs == 1), "each of the 500 jobs ran exactly once");
}
on_both_databases!(
    a_server_killed_with_500_pending_jobs_applies_each_once_after_restart,
    super::a_server_killed_with_500_pending_jobs_applies_each_once_after_restart
);
