//! Verification-code mode end to end: a tenant admin maps server accounts to end users, an end
//! user enrolls an authenticator app (and recovery codes) on the portal, and logins through the
//! agent API as the daemon calls it ask that user for a code. Replays, the ±1 step window,
//! attempts, recovery codes, unmapped and unenrolled accounts, per-server overrides, other
//! tenants, and two logins racing with one code.

use crate::common::*;
use app::functions::portal::{
    BeginAuthenticator, ConfirmAuthenticator, GenerateRecoveryCodes, MySignInHistory, MySignInMethods,
    RemoveAuthenticator,
};
use app::functions::server_accounts::{AddServerAccount, ListServerAccounts, RemoveServerAccount};
use app::models::AppError;
use chrono::{DateTime, Duration, Utc};
use domain::audit::AuditAction;
use domain::{
    audit::Actor,
    entities::authenticator,
    factors::mapping::{self, NewMapping},
    Clock,
};
use proto::login::{Action, LoginOutcome, LoginReply};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

const PROMPT: &str = "Verification code: ";

/// The code an authenticator app with `secret` (base32) shows at `t` (RFC 6238, SHA-1, 6 digits).
fn code_at(secret: &str, t: DateTime<Utc>) -> String {
    let seed = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, String::new());
    totp.generate(t.timestamp() as u64)
}

struct World {
    app: TestApp,
    p: Protected,
    alice: Login,
    alice_cookie: String,
    /// The base32 secret of Alice's authenticator "Pixel".
    secret: String,
}

fn actor() -> Actor {
    Actor::new("test", "127.0.0.1")
}

async fn map(
    app: &TestApp,
    p: &Protected,
    account: &str,
    user: Uuid,
    server: Option<Uuid>,
) -> domain::factors::mapping::Mapping {
    let new = NewMapping {
        account: domain::validate::AccountName::parse(account).unwrap(),
        end_user_id: user,
        server_id: server,
    };
    mapping::add(&app.ctx, &p.caller, &actor(), &new).await.unwrap()
}

/// Adds an authenticator on the portal, as its user would: start, read the secret, confirm
/// with the code the app shows now.
async fn enroll(app: &TestApp, cookie: &str, name: &str) -> String {
    let e = app.run(cookie, BeginAuthenticator { name: name.into() }).await;
    assert!(e.qr_data_uri.starts_with("data:image/svg+xml;base64,"));
    let code = code_at(&e.secret, app.clock.now());
    let added = app.run(cookie, ConfirmAuthenticator { id: e.id.to_string(), code }).await;
    assert_eq!(added.name, name);
    e.secret
}

/// A server in verification-code mode whose `root` is Alice's, and Alice with one
/// authenticator. The clock has moved past the step her enrolment code used.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Codes", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let alice = p.tenant.end_user(&app, "alice").await;
    map(&app, &p, "root", alice.id, None).await;
    let accepted = app.accept_invitation(&alice, "Pixel").await;
    let (alice_cookie, secret) = (accepted.cookie, accepted.secret);
    app.clock.advance(Duration::minutes(5));
    World { app, p, alice, alice_cookie, secret }
}

impl World {
    async fn start(&self, account: &str) -> LoginReply {
        self.app.start_ok(&self.p, account, "198.51.100.7").await
    }

    async fn code_now(&self, steps: i64) -> String {
        code_at(&self.secret, self.app.clock.now() + Duration::seconds(30 * steps))
    }
}

