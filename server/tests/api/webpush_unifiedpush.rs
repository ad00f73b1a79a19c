//! UnifiedPush: the same Web Push requests reach an ntfy server, the usual UnifiedPush
//! distributor. Its endpoints are topics (`/up<id>?up=1`) and it answers a published message
//! with 200 and JSON, not 201: the notification is delivered and decrypts there, the answer
//! counts as accepted, and the subscription stays.

use crate::common::*;
use crate::webpush::{vapid, VAPID_KEY};
use app::functions::webpush::{PushSubscriptions, SubscribePush};
use domain::{entities::push_subscription, Clock};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use server::delivery::webpush::{Sent, WebPush};
use testkit::{approve::NewPushRequest, push_service::PushService};

async fn a_push_reaches_an_ntfy_endpoint_and_decrypts_there(backend: Backend) {
    let opts = Options {
        env: vec![
            ("HOSTGUARD_VAPID_PRIVATE_KEY", VAPID_KEY.to_owned()),
            ("HOSTGUARD_VAPID_SUBJECT", "mailto:ops@example.com".to_owned()),
        ],
        ..Options::empty()
    };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme UnifiedPush").await;
    let alice = acme.end_user(&app, "alice").await;
    let cookie = app.sign_in(&alice).await;
    let ntfy = PushService::start_ntfy(vapid().public_key()).await;
    let phone = ntfy.subscribe();
    assert!(phone.endpoint.contains("/up") && phone.endpoint.ends_with("?up=1"), "{}", phone.endpoint);
    let subscribe =
        SubscribePush { endpoint: phone.endpoint.clone(), p256dh: phone.p256dh.clone(), auth: phone.auth.clone() };
    app.run(&cookie, subscribe).await;

    // The console's own notifier delivers a new pending request there.
    let r = app.push_request(&alice, NewPushRequest { server_name: "db-03".into(), ..Default::default() }).await;
    eventually("ntfy takes the notification", || async { !ntfy.received().is_empty() }).await;
    assert!(ntfy.refused().is_empty(), "{:?}", ntfy.refused());
    let got = &ntfy.received()[0];
    assert_eq!(got.subscription, phone.id);
    assert_eq!(got.payload["type"], "push_request");
    assert_eq!(got.payload["id"], r.to_string());
    assert_eq!(got.payload["server"], "db-03");
    assert!(!holds_number(&got.payload, 472), "never the number: {}", got.payload);
    assert_eq!(got.ttl.as_deref(), Some("60"));

    // ntfy's 200 is an accepted delivery, not a failure; the subscription stays.
    let row = push_subscription::Entity::find()
        .filter(push_subscription::Column::UserId.eq(alice.id))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .expect("the subscription is kept");
    let push = WebPush::new(vapid(), true).unwrap();
    let sent = push.send(&row, r#"{"type":"test"}"#, app.clock.now()).await;
    assert!(matches!(sent, Sent::Accepted), "200 with JSON is accepted");
    assert_eq!(ntfy.received().last().unwrap().payload["type"], "test");
    assert_eq!(app.run(&cookie, PushSubscriptions {}).await.len(), 1);
}
on_both_databases!(
    a_push_reaches_an_ntfy_endpoint_and_decrypts_there,
    super::a_push_reaches_an_ntfy_endpoint_and_decrypts_there
);
