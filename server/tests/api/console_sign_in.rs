//! The console's own sign-in: every sign-in, right or wrong, is in the audit trail with its
//! source address and never the password; people change their own password (the current one
//! needed, the others sessions end, a mail says so); a forgotten one is reset through a link
//! read from the real SMTP sink, which works once, for an hour, is kept only as a hash, and is
//! asked for with the same answer whether or not the address is an account's. Tenant admins
//! and operators add a console authenticator; then sign-in asks for its code after the
//! password, in a half-signed-in session that grants nothing else, with wrong codes capped.

use crate::common::*;
use app::functions::auth::{
    BeginSignInEnrolment, ChangePassword, ConfirmSignInEnrolment, ConsolePolicy, ForgotPassword, ResetPassword,
    SaveConsolePolicy, SignInCode,
};
use app::functions::console_factor::{
    BeginConsoleAuthenticator, ConfirmConsoleAuthenticator, MyConsoleFactor, RemoveConsoleAuthenticator,
};
use app::models::AppError;
use chrono::Duration;
use domain::{
    audit::{AuditAction, Event},
    entities::{outbox, password_reset},
    Clock,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

struct World {
    app: TestApp,
    sink: SmtpSink,
    tenant: TenantFixture,
    admin: Login,
    operator: Login,
}

async fn world(backend: Backend) -> World {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Options::empty() }).await;
    let tenant = app.create_tenant("Acme Sign-in").await;
    let admin = tenant.admin(&app, "ada").await;
    let operator = app.create_operator("olga").await;
    World { app, sink, tenant, admin, operator }
}

impl World {
    /// The trail as `who` may read it, newest first.
    async fn audit_as(&self, who: &Login) -> Vec<Event> {
        let caller = domain::accounts::caller(&self.app.ctx, who.id).await.unwrap();
        domain::audit::list(&self.app.ctx, &caller, 200).await.unwrap()
    }

    async fn events(&self, who: &Login, action: AuditAction) -> Vec<Event> {
        self.audit_as(who).await.into_iter().filter(|e| e.action == action).collect()
    }

    /// The token of the `n`th reset mail to `to` (from 1), waiting for it.
    async fn reset_token(&self, to: &str, n: usize) -> String {
        let resets =
            || -> Vec<Mail> { self.sink.messages_to(to).into_iter().filter(|m| m.subject.contains("Reset")).collect() };
        eventually(&format!("reset mail {n} to {to}"), || async { resets().len() >= n }).await;
        let link = resets().get(n - 1).and_then(|m| m.link("/reset-password?token=")).expect("a reset link");
        link.split_once("token=").unwrap().1.to_owned()
    }

    async fn forgot(&self, email: &str) -> Result<(), Refused> {
        self.app.try_run(NO_SESSION, ForgotPassword { email: email.into() }).await
    }

    async fn reset(&self, token: &str, password: &str) -> Result<(), Refused> {
        self.app.try_run(NO_SESSION, ResetPassword { token: token.into(), password: password.into() }).await
    }
}