async fn an_authenticator_code_logs_in_once_and_a_replay_is_refused(backend: Backend) {
    let w = world(backend).await;
    let login = w.start("root").await;
    assert_eq!(prompt_of(&login.step), (PROMPT, false), "codes are typed unseen");
    let code = w.code_now(0).await;
    let done = w.app.answer_ok(&w.p, login.login_id, &code).await;
    assert_eq!(done.step.action, Action::Allow);
    let audit = w.app.login_row(login.login_id).await;
    assert_eq!((audit.result.map(|r| r.as_str()), audit.method.as_str()), (Some("allowed"), "code"));
    assert_eq!(audit.end_user_id, Some(w.alice.id));
    assert!(audit.reason.contains("authenticator Pixel"), "{}", audit.reason);

    // The same code, in another login within its 30 seconds: refused.
    let again = w.start("root").await;
    let replay = w.app.answer_ok(&w.p, again.login_id, &code).await;
    assert_eq!(prompt_of(&replay.step).0, PROMPT);
    assert_eq!(replay.step.info, ["Wrong code. 2 attempts left."]);
    // The next code is fine.
    w.app.clock.advance(Duration::seconds(30));
    let next = w.app.answer_ok(&w.p, again.login_id, &w.code_now(0).await).await;
    assert_eq!(next.step.action, Action::Allow);

    // The seed is not stored in the clear.
    let row = authenticator::Entity::find()
        .filter(authenticator::Column::UserId.eq(w.alice.id))
        .one(&w.app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.secret_ciphertext.contains(&w.secret));

    // Alice's sign-in history shows both logins, newest first; nobody else's.
    let history = w.app.run(&w.alice_cookie, MySignInHistory { page: 1, page_size: 20 }).await;
    assert_eq!(history.total, 2);
    assert!(history
        .rows
        .iter()
        .all(|r| r.result == LoginOutcome::Allowed && r.server == "web-01" && r.account == "root"));
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    let bob_cookie = w.app.sign_in(&bob).await;
    let theirs = w.app.run(&bob_cookie, MySignInHistory { page: 1, page_size: 20 }).await;
    assert_eq!(theirs.total, 0);
    let anonymous = w.app.refused(NO_SESSION, MySignInHistory { page: 1, page_size: 20 }).await;
    assert_eq!(anonymous.status, 401);
}
on_both_databases!(
    an_authenticator_code_logs_in_once_and_a_replay_is_refused,
    super::an_authenticator_code_logs_in_once_and_a_replay_is_refused
);

async fn a_code_is_good_one_step_either_side_and_no_further(backend: Backend) {
    let w = world(backend).await;
    let login = w.start("root").await;
    let two_ago = w.app.answer_ok(&w.p, login.login_id, &w.code_now(-2).await).await;
    assert_eq!(two_ago.step.info, ["Wrong code. 2 attempts left."], "a code from two steps ago");
    let two_ahead = w.app.answer_ok(&w.p, login.login_id, &w.code_now(2).await).await;
    assert_eq!(two_ahead.step.info, ["Wrong code. 1 attempt left."], "a code from two steps ahead");
    let one_ago = w.app.answer_ok(&w.p, login.login_id, &w.code_now(-1).await).await;
    assert_eq!(one_ago.step.action, Action::Allow, "one step late is fine");

    let login = w.start("root").await;
    let one_ahead = w.app.answer_ok(&w.p, login.login_id, &w.code_now(1).await).await;
    assert_eq!(one_ahead.step.action, Action::Allow, "one step early is fine");
    // After the step +1 code, the current step's code is older: spent.
    let login = w.start("root").await;
    let older = w.app.answer_ok(&w.p, login.login_id, &w.code_now(0).await).await;
    assert_eq!(older.step.info, ["Wrong code. 2 attempts left."]);
}
on_both_databases!(
    a_code_is_good_one_step_either_side_and_no_further,
    super::a_code_is_good_one_step_either_side_and_no_further
);

