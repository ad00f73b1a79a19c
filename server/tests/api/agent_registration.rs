//! Agent registration and its tokens, attacked: an install token may not take over a server that
//! has an agent (only a re-install token from that server's page may), one token registers one
//! server however many use it at once, tokens are listed and revoked per tenant, and every bad
//! request to the agent API gets an answer in the API's JSON error shape.

use crate::common::*;
use app::functions::agents::{CreateInstallCommand, CreateReinstallCommand, ListAgentTokens, RevokeAgentToken};
use app::functions::servers::GetServer;
use app::models::{AgentToken, ChangeResult, ReadinessItem, ReadinessRule, TokenKind, TokenState, TwoFactorRow};
use app::models::{TwoFactorState, TwoFactorStatus};
use domain::audit::AuditAction;
use domain::entities::{audit_event, server};
use proto::agent::{
    paths, ApiError as ErrorBody, Facts, PamStackCheck, PamStackProblem, RegisterRequest, SshdDropInCheck,
    SshdMatchOverride, SshdSetting,
};
use proto::login::{LoginStart, OfflineReport};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

struct Setup {
    app: TestApp,
    admin: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    Setup { app, admin }
}

/// The facts as JSON, for the tests that break them on purpose.
fn facts_json(hostname: &str) -> Value {
    serde_json::to_value(debian_facts(hostname)).unwrap()
}

impl Setup {
    async fn install_token(&self) -> String {
        self.app.install_token(&self.admin).await
    }

    async fn register(&self, token: &str, hostname: &str) -> FakeAgent {
        self.app.register_agent(token, &debian_facts(hostname)).await
    }

    /// A registration that must be refused: its HTTP status.
    async fn register_refused(&self, token: &str, hostname: &str) -> u16 {
        agent_status(&self.app.try_register_agent(token, &debian_facts(hostname)).await.unwrap_err())
    }

    async fn rows(&self, name: &str) -> Vec<TwoFactorRow> {
        self.app.two_factor_rows(&self.admin, name).await.into_iter().filter(|r| r.name == name).collect()
    }

    async fn state(&self, name: &str) -> TwoFactorState {
        self.rows(name).await[0].status.state()
    }

    /// The long poll's HTTP status (200 with a revision, 204 without) and the revision.
    async fn poll(&self, agent: &FakeAgent) -> (u16, Option<proto::agent::Assignment>) {
        match agent.try_poll(0, 0).await {
            Ok(Some(a)) => (200, Some(a)),
            Ok(None) => (204, None),
            Err(e) => (agent_status(&e), None),
        }
    }

    async fn enable(&self, server_id: Uuid) -> ChangeResult {
        self.app.run(&self.admin, app::functions::two_factor::SaveTwoFactor { change: enable_code(&[server_id]) }).await
    }

    async fn tokens(&self, who: &str) -> Vec<AgentToken> {
        self.app.run(who, ListAgentTokens {}).await
    }

    async fn audit(&self, action: AuditAction) -> Vec<audit_event::Model> {
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq(action.as_str()))
            .all(&self.app.ctx.db)
            .await
            .unwrap()
    }
}

async fn an_install_token_never_takes_over_a_server_with_an_agent(backend: Backend) {
    let s = setup(backend).await;
    let first = s.register(&s.install_token().await, "web-01").await;
    s.enable(first.server_id).await;
    s.app.clock.advance(chrono::Duration::seconds(300));
    eventually("the revision is handed over", || async { s.poll(&first).await.1.is_some() }).await;

    // A second install token with the live server's host name: a server of its own.
    let impostor = s.register(&s.install_token().await, "web-01").await;
    assert_ne!(impostor.server_id, first.server_id);
    assert_eq!(s.poll(&first).await.0, 200, "the first agent's credential still works");
    assert_eq!(s.poll(&impostor).await, (204, None), "the newcomer gets none of web-01's revisions");
    assert!(!impostor.ack(1, None).await, "nor can it acknowledge them");
    let rows = s.rows("web-01").await;
    assert_eq!(rows.len(), 2, "both are listed: {rows:?}");
    let original = rows.iter().find(|r| r.id == first.server_id).unwrap();
    assert_eq!(original.status.state(), TwoFactorState::Enabling, "not Enabled on the impostor's word");

    // The real agent's acknowledgement still counts.
    assert!(first.ack(1, None).await);
    let rows = s.rows("web-01").await;
    assert_eq!(rows.iter().find(|r| r.id == first.server_id).unwrap().status, TwoFactorStatus::Enabled);
    let registered = s.audit(AuditAction::AgentRegister).await;
    assert!(registered.iter().any(|e| e.detail.contains("other server(s) have this name")), "{registered:?}");
}
on_both_databases!(
    an_install_token_never_takes_over_a_server_with_an_agent,
    super::an_install_token_never_takes_over_a_server_with_an_agent
);