fn field_of(r: &Refused) -> &str {
    match &r.error {
        AppError::Validation { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

async fn sign_ins_are_audited_with_their_source_and_never_the_password(backend: Backend) {
    let w = world(backend).await;
    let res = w.app.sign_in_raw(("ada@acme-sign-in.test", "a wrong password!"), None).await;
    assert_eq!(res.status(), 401);
    let res = w.app.sign_in_raw(("nobody@acme-sign-in.test", "another wrong one"), None).await;
    assert_eq!(res.status(), 401);
    w.app.sign_in(&w.admin).await;

    // The tenant's admin sees their own sign-in and the failure on their name, not the unknown name's.
    let failed = w.events(&w.admin, AuditAction::ConsoleSignInFailed).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0].actor.as_str(), failed[0].target.as_str()),
        ("ada@acme-sign-in.test", "ada@acme-sign-in.test")
    );
    assert_eq!((failed[0].source_ip.as_str(), failed[0].detail.as_str()), ("127.0.0.1", "wrong password"));
    assert_eq!(failed[0].tenant_id, Some(w.tenant.id));
    let ok = w.events(&w.admin, AuditAction::ConsoleSignIn).await;
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!((ok[0].actor.as_str(), ok[0].source_ip.as_str()), (w.admin.email.as_str(), "127.0.0.1"));
    assert_eq!(ok[0].detail, "signed in with a password and an authenticator code");

    // Operators see every tenant's, and the names no account has.
    w.app.sign_in(&w.operator).await;
    let all = w.audit_as(&w.operator).await;
    let unknown: Vec<_> = all.iter().filter(|e| e.target == "nobody@acme-sign-in.test").collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!((unknown[0].action, unknown[0].tenant_id), (AuditAction::ConsoleSignInFailed, None));
    assert_eq!(all.iter().filter(|e| e.action == AuditAction::ConsoleSignIn).count(), 2);
    for e in &all {
        for secret in
            ["a wrong password!", "another wrong one", w.admin.password.as_str(), w.operator.password.as_str()]
        {
            assert!(!format!("{e:?}").contains(secret), "the trail holds a password: {e:?}");
        }
    }
    // The fifth wrong password locks the name, and says so in the trail.
    for _ in 0..5 {
        w.app.sign_in_raw(("ada@acme-sign-in.test", "still wrong"), None).await;
    }
    let failed = w.events(&w.admin, AuditAction::ConsoleSignInFailed).await;
    assert_eq!(failed.len(), 6);
    // (The test clock stands still: the events share one time, so their order is not known.)
    assert_eq!(failed.iter().filter(|e| e.detail.contains("refused for 15 minutes")).count(), 1, "{failed:?}");
}
on_both_databases!(
    sign_ins_are_audited_with_their_source_and_never_the_password,
    super::sign_ins_are_audited_with_their_source_and_never_the_password
);

async fn people_change_their_own_password(backend: Backend) {
    let w = world(backend).await;
    let here = w.app.sign_in(&w.admin).await;
    let elsewhere = w.app.sign_in(&w.admin).await;
    let change =
        |current: &str, new: &str| ChangePassword { current_password: current.into(), new_password: new.into() };

    assert_eq!(w.app.refused(NO_SESSION, change(&w.admin.password, "a new long password")).await.status, 401);
    let r = w.app.refused(&here, change("not my password", "a new long password")).await;
    assert_eq!((r.status, field_of(&r)), (422, "current_password"));
    let r = w.app.refused(&here, change(&w.admin.password, "short")).await;
    assert_eq!((r.status, field_of(&r)), (422, "new_password"));
    let r = w.app.refused(&here, change(&w.admin.password, &w.admin.password)).await;
    assert_eq!((r.status, field_of(&r)), (422, "new_password"));
    // Nothing changed so far.
    assert_eq!(w.app.me(&elsewhere).await.as_deref(), Some(w.admin.email.as_str()));

    let ended = w.app.run(&here, change(&w.admin.password, "a new long password")).await;
    assert_eq!(ended, 1);
    assert_eq!(w.app.me(&here).await.as_deref(), Some(w.admin.email.as_str()), "this session stays");
    assert_eq!(w.app.me(&elsewhere).await, None, "the other session ended");
    assert_eq!(w.app.sign_in_raw((&w.admin.email, &w.admin.password), None).await.status(), 401);
    w.app.sign_in((&w.admin.email, "a new long password")).await;

    let mail = w.sink.wait_for(&w.admin.email, 1).await;
    assert_eq!(mail[0].subject, "Your HostGuard password was changed");
    assert!(mail[0].text.contains("By: you, signed in from 127.0.0.1"), "{}", mail[0].text);
    assert!(!mail[0].text.contains("a new long password"));
    let changed = w.events(&w.admin, AuditAction::ConsolePasswordChanged).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].detail, "1 other session signed out");
}
on_both_databases!(people_change_their_own_password, super::people_change_their_own_password);

