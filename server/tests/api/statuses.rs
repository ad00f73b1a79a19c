//! Statuses that tell the truth: an agent is Online only when it was heard from in the last 3
//! minutes (the list, its filter, the readiness, the server page and the operators' counts
//! agree); a change waiting for an offline agent can be canceled or superseded; a failed change
//! stands as a readiness blocker while it is the server's outcome.

use crate::common::*;
use app::functions::{
    servers::GetServer,
    tenants::ListTenants,
    two_factor::{CancelTwoFactor, RetryTwoFactor, SaveTwoFactor},
};
use app::models::two_factor::TwoFactorQuery;
use app::models::{ChangeResult, Method, ReadinessRule, ServerRow, TwoFactorRow, TwoFactorState, TwoFactorStatus};
use domain::{entities::server, Clock};
use sea_orm::{ActiveValue::Set, EntityTrait};
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
    async fn row(&self, name: &str) -> TwoFactorRow {
        let page =
            self.app.two_factor_list(&self.admin, TwoFactorQuery { search: name.into(), ..Default::default() }).await;
        page.items.into_iter().find(|r| r.name == name).expect("listed")
    }

    async fn state(&self, name: &str) -> TwoFactorState {
        self.row(name).await.status.state()
    }

    async fn page(&self, id: Uuid) -> ServerRow {
        self.app.run(&self.admin, GetServer { id: id.to_string() }).await
    }

    /// Names of the servers the domain's list gives for `agent=…`, and its total.
    async fn by_agent(&self, agent: &str) -> (Vec<String>, u64) {
        let q = domain::two_factor::ListQuery { agent: Some(agent.into()), limit: 100, ..Default::default() };
        let page = domain::two_factor::list(&self.app.ctx, &self.caller, &q).await.unwrap();
        (page.items.into_iter().map(|r| r.server.name).collect(), page.total)
    }

    /// Enables (`true`) or disables 2FA with verification codes on `id`.
    async fn save(&self, id: Uuid, enable: bool) -> ChangeResult {
        let change = if enable { enable_code(&[id]) } else { disable(&[id]) };
        self.app.run(&self.admin, SaveTwoFactor { change }).await
    }

    async fn cancel(&self, id: Uuid) -> ChangeResult {
        self.app.run(&self.admin, CancelTwoFactor { server_ids: vec![id] }).await
    }

    /// An operator's count of the tenant's servers, and of those online.
    async fn counts(&self, operator: &str) -> (u64, u64) {
        let tenants = self.app.run(operator, ListTenants {}).await;
        let ours = tenants.iter().find(|t| t.name == self.tenant.name).unwrap();
        (ours.servers, ours.servers_online)
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

fn rules(row: &TwoFactorRow) -> Vec<(ReadinessRule, bool)> {
    row.readiness.iter().map(|f| (f.rule, f.blocker)).collect()
}

async fn an_agent_is_online_only_when_heard_from_in_the_last_three_minutes(backend: Backend) {
    let w = world(backend).await;
    for (name, expected) in NAMES.iter().zip([true, true, false, false]) {
        let row = w.row(name).await;
        assert_eq!(row.agent_online, expected, "{name} in the list: {row:?}");
        // Offline is a warning: a change waits for the agent.
        let warned = rules(&row).contains(&(ReadinessRule::AgentOnline, false));
        assert_eq!(warned, !expected, "{name}'s readiness: {row:?}");
    }
    // The server page, a server not heard from for 13 minutes (it has no agent credential at
    // all, as the demo's servers).
    let page = w.page(w.ids[2]).await;
    assert!(!page.agent_online, "{page:?}");
    assert!(page.last_seen.is_some(), "{page:?}");

    // The filter agrees with what is shown, and so do the operators' counts.
    assert_eq!(w.by_agent("online").await, (vec!["st-2min".to_owned(), "st-now".to_owned()], 2));
    assert_eq!(w.by_agent("offline").await, (vec!["st-13min".to_owned(), "st-never".to_owned()], 2));
    let operator = w.app.create_operator("ops").await;
    let ops = w.app.sign_in(operator).await;
    assert_eq!(w.counts(&ops).await, (4, 2));

    // Time passes without a word from the agents: the one seen 2 minutes ago goes offline, and
    // everything says so at once.
    w.app.clock.advance(chrono::Duration::seconds(61));
    assert!(!w.row("st-2min").await.agent_online);
    assert_eq!(w.by_agent("online").await, (vec!["st-now".to_owned()], 1));
    assert_eq!(w.counts(&ops).await.1, 1);
    // An agent heard from again is online again.
    w.heard_from(w.ids[2]).await;
    assert!(w.row("st-13min").await.agent_online);

    // Enabling 2FA on a server whose agent is silent is taken: the change waits for the agent.
    let out = w.save(w.ids[3], true).await;
    assert_eq!(out.changed, 1, "{out:?}");
    assert_eq!(w.state("st-never").await, TwoFactorState::Enabling);

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
    assert_eq!(w.save(id, true).await.changed, 1);
    w.hand_over().await;
    // The agent went silent: the change waits for it, and can be canceled from the tab's row
    // and from the server page.
    let row = w.row("st-now").await;
    assert_eq!(row.status, TwoFactorStatus::Enabling { seconds_left: 0 }, "{row:?}");
    assert!(!row.agent_online, "{row:?}");
    let page = w.page(id).await;
    assert_eq!(page.two_factor.as_deref(), Some("Enabling… (verification code; waiting for the agent)"));
    assert!(page.two_factor_cancelable, "{page:?}");
    let canceled = w.cancel(id).await;
    assert_eq!(canceled.changed, 1, "{canceled:?}");
    let row = w.row("st-now").await;
    assert_eq!((row.status.state(), row.method), (TwoFactorState::Disabled, None), "{row:?}");
    assert!(!w.page(id).await.two_factor_cancelable);
    assert!(domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().is_none(), "nothing left for the agent");
    // A failure reported for the canceled change afterwards changes nothing.
    assert!(!w.ack(id, 1, Err("sshd -t failed".into())).await);
    assert_eq!(w.state("st-now").await, TwoFactorState::Disabled);

    // Superseded: a new save replaces a change waiting for the agent.
    w.heard_from(id).await;
    assert_eq!(w.save(id, true).await.changed, 1);
    w.hand_over().await;
    let waiting = domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().expect("handed over").revision;
    w.heard_from(id).await;
    assert_eq!(w.save(id, false).await.changed, 1);
    let row = w.row("st-now").await;
    assert_eq!(row.status, TwoFactorStatus::Disabling { seconds_left: 300 }, "{row:?}");
    assert!(domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().is_none(), "the old one is gone");
    assert!(!w.ack(id, waiting, Err("too late".into())).await, "a superseded change's report does not count");
    assert_eq!(w.state("st-now").await, TwoFactorState::Disabling);
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
    let mut outcomes = vec![];
    for round in 0..6 {
        w.heard_from(id).await;
        let enable = round % 2 == 0;
        assert_eq!(w.save(id, enable).await.changed, 1);
        w.hand_over().await;
        let revision = domain::agents::assignment(&w.app.ctx, id, 0).await.unwrap().expect("handed over").revision;
        let (canceled, acked) = tokio::join!(w.cancel(id), w.ack(id, revision, Ok(())));
        assert!(acked, "the host applied it, so its report counts, canceled or not (round {round})");
        let row = w.row("st-now").await;
        let expected = if enable { TwoFactorStatus::Enabled } else { TwoFactorStatus::Disabled };
        assert_eq!(row.status, expected, "round {round}: {row:?} after {canceled:?}");
        assert_eq!(row.in_force.on, enable, "{row:?}");
        outcomes.push(canceled.changed);
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
    assert_eq!(w.save(id, true).await.changed, 1);
    w.hand_over().await;
    let reason = "sshd -t failed: /etc/ssh/sshd_config line 3: Bad configuration option";
    assert!(w.ack(id, 1, Err(reason.into())).await);
    w.heard_from(id).await;

    // A failed first enable: nothing in force, no method or topic, and the failure blocks.
    let row = w.row("st-now").await;
    assert_eq!((row.status.state(), row.method, row.topic.as_deref()), (TwoFactorState::Failed, None, None), "{row:?}");
    assert!(!row.in_force.on);
    assert!(rules(&row).contains(&(ReadinessRule::LastApplyFailed, true)), "{row:?}");
    let page = w.page(id).await;
    let blocker = page.readiness.iter().find(|f| f.rule == ReadinessRule::LastApplyFailed);
    let message = &blocker.expect("the failure stands in the way").message;
    assert!(message.contains("st-now") && message.contains("Bad configuration option"), "{message}");
    let shown = page.two_factor.as_deref().unwrap();
    assert!(shown.starts_with("Failed: ") && shown.ends_with("2FA is off on this server."), "{shown}");

    // It does not stand in the way of trying again, and once that applies it is gone.
    let retried = w.app.run(&w.admin, RetryTwoFactor { server_ids: vec![id] }).await;
    assert_eq!(retried.changed, 1, "{retried:?}");
    w.hand_over().await;
    assert!(w.ack(id, 2, Ok(())).await);
    w.heard_from(id).await;
    let row = w.row("st-now").await;
    assert_eq!(row.status, TwoFactorStatus::Enabled);
    assert!(rules(&row).is_empty(), "{row:?}");
    assert!(w.page(id).await.readiness.is_empty());

    // A failed change of an enabled server: what was in force stays, and the page says so.
    assert_eq!(w.save(id, false).await.changed, 1);
    w.hand_over().await;
    assert!(w.ack(id, 3, Err("cannot write /etc/pam.d/sshd: read-only file system".into())).await);
    w.heard_from(id).await;
    let row = w.row("st-now").await;
    assert_eq!((row.status.state(), row.method), (TwoFactorState::Failed, Some(Method::Code)), "{row:?}");
    assert!(row.in_force.on);
    let shown = w.page(id).await.two_factor.unwrap();
    assert!(shown.ends_with("Still in force: verification code."), "{shown}");
}
on_both_databases!(
    a_failed_change_is_a_readiness_blocker_until_a_later_one_applies,
    super::a_failed_change_is_a_readiness_blocker_until_a_later_one_applies
);