async fn three_wrong_codes_end_a_login_and_ten_stop_the_user_for_a_while(backend: Backend) {
    let w = world(backend).await;
    let right = w.code_now(0).await;
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let login = w.start("root").await;
    let first = w.app.answer_ok(&w.p, login.login_id, wrong).await;
    assert_eq!(first.step.info, ["Wrong code. 2 attempts left."]);
    let second = w.app.answer_ok(&w.p, login.login_id, "not a code").await;
    assert_eq!(second.step.info, ["Wrong code. 1 attempt left."]);
    let third = w.app.answer_ok(&w.p, login.login_id, wrong).await;
    assert!(denial(&third.step).contains("no attempts are left"));
    let late = w.app.answer_ok(&w.p, login.login_id, &right).await;
    assert!(denial(&late.step).contains("already ended"));
    assert_eq!(w.app.login_row(login.login_id).await.reason, "3 wrong codes");

    // Opening more logins does not buy more guesses: after 10 wrong codes in 15 minutes, the
    // user's logins are refused, right code or not.
    for _ in 0..2 {
        let l = w.start("root").await;
        for _ in 0..3 {
            w.app.answer_ok(&w.p, l.login_id, wrong).await;
        }
    }
    let l = w.start("root").await;
    assert_eq!(w.app.answer_ok(&w.p, l.login_id, wrong).await.step.info, ["Wrong code. 2 attempts left."]);
    let stopped = w.app.answer_ok(&w.p, l.login_id, &right).await;
    assert!(denial(&stopped.step).contains("too many wrong codes"), "{:?}", stopped.step);
    let refused = w.start("root").await;
    assert!(denial(&refused.step).contains("too many wrong codes"));
    w.app.clock.advance(Duration::minutes(16));
    let l = w.start("root").await;
    assert_eq!(w.app.answer_ok(&w.p, l.login_id, &w.code_now(0).await).await.step.action, Action::Allow);
}
on_both_databases!(
    three_wrong_codes_end_a_login_and_ten_stop_the_user_for_a_while,
    super::three_wrong_codes_end_a_login_and_ten_stop_the_user_for_a_while
);

async fn a_recovery_code_works_once_and_a_new_set_replaces_the_old(backend: Backend) {
    let w = world(backend).await;
    w.app.step_up(&w.alice_cookie, &w.code_now(0).await).await;
    let codes = w.app.run(&w.alice_cookie, GenerateRecoveryCodes {}).await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3), "{codes:?}");
    let methods = w.app.run(&w.alice_cookie, MySignInMethods {}).await;
    assert_eq!((methods.recovery_left, methods.authenticators.len()), (10, 1));

    let login = w.start("root").await;
    let used = w.app.answer_ok(&w.p, login.login_id, &codes[0].to_lowercase()).await;
    assert_eq!(used.step.action, Action::Allow, "case and dashes do not matter");
    assert!(used.step.info[0].contains("9 left"), "{:?}", used.step.info);
    assert!(w.app.login_row(login.login_id).await.reason.contains("recovery code"));

    let login = w.start("root").await;
    let again = w.app.answer_ok(&w.p, login.login_id, &codes[0]).await;
    assert_eq!(again.step.info, ["Wrong code. 2 attempts left."], "a recovery code works once");

    let fresh = w.app.run(&w.alice_cookie, GenerateRecoveryCodes {}).await;
    let old = w.app.answer_ok(&w.p, login.login_id, &codes[1]).await;
    assert_eq!(old.step.info, ["Wrong code. 1 attempt left."], "the old set no longer works");
    assert_eq!(w.app.answer_ok(&w.p, login.login_id, &fresh[3]).await.step.action, Action::Allow);

    // Another user's recovery code is no code for Alice.
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    // His first factor is an app from his invitation; the session it signs in makes his codes.
    let bob_cookie = w.app.accept_invitation(&bob, "Bob's phone").await.cookie;
    let bobs = w.app.run(&bob_cookie, GenerateRecoveryCodes {}).await;
    let login = w.start("root").await;
    assert_eq!(w.app.answer_ok(&w.p, login.login_id, &bobs[0]).await.step.info, ["Wrong code. 2 attempts left."]);
}
on_both_databases!(
    a_recovery_code_works_once_and_a_new_set_replaces_the_old,
    super::a_recovery_code_works_once_and_a_new_set_replaces_the_old
);

