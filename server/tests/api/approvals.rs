//! The approval side of push: an end user registers approval devices (a WebCrypto P-256 key;
//! here p256's `SigningKey` signs as the browser would), sees their pending requests, and
//! approves with the number the login prompt shows, denies, or reports "This wasn't me" — each
//! signed by a device. Forged, moved and replayed signatures, wrong numbers, expiry, races,
//! other people's and other tenants' requests are refused; reports mail the admins and pause
//! notifications. The live feed sends the pending requests as they change.

use crate::common::*;
use app::functions::approvals::{
    DecidePush, MyApprovals, MyPendingPushes, PushPolicy, RegisterDevice, RemoveDevice, RenameDevice, SavePushPolicy,
};
use app::models::{DecisionResult, PendingPush, PushDecision, PushStatus};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use domain::Clock;
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    pkcs8::EncodePublicKey,
};
use reqwest::Response;
use testkit::approve::NewPushRequest;
use testkit::{Refused, NO_SESSION};
use uuid::Uuid;

/// A device as the browser holds it: the private key, and its id once registered.
struct Device {
    id: Uuid,
    key: SigningKey,
}

impl Device {
    fn sign(&self, request: Uuid, number: u16, decision: PushDecision) -> String {
        let sig: Signature = self.key.sign(proto::push::signed_message(request, number, decision).as_bytes());
        STANDARD.encode(sig.to_bytes())
    }
}

fn spki(key: &SigningKey) -> String {
    STANDARD.encode(p256::PublicKey::from(key.verifying_key()).to_public_key_der().unwrap().as_bytes())
}

/// Gives `who` an authenticator from an invitation's link, which signs them in: the session
/// is then stepped up for a few minutes, as after any first factor.
async fn person_with_a_factor(app: &TestApp, who: &Login) -> String {
    app.accept_invitation(who, "Phone").await.cookie
}

async fn register(app: &TestApp, cookie: &str, name: &str) -> Device {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let row = app.run(cookie, RegisterDevice { name: name.into(), public_key: spki(&key) }).await;
    assert_eq!(row.name, name);
    Device { id: row.id, key }
}

async fn decide(
    app: &TestApp,
    cookie: &str,
    request: Uuid,
    device: Uuid,
    number: &str,
    d: PushDecision,
    signature: &str,
) -> Result<DecisionResult, Refused> {
    let args = DecidePush {
        request_id: request.to_string(),
        device_id: device.to_string(),
        number: number.into(),
        decision: d,
        signature: signature.into(),
    };
    app.try_run(cookie, args).await
}

/// Decides `request` with `device`, signing what is sent.
async fn signed(
    app: &TestApp,
    cookie: &str,
    device: &Device,
    request: Uuid,
    number: u16,
    d: PushDecision,
) -> Result<DecisionResult, Refused> {
    let n = if number == 0 { String::new() } else { number.to_string() };
    decide(app, cookie, request, device.id, &n, d, &device.sign(request, number, d)).await
}

/// A call's HTTP status and what it said (the refusal's status and error, or the answer).
fn status_and_body<T: std::fmt::Debug>(res: Result<T, Refused>) -> (u16, String) {
    match res {
        Ok(v) => (200, format!("{v:?}")),
        Err(e) => (e.status, e.to_string()),
    }
}

/// A call's HTTP status.
fn http_status<T>(res: &Result<T, Refused>) -> u16 {
    res.as_ref().map_or_else(|e| e.status, |_| 200)
}

struct World {
    app: TestApp,
    acme: TenantFixture,
    admin: Login,
    alice: Login,
    alice_cookie: String,
    phone: Device,
    bob: Login,
    bob_cookie: String,
    bob_phone: Device,
    _sink: Option<SmtpSink>,
}

async fn world_with(backend: Backend, sink: Option<SmtpSink>) -> World {
    let opts = Options { smtp_port: sink.as_ref().map(|s| s.port), ..Options::empty() };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme Push").await;
    let admin = acme.admin(&app, "admin").await;
    let alice = acme.end_user(&app, "alice").await;
    let bob = acme.end_user(&app, "bob").await;
    let alice_cookie = person_with_a_factor(&app, &alice).await;
    let phone = register(&app, &alice_cookie, "Alice's phone").await;
    let bob_cookie = person_with_a_factor(&app, &bob).await;
    let bob_phone = register(&app, &bob_cookie, "Bob's phone").await;
    World { app, acme, admin, alice, alice_cookie, phone, bob, bob_cookie, bob_phone, _sink: sink }
}

