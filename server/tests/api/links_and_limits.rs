//! The links in messages need a click (a GET changes nothing), unsubscribes that leave 2FA
//! without a code recipient, confirmation limits per endpoint, outbox leases and secrets, and
//! races on unique names.

use crate::common::*;
use app::functions::topics::{
    AddSubscriptions, ConfirmSubscription, CreateTopic, DeleteSubscription, PublishMessage, RequestConfirmation,
    Unsubscribe,
};
use app::models::{AppError, ReadinessRule, TwoFactorRow};
use domain::{
    entities::{confirmation_send, outbox, server, subscription, topic, two_factor_config},
    Clock,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Statement,
};
use std::sync::{Arc, Mutex};

struct Setup {
    app: TestApp,
    sink: SmtpSink,
    admin: String,
}

async fn setup(backend: Backend) -> Setup {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Default::default() }).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    Setup { app, sink, admin }
}

/// The token of a link.
fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

impl Setup {
    async fn create_topic_as(&self, cookie: &str, name: &str) -> String {
        self.app.run(cookie, CreateTopic { name: name.into(), display_name: "Acme Codes".into() }).await
    }

    async fn create_topic(&self, name: &str) -> String {
        self.create_topic_as(&self.admin, name).await
    }

    async fn subscribe_as(&self, cookie: &str, topic: &str, protocol: &str, endpoints: &str) -> Result<usize, Refused> {
        let add = AddSubscriptions {
            topic_id: topic.into(),
            protocol: protocol.into(),
            endpoints: endpoints.into(),
            remark: String::new(),
        };
        self.app.try_run(cookie, add).await
    }

    async fn subscribe(&self, topic: &str, protocol: &str, endpoints: &str) -> Result<usize, Refused> {
        self.subscribe_as(&self.admin, topic, protocol, endpoints).await
    }

