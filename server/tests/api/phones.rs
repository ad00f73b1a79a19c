//! Phones as a factor, through the portal's calls: a phone counts once the code sent to it by SMS
//! is typed back (3 tries, 10 minutes, sends limited); a new phone replaces the one in force only
//! once confirmed; one lasting factor must remain; every change needs a fresh step-up (a code
//! from the app or one texted to the phone); renaming, the default method and signing out other
//! sessions; nobody reaches another user's phone.

use crate::common::*;
use app::functions::phones::{
    BeginPhone, ConfirmPhone, MyPhones, RemovePhone, RenameFactor, ResendPhoneCode, SendStepUpCode, SetDefaultMethod,
    SignOutOtherSessions,
};
use app::functions::portal::{
    BeginAuthenticator, ConfirmAuthenticator, GenerateRecoveryCodes, MySignInMethods, RemoveAuthenticator, StepUp,
};
use app::models::{DefaultMethod, PendingPhoneRow, PhoneRow, PhonesView};
use chrono::Duration;
use domain::{audit::AuditAction, entities::audit_event, Clock};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use testkit::Refused;

const FIRST: &str = "+14155550123";
const SECOND: &str = "+14155550999";

struct World {
    app: TestApp,
    acme: TenantFixture,
    alice: Login,
    /// Alice's session, signed in by her invitation's link, in which she added her phone (so it
    /// is stepped up for 5 minutes).
    cookie: String,
    /// Her confirmed phone.
    phone: PhoneRow,
}

impl World {
    async fn phones(&self, cookie: &str) -> PhonesView {
        self.app.run(cookie, MyPhones {}).await
    }

    async fn begin(&self, cookie: &str, number: &str, name: &str) -> Result<PendingPhoneRow, Refused> {
        self.app.try_run(cookie, BeginPhone { number: number.into(), name: name.into() }).await
    }

    async fn confirm(&self, cookie: &str, id: &str, code: &str) -> Result<PhoneRow, Refused> {
        self.app.try_run(cookie, ConfirmPhone { id: id.into(), code: code.into() }).await
    }

    async fn in_force(&self) -> Option<String> {
        domain::factors::login_phone(&self.app.ctx.db, self.alice.id).await.unwrap().map(|p| p.into_inner())
    }

    /// Steps `cookie` up with a code texted to Alice's phone.
    async fn step_up_by_sms(&self, cookie: &str) {
        self.app.clock.advance(Duration::seconds(61));
        self.app.run(cookie, SendStepUpCode {}).await;
        let code = self.app.sms_code(&self.phone.number).await;
        self.app.step_up(cookie, &code).await;
    }
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    if code == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

fn ok<T>(res: Result<T, Refused>, what: &str) -> T {
    res.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A call's HTTP status.
fn http_status<T>(res: &Result<T, Refused>) -> u16 {
    res.as_ref().map_or_else(|e| e.status, |_| 200)
}

/// What a refused call said: its status and error.
fn refusal<T: std::fmt::Debug>(res: Result<T, Refused>) -> (u16, String) {
    let e = res.expect_err("the call is refused");
    (e.status, e.to_string())
}

fn rename(id: &str, name: &str) -> RenameFactor {
    RenameFactor { kind: "phone".into(), id: id.into(), name: name.into() }
}

fn default_method(method: &str) -> SetDefaultMethod {
    SetDefaultMethod { method: method.into() }
}

/// Adds the authenticator app "Pixel" in the stepped-up session `cookie`; returns its id and
/// the app's TOTP.
async fn add_app(app: &TestApp, cookie: &str) -> (String, totp_rs::TOTP) {
    let e = app.run(cookie, BeginAuthenticator { name: "Pixel".into() }).await;
    let seed = totp_rs::Secret::Encoded(e.secret.clone()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    let code = totp.generate(app.clock.now().timestamp() as u64);
    app.run(cookie, ConfirmAuthenticator { id: e.id.to_string(), code }).await;
    (e.id.to_string(), totp)
}

/// Acme with Alice, whose only factor is the phone "Work" (+14155550123): she accepted her
/// invitation with an app (the link takes an app or a passkey), added the phone in the session
/// the link signed in, and removed the app.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Phones").await;
    let alice = acme.end_user(&app, "alice").await;
    let cookie = app.accept_invitation(&alice, "Setup").await.cookie;
    let setup = app.run(&cookie, MySignInMethods {}).await.authenticators[0].id.to_string();
    let pending = app.run(&cookie, BeginPhone { number: FIRST.into(), name: "Work".into() }).await;
    let code = app.sms_code(FIRST).await;
    let phone = app.run(&cookie, ConfirmPhone { id: pending.id.to_string(), code }).await;
    app.run(&cookie, RemoveAuthenticator { id: setup }).await;
    World { app, acme, alice, cookie, phone }
}

async fn a_phone_is_confirmed_with_the_code_sent_to_it(backend: Backend) {
    let w = world(backend).await;
    assert_eq!((w.phone.name.as_str(), w.phone.number.as_str()), ("Work", FIRST));
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));
    let methods = w.app.run(&w.cookie, MySignInMethods {}).await;
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
    // Raw: the code must not be anywhere on the wire.
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
    let (status, said) = refusal(w.begin(&w.cookie, "0123", "").await);
    assert_eq!(status, 422);
    assert!(said.contains("\"number\""), "{said}");
    let (status, said) = refusal(w.begin(&w.cookie, FIRST, "").await);
    assert_eq!(status, 422);
    assert!(said.contains("is already your phone"), "{said}");
}
on_both_databases!(a_phone_is_confirmed_with_the_code_sent_to_it, super::a_phone_is_confirmed_with_the_code_sent_to_it);

