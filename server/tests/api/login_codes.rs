//! "Get a code" (issue 17, item 8): an end user's approval device signs a single-use nonce and
//! gets a one-time code for one server login, typed at the login prompt like any passcode. It
//! works once and for 10 minutes; a forged, replayed or another person's signature gets none;
//! two logins racing with one code let one in; at most 5 an hour; each is audited and mailed.

use crate::common::*;
use app::functions::login_codes::{CodeNonce, GetCode, NonceToSign, OneTimeCode};
use app::models::AppError;
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use domain::entities::{approval_device, audit_event, login_code, outbox};
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    pkcs8::EncodePublicKey,
};
use proto::login::{Action, LoginReply};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// An approval device as the browser holds it.
struct Device {
    id: Uuid,
    key: SigningKey,
}

impl Device {
    fn sign(&self, nonce: &str) -> String {
        let sig: Signature = self.key.sign(proto::push::code_request_message(nonce).as_bytes());
        STANDARD.encode(sig.to_bytes())
    }
}

/// Registers a device for `who` straight in the table (its registration is tested with the
/// Approvals page).
async fn device(app: &TestApp, tenant_id: Uuid, who: &Login) -> Device {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let spki = p256::PublicKey::from(key.verifying_key()).to_public_key_der().unwrap();
    let id = Uuid::new_v4();
    approval_device::Entity::insert(approval_device::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        user_id: Set(who.id),
        name: Set("Alice's laptop".into()),
        public_key: Set(spki.as_bytes().to_vec()),
        created_at: Set(domain::Clock::now(&app.clock)),
        last_used_at: Set(None),
    })
    .exec_without_returning(&app.ctx.db)
    .await
    .unwrap();
    Device { id, key }
}

struct World {
    app: TestApp,
    p: Protected,
    alice: Login,
    cookie: String,
    laptop: Device,
}

/// A verification-code server whose `root` is Alice's; Alice has an approval device (so the
/// prompt offers push) and is signed in to the portal.
async fn world(backend: Backend) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Codes", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let alice = app.account_owner(&p, "alice", "root").await;
    let laptop = device(&app, p.tenant.id, &alice).await;
    let cookie = app.sign_in(&alice).await;
    World { app, p, alice, cookie, laptop }
}

impl World {
    async fn nonce(&self) -> String {
        let n: NonceToSign = self.app.run(&self.cookie, CodeNonce {}).await;
        n.nonce
    }

    /// Asks for a code, signed by `device` as the portal would.
    async fn try_code(&self, device: &Device) -> Result<OneTimeCode, Refused> {
        let nonce = self.nonce().await;
        let signature = device.sign(&nonce);
        self.app.try_run(&self.cookie, GetCode { device_id: device.id.to_string(), nonce, signature }).await
    }

    /// Bob, who owns `deploy` on the server and has an approval device of his own, gets a code.
    async fn bob_with_a_code(&self) -> OneTimeCode {
        let bob = self.app.account_owner(&self.p, "bob", "deploy").await;
        let device = device(&self.app, self.p.tenant.id, &bob).await;
        let cookie = self.app.sign_in(&bob).await;
        let n: NonceToSign = self.app.run(&cookie, CodeNonce {}).await;
        let signature = device.sign(&n.nonce);
        self.app.run(&cookie, GetCode { device_id: device.id.to_string(), nonce: n.nonce, signature }).await
    }

    async fn login_with(&self, code: &str) -> LoginReply {
        let login = self.app.start_ok(&self.p, "root", "198.51.100.7").await;
        self.app.answer_ok(&self.p, login.login_id, code).await
    }

    async fn audit(&self, action: &str) -> Vec<audit_event::Model> {
        audit_event::Entity::find()
            .filter(audit_event::Column::TenantId.eq(self.p.tenant.id))
            .all(&self.app.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action.as_str() == action)
            .collect()
    }
}

fn invalid_field(r: &Refused) -> bool {
    r.status == 422 && format!("{:?}", r.error).contains("signature")
}

