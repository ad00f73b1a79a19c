//! Agent registration and its tokens, attacked: an install token may not take over a server that
//! has an agent (only a re-install token from that server's page may), one token registers one
//! server however many use it at once, tokens are listed and revoked per tenant, and every bad
//! request to the agent API gets an answer in the API's JSON error shape.

use crate::common::*;
use domain::audit::AuditAction;
use domain::entities::{audit_event, server};
use proto::agent::paths;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

struct Setup {
    app: TestApp,
    admin: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    Setup { app, admin }
}

fn facts(hostname: &str) -> Value {
    json!({
        "hostname": hostname, "ips": ["10.0.0.7"], "os_type": "linux", "os_name": "Debian GNU/Linux 12 (bookworm)",
        "openssh_version": "OpenSSH_9.2p1", "sshd_use_pam": true, "sshd_kbd_interactive": true,
        "sshd_permit_empty_passwords": false, "selinux": "disabled", "agent_version": "0.1.0",
        "conflicting_software": [], "must_change_password_accounts": []
    })
}

/// The token in a command as the console shows it: `printf '%s\n' 'hgi_…' | sudo hostguard-agent …`.
fn token_of(command: &str) -> String {
    command.split_whitespace().find(|w| w.starts_with("'hgi_")).expect("a token").trim_matches('\'').to_owned()
}

struct Agent {
    server_id: String,
    credential: String,
}

impl Setup {
    async fn call(&self, cookie: &str, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let res = self.app.call(endpoint, form, Some(cookie)).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn ok(&self, endpoint: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(&self.admin, endpoint, form).await;
        assert_eq!(status, 200, "{endpoint}: {body}");
        body
    }

    async fn install_token(&self) -> String {
        token_of(self.ok("agents/install-token", &[]).await["command"].as_str().unwrap())
    }

    async fn post_register(&self, token: &str, hostname: &str) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(paths::REGISTER))
            .json(&json!({"install_token": token, "facts": facts(hostname)}))
            .send()
            .await
            .unwrap()
    }

    async fn register(&self, token: &str, hostname: &str) -> Agent {
        let res = self.post_register(token, hostname).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        Agent {
            server_id: body["server_id"].as_str().unwrap().to_owned(),
            credential: body["credential"].as_str().unwrap().to_owned(),
        }
    }

    async fn rows(&self, name: &str) -> Vec<Value> {
        let res = self.app.list_two_factor(Some(&self.admin), &[("search", name)]).await;
        let page: Value = res.json().await.unwrap();
        page["items"].as_array().unwrap().iter().filter(|r| r["name"] == name).cloned().collect()
    }

    async fn poll(&self, credential: &str) -> (u16, Option<Value>) {
        let res = self
            .app
            .http
            .get(self.app.url(&paths::config(0, 0)))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, if status == 200 { Some(res.json().await.unwrap()) } else { None })
    }

    async fn ack(&self, credential: &str, revision: i64) -> (u16, Value) {
        let res = self
            .app
            .http
            .post(self.app.url(paths::ACK))
            .bearer_auth(credential)
            .json(&json!({"revision": revision, "ok": true, "error": null}))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    async fn audit(&self, action: AuditAction) -> Vec<audit_event::Model> {
        audit_event::Entity::find().filter(audit_event::Column::Action.eq(action.as_str())).all(&self.app.ctx.db).await.unwrap()
    }
}

