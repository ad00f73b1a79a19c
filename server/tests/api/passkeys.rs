//! Passkeys, answered by a software authenticator (testkit's `SoftPasskey`: a P-256 key that
//! signs as a platform authenticator with user verification does): registered on the portal
//! with a step-up, renamed and removed like other factors; signing in without an email; a
//! step-up; and approving a push request with the number, the challenge bound to the request,
//! number and decision. Wrong, replayed and expired challenges, another person's or tenant's
//! credential and a signature counter that went back are refused.

use crate::common::*;
use app::functions::passkeys::{
    BeginPasskey, BeginPasskeyDecision, BeginPasskeySignIn, BeginPasskeyStepUp, FinishPasskey, FinishPasskeyDecision,
    FinishPasskeySignIn, FinishPasskeyStepUp, MyPasskeys, PasskeyChallenge, PasskeyRow, RemovePasskey, RenamePasskey,
    SignedIn,
};
use app::functions::portal::{MySignInMethods, RemoveAuthenticator};
use app::models::{AppError, PushDecision, PushStatus};
use chrono::Duration;
use domain::{
    entities::{audit_event, outbox},
    Clock,
};
use proto::audit::AuditAction;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use testkit::{approve::NewPushRequest, passkey::SoftPasskey};

/// Signs `who` in and gives them an authenticator app from an invitation: the session is then
/// stepped up for a few minutes, as after any first factor. Returns the cookie and the app's id.
pub(crate) async fn person_with_an_app(app: &TestApp, who: &Login) -> (String, String) {
    let cookie = app.accept_invitation(who, "Phone").await.cookie;
    let methods = app.run(&cookie, MySignInMethods {}).await;
    (cookie, methods.authenticators[0].id.to_string())
}

pub(crate) async fn add_passkey(app: &TestApp, cookie: &str, key: &mut SoftPasskey, name: &str) -> PasskeyRow {
    let c = app.run(cookie, BeginPasskey { name: name.into() }).await;
    let credential = key.register(&c.options);
    app.run(cookie, FinishPasskey { ceremony_id: c.ceremony_id.to_string(), credential }).await
}

async fn sign_in_with(app: &TestApp, key: &mut SoftPasskey) -> Result<String, Refused> {
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let credential = key.assert(&c.options);
    finish_sign_in(app, &c, credential).await
}

async fn finish_sign_in(app: &TestApp, c: &PasskeyChallenge, credential: String) -> Result<String, Refused> {
    let args = FinishPasskeySignIn { ceremony_id: c.ceremony_id.to_string(), credential, next: String::new() };
    let (answer, cookie): (SignedIn, _) = app.run_for_cookie(args).await?;
    assert_eq!(answer.next, "/portal");
    Ok(cookie.expect("a passkey sign-in sets the session cookie"))
}

async fn audited(app: &TestApp, action: AuditAction) -> Vec<audit_event::Model> {
    audit_event::Entity::find().filter(audit_event::Column::Action.eq(action)).all(&app.ctx.db).await.unwrap()
}

async fn mails_to(app: &TestApp, to: &str) -> Vec<outbox::Model> {
    outbox::Entity::find().filter(outbox::Column::Recipient.eq(to)).all(&app.ctx.db).await.unwrap()
}

fn refused_with(r: &Refused, status: u16, says: &str) {
    assert_eq!(r.status, status, "{r}");
    assert!(r.error.to_string().contains(says), "{r}");
}

