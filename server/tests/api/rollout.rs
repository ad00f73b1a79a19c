//! The 2FA rollout from the console's side: the Two-Factor Authentication tab's server
//! functions, the agent API, the durable jobs (restarts, replicas, exactly once) and tenancy.
//! The real agent binary against the real server is in `agent_e2e.rs`.

use crate::common::*;
use app::functions::{
    audit::ListAudit,
    servers::GetServer,
    topics::{AddSubscriptions, CreateTopic, DeleteTopic},
    two_factor::{CancelTwoFactor, ListTwoFactor, RetryTwoFactor, SaveTwoFactor},
};
use app::models::two_factor::{ChangeAction, LoginMethod, TwoFactorChange, TwoFactorQuery};
use app::models::{AppError, ChangeResult, Method, OsType, TwoFactorPage, TwoFactorRow, TwoFactorStatus};
use domain::audit::AuditAction;
use domain::entities::{rollout_job, server, subscription, two_factor_config};
use proto::agent::{paths, Facts};
use proto::TwoFactorState;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::time::Duration;
use uuid::Uuid;

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

/// The form of a `two-factor/save` as a browser's form sends it: `change[server_ids][]` once
/// per server. Only for the tests of values the typed change cannot hold.
fn change_form<'a>(ids: &[&'a str], action: &'a str, method: &'a str, topic: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut form: Vec<(&str, &str)> = ids.iter().map(|id| ("change[server_ids][]", *id)).collect();
    form.extend([("change[action]", action), ("change[method]", method), ("change[topic_id]", topic)]);
    form
}

fn facts(hostname: &str) -> Facts {
    Facts { ips: vec!["10.0.0.7".into(), "fd00::7".into()], ..debian_facts(hostname) }
}

/// Why the row's last change failed; any other status fails the test.
fn reason(row: &TwoFactorRow) -> &str {
    match &row.status {
        TwoFactorStatus::Failed { reason } => reason,
        other => panic!("{} is not failed but {other:?}", row.name),
    }
}

/// The first reason the first refused server was refused for.
fn first_refusal(out: &ChangeResult) -> &str {
    out.refused.first().and_then(|r| r.reasons.first()).unwrap_or_else(|| panic!("nothing refused: {out:?}"))
}

impl Setup {
    async fn list_with(&self, query: TwoFactorQuery) -> TwoFactorPage {
        self.app.two_factor_list(&self.admin, TwoFactorQuery { page_size: 100, ..query }).await
    }

    async fn row(&self, name: &str) -> TwoFactorRow {
        self.app.two_factor_row(&self.admin, name).await
    }

    async fn state(&self, name: &str) -> TwoFactorState {
        self.row(name).await.status.state()
    }

    async fn save(&self, change: TwoFactorChange) -> ChangeResult {
        self.app.run(&self.admin, SaveTwoFactor { change }).await
    }

    async fn cancel(&self, id: Uuid) -> ChangeResult {
        self.app.run(&self.admin, CancelTwoFactor { server_ids: vec![id] }).await
    }

    async fn retry(&self, id: Uuid) -> ChangeResult {
        self.app.run(&self.admin, RetryTwoFactor { server_ids: vec![id] }).await
    }

    async fn register(&self, hostname: &str) -> FakeAgent {
        let token = self.app.install_token(&self.admin).await;
        self.app.register_agent(&token, &facts(hostname)).await
    }

    /// A topic of Acme with one confirmed subscription.
    async fn confirmed_topic(&self, name: &str) -> Uuid {
        let id = self.app.run(&self.admin, CreateTopic { name: name.into(), display_name: "Acme codes".into() }).await;
        let subscribe = AddSubscriptions {
            topic_id: id.clone(),
            protocol: "email".into(),
            endpoints: "oncall@acme.example".into(),
            remark: String::new(),
        };
        self.app.run(&self.admin, subscribe).await;
        let id = Uuid::parse_str(&id).unwrap();
        // The confirmation link itself is tested in notifications.rs; here the endpoint is simply confirmed.
        subscription::Entity::update_many()
            .col_expr(subscription::Column::Status, sea_orm::sea_query::Expr::value("confirmed"))
            .filter(subscription::Column::TopicId.eq(id))
            .exec(&self.app.ctx.db)
            .await
            .unwrap();
        id
    }

    async fn delete_topic(&self, id: Uuid) -> Result<(), Refused> {
        self.app.try_run(&self.admin, DeleteTopic { id: id.to_string() }).await
    }
}