async fn an_install_token_never_takes_over_a_server_with_an_agent(backend: Backend) {
    let s = setup(backend).await;
    let first = s.register(&s.install_token().await, "web-01").await;
    s.ok(
        "two-factor/save",
        &[("change[server_ids][]", &first.server_id), ("change[action]", "enable"), ("change[method]", "code")],
    )
    .await;
    s.app.clock.advance(chrono::Duration::seconds(300));
    eventually("the revision is handed over", || async { s.poll(&first.credential).await.1.is_some() }).await;

    // A second install token with the live server's host name: a server of its own.
    let impostor = s.register(&s.install_token().await, "web-01").await;
    assert_ne!(impostor.server_id, first.server_id);
    assert_eq!(s.poll(&first.credential).await.0, 200, "the first agent's credential still works");
    assert_eq!(s.poll(&impostor.credential).await, (204, None), "the newcomer gets none of web-01's revisions");
    let (status, body) = s.ack(&impostor.credential, 1).await;
    assert_eq!((status, body["accepted"].as_bool()), (200, Some(false)), "nor can it acknowledge them");
    let rows = s.rows("web-01").await;
    assert_eq!(rows.len(), 2, "both are listed: {rows:?}");
    let original = rows.iter().find(|r| r["id"] == first.server_id.as_str()).unwrap();
    assert_eq!(original["status"], "enabling", "not Enabled on the impostor's word");

    // The real agent's acknowledgement still counts.
    assert_eq!(s.ack(&first.credential, 1).await.1["accepted"], true);
    let rows = s.rows("web-01").await;
    assert_eq!(rows.iter().find(|r| r["id"] == first.server_id.as_str()).unwrap()["status"], "enabled");
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
    assert_eq!(agent.server_id, pre_id.to_string(), "the pre-registered server is the one registered");
    assert_eq!(s.poll(&agent.credential).await.0, 204);
    // Now it has an agent: the next install token with its name gets a server of its own.
    let other = s.register(&s.install_token().await, "pre-00000").await;
    assert_ne!(other.server_id, agent.server_id);
    assert_eq!(s.poll(&agent.credential).await.0, 204, "and the first agent keeps working");
}
on_both_databases!(
    an_install_token_claims_a_pre_registered_server_without_an_agent,
    super::an_install_token_claims_a_pre_registered_server_without_an_agent
);

async fn a_reinstall_token_replaces_the_agent_of_its_own_server_only(backend: Backend) {
    let s = setup(backend).await;
    let old = s.register(&s.install_token().await, "db-01").await;
    s.ok(
        "two-factor/save",
        &[("change[server_ids][]", &old.server_id), ("change[action]", "enable"), ("change[method]", "code")],
    )
    .await;
    s.app.clock.advance(chrono::Duration::seconds(300));
    eventually("the revision is handed over", || async { s.poll(&old.credential).await.1.is_some() }).await;
    assert_eq!(s.ack(&old.credential, 1).await.1["accepted"], true);
    assert_eq!(s.rows("db-01").await[0]["status"], "enabled");

    // Another tenant cannot issue one for Acme's server; a malformed id is not found either.
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let (status, _) = s.call(&globex, "agents/reinstall-token", &[("server_id", &old.server_id)]).await;
    assert_eq!(status, 404);
    let (status, _) = s.call(&s.admin, "agents/reinstall-token", &[("server_id", "nope")]).await;
    assert_eq!(status, 404);

    let cmd = s.ok("agents/reinstall-token", &[("server_id", &old.server_id)]).await;
    let command = cmd["command"].as_str().unwrap();
    let token = token_of(command);
    let register = command.lines().find(|l| l.contains("sudo hostguard-agent")).unwrap();
    let (_, agent_part) = register.split_once(" | ").unwrap();
    assert!(!agent_part.contains(&token), "never in the agent's arguments: {command}");

    // The rebuilt machine may report another name; the token decides which server it is.
    let new = s.register(&token, "db-01-rebuilt").await;
    assert_eq!(new.server_id, old.server_id);
    assert_eq!(s.poll(&old.credential).await.0, 401, "the replaced agent's credential stops working");
    assert_eq!(s.post_register(&token, "db-01").await.status(), 401, "used once");
    // A rebuilt machine may not have 2FA: not Enabled until the new agent applies it again.
    assert_eq!(s.rows("db-01").await[0]["status"], "enabling");
    let (status, revision) = s.poll(&new.credential).await;
    assert_eq!((status, revision.unwrap()["revision"].as_i64()), (200, Some(1)));
    assert_eq!(s.ack(&new.credential, 1).await.1["accepted"], true);
    assert_eq!(s.rows("db-01").await[0]["status"], "enabled");

    let issued = s.audit(AuditAction::AgentReinstallToken).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, ACME_ADMIN.0);
    assert!(issued[0].detail.contains(&old.server_id), "{}", issued[0].detail);
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
        for i in 0..10 {
            let (http, url) = (s.app.http.clone(), s.app.url(paths::REGISTER));
            let body = json!({"install_token": token, "facts": facts(&format!("race-{round}-{i}"))});
            attempts.spawn(async move { http.post(url).json(&body).send().await.unwrap().status().as_u16() });
        }
        let mut statuses = attempts.join_all().await;
        statuses.sort();
        assert_eq!(statuses, [201, 401, 401, 401, 401, 401, 401, 401, 401, 401], "round {round}");
        let res = s.app.list_two_factor(Some(&s.admin), &[("search", &format!("race-{round}-"))]).await;
        let all = res.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
        assert_eq!(all.len(), 1, "one server per token: {all:?}");
    }
}
on_both_databases!(
    ten_concurrent_registrations_with_one_token_register_one_server,
    super::ten_concurrent_registrations_with_one_token_register_one_server
);

