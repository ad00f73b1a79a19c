//! Invitations, the only way to a first factor: a tenant admin invites by email (or SMS); the
//! link, read from the real SMTP sink, sets a password and an authenticator app, and only then
//! is the account active. Links expire after 24 hours, a resend kills the old link, a revoke
//! kills it; a mail scanner's GET changes nothing. Locked people neither sign in nor log in to
//! servers. Another tenant's people are "not found"; bad input is a 4xx naming the field.

use crate::common::*;
use app::functions::invitations::{
    BeginInvitationAuthenticator, ConfirmInvitationAuthenticator, PreviewInvitation, SetInvitationPassword,
};
use app::functions::users::{
    InviteAgain, InviteUser, ListUsers, LockUser, RemoveFactor, ResendInvitation, RevokeInvitation, UnlockUser,
};
use app::models::users::{InvitationLink, InvitationSent, PersonRow, UserState, UsersQuery};
use chrono::{DateTime, Duration, Utc};
use domain::{
    audit::{Actor, AuditAction},
    entities::outbox,
    factors::mapping::{self, NewMapping},
    Clock,
};
use proto::login::{Action, LoginResult};
use reqwest::Response;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use testkit::{Refused, NO_SESSION};

/// A call's HTTP status.
fn http_status<T>(res: &Result<T, Refused>) -> u16 {
    res.as_ref().map_or_else(|e| e.status, |_| 200)
}

/// What a refused call said: its status and error.
fn refusal<T: std::fmt::Debug>(res: Result<T, Refused>) -> (u16, String) {
    let e = res.expect_err("the call is refused");
    (e.status, e.to_string())
}

fn invite(email: &str) -> InviteUser {
    InviteUser {
        email: email.into(),
        display_name: "Dana Invited".into(),
        send_by: String::new(),
        phone: String::new(),
    }
}

fn invite_again(id: &str) -> InviteAgain {
    InviteAgain { id: id.into(), send_by: String::new(), phone: String::new() }
}

fn begin(token: &str, name: &str) -> BeginInvitationAuthenticator {
    BeginInvitationAuthenticator { token: token.into(), name: name.into() }
}

fn code_at(secret: &str, t: DateTime<Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    totp.generate(t.timestamp() as u64)
}

/// A server in verification-code mode whose `deploy` account is Dana's (invited below), its
/// admin signed in, and the SMTP sink the invitations go to.
struct World {
    app: TestApp,
    p: Protected,
    admin_cookie: String,
    sink: SmtpSink,
}

const DANA: &str = "dana@invited.example";

async fn world(backend: Backend) -> World {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Options::empty() }).await;
    let p = app.protected_server("Acme Invites", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let admin_cookie = app.sign_in(&p.admin).await;
    World { app, p, admin_cookie, sink }
}

impl World {
    async fn invite(&self, email: &str) -> Result<InvitationSent, Refused> {
        self.app.try_run(&self.admin_cookie, invite(email)).await
    }

    async fn person(&self, email: &str) -> PersonRow {
        self.person_as(&self.admin_cookie, email).await
    }

    async fn person_as(&self, cookie: &str, email: &str) -> PersonRow {
        let query = UsersQuery { search: email.into(), ..Default::default() };
        let page = self.app.run(cookie, ListUsers { query }).await;
        page.items.into_iter().find(|p| p.email == email).unwrap_or_else(|| panic!("{email} is not listed"))
    }

    /// The token of the `n`th invitation mail to `to` (from 1), waiting for it.
    async fn token(&self, to: &str, n: usize) -> String {
        let invitations = || -> Vec<Mail> {
            self.sink.messages_to(to).into_iter().filter(|m| m.subject.starts_with("You are invited")).collect()
        };
        eventually(&format!("invitation {n} to {to}"), || async { invitations().len() >= n }).await;
        let link = invitations().get(n - 1).and_then(|m| m.link("/invite?token=")).expect("an invitation link");
        link.split_once("token=").unwrap().1.to_owned()
    }

    async fn preview(&self, token: &str) -> Result<InvitationLink, Refused> {
        self.app.try_run(NO_SESSION, PreviewInvitation { token: token.into() }).await
    }

