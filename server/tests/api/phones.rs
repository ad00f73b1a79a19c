//! Phones as a factor, through the portal's calls: a phone counts once the code sent to it by SMS
//! is typed back (3 tries, 10 minutes, sends limited); a new phone replaces the one in force only
//! once confirmed; one lasting factor must remain; every change needs a fresh step-up (a code
//! from the app or one texted to the phone); renaming, the default method and signing out other
//! sessions; nobody reaches another user's phone.

use crate::common::*;
use app::models::{DefaultMethod, PendingPhoneRow, PhoneRow, PhonesView, SignInMethods};
use chrono::Duration;
use domain::{audit::AuditAction, entities::audit_event, Clock};
use reqwest::Response;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const FIRST: &str = "+14155550123";
const SECOND: &str = "+14155550999";

struct World {
    app: TestApp,
    acme: TenantFixture,
    alice: Login,
    /// Alice's session, in which she added her first phone (so it is stepped up for 5 minutes).
    cookie: String,
    /// Her confirmed phone.
    phone: PhoneRow,
}

impl World {
    async fn phones(&self, cookie: &str) -> PhonesView {
        self.app.call_ok("portal/phones", &[], Some(cookie)).await
    }

    async fn begin(&self, cookie: &str, number: &str, name: &str) -> Response {
        self.app.call("portal/phones/begin", &[("number", number), ("name", name)], Some(cookie)).await
    }

    async fn confirm(&self, cookie: &str, id: &str, code: &str) -> Response {
        self.app.call("portal/phones/confirm", &[("id", id), ("code", code)], Some(cookie)).await
    }

    async fn in_force(&self) -> Option<String> {
        domain::factors::login_phone(&self.app.ctx.db, self.alice.id).await.unwrap().map(|p| p.into_inner())
    }

    /// Steps `cookie` up with a code texted to Alice's phone.
    async fn step_up_by_sms(&self, cookie: &str) {
        self.app.clock.advance(Duration::seconds(61));
        let sent = self.app.call("portal/step_up/send_code", &[], Some(cookie)).await;
        assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
        let code = self.app.sms_code(&self.phone.number).await;
        self.app.step_up(cookie, &code).await;
    }
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "111111".into() } else { "000000".into() }
}

async fn ok<T: serde::de::DeserializeOwned>(res: Response, what: &str) -> T {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{what}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Acme with Alice, who added the phone "Work" (+14155550123) as her first factor in an
/// enrolment window.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Phones").await;
    let alice = acme.end_user(&app, "alice").await;
    app.open_enrolment(&alice).await;
    let cookie = app.sign_in(&alice).await;
    let res = app.call("portal/phones/begin", &[("number", FIRST), ("name", "Work")], Some(&cookie)).await;
    let pending: PendingPhoneRow = ok(res, "begin").await;
    let code = app.sms_code(FIRST).await;
    let res = app.call("portal/phones/confirm", &[("id", &pending.id.to_string()), ("code", &code)], Some(&cookie)).await;
    let phone: PhoneRow = ok(res, "confirm").await;
    World { app, acme, alice, cookie, phone }
}

async fn a_phone_is_confirmed_with_the_code_sent_to_it(backend: Backend) {
    let w = world(backend).await;
    assert_eq!((w.phone.name.as_str(), w.phone.number.as_str()), ("Work", FIRST));
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));
    let methods: SignInMethods = w.app.call_ok("portal/methods", &[], Some(&w.cookie)).await;
    assert!(methods.has_factor, "a phone is a factor");
    let phones = w.phones(&w.cookie).await;
    assert_eq!(phones.in_force.map(|p| p.id), Some(w.phone.id));
    assert!(phones.pending.is_none());
    assert!(phones.choosable.contains(&DefaultMethod::Sms) && !phones.choosable.contains(&DefaultMethod::Code));

    // Without a gateway the SMS is held in the outbox, its code masked for operators.
    eventually("the SMS is held", || async {
        let rows = domain::entities::outbox::Entity::find()
            .filter(domain::entities::outbox::Column::Recipient.eq(FIRST))
            .all(&w.app.ctx.db)
            .await
            .unwrap();
        rows.iter().all(|m| m.status == proto::OutboxStatus::Held)
    })
    .await;
    let code = w.app.sms_code(FIRST).await;
    let operator = w.app.create_operator("ops").await;
    let ops = w.app.sign_in(&operator).await;
    let listed = w.app.call("admin/outbox", &[], Some(&ops)).await.text().await.unwrap();
    assert!(listed.contains(FIRST) && !listed.contains(&code), "{listed}");

    // Audited, and mailed to Alice.
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(AuditAction::FactorPhoneAdded))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert!(audited[0].detail.contains("ending 0123"), "{}", audited[0].detail);
    let mails = domain::entities::outbox::Entity::find()
        .filter(domain::entities::outbox::Column::Recipient.eq(w.alice.email.clone()))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    assert!(mails.iter().any(|m| m.body_text.contains("The phone \"Work\" (ending 0123) was added")));

    // Bad input names its field.
    let bad = w.begin(&w.cookie, "0123", "").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("\"number\""));
    let same = w.begin(&w.cookie, FIRST, "").await;
    assert_eq!(same.status(), 422);
    assert!(same.text().await.unwrap().contains("is already your phone"));
}
on_both_databases!(a_phone_is_confirmed_with_the_code_sent_to_it, super::a_phone_is_confirmed_with_the_code_sent_to_it);

