//! Web Push never reaches into the console's own network: endpoints at internal addresses are
//! refused when subscribed, and at delivery a name resolving to an internal address (or an
//! internal address written in a row) is not connected to, without dropping the subscription
//! (a 404/410 answer from inside would otherwise tell a person what listens there). Loopback
//! is allowed only with `HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK`, which the other tests set.

use crate::common::*;
use app::functions::webpush::{SubscribePush, WebPushKey};
use domain::{entities::push_subscription, Clock};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use server::delivery::webpush::{notify_due, Vapid, WebPush};
use testkit::{approve::NewPushRequest, push_service::PushService};
use uuid::Uuid;

const VAPID_KEY: &str = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc";

fn vapid() -> Vapid {
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&VAPID_KEY[2 * i..2 * i + 2], 16).unwrap();
    }
    Vapid::new(&key, "mailto:ops@example.com").unwrap()
}

async fn webpush_to_internal_addresses_is_refused_and_never_sent(backend: Backend) {
    let opts = Options {
        env: vec![
            ("HOSTGUARD_VAPID_PRIVATE_KEY", VAPID_KEY.to_owned()),
            ("HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK", "false".to_owned()),
        ],
        ..Options::empty()
    };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme SSRF").await;
    let alice = acme.end_user(&app, "alice").await;
    let cookie = app.sign_in(&alice).await;
    assert!(app.run(&cookie, WebPushKey {}).await.public_key.is_some());
    let service = PushService::start(vapid().public_key()).await;
    let port = service.origin.rsplit(':').next().unwrap().to_owned();

    let s = service.subscribe();
    let internal = [
        s.endpoint.clone(),
        format!("http://localhost:{port}/push/{}", s.id),
        format!("https://127.0.0.1:{port}/push/{}", s.id),
        "https://[::ffff:169.254.169.254]/latest/meta-data".to_owned(),
        "https://[::ffff:a9fe:a9fe]/latest".to_owned(),
        "https://169.254.169.254/latest".to_owned(),
        "https://100.64.0.1/push".to_owned(),
        "https://10.1.2.3/push".to_owned(),
        "https://[fd12::1]/push".to_owned(),
        "https://0.0.0.0/push".to_owned(),
        "https://192.0.2.10/push".to_owned(),
    ];
    for endpoint in internal {
        let refused = app
            .refused(
                &cookie,
                SubscribePush { endpoint: endpoint.clone(), p256dh: s.p256dh.clone(), auth: s.auth.clone() },
            )
            .await;
        assert_eq!(refused.status, 422, "{endpoint}: {refused}");
        assert!(refused.to_string().contains("endpoint"), "{endpoint}: {refused}");
    }
    assert_eq!(
        push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(alice.id))
            .count(&app.ctx.db)
            .await
            .unwrap(),
        0
    );

    // Rows that got in anyway (written before this check, or a name rebound to an internal
    // address later): a name resolving to loopback and a loopback address, each a subscription
    // the service says is gone, and one it would accept.
    let gone_by_name = service.subscribe();
    let gone_by_address = service.subscribe();
    let live = service.subscribe();
    service.unsubscribe(&gone_by_name);
    service.unsubscribe(&gone_by_address);
    let rows = [
        format!("http://localhost:{port}/push/{}", gone_by_name.id),
        format!("http://127.0.0.1:{port}/push/{}", gone_by_address.id),
        format!("http://localhost:{port}/push/{}", live.id),
    ];
    let keys = [&gone_by_name, &gone_by_address, &live];
    for (endpoint, sub) in rows.iter().zip(keys) {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).unwrap();
        push_subscription::Entity::insert(push_subscription::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(acme.id),
            user_id: Set(alice.id),
            endpoint: Set(endpoint.clone()),
            p256dh: Set(b64(&sub.p256dh)),
            auth: Set(b64(&sub.auth)),
            created_at: Set(app.clock.now()),
        })
        .exec_without_returning(&app.ctx.db)
        .await
        .unwrap();
    }
    // The console's own notifier (loopback not allowed) takes the request.
    let r = app.push_request(&alice, NewPushRequest::default()).await;
    eventually("the notifier takes it", || async {
        domain::entities::push_notification::Entity::find_by_id(r).one(&app.ctx.db).await.unwrap().is_some()
    })
    .await;
    // And a pass of a strict notifier of our own over another request.
    let strict = WebPush::new(vapid(), false).unwrap();
    let _ = app.push_request(&alice, NewPushRequest::default()).await;
    let accepted = notify_due(&app.ctx, &strict).await.unwrap();
    assert_eq!(accepted, 0);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(service.received().is_empty(), "nothing reached the internal service: {:?}", service.received());
    assert!(service.refused().is_empty(), "nothing reached the internal service: {:?}", service.refused());
    // A refusal looks like an unreachable service: the "gone" subscriptions stay.
    assert_eq!(
        push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(alice.id))
            .count(&app.ctx.db)
            .await
            .unwrap(),
        3
    );
}
on_both_databases!(
    webpush_to_internal_addresses_is_refused_and_never_sent,
    super::webpush_to_internal_addresses_is_refused_and_never_sent
);

/// A failed delivery says why without the endpoint: its path is the subscription's capability,
/// and the failure is logged.
#[tokio::test]
async fn a_failed_webpush_does_not_name_the_endpoint() {
    use server::delivery::webpush::Sent;
    let service = PushService::start(vapid().public_key()).await;
    let s = service.subscribe();
    // A port nothing listens on (bound, then dropped).
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let b64 = |v: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).unwrap()
    };
    let row = |endpoint: String| push_subscription::Model {
        id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        endpoint,
        p256dh: b64(&s.p256dh),
        auth: b64(&s.auth),
        created_at: chrono::Utc::now(),
    };
    let capability = "capability-0123456789abcdef";
    for (push, endpoint) in [
        (WebPush::new(vapid(), true).unwrap(), format!("http://127.0.0.1:{closed}/push/{capability}")),
        (WebPush::new(vapid(), true).unwrap(), format!("http://localhost:{closed}/push/{capability}")),
        (WebPush::new(vapid(), false).unwrap(), format!("http://localhost:{closed}/push/{capability}")),
        (WebPush::new(vapid(), false).unwrap(), format!("https://10.0.0.1/push/{capability}")),
    ] {
        match push.send(&row(endpoint.clone()), "{}", chrono::Utc::now()).await {
            Sent::Failed(why) => assert!(!why.contains(capability), "{endpoint}: {why}"),
            other => panic!("{endpoint}: {other:?}"),
        }
    }
}