async fn wrong_codes_are_counted_codes_expire_and_sends_are_limited(backend: Backend) {
    let w = world(backend).await;
    let pending = ok(w.begin(&w.cookie, SECOND, "New").await, "begin");
    let id = pending.id.to_string();
    let code = w.app.sms_code(SECOND).await;
    let wrong = other_than(&code);
    for left in ["2 more tries", "1 more try", "the last try"] {
        let (status, said) = refusal(w.confirm(&w.cookie, &id, &wrong).await);
        assert_eq!(status, 422);
        assert!(said.contains(left), "{left}: {said}");
    }
    let (status, said) = refusal(w.confirm(&w.cookie, &id, &code).await);
    assert_eq!(status, 409, "after 3 wrong codes even the right one is refused");
    assert!(said.contains("Send a new code"), "{said}");

    // A new code only after a minute; then it works (the old one does not).
    assert_eq!(w.app.refused(&w.cookie, ResendPhoneCode { id: id.clone() }).await.status, 429);
    w.app.clock.advance(Duration::seconds(60));
    w.app.run(&w.cookie, ResendPhoneCode { id: id.clone() }).await;
    let fresh = w.app.sms_code(SECOND).await;
    if fresh != code {
        assert_eq!(http_status(&w.confirm(&w.cookie, &id, &code).await), 422, "the first code stopped working");
    }

    // Ten minutes later the code has expired (the step-up too: a code texted to the phone in
    // force renews it).
    w.app.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    w.step_up_by_sms(&w.cookie).await;
    let (status, said) = refusal(w.confirm(&w.cookie, &id, &fresh).await);
    assert_eq!(status, 409, "expired");
    assert!(said.contains("expired"), "{said}");
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST), "nothing changed");

    // Five codes an hour for new phones, however many numbers are tried.
    let cookie = w.cookie.clone();
    for (i, number) in ["+14155550201", "+14155550202", "+14155550203"].into_iter().enumerate() {
        w.app.clock.advance(Duration::seconds(61));
        ok(w.begin(&cookie, number, "").await, &format!("send {}", i + 3));
    }
    w.app.clock.advance(Duration::seconds(61));
    let (status, said) = refusal(w.begin(&cookie, "+14155550204", "").await);
    assert_eq!(status, 429);
    assert!(said.contains("5 codes"), "{said}");
    assert_eq!(w.app.sms_count("+14155550204").await, 0);
}
on_both_databases!(
    wrong_codes_are_counted_codes_expire_and_sends_are_limited,
    super::wrong_codes_are_counted_codes_expire_and_sends_are_limited
);

