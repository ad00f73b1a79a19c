//! The HTTP SMS gateway client against an HTTP server standing in for the carrier's API (the
//! one part that cannot run here): what it posts, and retries when the gateway fails.

use crate::common::*;
use app::functions::topics::{AddSubscriptions, ConfirmSubscription, CreateTopic, ListSubscriptions};
use app::models::SubscriptionStatus;
use axum::{extract::State, http::HeaderMap, http::StatusCode, routing::post, Form, Router};
use domain::entities::outbox;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<(Option<String>, HashMap<String, String>)>>>,
    /// Answer 503 to this many requests first.
    fail_first: Arc<Mutex<u32>>,
}

async fn messages(
    State(g): State<Gateway>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> StatusCode {
    {
        let mut fail = g.fail_first.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    g.received.lock().unwrap().push((auth, form));
    StatusCode::CREATED
}

async fn start_gateway(fail_first: u32) -> (String, Gateway) {
    let g = Gateway { fail_first: Arc::new(Mutex::new(fail_first)), ..Default::default() };
    let app = Router::new().route("/messages", post(messages)).with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, g)
}

async fn sms_confirmation_goes_through_the_gateway_and_is_retried(backend: Backend) {
    let (url, gateway) = start_gateway(1).await;
    let app = spawn_app_with(backend, Options { sms_gateway_url: Some(url), ..Default::default() }).await;
    let admin = app.sign_in(ACME_ADMIN).await;
    let topic = app.run(&admin, CreateTopic { name: "sms-codes".into(), display_name: "Acme".into() }).await;
    let subscribe = AddSubscriptions {
        topic_id: topic.clone(),
        protocol: "sms".into(),
        endpoints: "+8613800000005".into(),
        remark: "on-call phone".into(),
    };
    app.run(&admin, subscribe).await;

    // The gateway's first answer is 503: the message waits for a retry, with the reason.
    let db = app.ctx.db.clone();
    let message = || async {
        outbox::Entity::find().filter(outbox::Column::Recipient.eq("+8613800000005")).one(&db).await.unwrap().unwrap()
    };
    eventually("the failed attempt is recorded", || async { message().await.attempts == 1 }).await;
    assert!(message().await.last_error.unwrap().contains("503"));
    assert!(gateway.received.lock().unwrap().is_empty());

    app.clock.advance(chrono::Duration::seconds(10));
    eventually("the retry is accepted", || async { message().await.status.as_str() == "sent" }).await;
    let received = gateway.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "sent once");
    let (auth, form) = &received[0];
    assert_eq!(auth.as_deref(), Some("Basic QUMtdGVzdDpnYXRld2F5LXNlY3JldA=="), "account and token as basic auth");
    assert_eq!(form["To"], "+8613800000005");
    let body = &form["Body"];
    assert!(body.starts_with("[Acme]"), "{body}");
    assert!(body.contains("/smn/unsubscribe?token="), "{body}");

    // The link in the SMS opens a page whose button confirms the phone.
    let link = body.split_whitespace().find(|w| w.contains("/smn/confirm?token=")).unwrap();
    let page = app.http.get(link).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("+86*******0005"), "the page shows the number masked");
    let token = link.split("token=").nth(1).unwrap();
    app.run(NO_SESSION, ConfirmSubscription { token: token.into() }).await;
    let subs = app.run(&admin, ListSubscriptions { topic_id: topic.clone() }).await;
    assert_eq!(subs[0].status, SubscriptionStatus::Confirmed);
    assert_eq!(subs[0].remark, "on-call phone");
}
on_both_databases!(
    sms_confirmation_goes_through_the_gateway_and_is_retried,
    super::sms_confirmation_goes_through_the_gateway_and_is_retried
);