    async fn set_password(&self, token: &str, password: &str) -> Result<InvitationLink, Refused> {
        let args = SetInvitationPassword { token: token.into(), password: password.into(), repeat: password.into() };
        self.app.try_run(NO_SESSION, args).await
    }

    async fn map_deploy(&self, user: uuid::Uuid) {
        let new = NewMapping {
            account: domain::validate::AccountName::parse("deploy").unwrap(),
            end_user_id: user,
            server_id: None,
        };
        mapping::add(&self.app.ctx, &self.p.caller, &Actor::new("test", "127.0.0.1"), &new).await.unwrap();
    }

    /// Follows `token` to the end: the password, then an authenticator confirmed with its
    /// code. Returns the session cookie the last step sets and the app's secret.
    async fn accept(&self, token: &str, password: &str) -> (String, String) {
        self.set_password(token, password).await.unwrap();
        let e = self.app.run(NO_SESSION, begin(token, "Pixel")).await;
        assert!(e.otpauth_uri.starts_with("otpauth://totp/HostGuard:"), "{}", e.otpauth_uri);
        assert!(e.qr_data_uri.starts_with("data:image/svg+xml;base64,"));
        let code = code_at(&e.secret, self.app.clock.now());
        // Raw: the answer's session cookie is what this step is for.
        let res = self
            .app
            .call(
                "public/invitation/authenticator/confirm",
                &[("token", token), ("id", &e.id.to_string()), ("code", &code)],
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        (session_cookie(&res).expect("the last step signs in"), e.secret)
    }

    /// Raw: a sign-in is judged by its status and the session cookie it sets.
    fn sign_in_as(&self, email: &str, password: &str) -> impl std::future::Future<Output = Response> + '_ {
        let (email, password) = (email.to_owned(), password.to_owned());
        async move { self.app.call("auth/sign_in", &[("email", &email), ("password", &password)], None).await }
    }

    async fn audit(&self) -> Vec<domain::audit::Event> {
        domain::audit::list(&self.app.ctx, &self.p.caller, 200).await.unwrap()
    }
}

const PASSWORD: &str = "correct horse battery";

async fn an_invited_person_is_inactive_until_their_first_factor(backend: Backend) {
    let w = world(backend).await;
    let sent = w.invite(DANA).await.unwrap();
    assert_eq!((sent.email.as_str(), sent.address.as_str()), (DANA, DANA));
    assert_eq!(sent.expires, w.app.clock.now() + Duration::hours(24));
    let dana = w.person(DANA).await;
    assert_eq!(dana.state, UserState::Invited);
    assert_eq!(dana.name, "Dana Invited");
    w.map_deploy(dana.id).await;
    assert_eq!(w.person(DANA).await.server_accounts, ["deploy (all servers)"]);

    // The mail names the tenant and the sign-in name; the outbox keeps the token masked.
    let token = w.token(DANA, 1).await;
    let mail = &w.sink.messages_to(DANA)[0];
    assert!(mail.text.contains("Acme Invites invites you") && mail.text.contains(DANA), "{}", mail.text);
    let row =
        outbox::Entity::find().filter(outbox::Column::Recipient.eq(DANA)).one(&w.app.ctx.db).await.unwrap().unwrap();
    assert!(!row.body_text.contains(&token), "the token is a secret of the message");

    // Invited: no sign-in (there is no password yet), and logins to servers are refused.
    assert_eq!(w.sign_in_as(DANA, PASSWORD).await.status(), 401);
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.7").await;
    assert!(denial(&login.step).contains("no authenticator yet"), "{:?}", login.step);

    // The password is set, but without a factor the account is still not active.
    let link = w.set_password(&token, PASSWORD).await.unwrap();
    assert!(link.password_set && link.email == DANA && link.tenant_name == "Acme Invites", "{link:?}");
    let res = w.sign_in_as(DANA, PASSWORD).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("not active yet"));
    assert!(w.person(DANA).await.invitation.unwrap().password_set);
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.7").await;
    assert!(matches!(login.step.action, Action::Deny { .. }), "{:?}", login.step);
    // An authenticator started but not confirmed is no factor either.
    let e = w.app.run(NO_SESSION, begin(&token, "Pixel")).await;
    assert!(matches!(w.app.start_ok(&w.p, "deploy", "198.51.100.7").await.step.action, Action::Deny { .. }));
    // A wrong code is refused, naming the field.
    let confirm = ConfirmInvitationAuthenticator { token: token.clone(), id: e.id.to_string(), code: "000000".into() };
    let refused = w.app.refused(NO_SESSION, confirm).await;
    assert_eq!(refused.status, 422);
    assert!(refused.to_string().contains("\"code\""), "{refused}");

    // The code confirms it: active, signed in to the portal, and the link is used up.
    let (cookie, secret) = w.accept(&token, PASSWORD).await;
    assert_eq!(w.app.me(&cookie).await.as_deref(), Some(DANA));
    let dana = w.person(DANA).await;
    assert_eq!(dana.state, UserState::Active);
    assert_eq!(dana.factors.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["Pixel"]);
    assert!(dana.last_sign_in.is_some());
    let (status, said) = refusal(w.preview(&token).await);
    assert_eq!(status, 409);
    assert!(said.contains("has been used"), "{said}");
    assert_eq!(w.sign_in_as(DANA, PASSWORD).await.status(), 200);

    // Her logins now ask for her code, and it lets her in.
    w.app.clock.advance(Duration::seconds(30));
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.7").await;
    assert_eq!(prompt_of(&login.step).0, "Verification code: ");
    let done = w.app.answer_ok(&w.p, login.login_id, &code_at(&secret, w.app.clock.now())).await;
    assert_eq!(done.step.action, Action::Allow);

    let actions: Vec<AuditAction> = w.audit().await.iter().map(|e| e.action).collect();
    for a in [
        AuditAction::UserInvite,
        AuditAction::UserInvitePassword,
        AuditAction::UserActivate,
        AuditAction::FactorAuthenticatorAdded,
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}
on_both_databases!(
    an_invited_person_is_inactive_until_their_first_factor,
    super::an_invited_person_is_inactive_until_their_first_factor
);

