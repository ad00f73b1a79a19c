//! Changing an end user's factors on the portal needs more than their password: a current code
//! from a factor they have (a step-up, bound to the session and good for 5 minutes, with wrong
//! codes capped). A first factor comes only from the link of an invitation their tenant admin
//! sent (24 hours, audited), never from the portal. Every change is mailed to the user.

use crate::common::*;
use app::functions::auth::SignOut;
use app::functions::portal::{
    BeginAuthenticator, ConfirmAuthenticator, GenerateRecoveryCodes, MySignInMethods, RemoveAuthenticator, StepUp,
};
use app::functions::users::{InviteAgain, ListUsers};
use app::models::{
    users::{InvitationSent, UsersPage, UsersQuery},
    utc, AppError, NewAuthenticator, SignInMethods,
};
use chrono::{DateTime, Duration, Utc};
use domain::audit::AuditAction;
use domain::Clock;

/// The code an authenticator app with `secret` (base32) shows at `t` (RFC 6238, SHA-1, 6 digits).
fn code_at(secret: &str, t: DateTime<Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    totp.generate(t.timestamp() as u64)
}

struct World {
    app: TestApp,
    acme: TenantFixture,
    admin: Login,
    admin_cookie: String,
    alice: Login,
    /// Alice's first session, in which she added her authenticator.
    alice_a: String,
    /// The base32 secret of Alice's authenticator "Pixel".
    secret: String,
    _sink: Option<SmtpSink>,
}

impl World {
    /// Alice's authenticator's code `steps` time steps from now.
    fn code(&self, steps: i64) -> String {
        code_at(&self.secret, self.app.clock.now() + Duration::seconds(30 * steps))
    }

    async fn begin(&self, cookie: &str) -> Result<NewAuthenticator, Refused> {
        self.app.try_run(cookie, BeginAuthenticator { name: "Attacker's phone".into() }).await
    }

    async fn regenerate(&self, cookie: &str) -> Result<Vec<String>, Refused> {
        self.app.try_run(cookie, GenerateRecoveryCodes {}).await
    }

    async fn step_up(&self, cookie: &str, code: &str) -> Result<app::models::SteppedUp, Refused> {
        self.app.try_run(cookie, StepUp { code: code.into() }).await
    }

    async fn methods(&self, cookie: &str) -> SignInMethods {
        self.app.run(cookie, MySignInMethods {}).await
    }
}

/// An invitation sent again to the end user `id`, by e-mail.
fn invite_again(id: &str) -> InviteAgain {
    InviteAgain { id: id.into(), send_by: String::new(), phone: String::new() }
}

/// The HTTP status of a call: 200 when it succeeded.
fn status<T>(res: &Result<T, Refused>) -> u16 {
    res.as_ref().map_or_else(|e| e.status, |_| 200)
}

/// Whether a refusal names the field `code` with a message containing `text`.
fn names_code(refused: &Refused, text: &str) -> bool {
    matches!(&refused.error, AppError::Validation { field, message } if field == "code" && message.contains(text))
}

/// A refusal for want of a step-up: 422, naming the field `code` and what to type.
async fn needs_code<T: std::fmt::Debug>(res: Result<T, Refused>, what: &str) {
    let refused = res.expect_err(what);
    assert_eq!(refused.status, 422, "{what}");
    assert!(names_code(&refused, "Enter a current code"), "{what}: {refused}");
}

/// Adds an authenticator in the session `cookie`: start, then confirm with the app's code.
async fn add_authenticator(app: &TestApp, cookie: &str, name: &str) -> String {
    let e = app.run(cookie, BeginAuthenticator { name: name.into() }).await;
    let code = code_at(&e.secret, app.clock.now());
    app.run(cookie, ConfirmAuthenticator { id: e.id.to_string(), code }).await;
    e.secret
}

/// Acme with an admin and Alice, who added an authenticator "Pixel" from her invitation's link.
/// The clock has moved on 5 minutes, so nothing of that enrolment still counts.
async fn world_with(backend: Backend, sink: Option<SmtpSink>) -> World {
    let opts = Options { smtp_port: sink.as_ref().map(|s| s.port), ..Options::empty() };
    let app = spawn_app_with(backend, opts).await;
    let acme = app.create_tenant("Acme Factors").await;
    let admin = acme.admin(&app, "admin").await;
    let admin_cookie = app.sign_in(&admin).await;
    let alice = acme.end_user(&app, "alice").await;
    app.run(&admin_cookie, invite_again(&alice.id.to_string())).await;
    // The link's last step signs her in.
    let accepted = app.follow_invitation(&alice, "Pixel").await;
    let (alice_a, secret) = (accepted.cookie, accepted.secret);
    app.clock.advance(Duration::minutes(5));
    World { app, acme, admin, admin_cookie, alice, alice_a, secret, _sink: sink }
}