    /// The subscription of `endpoint` (to any topic: the tests use each endpoint once, unless
    /// they say the topic).
    async fn subscription(&self, endpoint: &str) -> subscription::Model {
        subscription::Entity::find()
            .filter(subscription::Column::Endpoint.eq(endpoint))
            .one(&self.app.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a subscription of {endpoint}"))
    }

    async fn subscription_in(&self, topic: &str, endpoint: &str) -> subscription::Model {
        subscription::Entity::find()
            .filter(subscription::Column::TopicId.eq(uuid::Uuid::parse_str(topic).unwrap()))
            .filter(subscription::Column::Endpoint.eq(endpoint))
            .one(&self.app.ctx.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a subscription of {endpoint}"))
    }

    async fn delete_in(&self, topic: &str, endpoint: &str) {
        let id = self.subscription_in(topic, endpoint).await.id.to_string();
        self.app.run(&self.admin, DeleteSubscription { id }).await;
    }

    async fn resend_in(&self, topic: &str, endpoint: &str) -> Result<(), Refused> {
        let id = self.subscription_in(topic, endpoint).await.id.to_string();
        self.app.try_run(&self.admin, RequestConfirmation { id }).await
    }

    /// Opens a link from a message as a browser, a mail scanner or a link preview does.
    async fn open(&self, link: &str) -> (u16, String) {
        let res = self.app.http.get(link).header("accept", "text/html").send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Presses the button of a link's page without wasm: a plain form post.
    async fn press(&self, endpoint: &str, token: &str) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(&format!("/api/public/{endpoint}")))
            .header("accept", "text/html,application/xhtml+xml")
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
    }

    /// Subscribes `endpoint` (email) and confirms it with the link from its message.
    async fn confirmed(&self, topic: &str, endpoint: &str) {
        self.subscribe(topic, "email", endpoint).await.unwrap();
        let link = self.sink.wait_for(endpoint, 1).await[0].link("/smn/confirm").unwrap();
        assert_eq!(self.press("confirm", &token_of(&link)).await.status(), 302);
        assert_eq!(self.subscription(endpoint).await.status.as_str(), "confirmed");
    }

    async fn publish(&self, topic: &str, message: &str) -> usize {
        let publish = PublishMessage { topic_id: topic.into(), subject: "Login code".into(), message: message.into() };
        self.app.run(&self.admin, publish).await
    }

    /// Two of the tenant's servers (the first two by name, after `skip`) send their login codes
    /// to `topic` (SMS/Email 2FA in force); returns their names.
    async fn servers_use_for_codes(&self, topic: &str, skip: usize) -> Vec<String> {
        let topic_id = uuid::Uuid::parse_str(topic).unwrap();
        let db = &self.app.ctx.db;
        let t = topic::Entity::find_by_id(topic_id).one(db).await.unwrap().unwrap();
        let servers = server::Entity::find()
            .filter(server::Column::TenantId.eq(t.tenant_id))
            .order_by_asc(server::Column::Name)
            .all(db)
            .await
            .unwrap();
        let servers = &servers[skip..skip + 2];
        for srv in servers {
            two_factor_config::Entity::insert(two_factor_config::ActiveModel {
                server_id: Set(srv.id),
                tenant_id: Set(t.tenant_id),
                enabled: Set(true),
                method: Set(proto::Method::Sms),
                topic_id: Set(Some(topic_id)),
                updated_at: Set(chrono::Utc::now()),
                revision: Set(1),
                phase: Set(domain::entities::two_factor_config::PhaseName::Applied),
                applied_revision: Set(1),
                applied_enabled: Set(true),
                applied_method: Set(Some(proto::Method::Sms)),
                applied_topic_id: Set(Some(topic_id)),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await
            .unwrap();
        }
        servers.iter().map(|s| s.name.clone()).collect()
    }
}

/// The `(field, message)` pairs of a refusal: several, or the one.
fn field_errors(error: &AppError) -> Vec<(String, String)> {
    match error {
        AppError::Invalid(errors) => errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect(),
        AppError::Validation { field, message } => vec![(field.clone(), message.clone())],
        other => panic!("field errors in {other:?}"),
    }
}

/// A server function's answer read from its raw response: the value, or the refusal.
fn answer<T: serde::de::DeserializeOwned>(status: u16, text: &str) -> Result<T, AppError> {
    if status == 200 {
        Ok(serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}")))
    } else {
        Err(serde_json::from_str(text).unwrap_or_else(|e| panic!("{status}: not an AppError ({e}): {text}")))
    }
}

async fn opening_a_link_changes_nothing_until_its_button_is_pressed(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("night-shift").await;
    s.subscribe(&topic, "email", "ops@acme.example").await.unwrap();
    let confirm = s.sink.wait_for("ops@acme.example", 1).await[0].link("/smn/confirm?token=").unwrap();
    let before = s.subscription("ops@acme.example").await;

    // A scanner, a link preview and the recipient all open the link: each sees what the button
    // would do, for whom (masked) and which topic, and nothing changes.
    for _ in 0..3 {
        let (status, page) = s.open(&confirm).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("Confirm that o***@acme.example receives messages of topic night-shift (Acme Codes)"),
            "{page}"
        );
        assert!(!page.contains("ops@acme.example"), "the page shows the endpoint masked: {page}");
        assert!(page.contains("action=\"/api/public/confirm\""), "a form the button posts: {page}");
        assert!(page.contains(&format!("value=\"{}\"", token_of(&confirm))), "{page}");
    }
    assert_eq!(s.subscription("ops@acme.example").await, before, "a GET changes nothing, the token included");

    // The button (a plain form post, no wasm) confirms and comes back to the page.
    let res = s.press("confirm", &token_of(&confirm)).await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/smn/confirm?token={}", token_of(&confirm)));
    let after = s.subscription("ops@acme.example").await;
    assert_eq!(after.status.as_str(), "confirmed");
    let (status, page) = s.open(&s.app.url(&location)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your subscription is confirmed"), "{page}");
    assert!(!page.contains("action=\"/api/public/confirm\""), "nothing left to press: {page}");
    // From the app, pressing again says nothing changed.
    let again = s.app.run(NO_SESSION, ConfirmSubscription { token: token_of(&confirm) }).await;
    assert!(again.already);

    // Every message's unsubscribe link works the same way.
    assert_eq!(s.publish(&topic, "Your code is 424242").await, 1);
    let unsubscribe = s.sink.wait_for("ops@acme.example", 2).await[1].link("/smn/unsubscribe?token=").unwrap();
    for _ in 0..2 {
        let (status, page) = s.open(&unsubscribe).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Stop all messages of topic night-shift (Acme Codes) to o***@acme.example"), "{page}");
        assert!(page.contains("action=\"/api/public/unsubscribe\""), "{page}");
    }
    assert_eq!(s.subscription("ops@acme.example").await, after, "still confirmed after GETs");
    let res = s.press("unsubscribe", &token_of(&unsubscribe)).await;
    assert_eq!(res.status(), 302);
    assert_eq!(s.subscription("ops@acme.example").await.status.as_str(), "canceled");
    let (_, page) = s.open(&unsubscribe).await;
    assert!(page.contains("You are unsubscribed"), "{page}");

    // Unknown tokens get a clear page, and change nothing.
    let (status, page) = s.open(&s.app.url("/smn/confirm?token=not-a-real-token")).await;
    assert_eq!(status, 404);
    assert!(page.contains("This link is not valid"), "{page}");
    let (status, page) = s.open(&s.app.url("/smn/unsubscribe?token=")).await;
    assert_eq!(status, 404);
    assert!(page.contains("This link is not valid"), "{page}");
    assert_eq!(s.app.refused(NO_SESSION, Unsubscribe { token: "x".repeat(5000) }).await.status, 404);
}
on_both_databases!(
    opening_a_link_changes_nothing_until_its_button_is_pressed,
    super::opening_a_link_changes_nothing_until_its_button_is_pressed
);

async fn unknown_tokens_are_turned_away_without_waiting_for_the_write_lock(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("locked").await;
    s.subscribe(&topic, "email", "wait@acme.example").await.unwrap();
    let confirm = s.sink.wait_for("wait@acme.example", 1).await[0].link("/smn/confirm").unwrap();
    // Another writer holds the database (on SQLite, the one write lock).
    let held = domain::db::write_txn(&s.app.ctx.db).await.unwrap();
    let token = || "forged-token".to_owned();
    let confirm_refused = s.app.refused(NO_SESSION, ConfirmSubscription { token: token() }).await;
    assert_eq!(confirm_refused.status, 404, "confirm: {confirm_refused}");
    let unsubscribe_refused = s.app.refused(NO_SESSION, Unsubscribe { token: token() }).await;
    assert_eq!(unsubscribe_refused.status, 404, "unsubscribe: {unsubscribe_refused}");
    let (status, page) = s.open(&confirm).await;
    assert_eq!(status, 200, "the page of a good link only reads: {page}");
    held.rollback().await.unwrap();
    assert_eq!(s.subscription("wait@acme.example").await.status.as_str(), "unconfirmed");
}
on_both_databases!(
    unknown_tokens_are_turned_away_without_waiting_for_the_write_lock,
    super::unknown_tokens_are_turned_away_without_waiting_for_the_write_lock
);

async fn an_unsubscribe_that_leaves_2fa_without_recipients_is_honoured_and_reported(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("login-codes-9").await;
    s.confirmed(&topic, "only@acme.example").await;
    let servers = s.servers_use_for_codes(&topic, 0).await;
    let rows = || s.app.two_factor_rows(&s.admin, "");
    let warning = "topic login-codes-9 has no confirmed endpoint: nobody receives login codes";
    let warns = |row: &TwoFactorRow| {
        row.readiness
            .iter()
            .any(|f| f.rule == ReadinessRule::TopicRecipients && !f.blocker && f.message.contains(warning))
    };
    assert!(!rows().await.iter().any(warns), "no warning while someone receives");

    assert_eq!(s.publish(&topic, "Your code is 111111").await, 1);
    let unsubscribe = s.sink.wait_for("only@acme.example", 2).await[1].link("/smn/unsubscribe").unwrap();
    assert_eq!(s.press("unsubscribe", &token_of(&unsubscribe)).await.status(), 302);
    assert_eq!(s.subscription("only@acme.example").await.status.as_str(), "canceled", "the recipient's right");

    // The tenant's admins hear of it by email, naming the servers.
    let alert = s.sink.wait_for("admin@acme.example", 1).await.remove(0);
    assert!(alert.subject.contains("login-codes-9"), "{}", alert.subject);
    for name in &servers {
        assert!(alert.text.contains(name.as_str()), "{name} in {}", alert.text);
    }
    // The 2FA tab warns on those servers, and only those.
    for row in rows().await {
        assert_eq!(warns(&row), servers.contains(&row.name), "{}: {row:?}", row.name);
    }
    // An unsubscribe of an endpoint of a topic that still has recipients alerts nobody.
    let other = s.create_topic("spare").await;
    s.confirmed(&other, "one@acme.example").await;
    s.confirmed(&other, "two@acme.example").await;
    s.servers_use_for_codes(&other, 2).await;
    let unsubscribe = s.sink.wait_for("one@acme.example", 1).await[0].link("/smn/unsubscribe").unwrap();
    assert_eq!(s.press("unsubscribe", &token_of(&unsubscribe)).await.status(), 302);
    let alerts =
        outbox::Entity::find().filter(outbox::Column::Kind.eq("topic_without_recipients")).count(&s.app.ctx.db);
    assert_eq!(alerts.await.unwrap(), 1);
}
on_both_databases!(
    an_unsubscribe_that_leaves_2fa_without_recipients_is_honoured_and_reported,
    super::an_unsubscribe_that_leaves_2fa_without_recipients_is_honoured_and_reported
);

async fn the_last_confirmed_endpoint_of_a_2fa_topic_cannot_be_deleted(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("night-shift").await;
    s.confirmed(&topic, "first@acme.example").await;
    s.confirmed(&topic, "second@acme.example").await;
    s.subscribe(&topic, "email", "pending@acme.example").await.unwrap();
    let servers = s.servers_use_for_codes(&topic, 0).await;
    let delete = |endpoint: &'static str| {
        let s = &s;
        async move {
            let id = s.subscription(endpoint).await.id.to_string();
            s.app.try_run(&s.admin, DeleteSubscription { id }).await
        }
    };
    delete("first@acme.example").await.expect("another confirmed endpoint remains");
    delete("pending@acme.example").await.expect("an unconfirmed one receives nothing anyway");
    let refused = delete("second@acme.example").await.unwrap_err();
    assert_eq!(refused.status, 409);
    let body = refused.error.to_string();
    assert!(
        body.contains(&format!(
            "topic night-shift is the 2FA topic of {}, {}: add and confirm another endpoint first",
            servers[0], servers[1]
        )),
        "{body}"
    );
    assert_eq!(s.subscription("second@acme.example").await.status.as_str(), "confirmed", "kept");
    // The SMN-compatible API's delete-subscription call keeps it too.
    let key = crate::hss_api::create_key(&s.app, &s.admin).await;
    let t =
        topic::Entity::find_by_id(uuid::Uuid::parse_str(&topic).unwrap()).one(&s.app.ctx.db).await.unwrap().unwrap();
    let urn = domain::subscriptions::urn(&t.urn, s.subscription("second@acme.example").await.id);
    let cancel = crate::hss_api::Req::new(
        &s.app,
        reqwest::Method::DELETE,
        "v2",
        &key.project,
        vec!["notifications", "subscriptions", &urn],
    );
    let res = crate::hss_api::send(&s.app, &key, &cancel).await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(body.contains("topic night-shift is the 2FA topic of"), "{body}");
    assert_eq!(s.subscription("second@acme.example").await.status.as_str(), "confirmed", "kept");

    // With 2FA off on those servers, it can go.
    two_factor_config::Entity::update_many()
        .col_expr(two_factor_config::Column::Enabled, sea_orm::sea_query::Expr::value(false))
        .col_expr(two_factor_config::Column::AppliedEnabled, sea_orm::sea_query::Expr::value(false))
        .exec(&s.app.ctx.db)
        .await
        .unwrap();
    delete("second@acme.example").await.unwrap();
}
on_both_databases!(
    the_last_confirmed_endpoint_of_a_2fa_topic_cannot_be_deleted,
    super::the_last_confirmed_endpoint_of_a_2fa_topic_cannot_be_deleted
);

async fn confirmation_messages_are_limited_per_endpoint_across_topics_and_tenants(backend: Backend) {
    let mut s = setup(backend).await;
    let a = s.create_topic("limit-a").await;
    let b = s.create_topic("limit-b").await;
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let g = s.create_topic_as(&globex, "globex-codes").await;
    let busy = "busy@example.org";
    // Adding and deleting again and again counts each time: 5.
    for _ in 0..5 {
        s.subscribe(&a, "email", busy).await.unwrap();
        s.delete_in(&a, busy).await;
    }
    // Another tenant's topic counts too: 6.
    s.subscribe_as(&globex, &g, "email", busy).await.unwrap();
    // An add and 13 resends: 20.
    s.subscribe(&b, "email", busy).await.unwrap();
    for _ in 0..13 {
        s.resend_in(&b, busy).await.unwrap();
    }
    // The 21st in the hour is refused, whatever asks for it.
    let refused = s.resend_in(&b, busy).await.unwrap_err();
    assert_eq!(refused.status, 429);
    let text = refused.error.to_string();
    assert!(text.contains("busy@example.org has been sent 20 confirmation requests in the last hour"), "{text}");
    assert!(text.contains("at most 20 an hour and 40 in 2 days for email"), "{text}");
    let refused = s.subscribe(&a, "email", busy).await.unwrap_err();
    assert_eq!(refused.status, 422);
    let errors = field_errors(&refused.error);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "endpoints[0].endpoint");
    assert!(errors[0].1.contains("20 confirmation requests in the last hour"), "{errors:?}");
    // In a batch, only the endpoint over its limit is in error, and nothing is saved.
    let refused = s.subscribe(&a, "email", "fresh@example.org\nbusy@example.org").await.unwrap_err();
    assert_eq!(refused.status, 422);
    let errors = field_errors(&refused.error);
    assert_eq!(errors.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), vec!["endpoints[1].endpoint"]);
    let fresh = subscription::Entity::find().filter(subscription::Column::Endpoint.eq("fresh@example.org"));
    assert_eq!(fresh.count(&s.app.ctx.db).await.unwrap(), 0, "nothing saved");
    let fresh_sends =
        confirmation_send::Entity::find().filter(confirmation_send::Column::Endpoint.eq("fresh@example.org"));
    assert_eq!(fresh_sends.count(&s.app.ctx.db).await.unwrap(), 0, "nor counted");
    // Deleting the subscription does not reset the count.
    s.delete_in(&b, busy).await;
    assert_eq!(s.subscribe(&b, "email", busy).await.unwrap_err().status, 422);