async fn wrong_codes_are_counted_codes_expire_and_sends_are_limited(backend: Backend) {
    let w = world(backend).await;
    let pending: PendingPhoneRow = ok(w.begin(&w.cookie, SECOND, "New").await, "begin").await;
    let id = pending.id.to_string();
    let code = w.app.sms_code(SECOND).await;
    let wrong = other_than(&code);
    for left in ["2 more tries", "1 more try", "the last try"] {
        let res = w.confirm(&w.cookie, &id, &wrong).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(left), "{left}");
    }
    let spent = w.confirm(&w.cookie, &id, &code).await;
    assert_eq!(spent.status(), 409, "after 3 wrong codes even the right one is refused");
    assert!(spent.text().await.unwrap().contains("Send a new code"));

    // A new code only after a minute; then it works (the old one does not).
    let early = w.app.call("portal/phones/resend", &[("id", &id)], Some(&w.cookie)).await;
    assert_eq!(early.status(), 429);
    w.app.clock.advance(Duration::seconds(60));
    let _: PendingPhoneRow = ok(w.app.call("portal/phones/resend", &[("id", &id)], Some(&w.cookie)).await, "resend").await;
    let fresh = w.app.sms_code(SECOND).await;
    if fresh != code {
        assert_eq!(w.confirm(&w.cookie, &id, &code).await.status(), 422, "the first code stopped working");
    }

    // Ten minutes later the code has expired (the step-up too: a code texted to the phone in
    // force renews it).
    w.app.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    w.step_up_by_sms(&w.cookie).await;
    let late = w.confirm(&w.cookie, &id, &fresh).await;
    assert_eq!(late.status(), 409, "expired");
    assert!(late.text().await.unwrap().contains("expired"));
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST), "nothing changed");

    // Five codes an hour for new phones, however many numbers are tried.
    let cookie = w.cookie.clone();
    for (i, number) in ["+14155550201", "+14155550202", "+14155550203"].into_iter().enumerate() {
        w.app.clock.advance(Duration::seconds(61));
        let res = w.begin(&cookie, number, "").await;
        assert_eq!(res.status(), 200, "send {}: {}", i + 3, res.text().await.unwrap());
    }
    w.app.clock.advance(Duration::seconds(61));
    let capped = w.begin(&cookie, "+14155550204", "").await;
    assert_eq!(capped.status(), 429);
    assert!(capped.text().await.unwrap().contains("5 codes"));
    assert_eq!(w.app.sms_count("+14155550204").await, 0);
}
on_both_databases!(
    wrong_codes_are_counted_codes_expire_and_sends_are_limited,
    super::wrong_codes_are_counted_codes_expire_and_sends_are_limited
);

async fn the_old_phone_stays_in_force_until_the_new_one_is_confirmed(backend: Backend) {
    let w = world(backend).await;
    let pending: PendingPhoneRow = ok(w.begin(&w.cookie, SECOND, "New").await, "begin").await;
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST), "a pending phone does not count");
    let phones = w.phones(&w.cookie).await;
    assert_eq!(phones.in_force.as_ref().map(|p| p.number.as_str()), Some(FIRST));
    assert_eq!(phones.pending.as_ref().map(|p| p.number.as_str()), Some(SECOND));
    let code = w.app.sms_code(SECOND).await;
    let _: PhoneRow = ok(w.confirm(&w.cookie, &pending.id.to_string(), &code).await, "confirm").await;
    assert_eq!(w.in_force().await.as_deref(), Some(SECOND));
    let phones = w.phones(&w.cookie).await;
    assert_eq!(phones.in_force.map(|p| p.name), Some("New".to_owned()));
    assert!(phones.pending.is_none(), "the old phone is gone");
    let mails = domain::entities::outbox::Entity::find()
        .filter(domain::entities::outbox::Column::Recipient.eq(w.alice.email.clone()))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    assert!(mails.iter().any(|m| m.body_text.contains("replaced \"Work\" (ending 0123)")));
}
on_both_databases!(
    the_old_phone_stays_in_force_until_the_new_one_is_confirmed,
    super::the_old_phone_stays_in_force_until_the_new_one_is_confirmed
);

