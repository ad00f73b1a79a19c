//! Topics, subscriptions and delivery, with a real SMTP server receiving the mail.

use crate::common::*;
use app::functions::audit::{ListAudit, ListOutbox};
use app::functions::topics::{
    AddSubscriptions, CreateTopic, DeleteSubscription, DeleteTopic, GetTopic, ListSubscriptions, ListTopics,
    PublishMessage, RequestConfirmation,
};
use app::models::{AppError, FieldError, OutboxStatus, SubscriptionRow, SubscriptionStatus};
use domain::audit::AuditAction;
use domain::entities::{outbox, subscription, topic};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

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

impl Setup {
    async fn create_topic(&self, name: &str, display: &str) -> String {
        self.app.run(&self.admin, create_topic(name, display)).await
    }

    async fn try_subscribe(&self, topic: &str, protocol: &str, endpoints: &str) -> Result<usize, Refused> {
        self.app.try_run(&self.admin, subscribe(topic, protocol, endpoints)).await
    }

    /// Subscribes `endpoints` (one a line); how many were added.
    async fn subscribe(&self, topic: &str, protocol: &str, endpoints: &str) -> usize {
        self.try_subscribe(topic, protocol, endpoints).await.unwrap_or_else(|e| panic!("subscribe {endpoints}: {e}"))
    }

    async fn subscriptions(&self, topic: &str) -> Vec<SubscriptionRow> {
        self.app.run(&self.admin, ListSubscriptions { topic_id: topic.into() }).await
    }

    async fn subscription(&self, topic: &str, endpoint: &str) -> SubscriptionRow {
        let subs = self.subscriptions(topic).await;
        subs.iter().find(|s| s.endpoint == endpoint).cloned().unwrap_or_else(|| panic!("{endpoint} in {subs:?}"))
    }

    async fn status_of(&self, topic: &str, endpoint: &str) -> SubscriptionStatus {
        self.subscription(topic, endpoint).await.status
    }

    async fn subscription_id(&self, topic: &str, endpoint: &str) -> String {
        self.subscription(topic, endpoint).await.id.to_string()
    }

    /// Opens a link from a message as a browser would, returning the page.
    async fn open(&self, link: &str) -> (u16, String) {
        let res = self.app.http.get(link).header("accept", "text/html").send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Follows a link from a message as its recipient does: opens its page and, if the page
    /// has a button, presses it (a plain form post, before any wasm) and returns the page the
    /// browser is sent back to.
    async fn follow(&self, link: &str) -> (u16, String) {
        let (status, page) = self.open(link).await;
        let endpoint = if link.contains("/smn/confirm") { "confirm" } else { "unsubscribe" };
        if status != 200 || !page.contains(&format!("action=\"/api/public/{endpoint}\"")) {
            return (status, page);
        }
        let token = link.split("token=").nth(1).unwrap();
        let res = self
            .app
            .http
            .post(self.app.url(&format!("/api/public/{endpoint}")))
            .header("accept", "text/html")
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "the button sends the browser back to the page");
        let back = res.headers()["location"].to_str().unwrap().to_owned();
        self.open(&self.app.url(&back)).await
    }

    async fn publish(&self, topic: &str, message: &str) -> usize {
        let publish = PublishMessage { topic_id: topic.into(), subject: "Login code".into(), message: message.into() };
        self.app.run(&self.admin, publish).await
    }
}

fn create_topic(name: &str, display: &str) -> CreateTopic {
    CreateTopic { name: name.into(), display_name: display.into() }
}

fn subscribe(topic: &str, protocol: &str, endpoints: &str) -> AddSubscriptions {
    AddSubscriptions {
        topic_id: topic.into(),
        protocol: protocol.into(),
        endpoints: endpoints.into(),
        remark: String::new(),
    }
}

/// The one outbox message to `recipient`.
async fn message_to(db: &sea_orm::DatabaseConnection, recipient: &str) -> outbox::Model {
    outbox::Entity::find().filter(outbox::Column::Recipient.eq(recipient)).one(db).await.unwrap().unwrap()
}

/// The field errors of a refusal: several, or the one.
fn field_errors(refused: &Refused) -> Vec<FieldError> {
    match &refused.error {
        AppError::Invalid(errors) => errors.clone(),
        AppError::Validation { field, message } => vec![FieldError { field: field.clone(), message: message.clone() }],
        other => panic!("not a field error: {other:?}"),
    }
}