async fn a_forgotten_password_is_reset_through_a_single_use_mailed_link(backend: Backend) {
    let w = world(backend).await;
    let before = w.app.sign_in(&w.admin).await;
    // The same answer for an account's address and for any other.
    assert_eq!(w.forgot(&w.admin.email.to_uppercase()).await, Ok(()));
    assert_eq!(w.forgot("nobody@acme-sign-in.test").await, Ok(()));
    let r = w.forgot("not an address").await.unwrap_err();
    assert_eq!((r.status, field_of(&r)), (422, "email"));

    let token = w.reset_token(&w.admin.email, 1).await;
    let mail = &w.sink.messages_to(&w.admin.email)[0];
    assert!(mail.text.contains("from 127.0.0.1"), "{}", mail.text);
    // Only an account's address gets mail.
    assert!(w.sink.messages_to("nobody@acme-sign-in.test").is_empty());
    // At rest: the token's hash, never the token; the outbox row keeps no copy either.
    let rows = password_reset::Entity::find().all(&w.app.ctx.db).await.unwrap();
    assert_eq!(rows.len(), 2, "each request counts, an account's or not");
    assert!(rows.iter().all(|r| r.token_hash.as_deref() != Some(token.as_str())));
    assert!(rows.iter().any(|r| r.token_hash.as_deref() == Some(domain::tokens::hash_token(&token).as_str())));
    let queued =
        outbox::Entity::find().filter(outbox::Column::Recipient.eq(&w.admin.email)).all(&w.app.ctx.db).await.unwrap();
    assert!(queued.iter().all(|m| !m.body_text.contains(&token)), "the outbox keeps the link masked");

    // The password rule holds, and a refused try leaves the link usable.
    let r = w.reset(&token, "short").await.unwrap_err();
    assert_eq!((r.status, field_of(&r)), (422, "password"));
    assert_eq!(w.reset(&token, "a brand new password").await, Ok(()));
    assert_eq!(w.app.me(&before).await, None, "every session ended");
    w.app.sign_in((&w.admin.email, "a brand new password")).await;
    // Once only.
    let again = w.reset(&token, "yet another password").await.unwrap_err();
    assert_eq!(again.status, 409);
    assert_eq!(w.reset("made-up-token", "yet another password").await.unwrap_err().error, again.error);
    let mail = w.sink.wait_for(&w.admin.email, 2).await;
    assert!(mail.iter().any(|m| m.subject == "Your HostGuard password was changed"));
    assert_eq!(w.events(&w.admin, AuditAction::ConsolePasswordResetRequested).await.len(), 1);
    let reset = w.events(&w.admin, AuditAction::ConsolePasswordReset).await;
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].detail, "password set with a reset link; 1 session signed out");

    // A link works for an hour; a newer one voids the older.
    w.forgot(&w.admin.email).await.unwrap();
    let old = w.reset_token(&w.admin.email, 2).await;
    w.forgot(&w.admin.email).await.unwrap();
    let expiring = w.reset_token(&w.admin.email, 3).await;
    assert_eq!(w.reset(&old, "password from old link").await.unwrap_err().error, again.error);
    w.app.clock.advance(Duration::minutes(61));
    assert_eq!(w.reset(&expiring, "password from late link").await.unwrap_err().error, again.error);
    w.app.sign_in((&w.admin.email, "a brand new password")).await;
}
on_both_databases!(
    a_forgotten_password_is_reset_through_a_single_use_mailed_link,
    super::a_forgotten_password_is_reset_through_a_single_use_mailed_link
);

async fn reset_requests_are_rate_limited_alike_for_every_address(backend: Backend) {
    let w = world(backend).await;
    for address in [w.admin.email.as_str(), "nobody@acme-sign-in.test"] {
        for _ in 0..3 {
            w.forgot(address).await.unwrap();
        }
        let limited = w.forgot(address).await.unwrap_err();
        assert_eq!(limited.status, 429);
        assert!(matches!(limited.error, AppError::RateLimited(_)), "{limited}");
    }
    assert_eq!(w.sink.wait_for(&w.admin.email, 3).await.len(), 3);
    // Per source too: 10 an hour from one address, whatever the names.
    for i in 0..4 {
        w.forgot(&format!("other{i}@acme-sign-in.test")).await.unwrap();
    }
    assert_eq!(w.forgot("one-more@acme-sign-in.test").await.unwrap_err().status, 429);
    // An hour later, again.
    w.app.clock.advance(Duration::minutes(61));
    w.forgot(&w.admin.email).await.unwrap();
}
on_both_databases!(
    reset_requests_are_rate_limited_alike_for_every_address,
    super::reset_requests_are_rate_limited_alike_for_every_address
);

async fn a_reset_link_used_twice_at_once_works_once(backend: Backend) {
    let w = world(backend).await;
    w.forgot(&w.admin.email).await.unwrap();
    let token = w.reset_token(&w.admin.email, 1).await;
    let tries = (0..4).map(|i| {
        let (app, token) = (&w.app, token.clone());
        async move { app.try_run(NO_SESSION, ResetPassword { token, password: format!("parallel password {i}") }).await }
    });
    let results = futures::future::join_all(tries).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.status == 409));
    assert_eq!(w.events(&w.admin, AuditAction::ConsolePasswordReset).await.len(), 1);
}
on_both_databases!(a_reset_link_used_twice_at_once_works_once, super::a_reset_link_used_twice_at_once_works_once);