async fn a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-01").await;
    let row = s.row("edge-01").await;
    assert_eq!(row.status, TwoFactorStatus::Disabled);
    assert!(row.agent_online);
    assert_eq!(row.ip, "10.0.0.7");

    let topic = s.confirmed_topic("codes").await;
    s.save(enable_sms(&[agent.server_id], topic)).await;
    let row = s.row("edge-01").await;
    assert_eq!(row.status, TwoFactorStatus::Enabling { seconds_left: 300 });
    assert_eq!(row.method, Some(Method::Sms));
    assert_eq!(row.topic.as_deref(), Some("Acme codes"));
    assert!(agent.poll(0, 0).await.is_none(), "nothing before the delay");

    // The agent waits in a long poll; the job runs when the delay is over and wakes it.
    let waiting = agent.poll(0, 20);
    let advance = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.app.clock.advance(DELAY);
    };
    let (assignment, ()) = tokio::join!(waiting, advance);
    let assignment = assignment.expect("the revision arrives in the long poll");
    assert_eq!(assignment.revision, 1);
    assert!(assignment.enabled);
    assert_eq!(assignment.method, Some(Method::Sms));
    assert!(assignment.topic_urn.as_deref().unwrap().ends_with(":codes"));
    assert_eq!(s.row("edge-01").await.status, TwoFactorStatus::Enabling { seconds_left: 0 }, "handed over");

    assert!(agent.ack(1, None).await);
    assert_eq!(s.state("edge-01").await, TwoFactorState::Enabled);
    let page = s.app.run(&s.admin, GetServer { id: agent.server_id.to_string() }).await;
    assert_eq!(page.two_factor.as_deref(), Some("Enabled (SMS/Email, topic Acme codes)"));
    assert_eq!(page.agent_version.as_deref(), Some("0.1.0"));
    assert_eq!(page.ips, ["10.0.0.7", "fd00::7"]);
    assert!(agent.poll(1, 0).await.is_none(), "nothing newer than what it applied");

    // Disabling: the agent reports an error, the change fails with its reason, retry schedules it again.
    s.save(disable(&[agent.server_id])).await;
    assert_eq!(s.state("edge-01").await, TwoFactorState::Disabling);
    s.app.clock.advance(DELAY);
    let a = agent.next_revision(1).await;
    assert_eq!((a.revision, a.enabled), (2, false));
    assert!(agent.ack(2, Some("sshd -t failed: line 3: Bad configuration option")).await);
    let row = s.row("edge-01").await;
    assert!(reason(&row).contains("sshd -t failed"), "{row:?}");
    assert_eq!(s.retry(agent.server_id).await.changed, 1);
    assert_eq!(s.state("edge-01").await, TwoFactorState::Disabling);

    let audit = s.app.run(&s.admin, ListAudit {}).await;
    let actions: Vec<AuditAction> = audit.iter().map(|e| e.action).collect();
    for a in [
        AuditAction::AgentRegister,
        AuditAction::TwoFactorEnable,
        AuditAction::TwoFactorApplied,
        AuditAction::TwoFactorDisable,
        AuditAction::TwoFactorFailed,
        AuditAction::TwoFactorRetry,
    ] {
        assert!(actions.contains(&a), "{a:?} in {actions:?}");
    }
}
on_both_databases!(
    a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges,
    super::a_change_waits_for_the_delay_then_counts_only_when_the_agent_acknowledges
);

