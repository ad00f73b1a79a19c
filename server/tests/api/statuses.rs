//! Statuses that tell the truth: an agent is Online only when it was heard from in the last 3
//! minutes (the list, its filter, the readiness, the server page and the operators' counts
//! agree); a change waiting for an offline agent can be canceled or superseded; a failed change
//! stands as a readiness blocker while it is the server's outcome.

use crate::common::*;
use domain::{entities::server, Clock};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

struct World {
    app: TestApp,
    tenant: TenantFixture,
    admin: String,
    caller: domain::Caller,
    /// Heard from now, 2 minutes ago, 13 minutes ago, never.
    ids: [Uuid; 4],
}

const NAMES: [&str; 4] = ["st-now", "st-2min", "st-13min", "st-never"];

async fn world(backend: Backend) -> World {
    // The test hands changes over itself (`hand_over`), on its own clock. The console's rollout
    // worker would race it for the same due job: on a loaded machine it leased the job and had
    // not committed when the test looked for the revision. A minute between its polls keeps it
    // out of these seconds-long tests.
    let opts = Options { env: vec![("HOSTGUARD_DELIVERY_POLL_MS", "60000".into())], ..Options::empty() };
    let app = spawn_app_with(backend, opts).await;
    let tenant = app.create_tenant("Status Works").await;
    let login = tenant.admin(&app, "admin").await;
    let admin = app.sign_in(login.clone()).await;
    let now = app.clock.now();
    let seen = [Some(now), Some(now - chrono::Duration::minutes(2)), Some(now - chrono::Duration::minutes(13)), None];
    let mut rows = ready_servers(tenant.id, "st", 4);
    let mut ids = [Uuid::nil(); 4];
    for (i, row) in rows.iter_mut().enumerate() {
        row.name = Set(NAMES[i].to_owned());
        row.last_seen_at = Set(seen[i]);
        ids[i] = row.id.clone().unwrap();
    }
    app.insert_servers(rows).await;
    let caller = domain::Caller {
        user_id: login.id,
        role: domain::Role::TenantAdmin,
        tenant_id: Some(tenant.id),
        email: login.email,
    };
    World { app, tenant, admin, caller, ids }
}

