//! A real `ssh` login to a real `sshd`, configured by the real agent as the console told it.
//!
//! `scripts/ssh-sandbox.sh` (the one the README offers users) makes a private mount namespace
//! (`unshare -m`) with a copy of /etc (a test user, host keys), a private /run, and PAM's module
//! directory with our module added; the host's files are never touched. In there run the stock
//! Debian `sshd` on a loopback port and `hostguard-agent --root /`, registered with the test's
//! console. The console enables 2FA
//! (SMS/Email), the agent writes the drop-in and the PAM line and reloads sshd, and a real
//! OpenSSH client logs in with keyboard-interactive, answering each prompt through an
//! SSH_ASKPASS script that logs the prompt and reads the answer from a file the test writes.

use crate::common::*;
use crate::login_e2e::{built, skip_reason, workspace, Gate, Relay};
use app::models::TwoFactorState;
use domain::entities::server_login;
use proto::agent::paths;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const PASSWORD: &str = "hg-test-password-1";
const OPS: &str = "ops@sshd-e2e.test";

/// Answers ssh's prompts: logs each, then prints the password, the recipient, or the code
/// the test put in `code` (waiting for it).
const ASKPASS: &str = r#"#!/bin/sh
D=$(dirname "$0")
echo "$1" >>"$D/prompts.log"
case "$1" in
  *assword*) echo "$HG_PASSWORD" ;;
  *"Phone number or email"*) echo "$HG_RECIPIENT" ;;
  *Code:*|*"Verification code"*) i=0; while [ ! -s "$D/code" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; cat "$D/code" ;;
  *) echo "" ;;
esac
"#;

pub(crate) struct Sshd {
    pub(crate) app: TestApp,
    sink: SmtpSink,
    pub(crate) p: Protected,
    pub(crate) admin: String,
    dir: tempfile::TempDir,
    pub(crate) port: u16,
    /// The agent reaches the console through a relay that can be cut and a proxy that can refuse.
    relay: Relay,
    gate: Gate,
    /// The sandbox script's process group: sshd, the agent and the script itself.
    _sandbox: ProcessGroup,
}