/// Adds the admin's console authenticator through the page's calls; returns its seed.
async fn enrol_through_the_page(w: &World, cookie: &str) -> String {
    let e = w.app.run(cookie, BeginConsoleAuthenticator { name: "Ada's phone".into() }).await;
    assert!(e.otpauth_uri.starts_with("otpauth://totp/"), "{}", e.otpauth_uri);
    assert!(e.qr_data_uri.starts_with("data:image/svg+xml;base64,"));
    let r = w.app.refused(cookie, ConfirmConsoleAuthenticator { id: e.id.to_string(), code: "000000".into() }).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    let code = console_sign_in::code_at(&e.secret, w.app.clock.now());
    let row = w.app.run(cookie, ConfirmConsoleAuthenticator { id: e.id.to_string(), code }).await;
    assert_eq!(row.name, "Ada's phone");
    e.secret
}

async fn an_admins_authenticator_adds_a_second_step_that_grants_nothing_until_done(backend: Backend) {
    let w = world(backend).await;
    let cookie = w.app.sign_in(&w.admin).await;
    // The fixture's authenticator cannot go while the tenant asks its admins for one; once
    // the admin turned that off (audited), it can.
    let code = w.app.fresh_console_code(w.admin.id).await;
    assert_eq!(w.app.refused(&cookie, RemoveConsoleAuthenticator { code: code.clone() }).await.status, 409);
    assert_eq!(w.app.run(&cookie, ConsolePolicy {}).await, Some(true));
    // The switch needs a current code from the caller's authenticator, not only the session.
    let off = |code: &str| SaveConsolePolicy { required: false, code: code.into() };
    let r = w.app.refused(&cookie, off("")).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    let r = w.app.refused(&cookie, off("000000")).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    assert_eq!(w.app.run(&cookie, ConsolePolicy {}).await, Some(true), "nothing changed");
    let other = w.tenant.admin(&w.app, "bob").await;
    assert!(!w.app.run(&cookie, off(&code)).await);
    assert_eq!(w.app.run(&cookie, ConsolePolicy {}).await, Some(false));
    let policy = w.events(&w.admin, AuditAction::ConsoleSecondFactorPolicy).await;
    assert_eq!(policy.len(), 1);
    assert_eq!(policy[0].detail, "a password alone signs tenant admins in to the console");
    // The tenant's other admins are told; the one who changed it is not.
    let told = w.sink.wait_for(&other.email, 1).await;
    assert_eq!(told[0].subject, "Your HostGuard console sign-in changed");
    assert!(
        told[0].text.contains("with a password alone") && told[0].text.contains(&w.admin.email),
        "{}",
        told[0].text
    );
    let code = w.app.fresh_console_code(w.admin.id).await;
    w.app.run(&cookie, RemoveConsoleAuthenticator { code }).await;
    let view = w.app.run(&cookie, MyConsoleFactor {}).await;
    assert_eq!((view.may_enrol, view.authenticator), (true, None));
    // End users use the portal's methods, not this.
    let person = w.tenant.end_user(&w.app, "eve").await;
    let eve = w.app.sign_in(&person).await;
    assert_eq!(w.app.refused(&eve, BeginConsoleAuthenticator { name: String::new() }).await.status, 403);
    assert!(!w.app.run(&eve, MyConsoleFactor {}).await.may_enrol);

    let secret = enrol_through_the_page(&w, &cookie).await;
    let added = w.events(&w.admin, AuditAction::ConsoleAuthenticatorAdded).await;
    assert_eq!(added.len(), 1);
    let mail = w.sink.wait_for(&w.admin.email, 2).await;
    assert!(mail.iter().all(|m| m.subject == "Your HostGuard console sign-in changed"), "{mail:?}");
    assert!(mail.iter().all(|m| !m.text.contains(&secret)));
    // A second one while this one is in force: remove it first.
    assert_eq!(w.app.refused(&cookie, BeginConsoleAuthenticator { name: String::new() }).await.status, 409);

    // The password alone: a half-signed-in session that sees nothing.
    let res = w.app.sign_in_password_only(&w.admin, None).await;
    assert_eq!(res.status(), 200);
    assert!(console_sign_in::asks_for_code(&res));
    let half = session_cookie(&res).unwrap();
    assert_eq!(w.app.me(&half).await, None);
    assert_eq!(w.app.refused(&half, MyConsoleFactor {}).await.status, 401);
    assert_eq!(
        w.app
            .refused(
                &half,
                ChangePassword {
                    current_password: w.admin.password.clone(),
                    new_password: "a new long password".into()
                }
            )
            .await
            .status,
        401
    );
    let signed_in_before = w.events(&w.admin, AuditAction::ConsoleSignIn).await.len();

    // A wrong code: refused and audited; the right one signs in, once.
    let r = w.app.refused(&half, SignInCode { code: "123456".into(), next: String::new() }).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    let failed = w.events(&w.admin, AuditAction::ConsoleSignInFailed).await;
    // (The wrong code typed at the policy switch above counts too.)
    assert_eq!(failed[0].detail, "right password, wrong authenticator code (3 more tries)");
    let code = console_sign_in::code_at(&secret, w.app.clock.now() + Duration::seconds(30));
    let res = w.app.call("auth/sign_in_code", &[("code", &code)], Some(&half)).await;
    assert_eq!(res.status(), 200);
    let full = session_cookie(&res).expect("a new session id once signed in");
    assert_ne!(full, half);
    assert_eq!(w.app.me(&full).await.as_deref(), Some(w.admin.email.as_str()));
    let ok = w.events(&w.admin, AuditAction::ConsoleSignIn).await;
    assert_eq!(ok.len(), signed_in_before + 1);
    assert!(ok.iter().any(|e| e.detail == "signed in with a password and an authenticator code"));
    // The same code again, in a new sign-in: used.
    let again = session_cookie(&w.app.sign_in_password_only(&w.admin, None).await).unwrap();
    let r = w.app.refused(&again, SignInCode { code: code.clone(), next: String::new() }).await;
    assert_eq!(r.status, 422);
    // No password step, no second step; and the second step waits 5 minutes at most.
    let r = w.app.refused(NO_SESSION, SignInCode { code: code.clone(), next: String::new() }).await;
    assert_eq!(r.status, 409, "{r}");
    w.app.clock.advance(Duration::minutes(6));
    let late = console_sign_in::code_at(&secret, w.app.clock.now());
    assert_eq!(w.app.refused(&again, SignInCode { code: late, next: String::new() }).await.status, 409);

    // The harness signs fixtures with a console authenticator in through both steps.
    let op = w.app.sign_in(&w.operator).await;
    assert_eq!(w.app.me(&op).await.as_deref(), Some(w.operator.email.as_str()));
    assert!(w.app.run(&op, MyConsoleFactor {}).await.authenticator.is_some());
    // Operators must keep theirs; and the tenant setting is the tenant admins'.
    let code = w.app.fresh_console_code(w.operator.id).await;
    assert_eq!(w.app.refused(&op, RemoveConsoleAuthenticator { code }).await.status, 409);
    assert_eq!(w.app.refused(&op, SaveConsolePolicy { required: false, code: String::new() }).await.status, 403);
}
on_both_databases!(
    an_admins_authenticator_adds_a_second_step_that_grants_nothing_until_done,
    super::an_admins_authenticator_adds_a_second_step_that_grants_nothing_until_done
);