async fn unmapped_and_unenrolled_accounts_are_told_what_to_do(backend: Backend) {
    let w = world(backend).await;
    let unmapped = w.start("deploy").await;
    let message = denial(&unmapped.step);
    assert!(message.contains("not linked") && message.contains("link the account deploy"), "{message}");
    assert!(message.contains("/portal"), "{message}");
    let audit = w.app.login_row(unmapped.login_id).await;
    assert_eq!((audit.result.map(|r| r.as_str()), audit.end_user_id), (Some("denied"), None));

    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    map(&w.app, &w.p, "deploy", bob.id, None).await;
    let unenrolled = w.start("deploy").await;
    let message = denial(&unenrolled.step);
    assert!(message.contains("enroll") && message.contains("/portal"), "{message}");
    let audit = w.app.login_row(unenrolled.login_id).await;
    assert_eq!(audit.end_user_id, Some(bob.id), "the login is Bob's");
    assert!(audit.reason.contains("has no authenticator"), "{}", audit.reason);

    // With "allow unenrolled accounts", both get in, and the audit says why.
    let change =
        domain::logins::SettingsChange { fail_mode: "secure".into(), allow_unenrolled: true, ..Default::default() };
    domain::logins::settings::update(&w.app.ctx, &w.p.caller, &actor(), w.p.server_id, &change).await.unwrap();
    for account in ["deploy", "nobody"] {
        let l = w.start(account).await;
        assert_eq!(l.step.action, Action::Allow);
        assert!(w.app.login_row(l.login_id).await.reason.contains("allow unenrolled"));
    }
    // An enrolled user is still asked for a code.
    assert_eq!(prompt_of(&w.start("root").await.step).0, PROMPT);
}
on_both_databases!(
    unmapped_and_unenrolled_accounts_are_told_what_to_do,
    super::unmapped_and_unenrolled_accounts_are_told_what_to_do
);

async fn a_mapping_on_the_server_beats_the_tenant_wide_one(backend: Backend) {
    let w = world(backend).await;
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    let bobs_secret = w.app.accept_invitation(&bob, "Bob's phone").await.secret;
    w.app.clock.advance(Duration::minutes(1));
    let override_ = map(&w.app, &w.p, "root", bob.id, Some(w.p.server_id)).await;

    // On this server, root is Bob's: Alice's code is wrong, Bob's lets him in.
    let login = w.start("root").await;
    let alices = w.app.answer_ok(&w.p, login.login_id, &w.code_now(0).await).await;
    assert_eq!(alices.step.info, ["Wrong code. 2 attempts left."]);
    let bobs = w.app.answer_ok(&w.p, login.login_id, &code_at(&bobs_secret, w.app.clock.now())).await;
    assert_eq!(bobs.step.action, Action::Allow);
    assert_eq!(w.app.login_row(login.login_id).await.end_user_id, Some(bob.id));

    // Elsewhere in the tenant, root is still Alice's.
    let other = ready_servers(w.p.tenant.id, "db", 1);
    let other_id = *other[0].id.as_ref();
    w.app.insert_servers(other).await;
    let resolved = mapping::resolve(&w.app.ctx.db, w.p.tenant.id, other_id, "root").await.unwrap();
    assert_eq!(resolved, Some(w.alice.id));

    // Without the override, Alice's again here too.
    mapping::remove(&w.app.ctx, &w.p.caller, &actor(), override_.id).await.unwrap();
    w.app.clock.advance(Duration::seconds(30));
    let login = w.start("root").await;
    assert_eq!(w.app.answer_ok(&w.p, login.login_id, &w.code_now(0).await).await.step.action, Action::Allow);
    assert_eq!(w.app.login_row(login.login_id).await.end_user_id, Some(w.alice.id));
    let events = domain::audit::list(&w.app.ctx, &w.p.caller, 50).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.action == AuditAction::LoginAccountMapped).count(), 2);
    assert_eq!(events.iter().filter(|e| e.action == AuditAction::LoginAccountUnmapped).count(), 1);
}
on_both_databases!(
    a_mapping_on_the_server_beats_the_tenant_wide_one,
    super::a_mapping_on_the_server_beats_the_tenant_wide_one
);