async fn the_last_lasting_factor_cannot_be_removed(backend: Backend) {
    let w = world(backend).await;
    let id = w.phone.id.to_string();
    let refused = w.app.call("portal/phones/remove", &[("id", &id)], Some(&w.cookie)).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("one must remain"));
    // Recovery codes run out: they do not count as the one that remains.
    let _: Vec<String> = w.app.call_ok("portal/recovery/generate", &[], Some(&w.cookie)).await;
    assert_eq!(w.app.call("portal/phones/remove", &[("id", &id)], Some(&w.cookie)).await.status(), 409);
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));

    // With an authenticator app too, the phone may go; then the app is the last one.
    let e: app::models::NewAuthenticator =
        w.app.call_ok("portal/authenticators/begin", &[("name", "Pixel")], Some(&w.cookie)).await;
    let seed = totp_rs::Secret::Encoded(e.secret.clone()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    let code = totp.generate(w.app.clock.now().timestamp() as u64);
    let res = w.app.call("portal/authenticators/confirm", &[("id", &e.id.to_string()), ("code", &code)], Some(&w.cookie)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(w.app.call("portal/phones/remove", &[("id", &id)], Some(&w.cookie)).await.status(), 200);
    assert_eq!(w.in_force().await, None);
    let refused = w.app.call("portal/authenticators/remove", &[("id", &e.id.to_string())], Some(&w.cookie)).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("only authenticator"));
    let removed = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(AuditAction::FactorPhoneRemoved))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(removed.len(), 1);
}
on_both_databases!(the_last_lasting_factor_cannot_be_removed, super::the_last_lasting_factor_cannot_be_removed);

async fn changes_need_a_fresh_step_up(backend: Backend) {
    let w = world(backend).await;
    let thief = w.app.sign_in(&w.alice).await;
    let id = w.phone.id.to_string();
    let needs_code = |res: Response, what: &'static str| async move {
        assert_eq!(res.status(), 422, "{what}");
        assert!(res.text().await.unwrap().contains("Enter a current code"), "{what}");
    };
    needs_code(w.begin(&thief, SECOND, "").await, "adding a phone").await;
    needs_code(w.app.call("portal/phones/remove", &[("id", &id)], Some(&thief)).await, "removing").await;
    let rename = [("kind", "phone"), ("id", id.as_str()), ("name", "Mine")];
    needs_code(w.app.call("portal/factors/rename", &rename, Some(&thief)).await, "renaming").await;
    needs_code(w.app.call("portal/default_method", &[("method", "sms")], Some(&thief)).await, "default").await;
    needs_code(w.app.call("portal/sessions/sign_out_others", &[], Some(&thief)).await, "signing out others").await;
    // The session that added the phone could, for 5 minutes only.
    w.app.clock.advance(Duration::minutes(5));
    needs_code(w.app.call("portal/factors/rename", &rename, Some(&w.cookie)).await, "5 minutes later").await;

    // A code texted to the phone steps the session up; it is spent by it.
    w.step_up_by_sms(&thief).await;
    let code = w.app.sms_code(FIRST).await;
    assert_eq!(w.app.call("portal/step_up", &[("code", &code)], Some(&w.cookie)).await.status(), 422, "spent");
    let renamed: String = ok(w.app.call("portal/factors/rename", &rename, Some(&thief)).await, "rename").await;
    assert_eq!(renamed, "Mine");
    let method: DefaultMethod =
        ok(w.app.call("portal/default_method", &[("method", "sms")], Some(&thief)).await, "default").await;
    assert_eq!(method, DefaultMethod::Sms);
    assert_eq!(domain::factors::default_method(&w.app.ctx.db, w.alice.id).await.unwrap(), Some(DefaultMethod::Sms));
    let bad = w.app.call("portal/default_method", &[("method", "fax")], Some(&thief)).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("\"method\""));
    let no_app = w.app.call("portal/default_method", &[("method", "code")], Some(&thief)).await;
    assert_eq!(no_app.status(), 422, "no authenticator app to take a code from");

    // Signing out the other sessions ends Alice's first one, not this one.
    let ended: u64 = ok(w.app.call("portal/sessions/sign_out_others", &[], Some(&thief)).await, "sign out").await;
    assert_eq!(ended, 1);
    assert_eq!(w.app.call("portal/phones", &[], Some(&w.cookie)).await.status(), 401);
    assert_eq!(w.app.call("portal/phones", &[], Some(&thief)).await.status(), 200);
    assert_eq!(w.phones(&thief).await.in_force.map(|p| p.name), Some("Mine".to_owned()));
    for action in [AuditAction::FactorRenamed, AuditAction::FactorDefaultMethod, AuditAction::FactorOtherSessionsSignedOut] {
        let n = audit_event::Entity::find().filter(audit_event::Column::Action.eq(action)).all(&w.app.ctx.db).await.unwrap();
        assert_eq!(n.len(), 1, "{action}");
    }
}
on_both_databases!(changes_need_a_fresh_step_up, super::changes_need_a_fresh_step_up);

