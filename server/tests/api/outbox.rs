//! Administration → Outbox as operators read it: each message's tenant, filters by tenant,
//! status and channel, paging, and the truth about SMS the development gateway only held.

use crate::common::*;
use app::functions::audit::ListOutbox;
use app::functions::topics::{AddSubscriptions, CreateTopic};
use app::models::{OutboxPage, OutboxQuery, OutboxStatus};
use domain::entities::outbox;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

fn message(tenant: Option<uuid::Uuid>, channel: &str, status: &str, n: i64) -> outbox::ActiveModel {
    let at = chrono::Utc::now() - chrono::Duration::minutes(100 - n);
    outbox::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(tenant),
        channel: Set(proto::Channel::parse(channel).unwrap()),
        kind: Set(proto::MessageKind::TopicMessage),
        recipient: Set(format!("r{n}@example.test")),
        sender_name: Set("HostGuard".into()),
        subject: Set(format!("message {n}")),
        body_text: Set(String::new()),
        body_html: Set(String::new()),
        status: Set(proto::OutboxStatus::parse(status).unwrap()),
        attempts: Set(1),
        // Far ahead, so the delivery worker leaves the pending ones alone.
        next_attempt_at: Set(at + chrono::Duration::days(1)),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        sent_at: Set(None),
        secrets: Set(None),
    }
}

/// The Outbox page with `query`'s filters, 10 a page.
fn query(tenant: &str, status: &str, channel: &str) -> OutboxQuery {
    OutboxQuery { tenant: tenant.into(), status: status.into(), channel: channel.into(), page: 1, page_size: 10 }
}

async fn outbox_page(app: &TestApp, who: impl Session, query: OutboxQuery) -> Result<OutboxPage, Refused> {
    app.try_run(who, ListOutbox { query }).await
}

async fn the_outbox_filters_by_tenant_status_and_channel_and_pages(backend: Backend) {
    let app = spawn_app_with(backend, Options { demo: false, ..Default::default() }).await;
    let north = app.create_tenant("North Ltd").await;
    let south = app.create_tenant("South Ltd").await;
    let mut rows = Vec::new();
    for n in 0..12 {
        rows.push(message(Some(north.id), "email", if n % 2 == 0 { "sent" } else { "failed" }, n));
    }
    for n in 12..15 {
        rows.push(message(Some(south.id), "sms", "held", n));
    }
    rows.push(message(None, "email", "pending", 15));
    outbox::Entity::insert_many(rows).exec_without_returning(&app.ctx.db).await.unwrap();
    let operator = app.sign_in(app.create_operator("ops").await).await;
    let page = |q: OutboxQuery| {
        let (app, operator) = (&app, &operator);
        async move { outbox_page(app, operator, q).await.unwrap_or_else(|e| panic!("admin/outbox: {e}")) }
    };

    let all = page(query("", "", "")).await;
    assert_eq!(all.total, 16);
    let items = &all.items;
    assert_eq!(items.len(), 10, "a page of 10");
    assert_eq!(items[0].subject, "message 15", "newest first");
    assert_eq!(items[0].tenant, None, "a message of no tenant");
    assert_eq!(items[1].tenant.as_deref(), Some("South Ltd"));
    let second = page(OutboxQuery { page: 2, ..query("", "", "") }).await;
    assert_eq!(second.items.len(), 6);
    assert_eq!(second.items[5].subject, "message 0");

    let north_id = north.id.to_string();
    let north_failed = page(query(&north_id, "failed", "")).await;
    assert_eq!(north_failed.total, 6);
    assert!(north_failed
        .items
        .iter()
        .all(|m| m.tenant.as_deref() == Some("North Ltd") && m.status == OutboxStatus::Failed));
    let sms = page(query("", "", "sms")).await;
    assert_eq!(sms.total, 3);
    assert!(sms.items.iter().all(|m| m.status == OutboxStatus::Held && m.tenant.as_deref() == Some("South Ltd")));
    let south_email = page(query(&south.id.to_string(), "", "email")).await;
    assert_eq!(south_email.total, 0);

    // Bad filters name the field; nothing breaks.
    let bad = outbox_page(&app, &operator, query("", "delivered", "")).await.unwrap_err();
    assert_eq!(bad.status, 422);
    assert!(matches!(&bad.error, app::models::AppError::Validation { field, .. } if field == "status"), "{bad}");
    let bad = outbox_page(&app, &operator, query("", "", "pigeon")).await.unwrap_err();
    assert_eq!(bad.status, 422);
    let bad = outbox_page(&app, &operator, OutboxQuery { page_size: 100000, ..query("", "", "") }).await.unwrap_err();
    assert_eq!(bad.status, 422);
    assert_eq!(outbox_page(&app, &operator, query("not-an-id", "", "")).await.unwrap_err().status, 404);
}
on_both_databases!(
    the_outbox_filters_by_tenant_status_and_channel_and_pages,
    super::the_outbox_filters_by_tenant_status_and_channel_and_pages
);

async fn only_operators_read_the_outbox(backend: Backend) {
    let app = spawn_app_with(backend, Options { demo: false, ..Default::default() }).await;
    let north = app.create_tenant("North Ltd").await;
    outbox::Entity::insert(message(Some(north.id), "email", "sent", 1))
        .exec_without_returning(&app.ctx.db)
        .await
        .unwrap();
    let admin = app.sign_in(north.admin(&app, "admin").await).await;
    let user = app.sign_in(north.end_user(&app, "user").await).await;
    let north_id = north.id.to_string();
    for cookie in [&admin, &user] {
        let refused = outbox_page(&app, cookie, query("", "", "")).await.unwrap_err();
        assert_eq!(refused.status, 403);
        // Not even the own tenant's messages.
        let refused = outbox_page(&app, cookie, query(&north_id, "", "")).await.unwrap_err();
        assert_eq!(refused.status, 403);
        assert!(!format!("{refused:?}").contains("r1@example.test"));
    }
    assert_eq!(outbox_page(&app, NO_SESSION, query("", "", "")).await.unwrap_err().status, 401);
}
on_both_databases!(only_operators_read_the_outbox, super::only_operators_read_the_outbox);

async fn an_sms_the_development_gateway_keeps_is_held_not_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let topic_id = app.run(&admin, CreateTopic { name: "held-sms".into(), display_name: "Acme".into() }).await;
    let subscribe = AddSubscriptions {
        topic_id,
        protocol: "sms".into(),
        endpoints: "+8613800000077".into(),
        remark: String::new(),
    };
    app.run(&admin, subscribe).await;
    let db = app.ctx.db.clone();
    let status = || async {
        outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq("+8613800000077"))
            .one(&db)
            .await
            .unwrap()
            .map(|m| m.status.as_str())
    };
    eventually("the gateway has the message", || async { status().await.is_some_and(|s| s != "pending") }).await;
    assert_eq!(status().await, Some("held"));
    let operator = app.sign_in(OPERATOR).await;
    let held = outbox_page(&app, &operator, query("", "held", "sms")).await.unwrap();
    let mine = held.items.iter().find(|m| m.recipient == "+8613800000077");
    assert_eq!(mine.map(|m| m.tenant.as_deref()), Some(Some("Acme Retail")));
    let sent = outbox_page(&app, &operator, query("", "sent", "sms")).await.unwrap();
    assert!(sent.items.iter().all(|m| m.recipient != "+8613800000077"));
}
on_both_databases!(
    an_sms_the_development_gateway_keeps_is_held_not_sent,
    super::an_sms_the_development_gateway_keeps_is_held_not_sent
);