async fn an_install_token_claims_a_pre_registered_server_without_an_agent(backend: Backend) {
    let s = setup(backend).await;
    let tenant = domain::entities::tenant::Entity::find()
        .filter(domain::entities::tenant::Column::Name.eq("Acme Retail"))
        .one(&s.app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let rows = ready_servers(tenant.id, "pre", 1);
    let pre_id = rows[0].id.clone().unwrap();
    server::Entity::insert_many(rows).exec_without_returning(&s.app.ctx.db).await.unwrap();

    let agent = s.register(&s.install_token().await, "pre-00000").await;
    assert_eq!(agent.server_id, pre_id, "the pre-registered server is the one registered");
    assert_eq!(s.poll(&agent).await.0, 204);
    // Now it has an agent: the next install token with its name gets a server of its own.
    let other = s.register(&s.install_token().await, "pre-00000").await;
    assert_ne!(other.server_id, agent.server_id);
    assert_eq!(s.poll(&agent).await.0, 204, "and the first agent keeps working");
}
on_both_databases!(
    an_install_token_claims_a_pre_registered_server_without_an_agent,
    super::an_install_token_claims_a_pre_registered_server_without_an_agent
);

async fn a_reinstall_token_replaces_the_agent_of_its_own_server_only(backend: Backend) {
    let s = setup(backend).await;
    let old = s.register(&s.install_token().await, "db-01").await;
    s.enable(old.server_id).await;
    s.app.clock.advance(chrono::Duration::seconds(300));
    eventually("the revision is handed over", || async { s.poll(&old).await.1.is_some() }).await;
    assert!(old.ack(1, None).await);
    assert_eq!(s.state("db-01").await, TwoFactorState::Enabled);

    // Another tenant cannot issue one for Acme's server; a malformed id is not found either.
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let reinstall = |id: &str| CreateReinstallCommand { server_id: id.to_owned() };
    assert_eq!(s.app.refused(&globex, reinstall(&old.server_id.to_string())).await.status, 404);
    assert_eq!(s.app.refused(&s.admin, reinstall("nope")).await.status, 404);

    let command = s.app.run(&s.admin, reinstall(&old.server_id.to_string())).await.command;
    let token = token_of(&command);
    let register = command.lines().find(|l| l.contains("sudo hostguard-agent")).unwrap();
    let (_, agent_part) = register.split_once(" | ").unwrap();
    assert!(!agent_part.contains(&token), "never in the agent's arguments: {command}");

    // The rebuilt machine may report another name; the token decides which server it is.
    let new = s.register(&token, "db-01-rebuilt").await;
    assert_eq!(new.server_id, old.server_id);
    assert_eq!(s.poll(&old).await.0, 401, "the replaced agent's credential stops working");
    assert_eq!(s.register_refused(&token, "db-01").await, 401, "used once");
    // A rebuilt machine may not have 2FA: not Enabled until the new agent applies it again.
    assert_eq!(s.state("db-01").await, TwoFactorState::Enabling);
    let (status, revision) = s.poll(&new).await;
    assert_eq!((status, revision.map(|a| a.revision)), (200, Some(1)));
    assert!(new.ack(1, None).await);
    assert_eq!(s.state("db-01").await, TwoFactorState::Enabled);

    let issued = s.audit(AuditAction::AgentReinstallToken).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, ACME_ADMIN.0);
    assert!(issued[0].detail.contains(&old.server_id.to_string()), "{}", issued[0].detail);
    let used = s.audit(AuditAction::AgentReinstall).await;
    assert_eq!(used.len(), 1);
    assert!(used[0].detail.contains("replaces the agent of server"), "{}", used[0].detail);
    assert!(used[0].detail.contains("(revision 1) is delivered again"), "{}", used[0].detail);
}
on_both_databases!(
    a_reinstall_token_replaces_the_agent_of_its_own_server_only,
    super::a_reinstall_token_replaces_the_agent_of_its_own_server_only
);