async fn world(backend: Backend) -> World {
    world_with(backend, None).await
}

async fn a_password_alone_cannot_change_the_factors_of_a_user_who_has_one(backend: Backend) {
    let w = world(backend).await;
    // Someone who knows Alice's password signs in: no new authenticator, no new recovery codes,
    // no removing hers.
    let thief = w.app.sign_in(&w.alice).await;
    let methods = w.methods(&thief).await;
    assert!(methods.has_factor && methods.verified_until.is_none(), "{methods:?}");
    let page = w.app.get_page("/portal/methods", Some(&thief)).await.text().await.unwrap();
    assert!(page.contains("Current code") && page.contains("name=\"code\""), "the page asks for a code: {page}");
    needs_code(w.begin(&thief).await, "adding an authenticator").await;
    needs_code(w.regenerate(&thief).await, "new recovery codes").await;
    let pixel = &methods.authenticators[0].id.to_string();
    needs_code(w.app.try_run(&thief, RemoveAuthenticator { id: pixel.clone() }).await, "removing").await;
    needs_code(w.begin(&w.alice_a).await, "the session that enrolled, once its minutes are over").await;
    assert_eq!(w.methods(&thief).await.recovery_left, 0, "nothing was made");

    // A wrong or malformed code is refused, naming the field.
    let wrong = w.step_up(&thief, "000000").await.unwrap_err();
    assert_eq!(wrong.status, 422);
    assert!(names_code(&wrong, ""), "{wrong}");
    let empty = w.step_up(&thief, " ").await.unwrap_err();
    assert_eq!(empty.status, 422);
    assert!(names_code(&empty, "Enter a current code from your authenticator app or a recovery code"), "{empty}");

    // Alice, in her own session, with her app's code: for 5 minutes she may change her factors.
    let code = w.code(0);
    assert_eq!(status(&w.step_up(&w.alice_a, &code).await), 200);
    assert!(w.methods(&w.alice_a).await.verified_until.is_some());
    let codes = w.app.run(&w.alice_a, GenerateRecoveryCodes {}).await;
    assert_eq!(codes.len(), 10);
    add_authenticator(&w.app, &w.alice_a, "Tablet").await;

    // The step-up is the session's, not the user's: the other session still cannot.
    needs_code(w.regenerate(&thief).await, "another session of the same user").await;
    assert!(w.methods(&thief).await.verified_until.is_none());
    // And the code it used is spent: a replay steps nobody up.
    assert_eq!(status(&w.step_up(&thief, &code).await), 422, "a used time step");

    // Five minutes later the step-up is over.
    w.app.clock.advance(Duration::minutes(4) + Duration::seconds(59));
    assert_eq!(status(&w.regenerate(&w.alice_a).await), 200, "still fresh");
    w.app.clock.advance(Duration::seconds(1));
    needs_code(w.regenerate(&w.alice_a).await, "after 5 minutes").await;
    assert!(w.methods(&w.alice_a).await.verified_until.is_none());

    // A recovery code steps up too, and is used up by it.
    let codes: Vec<String> = {
        assert_eq!(status(&w.step_up(&thief, &w.code(0)).await), 200);
        w.app.run(&thief, GenerateRecoveryCodes {}).await
    };
    let other = w.app.sign_in(&w.alice).await;
    assert_eq!(status(&w.step_up(&other, &codes[0]).await), 200);
    assert_eq!(w.methods(&other).await.recovery_left, 9);
    let again = w.app.sign_in(&w.alice).await;
    assert_eq!(status(&w.step_up(&again, &codes[0]).await), 422, "a recovery code works once");

    // A new sign-in over a stepped-up session (the same browser) starts without the step-up.
    let fresh = w.app.sign_in(&w.alice).await;
    assert_eq!(status(&w.step_up(&fresh, &w.code(1)).await), 200);
    assert_eq!(status(&w.regenerate(&fresh).await), 200);
    w.app.clock.advance(Duration::seconds(1));
    let renewed = session_cookie(&w.app.sign_in_raw(&w.alice, Some(&fresh)).await).unwrap();
    needs_code(w.regenerate(&renewed).await, "a new sign-in over a stepped-up session").await;

    // Signing out ends the session's step-up with it.
    w.app.run(&other, SignOut {}).await;
    assert_eq!(status(&w.regenerate(&other).await), 401);
}
on_both_databases!(
    a_password_alone_cannot_change_the_factors_of_a_user_who_has_one,
    super::a_password_alone_cannot_change_the_factors_of_a_user_who_has_one
);