async fn a_scanners_get_changes_nothing(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let token = w.token(DANA, 1).await;
    let before = w.audit().await.len();
    for _ in 0..3 {
        let page = w.app.get_page(&format!("/invite?token={token}"), None).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Acme Invites invites Dana Invited") && html.contains("Choose a password"), "{html}");
        let link = w.preview(&token).await.unwrap();
        assert!(!link.password_set);
    }
    let dana = w.person(DANA).await;
    assert_eq!(dana.state, UserState::Invited);
    assert!(!dana.invitation.unwrap().password_set);
    assert_eq!(w.audit().await.len(), before, "nothing was written");
    // The link still works after all those fetches.
    w.accept(&token, PASSWORD).await;
}
on_both_databases!(a_scanners_get_changes_nothing, super::a_scanners_get_changes_nothing);

async fn links_expire_after_24_hours_and_a_resend_kills_the_old_one(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let dana = w.person(DANA).await;
    let first = w.token(DANA, 1).await;
    let id = dana.id.to_string();

    // A resend right away is refused: one a minute.
    assert_eq!(w.app.refused(&w.admin_cookie, ResendInvitation { id: id.clone() }).await.status, 429);

    // A day later the link has expired, also halfway through.
    w.app.clock.advance(Duration::hours(24) - Duration::seconds(1));
    assert_eq!(http_status(&w.set_password(&first, PASSWORD).await), 200, "still valid");
    w.app.clock.advance(Duration::seconds(1));
    let admin_cookie = w.app.sign_in(&w.p.admin).await;
    for res in [w.preview(&first).await, w.set_password(&first, PASSWORD).await] {
        let (status, said) = refusal(res);
        assert_eq!(status, 409);
        assert!(said.contains("has expired"), "{said}");
    }
    assert_eq!(w.app.refused(NO_SESSION, begin(&first, "x")).await.status, 409);
    let row = w.person_as(&admin_cookie, DANA).await;
    assert_eq!(row.invitation.as_ref().map(|i| i.status), Some(app::models::users::InvitationStatus::Expired));

    // Resent: a new link for 24 hours; the old one is dead, even unexpired it would be.
    let again = w.app.run(&admin_cookie, ResendInvitation { id: id.clone() }).await;
    assert_eq!(again.expires, w.app.clock.now() + Duration::hours(24));
    let second = w.token(DANA, 2).await;
    assert_ne!(first, second);
    assert_eq!(http_status(&w.preview(&first).await), 404, "the old link is gone");
    let link = w.preview(&second).await.unwrap();
    assert!(!link.password_set, "a new link starts over");
    w.app.clock.advance(Duration::minutes(1));
    let third = w.app.run(&admin_cookie, ResendInvitation { id: id.clone() }).await;
    assert_eq!(third.email, DANA);
    let third = w.token(DANA, 3).await;
    assert_eq!(http_status(&w.preview(&second).await), 404, "a resend kills the link before it");
    w.accept(&third, PASSWORD).await;

    // Five messages a day at most.
    let refused = w.app.refused(&admin_cookie, ResendInvitation { id: id.clone() }).await;
    assert_eq!(refused.status, 409, "nothing to resend once used");
    for i in 0..2 {
        w.app.clock.advance(Duration::minutes(1));
        let res = w.app.try_run(&admin_cookie, invite_again(&id)).await;
        assert_eq!(http_status(&res), 200, "send {}", i + 4);
    }
    w.app.clock.advance(Duration::minutes(1));
    let refused = w.app.refused(&admin_cookie, invite_again(&id)).await;
    assert_eq!(refused.status, 429);
    assert!(refused.to_string().contains("in the last 24 hours"), "{refused}");
    let resends = w.audit().await.iter().filter(|e| e.action == AuditAction::UserInviteResend).count();
    assert_eq!(resends, 2);
}
on_both_databases!(
    links_expire_after_24_hours_and_a_resend_kills_the_old_one,
    super::links_expire_after_24_hours_and_a_resend_kills_the_old_one
);