    // An hour on: 20 more, then the 2-day limit (40) holds.
    s.app.clock.advance(chrono::Duration::minutes(61));
    s.subscribe(&b, "email", busy).await.unwrap();
    for _ in 0..19 {
        s.resend_in(&b, busy).await.unwrap();
    }
    s.app.clock.advance(chrono::Duration::minutes(61));
    s.admin = s.app.sign_in(ACME_ADMIN).await;
    let refused = s.resend_in(&b, busy).await.unwrap_err();
    assert_eq!(refused.status, 429);
    let text = refused.error.to_string();
    assert!(text.contains("40 confirmation requests in the last 2 days"), "{text}");
    // Two days after the first ones, it may be asked again.
    s.app.clock.advance(chrono::Duration::hours(47));
    s.admin = s.app.sign_in(ACME_ADMIN).await;
    s.resend_in(&b, busy).await.unwrap();

    // SMS: 10 an hour.
    let phone = "+8613900000009";
    for _ in 0..10 {
        s.subscribe(&a, "sms", phone).await.unwrap();
        s.delete_in(&a, phone).await;
    }
    let refused = s.subscribe(&a, "sms", phone).await.unwrap_err();
    assert_eq!(refused.status, 422);
    let errors = field_errors(&refused.error);
    assert!(errors[0].1.contains("10 confirmation requests in the last hour"), "{errors:?}");
    assert!(errors[0].1.contains("at most 10 an hour and 20 in 2 days for SMS"), "{errors:?}");
}
on_both_databases!(
    confirmation_messages_are_limited_per_endpoint_across_topics_and_tenants,
    super::confirmation_messages_are_limited_per_endpoint_across_topics_and_tenants
);