async fn a_code_logs_in_once_and_is_mailed(backend: Backend) {
    let w = world(backend).await;
    let got = w.try_code(&w.laptop).await.unwrap();
    assert_eq!(got.code.len(), 9, "8 digits shown as two groups: {}", got.code);
    assert!(got.code.replace(' ', "").bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(got.valid_minutes, 10);
    assert_eq!(got.left_this_hour, 4);

    // Hashed at rest: the table does not hold the digits.
    let rows = login_code::Entity::find().all(&w.app.ctx.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].code_hash.starts_with("$argon2id$") && !rows[0].code_hash.contains(&got.code.replace(' ', "")));

    // Typed at the prompt (with or without its space) like any passcode: in.
    let done = w.login_with(&got.code).await;
    assert_eq!(done.step.action, Action::Allow, "{:?}", done.step);
    let row = w.app.login_row(done.login_id).await;
    assert_eq!(row.reason, "one-time code from the portal accepted");
    let spent = login_code::Entity::find().one(&w.app.ctx.db).await.unwrap().unwrap();
    assert_eq!(spent.login_id, Some(done.login_id));

    // Once only.
    let again = w.login_with(&got.code.replace(' ', "")).await;
    assert_ne!(again.step.action, Action::Allow);

    // Audited, and mailed to Alice (without the code).
    let issued = w.audit("login_code.issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].target, w.alice.email);
    assert!(issued[0].detail.contains("Alice's laptop"), "{}", issued[0].detail);
    let mails = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(w.alice.email.as_str()))
        .filter(outbox::Column::Kind.eq(proto::MessageKind::LoginCodeIssued))
        .all(&w.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    let text = domain::outbox::render(&mails[0]).body_text;
    assert!(text.contains("one-time code") && text.contains("Alice's laptop"), "{text}");
    assert!(!text.contains(&got.code.replace(' ', "")) && !text.contains(&got.code), "the mail never holds the code");
}
on_both_databases!(a_code_logs_in_once_and_is_mailed, super::a_code_logs_in_once_and_is_mailed);

async fn a_code_expires_and_a_new_one_replaces_it(backend: Backend) {
    let w = world(backend).await;
    let first = w.try_code(&w.laptop).await.unwrap();
    let second = w.try_code(&w.laptop).await.unwrap();
    assert_ne!(w.login_with(&first.code).await.step.action, Action::Allow, "a new code replaces the one before");
    w.app.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    let late = w.login_with(&second.code).await;
    assert_ne!(late.step.action, Action::Allow, "10 minutes, no more");
    // A fresh one works again.
    let third = w.try_code(&w.laptop).await.unwrap();
    assert_eq!(w.login_with(&third.code).await.step.action, Action::Allow);
}
on_both_databases!(a_code_expires_and_a_new_one_replaces_it, super::a_code_expires_and_a_new_one_replaces_it);

async fn only_a_fresh_signature_of_ones_own_device_gets_a_code(backend: Backend) {
    let w = world(backend).await;
    let app = &w.app;

    // A stolen session alone: a key that is not the device's.
    let thief = Device { id: w.laptop.id, key: SigningKey::random(&mut rand::rngs::OsRng) };
    let refused = w.try_code(&thief).await.unwrap_err();
    assert!(invalid_field(&refused), "{refused}");
    assert_eq!(w.audit("login_code.signature_refused").await.len(), 1, "a bad signature is audited");

    // A signature of another nonce, or of a push decision's text, is not one of this nonce.
    let nonce = w.nonce().await;
    let other = w.nonce().await;
    let r = app
        .refused(
            &w.cookie,
            GetCode { device_id: w.laptop.id.to_string(), nonce: nonce.clone(), signature: w.laptop.sign(&other) },
        )
        .await;
    assert!(invalid_field(&r), "{r}");
    let push_text = proto::push::signed_message(Uuid::new_v4(), 0, proto::push::PushDecision::Deny);
    let sig: Signature = w.laptop.key.sign(push_text.as_bytes());
    let r = app
        .refused(
            &w.cookie,
            GetCode {
                device_id: w.laptop.id.to_string(),
                nonce: other.clone(),
                signature: STANDARD.encode(sig.to_bytes()),
            },
        )
        .await;
    assert!(invalid_field(&r), "{r}");

    // A replayed signature: its nonce is spent by the first use.
    let nonce = w.nonce().await;
    let signature = w.laptop.sign(&nonce);
    let args = GetCode { device_id: w.laptop.id.to_string(), nonce, signature };
    app.run(&w.cookie, args.clone()).await;
    let r = app.refused(&w.cookie, args).await;
    assert_eq!(r.status, 409, "{r}");
    // A nonce's first attempt spends it even when the signature was bad.
    let nonce = w.nonce().await;
    let bad = GetCode { device_id: w.laptop.id.to_string(), nonce: nonce.clone(), signature: thief.sign(&nonce) };
    app.refused(&w.cookie, bad).await;
    let good = GetCode { device_id: w.laptop.id.to_string(), nonce: nonce.clone(), signature: w.laptop.sign(&nonce) };
    assert_eq!(app.refused(&w.cookie, good).await.status, 409);
    // An expired nonce.
    let nonce = w.nonce().await;
    app.clock.advance(Duration::minutes(6));
    let late = GetCode { device_id: w.laptop.id.to_string(), nonce: nonce.clone(), signature: w.laptop.sign(&nonce) };
    assert_eq!(app.refused(&w.cookie, late).await.status, 409);
    // Garbage is refused naming the field.
    let nonce = w.nonce().await;
    let r =
        app.refused(&w.cookie, GetCode { device_id: w.laptop.id.to_string(), nonce, signature: "AAAA".into() }).await;
    assert!(invalid_field(&r), "{r}");

    // Bob (same tenant) cannot use Alice's device or her nonce; Alice cannot use his device.
    let bob = w.p.tenant.end_user(app, "bob").await;
    let bob_phone = device(app, w.p.tenant.id, &bob).await;
    let bob_cookie = app.sign_in(&bob).await;
    let nonce = w.nonce().await;
    let r = app
        .refused(
            &bob_cookie,
            GetCode { device_id: w.laptop.id.to_string(), nonce: nonce.clone(), signature: w.laptop.sign(&nonce) },
        )
        .await;
    assert_eq!(r.status, 404, "another person's nonce and device are not found: {r}");
    let r = w.try_code(&bob_phone).await.unwrap_err();
    assert_eq!(r.status, 404, "{r}");

    // Another tenant's person with a device of their own: Alice's is not found for them.
    let globex = app.create_tenant("Globex Codes").await;
    let dmitri = globex.end_user(app, "dmitri").await;
    let _his = device(app, globex.id, &dmitri).await;
    let his_cookie = app.sign_in(&dmitri).await;
    let n: NonceToSign = app.run(&his_cookie, CodeNonce {}).await;
    let r = app
        .refused(
            &his_cookie,
            GetCode { device_id: w.laptop.id.to_string(), nonce: n.nonce.clone(), signature: w.laptop.sign(&n.nonce) },
        )
        .await;
    assert_eq!(r.status, 404, "{r}");

    // Only end users; no session is 401.
    let admin = app.sign_in(&w.p.admin).await;
    assert_eq!(app.refused(&admin, CodeNonce {}).await.status, 403);
    assert_eq!(app.refused(NO_SESSION, CodeNonce {}).await.status, 401);

    // Of all that, one code was issued (the one replay's first use).
    assert_eq!(login_code::Entity::find().all(&app.ctx.db).await.unwrap().len(), 1);
}
on_both_databases!(
    only_a_fresh_signature_of_ones_own_device_gets_a_code,
    super::only_a_fresh_signature_of_ones_own_device_gets_a_code
);

async fn two_logins_racing_with_one_code_let_one_in(backend: Backend) {
    let w = world(backend).await;
    let got = w.try_code(&w.laptop).await.unwrap();
    for _ in 0..3 {
        let a = w.app.start_ok(&w.p, "root", "198.51.100.7").await;
        let b = w.app.start_ok(&w.p, "root", "198.51.100.8").await;
        // One of the two may be refused as busy (one person's code is checked once at a time):
        // a refusal too.
        let agent = w.app.agent_of(&w.p);
        let (ra, rb) =
            tokio::join!(agent.try_login_answer(a.login_id, &got.code), agent.try_login_answer(b.login_id, &got.code));
        for r in [&ra, &rb] {
            if let Err(e) = r {
                assert_eq!(agent_status(e), 500, "{e:?}");
            }
        }
        let allowed = [ra, rb].iter().filter(|r| r.as_ref().is_ok_and(|r| r.step.action == Action::Allow)).count();
        assert!(allowed <= 1, "one code, one login");
    }
    let ins =
        login_code::Entity::find().filter(login_code::Column::UsedAt.is_not_null()).all(&w.app.ctx.db).await.unwrap();
    assert_eq!(ins.len(), 1, "the code was spent exactly once");
}
on_both_databases!(two_logins_racing_with_one_code_let_one_in, super::two_logins_racing_with_one_code_let_one_in);

/// A code is checked before the login's write, then spent in it, for its own person only; a
/// wrong 8-digit code counts as a wrong code.
async fn a_code_opens_only_its_own_persons_login(backend: Backend) {
    let w = world(backend).await;
    let bobs = w.bob_with_a_code().await;
    let got = w.try_code(&w.laptop).await.unwrap();
    let bobs_login = w.app.start_ok(&w.p, "deploy", "198.51.100.9").await;
    let typed = w.app.answer_ok(&w.p, bobs_login.login_id, &got.code).await;
    assert_ne!(typed.step.action, Action::Allow, "Alice's code at Bob's login: {:?}", typed.step);
    assert_eq!(w.app.login_row(bobs_login.login_id).await.attempts, 1, "a wrong code");
    let unspent = login_code::Entity::find().all(&w.app.ctx.db).await.unwrap();
    assert!(unspent.iter().all(|c| c.used_at.is_none()), "both still their owners' to use");
    assert_eq!(w.login_with(&got.code).await.step.action, Action::Allow);
    assert_eq!(w.app.answer_ok(&w.p, bobs_login.login_id, &bobs.code).await.step.action, Action::Allow);
}
on_both_databases!(a_code_opens_only_its_own_persons_login, super::a_code_opens_only_its_own_persons_login);

/// A code's argon2 check runs only where the code could count, and waits for a password-check
/// slot only so long: with every slot taken, a person past their wrong codes is still answered
/// at once (refused), and another person's code is refused after a few seconds.
async fn a_person_past_their_wrong_codes_gets_no_argon2_check(backend: Backend) {
    let w = world(backend).await;
    let got = w.try_code(&w.laptop).await.unwrap();
    let limit = domain::logins::USER_WRONG_CODES as usize;
    let per_login = domain::logins::MAX_CODE_ATTEMPTS as usize;
    // This login began before the wrong codes were typed; it is answered after them.
    let pending = w.app.start_ok(&w.p, "root", "198.51.100.7").await;
    let mut wrong = 0;
    while wrong < limit {
        let login = w.app.start_ok(&w.p, "root", "198.51.100.7").await;
        for _ in 0..per_login.min(limit - wrong) {
            let reply = w.app.answer_ok(&w.p, login.login_id, "000000").await;
            assert_ne!(reply.step.action, Action::Allow);
            wrong += 1;
        }
    }
    // Bob, whose code is checked while the slots are taken.
    let bobs = w.bob_with_a_code().await;
    let login = w.app.start_ok(&w.p, "deploy", "198.51.100.9").await;
    let slots = w.app.ctx.password_checks.clone();
    let taken = slots.clone().acquire_many_owned(slots.available_permits() as u32).await.unwrap();
    let late =
        tokio::time::timeout(std::time::Duration::from_secs(10), w.app.answer_ok(&w.p, pending.login_id, &got.code))
            .await
            .expect("answered without waiting for a password-check slot");
    match &late.step.action {
        Action::Deny { message } => assert!(message.contains("too many wrong codes"), "{message}"),
        other => panic!("refused for too many wrong codes, not {other:?}"),
    }
    // Anyone else's code waits for a slot a few seconds at most; then the login is refused (a
    // 500, which the agent takes as an answer), not left hanging.
    let started = std::time::Instant::now();
    let refused = w.app.agent_of(&w.p).try_login_answer(login.login_id, &bobs.code).await.unwrap_err();
    assert_eq!(agent_status(&refused), 500, "{refused:?}");
    assert!(!refused.possible_outage(), "an answer, not an outage");
    assert!(started.elapsed() >= domain::push::codes::CHECK_SLOT_WAIT, "{:?}", started.elapsed());
    drop(taken);
    let unspent = login_code::Entity::find().all(&w.app.ctx.db).await.unwrap();
    assert!(unspent.iter().all(|c| c.used_at.is_none()), "{unspent:?}");
    // With the slots free again, Bob's code works.
    let again = w.app.start_ok(&w.p, "deploy", "198.51.100.9").await;
    assert_eq!(w.app.answer_ok(&w.p, again.login_id, &bobs.code).await.step.action, Action::Allow);
}
on_both_databases!(
    a_person_past_their_wrong_codes_gets_no_argon2_check,
    super::a_person_past_their_wrong_codes_gets_no_argon2_check
);

/// One person's code is checked once at a time: of a burst of answers for them, the ones that
/// arrive while another is checked are refused (a 500, an answer), not hashed beside it; the
/// burst's wrong codes count as before, and the person's code works afterwards.
async fn a_burst_of_codes_for_one_person_is_checked_one_at_a_time(backend: Backend) {
    let w = world(backend).await;
    let got = w.try_code(&w.laptop).await.unwrap();
    let agent = w.app.agent_of(&w.p);
    let logins: Vec<_> =
        futures_util::future::join_all((0..8).map(|_| w.app.start_ok(&w.p, "root", "198.51.100.7"))).await;
    let answers = futures_util::future::join_all(
        logins
            .iter()
            .enumerate()
            .map(|(i, l)| agent.try_login_answer(l.login_id, if i % 2 == 0 { "1111 1111" } else { "2222 2222" })),
    )
    .await;
    let busy = answers.iter().filter(|a| a.as_ref().is_err_and(|e| agent_status(e) == 500)).count();
    let counted = answers.iter().filter(|a| a.as_ref().is_ok_and(|r| r.step.action != Action::Allow)).count();
    assert!(busy >= 1, "{answers:?}");
    assert_eq!(busy + counted, 8, "each refused busy or counted wrong: {answers:?}");
    // A busy refusal checked nothing and counts nothing; each checked code counts once.
    for (login, answer) in logins.iter().zip(&answers) {
        let attempts = w.app.login_row(login.login_id).await.attempts;
        assert_eq!(attempts, if answer.is_ok() { 1 } else { 0 }, "{answer:?}");
    }
    let done = w.login_with(&got.code).await;
    assert_eq!(done.step.action, Action::Allow, "{:?}", done.step);
}
on_both_databases!(
    a_burst_of_codes_for_one_person_is_checked_one_at_a_time,
    super::a_burst_of_codes_for_one_person_is_checked_one_at_a_time
);

async fn five_codes_an_hour(backend: Backend) {
    let w = world(backend).await;
    for left in (0..5).rev() {
        assert_eq!(w.try_code(&w.laptop).await.unwrap().left_this_hour, left);
    }
    let r = w.try_code(&w.laptop).await.unwrap_err();
    assert_eq!(r.status, 429, "{r}");
    assert!(matches!(&r.error, AppError::RateLimited(m) if m.contains("5 codes in the last hour")), "{r}");
    w.app.clock.advance(Duration::minutes(61));
    w.try_code(&w.laptop).await.unwrap();
    assert_eq!(w.audit("login_code.issued").await.len(), 6);
}
on_both_databases!(five_codes_an_hour, super::five_codes_an_hour);

/// Answers ssh's password prompt with the sandbox account's password, and any other prompt
/// with the code the test wrote beside it.
const ASKPASS: &str = r#"#!/bin/sh
case "$1" in
  *assword*) echo "$HG_PASSWORD" ;;
  *) cat "$(dirname "$0")/code" ;;