async fn only_the_tenants_own_users_and_servers_can_be_mapped(backend: Backend) {
    let w = world(backend).await;
    let admin = w.p.tenant.admin(&w.app, "iam").await;
    let admin_cookie = w.app.sign_in(&admin).await;
    let globex = w.app.protected_server("Globex Codes", "db-09", &[]).await;
    let eve = globex.tenant.end_user(&w.app, "eve").await;
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    let add = |account: &str, user: String, server: String| {
        let (app, cookie) = (&w.app, admin_cookie.clone());
        let args = AddServerAccount { account: account.to_owned(), end_user_id: user, server_id: server };
        async move { app.try_run(&cookie, args).await }
    };
    let status = |res: Result<_, Refused>| res.map_or_else(|e| e.status, |_| 200);
    assert_eq!(status(add("eve", eve.id.to_string(), String::new()).await), 404, "another tenant's user");
    assert_eq!(
        status(add("bob", bob.id.to_string(), globex.server_id.to_string()).await),
        404,
        "another tenant's server"
    );
    assert_eq!(status(add("admin", admin.id.to_string(), String::new()).await), 404, "an admin is not an end user");
    let bad = add("-rf", bob.id.to_string(), String::new()).await.unwrap_err();
    assert_eq!(bad.status, 422);
    assert!(matches!(&bad.error, AppError::Validation { field, .. } if field == "account"), "{bad}");
    let res = add("root", bob.id.to_string(), String::new()).await;
    assert_eq!(status(res), 409, "root is Alice's on every server already");
    let row = add("bob", bob.id.to_string(), w.p.server_id.to_string()).await.unwrap();
    assert_eq!((row.server_name.as_deref(), row.end_user_email.as_str()), (Some("web-01"), bob.email.as_str()));

    let page = w.app.run(&admin_cookie, ListServerAccounts {}).await;
    let listed: Vec<_> = page.mappings.iter().map(|m| (m.account.as_str(), m.server_name.as_deref())).collect();
    assert_eq!(listed, [("bob", Some("web-01")), ("root", None)]);
    assert!(page.end_users.iter().all(|u| !u.label.contains("eve@")), "only the tenant's users are offered");
    assert_eq!(page.servers.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["web-01"]);

    // Globex's admin can neither see nor remove Acme's mappings; end users see no mappings.
    let globex_admin = w.app.sign_in(&globex.tenant.admin(&w.app, "iam").await).await;
    let theirs = w.app.run(&globex_admin, ListServerAccounts {}).await;
    assert!(theirs.mappings.is_empty());
    let remove = || RemoveServerAccount { id: row.id.to_string() };
    assert_eq!(w.app.refused(&globex_admin, remove()).await.status, 404);
    assert_eq!(w.app.refused(&w.alice_cookie, ListServerAccounts {}).await.status, 403);
    w.app.run(&admin_cookie, remove()).await;
}
on_both_databases!(
    only_the_tenants_own_users_and_servers_can_be_mapped,
    super::only_the_tenants_own_users_and_servers_can_be_mapped
);