async fn ten_concurrent_registrations_with_one_token_register_one_server(backend: Backend) {
    let s = setup(backend).await;
    for round in 0..3 {
        let token = s.install_token().await;
        let mut attempts = tokio::task::JoinSet::new();
        // Raw requests: the exact statuses (201 once, 401 for the rest) are what is tested.
        for i in 0..10 {
            let (http, url) = (s.app.http.clone(), s.app.url(paths::REGISTER));
            let body =
                RegisterRequest { install_token: token.clone(), facts: debian_facts(&format!("race-{round}-{i}")) };
            attempts.spawn(async move { http.post(url).json(&body).send().await.unwrap().status().as_u16() });
        }
        let mut statuses = attempts.join_all().await;
        statuses.sort();
        assert_eq!(statuses, [201, 401, 401, 401, 401, 401, 401, 401, 401, 401], "round {round}");
        let all = s.app.two_factor_rows(&s.admin, &format!("race-{round}-")).await;
        assert_eq!(all.len(), 1, "one server per token: {all:?}");
    }
}
on_both_databases!(
    ten_concurrent_registrations_with_one_token_register_one_server,
    super::ten_concurrent_registrations_with_one_token_register_one_server
);

async fn tokens_are_listed_with_their_state_and_can_be_revoked(backend: Backend) {
    let s = setup(backend).await;
    let command = s.app.run(&s.admin, CreateInstallCommand {}).await.command;
    let keep = token_of(&command);
    // Install the package, point the service at this console, register, start the service.
    let steps: Vec<&str> = command.lines().collect();
    assert_eq!(steps.len(), 4, "{command}");
    assert_eq!(steps[0], "sudo dpkg -i hostguard-agent_0.1.0_amd64.deb &&", "{command}");
    assert_eq!(
        steps[1],
        format!(
            "printf '%s\\n' 'HOSTGUARD_CONSOLE={}' 'HOSTGUARD_AGENT_ARGS=--insecure-http' | sudo tee /etc/default/hostguard-agent >/dev/null &&",
            s.app.base
        ),
        "the test console is plain http: {command}"
    );
    let (_, agent_part) = steps[2].split_once(" | ").unwrap();
    assert!(agent_part.ends_with("--token-file - --once &&"), "{command}");
    assert!(!agent_part.contains(&keep), "the token is not in the agent's arguments: {command}");
    assert_eq!(steps[3], "sudo systemctl enable hostguard-agent && sudo systemctl restart hostguard-agent");
    s.app.clock.advance(chrono::Duration::seconds(1));
    let doomed = s.install_token().await;

    let list = s.tokens(&s.admin).await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|t| t.state == TokenState::Valid && t.kind == TokenKind::Install), "{list:?}");
    // On the wire: times in RFC 3339 UTC, and never the token itself.
    let wire = s.app.call("agents/tokens", &[], Some(&s.admin)).await.text().await.unwrap();
    let wire: Vec<Value> = serde_json::from_str(&wire).unwrap();
    assert!(wire.iter().all(|t| t["expires"].as_str().unwrap().ends_with('Z')), "{wire:?}");
    let text = wire.iter().map(|t| t.to_string()).collect::<String>();
    assert!(!text.contains(&keep[4..]) && !text.contains(&doomed[4..]), "the list never shows a token");

    // The newest first: `doomed`.
    let doomed_id = list[0].id;
    let revoke = |id: Uuid| RevokeAgentToken { id: id.to_string() };
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    assert_eq!(s.app.refused(&globex, revoke(doomed_id)).await.status, 404, "another tenant's token is not found");
    assert!(s.tokens(&globex).await.is_empty(), "nor listed");

    s.app.run(&s.admin, revoke(doomed_id)).await;
    let refused = s.app.try_register_agent(&doomed, &debian_facts("revoked-host")).await.unwrap_err();
    assert_eq!(
        (agent_status(&refused), agent_error_code(&refused)),
        (401, "AGENT.0401"),
        "a revoked token registers nothing"
    );
    assert_eq!(s.audit(AuditAction::AgentTokenRevoke).await.len(), 1);

    s.register(&keep, "kept-host").await;
    let list = s.tokens(&s.admin).await;
    assert_eq!(list.iter().find(|t| t.id == doomed_id).unwrap().state, TokenState::Revoked);
    let kept = list.iter().find(|t| t.id != doomed_id).unwrap();
    assert_eq!((kept.state, kept.registered.as_deref()), (TokenState::Used, Some("kept-host")));
    let refused = s.app.refused(&s.admin, revoke(kept.id)).await;
    assert_eq!(refused.status, 409, "a used token: {refused}");

    // Expiry.
    let late = s.install_token().await;
    s.app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(s.register_refused(&late, "late-host").await, 401);
    let admin = s.app.sign_in(ACME_ADMIN).await; // the old session has outlived its lifetime
    let list = s.tokens(&admin).await;
    let mut states: Vec<&str> = list.iter().map(|t| t.state.as_str()).collect();
    states.sort();
    assert_eq!(states, ["expired", "revoked", "used"]);
}
on_both_databases!(
    tokens_are_listed_with_their_state_and_can_be_revoked,
    super::tokens_are_listed_with_their_state_and_can_be_revoked
);