async fn devices_are_added_with_a_step_up_and_removed_with_one(backend: Backend) {
    let w = world_with(backend, None).await;
    let page = w.app.run(&w.alice_cookie, MyApprovals {}).await;
    assert_eq!(page.devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["Alice's phone"]);
    assert!(page.pending.is_empty() && page.muted_until.is_none());
    let register = |name: &str, public_key: String| RegisterDevice { name: name.into(), public_key };

    // A password alone (a new session, no step-up) adds and removes nothing.
    let thief = w.app.sign_in(&w.alice).await;
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let refused = w.app.refused(&thief, register("Mine", spki(&key))).await;
    assert_eq!(refused.status, 422, "{refused}");
    assert!(refused.to_string().contains("Enter a current code"), "{refused}");
    let phone = w.phone.id.to_string();
    let refused = w.app.refused(&thief, RemoveDevice { id: phone.clone() }).await;
    assert_eq!(refused.status, 422, "{refused}");

    // What is not a P-256 public key is refused, naming the field.
    let refused = w.app.refused(&w.alice_cookie, register("X", "AAAA".into())).await;
    assert_eq!(refused.status, 422);
    assert!(refused.to_string().contains("public_key") && refused.to_string().contains("P-256"), "{refused}");
    let refused = w.app.refused(&w.alice_cookie, register("X", "not base64!".into())).await;
    assert_eq!(refused.status, 422, "{refused}");
    // The same key twice is one device.
    assert_eq!(w.app.refused(&w.alice_cookie, register("Again", spki(&w.phone.key))).await.status, 409);

    // Renaming needs no step-up; another person's device is not found.
    let renamed = w.app.run(&thief, RenameDevice { id: phone.clone(), name: "Pixel".into() }).await;
    assert_eq!(renamed.name, "Pixel");
    let bobs = w.bob_phone.id.to_string();
    assert_eq!(w.app.refused(&thief, RenameDevice { id: bobs.clone(), name: "Mine".into() }).await.status, 404);
    assert_eq!(w.app.refused(&w.alice_cookie, RemoveDevice { id: bobs }).await.status, 404);

    // Only end users have approval devices.
    let admin = w.app.sign_in(&w.admin).await;
    assert_eq!(w.app.refused(&admin, MyApprovals {}).await.status, 403);
    assert_eq!(w.app.refused(NO_SESSION, MyApprovals {}).await.status, 401);

    // In the stepped-up session the device goes, audited; it can no longer approve.
    w.app.run(&w.alice_cookie, RemoveDevice { id: phone }).await;
    let request = w.app.push_request(&w.alice, NewPushRequest::default()).await;
    let res = signed(&w.app, &w.alice_cookie, &w.phone, request, 472, PushDecision::Approve).await;
    assert_eq!(http_status(&res), 404, "a removed device");
    let trail = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::TenantId.eq(w.acme.id))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    for a in ["push.device_added", "push.device_renamed", "push.device_removed"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
on_both_databases!(
    devices_are_added_with_a_step_up_and_removed_with_one,
    super::devices_are_added_with_a_step_up_and_removed_with_one
);

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

async fn the_right_number_and_signature_approve_and_nothing_else_does(backend: Backend) {
    let w = world_with(backend, None).await;
    let app = &w.app;
    let a = app.push_request(&w.alice, NewPushRequest { number: 472, ..Default::default() }).await;
    app.clock.advance(Duration::seconds(1));
    let b = app
        .push_request(&w.alice, NewPushRequest { number: 318, server_name: "db-02".into(), ..Default::default() })
        .await;
    let bobs = app.push_request(&w.bob, NewPushRequest::default()).await;

    // Alice sees her two requests, never the number, never Bob's.
    // The raw answer: the number must not be on the wire at all.
    let res = app.call("portal/approvals/pending", &[], Some(&w.alice_cookie)).await;
    let body = res.text().await.unwrap();
    let raw: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!holds_number(&raw, 472) && !holds_number(&raw, 318), "the number is never sent: {body}");
    let pending: Vec<PendingPush> = serde_json::from_str(&body).unwrap();
    assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), [a, b]);
    assert_eq!(
        (pending[0].server.as_str(), pending[0].account.as_str(), pending[0].source_ip.as_str()),
        ("web-01", "deploy", "203.0.113.7")
    );
    assert_eq!((pending[0].seconds_left, pending[1].seconds_left), (59, 60));

    // A forged signature (another key's), a signature for B sent for A, one for another number
    // or decision, and garbage: refused, naming the signature; nothing changes.
    let stranger = Device { id: w.phone.id, key: SigningKey::random(&mut rand::rngs::OsRng) };
    let forged = decide(
        app,
        &w.alice_cookie,
        a,
        w.phone.id,
        "472",
        PushDecision::Approve,
        &stranger.sign(a, 472, PushDecision::Approve),
    )
    .await;
    let moved = decide(
        app,
        &w.alice_cookie,
        a,
        w.phone.id,
        "472",
        PushDecision::Approve,
        &w.phone.sign(b, 472, PushDecision::Approve),
    )
    .await;
    let turned = decide(
        app,
        &w.alice_cookie,
        a,
        w.phone.id,
        "472",
        PushDecision::Approve,
        &w.phone.sign(a, 472, PushDecision::Deny),
    )
    .await;
    let short =
        decide(app, &w.alice_cookie, a, w.phone.id, "472", PushDecision::Approve, &STANDARD.encode([1u8; 63])).await;
    for (what, res) in [("forged", forged), ("moved", moved), ("turned", turned), ("short", short)] {
        let (status, body) = status_and_body(res);
        assert_eq!(status, 422, "{what}: {body}");
        assert!(body.contains("signature"), "{what}: {body}");
    }
    assert_eq!(app.push_request_row(a).await.status, PushStatus::Pending);

    // Bob's device cannot decide Alice's request, nor Alice's device Bob's: not found.
    let res = signed(app, &w.alice_cookie, &w.bob_phone, a, 472, PushDecision::Approve).await;
    assert_eq!(http_status(&res), 404, "another person's device");
    let res = signed(app, &w.alice_cookie, &w.phone, bobs, 472, PushDecision::Approve).await;
    assert_eq!(http_status(&res), 404, "another person's request");
    assert_eq!(app.push_request_row(bobs).await.status, PushStatus::Pending);

    // A malformed number is refused before anything is read.
    let (status, body) = status_and_body(
        decide(
            app,
            &w.alice_cookie,
            a,
            w.phone.id,
            "47",
            PushDecision::Approve,
            &w.phone.sign(a, 47, PushDecision::Approve),
        )
        .await,
    );
    assert_eq!(status, 422);
    assert!(body.contains("number"), "{body}");

    // A wrong number is refused and counted; the right one then approves.
    let (status, body) = status_and_body(signed(app, &w.alice_cookie, &w.phone, a, 471, PushDecision::Approve).await);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("number") && body.contains("2 more tries"), "{body}");
    assert_eq!(app.push_request_row(a).await.wrong_numbers, 1);
    let ok: DecisionResult = signed(app, &w.alice_cookie, &w.phone, a, 472, PushDecision::Approve).await.unwrap();
    assert_eq!(ok.status, PushStatus::Approved);
    let row = app.push_request_row(a).await;
    assert_eq!((row.status, row.device_id), (PushStatus::Approved, Some(w.phone.id)));
    assert!(row.decided_at.is_some());

    // The same signed approval again (a replay), or a denial now: the request is decided.
    let (status, body) = status_and_body(signed(app, &w.alice_cookie, &w.phone, a, 472, PushDecision::Approve).await);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already decided"), "{body}");
    assert_eq!(http_status(&signed(app, &w.alice_cookie, &w.phone, a, 0, PushDecision::Deny).await), 409);
    assert_eq!(app.push_request_row(a).await.status, PushStatus::Approved);

    // Three wrong numbers deny.
    for (i, n) in [100u16, 101].into_iter().enumerate() {
        let (status, body) = status_and_body(signed(app, &w.alice_cookie, &w.phone, b, n, PushDecision::Approve).await);
        assert_eq!(status, 422, "wrong number {i}: {body}");
    }
    let (status, body) = status_and_body(signed(app, &w.alice_cookie, &w.phone, b, 102, PushDecision::Approve).await);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("denied"), "{body}");
    let row = app.push_request_row(b).await;
    assert_eq!((row.status, row.wrong_numbers), (PushStatus::Denied, 3));
    assert_eq!(
        http_status(&signed(app, &w.alice_cookie, &w.phone, b, 318, PushDecision::Approve).await),
        409,
        "the right one is too late"
    );

    // Deny, signed.
    let c = app.push_request(&w.alice, NewPushRequest::default()).await;
    let denied: DecisionResult = signed(app, &w.alice_cookie, &w.phone, c, 0, PushDecision::Deny).await.unwrap();
    assert_eq!(denied.status, PushStatus::Denied);

    // An expired request is refused, and no longer listed.
    let d = app.push_request(&w.alice, NewPushRequest { expires_in_secs: 60, ..Default::default() }).await;
    app.clock.advance(Duration::seconds(60));
    let (status, body) = status_and_body(signed(app, &w.alice_cookie, &w.phone, d, 472, PushDecision::Approve).await);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("expired"), "{body}");
    let pending = app.run(&w.alice_cookie, MyPendingPushes {}).await;
    assert!(pending.is_empty(), "{pending:?}");

    // Another tenant's person cannot see or decide Acme's requests.
    let globex = app.create_tenant("Globex Push").await;
    let carol = globex.end_user(app, "carol").await;
    let carol_cookie = person_with_a_factor(app, &carol).await;
    let carol_phone = register(app, &carol_cookie, "Carol's").await;
    let e = app.push_request(&w.alice, NewPushRequest::default()).await;
    assert_eq!(http_status(&signed(app, &carol_cookie, &carol_phone, e, 472, PushDecision::Approve).await), 404);
    let pending = app.run(&carol_cookie, MyPendingPushes {}).await;
    assert!(pending.is_empty());
    assert_eq!(app.push_request_row(e).await.status, PushStatus::Pending);

    // Every decision is in the audit trail.
    let trail = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::TenantId.eq(w.acme.id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let count = |a: &str| trail.iter().filter(|e| e.action.as_str() == a).count();
    assert_eq!((count("push.approved"), count("push.denied"), count("push.wrong_number")), (1, 2, 4));
    assert_eq!(count("push.signature_refused"), 3, "the forged, moved and turned signatures are recorded");
}
on_both_databases!(
    the_right_number_and_signature_approve_and_nothing_else_does,
    super::the_right_number_and_signature_approve_and_nothing_else_does
);