async fn two_logins_racing_with_one_code_let_exactly_one_in(backend: Backend) {
    let w = world(backend).await;
    for round in 0..5 {
        let (a, b) = (w.start("root").await, w.start("root").await);
        let code = w.code_now(0).await;
        let (ra, rb) = tokio::join!(w.app.answer_ok(&w.p, a.login_id, &code), w.app.answer_ok(&w.p, b.login_id, &code));
        let allowed = [&ra, &rb].iter().filter(|r| r.step.action == Action::Allow).count();
        assert_eq!(allowed, 1, "round {round}: {ra:?} {rb:?}");
        w.app.clock.advance(Duration::seconds(30));
    }
    // A recovery code too.
    w.app.step_up(&w.alice_cookie, &w.code_now(0).await).await;
    let codes = w.app.run(&w.alice_cookie, GenerateRecoveryCodes {}).await;
    for code in &codes[..3] {
        let (a, b) = (w.start("root").await, w.start("root").await);
        let (ra, rb) = tokio::join!(w.app.answer_ok(&w.p, a.login_id, code), w.app.answer_ok(&w.p, b.login_id, code));
        let allowed = [&ra, &rb].iter().filter(|r| r.step.action == Action::Allow).count();
        assert_eq!(allowed, 1, "{ra:?} {rb:?}");
    }
}
on_both_databases!(
    two_logins_racing_with_one_code_let_exactly_one_in,
    super::two_logins_racing_with_one_code_let_exactly_one_in
);

async fn authenticators_are_confirmed_limited_and_the_last_one_stays(backend: Backend) {
    let w = world(backend).await;
    let cookie = &w.alice_cookie;
    w.app.step_up(cookie, &w.code_now(0).await).await;
    // A wrong confirming code names the field; nothing is added.
    let e = w.app.run(cookie, BeginAuthenticator { name: "Tablet".into() }).await;
    let confirm = |code: &str| ConfirmAuthenticator { id: e.id.to_string(), code: code.into() };
    let wrong = w.app.refused(cookie, confirm("12345")).await;
    assert_eq!(wrong.status, 422);
    assert!(matches!(&wrong.error, AppError::Validation { field, .. } if field == "code"), "{wrong}");
    let bad_name = w.app.refused(cookie, BeginAuthenticator { name: "x".repeat(65) }).await;
    assert_eq!(bad_name.status, 422);
    // Another user cannot confirm Alice's enrolment.
    let bob = w.p.tenant.end_user(&w.app, "bob").await;
    let bob_cookie = w.app.sign_in(&bob).await;
    let code = code_at(&e.secret, w.app.clock.now());
    let stolen = w.app.refused(&bob_cookie, confirm(&code)).await;
    assert_eq!(stolen.status, 404);
    // An unconfirmed authenticator does not count at a login.
    let login = w.start("root").await;
    assert_eq!(w.app.answer_ok(&w.p, login.login_id, &code).await.step.info, ["Wrong code. 2 attempts left."]);

    for i in 2..=5 {
        w.app.clock.advance(Duration::seconds(30));
        enroll(&w.app, cookie, &format!("Phone {i}")).await;
    }
    let sixth = w.app.refused(cookie, BeginAuthenticator { name: "Sixth".into() }).await;
    assert_eq!(sixth.status, 409);
    assert!(sixth.error.to_string().contains("5 authenticators"), "{sixth}");

    let methods = w.app.run(cookie, MySignInMethods {}).await;
    assert_eq!(methods.authenticators.len(), 5);
    let remove = |id: Uuid| RemoveAuthenticator { id: id.to_string() };
    for a in &methods.authenticators[1..] {
        w.app.run(cookie, remove(a.id)).await;
    }
    let last = &methods.authenticators[0];
    let refused = w.app.refused(cookie, remove(last.id)).await;
    assert_eq!(refused.status, 409);
    assert!(refused.error.to_string().contains("only authenticator"), "{refused}");
    assert_eq!(w.app.refused(&bob_cookie, remove(last.id)).await.status, 404);
    let events = domain::audit::list(&w.app.ctx, &w.p.caller, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.action == AuditAction::FactorAuthenticatorAdded).count(), 5);
    assert_eq!(events.iter().filter(|e| e.action == AuditAction::FactorAuthenticatorRemoved).count(), 4);
}
on_both_databases!(
    authenticators_are_confirmed_limited_and_the_last_one_stays,
    super::authenticators_are_confirmed_limited_and_the_last_one_stays
);