/// Waits until a statement of the app waits for a lock the test holds (PostgreSQL).
async fn until_a_statement_waits_for_a_lock(db: &sea_orm::DatabaseConnection) {
    eventually("a statement waits for the held lock", || async {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap() >= 1
    })
    .await;
}

async fn racing_creates_get_one_success_and_field_errors(backend: Backend) {
    let s = setup(backend).await;
    let db = s.app.ctx.db.clone();
    let probe = s.create_topic("probe").await;
    let probe = topic::Entity::find_by_id(uuid::Uuid::parse_str(&probe).unwrap()).one(&db).await.unwrap().unwrap();
    let create = |name: &'static str| {
        let (http, url, cookie) = (s.app.http.clone(), s.app.url("/api/topics/create"), s.admin.clone());
        tokio::spawn(async move {
            let res = http
                .post(url)
                .header("cookie", cookie)
                .form(&[("name", name), ("display_name", "Race")])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, answer::<String>(status, &res.text().await.unwrap()))
        })
    };

    // Another transaction inserts the name after this create checked it was free: the create's
    // insert waits for it, then meets the unique index.
    let held = domain::db::write_txn(&db).await.unwrap();
    topic::Entity::insert(topic::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(probe.tenant_id),
        name: Set("race-1".into()),
        display_name: Set(String::new()),
        urn: Set(probe.urn.replace(":probe", ":race-1")),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(&held)
    .await
    .unwrap();
    let pending = create("race-1");
    if matches!(backend, Backend::Postgres) {
        until_a_statement_waits_for_a_lock(&db).await;
    }
    held.commit().await.unwrap();
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, 422, "{body:?}");
    assert_eq!(
        field_errors(&body.unwrap_err()),
        vec![("name".to_owned(), "a topic named race-1 already exists".to_owned())]
    );

    // Six at once: one topic, five field errors, no 500.
    let racers: Vec<_> = (0..6).map(|_| create("race-2")).collect();
    let mut statuses = vec![];
    for r in racers {
        let (status, body) = r.await.unwrap();
        if let Err(error) = body {
            assert_eq!(field_errors(&error)[0].0, "name", "{status}: {error:?}");
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 422, 422, 422, 422, 422]);
    assert_eq!(topic::Entity::find().filter(topic::Column::Name.eq("race-2")).count(&db).await.unwrap(), 1);

    // The same for one endpoint added to one topic twice at the same time.
    let held = domain::db::write_txn(&db).await.unwrap();
    subscription::Entity::insert(subscription::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(probe.tenant_id),
        topic_id: Set(probe.id),
        protocol: Set(proto::Protocol::Email),
        endpoint: Set("twice@acme.example".into()),
        remark: Set(String::new()),
        status: Set(proto::SubscriptionStatus::Unconfirmed),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(&held)
    .await
    .unwrap();
    let (http, url, cookie, topic_id) =
        (s.app.http.clone(), s.app.url("/api/topics/subscribe"), s.admin.clone(), probe.id.to_string());
    let pending = tokio::spawn(async move {
        let form = [
            ("topic_id", topic_id.as_str()),
            ("protocol", "email"),
            ("endpoints", "twice@acme.example"),
            ("remark", ""),
        ];
        let res = http.post(url).header("cookie", cookie).form(&form).send().await.unwrap();
        let status = res.status().as_u16();
        (status, answer::<usize>(status, &res.text().await.unwrap()))
    });
    if matches!(backend, Backend::Postgres) {
        until_a_statement_waits_for_a_lock(&db).await;
    }
    held.commit().await.unwrap();
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, 422, "{body:?}");
    assert_eq!(
        field_errors(&body.unwrap_err()),
        vec![("endpoints[0].endpoint".to_owned(), "twice@acme.example is already subscribed to this topic".to_owned())]
    );
    let twice = subscription::Entity::find().filter(subscription::Column::Endpoint.eq("twice@acme.example"));
    assert_eq!(twice.count(&db).await.unwrap(), 1);
}
on_both_databases!(
    racing_creates_get_one_success_and_field_errors,
    super::racing_creates_get_one_success_and_field_errors
);