esac
"#;

async fn a_code_logs_in_over_real_ssh(backend: Backend) {
    use crate::sshd_e2e::Sshd;
    use std::os::unix::fs::PermissionsExt;
    if let Some(why) = crate::login_e2e::skip_reason() {
        println!("SKIP real sshd test: {why}");
        return;
    }
    let s = Sshd::start(backend).await;
    let askpass = s.path("code-askpass");
    std::fs::write(&askpass, ASKPASS).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    eventually("the agent reports in", || async {
        let page = s.app.two_factor_page(&s.admin, &[]).await;
        page.items.iter().any(|r| r.id == s.p.server_id && r.agent_online)
    })
    .await;
    let alice = s.app.account_owner(&s.p, "alice", "hgtest").await;
    let laptop = device(&s.app, s.p.tenant.id, &alice).await;
    s.change(testkit::enable_code, app::models::TwoFactorState::Enabled).await;
    let cookie = s.app.sign_in(&alice).await;
    let n: NonceToSign = s.app.run(&cookie, CodeNonce {}).await;
    let got = s
        .app
        .run(&cookie, GetCode { device_id: laptop.id.to_string(), signature: laptop.sign(&n.nonce), nonce: n.nonce })
        .await;
    std::fs::write(s.path("code"), format!("{}\n", got.code)).unwrap();

    let ssh = || {
        tokio::process::Command::new("setsid")
            .args(["-w", "ssh", "-p", &s.port.to_string()])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", "PreferredAuthentications=keyboard-interactive", "-o", "NumberOfPasswordPrompts=1"])
            .args(["-o", "ConnectTimeout=10", "-o", "PubkeyAuthentication=no"])
            .args(["hgtest@127.0.0.1", "true"])
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HG_PASSWORD", "hg-test-password-1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status()
    };
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), ssh()).await.unwrap().unwrap();
    assert!(first.success(), "the code from the portal logs in over real SSH");
    let again = tokio::time::timeout(std::time::Duration::from_secs(60), ssh()).await.unwrap().unwrap();
    assert!(!again.success(), "and only once");
    let logins = domain::logins::audit::list(
        &s.app.ctx,
        &s.p.caller,
        &domain::logins::audit::AuditQuery { page: 1, page_size: 10, ..Default::default() },
    )
    .await
    .unwrap();
    assert!(logins.items.iter().any(|l| l.reason == "one-time code from the portal accepted"), "{:?}", logins.items);
}
on_both_databases!(a_code_logs_in_over_real_ssh, super::a_code_logs_in_over_real_ssh);