async fn without_a_secret_key_enrolment_is_refused_naming_the_setting(backend: Backend) {
    let app = spawn_app_with(backend, Options { secret_key: None, ..Options::empty() }).await;
    let tenant = app.create_tenant("Acme Keyless").await;
    let alice = tenant.end_user(&app, "alice").await;
    let cookie = app.sign_in(&alice).await;
    let refused = app.refused(&cookie, BeginAuthenticator { name: "Pixel".into() }).await;
    assert_eq!(refused.status, 409);
    assert!(refused.error.to_string().contains("HOSTGUARD_SECRET_KEY"), "{refused}");
}
on_both_databases!(
    without_a_secret_key_enrolment_is_refused_naming_the_setting,
    super::without_a_secret_key_enrolment_is_refused_naming_the_setting
);

async fn the_demo_maps_its_users_accounts(backend: Backend) {
    use domain::entities::{server, tenant, user};
    let app = spawn_app(backend).await;
    let db = &app.ctx.db;
    let acme = tenant::Entity::find().filter(tenant::Column::Name.eq("Acme Retail")).one(db).await.unwrap().unwrap();
    let server_id = |name: &'static str| async move {
        server::Entity::find().filter(server::Column::Name.eq(name)).one(db).await.unwrap().unwrap().id
    };
    let user_id = |email: &'static str| async move {
        user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await.unwrap().unwrap().id
    };
    let (web, dbs) = (server_id("acme-web-01").await, server_id("acme-db-03").await);
    let owner = |server: Uuid, account: &'static str| mapping::resolve(db, acme.id, server, account);
    assert_eq!(owner(web, "bob").await.unwrap(), Some(user_id("bob@acme.example").await));
    assert_eq!(owner(web, "root").await.unwrap(), Some(user_id("alice@acme.example").await));
    assert_eq!(owner(dbs, "root").await.unwrap(), Some(user_id("carmen@acme.example").await));
    assert_eq!(owner(web, "deploy").await.unwrap(), None);
}
on_both_databases!(the_demo_maps_its_users_accounts, super::the_demo_maps_its_users_accounts);

/// Issue 15, item 6: the per-user cap on wrong codes holds under concurrency. Twenty wrong
/// answers at once, each in its own login, record at most the cap; the rest are refused by it.
async fn twenty_parallel_wrong_codes_for_one_user_count_at_most_the_cap(backend: Backend) {
    use domain::entities::server_login;
    let w = world(backend).await;
    let mut logins = vec![];
    for _ in 0..20 {
        let login = w.start("root").await;
        assert_eq!(prompt_of(&login.step).0, PROMPT);
        logins.push(login.login_id);
    }
    let wrong = if w.code_now(0).await == "000000" { "111111" } else { "000000" };
    let agent = w.app.agent_of(&w.p);
    let replies = futures::future::join_all(logins.iter().map(|id| agent.login_answer(*id, wrong))).await;
    let mut capped = 0;
    for reply in replies {
        if matches!(reply.step.action, Action::Deny { ref message } if message.contains("too many wrong codes")) {
            capped += 1;
        }
    }
    let rows = server_login::Entity::find()
        .filter(server_login::Column::EndUserId.eq(w.alice.id))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    let recorded: i64 = rows.iter().map(|r| i64::from(r.attempts)).sum();
    assert_eq!(recorded, domain::logins::USER_WRONG_CODES, "wrong codes checked for one user; the cap is the cap");
    assert_eq!(capped, 20 - domain::logins::USER_WRONG_CODES, "the rest are refused by the cap");
}
on_both_databases!(
    twenty_parallel_wrong_codes_for_one_user_count_at_most_the_cap,
    super::twenty_parallel_wrong_codes_for_one_user_count_at_most_the_cap
);