/// A mail transport that keeps what it is given.
#[derive(Default)]
struct Recorder(Mutex<Vec<outbox::Model>>);

#[async_trait::async_trait]
impl ::server::delivery::MailTransport for Recorder {
    async fn send(&self, m: &outbox::Model) -> Result<(), String> {
        self.0.lock().unwrap().push(m.clone());
        Ok(())
    }
}

async fn a_worker_whose_lease_ran_out_does_not_send(backend: Backend) {
    let app = spawn_app(backend).await;
    // Due in a year, so the console's own worker leaves it alone; the two workers below live
    // then.
    let later = app.clock.now() + chrono::Duration::days(365);
    let id = domain::outbox::enqueue(
        &app.ctx.db,
        later,
        domain::outbox::NewMessage {
            tenant_id: None,
            channel: domain::outbox::Channel::Email,
            kind: domain::outbox::MessageKind::TopicMessage,
            recipient: "slow@acme.example".into(),
            sender_name: String::new(),
            subject: "Code".into(),
            body_text: "Your code is 987654".into(),
            body_html: String::new(),
            secrets: vec!["987654".into()],
        },
    )
    .await
    .unwrap();
    let clock = domain::ManualClock::new(later);
    let ctx = domain::Ctx { clock: Arc::new(clock.clone()), ..app.ctx.clone() };
    let recorder = Arc::new(Recorder::default());
    let transports =
        ::server::delivery::Transports { mail: recorder.clone(), sms: Arc::new(::server::delivery::DevSmsGateway) };

    let slow = domain::outbox::claim(&ctx, "worker-slow", 20, ::server::delivery::LEASE).await.unwrap();
    assert_eq!(slow.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    // Its batch takes longer than the lease; another worker takes the message over.
    clock.advance(::server::delivery::LEASE + chrono::Duration::seconds(1));
    let other = domain::outbox::claim(&ctx, "worker-other", 20, ::server::delivery::LEASE).await.unwrap();
    assert_eq!(other.len(), 1);

    ::server::delivery::deliver(&ctx, &transports, "worker-slow", &slow[0]).await;
    assert!(recorder.0.lock().unwrap().is_empty(), "the worker that lost its lease does not send");
    ::server::delivery::deliver(&ctx, &transports, "worker-other", &other[0]).await;
    let sent = recorder.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "sent once");
    assert_eq!(sent[0].body_text, "Your code is 987654", "the secret is rendered in at send time");

    // Stored, the secret was never in the body, and after delivery it is gone altogether.
    let stored = outbox::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "sent");
    assert!(!stored.body_text.contains("987654"), "{}", stored.body_text);
    assert_eq!(stored.secrets, None);
}
on_both_databases!(a_worker_whose_lease_ran_out_does_not_send, super::a_worker_whose_lease_ran_out_does_not_send);