async fn wrong_second_step_codes_are_capped_and_removing_the_app_needs_its_code(backend: Backend) {
    let w = world(backend).await;
    w.app.give_console_authenticator(w.admin.id).await;
    let half = session_cookie(&w.app.sign_in_password_only(&w.admin, None).await).unwrap();
    for left in (0..5).rev() {
        let r = w.app.refused(&half, SignInCode { code: "000000".into(), next: String::new() }).await;
        assert_eq!(r.status, 422, "{r}");
        assert!(r.error.to_string().contains(&format!("({left} more tr")), "{r}");
    }
    // Capped: even the right code waits now.
    let right = w.app.fresh_console_code(w.admin.id).await;
    let r = w.app.refused(&half, SignInCode { code: right, next: String::new() }).await;
    assert!(matches!(r.error, AppError::RateLimited(_)), "{r}");
    w.app.clock.advance(Duration::minutes(16));
    let cookie = w.app.sign_in(&w.admin).await;

    // Removing needs a current code from it (and the tenant's leave); then the password alone
    // signs in again.
    let code = w.app.fresh_console_code(w.admin.id).await;
    w.app.run(&cookie, SaveConsolePolicy { required: false, code }).await;
    let r = w.app.refused(&cookie, RemoveConsoleAuthenticator { code: "000000".into() }).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    let code = w.app.fresh_console_code(w.admin.id).await;
    w.app.run(&cookie, RemoveConsoleAuthenticator { code }).await;
    assert_eq!(w.app.run(&cookie, MyConsoleFactor {}).await.authenticator, None);
    assert_eq!(w.events(&w.admin, AuditAction::ConsoleAuthenticatorRemoved).await.len(), 1);
    let res = w.app.sign_in_password_only(&w.admin, None).await;
    assert!(!console_sign_in::asks_for_code(&res));
    let plain = session_cookie(&res).unwrap();
    assert_eq!(w.app.me(&plain).await.as_deref(), Some(w.admin.email.as_str()));
}
on_both_databases!(
    wrong_second_step_codes_are_capped_and_removing_the_app_needs_its_code,
    super::wrong_second_step_codes_are_capped_and_removing_the_app_needs_its_code
);