async fn passkeys_are_registered_with_a_step_up_and_sign_in(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Keys").await;
    let alice = acme.end_user(&app, "alice").await;
    let (cookie, app_id) = person_with_an_app(&app, &alice).await;

    // A password alone (a new session, no step-up) adds nothing.
    let thief = app.sign_in(&alice).await;
    let r = app.refused(&thief, BeginPasskey { name: "Mine".into() }).await;
    assert_eq!(r.status, 422, "{r}");
    assert!(matches!(&r.error, AppError::Validation { field, .. } if field == "code"), "{r}");

    let mut key = SoftPasskey::for_app(&app);
    let row = add_passkey(&app, &cookie, &mut key, "Laptop").await;
    assert_eq!(row.name, "Laptop");
    let listed = app.run(&cookie, MyPasskeys {}).await;
    assert_eq!(listed.iter().map(|k| (k.id, k.name.as_str())).collect::<Vec<_>>(), [(row.id, "Laptop")]);
    assert_eq!(audited(&app, AuditAction::FactorPasskeyAdded).await.len(), 1);
    assert!(mails_to(&app, &alice.email)
        .await
        .iter()
        .any(|m| m.body_text.contains("The passkey \"Laptop\" was added")));

    // The same credential twice is one passkey.
    let c = app.run(&cookie, BeginPasskey { name: "Again".into() }).await;
    assert!(c
        .options
        .contains(&base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &key.credential_id)));
    let again = key.register(&c.options);
    let r = app.refused(&cookie, FinishPasskey { ceremony_id: c.ceremony_id.to_string(), credential: again }).await;
    assert_eq!(r.status, 422, "{r}");
    assert_eq!(app.run(&cookie, MyPasskeys {}).await.len(), 1);

    // An answer from another origin (a phishing site) registers nothing.
    let c = app.run(&cookie, BeginPasskey { name: "Phished".into() }).await;
    let mut elsewhere = SoftPasskey::new("https://evil.example");
    let credential = elsewhere.register(&c.options);
    let r = app.refused(&cookie, FinishPasskey { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert_eq!(r.status, 422, "{r}");

    // Sign in with it, no email: the portal is theirs.
    let session = sign_in_with(&app, &mut key).await.unwrap();
    assert_eq!(app.me(&session).await.as_deref(), Some(alice.email.as_str()));
    assert!(app.run(&session, MyPasskeys {}).await[0].last_used.is_some());

    // Renaming needs a step-up: the new session has none until the passkey gives one.
    let rename = || RenamePasskey { id: row.id.to_string(), name: "Work laptop".into() };
    let r = app.refused(&session, rename()).await;
    assert_eq!(r.status, 422, "{r}");
    let c = app.run(&session, BeginPasskeyStepUp {}).await;
    let credential = key.assert(&c.options);
    app.run(&session, FinishPasskeyStepUp { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert_eq!(app.run(&session, rename()).await, "Work laptop");
    assert_eq!(audited(&app, AuditAction::FactorRenamed).await.len(), 1);

    // One factor must remain: the app goes, then the passkey cannot.
    app.run(&session, RemoveAuthenticator { id: app_id }).await;
    let r = app.refused(&session, RemovePasskey { id: row.id.to_string() }).await;
    refused_with(&r, 409, "one must remain");
    assert!(app.run(&session, MySignInMethods {}).await.has_factor);
    assert!(audited(&app, AuditAction::FactorPasskeyRemoved).await.is_empty());
}
on_both_databases!(registered_with_a_step_up_and_sign_in, passkeys_are_registered_with_a_step_up_and_sign_in);

async fn wrong_replayed_expired_and_foreign_answers_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Keys").await;
    let globex = app.create_tenant("Globex Keys").await;
    let alice = acme.end_user(&app, "alice").await;
    let bob = acme.end_user(&app, "bob").await;
    let gina = globex.end_user(&app, "gina").await;
    let (alice_cookie, _) = person_with_an_app(&app, &alice).await;
    let (bob_cookie, _) = person_with_an_app(&app, &bob).await;
    let (gina_cookie, _) = person_with_an_app(&app, &gina).await;
    let mut alice_key = SoftPasskey::for_app(&app);
    add_passkey(&app, &alice_cookie, &mut alice_key, "Alice's key").await;
    let mut bob_key = SoftPasskey::for_app(&app);
    add_passkey(&app, &bob_cookie, &mut bob_key, "Bob's key").await;
    let mut gina_key = SoftPasskey::for_app(&app);
    add_passkey(&app, &gina_cookie, &mut gina_key, "Gina's key").await;

    // Replayed: an answer works once.
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let answer = alice_key.assert(&c.options);
    finish_sign_in(&app, &c, answer.clone()).await.unwrap();
    refused_with(&finish_sign_in(&app, &c, answer).await.unwrap_err(), 409, "already used");

    // Wrong challenge: an answer to one ceremony does not finish another, and spends it.
    let first = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let second = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let to_first = alice_key.assert(&first.options);
    assert_eq!(finish_sign_in(&app, &second, to_first.clone()).await.unwrap_err().status, 422);
    refused_with(
        &finish_sign_in(&app, &second, alice_key.assert(&second.options)).await.unwrap_err(),
        409,
        "already used",
    );
    finish_sign_in(&app, &first, to_first).await.unwrap();

    // Expired.
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    app.clock.advance(Duration::seconds(domain::factors::passkeys::CEREMONY_VALID_SECS + 1));
    refused_with(&finish_sign_in(&app, &c, alice_key.assert(&c.options)).await.unwrap_err(), 409, "expired");

    // Garbage, and a credential nobody registered.
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let r = finish_sign_in(&app, &c, "{\"not\":\"webauthn\"}".into()).await.unwrap_err();
    assert!(matches!(&r.error, AppError::Validation { field, .. } if field == "credential"), "{r}");
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let mut stranger = SoftPasskey::for_app(&app);
    stranger.user_handle = alice.id.as_bytes().to_vec();
    assert_eq!(finish_sign_in(&app, &c, stranger.assert(&c.options)).await.unwrap_err().status, 422);

    // A cloned key: its counter goes back (or stays), and it is refused.
    sign_in_with(&app, &mut alice_key).await.unwrap();
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let clone = alice_key.assert_with_counter(&c.options, alice_key.counter);
    assert_eq!(finish_sign_in(&app, &c, clone).await.unwrap_err().status, 422);
    sign_in_with(&app, &mut alice_key).await.unwrap();

    // A user handle that names someone else than the key's owner.
    let c = app.run(NO_SESSION, BeginPasskeySignIn {}).await;
    let mut lying = alice_key.clone();
    lying.user_handle = bob.id.as_bytes().to_vec();
    assert_eq!(finish_sign_in(&app, &c, lying.assert(&c.options)).await.unwrap_err().status, 422);

    // Another person's passkey (same tenant, and another tenant's) does not step Alice up.
    let fresh = app.sign_in(&alice).await;
    for other in [&mut bob_key, &mut gina_key] {
        let c = app.run(&fresh, BeginPasskeyStepUp {}).await;
        let credential = other.assert(&c.options);
        let r = app.refused(&fresh, FinishPasskeyStepUp { ceremony_id: c.ceremony_id.to_string(), credential }).await;
        assert_eq!(r.status, 422, "{r}");
    }
    // Nor does Alice's ceremony finish in Bob's session.
    let c = app.run(&fresh, BeginPasskeyStepUp {}).await;
    let credential = alice_key.assert(&c.options);
    let r = app.refused(&bob_cookie, FinishPasskeyStepUp { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    refused_with(&r, 409, "expired or was already used");

    // A locked person cannot sign in with a passkey.
    domain::entities::user::Entity::update_many()
        .col_expr(domain::entities::user::Column::LockedAt, sea_orm::sea_query::Expr::value(Some(app.clock.now())))
        .filter(domain::entities::user::Column::Id.eq(gina.id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    refused_with(&sign_in_with(&app, &mut gina_key).await.unwrap_err(), 409, "locked");
}
on_both_databases!(wrong_replayed_expired_and_foreign_answers, wrong_replayed_expired_and_foreign_answers_are_refused);

async fn a_push_is_approved_with_a_passkey_and_the_right_number(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let acme = app.create_tenant("Acme Keys").await;
    let globex = app.create_tenant("Globex Keys").await;
    let alice = acme.end_user(&app, "alice").await;
    let gina = globex.end_user(&app, "gina").await;
    let (cookie, _) = person_with_an_app(&app, &alice).await;
    let (gina_cookie, _) = person_with_an_app(&app, &gina).await;
    let mut key = SoftPasskey::for_app(&app);
    let row = add_passkey(&app, &cookie, &mut key, "Desk key").await;
    // A desktop browser: signed in with the passkey, no approval device.
    let desk = sign_in_with(&app, &mut key).await.unwrap();

    let request = app.push_request(&alice, NewPushRequest { number: 472, ..Default::default() }).await;
    let begin = |number: &str, decision: PushDecision| BeginPasskeyDecision {
        request_id: request.to_string(),
        number: number.into(),
        decision,
    };

    // The wrong number is refused and counted, though the passkey answered.
    let c = app.run(&desk, begin("471", PushDecision::Approve)).await;
    let credential = key.assert(&c.options);
    let r = app.refused(&desk, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert!(matches!(&r.error, AppError::Validation { field, .. } if field == "number"), "{r}");
    let stored = app.push_request_row(request).await;
    assert_eq!((stored.status, stored.wrong_numbers), (PushStatus::Pending, 1));

    // A session alone (an answer that does not verify) decides nothing, and is audited.
    let c = app.run(&desk, begin("472", PushDecision::Approve)).await;
    let mut forged = key.clone();
    forged.origin = "https://evil.example".into();
    let credential = forged.assert(&c.options);
    let r = app.refused(&desk, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert_eq!(r.status, 422, "{r}");
    assert_eq!(audited(&app, AuditAction::PushSignatureRefused).await.len(), 1);
    assert_eq!(app.push_request_row(request).await.status, PushStatus::Pending);

    // Another tenant's person cannot even start on it.
    let r = app.refused(&gina_cookie, begin("472", PushDecision::Approve)).await;
    assert_eq!(r.status, 404, "{r}");

    // The right number, with the passkey: approved, and the passkey is named.
    let c = app.run(&desk, begin("472", PushDecision::Approve)).await;
    let credential = key.assert(&c.options);
    let done = app
        .run(&desk, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential: credential.clone() })
        .await;
    assert_eq!(done.status, PushStatus::Approved);
    let stored = app.push_request_row(request).await;
    assert_eq!((stored.status, stored.device_id), (PushStatus::Approved, Some(row.id)));
    let approved = audited(&app, AuditAction::PushApproved).await;
    assert!(approved[0].detail.contains("passkey \"Desk key\""), "{}", approved[0].detail);
    // Replayed: nothing more.
    let r = app.refused(&desk, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert_eq!(r.status, 409, "{r}");
    let r = app.refused(&desk, begin("472", PushDecision::Approve)).await;
    assert_eq!(r.status, 409, "{r}");

    // Deny, bound the same way: the challenge for a denial denies.
    let second = app.push_request(&alice, NewPushRequest { number: 318, ..Default::default() }).await;
    let c = app
        .run(
            &desk,
            BeginPasskeyDecision {
                request_id: second.to_string(),
                number: String::new(),
                decision: PushDecision::Deny,
            },
        )
        .await;
    let credential = key.assert(&c.options);
    let done = app.run(&desk, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    assert_eq!(done.status, PushStatus::Denied);
}
on_both_databases!(push_approved_with_a_passkey, a_push_is_approved_with_a_passkey_and_the_right_number);

/// At the SSH prompt: a person with a passkey and no approval device is offered Push, the push
/// line gives the short portal address, and approving there with the passkey and the number lets
/// the login in.
async fn the_prompt_gives_the_address_and_a_passkey_approval_lets_the_login_in(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Prompt", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let alice = app.account_owner(&p, "alice", "root").await;
    let (cookie, _) = person_with_an_app(&app, &alice).await;
    let mut key = SoftPasskey::for_app(&app);
    add_passkey(&app, &cookie, &mut key, "Desk key").await;

    let login = app.start_ok(&p, "root", "198.51.100.7").await;
    let sent = app.answer_ok(&p, login.login_id, "1").await;
    let request = app.push_request_of(login.login_id).await;
    assert_eq!(prompt_of(&sent.step).0, format!("Push sent: enter {} in the app, or type a code: ", request.number));
    let line = format!("Or approve with a passkey at {}/a", app.base.replace("127.0.0.1", "localhost"));
    assert!(sent.step.info.contains(&line), "{:?}", sent.step.info);
    for l in &sent.step.info {
        assert!(l.len() <= 80 && l.bytes().all(|b| (0x20..0x7f).contains(&b)), "a short plain line: {l:?}");
    }
    // The address opens the Approvals page.
    let res = app.http.get(format!("{}/a", app.base)).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/portal/approvals");

    let number = u16::try_from(request.number).unwrap().to_string();
    let args = BeginPasskeyDecision { request_id: request.id.to_string(), number, decision: PushDecision::Approve };
    let c = app.run(&cookie, args).await;
    let credential = key.assert(&c.options);
    app.run(&cookie, FinishPasskeyDecision { ceremony_id: c.ceremony_id.to_string(), credential }).await;
    let done = app.answer_ok(&p, login.login_id, "").await;
    assert_eq!(done.step.action, proto::login::Action::Allow);
    assert_eq!(app.login_row(login.login_id).await.reason, "push approved");
}
on_both_databases!(
    prompt_address_and_passkey_approval,
    the_prompt_gives_the_address_and_a_passkey_approval_lets_the_login_in
);
