//! Saves, cancels, retries and acknowledgements of one server at the same time: none is lost,
//! and the outcomes that arrive late or out of order leave the console telling the truth.
//! Driven through `domain` directly, many at once, on both databases.

use crate::common::*;
use domain::{
    audit::Actor,
    entities::{server, tenant, topic, two_factor_config},
    two_factor::{self, Action},
    Caller,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

struct World {
    app: TestApp,
    admin: Caller,
    actor: Actor,
}

async fn world(backend: Backend) -> World {
    let app = spawn_app(backend).await;
    let db = &app.ctx.db;
    let acme = tenant::Entity::find().filter(tenant::Column::Name.eq("Acme Retail")).one(db).await.unwrap().unwrap();
    let user = domain::entities::user::Entity::find()
        .filter(domain::entities::user::Column::TenantId.eq(acme.id))
        .filter(domain::entities::user::Column::Role.eq("tenant_admin"))
        .one(db)
        .await
        .unwrap()
        .expect("an Acme tenant admin");
    let admin = domain::accounts::caller(&app.ctx, user.id).await.unwrap();
    World { app, admin, actor: Actor::new("race test", "127.0.0.1") }
}

impl World {
    async fn server(&self, name: &str) -> server::Model {
        let tenant_id = self.admin.tenant_id.unwrap();
        let rows = ready_servers(tenant_id, name, 1);
        server::Entity::insert_many(rows.clone()).exec_without_returning(&self.app.ctx.db).await.unwrap();
        let id = rows[0].id.clone().unwrap();
        server::Entity::find_by_id(id).one(&self.app.ctx.db).await.unwrap().unwrap()
    }

    async fn save(&self, id: uuid::Uuid, action: Action) -> i64 {
        let out = two_factor::save(&self.app.ctx, &self.admin, &self.actor, &[id], action).await.unwrap();
        assert!(out.refused.is_empty(), "{out:?}");
        out.saved[0].revision
    }

    /// A topic of Acme with a confirmed subscriber, written straight to the database (the
    /// confirmation link is tested elsewhere).
    async fn confirmed_topic(&self, name: &str) -> topic::Model {
        use sea_orm::ActiveValue::Set;
        let ctx = &self.app.ctx;
        let t = domain::topics::create(
            ctx,
            &self.admin,
            &self.actor,
            &domain::topics::NewTopic::parse(name, name).unwrap(),
        )
        .await
        .unwrap();
        domain::entities::subscription::Entity::insert(domain::entities::subscription::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(t.tenant_id),
            topic_id: Set(t.id),
            protocol: Set(proto::Protocol::Email),
            endpoint: Set(format!("oncall@{name}.example")),
            remark: Set(String::new()),
            status: Set(proto::SubscriptionStatus::Confirmed),
            created_at: Set(chrono::Utc::now()),
            confirmed_at: Set(Some(chrono::Utc::now())),
            ..Default::default()
        })
        .exec_without_returning(&ctx.db)
        .await
        .unwrap();
        t
    }

    async fn config(&self, id: uuid::Uuid) -> two_factor_config::Model {
        two_factor_config::Entity::find_by_id(id).one(&self.app.ctx.db).await.unwrap().unwrap()
    }

    /// Lets the apply delay pass and runs the due jobs: the newest revision is handed over
    /// (by this call or by the console's own worker, whichever leases the job first).
    async fn hand_over(&self, id: uuid::Uuid) {
        self.app.clock.advance(self.app.ctx.rollout.apply_delay);
        // The agent keeps heartbeating meanwhile, so it is still online for the next save.
        let s = server::Entity::find_by_id(id).one(&self.app.ctx.db).await.unwrap().unwrap();
        let applied = two_factor_config::Entity::find_by_id(id)
            .one(&self.app.ctx.db)
            .await
            .unwrap()
            .map_or(0, |c| c.applied_revision);
        domain::agents::heartbeat(&self.app.ctx, &s, applied, "192.0.2.1").await.unwrap();
        two_factor::run_due_jobs(&self.app.ctx, "race-test", 1000).await.unwrap();
        eventually("the revision is handed over", || async { self.config(id).await.phase.as_str() == "delivering" })
            .await;
    }
}

const ENABLE: Action = Action::EnableCode;