async fn the_old_phone_stays_in_force_until_the_new_one_is_confirmed(backend: Backend) {
    let w = world(backend).await;
    let pending = ok(w.begin(&w.cookie, SECOND, "New").await, "begin");
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST), "a pending phone does not count");
    let phones = w.phones(&w.cookie).await;
    assert_eq!(phones.in_force.as_ref().map(|p| p.number.as_str()), Some(FIRST));
    assert_eq!(phones.pending.as_ref().map(|p| p.number.as_str()), Some(SECOND));
    let code = w.app.sms_code(SECOND).await;
    let _ = ok(w.confirm(&w.cookie, &pending.id.to_string(), &code).await, "confirm");
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
    let refused = w.app.refused(&w.cookie, RemovePhone { id: id.clone() }).await;
    assert_eq!(refused.status, 409);
    assert!(refused.to_string().contains("one must remain"), "{refused}");
    // Recovery codes run out: they do not count as the one that remains.
    w.app.run(&w.cookie, GenerateRecoveryCodes {}).await;
    assert_eq!(w.app.refused(&w.cookie, RemovePhone { id: id.clone() }).await.status, 409);
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));

    // With an authenticator app too, the phone may go; then the app is the last one.
    let (app_id, _) = add_app(&w.app, &w.cookie).await;
    w.app.run(&w.cookie, RemovePhone { id }).await;
    assert_eq!(w.in_force().await, None);
    let refused = w.app.refused(&w.cookie, RemoveAuthenticator { id: app_id }).await;
    assert_eq!(refused.status, 409);
    assert!(refused.to_string().contains("only authenticator"), "{refused}");
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
    let needs_code = |refused: Refused, what: &'static str| {
        assert_eq!(refused.status, 422, "{what}: {refused}");
        assert!(refused.to_string().contains("Enter a current code"), "{what}: {refused}");
    };
    needs_code(w.begin(&thief, SECOND, "").await.unwrap_err(), "adding a phone");
    needs_code(w.app.refused(&thief, RemovePhone { id: id.clone() }).await, "removing");
    needs_code(w.app.refused(&thief, rename(&id, "Mine")).await, "renaming");
    needs_code(w.app.refused(&thief, default_method("sms")).await, "default");
    needs_code(w.app.refused(&thief, SignOutOtherSessions {}).await, "signing out others");
    // The session that added the phone could, for 5 minutes only.
    w.app.clock.advance(Duration::minutes(5));
    needs_code(w.app.refused(&w.cookie, rename(&id, "Mine")).await, "5 minutes later");

    // A code texted to the phone steps the session up; it is spent by it.
    w.step_up_by_sms(&thief).await;
    let code = w.app.sms_code(FIRST).await;
    assert_eq!(w.app.refused(&w.cookie, StepUp { code }).await.status, 422, "spent");
    let renamed = w.app.run(&thief, rename(&id, "Mine")).await;
    assert_eq!(renamed, "Mine");
    let method = w.app.run(&thief, default_method("sms")).await;
    assert_eq!(method, DefaultMethod::Sms);
    assert_eq!(domain::factors::default_method(&w.app.ctx.db, w.alice.id).await.unwrap(), Some(DefaultMethod::Sms));
    let bad = w.app.refused(&thief, default_method("fax")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.to_string().contains("\"method\""), "{bad}");
    let no_app = w.app.refused(&thief, default_method("code")).await;
    assert_eq!(no_app.status, 422, "no authenticator app to take a code from");

    // Signing out the other sessions ends Alice's first one, not this one.
    let ended = w.app.run(&thief, SignOutOtherSessions {}).await;
    assert_eq!(ended, 1);
    assert_eq!(w.app.refused(&w.cookie, MyPhones {}).await.status, 401);
    assert_eq!(http_status(&w.app.try_run(&thief, MyPhones {}).await), 200);
    assert_eq!(w.phones(&thief).await.in_force.map(|p| p.name), Some("Mine".to_owned()));
    for action in
        [AuditAction::FactorRenamed, AuditAction::FactorDefaultMethod, AuditAction::FactorOtherSessionsSignedOut]
    {
        let n = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq(action))
            .all(&w.app.ctx.db)
            .await
            .unwrap();
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
        // Each accepts an invitation and adds a phone of their own in the session the link
        // signed in, so they are stepped up: the refusal is about the id.
        let cookie = w.app.accept_invitation(who, "App").await.cookie;
        let number = if who.id == bob.id { "+14155550301" } else { "+14155550302" };
        let p = ok(w.begin(&cookie, number, "").await, "begin");
        let code = w.app.sms_code(number).await;
        let _ = ok(w.confirm(&cookie, &p.id.to_string(), &code).await, "confirm");
        let statuses = [
            http_status(&w.app.try_run(&cookie, RemovePhone { id: id.clone() }).await),
            http_status(&w.app.try_run(&cookie, ResendPhoneCode { id: id.clone() }).await),
            http_status(&w.confirm(&cookie, &id, "123456").await),
            http_status(&w.app.try_run(&cookie, rename(&id, "Taken")).await),
        ];
        assert_eq!(statuses, [404; 4], "remove, resend, confirm, rename as {}", who.email);
    }
    assert_eq!(w.in_force().await.as_deref(), Some(FIRST));
    assert_eq!(w.phones(&w.cookie).await.in_force.map(|p| p.name), Some("Work".to_owned()));
    // Only end users have phones.
    let admin = w.acme.admin(&w.app, "admin").await;
    let admin_cookie = w.app.sign_in(&admin).await;
    assert_eq!(w.app.refused(&admin_cookie, MyPhones {}).await.status, 403);
}
on_both_databases!(another_users_phone_is_not_found, super::another_users_phone_is_not_found);

async fn removing_the_phone_and_the_app_at_once_leaves_one(backend: Backend) {
    let w = world(backend).await;
    let (app_id, totp) = add_app(&w.app, &w.cookie).await;
    // Both removals at the same moment, in two stepped-up sessions: the user's row is held while
    // counting, so exactly one goes through.
    let other = w.app.sign_in(&w.alice).await;
    w.step_up_by_sms(&other).await;
    w.app.step_up(&w.cookie, &totp.generate((w.app.clock.now().timestamp() + 30) as u64)).await;
    let (a, b) = tokio::join!(
        w.app.try_run(&other, RemovePhone { id: w.phone.id.to_string() }),
        w.app.try_run(&w.cookie, RemoveAuthenticator { id: app_id }),
    );
    let mut statuses = [http_status(&a), http_status(&b)];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let apps = w.app.run(&other, MySignInMethods {}).await;
    assert_eq!(apps.authenticators.len() + usize::from(w.in_force().await.is_some()), 1, "one remains");
}
on_both_databases!(
    removing_the_phone_and_the_app_at_once_leaves_one,
    super::removing_the_phone_and_the_app_at_once_leaves_one
);
