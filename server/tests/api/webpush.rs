//! Web Push: end users subscribe browsers (endpoint and RFC 8291 keys, checked), and the
//! console's notifier sends each new pending push request, once, to the person's subscriptions
//! through a stand-in push service that checks the VAPID token and decrypts the payload with
//! the subscription's private key, as a browser would. Muted people get nothing; a 410 drops
//! the subscription; another tenant's subscriptions are out of reach.

use crate::common::*;
use app::functions::webpush::{PushSubscriptions, SubscribePush, UnsubscribePush, WebPushKey};
use domain::{
    entities::{audit_event, push_mute, push_notification, push_subscription},
    Clock,
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use server::delivery::webpush::{notify_due, Vapid, WebPush};
use testkit::Refused;
use testkit::{
    approve::NewPushRequest,
    push_service::{PushService, Subscriber},
};
use uuid::Uuid;

pub(crate) const VAPID_KEY: &str = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc";

pub(crate) fn vapid() -> Vapid {
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&VAPID_KEY[2 * i..2 * i + 2], 16).unwrap();
    }
    Vapid::new(&key, "mailto:ops@example.com").unwrap()
}

struct World {
    app: TestApp,
    service: PushService,
    acme: TenantFixture,
    alice: Login,
    alice_cookie: String,
    bob: Login,
    bob_cookie: String,
}

async fn world(backend: Backend) -> World {
    let opts = Options {
        env: vec![
            ("HOSTGUARD_VAPID_PRIVATE_KEY", VAPID_KEY.to_owned()),
            ("HOSTGUARD_VAPID_SUBJECT", "mailto:ops@example.com".to_owned()),
        ],
        ..Options::empty()
    };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme Web Push").await;
    let alice = acme.end_user(&app, "alice").await;
    let bob = acme.end_user(&app, "bob").await;
    let alice_cookie = app.sign_in(&alice).await;
    let bob_cookie = app.sign_in(&bob).await;
    let key = app.run(&alice_cookie, WebPushKey {}).await;
    assert_eq!(key.public_key.as_deref(), Some(vapid().public_key()));
    let service = PushService::start(vapid().public_key()).await;
    World { app, service, acme, alice, alice_cookie, bob, bob_cookie }
}

fn subscription(endpoint: &str, p256dh: &str, auth: &str) -> SubscribePush {
    SubscribePush { endpoint: endpoint.into(), p256dh: p256dh.into(), auth: auth.into() }
}

async fn subscribe(
    app: &TestApp,
    cookie: &str,
    s: &Subscriber,
) -> Result<app::functions::webpush::PushSubscriptionRow, Refused> {
    app.try_run(cookie, subscription(&s.endpoint, &s.p256dh, &s.auth)).await
}

/// The HTTP status of a call.
fn http_status<T>(res: &Result<T, Refused>) -> u16 {
    res.as_ref().map_or_else(|e| e.status, |_| 200)
}

async fn claimed(app: &TestApp, request: Uuid) -> bool {
    push_notification::Entity::find_by_id(request).one(&app.ctx.db).await.unwrap().is_some()
}