async fn concurrent_saves_and_acks_keep_the_newest_revision(backend: Backend) {
    let w = world(backend).await;
    let s = w.server("race").await;
    let ctx = &w.app.ctx;
    // Four different changes, each unlike the round's own (a save that changes nothing is skipped).
    let mut topics = vec![];
    for name in ["race-a", "race-b", "race-c", "race-d"] {
        topics.push(w.confirmed_topic(name).await.id);
    }
    for round in 0..15 {
        let handed = w.save(s.id, if round % 2 == 0 { ENABLE } else { Action::Disable }).await;
        w.hand_over(s.id).await;
        // The agent acknowledges the handed-over revision while four saves race each other.
        let ack = domain::agents::acknowledge(ctx, &s, handed, Ok(()), "10.0.0.1");
        let saves = futures::future::join_all(topics.iter().map(|t| w.save(s.id, Action::EnableSms { topic_id: *t })));
        let (ack, saved) = tokio::join!(ack, saves);
        ack.unwrap();
        let mut numbers = saved.clone();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 4, "round {round}: each save gets its own revision: {saved:?}");
        let highest = *numbers.last().unwrap();
        let c = w.config(s.id).await;
        assert_eq!(c.revision, highest, "round {round}: the stored revision is the highest saved");
        assert_eq!(c.phase.as_str(), "scheduled", "round {round}: the newest save waits for its delay");
    }
}
on_both_databases!(
    concurrent_saves_and_acks_keep_the_newest_revision,
    super::concurrent_saves_and_acks_keep_the_newest_revision
);

async fn canceling_a_disable_cannot_bring_back_a_deleted_topic(backend: Backend) {
    let w = world(backend).await;
    let s = w.server("lost-topic").await;
    let ctx = &w.app.ctx;
    let tenant_id = w.admin.tenant_id.unwrap();
    let t = domain::topics::create(
        ctx,
        &w.admin,
        &w.actor,
        &domain::topics::NewTopic::parse("lost-codes", "Lost codes").unwrap(),
    )
    .await
    .unwrap();
    // A confirmed subscriber, written straight to the database: the confirmation link is
    // tested elsewhere.
    use sea_orm::ActiveValue::Set;
    domain::entities::subscription::Entity::insert(domain::entities::subscription::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(tenant_id),
        topic_id: Set(t.id),
        protocol: Set(proto::Protocol::Email),
        endpoint: Set("oncall@acme.example".into()),
        remark: Set(String::new()),
        status: Set(proto::SubscriptionStatus::Confirmed),
        created_at: Set(chrono::Utc::now()),
        confirmed_at: Set(Some(chrono::Utc::now())),
        ..Default::default()
    })
    .exec_without_returning(&ctx.db)
    .await
    .unwrap();
    let on = w.save(s.id, Action::EnableSms { topic_id: t.id }).await;
    w.hand_over(s.id).await;
    assert!(domain::agents::acknowledge(ctx, &s, on, Ok(()), "10.0.0.1").await.unwrap());

    w.save(s.id, Action::Disable).await;
    // While the Disable waits, the host still sends codes to the topic: it cannot be deleted.
    let refused = domain::topics::delete(ctx, &w.admin, &w.actor, t.id).await.unwrap_err();
    assert!(refused.to_string().contains("lost-topic-00000"), "{refused}");

    // Had it gone anyway, as the delete before this rule let it (it cleared the pending
    // Disable's topic and deleted the row), canceling the Disable would turn 2FA back on with
    // nobody to receive codes: refused, and the Disable still applies.
    two_factor_config::Entity::update_many()
        .col_expr(two_factor_config::Column::TopicId, sea_orm::sea_query::Expr::value(Option::<uuid::Uuid>::None))
        .filter(two_factor_config::Column::TopicId.eq(t.id))
        .exec(&ctx.db)
        .await
        .unwrap();
    domain::entities::subscription::Entity::delete_many()
        .filter(domain::entities::subscription::Column::TopicId.eq(t.id))
        .exec(&ctx.db)
        .await
        .unwrap();
    topic::Entity::delete_by_id(t.id).exec(&ctx.db).await.unwrap();
    let out = two_factor::cancel(ctx, &w.admin, &w.actor, &[s.id]).await.unwrap();
    assert!(out.done.is_empty(), "{out:?}");
    assert!(out.refused[0].reasons[0].contains("deleted"), "{out:?}");
    assert_eq!(w.config(s.id).await.phase.as_str(), "scheduled", "the Disable still applies");
}
on_both_databases!(
    canceling_a_disable_cannot_bring_back_a_deleted_topic,
    super::canceling_a_disable_cannot_bring_back_a_deleted_topic
);