async fn subscribe_receive_confirm(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("login-codes-2", "Acme Login").await;
    s.subscribe(&topic, "email", "Ops@Acme.example").await;
    assert_eq!(s.status_of(&topic, "ops@acme.example").await, SubscriptionStatus::Unconfirmed);

    let mail = s.sink.wait_for("ops@acme.example", 1).await.remove(0);
    assert_eq!(mail.from, "\"Acme Login\" <hostguard@localhost>", "the topic's display name is the sender name");
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(mail.subject.contains("Confirm your subscription"), "{}", mail.subject);
    assert!(mail.html.contains("Confirm subscription"), "{}", mail.html);
    let link = mail.link("/smn/confirm?token=").expect("a confirmation link");
    assert!(link.starts_with(&s.app.base), "{link}");
    assert!(mail.link("/smn/unsubscribe?token=").is_some(), "every message carries an unsubscribe link");

    // Opening the link (as a mail scanner does too) only asks; its button confirms.
    let (status, page) = s.open(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirm that o***@acme.example receives messages of topic login-codes-2"), "{page}");
    assert_eq!(s.status_of(&topic, "ops@acme.example").await, SubscriptionStatus::Unconfirmed);
    let (status, page) = s.follow(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your subscription is confirmed"), "{page}");
    assert!(page.contains("o***@acme.example") && page.contains("login-codes-2"), "the page says what was confirmed");
    assert_eq!(s.status_of(&topic, "ops@acme.example").await, SubscriptionStatus::Confirmed);

    // Following it again changes nothing and offers nothing to press.
    let (_, page) = s.follow(&link).await;
    assert!(page.contains("Your subscription is confirmed") && !page.contains("<form"), "{page}");

    // The audit trail names who did what, and from where.
    let audit = s.app.run(&s.admin, ListAudit {}).await;
    let actions: Vec<(AuditAction, &str)> = audit.iter().map(|e| (e.action, e.actor.as_str())).collect();
    assert!(actions.contains(&(AuditAction::TopicCreate, "admin@acme.example")), "{actions:?}");
    assert!(actions.contains(&(AuditAction::SubscriptionCreate, "admin@acme.example")), "{actions:?}");
    assert!(actions.contains(&(AuditAction::SubscriptionConfirm, "endpoint ops@acme.example")), "{actions:?}");
    assert!(audit.iter().all(|e| e.source_ip == "127.0.0.1"), "{audit:?}");
}
on_both_databases!(subscribe_receive_confirm, super::subscribe_receive_confirm);

async fn confirmation_links_expire_after_48_hours(backend: Backend) {
    let mut s = setup(backend).await;
    let topic = s.create_topic("expiring", "Acme").await;
    s.subscribe(&topic, "email", "late@acme.example").await;
    let link = s.sink.wait_for("late@acme.example", 1).await[0].link("/smn/confirm").unwrap();

    s.app.clock.advance(chrono::Duration::hours(48) + chrono::Duration::seconds(1));
    // Two days on, the admin's session is long over.
    s.admin = s.app.sign_in(ACME_ADMIN).await;
    let (status, page) = s.follow(&link).await;
    assert_eq!(status, 409);
    assert!(page.contains("expired"), "{page}");
    assert_eq!(s.status_of(&topic, "late@acme.example").await, SubscriptionStatus::Unconfirmed);

    // Asking again sends a new link, which works; the old one stays dead.
    let id = s.subscription_id(&topic, "late@acme.example").await;
    s.app.run(&s.admin, RequestConfirmation { id }).await;
    let fresh = s.sink.wait_for("late@acme.example", 2).await[1].link("/smn/confirm").unwrap();
    assert_ne!(fresh, link);
    assert_eq!(s.follow(&link).await.0, 404, "the replaced link is not valid");
    assert_eq!(s.follow(&fresh).await.0, 200);
    assert_eq!(s.status_of(&topic, "late@acme.example").await, SubscriptionStatus::Confirmed);
}
on_both_databases!(confirmation_links_expire_after_48_hours, super::confirmation_links_expire_after_48_hours);

async fn confirmation_requests_are_limited_per_endpoint(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("limits", "Acme").await;
    s.subscribe(&topic, "email", "often@acme.example").await;
    s.subscribe(&topic, "sms", "+8613800000001").await;
    let email = s.subscription_id(&topic, "often@acme.example").await;
    let sms = s.subscription_id(&topic, "+8613800000001").await;
    let resend = |id: String| {
        let app = &s.app;
        let admin = s.admin.clone();
        async move { app.try_run(&admin, RequestConfirmation { id }).await }
    };
    // The first message counts: 19 more emails, 9 more SMS in the hour.
    for _ in 0..19 {
        resend(email.clone()).await.unwrap();
    }
    let refused = resend(email.clone()).await.unwrap_err();
    assert_eq!(refused.status, 429);
    assert!(refused.error.to_string().contains("20 confirmation requests in the last hour"), "{refused}");
    for _ in 0..9 {
        resend(sms.clone()).await.unwrap();
    }
    assert_eq!(resend(sms.clone()).await.unwrap_err().status, 429);

    s.app.clock.advance(chrono::Duration::minutes(61));
    resend(email.clone()).await.expect("an hour later the endpoint may be asked again");
    resend(sms).await.unwrap();
}
on_both_databases!(
    confirmation_requests_are_limited_per_endpoint,
    super::confirmation_requests_are_limited_per_endpoint
);

async fn only_confirmed_endpoints_receive_and_unsubscribe_cancels(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("codes", "Acme Codes").await;
    s.subscribe(&topic, "email", "yes@acme.example\nnot-yet@acme.example").await;
    s.subscribe(&topic, "sms", "+8613800000002").await;
    let link = s.sink.wait_for("yes@acme.example", 1).await[0].link("/smn/confirm").unwrap();
    s.follow(&link).await;
    s.sink.wait_for("not-yet@acme.example", 1).await;

    let topics = s.app.run(&s.admin, ListTopics { search: "codes".into() }).await;
    let listed = topics.iter().find(|t| t.name == "codes").unwrap();
    assert_eq!((listed.confirmed, listed.subscriptions), (1, 3));
    assert_eq!(s.publish(&topic, "Your code is 424242").await, 1, "one confirmed endpoint");
    let got = s.sink.wait_for("yes@acme.example", 2).await;
    assert!(got[1].text.contains("Your code is 424242"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let not_yet = s.sink.messages_to("not-yet@acme.example");
    assert_eq!(not_yet.len(), 1, "only its confirmation request");
    assert!(!not_yet[0].text.contains("Your code is"), "{}", not_yet[0].text);
    let codes_sent =
        outbox::Entity::find().filter(outbox::Column::Kind.eq("topic_message")).all(&s.app.ctx.db).await.unwrap();
    assert_eq!(codes_sent.iter().map(|m| m.recipient.as_str()).collect::<Vec<_>>(), vec!["yes@acme.example"]);

    // The message's unsubscribe link cancels the subscription; nothing more is delivered.
    let unsubscribe = got[1].link("/smn/unsubscribe").unwrap();
    let (status, page) = s.follow(&unsubscribe).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are unsubscribed"), "{page}");
    assert_eq!(s.status_of(&topic, "yes@acme.example").await, SubscriptionStatus::Canceled);
    assert_eq!(s.publish(&topic, "Your code is 515151").await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.sink.messages_to("yes@acme.example").len(), 2);
    // A canceled subscription cannot be brought back by its old confirmation link.
    assert_eq!(s.follow(&link).await.0, 404);
    assert_eq!(s.status_of(&topic, "yes@acme.example").await, SubscriptionStatus::Canceled);
}
on_both_databases!(
    only_confirmed_endpoints_receive_and_unsubscribe_cancels,
    super::only_confirmed_endpoints_receive_and_unsubscribe_cancels
);

async fn mail_is_retried_while_smtp_is_down_and_delivered_once(backend: Backend) {
    let mut s = setup(backend).await;
    s.sink.stop();
    let topic = s.create_topic("outage", "Acme").await;
    s.subscribe(&topic, "email", "patient@acme.example").await;
    let db = s.app.ctx.db.clone();
    let message = || message_to(&db, "patient@acme.example");
    eventually("a failed attempt is recorded", || async { message().await.attempts >= 1 }).await;
    let m = message().await;
    assert_eq!(m.status.as_str(), "pending");
    assert!(m.last_error.as_deref().unwrap_or_default().contains("SMTP"), "{:?}", m.last_error);

    s.sink.restart().await;
    // The retry waits for its backoff; move the clock past it rather than sleeping.
    s.app.clock.advance(chrono::Duration::minutes(1));
    eventually("the message is sent", || async { message().await.status.as_str() == "sent" }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.sink.messages_to("patient@acme.example").len(), 1, "delivered exactly once");
}
on_both_databases!(
    mail_is_retried_while_smtp_is_down_and_delivered_once,
    super::mail_is_retried_while_smtp_is_down_and_delivered_once
);

async fn two_replicas_never_send_one_message_twice(backend: Backend) {
    let s = setup(backend).await;
    let _second = spawn_app_with(
        backend,
        Options { database_url: Some(s.app.database_url.clone()), smtp_port: Some(s.sink.port), ..Default::default() },
    )
    .await;
    let topic = s.create_topic("fanout", "Acme").await;
    for batch in 0..4 {
        let endpoints: Vec<String> = (0..10).map(|i| format!("user{batch}-{i}@acme.example")).collect();
        s.subscribe(&topic, "email", &endpoints.join("\n")).await;
    }
    eventually("all 40 confirmations are delivered", || async { s.sink.messages().len() >= 40 }).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails = s.sink.messages();
    assert_eq!(mails.len(), 40, "each message sent once");
    let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 40);
}
on_both_databases!(two_replicas_never_send_one_message_twice, super::two_replicas_never_send_one_message_twice);

async fn bad_input_gets_an_error_per_field_and_saves_nothing(backend: Backend) {
    let s = setup(backend).await;
    let before = topic::Entity::find().count(&s.app.ctx.db).await.unwrap();
    let long_name = "a".repeat(256);
    let long_display = "d".repeat(193);
    let cases: [(&str, &str, &str, &str); 6] = [
        ("", "Acme", "name", "is required"),
        ("login codes", "Acme", "name", "may contain only letters, digits"),
        (&long_name, "Acme", "name", "at most 255 characters"),
        ("ok-name", &long_display, "display_name", "must be at most 192 characters"),
        ("ok-name", "Acme\r\nBcc: x@evil.example", "display_name", "line breaks"),
        ("ops-alerts", "Acme", "name", "already exists"),
    ];
    for (name, display, field, expected) in cases {
        let refused = s.app.refused(&s.admin, create_topic(name, display)).await;
        assert_eq!(refused.status, 422, "{name:?}");
        let error = field_errors(&refused).remove(0);
        assert_eq!(error.field, field, "{refused}");
        assert!(error.message.contains(expected), "{name:?}/{display:?}: {refused}");
    }
    assert_eq!(topic::Entity::find().count(&s.app.ctx.db).await.unwrap(), before, "no topic was saved");

    let topic = s.create_topic("inputs", "Acme").await;
    let refused =
        s.try_subscribe(&topic, "sms", "+8613800000003\n8613800000000\n+86 138 0000\nnot-a-phone").await.unwrap_err();
    assert_eq!(refused.status, 422);
    let AppError::Invalid(errors) = &refused.error else { panic!("one error per bad endpoint: {refused}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["endpoints[1].endpoint", "endpoints[2].endpoint", "endpoints[3].endpoint"]);
    assert!(errors[0].message.contains("+ and the country code"));
    let refused = s.try_subscribe(&topic, "email", "good@acme.example\nbad@\n@acme.example").await.unwrap_err();
    assert_eq!(refused.status, 422);
    assert!(matches!(&refused.error, AppError::Invalid(errors) if errors.len() == 2), "{refused}");
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}@acme.example")).collect();
    let refused = s.try_subscribe(&topic, "email", &eleven.join("\n")).await.unwrap_err();
    assert_eq!(refused.status, 422);
    assert!(refused.error.to_string().contains("at most 10 endpoints"), "{refused}");
    assert_eq!(s.try_subscribe(&topic, "fax", "+8613800000003").await.unwrap_err().status, 422);

    assert_eq!(subscription::Entity::find().count(&s.app.ctx.db).await.unwrap(), 0, "no subscription was saved");
    assert_eq!(outbox::Entity::find().count(&s.app.ctx.db).await.unwrap(), 0, "and nothing was queued");
}
on_both_databases!(
    bad_input_gets_an_error_per_field_and_saves_nothing,
    super::bad_input_gets_an_error_per_field_and_saves_nothing
);

async fn another_tenants_topics_are_out_of_reach(backend: Backend) {
    let s = setup(backend).await;
    let topic = s.create_topic("private", "Acme").await;
    s.subscribe(&topic, "email", "acme-only@acme.example").await;
    let sub = s.subscription_id(&topic, "acme-only@acme.example").await;
    let globex = s.app.sign_in(GLOBEX_ADMIN).await;
    let g = &globex;
    let publish = PublishMessage { topic_id: topic.clone(), subject: "".into(), message: "hi".into() };
    assert_eq!(s.app.refused(g, GetTopic { id: topic.clone() }).await.status, 404);
    assert_eq!(s.app.refused(g, ListSubscriptions { topic_id: topic.clone() }).await.status, 404);
    assert_eq!(s.app.refused(g, subscribe(&topic, "email", "x@globex.example")).await.status, 404);
    assert_eq!(s.app.refused(g, publish).await.status, 404);
    assert_eq!(s.app.refused(g, RequestConfirmation { id: sub.clone() }).await.status, 404);
    assert_eq!(s.app.refused(g, DeleteSubscription { id: sub.clone() }).await.status, 404);
    assert_eq!(s.app.refused(g, DeleteTopic { id: topic.clone() }).await.status, 404);
    let globex_topics = s.app.run(g, ListTopics { search: "".into() }).await;
    assert!(globex_topics.iter().all(|t| t.name != "private"));
    // Nothing changed.
    assert_eq!(s.subscriptions(&topic).await.len(), 1);
    // End users and operators are not topic owners.
    let alice = s.app.sign_in(ALICE).await;
    assert_eq!(s.app.refused(&alice, create_topic("x", "")).await.status, 403);
    let operator = s.app.sign_in(OPERATOR).await;
    s.app.run(&operator, ListOutbox { query: Default::default() }).await;
    assert_eq!(s.app.refused(&s.admin, ListOutbox { query: Default::default() }).await.status, 403);
}
on_both_databases!(another_tenants_topics_are_out_of_reach, super::another_tenants_topics_are_out_of_reach);

async fn a_topic_that_2fa_uses_cannot_be_deleted(backend: Backend) {
    use domain::entities::{server, two_factor_config};
    use sea_orm::{ActiveValue::Set, QueryOrder};
    let s = setup(backend).await;
    let topic = s.create_topic("in-use", "Acme").await;
    let topic_id = uuid::Uuid::parse_str(&topic).unwrap();
    let t = topic::Entity::find_by_id(topic_id).one(&s.app.ctx.db).await.unwrap().unwrap();
    // Two servers use the topic for their login codes (the rollout console sets this up; here
    // the rows are written directly).
    let servers = server::Entity::find()
        .filter(server::Column::TenantId.eq(t.tenant_id))
        .order_by_asc(server::Column::Name)
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    for (i, srv) in servers[..3].iter().enumerate() {
        two_factor_config::Entity::insert(two_factor_config::ActiveModel {
            server_id: Set(srv.id),
            tenant_id: Set(t.tenant_id),
            // The third has 2FA off and only remembers the topic. All three as their agents
            // acknowledged it (revision 1 applied), which is what the 2FA tab shows.
            enabled: Set(i < 2),
            method: Set(proto::Method::Sms),
            topic_id: Set(Some(topic_id)),
            updated_at: Set(chrono::Utc::now()),
            revision: Set(1),
            phase: Set(domain::entities::two_factor_config::PhaseName::Applied),
            applied_revision: Set(1),
            applied_enabled: Set(i < 2),
            applied_method: Set(Some(proto::Method::Sms)),
            applied_topic_id: Set(Some(topic_id)),
            ..Default::default()
        })
        .exec_without_returning(&s.app.ctx.db)
        .await
        .unwrap();
    }
    let refused = s.app.refused(&s.admin, DeleteTopic { id: topic.clone() }).await;
    assert_eq!(refused.status, 409);
    let body = refused.error.to_string();
    assert!(body.contains(&servers[0].name) && body.contains(&servers[1].name), "the servers are named: {body}");
    assert!(topic::Entity::find_by_id(topic_id).one(&s.app.ctx.db).await.unwrap().is_some(), "the topic is kept");
    assert!(!body.contains(&servers[2].name), "a server with 2FA off does not hold the topic: {body}");

    // With 2FA off on both, the topic can go; the servers forget it.
    two_factor_config::Entity::update_many()
        .col_expr(two_factor_config::Column::Enabled, sea_orm::sea_query::Expr::value(false))
        .col_expr(two_factor_config::Column::AppliedEnabled, sea_orm::sea_query::Expr::value(false))
        .exec(&s.app.ctx.db)
        .await
        .unwrap();
    s.app.run(&s.admin, DeleteTopic { id: topic.clone() }).await;
    let remembered = two_factor_config::Entity::find()
        .filter(two_factor_config::Column::TopicId.is_not_null())
        .count(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(remembered, 0);

    // An unused topic goes, with its subscriptions.
    let unused = s.create_topic("unused", "Acme").await;
    s.subscribe(&unused, "email", "gone@acme.example").await;
    s.app.run(&s.admin, DeleteTopic { id: unused.clone() }).await;
    let left = subscription::Entity::find()
        .filter(subscription::Column::Endpoint.eq("gone@acme.example"))
        .count(&s.app.ctx.db);
    assert_eq!(left.await.unwrap(), 0);
}
on_both_databases!(a_topic_that_2fa_uses_cannot_be_deleted, super::a_topic_that_2fa_uses_cannot_be_deleted);

async fn a_message_that_keeps_failing_ends_failed_with_the_reason(backend: Backend) {
    let mut s = setup(backend).await;
    s.sink.stop();
    let topic = s.create_topic("never", "Acme").await;
    s.subscribe(&topic, "email", "unreachable@acme.example").await;
    let db = s.app.ctx.db.clone();
    let message = || message_to(&db, "unreachable@acme.example");
    for attempt in 1..domain::outbox::MAX_ATTEMPTS {
        eventually(&format!("attempt {attempt} is recorded"), || async { message().await.attempts >= attempt }).await;
        assert_eq!(message().await.status.as_str(), "pending", "retried after attempt {attempt}");
        s.app.clock.advance(domain::outbox::backoff(attempt) + chrono::Duration::seconds(1));
    }
    eventually("the message is given up", || async { message().await.status.as_str() == "failed" }).await;
    let m = message().await;
    assert_eq!(m.attempts, domain::outbox::MAX_ATTEMPTS);
    assert!(m.last_error.as_deref().unwrap_or_default().contains("SMTP"), "{:?}", m.last_error);
    // It stays failed: no more attempts, and the operators see why on the Outbox page.
    s.app.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(message().await.attempts, domain::outbox::MAX_ATTEMPTS);
    let operator = s.app.sign_in(OPERATOR).await;
    let outbox = s.app.run(&operator, ListOutbox { query: Default::default() }).await;
    let row = outbox.items.iter().find(|m| m.recipient == "unreachable@acme.example").unwrap();
    assert_eq!(row.status, OutboxStatus::Failed);
    assert!(row.last_error.as_deref().unwrap().contains("SMTP"));
}
on_both_databases!(
    a_message_that_keeps_failing_ends_failed_with_the_reason,
    super::a_message_that_keeps_failing_ends_failed_with_the_reason
);

/// Issue 18 (the soak): a message sent while the database refuses the write that records it
/// (a busy database, a drained pool) is recorded once the database answers again, not sent a
/// second time when its lease runs out. The refusal is a trigger on the `sent` update.
async fn a_sent_message_whose_record_fails_at_first_is_not_sent_again(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let s = setup(backend).await;
    let db = s.app.ctx.db.clone();
    let (refuse, allow): (&[&str], &[&str]) = match backend {
        Backend::Sqlite => (
            &["CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON outbox WHEN NEW.status = 'sent' \
               BEGIN SELECT RAISE(ABORT, 'the database is busy'); END"],
            &["DROP TRIGGER refuse_sent"],
        ),
        Backend::Postgres => (
            &[
                "CREATE FUNCTION refuse_sent() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the database is busy'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_sent BEFORE UPDATE ON outbox FOR EACH ROW WHEN (NEW.status = 'sent') EXECUTE FUNCTION refuse_sent()",
            ],
            &["DROP TRIGGER refuse_sent ON outbox", "DROP FUNCTION refuse_sent()"],
        ),
    };
    for sql in refuse {
        db.execute_unprepared(sql).await.unwrap();
    }
    let topic = s.create_topic("busy", "Acme").await;
    s.subscribe(&topic, "email", "busy@acme.example").await;
    s.sink.wait_for("busy@acme.example", 1).await;
    // Sent, and its record refused for a while.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = || async { message_to(&db, "busy@acme.example").await.status };
    assert_eq!(status().await.as_str(), "pending", "the record was refused");
    for sql in allow {
        db.execute_unprepared(sql).await.unwrap();
    }
    eventually("the send is recorded once the database answers", || async { status().await.as_str() == "sent" }).await;
    // Past the lease: nothing is sent again.
    s.app.clock.advance(chrono::Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(s.sink.messages_to("busy@acme.example").len(), 1, "delivered exactly once");
}
on_both_databases!(
    a_sent_message_whose_record_fails_at_first_is_not_sent_again,
    super::a_sent_message_whose_record_fails_at_first_is_not_sent_again
);