async fn of_parallel_decisions_exactly_one_counts(backend: Backend) {
    let w = world_with(backend, None).await;
    let (app, cookie, phone) = (&w.app, w.alice_cookie.as_str(), &w.phone);
    for round in 0..3 {
        let r = app.push_request(&w.alice, NewPushRequest::default()).await;
        let tries = (0..8).map(|i| {
            let d = if i % 2 == 0 { PushDecision::Approve } else { PushDecision::Deny };
            let n = if d == PushDecision::Approve { 472 } else { 0 };
            async move { http_status(&signed(app, cookie, phone, r, n, d).await) }
        });
        let statuses = futures::future::join_all(tries).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "round {round}: {statuses:?}");
        assert_ne!(app.push_request_row(r).await.status, PushStatus::Pending);
    }
}
on_both_databases!(of_parallel_decisions_exactly_one_counts, super::of_parallel_decisions_exactly_one_counts);

async fn this_wasnt_me_denies_mails_the_admins_and_pauses_notifications(backend: Backend) {
    let sink = SmtpSink::start().await;
    let w = world_with(backend, Some(sink)).await;
    let app = &w.app;
    let second_admin = w.acme.admin(app, "second-admin").await;
    let now = app.clock.now();
    assert!(!domain::push::muted(&app.ctx.db, w.alice.id, now).await);

    let r = app
        .push_request(
            &w.alice,
            NewPushRequest { server_name: "pay-07".into(), source_ip: "198.51.100.9".into(), ..Default::default() },
        )
        .await;
    let res: DecisionResult = signed(app, &w.alice_cookie, &w.phone, r, 0, PushDecision::Fraud).await.unwrap();
    assert_eq!(res.status, PushStatus::Fraud);
    assert_eq!(res.muted_until, Some(now + Duration::minutes(20)));
    assert_eq!(app.push_request_row(r).await.status, PushStatus::Fraud);

    // Both admins are told, with the server and where the login came from.
    let sink = w._sink.as_ref().unwrap();
    for admin in [&w.admin, &second_admin] {
        let mails = sink.wait_for(&admin.email, 1).await;
        let m = mails.iter().find(|m| m.subject.contains("not theirs")).expect("the report");
        assert!(m.subject.contains(&w.alice.email), "{}", m.subject);
        assert!(
            m.text.contains("pay-07") && m.text.contains("198.51.100.9") && m.text.contains("This wasn't me"),
            "{}",
            m.text
        );
    }
    assert!(!sink.messages_to(&w.bob.email).iter().any(|m| m.subject.contains("not theirs")), "only admins");

    // Notifications are paused for 20 minutes; the portal still shows new requests.
    assert!(domain::push::muted(&app.ctx.db, w.alice.id, app.clock.now()).await);
    assert!(!domain::push::muted(&app.ctx.db, w.bob.id, app.clock.now()).await);
    let next = app.push_request(&w.alice, NewPushRequest::default()).await;
    let page = app.run(&w.alice_cookie, MyApprovals {}).await;
    assert_eq!(page.pending.iter().map(|p| p.id).collect::<Vec<_>>(), [next]);
    assert_eq!(page.muted_until.map(|t| t.timestamp()), Some((now + Duration::minutes(20)).timestamp()));
    app.clock.advance(Duration::minutes(20));
    assert!(!domain::push::muted(&app.ctx.db, w.alice.id, app.clock.now()).await);

    // Three denials in a row pause them too (an approval in between starts the count again).
    for i in 0..2 {
        let r = app.push_request(&w.bob, NewPushRequest::default()).await;
        let res: DecisionResult = app_decision(app, &w.bob_cookie, &w.bob_phone, r, 0, PushDecision::Deny).await;
        assert_eq!(res.muted_until, None, "denial {i}");
        app.clock.advance(Duration::seconds(1));
    }
    let r = app.push_request(&w.bob, NewPushRequest::default()).await;
    assert_eq!(
        app_decision(app, &w.bob_cookie, &w.bob_phone, r, 472, PushDecision::Approve).await.status,
        PushStatus::Approved
    );
    app.clock.advance(Duration::seconds(1));
    for i in 0..3 {
        let r = app.push_request(&w.bob, NewPushRequest::default()).await;
        let res = app_decision(app, &w.bob_cookie, &w.bob_phone, r, 0, PushDecision::Deny).await;
        assert_eq!(res.muted_until.is_some(), i == 2, "denial {i} after the approval");
        assert_eq!(domain::push::muted(&app.ctx.db, w.bob.id, app.clock.now()).await, i == 2);
        app.clock.advance(Duration::seconds(1));
    }
    let trail = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::TenantId.eq(w.acme.id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(trail.iter().filter(|e| e.action.as_str() == "push.fraud_reported").count(), 1);
}
on_both_databases!(
    this_wasnt_me_denies_mails_the_admins_and_pauses_notifications,
    super::this_wasnt_me_denies_mails_the_admins_and_pauses_notifications
);

async fn app_decision(
    app: &TestApp,
    cookie: &str,
    device: &Device,
    request: Uuid,
    number: u16,
    d: PushDecision,
) -> DecisionResult {
    signed(app, cookie, device, request, number, d).await.unwrap_or_else(|e| panic!("the decision: {e}"))
}

/// Reads server-sent events from `res` until one named `pending` arrives (up to 10 s).
async fn next_pending(res: &mut Response, buf: &mut String) -> Vec<PendingPush> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: pending") {
                let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                return serde_json::from_str(&data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn the_live_feed_sends_pending_requests_as_they_change(backend: Backend) {
    let w = world_with(backend, None).await;
    let app = &w.app;
    let open = |cookie: Option<&str>, site: &str| {
        let mut req = app.http.get(app.url("/portal/approvals/events")).header("sec-fetch-site", site.to_owned());
        if let Some(c) = cookie {
            req = req.header("cookie", c.to_owned());
        }
        req.send()
    };
    assert_eq!(open(None, "same-origin").await.unwrap().status(), 401);
    let admin = app.sign_in(&w.admin).await;
    assert_eq!(open(Some(&admin), "same-origin").await.unwrap().status(), 403);
    assert_eq!(open(Some(&w.alice_cookie), "cross-site").await.unwrap().status(), 403);

    let mut res = open(Some(&w.alice_cookie), "same-origin").await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    assert!(next_pending(&mut res, &mut buf).await.is_empty(), "first the list as it is");

    let started = std::time::Instant::now();
    let r = app.push_request(&w.alice, NewPushRequest::default()).await;
    app.push_request(&w.bob, NewPushRequest::default()).await;
    let got = next_pending(&mut res, &mut buf).await;
    assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), [r], "Alice's only");
    // The feed looks every 500 ms; 5 s is ten looks on a loaded machine, and well under its 15 s
    // keep-alive.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "live: {:?}", started.elapsed());

    // Muted or not, the open portal gets them; a decision takes the request off.
    let _ = app_decision(app, &w.alice_cookie, &w.phone, r, 0, PushDecision::Fraud).await;
    assert!(next_pending(&mut res, &mut buf).await.is_empty());
    let again = app.push_request(&w.alice, NewPushRequest::default()).await;
    assert_eq!(next_pending(&mut res, &mut buf).await.iter().map(|p| p.id).collect::<Vec<_>>(), [again]);

    // A person holds at most 5 feeds at once (tabs); others still get theirs.
    let mut more = vec![];
    for _ in 1..server::approval_events::MAX_PER_PERSON {
        let r = open(Some(&w.alice_cookie), "same-origin").await.unwrap();
        assert_eq!(r.status(), 200);
        more.push(r);
    }
    assert_eq!(open(Some(&w.alice_cookie), "same-origin").await.unwrap().status(), 429);
    assert_eq!(open(Some(&w.bob_cookie), "same-origin").await.unwrap().status(), 200);
}
on_both_databases!(
    the_live_feed_sends_pending_requests_as_they_change,
    super::the_live_feed_sends_pending_requests_as_they_change
);