async fn a_revoked_link_no_longer_works(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let token = w.token(DANA, 1).await;
    w.set_password(&token, PASSWORD).await.unwrap();
    let id = w.person(DANA).await.id.to_string();
    w.app.run(&w.admin_cookie, RevokeInvitation { id: id.clone() }).await;
    let refusals = [
        refusal(w.preview(&token).await),
        refusal(w.set_password(&token, PASSWORD).await),
        refusal(w.app.try_run(NO_SESSION, begin(&token, "x")).await),
    ];
    for (status, said) in refusals {
        assert_eq!(status, 409);
        assert!(said.contains("no longer works"), "{said}");
    }
    assert_eq!(w.sign_in_as(DANA, PASSWORD).await.status(), 409, "still not active");
    assert_eq!(w.app.refused(&w.admin_cookie, RevokeInvitation { id: id.clone() }).await.status, 409, "nothing open");
    assert_eq!(w.app.refused(&w.admin_cookie, ResendInvitation { id: id.clone() }).await.status, 409);
    let revoked = w.audit().await.into_iter().find(|e| e.action == AuditAction::UserInviteRevoke).unwrap();
    assert_eq!((revoked.actor.as_str(), revoked.target.as_str()), (w.p.admin.email.as_str(), DANA));

    // A new invitation (by SMS, say) replaces it; the development gateway holds the SMS.
    w.app.clock.advance(Duration::minutes(1));
    let by_sms = InviteAgain { id: id.clone(), send_by: "sms".into(), phone: "+8613800000001".into() };
    let sent = w.app.run(&w.admin_cookie, by_sms).await;
    assert_eq!(sent.address, "+8613800000001");
    let sms = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq("+8613800000001"))
        .one(&w.app.ctx.db)
        .await
        .unwrap()
        .expect("the SMS is in the outbox");
    assert_eq!((sms.channel, sms.kind), (proto::Channel::Sms, proto::MessageKind::Invitation));
    assert!(sms.body_text.contains("/invite?token="), "{}", sms.body_text);
}
on_both_databases!(a_revoked_link_no_longer_works, super::a_revoked_link_no_longer_works);