async fn link_tokens_do_not_stay_in_the_outbox_and_operators_see_them_masked(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("secrets").await;
    s.confirmed(&topic, "keeper@acme.example").await;
    assert_eq!(s.publish(&topic, "Hello").await, 1);
    let mails = s.sink.wait_for("keeper@acme.example", 2).await;
    let tokens: Vec<String> = mails
        .iter()
        .flat_map(|m| [m.link("/smn/confirm"), m.link("/smn/unsubscribe")])
        .flatten()
        .map(|l| token_of(&l))
        .collect();
    assert_eq!(tokens.len(), 3, "a confirmation and an unsubscribe link, and another unsubscribe link");
    let db = &s.app.ctx.db;
    let all_sent = || async {
        let rows = outbox::Entity::find().filter(outbox::Column::Recipient.eq("keeper@acme.example")).all(db).await;
        rows.unwrap().iter().all(|m| m.status.as_str() == "sent")
    };
    eventually("both messages are recorded as sent", all_sent).await;
    for m in outbox::Entity::find().all(db).await.unwrap() {
        for t in &tokens {
            let stored = format!("{} {} {}", m.subject, m.body_text, m.body_html);
            assert!(!stored.contains(t.as_str()), "a link token stays in the outbox: {stored}");
        }
        if m.status.as_str() == "sent" {
            assert_eq!(m.secrets, None);
        }
    }
    let operator = s.app.sign_in(OPERATOR).await;
    let listed = s.app.call("admin/outbox", &[], Some(&operator)).await.text().await.unwrap();
    assert!(tokens.iter().all(|t| !listed.contains(t.as_str())), "{listed}");
    assert!(listed.contains("/smn/confirm?token=••••••"), "{listed}");
}
on_both_databases!(
    link_tokens_do_not_stay_in_the_outbox_and_operators_see_them_masked,
    super::link_tokens_do_not_stay_in_the_outbox_and_operators_see_them_masked
);