async fn wrong_step_up_codes_are_counted_and_capped(backend: Backend) {
    let w = world(backend).await;
    let a = w.app.sign_in(&w.alice).await;
    let b = w.app.sign_in(&w.alice).await;
    // Five wrong codes over two sessions: each refused, and told how many tries are left.
    for (i, cookie) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let refused = w.step_up(cookie, "123456").await.unwrap_err();
        assert_eq!(refused.status, 422, "wrong code {i}");
        assert!(refused.error.to_string().contains(&format!("{} more tr", 4 - i)), "{refused}");
    }
    // Then even the right code is refused, in any session, for 15 minutes.
    let capped = w.step_up(&b, &w.code(0)).await.unwrap_err();
    assert_eq!(capped.status, 429);
    assert!(capped.error.to_string().contains("15 minutes"), "{capped}");
    let c = w.app.sign_in(&w.alice).await;
    assert_eq!(status(&w.step_up(&c, &w.code(0)).await), 429, "a new session does not reset the count");
    needs_code(w.begin(&b).await, "nothing is allowed meanwhile").await;

    w.app.clock.advance(Duration::minutes(15));
    assert_eq!(status(&w.step_up(&b, &w.code(0)).await), 200);
    assert_eq!(status(&w.begin(&b).await), 200);

    // Sixty wrong codes at once cannot pass the cap: the user's row is held while counting
    // (without the lock, PostgreSQL recorded 9 to 12 of them).
    w.app.clock.advance(Duration::minutes(15));
    let tries = (0..60).map(|i| {
        let cookie = if i % 2 == 0 { a.clone() } else { b.clone() };
        let w = &w;
        async move { status(&w.step_up(&cookie, &format!("{:06}", 100_000 + i)).await) }
    });
    let statuses = futures::future::join_all(tries).await;
    let wrong = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!(wrong, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 55, "{statuses:?}");
}
on_both_databases!(wrong_step_up_codes_are_counted_and_capped, super::wrong_step_up_codes_are_counted_and_capped);

/// The Users page's row of `email`.
async fn person(w: &World, cookie: &str, email: &str) -> app::models::users::PersonRow {
    let page: UsersPage = w.app.run(cookie, ListUsers { query: UsersQuery::default() }).await;
    page.items.into_iter().find(|p| p.email == email).unwrap_or_else(|| panic!("{email} is not listed"))
}