async fn a_locked_person_neither_signs_in_nor_logs_in(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let token = w.token(DANA, 1).await;
    let dana = w.person(DANA).await;
    w.map_deploy(dana.id).await;
    let (cookie, secret) = w.accept(&token, PASSWORD).await;
    let id = dana.id.to_string();

    w.app.run(&w.admin_cookie, LockUser { id: id.clone() }).await;
    assert_eq!(w.person(DANA).await.state, UserState::Locked);
    assert_eq!(w.app.me(&cookie).await, None, "her session ended");
    let res = w.sign_in_as(DANA, PASSWORD).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("locked"));
    assert_eq!(w.sign_in_as(DANA, "wrong password!!").await.status(), 401, "only the right password learns that");
    w.app.clock.advance(Duration::seconds(30));
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.7").await;
    assert!(matches!(login.step.action, Action::Deny { .. }), "{:?}", login.step);
    let row = w.app.login_row(login.login_id).await;
    assert_eq!(row.result, Some(LoginResult::Denied));
    assert!(row.reason.starts_with("user locked"), "{}", row.reason);
    // Even a server that lets unenrolled accounts in keeps her out.
    let change =
        domain::logins::SettingsChange { fail_mode: "secure".into(), allow_unenrolled: true, ..Default::default() };
    domain::logins::settings::update(&w.app.ctx, &w.p.caller, &Actor::new("t", "127.0.0.1"), w.p.server_id, &change)
        .await
        .unwrap();
    assert!(matches!(w.app.start_ok(&w.p, "deploy", "198.51.100.7").await.step.action, Action::Deny { .. }));
    // Again: no change.
    w.app.run(&w.admin_cookie, LockUser { id: id.clone() }).await;

    w.app.run(&w.admin_cookie, UnlockUser { id: id.clone() }).await;
    assert_eq!(w.person(DANA).await.state, UserState::Active);
    assert_eq!(w.sign_in_as(DANA, PASSWORD).await.status(), 200);
    w.app.clock.advance(Duration::seconds(30));
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.7").await;
    let done = w.app.answer_ok(&w.p, login.login_id, &code_at(&secret, w.app.clock.now())).await;
    assert_eq!(done.step.action, Action::Allow);
    let actions: Vec<AuditAction> = w.audit().await.iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::UserLock).count(), 1);
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::UserUnlock).count(), 1);
}
on_both_databases!(a_locked_person_neither_signs_in_nor_logs_in, super::a_locked_person_neither_signs_in_nor_logs_in);

async fn a_lost_phone_is_removed_and_a_new_invitation_enrols_the_next(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let token = w.token(DANA, 1).await;
    let (cookie, _) = w.accept(&token, PASSWORD).await;
    let dana = w.person(DANA).await;
    let id = dana.id.to_string();
    let pixel = dana.factors[0].id.unwrap().to_string();
    let remove = RemoveFactor { id: id.clone(), factor: pixel };
    w.app.run(&w.admin_cookie, remove.clone()).await;
    assert!(w.person(DANA).await.factors.is_empty());
    assert_eq!(w.app.refused(&w.admin_cookie, remove).await.status, 404);
    let mails = w.sink.wait_for(DANA, 3).await;
    assert!(mails.iter().any(|m| m.subject.contains("\"Pixel\" was removed")), "she is told");
    // Invited again: she stays active, and the new link adds her new phone.
    w.app.clock.advance(Duration::minutes(1));
    w.app.run(&w.admin_cookie, invite_again(&id)).await;
    assert_eq!(w.person(DANA).await.state, UserState::Active);
    assert!(w.app.me(&cookie).await.is_none(), "the lost phone's sessions end");
    let token = w.token(DANA, 2).await;
    w.accept(&token, "another good password").await;
    assert_eq!(w.person(DANA).await.factors.len(), 1);
    assert_eq!(w.sign_in_as(DANA, "another good password").await.status(), 200);
    let removed = w.audit().await.into_iter().find(|e| e.action == AuditAction::FactorRemovedByAdmin).unwrap();
    assert_eq!(removed.target, DANA);
}
on_both_databases!(
    a_lost_phone_is_removed_and_a_new_invitation_enrols_the_next,
    super::a_lost_phone_is_removed_and_a_new_invitation_enrols_the_next
);