impl World {
    async fn json(&self, endpoint: &str, form: &[(&str, &str)]) -> Value {
        let res = self.app.call(endpoint, form, Some(&self.admin)).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{endpoint}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn row(&self, name: &str) -> Value {
        let page = self.json("two-factor/list", &[("query[search]", name), ("query[page_size]", "10")]).await;
        page["items"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().expect("listed")
    }

    async fn page(&self, id: Uuid) -> Value {
        self.json("servers/get", &[("id", &id.to_string())]).await
    }

    /// Names of the servers the domain's list gives for `agent=…`, and its total.
    async fn by_agent(&self, agent: &str) -> (Vec<String>, u64) {
        let q = domain::two_factor::ListQuery { agent: Some(agent.into()), limit: 100, ..Default::default() };
        let page = domain::two_factor::list(&self.app.ctx, &self.caller, &q).await.unwrap();
        (page.items.into_iter().map(|r| r.server.name).collect(), page.total)
    }

    async fn save(&self, id: Uuid, action: &str) -> Value {
        let id = id.to_string();
        let form = [
            ("change[server_ids][]", id.as_str()),
            ("change[action]", action),
            ("change[method]", "code"),
            ("change[topic_id]", ""),
        ];
        self.json("two-factor/save", &form).await
    }

    /// Runs the due jobs now: the change is handed to the agent, which has not taken it yet.
    async fn hand_over(&self) {
        self.app.clock.advance(chrono::Duration::seconds(301));
        domain::two_factor::run_due_jobs(&self.app.ctx, "statuses-test", 100).await.unwrap();
    }

    async fn server(&self, id: Uuid) -> server::Model {
        server::Entity::find_by_id(id).one(&self.app.ctx.db).await.unwrap().unwrap()
    }

    /// The agent of `id` reports on `revision`; whether it counted.
    async fn ack(&self, id: Uuid, revision: i64, outcome: Result<(), String>) -> bool {
        let s = self.server(id).await;
        domain::agents::acknowledge(&self.app.ctx, &s, revision, outcome, "192.0.2.1").await.unwrap()
    }

    /// Keeps `id`'s agent heard from, as its long poll does.
    async fn heard_from(&self, id: Uuid) {
        let s = self.server(id).await;
        let applied = domain::entities::two_factor_config::Entity::find_by_id(id)
            .one(&self.app.ctx.db)
            .await
            .unwrap()
            .map_or(0, |c| c.applied_revision);
        domain::agents::heartbeat(&self.app.ctx, &s, applied, "192.0.2.1").await.unwrap();
    }
}

fn rules(row: &Value) -> Vec<(String, bool)> {
    row["readiness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap().to_owned(), f["blocker"].as_bool().unwrap()))
        .collect()
}

async fn an_agent_is_online_only_when_heard_from_in_the_last_three_minutes(backend: Backend) {
    let w = world(backend).await;
    let online = |row: &Value| row["agent_online"].as_bool().unwrap();
    for (name, expected) in NAMES.iter().zip([true, true, false, false]) {
        let row = w.row(name).await;
        assert_eq!(online(&row), expected, "{name} in the list: {row}");
        // Offline is a warning: a change waits for the agent.
        let warned = rules(&row).contains(&("agent_online".to_owned(), false));
        assert_eq!(warned, !expected, "{name}'s readiness: {row}");
    }
    // The server page, a server not heard from for 13 minutes (it has no agent credential at
    // all, as the demo's servers).
    let page = w.page(w.ids[2]).await;
    assert_eq!(page["agent_online"], false, "{page}");
    assert!(page["last_seen"].is_string(), "{page}");

    // The filter agrees with what is shown, and so do the operators' counts.
    assert_eq!(w.by_agent("online").await, (vec!["st-2min".to_owned(), "st-now".to_owned()], 2));
    assert_eq!(w.by_agent("offline").await, (vec!["st-13min".to_owned(), "st-never".to_owned()], 2));
    let operator = w.app.create_operator("ops").await;
    let ops = w.app.sign_in(operator).await;
    let tenants: Value = w.app.call("admin/tenants", &[], Some(&ops)).await.json().await.unwrap();
    let ours = tenants.as_array().unwrap().iter().find(|t| t["name"] == w.tenant.name.as_str()).unwrap();
    assert_eq!((ours["servers"].as_u64(), ours["servers_online"].as_u64()), (Some(4), Some(2)), "{ours}");

    // Time passes without a word from the agents: the one seen 2 minutes ago goes offline, and
    // everything says so at once.
    w.app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(w.row("st-2min").await["agent_online"], false);
    assert_eq!(w.by_agent("online").await, (vec!["st-now".to_owned()], 1));
    let tenants: Value = w.app.call("admin/tenants", &[], Some(&ops)).await.json().await.unwrap();
    let ours = tenants.as_array().unwrap().iter().find(|t| t["name"] == w.tenant.name.as_str()).unwrap();
    assert_eq!(ours["servers_online"], 1, "{ours}");
    // An agent heard from again is online again.
    w.heard_from(w.ids[2]).await;
    assert_eq!(w.row("st-13min").await["agent_online"], true);

    // Enabling 2FA on a server whose agent is silent is taken: the change waits for the agent.
    let out = w.save(w.ids[3], "enable").await;
    assert_eq!(out["changed"], 1, "{out}");
    assert_eq!(w.row("st-never").await["status"], "enabling");

    let bad = domain::two_factor::ListQuery { agent: Some("asleep".into()), limit: 10, ..Default::default() };
    let err = domain::two_factor::list(&w.app.ctx, &w.caller, &bad).await.unwrap_err();
    assert!(err.to_string().contains("agent"), "{err}");
}
on_both_databases!(
    an_agent_is_online_only_when_heard_from_in_the_last_three_minutes,
    super::an_agent_is_online_only_when_heard_from_in_the_last_three_minutes
);

async fn a_change_waiting_for_an_offline_agent_can_be_canceled_or_superseded(backend: Backend) {
    let w = world(backend).await;
    let id = w.ids[0];
    assert_eq!(w.save(id, "enable").await["changed"], 1);
    w.hand_over().await;
    // The agent went silent: the change waits for it, and can be canceled from the tab's row
    // and from the server page.
    let row = w.row("st-now").await;
    assert_eq!((row["status"].as_str(), row["seconds_left"].as_i64()), (Some("enabling"), Some(0)), "{row}");
    assert_eq!(row["agent_online"], false, "{row}");
    let page = w.page(id).await;
    assert_eq!(page["two_factor"], "Enabling… (verification code; waiting for the agent)");
    assert_eq!(page["two_factor_cancelable"], true, "{page}");
    let canceled = w.json("two-factor/cancel", &[("server_ids[]", &id.to_string())]).await;
    assert_eq!(canceled["changed"], 1, "{canceled}");
    let row = w.row("st-now").await;
    assert_eq!((row["status"].as_str(), row["method"].as_str()), (Some("disabled"), None), "{row}");
    assert_eq!(w.page(id).await["two_factor_cancelable"], false);
    assert!(domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().is_none(), "nothing left for the agent");
    // A failure reported for the canceled change afterwards changes nothing.
    assert!(!w.ack(id, 1, Err("sshd -t failed".into())).await);
    assert_eq!(w.row("st-now").await["status"], "disabled");

    // Superseded: a new save replaces a change waiting for the agent.
    w.heard_from(id).await;
    assert_eq!(w.save(id, "enable").await["changed"], 1);
    w.hand_over().await;
    let waiting = domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().expect("handed over").revision;
    w.heard_from(id).await;
    assert_eq!(w.save(id, "disable").await["changed"], 1);
    let row = w.row("st-now").await;
    assert_eq!((row["status"].as_str(), row["seconds_left"].as_i64()), (Some("disabling"), Some(300)), "{row}");
    assert!(domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().is_none(), "the old one is gone");
    assert!(!w.ack(id, waiting, Err("too late".into())).await, "a superseded change's report does not count");
    assert_eq!(w.row("st-now").await["status"], "disabling");
}
on_both_databases!(
    a_change_waiting_for_an_offline_agent_can_be_canceled_or_superseded,
    super::a_change_waiting_for_an_offline_agent_can_be_canceled_or_superseded
);

/// The agent had taken the change just before the admin canceled it: whichever is first, the
/// console ends up saying what the host runs.
async fn a_cancel_racing_the_agents_report_ends_with_what_the_host_runs(backend: Backend) {
    let w = world(backend).await;
    let id = w.ids[0];
    let sid = id.to_string();
    let mut outcomes = vec![];
    for round in 0..6 {
        w.heard_from(id).await;
        let action = if round % 2 == 0 { "enable" } else { "disable" };
        assert_eq!(w.save(id, action).await["changed"], 1);
        w.hand_over().await;
        let revision = domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().expect("handed over").revision;
        let form = [("server_ids[]", sid.as_str())];
        let (canceled, acked) =
            tokio::join!(w.app.call("two-factor/cancel", &form, Some(&w.admin)), w.ack(id, revision, Ok(())));
        assert_eq!(canceled.status(), 200);
        let canceled: Value = canceled.json().await.unwrap();
        assert!(acked, "the host applied it, so its report counts, canceled or not (round {round})");
        let row = w.row("st-now").await;
        let expected = if action == "enable" { "enabled" } else { "disabled" };
        assert_eq!(row["status"], expected, "round {round}: {row} after {canceled}");
        assert_eq!(row["in_force"]["on"], action == "enable", "{row}");
        outcomes.push(canceled["changed"].as_u64().unwrap());
    }
    // Either order is fine; both are recorded as they happened.
    assert!(outcomes.iter().all(|n| *n <= 1), "{outcomes:?}");
}
on_both_databases!(
    a_cancel_racing_the_agents_report_ends_with_what_the_host_runs,
    super::a_cancel_racing_the_agents_report_ends_with_what_the_host_runs
);

async fn a_failed_change_is_a_readiness_blocker_until_a_later_one_applies(backend: Backend) {
    let w = world(backend).await;
    let id = w.ids[0];
    assert_eq!(w.save(id, "enable").await["changed"], 1);
    w.hand_over().await;
    let reason = "sshd -t failed: /etc/ssh/sshd_config line 3: Bad configuration option";
    assert!(w.ack(id, 1, Err(reason.into())).await);
    w.heard_from(id).await;

    // A failed first enable: nothing in force, no method or topic, and the failure blocks.
    let row = w.row("st-now").await;
    assert_eq!(
        (row["status"].as_str(), row["method"].as_str(), row["topic"].as_str()),
        (Some("failed"), None, None),
        "{row}"
    );
    assert_eq!(row["in_force"]["on"], false);
    assert!(rules(&row).contains(&("last_apply_failed".to_owned(), true)), "{row}");
    let page = w.page(id).await;
    let blocker = page["readiness"].as_array().unwrap().iter().find(|f| f["rule"] == "last_apply_failed");
    let message = blocker.expect("the failure stands in the way")["message"].as_str().unwrap().to_owned();
    assert!(message.contains("st-now") && message.contains("Bad configuration option"), "{message}");
    let shown = page["two_factor"].as_str().unwrap();
    assert!(shown.starts_with("Failed: ") && shown.ends_with("2FA is off on this server."), "{shown}");

    // It does not stand in the way of trying again, and once that applies it is gone.
    let retried = w.json("two-factor/retry", &[("server_ids[]", &id.to_string())]).await;
    assert_eq!(retried["changed"], 1, "{retried}");
    w.hand_over().await;
    assert!(w.ack(id, 2, Ok(())).await);
    w.heard_from(id).await;
    let row = w.row("st-now").await;
    assert_eq!(row["status"], "enabled");
    assert!(rules(&row).is_empty(), "{row}");
    assert!(w.page(id).await["readiness"].as_array().unwrap().is_empty());

    // A failed change of an enabled server: what was in force stays, and the page says so.
    assert_eq!(w.save(id, "disable").await["changed"], 1);
    w.hand_over().await;
    assert!(w.ack(id, 3, Err("cannot write /etc/pam.d/sshd: read-only file system".into())).await);
    w.heard_from(id).await;
    let row = w.row("st-now").await;
    assert_eq!((row["status"].as_str(), row["method"].as_str()), (Some("failed"), Some("code")), "{row}");
    assert_eq!(row["in_force"]["on"], true);
    let shown = w.page(id).await["two_factor"].as_str().unwrap().to_owned();
    assert!(shown.ends_with("Still in force: verification code."), "{shown}");
}
on_both_databases!(
    a_failed_change_is_a_readiness_blocker_until_a_later_one_applies,
    super::a_failed_change_is_a_readiness_blocker_until_a_later_one_applies
);