async fn tokens_are_listed_with_their_state_and_can_be_revoked(backend: Backend) {
    let s = setup(backend).await;
    let command = s.ok("agents/install-token", &[]).await["command"].as_str().unwrap().to_owned();
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

    let list = s.ok("agents/tokens", &[]).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|t| t["state"] == "valid" && t["kind"] == "install"), "{list:?}");
    // RFC 3339 in UTC.
    assert!(list.iter().all(|t| t["expires"].as_str().unwrap().ends_with('Z')), "{list:?}");
    let text = list.iter().map(|t| t.to_string()).collect::<String>();
    assert!(!text.contains(&keep[4..]) && !text.contains(&doomed[4..]), "the list never shows a token");

    // The newest first: `doomed`.
    let doomed_id = list[0]["id"].as_str().unwrap().to_owned();
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let (status, _) = s.call(&globex, "agents/tokens/revoke", &[("id", &doomed_id)]).await;
    assert_eq!(status, 404, "another tenant's token is not found");
    let (status, body) = s.call(&globex, "agents/tokens", &[]).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(0)), "nor listed");

    s.ok("agents/tokens/revoke", &[("id", &doomed_id)]).await;
    let res = s.post_register(&doomed, "revoked-host").await;
    assert_eq!(res.status(), 401, "a revoked token registers nothing");
    assert_eq!(res.json::<Value>().await.unwrap()["error_code"], "AGENT.0401");
    assert_eq!(s.audit(AuditAction::AgentTokenRevoke).await.len(), 1);

    s.register(&keep, "kept-host").await;
    let list = s.ok("agents/tokens", &[]).await;
    let state = |id: &str| list.as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(state(&doomed_id)["state"], "revoked");
    let kept_id = list.as_array().unwrap().iter().find(|t| t["id"] != doomed_id.as_str()).unwrap()["id"].clone();
    let kept = state(kept_id.as_str().unwrap());
    assert_eq!((kept["state"].as_str(), kept["registered"].as_str()), (Some("used"), Some("kept-host")));
    let (status, body) = s.call(&s.admin, "agents/tokens/revoke", &[("id", kept_id.as_str().unwrap())]).await;
    assert_eq!(status, 409, "a used token: {body}");

    // Expiry.
    let late = s.install_token().await;
    s.app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(s.post_register(&late, "late-host").await.status(), 401);
    let admin = s.app.sign_in(ACME_ADMIN).await; // the old session has outlived its lifetime
    let (_, list) = s.call(&admin, "agents/tokens", &[]).await;
    let mut states: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["state"].as_str().unwrap()).collect();
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
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
            (status, body["error_code"].as_str().unwrap_or_default().to_owned(), body["error_msg"].to_string())
        }
    };
    let (status, code, _) = put("{not json".into(), "application/json").await;
    assert_eq!((status, code.as_str()), (400, "AGENT.0400"));
    let (status, code, _) = put(facts("shape-01").to_string(), "text/plain").await;
    assert_eq!((status, code.as_str()), (415, "AGENT.0415"));
    let mut missing = facts("shape-01");
    missing.as_object_mut().unwrap().remove("hostname");
    let (status, code, msg) = put(missing.to_string(), "application/json").await;
    assert_eq!((status, code.as_str()), (422, "AGENT.0422"));
    assert!(msg.contains("hostname"), "{msg}");
    let mut huge = facts("shape-01");
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
        let mut f = facts("shape-01");
        f[field] = value;
        let (status, code, msg) = put(f.to_string(), "application/json").await;
        assert_eq!((status, code.as_str()), (422, "AGENT.0422"), "{field}");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    let res = s
        .app
        .http
        .post(s.app.url(paths::HEARTBEAT))
        .bearer_auth(&agent.credential)
        .json(&json!({"agent_version": long(33), "applied_revision": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.json::<Value>().await.unwrap()["error_msg"].as_str().unwrap().contains("agent_version"));

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
        let body: Value = res.json().await.unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        assert!(body["error_code"].as_str().unwrap().starts_with("AGENT."), "{path}: {body}");
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
    assert_eq!(res.json::<Value>().await.unwrap()["error_code"], "AGENT.0413");
}
on_both_databases!(
    every_bad_request_to_the_agent_api_answers_in_its_json_shape,
    super::every_bad_request_to_the_agent_api_answers_in_its_json_shape
);

async fn a_match_block_that_undoes_2fa_is_a_blocker(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register(&s.install_token().await, "match-01").await;
    let mut f = facts("match-01");
    f["sshd_match_overrides"] = json!([{
        "file": "/etc/ssh/sshd_config.d/60-deploy.conf", "line": 2, "criteria": "User deploy",
        "keyword": "AuthenticationMethods", "value": "publickey"
    }]);
    let res =
        s.app.http.put(s.app.url(paths::FACTS)).bearer_auth(&agent.credential).json(&f).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let row = s.rows("match-01").await.remove(0);
    let finding = row["readiness"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "sshd_match_override")
        .cloned()
        .unwrap_or_else(|| panic!("{row}"));
    assert_eq!(finding["blocker"], true);
    let msg = finding["message"].as_str().unwrap();
    assert!(
        msg.contains("`Match User deploy` block in /etc/ssh/sshd_config.d/60-deploy.conf (line 2)")
            && msg.contains("`AuthenticationMethods publickey`"),
        "{msg}"
    );
    let out = s
        .ok(
            "two-factor/save",
            &[("change[server_ids][]", &agent.server_id), ("change[action]", "enable"), ("change[method]", "code")],
        )
        .await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(out["refused"][0]["reasons"].to_string().contains("Match User deploy"), "{out}");
}
on_both_databases!(a_match_block_that_undoes_2fa_is_a_blocker, super::a_match_block_that_undoes_2fa_is_a_blocker);

impl Setup {
    /// Registers `name` and reports `facts` for it as its agent would.
    async fn report(&self, name: &str, facts: &Value) -> Agent {
        let agent = self.register(&self.install_token().await, name).await;
        let res = self
            .app
            .http
            .put(self.app.url(paths::FACTS))
            .bearer_auth(&agent.credential)
            .json(facts)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        agent
    }

    async fn enable(&self, server_id: &str) -> Value {
        self.ok(
            "two-factor/save",
            &[("change[server_ids][]", server_id), ("change[action]", "enable"), ("change[method]", "code")],
        )
        .await
    }
}

/// Stock Debian/Ubuntu facts: `KbdInteractiveAuthentication no`, with `drop_in` as the agent
/// reports where HostGuard's drop-in stands (`None`: an agent too old to report it).
fn stock_debian(hostname: &str, drop_in: Option<Value>) -> Value {
    let mut f = facts(hostname);
    f["sshd_kbd_interactive"] = json!(false);
    if let Some(d) = drop_in {
        f["sshd_drop_in"] = d;
    }
    f
}

fn finding<'a>(row: &'a Value, rule: &str) -> &'a Value {
    row["readiness"].as_array().unwrap().iter().find(|x| x["rule"] == rule).unwrap_or_else(|| panic!("{rule}: {row}"))
}