async fn another_tenants_people_are_not_found_and_bad_input_is_refused(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let id = w.person(DANA).await.id.to_string();
    let globex = w.app.create_tenant("Globex Invites").await;
    let theirs = w.app.sign_in(&globex.admin(&w.app, "admin").await).await;
    // Each row action, as another tenant's admin, and with an id that is none: not found.
    let statuses = |cookie: String, id: String| {
        let app = &w.app;
        async move {
            let id = || id.clone();
            [
                http_status(&app.try_run(&cookie, ResendInvitation { id: id() }).await),
                http_status(&app.try_run(&cookie, RevokeInvitation { id: id() }).await),
                http_status(&app.try_run(&cookie, LockUser { id: id() }).await),
                http_status(&app.try_run(&cookie, UnlockUser { id: id() }).await),
                http_status(&app.try_run(&cookie, invite_again(&id())).await),
                http_status(&app.try_run(&cookie, RemoveFactor { id: id(), factor: "recovery_codes".into() }).await),
            ]
        }
    };
    assert_eq!(statuses(theirs.clone(), id.clone()).await, [404; 6]);
    assert_eq!(statuses(w.admin_cookie.clone(), "nope".into()).await, [404; 6]);
    let page = w.app.run(&theirs, ListUsers { query: Default::default() }).await;
    assert!(page.items.is_empty());
    // Their admin cannot take over Acme's address either, nor learn that it exists: the
    // answer is a new invitation's, but nothing is created or sent (see
    // an_address_with_an_account_elsewhere_is_answered_as_a_new_one).
    let sent = w.app.run(&theirs, invite(DANA)).await;
    assert_eq!(sent.email, DANA);
    assert!(w.app.run(&theirs, ListUsers { query: Default::default() }).await.items.is_empty());
    // Roles: an end user and an operator are refused.
    let operator = w.app.sign_in(&w.app.create_operator("ops").await).await;
    assert_eq!(w.app.refused(&operator, invite("x@y.example")).await.status, 403);
    assert_eq!(w.app.refused(NO_SESSION, ListUsers { query: Default::default() }).await.status, 401);

    // Malformed input names the field.
    let bad = |args: InviteUser, field: &'static str| {
        let (app, cookie) = (&w.app, w.admin_cookie.clone());
        async move {
            let refused = app.refused(&cookie, args.clone()).await;
            assert_eq!(refused.status, 422, "{args:?}");
            assert!(refused.to_string().contains(&format!("\"{field}\"")), "{field}: {refused}");
        }
    };
    let by = |send_by: &str, phone: &str| InviteUser {
        send_by: send_by.into(),
        phone: phone.into(),
        ..invite("ok@x.example")
    };
    bad(invite("not an address"), "email").await;
    bad(by("sms", ""), "phone").await;
    bad(by("sms", "12345"), "phone").await;
    bad(by("pigeon", ""), "send_by").await;
    bad(InviteUser { display_name: "two\nlines".into(), ..invite("ok@x.example") }, "display_name").await;
    // Raw: a form without its required field, which the typed client cannot send.
    assert_eq!(w.app.call("users/invite", &[], Some(&w.admin_cookie)).await.status(), 400, "no email at all");
    let query = UsersQuery { state: "asleep".into(), ..Default::default() };
    assert_eq!(w.app.refused(&w.admin_cookie, ListUsers { query }).await.status, 422);

    let token = w.token(DANA, 1).await;
    assert_eq!(http_status(&w.preview("not-a-token").await), 404);
    assert_eq!(http_status(&w.preview(&"x".repeat(5000)).await), 404);
    let (status, said) = refusal(w.set_password(&token, "short").await);
    assert_eq!(status, 422);
    assert!(said.contains("\"password\""), "{said}");
    let mismatch =
        SetInvitationPassword { token: token.clone(), password: PASSWORD.into(), repeat: "something else".into() };
    let refused = w.app.refused(NO_SESSION, mismatch).await;
    assert_eq!(refused.status, 422);
    assert!(refused.to_string().contains("\"repeat\""), "{refused}");
    let refused = w.app.refused(NO_SESSION, begin(&token, "")).await;
    assert_eq!(refused.status, 409, "the password comes first");
    assert!(refused.to_string().contains("password first"), "{refused}");
    let confirm = ConfirmInvitationAuthenticator { token: token.clone(), id: "nope".into(), code: "123456".into() };
    assert_eq!(w.app.refused(NO_SESSION, confirm).await.status, 404);
    // None of that changed Dana.
    let dana = w.person(DANA).await;
    assert_eq!(dana.state, UserState::Invited);
    assert!(!dana.invitation.unwrap().password_set);
}
on_both_databases!(
    another_tenants_people_are_not_found_and_bad_input_is_refused,
    super::another_tenants_people_are_not_found_and_bad_input_is_refused
);