async fn a_first_factor_needs_an_invitation_for_24_hours(backend: Backend) {
    let w = world(backend).await;
    let bob = w.acme.end_user(&w.app, "bob").await;
    let bob_a = w.app.sign_in(&bob).await;
    let closed = w.methods(&bob_a).await;
    assert!(!closed.has_factor && closed.enrolment_open_until.is_none(), "{closed:?}");
    // With no invitation, his password alone adds nothing.
    for refused in [w.begin(&bob_a).await.unwrap_err(), w.regenerate(&bob_a).await.unwrap_err()] {
        assert_eq!(refused.status, 409);
        assert!(refused.error.to_string().contains("Ask your administrator to send you one"), "{refused}");
    }
    assert_eq!(status(&w.step_up(&bob_a, "123456").await), 409, "no factor to step up with");
    let row = person(&w, &w.admin_cookie, &bob.email).await;
    assert!(row.factors.is_empty() && row.invitation.is_none(), "{row:?}");

    // His admin invites him again: the console shows until when.
    let sent: InvitationSent = w.app.run(&w.admin_cookie, invite_again(&bob.id.to_string())).await;
    let bob_a = w.app.sign_in(&bob).await;
    assert_eq!(sent.email, bob.email);
    let row = person(&w, &w.admin_cookie, &bob.email).await;
    assert_eq!(row.invitation.as_ref().map(|i| utc(i.expires)), Some(utc(sent.expires)));
    let alice = person(&w, &w.admin_cookie, &w.alice.email).await;
    assert_eq!(alice.factors.len(), 1, "{alice:?}");
    assert_eq!(alice.factors[0].name, "Pixel");
    assert_eq!(w.methods(&bob_a).await.enrolment_open_until.map(utc), Some(utc(sent.expires)));
    let page = w.app.get_page("/iam/users", Some(&w.admin_cookie)).await.text().await.unwrap();
    assert!(page.contains(&bob.email) && page.contains(&utc(sent.expires)), "{page}");

    // Even while it is open, his portal session adds nothing: only the link does.
    for refused in [w.begin(&bob_a).await.unwrap_err(), w.regenerate(&bob_a).await.unwrap_err()] {
        assert_eq!(refused.status, 409);
        assert!(refused.error.to_string().contains("only from the link in the invitation"), "{refused}");
    }

    // 24 hours later the link is closed (and the day's sessions are over: sign in anew).
    let token = w.app.invitation_token(&bob.email).await;
    let link = |token: &str| app::functions::invitations::PreviewInvitation { token: token.into() };
    w.app.clock.advance(Duration::hours(24) - Duration::seconds(1));
    let bob_a = w.app.sign_in(&bob).await;
    assert!(w.methods(&bob_a).await.enrolment_open_until.is_some(), "open for 24 hours");
    assert_eq!(status(&w.app.try_run(NO_SESSION, link(&token)).await), 200);
    w.app.clock.advance(Duration::seconds(1));
    let expired = w.app.refused(NO_SESSION, link(&token)).await;
    assert_eq!(expired.status, 409, "the invitation expired after 24 hours");
    assert!(expired.to_string().contains("has expired"), "{expired}");
    assert_eq!(w.methods(&bob_a).await.enrolment_open_until, None);

    // Invited again, Bob adds an app from the link, which uses the invitation up, and makes
    // recovery codes in the session the link signed in.
    let admin_cookie = w.app.sign_in(&w.admin).await;
    w.app.run(&admin_cookie, invite_again(&bob.id.to_string())).await;
    w.app.clock.advance(Duration::hours(23));
    let bob_a = w.app.follow_invitation(&bob, "Bob's app").await.cookie;
    let admin_cookie = w.app.sign_in(&w.admin).await;
    let row = person(&w, &admin_cookie, &bob.email).await;
    assert_eq!(row.invitation.map(|i| i.status), Some(app::models::users::InvitationStatus::Accepted));
    // The session the link signed in just proved the app; another session needs a code.
    let codes = w.app.run(&bob_a, GenerateRecoveryCodes {}).await;
    assert_eq!(status(&w.begin(&bob_a).await), 200);
    let bob_b = w.app.sign_in(&bob).await;
    needs_code(w.begin(&bob_b).await, "bob's other session").await;
    assert_eq!(status(&w.step_up(&bob_b, &codes[4]).await), 200);
    assert_eq!(status(&w.begin(&bob_b).await), 200);
    // A step-up with his last recovery code still lets him make new ones.
    let left: Vec<&String> = codes.iter().enumerate().filter(|(i, _)| *i != 4).map(|(_, c)| c).collect();
    for code in &left[..8] {
        assert_eq!(status(&w.step_up(&bob_b, code).await), 200);
    }
    let bob_c = w.app.sign_in(&bob).await;
    assert_eq!(status(&w.step_up(&bob_c, left[8]).await), 200);
    assert_eq!(w.methods(&bob_c).await.recovery_left, 0);
    assert_eq!(status(&w.regenerate(&bob_c).await), 200);
    assert_eq!(w.methods(&bob_c).await.recovery_left, 10);

    // Sent by the admin, audited.
    let caller = domain::Caller {
        user_id: w.admin.id,
        role: domain::Role::TenantAdmin,
        tenant_id: Some(w.acme.id),
        email: w.admin.email.clone(),
    };
    let events = domain::audit::list(&w.app.ctx, &caller, 100).await.unwrap();
    let invited: Vec<_> = events.iter().filter(|e| e.action == AuditAction::UserInvite).collect();
    assert_eq!(invited.len(), 3, "Alice's and Bob's two");
    assert!(invited.iter().all(|e| e.actor == w.admin.email), "{invited:?}");
    assert!(invited.iter().any(|e| e.target == bob.email));
}
on_both_databases!(
    a_first_factor_needs_an_invitation_for_24_hours,
    super::a_first_factor_needs_an_invitation_for_24_hours
);

