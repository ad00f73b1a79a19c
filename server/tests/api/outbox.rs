//! Administration → Outbox as operators read it: each message's tenant, filters by tenant,
//! status and channel, paging, and the truth about SMS the development gateway only held.

use crate::common::*;
use domain::entities::outbox;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

fn message(tenant: Option<uuid::Uuid>, channel: &str, status: &str, n: i64) -> outbox::ActiveModel {
    let at = chrono::Utc::now() - chrono::Duration::minutes(100 - n);
    outbox::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        tenant_id: Set(tenant),
        channel: Set(channel.into()),
        kind: Set("topic_message".into()),
        recipient: Set(format!("r{n}@example.test")),
        sender_name: Set("HostGuard".into()),
        subject: Set(format!("message {n}")),
        body_text: Set(String::new()),
        body_html: Set(String::new()),
        status: Set(status.into()),
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

async fn outbox_page(app: &TestApp, cookie: &str, filters: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(String, &str)> = vec![("query[page]".into(), "1"), ("query[page_size]".into(), "10")];
    for (k, v) in filters {
        form.retain(|(key, _)| *key != format!("query[{k}]"));
        form.push((format!("query[{k}]"), v));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    app.call("admin/outbox", &form, Some(cookie)).await
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

    let all: Value = outbox_page(&app, &operator, &[]).await.json().await.unwrap();
    assert_eq!(all["total"], 16);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "a page of 10");
    assert_eq!(items[0]["subject"], "message 15", "newest first");
    assert_eq!(items[0]["tenant"], Value::Null, "a message of no tenant");
    assert_eq!(items[1]["tenant"], "South Ltd");
    let second: Value = outbox_page(&app, &operator, &[("page", "2")]).await.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 6);
    assert_eq!(second["items"][5]["subject"], "message 0");

    let north_id = north.id.to_string();
    let north_failed: Value =
        outbox_page(&app, &operator, &[("tenant", &north_id), ("status", "failed")]).await.json().await.unwrap();
    assert_eq!(north_failed["total"], 6);
    assert!(north_failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["tenant"] == "North Ltd" && m["status"] == "failed"));
    let sms: Value = outbox_page(&app, &operator, &[("channel", "sms")]).await.json().await.unwrap();
    assert_eq!(sms["total"], 3);
    assert!(sms["items"].as_array().unwrap().iter().all(|m| m["status"] == "held" && m["tenant"] == "South Ltd"));
    let south_email: Value = outbox_page(&app, &operator, &[("tenant", &south.id.to_string()), ("channel", "email")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(south_email["total"], 0);

    // Bad filters name the field; nothing breaks.
    let bad = outbox_page(&app, &operator, &[("status", "delivered")]).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("status"));
    let bad = outbox_page(&app, &operator, &[("channel", "pigeon")]).await;
    assert_eq!(bad.status(), 422);
    let bad = outbox_page(&app, &operator, &[("page_size", "100000")]).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(outbox_page(&app, &operator, &[("tenant", "not-an-id")]).await.status(), 404);
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
        let res = outbox_page(&app, cookie, &[]).await;
        assert_eq!(res.status(), 403);
        // Not even the own tenant's messages.
        let res = outbox_page(&app, cookie, &[("tenant", &north_id)]).await;
        assert_eq!(res.status(), 403);
        assert!(!res.text().await.unwrap().contains("r1@example.test"));
    }
    assert_eq!(outbox_page(&app, "", &[]).await.status(), 401);
}
on_both_databases!(only_operators_read_the_outbox, super::only_operators_read_the_outbox);

async fn an_sms_the_development_gateway_keeps_is_held_not_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let topic: String = app
        .call("topics/create", &[("name", "held-sms"), ("display_name", "Acme")], Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .call(
            "topics/subscribe",
            &[("topic_id", &topic), ("protocol", "sms"), ("endpoints", "+8613800000077"), ("remark", "")],
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    let db = app.ctx.db.clone();
    let status = || async {
        outbox::Entity::find()
            .filter(outbox::Column::Recipient.eq("+8613800000077"))
            .one(&db)
            .await
            .unwrap()
            .map(|m| m.status)
    };
    eventually("the gateway has the message", || async { status().await.is_some_and(|s| s != "pending") }).await;
    assert_eq!(status().await.as_deref(), Some("held"));
    let operator = app.sign_in(OPERATOR).await;
    let held: Value =
        outbox_page(&app, &operator, &[("status", "held"), ("channel", "sms")]).await.json().await.unwrap();
    let mine = held["items"].as_array().unwrap().iter().find(|m| m["recipient"] == "+8613800000077").cloned();
    assert_eq!(mine.map(|m| m["tenant"].clone()), Some(Value::from("Acme Retail")));
    let sent: Value =
        outbox_page(&app, &operator, &[("status", "sent"), ("channel", "sms")]).await.json().await.unwrap();
    assert!(sent["items"].as_array().unwrap().iter().all(|m| m["recipient"] != "+8613800000077"));
}
on_both_databases!(
    an_sms_the_development_gateway_keeps_is_held_not_sent,
    super::an_sms_the_development_gateway_keeps_is_held_not_sent
);