async fn kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins(backend: Backend) {
    let s = setup(backend).await;
    let wins = json!({"included": true, "earlier_settings": []});
    let debian = s.report("deb-01", &stock_debian("deb-01", Some(wins))).await;
    let row = s.rows("deb-01").await.remove(0);
    assert!(row["readiness"].as_array().unwrap().iter().all(|x| x["blocker"] == false), "{row}");
    let kbd = finding(&row, "sshd_keyboard_interactive");
    assert_eq!(
        kbd["message"],
        "deb-01: sshd has `KbdInteractiveAuthentication no`; HostGuard's agent turns it on when 2FA is enabled (drop-in 50-hostguard.conf)."
    );
    let keys = finding(&row, "public_key_logins_ask_code");
    assert_eq!(keys["blocker"], false);
    assert!(keys["message"].as_str().unwrap().contains("public key"), "{keys}");
    let out = s.enable(&debian.server_id).await;
    assert_eq!(out["changed"], 1, "{out}");
    assert_eq!(s.rows("deb-01").await[0]["status"], "enabling");

    // An agent that does not report the drop-in (older, or sshd_config unreadable): still blocked.
    let old = s.report("deb-old", &stock_debian("deb-old", None)).await;
    let out = s.enable(&old.server_id).await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(out["refused"][0]["reasons"].to_string().contains("Set `KbdInteractiveAuthentication yes`"), "{out}");
}
on_both_databases!(
    kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins,
    super::kbd_interactive_off_is_only_a_warning_when_the_agents_drop_in_wins
);