async fn only_the_users_own_tenant_admin_invites_them(backend: Backend) {
    let w = world(backend).await;
    let carol = w.acme.end_user(&w.app, "carol").await;
    let id = carol.id.to_string();
    let invite = |cookie: String| {
        let (app, id) = (&w.app, id.clone());
        async move { status(&app.try_run(&cookie, invite_again(&id)).await) }
    };
    let globex = w.app.create_tenant("Globex Factors").await;
    let globex_admin = w.app.sign_in(&globex.admin(&w.app, "admin").await).await;
    assert_eq!(invite(globex_admin.clone()).await, 404, "another tenant's admin");
    let theirs = w.app.run(&globex_admin, ListUsers { query: UsersQuery::default() }).await;
    assert!(theirs.items.is_empty(), "{theirs:?}");
    let operator = w.app.sign_in(&w.app.create_operator("ops").await).await;
    assert_eq!(invite(operator).await, 403);
    assert_eq!(invite(w.alice_a.clone()).await, 403, "an end user");
    let carol_cookie = w.app.sign_in(&carol).await;
    assert_eq!(invite(carol_cookie.clone()).await, 403, "not even for herself");
    assert_eq!(w.app.refused(&carol_cookie, ListUsers { query: UsersQuery::default() }).await.status, 403);
    let res = w.app.try_run(&w.admin_cookie, invite_again(&w.admin.id.to_string())).await;
    assert_eq!(status(&res), 404, "an admin is not an end user");
    assert_eq!(status(&w.app.try_run(&w.admin_cookie, invite_again("nope")).await), 404);
    // None of that invited anyone.
    assert!(person(&w, &w.admin_cookie, &carol.email).await.invitation.is_none());
    assert_eq!(invite(w.admin_cookie.clone()).await, 200);
    // Her own admin's invitation does: its link adds her first factor.
    let carol_cookie = w.app.follow_invitation(&carol, "Pixel").await.cookie;
    assert!(w.methods(&carol_cookie).await.has_factor);
}
on_both_databases!(only_the_users_own_tenant_admin_invites_them, super::only_the_users_own_tenant_admin_invites_them);

async fn every_change_to_a_users_factors_is_mailed_to_them(backend: Backend) {
    let sink = SmtpSink::start().await;
    let w = world_with(backend, Some(sink)).await;
    let sink = w._sink.as_ref().unwrap();
    // The invitation, then her password set from its link (she was active: she hears of it) and
    // the authenticator added (sent in any order: one clock tick).
    let mails = sink.wait_for(&w.alice.email, 3).await;
    let find = |mails: &[Mail], what: &str| {
        mails.iter().find(|m| m.subject.contains(what)).cloned().unwrap_or_else(|| {
            panic!("no mail about {what:?}: {:?}", mails.iter().map(|m| &m.subject).collect::<Vec<_>>())
        })
    };
    let invited = find(&mails, "You are invited to HostGuard by Acme Factors");
    assert!(invited.text.contains("/invite?token="), "{}", invited.text);
    find(&mails, "the authenticator app \"Pixel\" was added");
    find(&mails, "your password was set from an invitation link");

    assert_eq!(status(&w.step_up(&w.alice_a, &w.code(0)).await), 200);
    assert_eq!(status(&w.regenerate(&w.alice_a).await), 200);
    add_authenticator(&w.app, &w.alice_a, "Tablet").await;
    let tablet = w.methods(&w.alice_a).await.authenticators.into_iter().find(|a| a.name == "Tablet").unwrap();
    w.app.run(&w.alice_a, RemoveAuthenticator { id: tablet.id.to_string() }).await;

    let mails = sink.wait_for(&w.alice.email, 6).await;
    find(&mails, "10 new recovery codes were made");
    find(&mails, "\"Tablet\" was added");
    let gone = find(&mails, "\"Tablet\" was removed");
    assert!(gone.text.contains("By: you, signed in to the portal from 127.0.0.1"), "{}", gone.text);
    for m in mails.iter().filter(|m| !m.subject.starts_with("You are invited")) {
        assert!(m.subject.starts_with("Your HostGuard sign-in methods changed: "), "{}", m.subject);
        assert!(m.text.contains("If this wasn't you, contact your administrator"), "{}", m.text);
        assert!(m.text.contains("/portal/methods"), "{}", m.text);
    }
    // A step-up changes nothing and sends nothing; refusals neither.
    assert_eq!(status(&w.step_up(&w.alice_a, "000000").await), 422);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages_to(&w.alice.email).len(), 6);
}
on_both_databases!(
    every_change_to_a_users_factors_is_mailed_to_them,
    super::every_change_to_a_users_factors_is_mailed_to_them
);