async fn another_users_phone_is_not_found(backend: Backend) {
    let w = world(backend).await;
    let id = w.phone.id.to_string();
    let bob = w.acme.end_user(&w.app, "bob").await;
    let globex = w.app.create_tenant("Globex Phones").await;
    let gina = globex.end_user(&w.app, "gina").await;
    for who in [&bob, &gina] {
        w.app.open_enrolment(who).await;
        let cookie = w.app.sign_in(who).await;
        // Each adds a phone of their own, so they are stepped up: the refusal is about the id.
        let number = if who.id == bob.id { "+14155550301" } else { "+14155550302" };
        let p: PendingPhoneRow = ok(w.begin(&cookie, number, "").await, "begin").await;
        let code = w.app.sms_code(number).await;
        let _: PhoneRow = ok(w.confirm(&cookie, &p.id.to_string(), &code).await, "confirm").await;
        for (endpoint, form) in [
            ("portal/phones/remove", vec![("id", id.as_str())]),
            ("portal/phones/resend", vec![("id", id.as_str())]),
            ("portal/phones/confirm", vec![("id", id.as_str()), ("code", "123456")]),
            ("portal/factors/rename", vec![("kind", "phone"), ("id", id.as_str()), ("name", "Taken")]),
        ] {
            let res = w.app.call(endpoint, &form, Some(&cookie)).await;
            assert_eq!(res.status(), 404, "{endpoint} as {}", who.email);
        }
    }
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));
    assert_eq!(w.phones(&w.cookie).await.in_force.map(|p| p.name), Some("Work".to_owned()));
    // Only end users have phones.
    let admin = w.acme.admin(&w.app, "admin").await;
    let admin_cookie = w.app.sign_in(&admin).await;
    assert_eq!(w.app.call("portal/phones", &[], Some(&admin_cookie)).await.status(), 403);
}
on_both_databases!(another_users_phone_is_not_found, super::another_users_phone_is_not_found);

async fn removing_the_phone_and_the_app_at_once_leaves_one(backend: Backend) {
    let w = world(backend).await;
    let e: app::models::NewAuthenticator =
        w.app.call_ok("portal/authenticators/begin", &[("name", "Pixel")], Some(&w.cookie)).await;
    let seed = totp_rs::Secret::Encoded(e.secret.clone()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    let code = totp.generate(w.app.clock.now().timestamp() as u64);
    let res = w.app.call("portal/authenticators/confirm", &[("id", &e.id.to_string()), ("code", &code)], Some(&w.cookie)).await;
    assert_eq!(res.status(), 200);
    // Both removals at the same moment, in two stepped-up sessions: the user's row is held while
    // counting, so exactly one goes through.
    let other = w.app.sign_in(&w.alice).await;
    w.step_up_by_sms(&other).await;
    w.app.step_up(&w.cookie, &totp.generate((w.app.clock.now().timestamp() + 30) as u64)).await;
    let (phone_id, app_id) = (w.phone.id.to_string(), e.id.to_string());
    let (phone_form, app_form) = ([("id", phone_id.as_str())], [("id", app_id.as_str())]);
    let (a, b) = tokio::join!(
        w.app.call("portal/phones/remove", &phone_form, Some(&other)),
        w.app.call("portal/authenticators/remove", &app_form, Some(&w.cookie)),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let apps: SignInMethods = w.app.call_ok("portal/methods", &[], Some(&other)).await;
    assert_eq!(apps.authenticators.len() + usize::from(w.in_force().await.is_some()), 1, "one remains");
}
on_both_databases!(
    removing_the_phone_and_the_app_at_once_leaves_one,
    super::removing_the_phone_and_the_app_at_once_leaves_one
);