/// Posts a server function form with the admin's cookie from a task of its own, so that
/// several run at once.
fn spawn_call(s: &Setup, endpoint: &str, form: Vec<(&'static str, String)>) -> tokio::task::JoinHandle<u16> {
    let (http, url, cookie) = (s.app.http.clone(), s.app.url(&format!("/api/{endpoint}")), s.admin.clone());
    tokio::spawn(
        async move { http.post(url).header("cookie", cookie).form(&form).send().await.unwrap().status().as_u16() },
    )
}

async fn concurrent_requests_cannot_pass_the_limit_or_empty_a_2fa_topic(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("crowded").await;
    s.subscribe(&topic, "email", "crowd@acme.example").await.unwrap();
    let id = s.subscription("crowd@acme.example").await.id.to_string();
    // 30 resends at once, 19 allowed.
    let resends: Vec<_> =
        (0..30).map(|_| spawn_call(&s, "subscriptions/request_confirmation", vec![("id", id.clone())])).collect();
    let mut statuses = vec![];
    for r in resends {
        statuses.push(r.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 19, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 11, "{statuses:?}");
    let sends = confirmation_send::Entity::find().filter(confirmation_send::Column::Endpoint.eq("crowd@acme.example"));
    assert_eq!(sends.count(&s.app.ctx.db).await.unwrap(), 20);

    // Two confirmed endpoints of a 2FA topic deleted at once: one goes, one stays.
    let codes = s.create_topic("crowded-codes").await;
    s.confirmed(&codes, "left@acme.example").await;
    s.confirmed(&codes, "right@acme.example").await;
    s.servers_use_for_codes(&codes, 0).await;
    let deletes: Vec<_> = ["left@acme.example", "right@acme.example"]
        .into_iter()
        .map(|e| async { s.subscription(e).await.id.to_string() })
        .collect();
    let mut ids = vec![];
    for d in deletes {
        ids.push(d.await);
    }
    let racing: Vec<_> = ids.into_iter().map(|id| spawn_call(&s, "subscriptions/delete", vec![("id", id)])).collect();
    let mut statuses = vec![];
    for r in racing {
        statuses.push(r.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 409]);
    let confirmed = subscription::Entity::find()
        .filter(subscription::Column::TopicId.eq(uuid::Uuid::parse_str(&codes).unwrap()))
        .filter(subscription::Column::Status.eq("confirmed"));
    assert_eq!(confirmed.count(&s.app.ctx.db).await.unwrap(), 1);
}
on_both_databases!(
    concurrent_requests_cannot_pass_the_limit_or_empty_a_2fa_topic,
    super::concurrent_requests_cannot_pass_the_limit_or_empty_a_2fa_topic
);

/// A console in the same process lists its pages (as every test's console does when it starts)
/// while another renders a page that loads data: the page still finishes. Listing runs the app
/// with resource loading suppressed process-wide (leptos issue #4773), so a page that began
/// loading meanwhile used to wait forever; the list is now made once per process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_finishes_while_another_console_lists_its_pages() {
    let app = spawn_app(Backend::Sqlite).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lister = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert!(!::server::route_list().is_empty());
            }
        })
    };
    for i in 0..40 {
        let res = app
            .http
            .get(app.url("/smn/confirm?token=not-a-token"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(res.status(), 404, "a token that is not one");
        let page = res.text().await.unwrap_or_else(|e| panic!("page {i} never finished: {e}"));
        assert!(page.contains("This link is not valid"), "{page}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    lister.join().unwrap();
}