/// The code in the `n`th enrolment mail to `to` (from 1), waiting for it.
async fn mailed_code(w: &World, to: &str, n: usize) -> String {
    let mails = || -> Vec<Mail> {
        w.sink.messages_to(to).into_iter().filter(|m| m.subject == "Your HostGuard console code").collect()
    };
    eventually(&format!("enrolment mail {n} to {to}"), || async { mails().len() >= n }).await;
    let text = mails()[n - 1].text.clone();
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned()
}

fn confirm(id: uuid::Uuid, code: &str, mail_code: &str) -> ConfirmSignInEnrolment {
    ConfirmSignInEnrolment { id: id.to_string(), code: code.into(), mail_code: mail_code.into(), next: String::new() }
}

async fn confirmed_authenticators(w: &World) -> usize {
    use domain::entities::console_authenticator as ca;
    ca::Entity::find().filter(ca::Column::ConfirmedAt.is_not_null()).all(&w.app.ctx.db).await.unwrap().len()
}

async fn admins_and_operators_without_an_authenticator_add_one_right_after_the_password(backend: Backend) {
    let w = world(backend).await;
    // An admin from before the rule: no console authenticator.
    domain::entities::console_authenticator::Entity::delete_many().exec(&w.app.ctx.db).await.unwrap();
    let res = w.app.sign_in_password_only(&w.admin, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("location").unwrap(), "/signin/enrol");
    let half = session_cookie(&res).unwrap();
    // Nothing else is reachable, not even the second step's code form.
    assert_eq!(w.app.me(&half).await, None);
    assert_eq!(w.app.refused(&half, MyConsoleFactor {}).await.status, 401);
    assert_eq!(w.app.refused(&half, SignInCode { code: "123456".into(), next: String::new() }).await.status, 401);
    // A session that has not passed the password cannot enrol.
    assert_eq!(w.app.refused(NO_SESSION, BeginSignInEnrolment { name: String::new() }).await.status, 409);

    // Beginning mails a code to the account's address; the outbox keeps it masked.
    let begun = w.app.run(&half, BeginSignInEnrolment { name: "Ada's phone".into() }).await;
    assert_eq!(begun.mailed_to, w.admin.email);
    let e = begun.authenticator;
    let mailed = mailed_code(&w, &w.admin.email, 1).await;
    let queued =
        outbox::Entity::find().filter(outbox::Column::Recipient.eq(&w.admin.email)).all(&w.app.ctx.db).await.unwrap();
    assert!(queued.iter().all(|m| !m.body_text.contains(&mailed) && !m.body_html.contains(&mailed)));
    let code = console_sign_in::code_at(&e.secret, w.app.clock.now());

    // The app's code alone, or with a wrong mailed code: refused, and nothing is added.
    let r = w.app.refused(&half, confirm(e.id, &code, "")).await;
    assert_eq!((r.status, field_of(&r)), (422, "mail_code"));
    let wrong_mail = if mailed == "000000" { "111111" } else { "000000" };
    let r = w.app.refused(&half, confirm(e.id, &code, wrong_mail)).await;
    assert_eq!((r.status, field_of(&r)), (422, "mail_code"));
    assert!(r.error.to_string().contains("(2 more tries)"), "{r}");
    let r = w.app.refused(&half, confirm(e.id, "000000", &mailed)).await;
    assert_eq!((r.status, field_of(&r)), (422, "code"));
    assert_eq!(confirmed_authenticators(&w).await, 0);
    let failed = w.events(&w.admin, AuditAction::ConsoleSignInFailed).await;
    assert!(failed.iter().any(|e| e.detail.contains("wrong code from the email")), "{failed:?}");

    // Both right: signed in.
    let res = w
        .app
        .call("auth/enrol/confirm", &[("id", &e.id.to_string()), ("code", &code), ("mail_code", &mailed)], Some(&half))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("location").unwrap(), "/hss/two-factor");
    let full = session_cookie(&res).unwrap();
    assert_eq!(w.app.me(&full).await.as_deref(), Some(w.admin.email.as_str()));
    let ok = w.events(&w.admin, AuditAction::ConsoleSignIn).await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].detail, "signed in with a password and a newly added authenticator");
    assert_eq!(w.events(&w.admin, AuditAction::ConsoleAuthenticatorAdded).await.len(), 1);

    // The operator too; an end user never.
    let res = w.app.sign_in_password_only(&w.operator, None).await;
    assert_eq!(res.headers().get("location").unwrap(), "/signin/enrol");
    let person = w.tenant.end_user(&w.app, "eve").await;
    let res = w.app.sign_in_password_only(&person, None).await;
    assert_eq!(res.headers().get("location").unwrap(), "/portal");
    // With the tenant's leave (and a code from the new app), an admin signs in with the password alone.
    let code = console_sign_in::code_at(&e.secret, w.app.clock.now() + Duration::seconds(30));
    w.app.run(&full, SaveConsolePolicy { required: false, code }).await;
    let second = w.tenant.admin(&w.app, "bea").await;
    domain::entities::console_authenticator::Entity::delete_many()
        .filter(domain::entities::console_authenticator::Column::UserId.eq(second.id))
        .exec(&w.app.ctx.db)
        .await
        .unwrap();
    let res = w.app.sign_in_password_only(&second, None).await;
    assert_eq!(res.headers().get("location").unwrap(), "/hss/two-factor");
}
on_both_databases!(
    admins_and_operators_without_an_authenticator_add_one_right_after_the_password,
    super::admins_and_operators_without_an_authenticator_add_one_right_after_the_password
);