async fn tenant_admins_choose_whether_a_report_locks_the_person(backend: Backend) {
    let w = world_with(backend, None).await;
    let app = &w.app;
    let admin = app.sign_in(&w.admin).await;
    let on = app.run(&admin, PushPolicy {}).await;
    assert!(!on, "off by default");
    app.run(&admin, SavePushPolicy { lock_on_fraud_report: true }).await;
    assert!(app.run(&admin, PushPolicy {}).await);
    // Only tenant admins, and only their own tenant's.
    assert_eq!(app.refused(&w.alice_cookie, SavePushPolicy { lock_on_fraud_report: false }).await.status, 403);
    let globex = app.create_tenant("Globex Policy").await;
    let other = globex.admin(app, "admin").await;
    let other_cookie = app.sign_in(&other).await;
    assert!(!app.run(&other_cookie, PushPolicy {}).await, "another tenant's setting is its own");

    // A report in a tenant that chose locking locks the person: their portal session ends,
    // the Users page says Locked, and the audit trail says why.
    let r = app.push_request(&w.alice, NewPushRequest::default()).await;
    app_decision(app, &w.alice_cookie, &w.phone, r, 0, PushDecision::Fraud).await;
    let trail = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::TenantId.eq(w.acme.id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert!(trail.iter().any(|e| e.action.as_str() == "push.policy"));
    let report = trail.iter().find(|e| e.action.as_str() == "push.fraud_reported").unwrap();
    assert!(report.detail.contains("locked, as the tenant chose"), "{}", report.detail);
    let lock = trail.iter().find(|e| e.action.as_str() == "user.lock").expect("the lock is audited");
    assert_eq!(lock.target, w.alice.email);
    assert!(lock.detail.contains("reported a login request as not theirs"), "{}", lock.detail);
    assert_eq!(app.refused(&w.alice_cookie, MyApprovals {}).await.status, 401, "her session ended");
    let users = app.run(&admin, app::functions::users::ListUsers { query: Default::default() }).await;
    let row = users.items.iter().find(|p| p.email == w.alice.email).unwrap();
    assert_eq!(row.state, app::models::users::UserState::Locked);

    // Bob's tenant is the same, but a plain denial locks nobody.
    let r = app.push_request(&w.bob, NewPushRequest::default()).await;
    app_decision(app, &w.bob_cookie, &w.bob_phone, r, 0, PushDecision::Deny).await;
    let row = app.run(&admin, app::functions::users::ListUsers { query: Default::default() }).await;
    assert_eq!(row.items.iter().find(|p| p.email == w.bob.email).unwrap().state, app::models::users::UserState::Active);
}
on_both_databases!(
    tenant_admins_choose_whether_a_report_locks_the_person,
    super::tenant_admins_choose_whether_a_report_locks_the_person
);