async fn a_pending_request_reaches_the_push_service_encrypted_once(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let phone = w.service.subscribe();
    let laptop = w.service.subscribe();
    let bobs = w.service.subscribe();
    for (cookie, s) in [(&w.alice_cookie, &phone), (&w.alice_cookie, &laptop), (&w.bob_cookie, &bobs)] {
        subscribe(app, cookie, s).await.unwrap();
    }
    let mine = app.run(&w.alice_cookie, PushSubscriptions {}).await;
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|s| s.service == w.service.origin), "the push service, not the endpoint: {mine:?}");

    let r = app
        .push_request(
            &w.alice,
            NewPushRequest { server_name: "pay-07".into(), source_ip: "198.51.100.9".into(), ..Default::default() },
        )
        .await;
    let service = &w.service;
    eventually("both of Alice's subscriptions get it", || async { service.received().len() >= 2 }).await;
    let got = service.received();
    assert!(service.refused().is_empty(), "{:?}", service.refused());
    let mut to: Vec<_> = got.iter().map(|g| g.subscription.clone()).collect();
    to.sort();
    let mut want = vec![phone.id.clone(), laptop.id.clone()];
    want.sort();
    assert_eq!(to, want, "Alice's, not Bob's");
    for g in &got {
        let p = &g.payload;
        assert_eq!(p["type"], "push_request");
        assert_eq!(p["id"], r.to_string());
        assert_eq!(p["server"], "pay-07");
        assert_eq!(p["account"], "deploy");
        assert_eq!(p["source_ip"], "198.51.100.9");
        assert_eq!(p["url"], format!("{}/portal/approvals", app.ctx.public_url.trim_end_matches('/')));
        assert!(!holds_number(p, 472), "never the number: {p}");
        assert_eq!(g.ttl.as_deref(), Some("60"));
        assert_eq!(g.urgency.as_deref(), Some("high"));
    }

    // More notifier passes, here and racing the console's own, send nothing again.
    let push = WebPush::new(vapid(), true).unwrap();
    let (a, b) = tokio::join!(notify_due(&app.ctx, &push), notify_due(&app.ctx, &push));
    assert_eq!(a.unwrap() + b.unwrap(), 0);
    let next = app.push_request(&w.bob, NewPushRequest::default()).await;
    let (a, b) = tokio::join!(notify_due(&app.ctx, &push), notify_due(&app.ctx, &push));
    let (a, b) = (a.unwrap(), b.unwrap());
    eventually("Bob's arrives", || async { service.received().len() >= 3 }).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let got = service.received();
    assert_eq!(got.len(), 3, "each request once: {got:?}");
    assert_eq!(got[2].payload["id"], next.to_string());
    assert!(a + b <= 1);
}
on_both_databases!(
    a_pending_request_reaches_the_push_service_encrypted_once,
    super::a_pending_request_reaches_the_push_service_encrypted_once
);

async fn muted_people_get_nothing_and_gone_subscriptions_are_dropped(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let alices = w.service.subscribe();
    let bobs = w.service.subscribe();
    assert_eq!(http_status(&subscribe(app, &w.alice_cookie, &alices).await), 200);
    assert_eq!(http_status(&subscribe(app, &w.bob_cookie, &bobs).await), 200);

    // Alice reported "This wasn't me" a minute ago: notifications are paused.
    let now = app.clock.now();
    push_mute::Entity::insert(push_mute::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(w.acme.id),
        user_id: Set(w.alice.id),
        reason: Set(push_mute::MuteReason::Fraud),
        request_id: Set(Uuid::new_v4()),
        created_at: Set(now),
        until: Set(now + chrono::Duration::minutes(20)),
    })
    .exec_without_returning(&app.ctx.db)
    .await
    .unwrap();
    let r = app.push_request(&w.alice, NewPushRequest::default()).await;
    eventually("the notifier takes it", || claimed(app, r)).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(w.service.received().is_empty(), "muted: nothing sent");

    // Bob's browser unsubscribed: the push service answers 410 and the subscription goes.
    w.service.unsubscribe(&bobs);
    let r = app.push_request(&w.bob, NewPushRequest::default()).await;
    eventually("the gone subscription is removed", || async {
        push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(w.bob.id))
            .count(&app.ctx.db)
            .await
            .unwrap()
            == 0
    })
    .await;
    assert!(claimed(app, r).await);
    let left = app.run(&w.bob_cookie, PushSubscriptions {}).await;
    assert!(left.is_empty());
    // Alice's stays, and the login side never saw a thing: the request is still pending.
    assert_eq!(app.push_request_row(r).await.status, proto::push::PushStatus::Pending);
    let alice_left = app.run(&w.alice_cookie, PushSubscriptions {}).await;
    assert_eq!(alice_left.len(), 1);
}
on_both_databases!(
    muted_people_get_nothing_and_gone_subscriptions_are_dropped,
    super::muted_people_get_nothing_and_gone_subscriptions_are_dropped
);