async fn a_mailed_enrolment_code_works_once_for_15_minutes_and_mails_are_limited(backend: Backend) {
    let w = world(backend).await;
    let op = &w.operator;
    domain::entities::console_authenticator::Entity::delete_many().exec(&w.app.ctx.db).await.unwrap();
    let half = session_cookie(&w.app.sign_in_password_only(op, None).await).unwrap();
    let first = w.app.run(&half, BeginSignInEnrolment { name: String::new() }).await.authenticator;
    let first_mail = mailed_code(&w, &op.email, 1).await;

    // Someone else with the password begins too (another session): their code is mailed to
    // the owner, so they cannot confirm; the owner's enrolment is gone, and they start again.
    let thief = session_cookie(&w.app.sign_in_password_only(op, None).await).unwrap();
    let stolen = w.app.run(&thief, BeginSignInEnrolment { name: "Thief".into() }).await.authenticator;
    let thief_code = console_sign_in::code_at(&stolen.secret, w.app.clock.now());
    // (The owner's code, in the thief's session, is not theirs: each session has its own.)
    let r = w.app.refused(&thief, confirm(stolen.id, &thief_code, &first_mail)).await;
    assert_eq!((r.status, field_of(&r)), (422, "mail_code"));
    assert_eq!(confirmed_authenticators(&w).await, 0);
    let code = console_sign_in::code_at(&first.secret, w.app.clock.now());
    assert_eq!(w.app.refused(&half, confirm(first.id, &code, &first_mail)).await.status, 404);

    // A third mail in 15 minutes is the last; a fourth begin is refused and changes nothing.
    let again = w.app.run(&half, BeginSignInEnrolment { name: String::new() }).await.authenticator;
    let third_mail = mailed_code(&w, &op.email, 3).await;
    let limited = w.app.refused(&thief, BeginSignInEnrolment { name: String::new() }).await;
    assert_eq!(limited.status, 429, "{limited}");
    assert_eq!(w.sink.messages_to(&op.email).len(), 3);
    // An older code does not work for a newer enrolment; the newest does, once.
    let code = console_sign_in::code_at(&again.secret, w.app.clock.now());
    if first_mail != third_mail {
        let r = w.app.refused(&half, confirm(again.id, &code, &first_mail)).await;
        assert_eq!((r.status, field_of(&r)), (422, "mail_code"));
    }
    let res = w
        .app
        .call(
            "auth/enrol/confirm",
            &[("id", &again.id.to_string()), ("code", &code), ("mail_code", &third_mail)],
            Some(&half),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(w.app.refused(&half, confirm(again.id, &code, &third_mail)).await.status, 409, "spent");

    // Expiry: 15 minutes (the half-signed-in session ends then too), after which mails may go again.
    domain::entities::console_authenticator::Entity::delete_many().exec(&w.app.ctx.db).await.unwrap();
    w.app.clock.advance(Duration::minutes(16));
    let late = session_cookie(&w.app.sign_in_password_only(op, None).await).unwrap();
    let last = w.app.run(&late, BeginSignInEnrolment { name: String::new() }).await.authenticator;
    let last_mail = mailed_code(&w, &op.email, 4).await;
    w.app.clock.advance(Duration::minutes(16));
    let code = console_sign_in::code_at(&last.secret, w.app.clock.now());
    assert_eq!(w.app.refused(&late, confirm(last.id, &code, &last_mail)).await.status, 409);
    assert_eq!(confirmed_authenticators(&w).await, 0);
}
on_both_databases!(
    a_mailed_enrolment_code_works_once_for_15_minutes_and_mails_are_limited,
    super::a_mailed_enrolment_code_works_once_for_15_minutes_and_mails_are_limited
);

async fn a_wrong_mailed_code_three_times_ends_it(backend: Backend) {
    let w = world(backend).await;
    domain::entities::console_authenticator::Entity::delete_many().exec(&w.app.ctx.db).await.unwrap();
    let half = session_cookie(&w.app.sign_in_password_only(&w.admin, None).await).unwrap();
    let e = w.app.run(&half, BeginSignInEnrolment { name: String::new() }).await.authenticator;
    let mailed = mailed_code(&w, &w.admin.email, 1).await;
    let wrong = if mailed == "000000" { "111111" } else { "000000" };
    let code = console_sign_in::code_at(&e.secret, w.app.clock.now());
    for _ in 0..3 {
        assert_eq!(w.app.refused(&half, confirm(e.id, &code, wrong)).await.status, 422);
    }
    let r = w.app.refused(&half, confirm(e.id, &code, &mailed)).await;
    assert_eq!(r.status, 409, "{r}");
    assert_eq!(confirmed_authenticators(&w).await, 0);
}
on_both_databases!(a_wrong_mailed_code_three_times_ends_it, super::a_wrong_mailed_code_three_times_ends_it);

async fn without_a_secret_key_whoever_needs_a_factor_is_refused(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app =
        spawn_app_with(backend, Options { smtp_port: Some(sink.port), secret_key: None, ..Options::empty() }).await;
    let tenant = app.create_tenant("Acme Keyless Console").await;
    let operator = app.create_operator("kim").await;
    let res = app.sign_in_password_only(&operator, None).await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("HOSTGUARD_SECRET_KEY"));
    let caller = domain::accounts::caller(&app.ctx, operator.id).await.unwrap();
    let failed: Vec<_> = domain::audit::list(&app.ctx, &caller, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::ConsoleSignInFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].detail.contains("HOSTGUARD_SECRET_KEY"));
    assert_eq!(sink.messages().len(), 0);
    // Whoever needs no factor still signs in.
    let person = tenant.end_user(&app, "eve").await;
    assert_eq!(app.sign_in_password_only(&person, None).await.headers().get("location").unwrap(), "/portal");
    // A console on https does not start without its key.
    let config = server::config::Config::load(&[
        ("HOSTGUARD_DATABASE_URL".to_string(), "sqlite::memory:".to_string()),
        ("HOSTGUARD_PUBLIC_URL".to_string(), "https://console.example.com".to_string()),
    ])
    .unwrap();
    let options = leptos::config::LeptosOptions::builder().output_name("hostguard").build();
    let clock = std::sync::Arc::new(domain::SystemClock);
    let err = server::build(&config, options, clock, Default::default()).await.err().expect("refused");
    assert!(err.contains("HOSTGUARD_SECRET_KEY"), "{err}");
}
on_both_databases!(
    without_a_secret_key_whoever_needs_a_factor_is_refused,
    super::without_a_secret_key_whoever_needs_a_factor_is_refused
);