async fn cancel_supersede_stale_ack_and_deadline(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-02").await;
    let id = agent.server_id;

    // Cancel while waiting: the job never runs.
    s.save(enable_code(&[id])).await;
    assert_eq!(s.cancel(id).await.changed, 1);
    assert_eq!(s.state("edge-02").await, TwoFactorState::Disabled);
    s.app.clock.advance(DELAY * 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(agent.poll(0, 0).await.is_none());
    let again = s.cancel(id).await;
    assert_eq!(again.changed, 0);
    assert!(first_refusal(&again).contains("no pending change"), "{again:?}");

    // A newer revision supersedes one not yet applied: only the newest is handed over. (The
    // agent has been silent for the 10 minutes above: it speaks up first, or it is offline.)
    agent.heartbeat(0).await;
    assert_eq!(s.save(enable_code(&[id])).await.changed, 1);
    s.app.clock.advance(chrono::Duration::seconds(100));
    let topic = s.confirmed_topic("late").await;
    s.save(enable_sms(&[id], topic)).await;
    s.app.clock.advance(chrono::Duration::seconds(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(agent.poll(0, 0).await.is_none(), "the first revision's time does not count");
    s.app.clock.advance(chrono::Duration::seconds(100));
    let a = agent.poll(0, 10).await.expect("the newest revision");
    assert_eq!((a.revision, a.method), (3, Some(Method::Sms)));
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(id))
        .order_by_asc(rollout_job::Column::Revision)
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    let statuses: Vec<(i64, &str)> = jobs.iter().map(|j| (j.revision, j.status.as_str())).collect();
    assert_eq!(statuses, vec![(1, "canceled"), (2, "superseded"), (3, "done")]);

    // An ack of an older revision changes nothing.
    assert!(!agent.ack(2, None).await);
    assert_eq!(s.state("edge-02").await, TwoFactorState::Enabling);

    // Silent past the deadline: failed, saying so.
    s.app.clock.advance(chrono::Duration::minutes(11));
    eventually("the change fails after the deadline", || async { s.state("edge-02").await == TwoFactorState::Failed })
        .await;
    let row = s.row("edge-02").await;
    assert!(reason(&row).contains("did not acknowledge within 10 minutes"), "{row:?}");
    // The agent applied it after all: the host has 2FA on, so the console says so, and the
    // audit trail says it came late.
    assert!(agent.ack(3, None).await, "a late applied ack counts");
    assert_eq!(s.state("edge-02").await, TwoFactorState::Enabled);
    let late = audited(&s.app, AuditAction::TwoFactorApplied, "edge-02").await;
    assert!(late.iter().any(|e| e.detail.contains("after the deadline")), "{late:?}");
}
on_both_databases!(cancel_supersede_stale_ack_and_deadline, super::cancel_supersede_stale_ack_and_deadline);

async fn blocked_servers_are_refused_with_the_reason_and_the_others_proceed(backend: Backend) {
    let s = setup(backend).await;
    let ready = s.row("acme-web-01").await;
    let no_pam = s.row("acme-app-11").await;
    assert!(no_pam.readiness.iter().any(|f| f.blocker));
    let out = s.save(enable_code(&[ready.id, no_pam.id])).await;
    assert_eq!(out.changed, 1);
    assert_eq!(out.refused[0].name, "acme-app-11");
    let reason = first_refusal(&out);
    // The server is named once, beside its reasons, not again inside each one.
    assert!(reason.contains("UsePAM") && !reason.contains("acme-app-11"), "{reason}");
    assert_eq!(s.state("acme-web-01").await, TwoFactorState::Enabling);
    assert_eq!(s.state("acme-app-11").await, TwoFactorState::Disabled);

    // Filters and sorting see the new status.
    let enabling = s.list_with(TwoFactorQuery { status: "enabling".into(), ..Default::default() }).await;
    assert_eq!(enabling.total, 1);
    assert_eq!(enabling.items[0].name, "acme-web-01");
    let windows = s.list_with(TwoFactorQuery { os_type: "windows".into(), ..Default::default() }).await;
    assert!(windows.items.iter().all(|r| r.os_type == OsType::Windows));
    assert!(windows.total > 0);
    let code = s.list_with(TwoFactorQuery { method: "code".into(), ..Default::default() }).await;
    assert_eq!(code.total, 1);
    let desc = s.list_with(TwoFactorQuery { sort: "-name".into(), ..Default::default() }).await;
    let names: Vec<&str> = desc.items.iter().map(|r| r.name.as_str()).collect();
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
    let acme_server = s.row("acme-web-01").await.id;
    let acme_topic = s.confirmed_topic("acme-only").await;
    let configs = || async { two_factor_config::Entity::find().count(&s.app.ctx.db).await.unwrap() };
    let before = configs().await;

    for (action, topic) in
        [(ChangeAction::Enable, None), (ChangeAction::Disable, None), (ChangeAction::ChangeTopic, Some(acme_topic))]
    {
        let c = change(&[acme_server], action, Some(LoginMethod::Code), topic);
        let refused = s.app.refused(&globex, SaveTwoFactor { change: c }).await;
        assert_eq!(refused.status, 422, "{action:?}");
        assert!(refused.error.to_string().contains("no such server"), "{refused}");
    }
    let refused = s.app.refused(&globex, CancelTwoFactor { server_ids: vec![acme_server] }).await;
    assert_eq!(refused.status, 422, "two-factor/cancel");
    let refused = s.app.refused(&globex, RetryTwoFactor { server_ids: vec![acme_server] }).await;
    assert_eq!(refused.status, 422, "two-factor/retry");
    // Globex's own server with Acme's topic.
    let globex_server = s.app.two_factor_rows(&globex, "globex-web-01").await[0].id;
    let refused = s.app.refused(&globex, SaveTwoFactor { change: enable_sms(&[globex_server], acme_topic) }).await;
    assert_eq!(refused.status, 422);
    assert!(refused.error.to_string().contains("no such topic"), "{refused}");
    assert_eq!(configs().await, before, "nothing changed");

    // Without a session, or as an end user.
    let refused = s.app.refused(NO_SESSION, SaveTwoFactor { change: disable(&[acme_server]) }).await;
    assert_eq!((refused.status, refused.error), (401, AppError::Unauthenticated));
    let alice = s.app.sign_in(ALICE).await;
    let refused = s.app.refused(&alice, SaveTwoFactor { change: disable(&[acme_server]) }).await;
    assert_eq!((refused.status, refused.error), (403, AppError::Forbidden));
    assert_eq!(configs().await, before);
}
on_both_databases!(
    another_tenants_servers_and_topics_are_refused_and_nothing_changes,
    super::another_tenants_servers_and_topics_are_refused_and_nothing_changes
);

async fn bad_input_gets_a_clear_error_and_nothing_is_saved(backend: Backend) {
    let s = setup(backend).await;
    let id = s.row("acme-web-01").await.id.to_string();
    // A value that cannot be read is a 400 naming the field; a readable but wrong change, a 422.
    // Sent as raw forms: most of these values are ones the typed change cannot hold.
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
        let error: AppError = res.json().await.unwrap();
        let message = match &error {
            AppError::Request(m) => m.clone(),
            AppError::Validation { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        };
        for part in expected.split(": ") {
            assert!(message.contains(part), "{expected:?} in {message}");
        }
    }
    // A topic without a confirmed subscription cannot carry codes.
    let topic = s.app.run(&s.admin, CreateTopic { name: "unconfirmed".into(), display_name: "x".into() }).await;
    let topic = Uuid::parse_str(&topic).unwrap();
    let id = Uuid::parse_str(&id).unwrap();
    let refused = s.app.refused(&s.admin, SaveTwoFactor { change: enable_sms(&[id], topic) }).await;
    assert_eq!(refused.status, 422);
    assert!(refused.error.to_string().contains("no confirmed subscription"), "{refused}");
    assert_eq!(two_factor_config::Entity::find().count(&s.app.ctx.db).await.unwrap(), 0);

    let query = TwoFactorQuery::default;
    for (q, field, expected) in [
        (TwoFactorQuery { page_size: 7, ..query() }, "page_size", "must be 10, 20, 50 or 100"),
        (TwoFactorQuery { status: "sleeping".into(), ..query() }, "status", "must be enabled"),
        (TwoFactorQuery { os_type: "plan9".into(), ..query() }, "os_type", "must be linux or windows"),
        (TwoFactorQuery { sort: "size".into(), ..query() }, "sort", "must be name"),
        (TwoFactorQuery { method: "fax".into(), ..query() }, "method", "must be sms or code"),
    ] {
        let refused = s.app.refused(&s.admin, ListTwoFactor { query: q }).await;
        assert_eq!(refused.status, 422, "{field}");
        match &refused.error {
            AppError::Validation { field: f, message } => {
                assert!(f == field && message.contains(expected), "{field}: {expected:?} in {refused}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}
on_both_databases!(
    bad_input_gets_a_clear_error_and_nothing_is_saved,
    super::bad_input_gets_a_clear_error_and_nothing_is_saved
);

async fn the_agent_api_refuses_bad_tokens_and_credentials(backend: Backend) {
    let s = setup(backend).await;
    let made_up = s.app.try_register_agent("hgi_made-up", &facts("x1")).await.unwrap_err();
    assert_eq!((agent_status(&made_up), agent_error_code(&made_up)), (401, "AGENT.0401"));

    // An install token registers one server only.
    let token = s.app.install_token(&s.admin).await;
    s.app.register_agent(&token, &facts("first")).await;
    let used = s.app.try_register_agent(&token, &facts("second")).await.unwrap_err();
    assert_eq!(agent_status(&used), 401, "used");

    let nope = s.app.agent(Uuid::new_v4(), "hga_nope").try_poll(0, 0).await.unwrap_err();
    assert_eq!(agent_status(&nope), 401);
    let anonymous = s.app.agent_api().poll_config(0, 0).await.unwrap_err();
    assert_eq!(agent_status(&anonymous), 401);

    // Bad facts name the field.
    let token = s.app.install_token(&s.admin).await;
    let bad = Facts { os_type: "beos".into(), ..facts("bad host!") };
    match s.app.try_register_agent(&token, &bad).await.unwrap_err() {
        AgentError::Status { status: 422, error_msg, .. } => {
            assert!(error_msg.contains("hostname") && error_msg.contains("os_type"), "{error_msg}")
        }
        other => panic!("{other}"),
    }
    // The token was not used up by the bad request.
    s.app.register_agent(&token, &facts("good-host")).await;

    // The OpenAPI document describes the API.
    let doc: serde_json::Value = s.app.http.get(s.app.url(paths::OPENAPI)).send().await.unwrap().json().await.unwrap();
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
    assert_eq!(s.save(enable_code(&ids)).await.changed, 500);
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
    let id = agent.server_id;
    s.save(enable_code(&[id])).await;
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(0).await.revision, 1);
    assert!(agent.ack(1, None).await);

    // Disable: the agent takes revision 2, then goes offline.
    s.save(disable(&[id])).await;
    s.app.clock.advance(DELAY);
    let two = agent.next_revision(1).await;
    assert_eq!((two.revision, two.enabled), (2, false));
    // Meanwhile the admin changes their mind: revision 3 supersedes it, and is canceled.
    assert_eq!(s.save(enable_code(&[id])).await.changed, 1);
    assert_eq!(s.cancel(id).await.changed, 1);
    assert_eq!(s.state("edge-03").await, TwoFactorState::Enabled, "the console shows 2FA on");
    // The agent comes back, applies revision 2 (2FA off) and reports it: too late to count.
    assert!(!agent.ack(2, None).await, "a stale ack");
    assert_eq!(s.state("edge-03").await, TwoFactorState::Enabled);

    // Its heartbeat says it runs revision 2: the console hands it 2FA on again, at once.
    agent.heartbeat(2).await;
    let row = s.row("edge-03").await;
    assert_eq!(row.status, TwoFactorStatus::Enabling { seconds_left: 0 }, "{row:?}");
    let again = agent.poll(2, 0).await.expect("handed over without the apply delay");
    assert_eq!((again.revision, again.enabled, again.method), (4, true, Some(Method::Code)));
    let reissued = audited(&s.app, AuditAction::TwoFactorReissue, "edge-03").await;
    assert_eq!(reissued.len(), 1, "{reissued:?}");
    assert!(reissued[0].detail.contains("reported revision 2"), "{}", reissued[0].detail);
    // Heartbeats before its ack change nothing more; then it is in step.
    agent.heartbeat(2).await;
    assert_eq!(agent.poll(2, 0).await.unwrap().revision, 4, "the same revision, not another");
    assert!(agent.ack(4, None).await);
    agent.heartbeat(4).await;
    assert_eq!(s.state("edge-03").await, TwoFactorState::Enabled);
    assert!(agent.poll(4, 0).await.is_none());
    assert_eq!(audited(&s.app, AuditAction::TwoFactorReissue, "edge-03").await.len(), 1);

    // A stale ack while a newer change still waits for its delay: that change goes at once.
    s.save(disable(&[id])).await;
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(4).await.revision, 5);
    let topic = s.confirmed_topic("after-stale").await;
    s.save(enable_sms(&[id], topic)).await;
    assert!(!agent.ack(5, None).await);
    agent.heartbeat(5).await;
    let sms = agent.poll(5, 0).await.expect("the waiting change, handed over at once");
    assert_eq!((sms.revision, sms.method), (7, Some(Method::Sms)));
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(id))
        .filter(rollout_job::Column::Status.eq("pending"))
        .count(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "its job has nothing left to do");

    // A revision number below zero is bad input, named.
    match agent.try_heartbeat(-1).await.unwrap_err() {
        AgentError::Status { status: 422, error_msg, .. } => {
            assert!(error_msg.contains("applied_revision"), "{error_msg}")
        }
        other => panic!("{other}"),
    }
}
on_both_databases!(a_stale_ack_is_undone_by_the_next_heartbeat, super::a_stale_ack_is_undone_by_the_next_heartbeat);

/// Retry checks what a save checks: a server that is no longer ready, or whose topic can no
/// longer carry codes, is refused with the reason, and nothing is scheduled for it.
async fn retry_re_checks_readiness_and_the_topic(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-04").await;
    let id = agent.server_id;
    s.save(enable_code(&[id])).await;
    s.app.clock.advance(DELAY);
    assert_eq!(agent.next_revision(0).await.revision, 1);
    assert!(agent.ack(1, Some("sshd -t failed")).await);
    assert_eq!(s.state("edge-04").await, TwoFactorState::Failed);
    // Since then sshd stopped using PAM: 2FA cannot work there.
    agent.put_facts(&Facts { sshd_use_pam: Some(false), ..facts("edge-facts") }).await;
    let out = s.retry(id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(first_refusal(&out).contains("UsePAM"), "{out:?}");
    assert_eq!(s.state("edge-04").await, TwoFactorState::Failed);
    // Fixed: the retry goes through.
    agent.put_facts(&facts("edge-facts")).await;
    assert_eq!(s.retry(id).await.changed, 1);
    assert_eq!(s.state("edge-04").await, TwoFactorState::Enabling);

    // A failed SMS/Email enable whose topic was deleted since cannot be retried.
    let topic = s.confirmed_topic("gone-soon").await;
    s.save(enable_sms(&[id], topic)).await;
    s.app.clock.advance(DELAY);
    let a = agent.next_revision(1).await;
    assert!(agent.ack(a.revision, Some("sshd -t failed")).await);
    s.delete_topic(topic).await.unwrap_or_else(|e| panic!("a failed change does not hold its topic: {e}"));
    let out = s.retry(id).await;
    assert_eq!(out.changed, 0, "{out:?}");
    assert!(first_refusal(&out).contains("topic"), "{out:?}");
}
on_both_databases!(retry_re_checks_readiness_and_the_topic, super::retry_re_checks_readiness_and_the_topic);

/// A topic is held by exactly the servers the 2FA tab shows with it: in force or on its way.
/// A failed or canceled change to it shows nowhere, so it does not keep the topic.
async fn what_holds_a_topic_is_what_the_tab_shows(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.confirmed_topic("held").await;
    let failing = s.register("edge-failed").await;
    let canceled = s.register("edge-canceled").await;
    let waiting = s.register("edge-waiting").await;
    s.save(enable_sms(&[failing.server_id, canceled.server_id], topic)).await;
    s.app.clock.advance(DELAY);
    let a = failing.next_revision(0).await;
    assert!(failing.ack(a.revision, Some("sshd -t failed")).await);
    canceled.next_revision(0).await;
    assert_eq!(s.cancel(canceled.server_id).await.changed, 1);
    // A change on its way holds it.
    s.save(enable_sms(&[waiting.server_id], topic)).await;
    for (name, state) in [
        ("edge-failed", TwoFactorState::Failed),
        ("edge-canceled", TwoFactorState::Disabled),
        ("edge-waiting", TwoFactorState::Enabling),
    ] {
        let row = s.row(name).await;
        assert_eq!(row.status.state(), state, "{row:?}");
    }
    assert_eq!(s.row("edge-failed").await.topic, None);
    assert_eq!(s.row("edge-canceled").await.topic, None);
    assert_eq!(s.row("edge-waiting").await.topic.as_deref(), Some("Acme codes"));
    let refused = s.delete_topic(topic).await.unwrap_err();
    assert_eq!(refused.status, 409);
    let message = refused.error.to_string();
    assert!(message.contains("edge-waiting"), "{message}");
    assert!(
        !message.contains("edge-failed") && !message.contains("edge-canceled"),
        "only what the tab shows: {message}"
    );

    // Once that change is canceled, nothing holds it and it can be deleted.
    assert_eq!(s.cancel(waiting.server_id).await.changed, 1);
    s.delete_topic(topic).await.unwrap_or_else(|e| panic!("{e}"));
    // The canceled change's late ack still tells the truth; its topic is gone, so logins fail closed.
    assert!(canceled.ack(1, None).await);
    assert_eq!(s.state("edge-canceled").await, TwoFactorState::Enabled);
}
on_both_databases!(what_holds_a_topic_is_what_the_tab_shows, super::what_holds_a_topic_is_what_the_tab_shows);

/// Disable on servers already disabled changes nothing for them: they are skipped and the
/// answer says so, and they never show Failed for want of an agent to acknowledge it.
async fn a_change_that_changes_nothing_is_skipped_and_said_so(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-05").await;
    let id = agent.server_id;
    s.save(enable_code(&[id])).await;
    s.app.clock.advance(DELAY);
    assert!(agent.ack(agent.next_revision(0).await.revision, None).await);
    let off = s.row("acme-web-01").await;
    assert_eq!(off.status, TwoFactorStatus::Disabled);

    let out = s.save(disable(&[off.id, id])).await;
    assert_eq!(out.changed, 1, "{out:?}");
    assert!(out.refused.is_empty(), "{out:?}");
    assert_eq!(out.unchanged[0].name, "acme-web-01", "{out:?}");
    assert!(out.unchanged[0].reasons[0].contains("already has 2FA off"), "{out:?}");
    assert_eq!(s.state("acme-web-01").await, TwoFactorState::Disabled);
    assert_eq!(s.state("edge-05").await, TwoFactorState::Disabling);
    // The same change again, while it waits: skipped too, and its delay is not restarted.
    s.app.clock.advance(chrono::Duration::seconds(100));
    let out = s.save(disable(&[id])).await;
    assert_eq!((out.changed, out.unchanged[0].name.as_str()), (0, "edge-05"), "{out:?}");
    assert!(out.unchanged[0].reasons[0].contains("already on its way"), "{out:?}");
    assert_eq!(s.row("edge-05").await.status, TwoFactorStatus::Disabling { seconds_left: 200 });

    // Long past the delay and the deadline, the skipped server is still simply disabled.
    s.app.clock.advance(DELAY);
    eventually("edge-05's change is handed over", || async {
        let c = two_factor_config::Entity::find_by_id(id).one(&s.app.ctx.db).await.unwrap();
        c.is_some_and(|c| c.phase.as_str() == "delivering")
    })
    .await;
    s.app.clock.advance(chrono::Duration::minutes(11));
    eventually("edge-05's change fails without an ack", || async {
        s.state("edge-05").await == TwoFactorState::Failed
    })
    .await;
    assert_eq!(s.state("acme-web-01").await, TwoFactorState::Disabled);
    let jobs = rollout_job::Entity::find()
        .filter(rollout_job::Column::ServerId.eq(off.id))
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

/// A raw config stream with `credential`, or the HTTP answer that refused it.
async fn open_stream(
    app: &TestApp,
    credential: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, (u16, String)>
{
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Error};
    let url = app.url(paths::CONFIG_STREAM).replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    if !credential.is_empty() {
        req.headers_mut().insert("authorization", format!("Bearer {credential}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((socket, _)) => Ok(socket),
        Err(Error::Http(res)) => {
            let body = res.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Err((res.status().as_u16(), body))
        }
        Err(e) => panic!("the stream's handshake failed: {e}"),
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `text`, then reads the console's answer: `Some(answer)`, or `None` when it closed the
/// stream without one.
async fn ask(socket: &mut Socket, text: &str) -> Option<serde_json::Value> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    socket.send(Message::text(text)).await.ok()?;
    loop {
        match tokio::time::timeout(Duration::from_secs(40), socket.next()).await.expect("an answer in time") {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return None,
        }
    }
}

/// The next message is the console closing the stream (or the socket simply ending).
async fn closes(socket: &mut Socket) -> bool {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => true,
        Ok(Some(Ok(other))) => panic!("expected the stream to close, got {other:?}"),
        Err(_) => false,
    }
}

/// Issue 18: the config stream, one WebSocket per agent, answers each wait as the long poll
/// would (none, the revision once its delay is over, a refusal), checks the credential again
/// for every wait, and closes on anything that is not a wait; the agent's own client uses it
/// and the handshake refuses what the long poll refuses.
async fn the_config_stream_answers_waits_as_the_long_poll(backend: Backend) {
    let s = setup(backend).await;
    let agent = s.register("edge-01").await;
    let mut socket = open_stream(&s.app, &agent.credential).await.expect("the stream opens");
    assert_eq!(ask(&mut socket, r#"{"after":0,"wait":0}"#).await, Some(serde_json::json!({})), "nothing yet");

    // A wait in progress hears the revision when its delay is over, as a long poll does.
    let topic = s.confirmed_topic("codes").await;
    s.save(enable_sms(&[agent.server_id], topic)).await;
    let advance = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.app.clock.advance(DELAY);
    };
    let (answer, ()) = tokio::join!(ask(&mut socket, r#"{"after":0,"wait":20}"#), advance);
    let answer = answer.expect("an answer");
    assert_eq!(
        (answer["assignment"]["revision"].as_i64(), answer["assignment"]["enabled"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(ask(&mut socket, r#"{"after":1,"wait":0}"#).await, Some(serde_json::json!({})), "nothing newer");
    assert!(agent.ack(1, None).await);
    assert_eq!(s.state("edge-01").await, TwoFactorState::Enabled);

    // The agent's own client waits over the stream too.
    s.save(disable(&[agent.server_id])).await;
    let advance = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.app.clock.advance(DELAY);
    };
    let (next, ()) = tokio::join!(agent.poll(1, 20), advance);
    assert_eq!(next.map(|a| (a.revision, a.enabled)), Some((2, false)));

    // What is not a wait gets the long poll's refusal, naming the rule, and the stream closes.
    for (text, status, code, says) in [
        ("not json", 400, "AGENT.0400", "not a wait"),
        (r#"{"after":0,"wait":31}"#, 422, "AGENT.0422", "wait: must be 0 to 30"),
        (r#"{"after":0,"wait":1,"more":true}"#, 400, "AGENT.0400", "unknown field `more`"),
        (r#"{"after":"x","wait":1}"#, 400, "AGENT.0400", "invalid type"),
    ] {
        let mut socket = open_stream(&s.app, &agent.credential).await.unwrap();
        let answer = ask(&mut socket, text).await.expect("an answer");
        assert_eq!(
            (answer["status"].as_u64(), answer["error"]["error_code"].as_str()),
            (Some(status), Some(code)),
            "{text}"
        );
        assert!(answer["error"]["error_msg"].as_str().unwrap().contains(says), "{text}: {answer}");
        assert!(closes(&mut socket).await, "{text}: closed after the refusal");
    }
    {
        use futures::SinkExt;
        let mut socket = open_stream(&s.app, &agent.credential).await.unwrap();
        socket.send(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2, 3])).await.unwrap();
        assert!(closes(&mut socket).await, "a binary message ends the stream unanswered");
    }

    // More than 30 waits a minute on one stream: refused, and closed.
    let mut socket = open_stream(&s.app, &agent.credential).await.unwrap();
    for i in 0..30 {
        assert_eq!(ask(&mut socket, r#"{"after":2,"wait":0}"#).await, Some(serde_json::json!({})), "wait {i}");
    }
    let answer = ask(&mut socket, r#"{"after":2,"wait":0}"#).await.expect("an answer");
    assert_eq!(answer["status"].as_u64(), Some(429), "{answer}");
    assert!(closes(&mut socket).await);

    // One stream per server: a newer one (the same credential, elsewhere) ends the older.
    let mut older = open_stream(&s.app, &agent.credential).await.unwrap();
    assert_eq!(ask(&mut older, r#"{"after":2,"wait":0}"#).await, Some(serde_json::json!({})));
    let mut newer = open_stream(&s.app, &agent.credential).await.unwrap();
    assert!(closes(&mut older).await, "the older stream ends");
    assert_eq!(ask(&mut newer, r#"{"after":2,"wait":0}"#).await, Some(serde_json::json!({})), "the newer one waits");
    drop(newer);

    // Pings count too: a flood of them ends the stream.
    {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let mut socket = open_stream(&s.app, &agent.credential).await.unwrap();
        for _ in 0..40 {
            if socket.send(Message::Ping(vec![7].into())).await.is_err() {
                break;
            }
        }
        let mut pongs = 0;
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
                Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break true,
                Ok(Some(Ok(other))) => panic!("{other:?}"),
                Err(_) => break false,
            }
        };
        assert!(closed && pongs <= 31, "closed after at most 30 pings answered: {pongs} pongs, closed {closed}");
    }

    // The handshake refuses what the long poll refuses, in the API's error shape.
    let (status, body) = open_stream(&s.app, "").await.err().expect("no credential, no stream");
    assert_eq!(status, 401);
    assert!(body.contains("AGENT.0401"), "{body}");
    let (status, _) = open_stream(&s.app, "hga_made-up").await.err().expect("a made-up credential");
    assert_eq!(status, 401);
    let plain = s.app.http.get(s.app.url(paths::CONFIG_STREAM)).bearer_auth(&agent.credential).send().await.unwrap();
    assert_eq!(plain.status(), 400, "not a WebSocket handshake");
    assert!(plain.text().await.unwrap().contains("AGENT.0400"));

    // A credential replaced while its stream is open: the next wait is refused, and it closes.
    let mut socket = open_stream(&s.app, &agent.credential).await.unwrap();
    assert_eq!(ask(&mut socket, r#"{"after":2,"wait":0}"#).await, Some(serde_json::json!({})));
    let token = s.app.reinstall_token(&s.admin, agent.server_id).await;
    let replaced = s.app.register_agent(&token, &facts("edge-01")).await;
    let answer = ask(&mut socket, r#"{"after":2,"wait":0}"#).await.expect("an answer");
    assert_eq!((answer["status"].as_u64(), answer["error"]["error_code"].as_str()), (Some(401), Some("AGENT.0401")));
    assert!(closes(&mut socket).await);
    assert_eq!(agent_status(&agent.try_poll(2, 5).await.unwrap_err()), 401, "the old credential's client");
    assert!(replaced.poll(2, 1).await.is_none(), "the new credential waits");
}
on_both_databases!(
    the_config_stream_answers_waits_as_the_long_poll,
    super::the_config_stream_answers_waits_as_the_long_poll
);