/// Kills a whole process group when dropped — also when the test fails — so no sshd outlives
/// its test (sshd runs in the background of the sandbox script, beside the agent).
struct ProcessGroup(tokio::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sshd {
    pub(crate) async fn start(backend: Backend) -> Sshd {
        let sink = SmtpSink::start().await;
        let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Options::empty() }).await;
        let p = app.protected_server("Acme SSH", "sshd-01", &[OPS]).await;
        let admin = app.sign_in(&p.admin).await;
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        std::fs::create_dir_all(t.join("state")).unwrap();
        let gate = Gate::start(&app.base).await;
        let relay = Relay::start(gate.addr).await;
        let console = format!("http://127.0.0.1:{}", relay.port);
        let state = serde_json::json!({
            "console": console, "server_id": p.server_id, "credential": p.credential, "applied_revision": 0,
        });
        std::fs::write(t.join("state/agent.json"), state.to_string()).unwrap();
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(t.join("client_key"))
            .status()
            .unwrap();
        assert!(keygen.success());
        std::fs::write(t.join("askpass"), ASKPASS).unwrap();
        std::process::Command::new("chmod").arg("755").arg(t.join("askpass")).status().unwrap();
        let port = free_port();
        // The same script the README tells users to try a login with.
        let agent = tokio::process::Command::new(workspace().join("scripts/ssh-sandbox.sh"))
            .arg(t)
            .arg(port.to_string())
            .arg(&console)
            .args(["--name", "sshd-01", "--poll-wait", "1", "--heartbeat-secs", "1"])
            .env("HG_MODULE", built("libpam_hostguard.so"))
            .env("HG_AGENT", built("hostguard-agent"))
            .env("HG_PASSWORD", PASSWORD)
            .env("RUST_LOG", if std::env::var_os("TEST_LOG").is_some() { "debug" } else { "warn" })
            .kill_on_drop(true)
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = Sshd { app, sink, p, admin, dir, port, relay, gate, _sandbox: ProcessGroup(agent) };
        eventually("sshd listens", || async { tokio::net::TcpStream::connect(("127.0.0.1", s.port)).await.is_ok() })
            .await;
        s
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Saves a 2FA change in the console, lets the apply delay pass, and waits until the agent
    /// has applied it.
    /// `change` builds the change for this server's id.
    pub(crate) async fn change(
        &self,
        change: impl FnOnce(&[uuid::Uuid]) -> app::models::two_factor::TwoFactorChange,
        want: TwoFactorState,
    ) {
        let change = change(&[self.p.server_id]);
        self.app.run(&self.admin, app::functions::two_factor::SaveTwoFactor { change }).await;
        self.app.clock.advance(chrono::Duration::seconds(301));
        let (app, admin) = (&self.app, &self.admin);
        for _ in 0..300 {
            let page = app.two_factor_page(admin, &[]).await;
            let row = page.items.iter().find(|r| r.id == self.p.server_id).map(|r| r.status.state());
            if row == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default();
        panic!("the server never became {want:?}; sshd said:\n{log}");
    }

    /// One `ssh hgtest@127.0.0.1 true` with `methods` (ssh's PreferredAuthentications); the
    /// code prompt is answered with the code mailed for its number, with `wrong_code`, or (at a
    /// `Verification code:` prompt) with the authenticator code of `totp_secret` now.
    /// Returns whether ssh got in, and the prompts it was shown.
    async fn ssh(&self, methods: &str, key: bool, wrong_code: Option<&str>) -> (bool, Vec<String>) {
        self.ssh_with(methods, key, wrong_code, None).await
    }

    async fn ssh_with(
        &self,
        methods: &str,
        key: bool,
        wrong_code: Option<&str>,
        totp_secret: Option<&str>,
    ) -> (bool, Vec<String>) {
        let _ = std::fs::remove_file(self.path("prompts.log"));
        let _ = std::fs::remove_file(self.path("code"));
        let mut cmd = tokio::process::Command::new("setsid");
        cmd.args(["-w", "ssh", "-p", &self.port.to_string()])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", &format!("PreferredAuthentications={methods}"), "-o", "NumberOfPasswordPrompts=1"])
            .args(["-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes"]);
        if key {
            cmd.arg("-i").arg(self.path("client_key"));
        } else {
            cmd.args(["-o", "PubkeyAuthentication=no"]);
        }
        let mut child = cmd
            .args(["hgtest@127.0.0.1", "true"])
            .env("SSH_ASKPASS", self.path("askpass"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HG_PASSWORD", PASSWORD)
            .env("HG_RECIPIENT", OPS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Answer the code prompt once it is shown.
        let prompts = self.path("prompts.log");
        let answered = async {
            loop {
                let text = std::fs::read_to_string(&prompts).unwrap_or_default();
                if let Some(at) = text.rfind("Input #") {
                    let n: i32 = text[at + 7..].split(' ').next().unwrap().parse().unwrap();
                    let code = match wrong_code {
                        Some(w) => w.to_owned(),
                        None => self.code(n).await,
                    };
                    std::fs::write(self.path("code"), format!("{code}\n")).unwrap();
                    return;
                }
                if let (true, Some(secret)) = (text.contains("Verification code"), totp_secret) {
                    let code =
                        wrong_code.map_or_else(|| totp_now(secret, domain::Clock::now(&self.app.clock)), str::to_owned);
                    std::fs::write(self.path("code"), format!("{code}\n")).unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let status = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::select! {
                status = child.wait() => status.unwrap(),
                () = answered => child.wait().await.unwrap(),
            }
        })
        .await
        .expect("ssh finished");
        let prompts = std::fs::read_to_string(self.path("prompts.log")).unwrap_or_default();
        (status.success(), prompts.lines().map(str::to_owned).collect())
    }

    async fn code(&self, n: i32) -> String {
        let find = || {
            self.sink
                .messages_to(OPS)
                .into_iter()
                .filter(|m| m.subject == format!("Login code #{n} for hgtest@sshd-01"))
                .find_map(|m| {
                    m.text
                        .split(&format!("Input #{n}: "))
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                        .map(str::to_owned)
                })
        };
        eventually("the login code mail arrives", || async { find().is_some() }).await;
        find().unwrap()
    }
}

/// The code an authenticator app with `secret` (base32) shows at `t`.
fn totp_now(secret: &str, t: chrono::DateTime<chrono::Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new())
        .generate(t.timestamp() as u64)
}

fn asked_for_code(prompts: &[String]) -> bool {
    prompts.iter().any(|p| p.contains("Code:"))
}

async fn a_real_ssh_login_asks_for_the_code_the_console_chose(backend: Backend) {
    if let Some(why) = skip_reason() {
        println!("SKIP real sshd test: {why}");
        return;
    }
    let s = Sshd::start(backend).await;
    eventually("the agent reports in", || async {
        let page = s.app.two_factor_page(&s.admin, &[]).await;
        page.items.iter().any(|r| r.id == s.p.server_id && r.agent_online)
    })
    .await;
    let topic = s.p.topic_id;
    s.change(|ids| enable_sms(ids, topic), TwoFactorState::Enabled).await;
    let dropin = std::fs::read_to_string(s.path("etc/ssh/sshd_config.d/50-hostguard.conf")).unwrap();
    assert!(dropin.contains("AuthenticationMethods publickey,keyboard-interactive keyboard-interactive"), "{dropin}");

    // Password, then the emailed code: in.
    let (ok, prompts) = s.ssh("keyboard-interactive", false, None).await;
    assert!(ok, "password + emailed code logs in; prompts: {prompts:?}");
    assert!(
        prompts[0].contains("assword") && prompts.iter().any(|p| p.contains("Phone number or email")),
        "{prompts:?}"
    );
    assert!(asked_for_code(&prompts));

    // A wrong code: refused.
    let (ok, prompts) = s.ssh("keyboard-interactive", false, Some("000000")).await;
    assert!(!ok, "a wrong code is refused; prompts: {prompts:?}");

    // A public key is not enough: the code is asked for too.
    let (ok, prompts) = s.ssh("publickey,keyboard-interactive", true, None).await;
    assert!(ok && asked_for_code(&prompts), "a key login also answers the code; prompts: {prompts:?}");
    let (ok, _) = s.ssh("publickey", true, None).await;
    assert!(!ok, "a key alone no longer logs in");

    // Verification-code mode: hgtest is Alice's account, and Alice has an authenticator app.
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let alice = s.p.tenant.end_user(&s.app, "alice").await;
    let alice_caller = domain::Caller {
        user_id: alice.id,
        role: domain::Role::EndUser,
        tenant_id: Some(s.p.tenant.id),
        email: alice.email.clone(),
    };
    let mapping = domain::factors::mapping::NewMapping {
        account: domain::validate::AccountName::parse("hgtest").unwrap(),
        end_user_id: alice.id,
        server_id: None,
    };
    domain::factors::mapping::add(&s.app.ctx, &s.p.caller, &actor, &mapping).await.unwrap();
    // Her first factor, as the invitation's own pages add it (the link proved, the password set).
    let session = s.app.invitation_session(&alice).await;
    let e = domain::factors::authenticators::begin(&s.app.ctx, &alice_caller, session, "Pixel").await.unwrap();
    let secret = secrecy::ExposeSecret::expose_secret(&e.secret).to_owned();
    let now_code = totp_now(&secret, domain::Clock::now(&s.app.clock));
    domain::factors::authenticators::confirm(&s.app.ctx, &alice_caller, &actor, session, e.id, &now_code)
        .await
        .unwrap();
    s.change(enable_code, TwoFactorState::Enabled).await;
    let (ok, prompts) = s.ssh_with("keyboard-interactive", false, None, Some(&secret)).await;
    assert!(ok, "password + the authenticator's code logs in; prompts: {prompts:?}");
    assert!(
        prompts.iter().any(|p| p.contains("Verification code")) && !prompts.iter().any(|p| p.contains("Phone")),
        "{prompts:?}"
    );
    s.app.clock.advance(chrono::Duration::seconds(30));
    let (ok, _) = s.ssh_with("keyboard-interactive", false, Some("000000"), Some(&secret)).await;
    assert!(!ok, "a wrong authenticator code is refused");

    // Disabled from the console, after the delay: the password alone logs in again.
    s.change(disable, TwoFactorState::Disabled).await;
    let (ok, prompts) = s.ssh("keyboard-interactive,password", false, None).await;
    assert!(ok && !asked_for_code(&prompts), "2FA off: the password alone; prompts: {prompts:?}");
    let logins = domain::logins::audit::list(
        &s.app.ctx,
        &s.p.caller,
        &domain::logins::audit::AuditQuery { page: 1, page_size: 50, ..Default::default() },
    )
    .await
    .unwrap();
    let results: Vec<_> = logins.items.iter().map(|l| (l.account.as_str(), l.result.as_str())).collect();
    assert_eq!(results.iter().filter(|(a, r)| *a == "hgtest" && *r == "allowed").count(), 3, "{results:?}");
    assert!(results.contains(&("hgtest", "denied")), "{results:?}");
}
on_both_databases!(
    a_real_ssh_login_asks_for_the_code_the_console_chose,
    super::a_real_ssh_login_asks_for_the_code_the_console_chose
);

/// Fail mode safe through the real sshd: a proxy that answers 403 for the console is a refusal
/// and the login is denied; the console really stopped is the fail mode, and the login gets in
/// and shows in the console's login audit once it is back.
async fn safe_mode_through_a_real_sshd_needs_a_real_outage(backend: Backend) {
    if let Some(why) = skip_reason() {
        println!("SKIP real sshd test: {why}");
        return;
    }
    let mut s = Sshd::start(backend).await;
    eventually("the agent reports in", || async {
        let page = s.app.two_factor_page(&s.admin, &[]).await;
        page.items.iter().any(|r| r.id == s.p.server_id && r.agent_online)
    })
    .await;
    let topic = s.p.topic_id;
    s.change(|ids| enable_sms(ids, topic), TwoFactorState::Enabled).await;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let safe = domain::logins::SettingsChange {
        fail_mode: "safe".into(),
        allow_unenrolled: false,
        exempt_accounts: vec![],
        exempt_networks: vec![],
    };
    domain::logins::settings::update(&s.app.ctx, &s.p.caller, &actor, s.p.server_id, &safe).await.unwrap();
    let policy = s.path("state/login-policy.json");
    eventually("the agent has the safe policy", || async {
        std::fs::read(&policy)
            .ok()
            .and_then(|b| serde_json::from_slice::<proto::login::LoginPolicy>(&b).ok())
            .is_some_and(|p| p.fail_mode == proto::login::FailMode::Safe)
    })
    .await;

    // A proxy (or WAF) answering 403 for the console's login calls: refused, not the fail mode.
    s.gate.refuse(paths::LOGINS, 403);
    let (ok, prompts) = s.ssh("keyboard-interactive", false, None).await;
    assert!(!ok, "a 403 from a proxy in safe mode is a refusal; prompts: {prompts:?}");
    s.gate.pass();

    // The console stopped: fail mode safe lets the password alone in, and the console learns
    // of it once it is back.
    s.relay.cut();
    let (ok, prompts) = s.ssh("keyboard-interactive", false, None).await;
    assert!(ok && !asked_for_code(&prompts), "console down, safe: in without a code; prompts: {prompts:?}");
    s.relay.restore().await;
    let offline = || async {
        server_login::Entity::find()
            .filter(server_login::Column::ServerId.eq(s.p.server_id))
            .all(&s.app.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.offline && l.account == "hgtest" && l.reason.contains("fail mode safe"))
            .count()
    };
    eventually("the offline login is in the audit", || async { offline().await == 1 }).await;
}
on_both_databases!(
    safe_mode_through_a_real_sshd_needs_a_real_outage,
    super::safe_mode_through_a_real_sshd_needs_a_real_outage
);