async fn every_bad_request_to_the_agent_api_answers_in_its_json_shape(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register(&s.install_token().await, "shape-01").await;
    let url = s.app.url(paths::FACTS);
    // Raw requests: each body is broken on purpose. The answer must read as the API's error body.
    let put = |body: String, content_type: &'static str| {
        let (http, url, credential) = (&s.app.http, url.clone(), agent.credential.clone());
        async move {
            let res = http
                .put(url)
                .bearer_auth(credential)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            let body: ErrorBody =
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not the error body: {text}"));
            (status, body.error_code, body.error_msg)
        }
    };
    let (status, code, _) = put("{not json".into(), "application/json").await;
    assert_eq!((status, code.as_str()), (400, "AGENT.0400"));
    let (status, code, _) = put(facts_json("shape-01").to_string(), "text/plain").await;
    assert_eq!((status, code.as_str()), (415, "AGENT.0415"));
    let mut missing = facts_json("shape-01");
    missing.as_object_mut().unwrap().remove("hostname");
    let (status, code, msg) = put(missing.to_string(), "application/json").await;
    assert_eq!((status, code.as_str()), (422, "AGENT.0422"));
    assert!(msg.contains("hostname"), "{msg}");
    let mut huge = facts_json("shape-01");
    huge["os_name"] = json!("x".repeat(70 * 1024));
    let (status, code, _) = put(huge.to_string(), "application/json").await;
    assert_eq!((status, code.as_str()), (413, "AGENT.0413"));

    // Every fact has a length limit, named when exceeded.
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(&str, Value)> = vec![
        ("hostname", json!(long(65))),
        ("os_name", json!(long(129))),
        ("openssh_version", json!(long(65))),
        ("agent_version", json!(long(33))),
        ("ips", json!(vec!["10.0.0.1"; 33])),
        ("ips", json!([long(1000)])),
        ("conflicting_software", json!(vec!["x"; 33])),
        ("conflicting_software", json!([long(129)])),
        ("must_change_password_accounts", json!(vec!["u"; 257])),
        ("must_change_password_accounts", json!([long(65)])),
        (
            "sshd_match_overrides",
            json!([{"file": long(513), "line": 1, "criteria": "User x", "keyword": "UsePAM", "value": "no"}]),
        ),
        (
            "sshd_drop_in",
            json!({"included": true, "earlier_settings": [{"file": "/etc/ssh/sshd_config", "line": 1, "keyword": "UsePAM", "value": long(513)}]}),
        ),
        (
            "sshd_drop_in",
            json!({"included": true, "earlier_settings": vec![json!({"file": "f", "line": 1, "keyword": "UsePAM", "value": "yes"}); 65]}),
        ),
        ("pam_stack", json!({"problems": [{"file": "/etc/pam.d/sshd", "line": 1, "problem": long(513), "fix": "x"}]})),
        ("pam_stack", json!({"problems": vec![json!({"file": "f", "line": 1, "problem": "p", "fix": "x"}); 65]})),
    ];
    for (field, value) in cases {
        let mut f = facts_json("shape-01");
        f[field] = value;
        let (status, code, msg) = put(f.to_string(), "application/json").await;
        assert_eq!((status, code.as_str()), (422, "AGENT.0422"), "{field}");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    // A heartbeat the agent could send, with an agent version longer than the console keeps.
    let res = s
        .app
        .http
        .post(s.app.url(paths::HEARTBEAT))
        .bearer_auth(&agent.credential)
        .json(&proto::agent::HeartbeatRequest { agent_version: long(33), applied_revision: 0 })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.json::<ErrorBody>().await.unwrap().error_msg.contains("agent_version"));

    // Query strings, unknown calls and wrong methods too.
    for (method, path, want) in [
        ("GET", format!("{}?after=x", paths::CONFIG), 400),
        ("GET", format!("{}/no-such-call", paths::BASE), 404),
        ("GET", paths::REGISTER.to_owned(), 405),
    ] {
        let res = s
            .app
            .http
            .request(method.parse().unwrap(), s.app.url(&path))
            .bearer_auth(&agent.credential)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), want, "{path}");
        let body: ErrorBody = res.json().await.unwrap_or_else(|e| panic!("{path}: not the error body: {e}"));
        assert!(body.error_code.starts_with("AGENT."), "{path}: {body:?}");
    }
    // A register body over the limit is refused before anything is read from the database.
    let res = s
        .app
        .http
        .post(s.app.url(paths::REGISTER))
        .header("content-type", "application/json")
        .body(format!("{{\"install_token\":\"{}\"}}", "x".repeat(100 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<ErrorBody>().await.unwrap().error_code, "AGENT.0413");
}
on_both_databases!(
    every_bad_request_to_the_agent_api_answers_in_its_json_shape,
    super::every_bad_request_to_the_agent_api_answers_in_its_json_shape
);

async fn a_match_block_that_undoes_2fa_is_a_blocker(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register(&s.install_token().await, "match-01").await;
    let f = Facts {
        sshd_match_overrides: vec![SshdMatchOverride {
            file: "/etc/ssh/sshd_config.d/60-deploy.conf".into(),
            line: 2,
            criteria: "User deploy".into(),
            keyword: "AuthenticationMethods".into(),
            value: "publickey".into(),
        }],
        ..debian_facts("match-01")
    };
    agent.put_facts(&f).await;
    let row = s.rows("match-01").await.remove(0);
    let finding = finding(&row, ReadinessRule::SshdMatchOverride);
    assert!(finding.blocker);
    let msg = &finding.message;
    assert!(
        msg.contains("`Match User deploy` block in /etc/ssh/sshd_config.d/60-deploy.conf (line 2)")
            && msg.contains("`AuthenticationMethods publickey`"),
        "{msg}"
    );
    let out = s.enable(agent.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(refusals(&out).contains("Match User deploy"), "{out:?}");
}
on_both_databases!(a_match_block_that_undoes_2fa_is_a_blocker, super::a_match_block_that_undoes_2fa_is_a_blocker);

impl Setup {
    /// Registers `name` and reports `facts` for it as its agent would.
    async fn report(&self, name: &str, facts: &Facts) -> FakeAgent {
        let agent = self.register(&self.install_token().await, name).await;
        agent.put_facts(facts).await;
        agent
    }
}

/// Stock Debian/Ubuntu facts: `KbdInteractiveAuthentication no`, with `drop_in` as the agent
/// reports where HostGuard's drop-in stands (`None`: an agent too old to report it).
fn stock_debian(hostname: &str, drop_in: Option<SshdDropInCheck>) -> Facts {
    Facts { sshd_kbd_interactive: Some(false), sshd_drop_in: drop_in, ..debian_facts(hostname) }
}

fn finding(row: &TwoFactorRow, rule: ReadinessRule) -> &ReadinessItem {
    row.readiness.iter().find(|x| x.rule == rule).unwrap_or_else(|| panic!("{rule:?}: {row:?}"))
}

/// Every reason the first refused server was refused for, as one text.
fn refusals(out: &ChangeResult) -> String {
    out.refused.first().map(|r| r.reasons.join("\n")).unwrap_or_default()
}

async fn kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins(backend: Backend) {
    let s = setup(backend).await;
    let wins = SshdDropInCheck { included: true, ..Default::default() };
    let debian = s.report("deb-01", &stock_debian("deb-01", Some(wins))).await;
    let row = s.rows("deb-01").await.remove(0);
    assert!(row.readiness.iter().all(|x| !x.blocker), "{row:?}");
    let kbd = finding(&row, ReadinessRule::SshdKeyboardInteractive);
    assert_eq!(
        kbd.message,
        "deb-01: sshd has `KbdInteractiveAuthentication no`; HostGuard's agent turns it on when 2FA is enabled (drop-in 50-hostguard.conf)."
    );
    let keys = finding(&row, ReadinessRule::PublicKeyLoginsAskCode);
    assert!(!keys.blocker);
    assert!(keys.message.contains("public key"), "{keys:?}");
    let out = s.enable(debian.server_id).await;
    assert_eq!(out.changed, 1, "{out:?}");
    assert_eq!(s.state("deb-01").await, TwoFactorState::Enabling);

    // An agent that does not report the drop-in (older, or sshd_config unreadable): still blocked.
    let old = s.report("deb-old", &stock_debian("deb-old", None)).await;
    let out = s.enable(old.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(refusals(&out).contains("Set `KbdInteractiveAuthentication yes`"), "{out:?}");
}
on_both_databases!(
    kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins,
    super::kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins
);

async fn a_setting_read_before_the_drop_in_or_a_missing_include_is_a_blocker(backend: Backend) {
    let s = setup(backend).await;
    let setting = |line: u32, keyword: &str, value: &str| SshdSetting {
        file: "/etc/ssh/sshd_config".into(),
        line,
        keyword: keyword.into(),
        value: value.into(),
    };
    let overridden = SshdDropInCheck {
        included: true,
        earlier_settings: vec![setting(3, "KbdInteractiveAuthentication", "no"), setting(1, "UsePAM", "yes")],
        more: 0,
    };
    let early = s.report("early-01", &stock_debian("early-01", Some(overridden))).await;
    let row = s.rows("early-01").await.remove(0);
    assert!(finding(&row, ReadinessRule::SshdDropInOverridden).blocker);
    let blockers = row.readiness.iter().filter(|x| x.blocker).count();
    assert_eq!(blockers, 1, "`UsePAM yes` first is harmless: {row:?}");
    let out = s.enable(early.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    let reasons = refusals(&out);
    assert!(
        reasons.contains("/etc/ssh/sshd_config (line 3) sets `KbdInteractiveAuthentication no` before sshd reads HostGuard's /etc/ssh/sshd_config.d/50-hostguard.conf")
            && reasons.contains("move `Include /etc/ssh/sshd_config.d/*.conf` above it"),
        "{out:?}"
    );

    let missing = SshdDropInCheck { included: false, ..Default::default() };
    let no_include = s.report("noinc-01", &stock_debian("noinc-01", Some(missing))).await;
    let out = s.enable(no_include.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(
        refusals(&out).contains("Add `Include /etc/ssh/sshd_config.d/*.conf` at the top of /etc/ssh/sshd_config"),
        "{out:?}"
    );
}
on_both_databases!(
    a_setting_read_before_the_drop_in_or_a_missing_include_is_a_blocker,
    super::a_setting_read_before_the_drop_in_or_a_missing_include_is_a_blocker
);

async fn a_bad_token_is_turned_away_without_waiting_for_a_writer(backend: Backend) {
    let s = setup(backend).await;
    // Another request holds the database's write lock (on SQLite only one writer at a time).
    let writer = domain::db::write_txn(&s.app.ctx.db).await.unwrap();
    for token in ["hgi_made-up", "", &"x".repeat(201)] {
        let refused = tokio::time::timeout(
            // Under the 5-second wait for a busy database that a writer-bound check would take.
            std::time::Duration::from_secs(4),
            s.app.try_register_agent(token, &debian_facts("no-such")),
        )
        .await
        .expect("answered without waiting for the writer")
        .unwrap_err();
        assert_eq!((agent_status(&refused), agent_error_code(&refused)), (401, "AGENT.0401"), "{token}");
    }
    drop(writer);
}
on_both_databases!(
    a_bad_token_is_turned_away_without_waiting_for_a_writer,
    super::a_bad_token_is_turned_away_without_waiting_for_a_writer
);

/// Issue 15 item 4: the agent's check of the PAM stack is a blocker naming the file, the line and
/// the fix, before any save; another second-factor PAM module blocks on Linux too; and what the
/// agent could not list (item 9) blocks rather than passes.
async fn pam_stack_problems_and_conflicting_modules_block_before_any_save(backend: Backend) {
    let s = setup(backend).await;
    let f = Facts {
        conflicting_software: vec!["pam_duo.so".into()],
        pam_stack: Some(PamStackCheck {
            problems: vec![PamStackProblem {
                file: "/etc/pam.d/common-auth".into(),
                line: 1,
                problem: "`auth sufficient /lib/security/pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped.".into(),
                fix: "remove it, or move it below HostGuard's line.".into(),
            }],
            more: 0,
        }),
        ..debian_facts("duo-01")
    };
    let duo = s.report("duo-01", &f).await;
    let row = s.rows("duo-01").await.remove(0);
    let stack = finding(&row, ReadinessRule::PamStack);
    assert!(stack.blocker);
    assert_eq!(
        stack.message,
        "duo-01: sshd's PAM stack is not safe for 2FA: /etc/pam.d/common-auth (line 1): `auth sufficient /lib/security/pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped. Fix: remove it, or move it below HostGuard's line."
    );
    assert!(finding(&row, ReadinessRule::ConflictingSoftware).blocker);
    let out = s.enable(duo.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    let reasons = refusals(&out);
    assert!(
        reasons.contains("/etc/pam.d/common-auth (line 1)")
            && reasons.contains("pam_duo.so, another second-factor PAM module"),
        "{out:?}"
    );

    // A stack the agent found safe, and one from an agent too old to check it: no finding.
    let f = Facts { pam_stack: Some(PamStackCheck::default()), ..debian_facts("safe-01") };
    let safe = s.report("safe-01", &f).await;
    assert!(s.rows("safe-01").await[0].readiness.is_empty());
    assert_eq!(s.enable(safe.server_id).await.changed, 1);

    // Match settings beyond what the agent lists may skip the code: blocked, with the count.
    let overrides = SshdMatchOverride {
        file: "/etc/ssh/sshd_config".into(),
        line: 1,
        criteria: "User a".into(),
        keyword: "UsePAM".into(),
        value: "yes".into(),
    };
    let f =
        Facts { sshd_match_overrides: vec![overrides; 64], sshd_match_overrides_more: 18, ..debian_facts("many-01") };
    let many = s.report("many-01", &f).await;
    let row = s.rows("many-01").await.remove(0);
    assert!(
        finding(&row, ReadinessRule::SshdMatchOverride).message.contains("18 more sshd `Match` settings"),
        "{row:?}"
    );
    assert_eq!(s.enable(many.server_id).await.changed, 0);
}
on_both_databases!(
    pam_stack_problems_and_conflicting_modules_block_before_any_save,
    super::pam_stack_problems_and_conflicting_modules_block_before_any_save
);

/// Issue 15 item 10: no agent applies 2FA on Windows today, so readiness says so and a save is
/// refused, rather than Ready and a failure after the deadline.
async fn windows_servers_are_refused_as_not_supported_yet(backend: Backend) {
    let s = setup(backend).await;
    let f = Facts {
        os_type: "windows".into(),
        os_name: "Windows Server 2022 Datacenter".into(),
        openssh_version: None,
        sshd_use_pam: None,
        sshd_kbd_interactive: None,
        sshd_permit_empty_passwords: None,
        selinux: None,
        ..debian_facts("rdp-01")
    };
    let rdp = s.report("rdp-01", &f).await;
    let row = s.rows("rdp-01").await.remove(0);
    let windows = finding(&row, ReadinessRule::WindowsUnsupported);
    assert!(windows.blocker);
    assert!(windows.message.starts_with("rdp-01: Windows servers are not supported yet"), "{row:?}");
    let out = s.enable(rdp.server_id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(refusals(&out).contains("Windows servers are not supported yet"), "{out:?}");
    assert_eq!(s.state("rdp-01").await, TwoFactorState::Disabled);
}
on_both_databases!(
    windows_servers_are_refused_as_not_supported_yet,
    super::windows_servers_are_refused_as_not_supported_yet
);

impl Setup {
    /// A heartbeat's HTTP status (204 when the console took it).
    async fn heartbeat(&self, agent: &FakeAgent) -> u16 {
        match agent.try_heartbeat(0).await {
            Ok(()) => 204,
            Err(e) => agent_status(&e),
        }
    }

    /// When the server page says the agent's credential was refused, if it does.
    async fn rejected_on_page(&self, server_id: Uuid) -> Option<chrono::DateTime<chrono::Utc>> {
        self.app.run(&self.admin, GetServer { id: server_id.to_string() }).await.agent_credential_rejected
    }

    async fn rejected_at(&self, server_id: Uuid) -> Option<chrono::DateTime<chrono::Utc>> {
        domain::entities::agent_guard::Entity::find_by_id(server_id)
            .one(&self.app.ctx.db)
            .await
            .unwrap()
            .and_then(|g| g.credential_rejected_at)
            // PostgreSQL keeps microseconds.
            .map(|t| chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap())
    }
}

/// Issue 15, item 3: an agent whose credential was replaced keeps calling and gets 401; the
/// server's page says so, with the fix, until a valid agent is heard from again.
async fn a_refused_credential_shows_on_the_server_page_until_the_agent_is_heard_from(backend: Backend) {
    use domain::Clock;
    let s = setup(backend).await;
    let old = s.register(&s.install_token().await, "app-07").await;
    assert_eq!(s.heartbeat(&old).await, 204);
    assert_eq!(s.rejected_on_page(old.server_id).await, None);

    // Re-installed elsewhere; the old agent is still running.
    let token = s.app.reinstall_token(&s.admin, old.server_id).await;
    let new = s.register(&token, "app-07").await;
    s.app.clock.advance(chrono::Duration::seconds(10));
    let micros =
        |t: chrono::DateTime<chrono::Utc>| chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap();
    let t1 = micros(s.app.clock.now());
    assert_eq!(s.heartbeat(&old).await, 401);
    assert!(s.rejected_on_page(old.server_id).await.is_some(), "the page shows the refused credential");
    assert_eq!(s.rejected_at(old.server_id).await, Some(t1));

    // Written at most once a minute, however often the old agent calls.
    s.app.clock.advance(chrono::Duration::seconds(30));
    for _ in 0..5 {
        assert_eq!(s.heartbeat(&old).await, 401);
    }
    assert_eq!(s.rejected_at(old.server_id).await, Some(t1));
    s.app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(s.heartbeat(&old).await, 401);
    assert_eq!(s.rejected_at(old.server_id).await, Some(micros(s.app.clock.now())));

    // The valid agent is heard from: what was refused before is stale.
    s.app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(s.heartbeat(&new).await, 204);
    assert_eq!(s.rejected_on_page(old.server_id).await, None);

    // The page's words: the fix is a re-install.
    s.app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(s.heartbeat(&old).await, 401);
    let html = s.app.get_page(&format!("/hss/servers/{}", old.server_id), Some(&s.admin)).await.text().await.unwrap();
    assert!(html.contains("Agent credential rejected") && html.contains("re-install the agent"), "{html}");
}
on_both_databases!(
    a_refused_credential_shows_on_the_server_page_until_the_agent_is_heard_from,
    super::a_refused_credential_shows_on_the_server_page_until_the_agent_is_heard_from
);

/// A credential forged with another tenant's server id changes nothing but when a refusal was
/// last noted: not the server, its 2FA, its logins or the audit trail.
async fn a_forged_credential_changes_nothing_but_the_refusal_time(backend: Backend) {
    let s = setup(backend).await;
    let victim = s.register(&s.install_token().await, "victim-01").await;
    let id = victim.server_id;
    let server_before = server::Entity::find_by_id(id).one(&s.app.ctx.db).await.unwrap().unwrap();
    let events_before = audit_event::Entity::find().all(&s.app.ctx.db).await.unwrap().len();
    // Every call an agent makes, with the forged credential.
    let forged = s.app.agent(id, &format!("hga_{}_{}", id.simple(), "A".repeat(43)));
    let start = LoginStart {
        account: "root".into(),
        source_ip: "203.0.113.9".into(),
        service: "sshd".into(),
        tty: "ssh".into(),
        ..Default::default()
    };
    let refusals = [
        forged.try_heartbeat(7).await.unwrap_err(),
        forged.try_put_facts(&debian_facts("evil")).await.unwrap_err(),
        forged.try_ack(1, None).await.unwrap_err(),
        forged.api.login_start(&start).await.unwrap_err(),
        forged.try_report_offline(&OfflineReport { logins: vec![] }).await.unwrap_err(),
        forged.try_poll(0, 0).await.unwrap_err(),
        forged.try_login_policy().await.unwrap_err(),
    ];
    for refused in refusals {
        assert_eq!(agent_status(&refused), 401, "{refused}");
    }
    let server_after = server::Entity::find_by_id(id).one(&s.app.ctx.db).await.unwrap().unwrap();
    assert_eq!(server_after, server_before, "the server is untouched");
    assert_eq!(audit_event::Entity::find().all(&s.app.ctx.db).await.unwrap().len(), events_before);
    let logins = domain::entities::server_login::Entity::find()
        .filter(domain::entities::server_login::Column::ServerId.eq(id))
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    assert!(logins.is_empty());
    assert!(s.rejected_at(id).await.is_some(), "only the refusal is noted");

    // Credentials naming no server, or not shaped like one, note nothing.
    let nobody = Uuid::new_v4();
    for bad in
        [format!("hga_{}_{}", nobody.simple(), "A".repeat(43)), "hga_nope_x".into(), format!("hga_{}_", id.simple())]
    {
        let refused = s.app.agent(nobody, &bad).try_heartbeat(0).await.unwrap_err();
        assert_eq!(agent_status(&refused), 401);
    }
    assert!(s.rejected_at(nobody).await.is_none());
}
on_both_databases!(
    a_forged_credential_changes_nothing_but_the_refusal_time,
    super::a_forged_credential_changes_nothing_but_the_refusal_time
);
