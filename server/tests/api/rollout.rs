//! The 2FA rollout from the console's side: the Two-Factor Authentication tab's server
//! functions, the agent API, the durable jobs (restarts, replicas, exactly once) and tenancy.
//! The real agent binary against the real server is in `agent_e2e.rs`.

use crate::common::*;
use domain::audit::AuditAction;
use domain::entities::{rollout_job, server, subscription, two_factor_config};
use proto::agent::paths;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use std::time::Duration;

const DELAY: chrono::Duration = chrono::Duration::seconds(300);

struct Setup {
    app: TestApp,
    admin: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    Setup { app, admin }
}

/// An agent speaking the agent API, as the real one does.
struct FakeAgentClient<'a> {
    app: &'a TestApp,
    credential: String,
    server_id: String,
}

/// The form of a `two-factor/save`: `change[server_ids][]` once per server.
fn change_form<'a>(ids: &[&'a str], action: &'a str, method: &'a str, topic: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut form: Vec<(&str, &str)> = ids.iter().map(|id| ("change[server_ids][]", *id)).collect();
    form.extend([("change[action]", action), ("change[method]", method), ("change[topic_id]", topic)]);
    form
}

fn facts(hostname: &str) -> Value {
    json!({
        "hostname": hostname, "ips": ["10.0.0.7", "fd00::7"], "os_type": "linux", "os_name": "Debian GNU/Linux 12 (bookworm)",
        "openssh_version": "OpenSSH_9.2p1", "sshd_use_pam": true, "sshd_kbd_interactive": true,
        "sshd_permit_empty_passwords": false, "selinux": "disabled", "agent_version": "0.1.0",
        "conflicting_software": [], "must_change_password_accounts": []
    })
}

impl Setup {
    async fn json(&self, endpoint: &str, form: &[(&str, &str)]) -> Value {
        let res = self.app.call(endpoint, form, Some(&self.admin)).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{endpoint}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn list(&self, search: &str) -> Vec<Value> {
        self.list_with(&[("search", search)]).await["items"].as_array().unwrap().clone()
    }

    async fn list_with(&self, given: &[(&str, &str)]) -> Value {
        let res = self.app.list_two_factor(Some(&self.admin), given).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "two-factor/list: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn row(&self, name: &str) -> Value {
        self.list(name).await.into_iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} listed"))
    }

    async fn save(&self, ids: &[&str], action: &str, method: &str, topic: &str) -> reqwest::Response {
        self.app.call("two-factor/save", &change_form(ids, action, method, topic), Some(&self.admin)).await
    }

    async fn install_token(&self) -> String {
        let cmd = self.json("agents/install-token", &[]).await;
        let command = cmd["command"].as_str().unwrap();
        // The token is the quoted word piped to the agent (`printf '%s\n' 'hgi_…' | sudo …`).
        command.split_whitespace().find(|w| w.starts_with("'hgi_")).unwrap().trim_matches('\'').to_owned()
    }