async fn a_setting_read_before_the_drop_in_or_a_missing_include_is_a_blocker(backend: Backend) {
    let s = setup(backend).await;
    let overridden = json!({"included": true, "earlier_settings": [
        {"file": "/etc/ssh/sshd_config", "line": 3, "keyword": "KbdInteractiveAuthentication", "value": "no"},
        {"file": "/etc/ssh/sshd_config", "line": 1, "keyword": "UsePAM", "value": "yes"}
    ]});
    let early = s.report("early-01", &stock_debian("early-01", Some(overridden))).await;
    let row = s.rows("early-01").await.remove(0);
    let blocker = finding(&row, "sshd_drop_in_overridden");
    assert_eq!(blocker["blocker"], true);
    let blockers = row["readiness"].as_array().unwrap().iter().filter(|x| x["blocker"] == true).count();
    assert_eq!(blockers, 1, "`UsePAM yes` first is harmless: {row}");
    let out = s.enable(&early.server_id).await;
    assert_eq!(out["changed"], 0, "{out}");
    let reasons = out["refused"][0]["reasons"].to_string();
    assert!(
        reasons.contains("/etc/ssh/sshd_config (line 3) sets `KbdInteractiveAuthentication no` before sshd reads HostGuard's /etc/ssh/sshd_config.d/50-hostguard.conf")
            && reasons.contains("move `Include /etc/ssh/sshd_config.d/*.conf` above it"),
        "{out}"
    );

    let missing = json!({"included": false, "earlier_settings": []});
    let no_include = s.report("noinc-01", &stock_debian("noinc-01", Some(missing))).await;
    let out = s.enable(&no_include.server_id).await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(
        out["refused"][0]["reasons"]
            .to_string()
            .contains("Add `Include /etc/ssh/sshd_config.d/*.conf` at the top of /etc/ssh/sshd_config"),
        "{out}"
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
    let started = std::time::Instant::now();
    for token in ["hgi_made-up", "", &"x".repeat(201)] {
        let res = tokio::time::timeout(std::time::Duration::from_secs(3), s.post_register(token, "no-such"))
            .await
            .expect("answered without waiting for the writer");
        assert_eq!(res.status(), 401, "{token}");
        assert_eq!(res.json::<Value>().await.unwrap()["error_code"], "AGENT.0401");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
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
    let mut f = facts("duo-01");
    f["conflicting_software"] = json!(["pam_duo.so"]);
    f["pam_stack"] = json!({"problems": [{
        "file": "/etc/pam.d/common-auth", "line": 1,
        "problem": "`auth sufficient /lib/security/pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped.",
        "fix": "remove it, or move it below HostGuard's line."
    }], "more": 0});
    let duo = s.report("duo-01", &f).await;
    let row = s.rows("duo-01").await.remove(0);
    let stack = finding(&row, "pam_stack");
    assert_eq!(stack["blocker"], true);
    assert_eq!(
        stack["message"],
        "duo-01: sshd's PAM stack is not safe for 2FA: /etc/pam.d/common-auth (line 1): `auth sufficient /lib/security/pam_duo.so` can end the login with success before HostGuard's module runs, so the second factor is skipped. Fix: remove it, or move it below HostGuard's line."
    );
    assert_eq!(finding(&row, "conflicting_software")["blocker"], true);
    let out = s.enable(&duo.server_id).await;
    assert_eq!(out["changed"], 0, "{out}");
    let reasons = out["refused"][0]["reasons"].to_string();
    assert!(
        reasons.contains("/etc/pam.d/common-auth (line 1)")
            && reasons.contains("pam_duo.so, another second-factor PAM module"),
        "{out}"
    );

    // A stack the agent found safe, and one from an agent too old to check it: no finding.
    let mut f = facts("safe-01");
    f["pam_stack"] = json!({"problems": [], "more": 0});
    let safe = s.report("safe-01", &f).await;
    assert!(s.rows("safe-01").await[0]["readiness"].as_array().unwrap().is_empty());
    assert_eq!(s.enable(&safe.server_id).await["changed"], 1);

    // Match settings beyond what the agent lists may skip the code: blocked, with the count.
    let mut f = facts("many-01");
    f["sshd_match_overrides"] = json!(vec![
        json!({"file": "/etc/ssh/sshd_config", "line": 1, "criteria": "User a", "keyword": "UsePAM", "value": "yes"});
        64
    ]);
    f["sshd_match_overrides_more"] = json!(18);
    let many = s.report("many-01", &f).await;
    let row = s.rows("many-01").await.remove(0);
    assert!(
        finding(&row, "sshd_match_override")["message"].as_str().unwrap().contains("18 more sshd `Match` settings"),
        "{row}"
    );
    assert_eq!(s.enable(&many.server_id).await["changed"], 0);
}
on_both_databases!(
    pam_stack_problems_and_conflicting_modules_block_before_any_save,
    super::pam_stack_problems_and_conflicting_modules_block_before_any_save
);

/// Issue 15 item 10: no agent applies 2FA on Windows today, so readiness says so and a save is
/// refused, rather than Ready and a failure after the deadline.
async fn windows_servers_are_refused_as_not_supported_yet(backend: Backend) {
    let s = setup(backend).await;
    let mut f = facts("rdp-01");
    f["os_type"] = json!("windows");
    f["os_name"] = json!("Windows Server 2022 Datacenter");
    for k in ["openssh_version", "sshd_use_pam", "sshd_kbd_interactive", "sshd_permit_empty_passwords", "selinux"] {
        f[k] = Value::Null;
    }
    let rdp = s.report("rdp-01", &f).await;
    let row = s.rows("rdp-01").await.remove(0);
    let windows = finding(&row, "windows_unsupported");
    assert_eq!(windows["blocker"], true);
    assert!(windows["message"].as_str().unwrap().starts_with("rdp-01: Windows servers are not supported yet"), "{row}");
    let out = s.enable(&rdp.server_id).await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(out["refused"][0]["reasons"].to_string().contains("Windows servers are not supported yet"), "{out}");
    assert_eq!(s.rows("rdp-01").await[0]["status"], "disabled");
}
on_both_databases!(
    windows_servers_are_refused_as_not_supported_yet,
    super::windows_servers_are_refused_as_not_supported_yet
);

impl Setup {
    async fn heartbeat(&self, credential: &str) -> u16 {
        let res = self
            .app
            .http
            .post(self.app.url(paths::HEARTBEAT))
            .bearer_auth(credential)
            .json(&json!({"agent_version": "0.1.0", "applied_revision": 0}))
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }

    /// When the server page says the agent's credential was refused, if it does.
    async fn rejected_on_page(&self, server_id: &str) -> Option<String> {
        let page = self.ok("servers/get", &[("id", server_id)]).await;
        page["agent_credential_rejected"].as_str().map(str::to_owned)
    }

    async fn rejected_at(&self, server_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let id = uuid::Uuid::parse_str(server_id).unwrap();
        domain::entities::agent_guard::Entity::find_by_id(id)
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
    assert_eq!(s.heartbeat(&old.credential).await, 204);
    assert_eq!(s.rejected_on_page(&old.server_id).await, None);

    // Re-installed elsewhere; the old agent is still running.
    let token = token_of(s.ok("agents/reinstall-token", &[("server_id", &old.server_id)]).await["command"].as_str().unwrap());
    let new = s.register(&token, "app-07").await;
    s.app.clock.advance(chrono::Duration::seconds(10));
    let micros = |t: chrono::DateTime<chrono::Utc>| chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap();
    let t1 = micros(s.app.clock.now());
    assert_eq!(s.heartbeat(&old.credential).await, 401);
    assert!(s.rejected_on_page(&old.server_id).await.is_some(), "the page shows the refused credential");
    assert_eq!(s.rejected_at(&old.server_id).await, Some(t1));

    // Written at most once a minute, however often the old agent calls.
    s.app.clock.advance(chrono::Duration::seconds(30));
    for _ in 0..5 {
        assert_eq!(s.heartbeat(&old.credential).await, 401);
    }
    assert_eq!(s.rejected_at(&old.server_id).await, Some(t1));
    s.app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(s.heartbeat(&old.credential).await, 401);
    assert_eq!(s.rejected_at(&old.server_id).await, Some(micros(s.app.clock.now())));

    // The valid agent is heard from: what was refused before is stale.
    s.app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(s.heartbeat(&new.credential).await, 204);
    assert_eq!(s.rejected_on_page(&old.server_id).await, None);

    // The page's words: the fix is a re-install.
    s.app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(s.heartbeat(&old.credential).await, 401);
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
    let id = uuid::Uuid::parse_str(&victim.server_id).unwrap();
    let server_before = server::Entity::find_by_id(id).one(&s.app.ctx.db).await.unwrap().unwrap();
    let events_before = audit_event::Entity::find().all(&s.app.ctx.db).await.unwrap().len();
    let forged = format!("hga_{}_{}", id.simple(), "A".repeat(43));
    let http = &s.app.http;
    let calls = [
        http.post(s.app.url(paths::HEARTBEAT)).json(&json!({"agent_version": "9", "applied_revision": 7})),
        http.put(s.app.url(paths::FACTS)).json(&facts("evil")),
        http.post(s.app.url(paths::ACK)).json(&json!({"revision": 1, "ok": true, "error": null})),
        http.post(s.app.url(paths::LOGINS))
            .json(&json!({"account": "root", "source_ip": "203.0.113.9", "service": "sshd", "tty": "ssh"})),
        http.post(s.app.url(paths::LOGINS_OFFLINE)).json(&json!({"logins": []})),
        http.get(s.app.url(&paths::config(0, 0))),
        http.get(s.app.url(paths::LOGIN_POLICY)),
    ];
    for call in calls {
        let res = call.bearer_auth(&forged).send().await.unwrap();
        assert_eq!(res.status(), 401);
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
    assert!(s.rejected_at(&victim.server_id).await.is_some(), "only the refusal is noted");

    // Credentials naming no server, or not shaped like one, note nothing.
    let nobody = uuid::Uuid::new_v4();
    for bad in [format!("hga_{}_{}", nobody.simple(), "A".repeat(43)), "hga_nope_x".into(), format!("hga_{}_", id.simple())] {
        let res = s.app.http.post(s.app.url(paths::HEARTBEAT)).bearer_auth(&bad)
            .json(&json!({"agent_version": "9", "applied_revision": 0})).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    assert!(s.rejected_at(&nobody.to_string()).await.is_none());
}
on_both_databases!(
    a_forged_credential_changes_nothing_but_the_refusal_time,
    super::a_forged_credential_changes_nothing_but_the_refusal_time
);