/// Messages in the outbox to `recipient`.
async fn outbox_to(app: &TestApp, recipient: &str) -> Vec<outbox::Model> {
    outbox::Entity::find().filter(outbox::Column::Recipient.eq(recipient)).all(&app.ctx.db).await.unwrap()
}

async fn an_active_persons_invitation_goes_only_to_their_own_addresses(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    let token = w.token(DANA, 1).await;
    w.accept(&token, PASSWORD).await;
    let id = w.person(DANA).await.id.to_string();
    assert_eq!(w.person(DANA).await.state, UserState::Active);
    w.app.clock.advance(Duration::minutes(1));

    // A number the admin types is not hers: refused, naming the phone, nothing queued.
    let stranger = "+8613800000999";
    let by_sms = InviteAgain { id: id.clone(), send_by: "sms".into(), phone: stranger.into() };
    let refused = w.app.refused(&w.admin_cookie, by_sms).await;
    assert_eq!(refused.status, 422, "{refused}");
    assert!(refused.to_string().contains("phone"), "{refused}");
    let again =
        InviteUser { email: DANA.into(), display_name: String::new(), send_by: "sms".into(), phone: stranger.into() };
    assert_eq!(w.app.refused(&w.admin_cookie, again).await.status, 422);
    assert!(outbox_to(&w.app, stranger).await.is_empty());

    // Her email works; setting the password from that link tells her by mail.
    w.app.run(&w.admin_cookie, invite_again(&id)).await;
    let token = w.token(DANA, 2).await;
    w.set_password(&token, "another good password").await.unwrap();
    let told = || {
        w.sink.messages_to(DANA).into_iter().filter(|m| m.text.contains("password was set from an invitation")).count()
    };
    eventually("Dana hears her password was set", || async { told() == 1 }).await;
}
on_both_databases!(
    an_active_persons_invitation_goes_only_to_their_own_addresses,
    super::an_active_persons_invitation_goes_only_to_their_own_addresses
);

async fn an_address_with_an_account_elsewhere_is_answered_as_a_new_one(backend: Backend) {
    let w = world(backend).await;
    w.invite(DANA).await.unwrap();
    w.token(DANA, 1).await;
    let globex = w.app.create_tenant("Globex Enumeration").await;
    let theirs = w.app.sign_in(&globex.admin(&w.app, "admin").await).await;
    let ops = w.app.create_operator("ops").await;
    let fresh = "nobody-yet@globex.example";

    let new = w.app.run(&theirs, invite(fresh)).await;
    for taken in [DANA, ops.email.as_str()] {
        let before = outbox_to(&w.app, taken).await.len();
        let sent = w.app.run(&theirs, invite(taken)).await;
        assert_eq!((sent.email.as_str(), sent.channel, sent.address.as_str()), (taken, new.channel, taken));
        assert_eq!(sent.expires, new.expires, "the same answer as a new invitation");
        assert_eq!(outbox_to(&w.app, taken).await.len(), before, "nothing sent to {taken}");
        // By SMS too: nothing reaches the number.
        let sms = InviteUser {
            email: taken.into(),
            display_name: String::new(),
            send_by: "sms".into(),
            phone: "+8613800000777".into(),
        };
        w.app.run(&theirs, sms).await;
    }
    assert!(outbox_to(&w.app, "+8613800000777").await.is_empty());
    let listed = w.app.run(&theirs, ListUsers { query: Default::default() }).await;
    assert_eq!(listed.items.iter().map(|p| p.email.as_str()).collect::<Vec<_>>(), [fresh]);
    // Dana stays Acme's; the attempt is in the operators' trail, not in either tenant's.
    assert_eq!(w.person(DANA).await.email, DANA);
    let refused = domain::entities::audit_event::Entity::find()
        .filter(domain::entities::audit_event::Column::Target.eq(DANA))
        .all(&w.app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.detail.starts_with("refused:"))
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e.tenant_id.is_none()));
}
on_both_databases!(
    an_address_with_an_account_elsewhere_is_answered_as_a_new_one,
    super::an_address_with_an_account_elsewhere_is_answered_as_a_new_one
);