async fn subscriptions_are_checked_audited_and_kept_to_their_owner(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;
    let s = w.service.subscribe();
    let cases: [(&str, &str, &str, &str); 6] = [
        ("http://push.example/push/1", &s.p256dh, &s.auth, "endpoint"),
        ("not a url", &s.p256dh, &s.auth, "endpoint"),
        (&s.endpoint, "AAAA", &s.auth, "p256dh"),
        (&s.endpoint, "!!!", &s.auth, "p256dh"),
        (&s.endpoint, &s.p256dh, "AAAA", "auth"),
        (&s.endpoint, &s.p256dh, "", "auth"),
    ];
    for (endpoint, p256dh, auth, field) in cases {
        let refused = app.refused(&w.alice_cookie, subscription(endpoint, p256dh, auth)).await;
        assert!((400..500).contains(&refused.status), "{field}: {refused}");
        assert!(refused.to_string().contains(field), "names {field}: {refused}");
    }
    // Subscribing again renews the keys, not a second row.
    let row = subscribe(app, &w.alice_cookie, &s).await.unwrap();
    assert_eq!(http_status(&subscribe(app, &w.alice_cookie, &s).await), 200);
    let mine = app.run(&w.alice_cookie, PushSubscriptions {}).await;
    assert_eq!(mine.iter().map(|m| m.id).collect::<Vec<_>>(), [row.id]);

    // At most ten.
    for _ in 1..domain::push::subscriptions::MAX_PER_USER {
        assert_eq!(http_status(&subscribe(app, &w.alice_cookie, &w.service.subscribe()).await), 200);
    }
    assert_eq!(http_status(&subscribe(app, &w.alice_cookie, &w.service.subscribe()).await), 409);

    // Bob (same tenant) and Globex's person cannot remove it; admins have no subscriptions.
    let globex = app.create_tenant("Globex Web Push").await;
    let mallory = globex.end_user(app, "mallory").await;
    let mallory_cookie = app.sign_in(&mallory).await;
    let id = row.id.to_string();
    for cookie in [&w.bob_cookie, &mallory_cookie] {
        assert_eq!(app.refused(cookie, UnsubscribePush { id: id.clone() }).await.status, 404);
        let theirs = app.run(cookie, PushSubscriptions {}).await;
        assert!(theirs.is_empty());
    }
    let admin = globex.admin(app, "admin").await;
    let admin_cookie = app.sign_in(&admin).await;
    assert_eq!(http_status(&subscribe(app, &admin_cookie, &w.service.subscribe()).await), 403);
    // A call without its fields (not what the typed client can send): refused.
    assert_eq!(app.call("portal/push/subscribe", &[], None).await.status().as_u16() / 100, 4);

    app.run(&w.alice_cookie, UnsubscribePush { id: id.clone() }).await;
    assert_eq!(app.refused(&w.alice_cookie, UnsubscribePush { id }).await.status, 404);
    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::Target.eq(w.alice.email.clone()))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let count = |a| audit.iter().filter(|e| e.action == a).count();
    assert_eq!(count(proto::audit::AuditAction::PushSubscriptionAdded), 1 + domain::push::subscriptions::MAX_PER_USER);
    assert_eq!(count(proto::audit::AuditAction::PushSubscriptionRemoved), 1);
    assert!(audit.iter().all(|e| !e.detail.contains("/push/")), "the endpoint stays out of the trail");

    // Without a VAPID key Web Push is off, and the portal is told so.
    let off = spawn_app_with(backend, Options::empty()).await;
    let t = off.create_tenant("No Push").await;
    let carol = t.end_user(&off, "carol").await;
    let carol_cookie = off.sign_in(&carol).await;
    let key = off.run(&carol_cookie, WebPushKey {}).await;
    assert_eq!(key.public_key, None);
}
on_both_databases!(
    subscriptions_are_checked_audited_and_kept_to_their_owner,
    super::subscriptions_are_checked_audited_and_kept_to_their_owner
);