    async fn register(&self, hostname: &str) -> FakeAgentClient<'_> {
        let token = self.install_token().await;
        let res = self
            .app
            .http
            .post(self.app.url(paths::REGISTER))
            .json(&json!({"install_token": token, "facts": facts(hostname)}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        FakeAgentClient {
            app: &self.app,
            credential: body["credential"].as_str().unwrap().to_owned(),
            server_id: body["server_id"].as_str().unwrap().to_owned(),
        }
    }

    /// A topic of Acme with one confirmed subscription.
    async fn confirmed_topic(&self, name: &str) -> String {
        let res =
            self.app.call("topics/create", &[("name", name), ("display_name", "Acme codes")], Some(&self.admin)).await;
        let id: String = res.json().await.unwrap();
        let res = self
            .app
            .call(
                "topics/subscribe",
                &[("topic_id", &id), ("protocol", "email"), ("endpoints", "oncall@acme.example"), ("remark", "")],
                Some(&self.admin),
            )
            .await;
        assert_eq!(res.status(), 200);
        // The confirmation link itself is tested in notifications.rs; here the endpoint is simply confirmed.
        subscription::Entity::update_many()
            .col_expr(subscription::Column::Status, sea_orm::sea_query::Expr::value("confirmed"))
            .filter(subscription::Column::TopicId.eq(uuid::Uuid::parse_str(&id).unwrap()))
            .exec(&self.app.ctx.db)
            .await
            .unwrap();
        id
    }
}

impl FakeAgentClient<'_> {
    async fn poll(&self, after: i64, wait: u64) -> Option<Value> {
        let res = self
            .app
            .http
            .get(self.app.url(&paths::config(after, wait)))
            .bearer_auth(&self.credential)
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => Some(res.json().await.unwrap()),
            204 => None,
            other => panic!("poll: {other} {}", res.text().await.unwrap()),
        }
    }

    /// The agent says it is alive, as the real one does every few seconds.
    async fn heartbeat(&self) {
        self.heartbeat_applied(0).await;
    }

    /// A heartbeat naming the revision the agent has applied.
    async fn heartbeat_applied(&self, revision: i64) {
        let res = self
            .app
            .http
            .post(self.app.url(paths::HEARTBEAT))
            .bearer_auth(&self.credential)
            .json(&json!({"agent_version": "0.1.0", "applied_revision": revision}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    }

    /// Waits (the clock advanced) until the console hands over a revision newer than `after`.
    async fn next_revision(&self, after: i64) -> Value {
        for _ in 0..100 {
            if let Some(a) = self.poll(after, 1).await {
                return a;
            }
        }
        panic!("no revision after {after}")
    }

    /// Facts as reported by the agent, changed by `change`.
    async fn report_facts(&self, change: impl FnOnce(&mut Value)) {
        let mut f = facts("edge-facts");
        change(&mut f);
        let res =
            self.app.http.put(self.app.url(paths::FACTS)).bearer_auth(&self.credential).json(&f).send().await.unwrap();
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    }

    async fn ack(&self, revision: i64, error: Option<&str>) -> bool {
        let res = self
            .app
            .http
            .post(self.app.url(paths::ACK))
            .bearer_auth(&self.credential)
            .json(&json!({"revision": revision, "ok": error.is_none(), "error": error}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["accepted"].as_bool().unwrap()
    }
}

async fn a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-01").await;
    let row = s.row("edge-01").await;
    assert_eq!(row["status"], "disabled");
    assert_eq!(row["agent_online"], true);
    assert_eq!(row["ip"], "10.0.0.7");

    let topic = s.confirmed_topic("codes").await;
    let res = s.save(&[&agent.server_id], "enable", "sms", &topic).await;
    assert_eq!(res.status(), 200);
    let row = s.row("edge-01").await;
    assert_eq!(row["status"], "enabling");
    assert_eq!(row["seconds_left"], 300);
    assert_eq!(row["method"], "sms");
    assert_eq!(row["topic"], "Acme codes");
    assert!(agent.poll(0, 0).await.is_none(), "nothing before the delay");

    // The agent waits in a long poll; the job runs when the delay is over and wakes it.
    let waiting = agent.poll(0, 20);
    let advance = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.app.clock.advance(DELAY);
    };
    let (assignment, ()) = tokio::join!(waiting, advance);
    let assignment = assignment.expect("the revision arrives in the long poll");
    assert_eq!(assignment["revision"], 1);
    assert_eq!(assignment["enabled"], true);
    assert_eq!(assignment["method"], "sms");
    assert!(assignment["topic_urn"].as_str().unwrap().ends_with(":codes"));
    let row = s.row("edge-01").await;
    assert_eq!((row["status"].as_str(), row["seconds_left"].as_i64()), (Some("enabling"), Some(0)), "handed over");

    assert!(agent.ack(1, None).await);
    assert_eq!(s.row("edge-01").await["status"], "enabled");
    let page = s.json("servers/get", &[("id", &agent.server_id)]).await;
    assert_eq!(page["two_factor"], "Enabled (SMS/Email, topic Acme codes)");
    assert_eq!(page["agent_version"], "0.1.0");
    assert_eq!(page["ips"], json!(["10.0.0.7", "fd00::7"]));
    assert!(agent.poll(1, 0).await.is_none(), "nothing newer than what it applied");

    // Disabling: the agent reports an error, the change fails with its reason, retry schedules it again.
    assert_eq!(s.save(&[&agent.server_id], "disable", "", "").await.status(), 200);
    assert_eq!(s.row("edge-01").await["status"], "disabling");
    s.app.clock.advance(DELAY);
    let a = {
        let mut found = None;
        for _ in 0..100 {
            found = agent.poll(1, 1).await;
            if found.is_some() {
                break;
            }
        }
        found.expect("the disable revision")
    };
    assert_eq!((a["revision"].as_i64(), a["enabled"].as_bool()), (Some(2), Some(false)));
    assert!(agent.ack(2, Some("sshd -t failed: line 3: Bad configuration option")).await);
    let row = s.row("edge-01").await;
    assert_eq!(row["status"], "failed");
    assert!(row["reason"].as_str().unwrap().contains("sshd -t failed"), "{row}");
    let retried = s.json("two-factor/retry", &[("server_ids[]", &agent.server_id)]).await;
    assert_eq!(retried["changed"], 1);
    assert_eq!(s.row("edge-01").await["status"], "disabling");

    let audit = s.json("audit/list", &[]).await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["agent.register", "2fa.enable", "2fa.applied", "2fa.disable", "2fa.failed", "2fa.retry"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
on_both_databases!(
    a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges,
    super::a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges
);

async fn cancel_supersede_stale_ack_and_deadline(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-02").await;
    let id = agent.server_id.clone();

    // Cancel while waiting: the job never runs.
    assert_eq!(s.save(&[&id], "enable", "code", "").await.status(), 200);
    let canceled = s.json("two-factor/cancel", &[("server_ids[]", &id)]).await;
    assert_eq!(canceled["changed"], 1);
    assert_eq!(s.row("edge-02").await["status"], "disabled");
    s.app.clock.advance(DELAY * 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(agent.poll(0, 0).await.is_none());
    let again = s.json("two-factor/cancel", &[("server_ids[]", &id)]).await;
    assert_eq!(again["changed"], 0);
    assert!(again["refused"][0]["reasons"][0].as_str().unwrap().contains("no pending change"), "{again}");

    // A newer revision supersedes one not yet applied: only the newest is handed over. (The
    // agent has been silent for the 10 minutes above: it speaks up first, or it is offline.)
    agent.heartbeat().await;
    assert_eq!(s.save(&[&id], "enable", "code", "").await.json::<Value>().await.unwrap()["changed"], 1);
    s.app.clock.advance(chrono::Duration::seconds(100));
    let topic = s.confirmed_topic("late").await;
    assert_eq!(s.save(&[&id], "enable", "sms", &topic).await.status(), 200);
    s.app.clock.advance(chrono::Duration::seconds(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(agent.poll(0, 0).await.is_none(), "the first revision's time does not count");
    s.app.clock.advance(chrono::Duration::seconds(100));
    let a = agent.poll(0, 10).await.expect("the newest revision");
    assert_eq!((a["revision"].as_i64(), a["method"].as_str()), (Some(3), Some("sms")));
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .order_by_asc(rollout_job::Column::Revision)
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    let statuses: Vec<(i64, &str)> = jobs.iter().map(|j| (j.revision, j.status.as_str())).collect();
    assert_eq!(statuses, vec![(1, "canceled"), (2, "superseded"), (3, "done")]);

    // An ack of an older revision changes nothing.
    assert!(!agent.ack(2, None).await);
    assert_eq!(s.row("edge-02").await["status"], "enabling");

    // Silent past the deadline: failed, saying so.
    s.app.clock.advance(chrono::Duration::minutes(11));
    eventually("the change fails after the deadline", || async { s.row("edge-02").await["status"] == "failed" }).await;
    let row = s.row("edge-02").await;
    assert!(row["reason"].as_str().unwrap().contains("did not acknowledge within 10 minutes"), "{row}");
    // The agent applied it after all: the host has 2FA on, so the console says so, and the
    // audit trail says it came late.
    assert!(agent.ack(3, None).await, "a late applied ack counts");
    assert_eq!(s.row("edge-02").await["status"], "enabled");
    let late = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::Action.eq(AuditAction::TwoFactorApplied.as_str()))
        .filter(domain::entities::audit_event::Column::Target.eq("edge-02"))
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    assert!(late.iter().any(|e| e.detail.contains("after the deadline")), "{late:?}");
}
on_both_databases!(cancel_supersede_stale_ack_and_deadline, super::cancel_supersede_stale_ack_and_deadline);

async fn blocked_servers_are_refused_with_the_reason_and_the_others_proceed(backend: Backend) {
    let s = setup(backend).await;
    let ready = s.row("acme-web-01").await;
    let no_pam = s.row("acme-app-11").await;
    assert!(no_pam["readiness"].as_array().unwrap().iter().any(|f| f["blocker"] == true));
    let ids = [ready["id"].as_str().unwrap(), no_pam["id"].as_str().unwrap()];
    let res = s.save(&ids, "enable", "code", "").await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["changed"], 1);
    assert_eq!(out["refused"][0]["name"], "acme-app-11");
    let reason = out["refused"][0]["reasons"][0].as_str().unwrap();
    // The server is named once, beside its reasons, not again inside each one.
    assert!(reason.contains("UsePAM") && !reason.contains("acme-app-11"), "{reason}");
    assert_eq!(s.row("acme-web-01").await["status"], "enabling");
    assert_eq!(s.row("acme-app-11").await["status"], "disabled");

    // Filters and sorting see the new status.
    let enabling = s.list_with(&[("status", "enabling")]).await;
    assert_eq!(enabling["total"], 1);
    assert_eq!(enabling["items"][0]["name"], "acme-web-01");
    let windows = s.list_with(&[("os_type", "windows")]).await;
    assert!(windows["items"].as_array().unwrap().iter().all(|r| r["os_type"] == "windows"));
    assert!(windows["total"].as_u64().unwrap() > 0);
    let code = s.list_with(&[("method", "code")]).await;
    assert_eq!(code["total"], 1);
    let desc = s.list_with(&[("sort", "-name")]).await;
    let names: Vec<&str> = desc["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
}
on_both_databases!(
    blocked_servers_are_refused_with_the_reason_and_the_others_proceed,
    super::blocked_servers_are_refused_with_the_reason_and_the_others_proceed
);

async fn another_tenants_servers_and_topics_are_refused_and_nothing_changes(backend: Backend) {
    let s = setup(backend).await;
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let acme_server = s.row("acme-web-01").await["id"].as_str().unwrap().to_owned();
    let acme_topic = s.confirmed_topic("acme-only").await;
    let configs = || async { two_factor_config::Entity::find().count(&s.app.ctx.db).await.unwrap() };
    let before = configs().await;

    for (action, topic) in [("enable", ""), ("disable", ""), ("change_topic", acme_topic.as_str())] {
        let res =
            s.app.call("two-factor/save", &change_form(&[&acme_server], action, "code", topic), Some(&globex)).await;
        assert_eq!(res.status(), 422, "{action}");
        let body = res.text().await.unwrap();
        assert!(body.contains("no such server"), "{body}");
    }
    for endpoint in ["two-factor/cancel", "two-factor/retry"] {
        let res = s.app.call(endpoint, &[("server_ids[]", &acme_server)], Some(&globex)).await;
        assert_eq!(res.status(), 422, "{endpoint}");
    }
    // Globex's own server with Acme's topic.
    let globex_list =
        s.app.list_two_factor(Some(&globex), &[("search", "globex-web-01")]).await.json::<Value>().await.unwrap();
    let globex_server = globex_list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = s
        .app
        .call("two-factor/save", &change_form(&[&globex_server], "enable", "sms", &acme_topic), Some(&globex))
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("no such topic"));
    assert_eq!(configs().await, before, "nothing changed");

    // Without a session, or as an end user.
    let res = s.app.call("two-factor/save", &change_form(&[&acme_server], "disable", "", ""), None).await;
    assert_eq!(res.status(), 401);
    let alice = s.app.sign_in(ALICE).await;
    let res = s.app.call("two-factor/save", &change_form(&[&acme_server], "disable", "", ""), Some(&alice)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(configs().await, before);
}
on_both_databases!(
    another_tenants_servers_and_topics_are_refused_and_nothing_changes,
    super::another_tenants_servers_and_topics_are_refused_and_nothing_changes
);

async fn bad_input_gets_a_clear_error_and_nothing_is_saved(backend: Backend) {
    let s = setup(backend).await;
    let id = s.row("acme-web-01").await["id"].as_str().unwrap().to_owned();
    // A value that cannot be read is a 400 naming the field; a readable but wrong change, a 422.
    let cases: &[(&[&str], &str, &str, &str, u16, &str)] = &[
        (&[], "enable", "code", "", 422, "select at least one server"),
        (&["not-an-id"], "enable", "code", "", 400, "server_ids: \"not-an-id\" is not a server id"),
        (&[&id], "explode", "code", "", 400, "action: must be enable, disable or change_topic"),
        (&[&id], "enable", "voice", "", 400, "method: must be sms"),
        (&[&id], "enable", "", "", 422, "method: must be sms"),
        (&[&id], "enable", "sms", "", 422, "topic: choose a topic"),
        (&[&id], "change_topic", "", "not-a-topic", 400, "topic_id: \"not-a-topic\" is not a topic id"),
        (&[&id], "change_topic", "", "00000000-0000-0000-0000-000000000000", 422, "no such topic"),
    ];
    for (ids, action, method, topic, status, expected) in cases {
        let res = s.app.call("two-factor/save", &change_form(ids, action, method, topic), Some(&s.admin)).await;
        assert_eq!(res.status(), *status, "{action} {method} {topic}");
        // The message as sent, not JSON-escaped.
        let body: Value = res.json().await.unwrap();
        let message = body.get("Request").map(|m| m.as_str().unwrap().to_owned()).unwrap_or_else(|| body.to_string());
        for part in expected.split(": ") {
            assert!(message.contains(part), "{expected:?} in {message}");
        }
    }
    // A topic without a confirmed subscription cannot carry codes.
    let res = s.app.call("topics/create", &[("name", "unconfirmed"), ("display_name", "x")], Some(&s.admin)).await;
    let topic: String = res.json().await.unwrap();
    let res = s.save(&[&id], "enable", "sms", &topic).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("no confirmed subscription"));
    assert_eq!(two_factor_config::Entity::find().count(&s.app.ctx.db).await.unwrap(), 0);

    for (field, value, expected) in [
        ("page_size", "7", "page_size: must be 10, 20, 50 or 100"),
        ("status", "sleeping", "status: must be enabled"),
        ("os_type", "plan9", "os_type: must be linux or windows"),
        ("sort", "size", "sort: must be name"),
        ("method", "fax", "method: must be sms or code"),
    ] {
        let res = s.app.list_two_factor(Some(&s.admin), &[(field, value)]).await;
        assert_eq!(res.status(), 422, "{field}");
        let body = res.text().await.unwrap();
        for part in expected.split(": ") {
            assert!(body.contains(part), "{expected:?} in {body}");
        }
    }
}
on_both_databases!(
    bad_input_gets_a_clear_error_and_nothing_is_saved,
    super::bad_input_gets_a_clear_error_and_nothing_is_saved
);

async fn the_agent_api_refuses_bad_tokens_and_credentials(backend: Backend) {
    let s = setup(backend).await;
    let res = s
        .app
        .http
        .post(s.app.url(paths::REGISTER))
        .json(&json!({"install_token": "hgi_made-up", "facts": facts("x1")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "AGENT.0401");

    // An install token registers one server only.
    let token = s.install_token().await;
    let register = |host: &'static str| {
        let token = token.clone();
        let app = &s.app;
        async move {
            app.http
                .post(app.url(paths::REGISTER))
                .json(&json!({"install_token": token, "facts": facts(host)}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(register("first").await.status(), 201);
    assert_eq!(register("second").await.status(), 401, "used");

    let res = s.app.http.get(s.app.url(paths::CONFIG)).bearer_auth("hga_nope").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = s.app.http.get(s.app.url(paths::CONFIG)).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // Bad facts name the field.
    let token = s.install_token().await;
    let mut bad = facts("bad host!");
    bad["os_type"] = json!("beos");
    let res = s
        .app
        .http
        .post(s.app.url(paths::REGISTER))
        .json(&json!({"install_token": token, "facts": bad}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let msg = res.json::<Value>().await.unwrap()["error_msg"].as_str().unwrap().to_owned();
    assert!(msg.contains("hostname") && msg.contains("os_type"), "{msg}");
    // The token was not used up by the bad request.
    let res = s
        .app
        .http
        .post(s.app.url(paths::REGISTER))
        .json(&json!({"install_token": token, "facts": facts("good-host")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The OpenAPI document describes the API.
    let doc: Value = s.app.http.get(s.app.url(paths::OPENAPI)).send().await.unwrap().json().await.unwrap();
    for path in [paths::REGISTER, paths::FACTS, paths::HEARTBEAT, paths::CONFIG, paths::ACK] {
        assert!(doc["paths"][path].is_object(), "{path} in the OpenAPI document");
    }
}
on_both_databases!(
    the_agent_api_refuses_bad_tokens_and_credentials,
    super::the_agent_api_refuses_bad_tokens_and_credentials
);

/// `n` ready Linux servers for Acme, written straight to the database.
pub async fn add_servers(app: &TestApp, prefix: &str, n: usize) -> Vec<uuid::Uuid> {
    let tenant = domain::entities::tenant::Entity::find()
        .filter(domain::entities::tenant::Column::Name.eq("Acme Retail"))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .expect("the Acme tenant");
    let rows = ready_servers(tenant.id, prefix, n);
    for chunk in rows.chunks(500) {
        server::Entity::insert_many(chunk.to_vec()).exec_without_returning(&app.ctx.db).await.unwrap();
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
    ids
}

async fn jobs_done(app: &TestApp) -> (u64, i64, i64) {
    let jobs = rollout_job::Entity::find().all(&app.ctx.db).await.unwrap();
    let done = jobs.iter().filter(|j| j.status.as_str() == "done").count() as u64;
    let runs: i64 = jobs.iter().map(|j| j.runs as i64).sum();
    let max = jobs.iter().map(|j| j.runs as i64).max().unwrap_or(0);
    (done, runs, max)
}

async fn two_replicas_run_each_job_once(backend: Backend) {
    let s = setup(backend).await;
    let second =
        spawn_app_with(backend, Options { database_url: Some(s.app.database_url.clone()), ..Default::default() }).await;
    let ids = add_servers(&s.app, "fleet", 500).await;
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let res = s
        .app
        .call(
            "two-factor/save",
            &change_form(&list.iter().map(String::as_str).collect::<Vec<_>>(), "enable", "code", ""),
            Some(&s.admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["changed"], 500);
    // Both replicas' clocks pass the delay; both workers compete for the jobs.
    s.app.clock.advance(DELAY);
    second.clock.advance(DELAY);
    eventually("all 500 jobs ran", || async { jobs_done(&s.app).await.0 == 500 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (done, runs, max) = jobs_done(&s.app).await;
    assert_eq!((done, runs, max), (500, 500, 1), "each job ran exactly once");
    let delivering = two_factor_config::Entity::find()
        .filter(two_factor_config::Column::Phase.eq("delivering"))
        .count(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(delivering, 500);
}
on_both_databases!(two_replicas_run_each_job_once, super::two_replicas_run_each_job_once);

/// Audit entries of `action` about `target`.
async fn audited(app: &TestApp, action: AuditAction, target: &str) -> Vec<domain::entities::audit_event::Model> {
    domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::Action.eq(action.as_str()))
        .filter(domain::entities::audit_event::Column::Target.eq(target))
        .all(&app.ctx.db)
        .await
        .unwrap()
}

/// An agent that took a revision and went offline acknowledges it after the console moved on
/// (a supersede, then a cancel): the ack is stale, and the host runs a revision the console
/// does not show. Its next heartbeat names that revision, and the console hands it what it
/// shows at once, without the apply delay. Likewise while a newer change waits for its delay.
async fn a_stale_ack_is_undone_by_the_next_heartbeat(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-03").await;
    let id = agent.server_id.clone();
    assert_eq!(s.save(&[&id], "enable", "code", "").await.status(), 200);
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(0).await["revision"], 1);
    assert!(agent.ack(1, None).await);

    // Disable: the agent takes revision 2, then goes offline.
    assert_eq!(s.save(&[&id], "disable", "", "").await.status(), 200);
    s.app.clock.advance(DELAY);
    let two = agent.next_revision(1).await;
    assert_eq!((two["revision"].as_i64(), two["enabled"].as_bool()), (Some(2), Some(false)));
    // Meanwhile the admin changes their mind: revision 3 supersedes it, and is canceled.
    assert_eq!(s.save(&[&id], "enable", "code", "").await.json::<Value>().await.unwrap()["changed"], 1);
    assert_eq!(s.json("two-factor/cancel", &[("server_ids[]", &id)]).await["changed"], 1);
    assert_eq!(s.row("edge-03").await["status"], "enabled", "the console shows 2FA on");
    // The agent comes back, applies revision 2 (2FA off) and reports it: too late to count.
    assert!(!agent.ack(2, None).await, "a stale ack");
    assert_eq!(s.row("edge-03").await["status"], "enabled");

    // Its heartbeat says it runs revision 2: the console hands it 2FA on again, at once.
    agent.heartbeat_applied(2).await;
    let row = s.row("edge-03").await;
    assert_eq!((row["status"].as_str(), row["seconds_left"].as_i64()), (Some("enabling"), Some(0)), "{row}");
    let again = agent.poll(2, 0).await.expect("handed over without the apply delay");
    assert_eq!((again["revision"].as_i64(), again["enabled"].as_bool(), again["method"].as_str()), (Some(4), Some(true), Some("code")));
    let reissued = audited(&s.app, AuditAction::TwoFactorReissue, "edge-03").await;
    assert_eq!(reissued.len(), 1, "{reissued:?}");
    assert!(reissued[0].detail.contains("reported revision 2"), "{}", reissued[0].detail);
    // Heartbeats before its ack change nothing more; then it is in step.
    agent.heartbeat_applied(2).await;
    assert_eq!(agent.poll(2, 0).await.unwrap()["revision"], 4, "the same revision, not another");
    assert!(agent.ack(4, None).await);
    agent.heartbeat_applied(4).await;
    assert_eq!(s.row("edge-03").await["status"], "enabled");
    assert!(agent.poll(4, 0).await.is_none());
    assert_eq!(audited(&s.app, AuditAction::TwoFactorReissue, "edge-03").await.len(), 1);

    // A stale ack while a newer change still waits for its delay: that change goes at once.
    assert_eq!(s.save(&[&id], "disable", "", "").await.status(), 200);
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(4).await["revision"], 5);
    let topic = s.confirmed_topic("after-stale").await;
    assert_eq!(s.save(&[&id], "enable", "sms", &topic).await.status(), 200);
    assert!(!agent.ack(5, None).await);
    agent.heartbeat_applied(5).await;
    let sms = agent.poll(5, 0).await.expect("the waiting change, handed over at once");
    assert_eq!((sms["revision"].as_i64(), sms["method"].as_str()), (Some(7), Some("sms")));
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .filter(rollout_job::Column::Status.eq("pending"))
        .count(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "its job has nothing left to do");

    // A revision number below zero is bad input, named.
    let res = s
        .app
        .http
        .post(s.app.url(paths::HEARTBEAT))
        .bearer_auth(&agent.credential)
        .json(&json!({"agent_version": "0.1.0", "applied_revision": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("applied_revision"));
}
on_both_databases!(a_stale_ack_is_undone_by_the_next_heartbeat, super::a_stale_ack_is_undone_by_the_next_heartbeat);

/// Retry checks what a save checks: a server that is no longer ready, or whose topic can no
/// longer carry codes, is refused with the reason, and nothing is scheduled for it.
async fn retry_re_checks_readiness_and_the_topic(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-04").await;
    let id = agent.server_id.clone();
    assert_eq!(s.save(&[&id], "enable", "code", "").await.status(), 200);
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(0).await["revision"], 1);
    assert!(agent.ack(1, Some("sshd -t failed")).await);
    assert_eq!(s.row("edge-04").await["status"], "failed");
    // Since then sshd stopped using PAM: 2FA cannot work there.
    agent.report_facts(|f| f["sshd_use_pam"] = json!(false)).await;
    let out = s.json("two-factor/retry", &[("server_ids[]", &id)]).await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(out["refused"][0]["reasons"][0].as_str().unwrap().contains("UsePAM"), "{out}");
    assert_eq!(s.row("edge-04").await["status"], "failed");
    // Fixed: the retry goes through.
    agent.report_facts(|_| {}).await;
    assert_eq!(s.json("two-factor/retry", &[("server_ids[]", &id)]).await["changed"], 1);
    assert_eq!(s.row("edge-04").await["status"], "enabling");

    // A failed SMS/Email enable whose topic was deleted since cannot be retried.
    let topic = s.confirmed_topic("gone-soon").await;
    assert_eq!(s.save(&[&id], "enable", "sms", &topic).await.status(), 200);
    s.app.clock.advance(DELAY);
    let a = agent.next_revision(1).await;
    assert!(agent.ack(a["revision"].as_i64().unwrap(), Some("sshd -t failed")).await);
    let res = s.app.call("topics/delete", &[("id", &topic)], Some(&s.admin)).await;
    assert_eq!(res.status(), 200, "a failed change does not hold its topic: {}", res.text().await.unwrap());
    let out = s.json("two-factor/retry", &[("server_ids[]", &id)]).await;
    assert_eq!(out["changed"], 0, "{out}");
    assert!(out["refused"][0]["reasons"][0].as_str().unwrap().contains("topic"), "{out}");
}
on_both_databases!(retry_re_checks_readiness_and_the_topic, super::retry_re_checks_readiness_and_the_topic);

/// A topic is held by exactly the servers the 2FA tab shows with it: in force or on its way.
/// A failed or canceled change to it shows nowhere, so it does not keep the topic.
async fn what_holds_a_topic_is_what_the_tab_shows(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.confirmed_topic("held").await;
    let form = [("id", topic.as_str())];
    let delete = || s.app.call("topics/delete", &form, Some(&s.admin));
    let failing = s.register("edge-failed").await;
    let canceled = s.register("edge-canceled").await;
    let waiting = s.register("edge-waiting").await;
    assert_eq!(s.save(&[&failing.server_id, &canceled.server_id], "enable", "sms", &topic).await.status(), 200);
    s.app.clock.advance(DELAY);
    let a = failing.next_revision(0).await;
    assert!(failing.ack(a["revision"].as_i64().unwrap(), Some("sshd -t failed")).await);
    canceled.next_revision(0).await;
    assert_eq!(s.json("two-factor/cancel", &[("server_ids[]", &canceled.server_id)]).await["changed"], 1);
    // A change on its way holds it.
    assert_eq!(s.save(&[&waiting.server_id], "enable", "sms", &topic).await.status(), 200);
    for (name, status) in [("edge-failed", "failed"), ("edge-canceled", "disabled"), ("edge-waiting", "enabling")] {
        let row = s.row(name).await;
        assert_eq!(row["status"], status, "{row}");
    }
    assert_eq!(s.row("edge-failed").await["topic"], Value::Null);
    assert_eq!(s.row("edge-canceled").await["topic"], Value::Null);
    assert_eq!(s.row("edge-waiting").await["topic"], "Acme codes");
    let res = delete().await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(body.contains("edge-waiting"), "{body}");
    assert!(!body.contains("edge-failed") && !body.contains("edge-canceled"), "only what the tab shows: {body}");

    // Once that change is canceled, nothing holds it and it can be deleted.
    assert_eq!(s.json("two-factor/cancel", &[("server_ids[]", &waiting.server_id)]).await["changed"], 1);
    let res = delete().await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // The canceled change's late ack still tells the truth; its topic is gone, so logins fail closed.
    assert!(canceled.ack(1, None).await);
    assert_eq!(s.row("edge-canceled").await["status"], "enabled");
}
on_both_databases!(what_holds_a_topic_is_what_the_tab_shows, super::what_holds_a_topic_is_what_the_tab_shows);

/// Disable on servers already disabled changes nothing for them: they are skipped and the
/// answer says so, and they never show Failed for want of an agent to acknowledge it.
async fn a_change_that_changes_nothing_is_skipped_and_said_so(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-05").await;
    let id = agent.server_id.clone();
    assert_eq!(s.save(&[&id], "enable", "code", "").await.status(), 200);
    s.app.clock.advance(DELAY);
    assert!(agent.ack(agent.next_revision(0).await["revision"].as_i64().unwrap(), None).await);
    let off = s.row("acme-web-01").await;
    assert_eq!(off["status"], "disabled");
    let off_id = off["id"].as_str().unwrap().to_owned();

    let out: Value = s.save(&[&off_id, &id], "disable", "", "").await.json().await.unwrap();
    assert_eq!(out["changed"], 1, "{out}");
    assert_eq!(out["refused"], json!([]), "{out}");
    assert_eq!(out["unchanged"][0]["name"], "acme-web-01", "{out}");
    assert!(out["unchanged"][0]["reasons"][0].as_str().unwrap().contains("already has 2FA off"), "{out}");
    assert_eq!(s.row("acme-web-01").await["status"], "disabled");
    assert_eq!(s.row("edge-05").await["status"], "disabling");
    // The same change again, while it waits: skipped too, and its delay is not restarted.
    s.app.clock.advance(chrono::Duration::seconds(100));
    let out: Value = s.save(&[&id], "disable", "", "").await.json().await.unwrap();
    assert_eq!((out["changed"].as_u64(), out["unchanged"][0]["name"].as_str()), (Some(0), Some("edge-05")), "{out}");
    assert!(out["unchanged"][0]["reasons"][0].as_str().unwrap().contains("already on its way"), "{out}");
    assert_eq!(s.row("edge-05").await["seconds_left"], 200);

    // Long past the delay and the deadline, the skipped server is still simply disabled.
    s.app.clock.advance(DELAY);
    let edge = uuid::Uuid::parse_str(&id).unwrap();
    eventually("edge-05's change is handed over", || async {
        let c = two_factor_config::Entity::find_by_id(edge).one(&s.app.ctx.db).await.unwrap();
        c.is_some_and(|c| c.phase.as_str() == "delivering")
    })
    .await;
    s.app.clock.advance(chrono::Duration::minutes(11));
    eventually("edge-05's change fails without an ack", || async { s.row("edge-05").await["status"] == "failed" }).await;
    assert_eq!(s.row("acme-web-01").await["status"], "disabled");
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(uuid::Uuid::parse_str(&off_id).unwrap()))
        .count(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
    let disables = audited(&s.app, AuditAction::TwoFactorDisable, "edge-05").await;
    assert_eq!(disables.len(), 1, "the audit names only the server that changed: {disables:?}");
}
on_both_databases!(
    a_change_that_changes_nothing_is_skipped_and_said_so,
    super::a_change_that_changes_nothing_is_skipped_and_said_so
);
