//! The login prompt's methods (issue 17, items 6, 7 and 9): one echo-on prompt takes a passcode
//! or a method's number (1 Push, 2 Call me, 3 SMS passcode), listing only what is offered; calls
//! and SMS passcodes are paid from the tenant's credits; a push carries its number in the prompt,
//! an empty answer waits for its decision (held by the console, decided from the test as the
//! approval side would), and pushes are limited per person.

use crate::common::*;
use chrono::Duration;
use domain::entities::credit_entry;
use domain::logins::{MENU_PROMPT, OUT_OF_CREDITS};
use proto::login::{Action, LoginReply};
use proto::push::PushStatus;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Instant;
use uuid::Uuid;

const PHONE: &str = "+8613800001234";

struct World {
    app: TestApp,
    p: Protected,
    alice: Login,
}

/// A verification-code server whose `root` is Alice's; Alice has a phone and, if `device`, an
/// approval device; the tenant has `credits`.
async fn world(backend: Backend, device: bool, credits: i64) -> World {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Prompt", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let alice = app.account_owner(&p, "alice", "root").await;
    app.give_phone(&p, &alice, PHONE).await;
    if device {
        app.give_approval_device(&p, &alice).await;
    }
    app.set_credits(p.tenant.id, credits).await;
    World { app, p, alice }
}

impl World {
    async fn start(&self) -> LoginReply {
        self.app.start_ok(&self.p, "root", "198.51.100.7").await
    }

    async fn answer(&self, login: &LoginReply, answer: &str) -> LoginReply {
        self.app.answer_ok(&self.p, login.login_id, answer).await
    }

    /// Starts a login and chooses Push; returns the login and the number shown.
    async fn pushed(&self) -> (LoginReply, i32) {
        let login = self.start().await;
        let sent = self.answer(&login, "1").await;
        let request = self.app.push_request_of(login.login_id).await;
        assert_eq!(
            prompt_of(&sent.step),
            (format!("Push sent: enter {} in the app, or type a code: ", request.number).as_str(), true)
        );
        (login, request.number)
    }
}

fn lines(step: &proto::login::Step) -> Vec<&str> {
    step.info.iter().map(String::as_str).collect()
}

async fn the_menu_lists_only_what_is_offered(backend: Backend) {
    let w = world(backend, true, 500).await;
    let login = w.start().await;
    assert_eq!(prompt_of(&login.step), (MENU_PROMPT, true), "one echo-on prompt takes codes and numbers");
    assert_eq!(
        lines(&login.step),
        [
            "HostGuard: type a passcode, or the number of a method:",
            "1. Push to your approval device",
            "2. Call me (phone ending 1234)",
            "3. SMS passcode (phone ending 1234)"
        ]
    );
    for line in &login.step.info {
        assert!(!line.chars().any(char::is_control) && line.len() <= 80, "short and plain: {line:?}");
    }

    // Without an approval device: no push; 1 is refused with the menu again.
    let w = world(backend, false, 500).await;
    let login = w.start().await;
    assert_eq!(lines(&login.step)[1..], ["2. Call me (phone ending 1234)", "3. SMS passcode (phone ending 1234)"]);
    let refused = w.answer(&login, "1").await;
    assert_eq!(prompt_of(&refused.step), (MENU_PROMPT, true));
    assert_eq!(refused.step.info[0], "1 is not one of the methods offered.");
    assert_eq!(w.app.login_row(login.login_id).await.attempts, 0, "a wrong number is not a wrong code");
    // Enter alone shows the menu again, uncounted.
    let again = w.answer(&login, "").await;
    assert_eq!(prompt_of(&again.step), (MENU_PROMPT, true));
    assert_eq!(w.app.login_row(login.login_id).await.attempts, 0);

    // Out of credits: push only, and the prompt says why; 3 sends nothing and costs nothing.
    let w = world(backend, true, 4).await;
    let login = w.start().await;
    assert_eq!(lines(&login.step)[1..], ["1. Push to your approval device", OUT_OF_CREDITS]);
    let refused = w.answer(&login, "3").await;
    assert_eq!(lines(&refused.step)[1..], ["1. Push to your approval device", OUT_OF_CREDITS]);
    assert_eq!(w.app.sms_count(PHONE).await, 0);
    assert_eq!(w.app.credits(w.p.tenant.id).await, 4);

    // Enough for an SMS passcode (5), not for a call (10).
    let w = world(backend, false, 7).await;
    let login = w.start().await;
    assert_eq!(
        lines(&login.step)[1..],
        ["3. SMS passcode (phone ending 1234)", "Calls are unavailable: your organisation has too few credits."]
    );
}
on_both_databases!(the_menu_lists_only_what_is_offered, super::the_menu_lists_only_what_is_offered);

async fn an_sms_passcode_is_paid_sent_and_typed_at_the_same_prompt(backend: Backend) {
    let w = world(backend, false, 500).await;
    let login = w.start().await;
    let sent = w.answer(&login, "3").await;
    assert_eq!(prompt_of(&sent.step), (MENU_PROMPT, true));
    assert_eq!(lines(&sent.step), ["A passcode was sent by SMS to the phone ending 1234. It is valid for 5 minutes."]);
    let code = w.app.sms_code(PHONE).await;
    assert_eq!(w.app.credits(w.p.tenant.id).await, 495);
    let charge = credit_entry::Entity::find()
        .filter(credit_entry::Column::LoginId.eq(login.login_id))
        .one(&w.app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((charge.delta, charge.kind), (-5, credit_entry::CreditKind::SmsPasscode), "the charge names its login");
    // A wrong code counts; the right one logs in.
    let wrong = w.answer(&login, "000000").await;
    assert_eq!(wrong.step.info[0], "Wrong code. 2 attempts left.");
    let done = w.answer(&login, &format!(" {code} ")).await;
    assert_eq!(done.step.action, Action::Allow);
    assert_eq!(w.app.login_row(login.login_id).await.reason, "SMS passcode accepted");

    // The code was this login's only: another login cannot use it.
    let other = w.start().await;
    assert_eq!(w.answer(&other, &code).await.step.info[0], "Wrong code. 2 attempts left.");

    // Five minutes, then it is refused; three wrong answers end the login.
    let late = w.start().await;
    w.answer(&late, "3").await;
    let code = w.app.sms_code(PHONE).await;
    w.app.clock.advance(Duration::minutes(6));
    assert_eq!(w.answer(&late, &code).await.step.info[0], "Wrong code. 2 attempts left.");
    w.answer(&late, "111111").await;
    let denied = w.answer(&late, "222222").await;
    assert!(denial(&denied.step).contains("no attempts are left"));
}
on_both_databases!(
    an_sms_passcode_is_paid_sent_and_typed_at_the_same_prompt,
    super::an_sms_passcode_is_paid_sent_and_typed_at_the_same_prompt
);

async fn a_call_reads_the_code_digit_by_digit(backend: Backend) {
    let w = world(backend, false, 500).await;
    let login = w.start().await;
    let calling = w.answer(&login, "2").await;
    assert_eq!(lines(&calling.step), ["Calling the phone ending 1234 with a passcode. It is valid for 5 minutes."]);
    let text = w.app.call_text(PHONE).await;
    let code = w.app.spoken_code(PHONE).await;
    let said: Vec<String> = code.chars().map(String::from).collect();
    assert!(text.contains(&format!("is: {}. Again: {}.", said.join(", "), said.join(", "))), "{text}");
    assert_eq!(w.app.credits(w.p.tenant.id).await, 490, "a call costs 10");
    let done = w.answer(&login, &code).await;
    assert_eq!(done.step.action, Action::Allow);
    assert_eq!(w.app.login_row(login.login_id).await.reason, "code from the call accepted");
}
on_both_databases!(a_call_reads_the_code_digit_by_digit, super::a_call_reads_the_code_digit_by_digit);

/// Sends are limited: three per login, five per person in 15 minutes; each costs.
async fn sends_are_limited_per_login_and_person(backend: Backend) {
    let w = world(backend, false, 500).await;
    let login = w.start().await;
    for _ in 0..3 {
        assert!(lines(&w.answer(&login, "3").await.step)[0].starts_with("A passcode was sent"));
    }
    let refused = w.answer(&login, "3").await;
    assert_eq!(refused.step.info[0], "No more codes can be sent for this login (at most 3).");
    let second = w.start().await;
    w.answer(&second, "2").await;
    w.answer(&second, "3").await;
    let refused = w.answer(&second, "3").await;
    assert_eq!(refused.step.info[0], "Too many codes were sent to your phone. Try again in 15 minutes.");
    assert_eq!(w.app.credits(w.p.tenant.id).await, 500 - 4 * 5 - 10);
}
on_both_databases!(sends_are_limited_per_login_and_person, super::sends_are_limited_per_login_and_person);

/// The push request carries the login's details and its number; a wait decided while the call
/// is held returns at once with the outcome.
async fn a_push_approved_while_held_lets_the_login_in(backend: Backend) {
    let w = world(backend, true, 500).await;
    let (login, number) = w.pushed().await;
    let request = w.app.push_request_of(login.login_id).await;
    assert!((100..=999).contains(&number));
    assert_eq!(
        (request.server_name.as_str(), request.account.as_str(), request.source_ip.as_str()),
        ("web-01", "root", "198.51.100.7")
    );
    assert_eq!((request.user_id, request.status), (w.alice.id, PushStatus::Pending));
    assert_eq!(request.expires_at - request.created_at, Duration::seconds(60));

    let began = Instant::now();
    let held = {
        let (app, cred, id) = (&w.app, w.p.credential.clone(), login.login_id);
        async move { app.login_answer(&cred, id, "").await }
    };
    let decide = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        w.app.decide_push(login.login_id, PushStatus::Approved).await;
    };
    let (res, ()) = tokio::join!(held, decide);
    let done: LoginReply = res.json().await.unwrap();
    assert_eq!(done.step.action, Action::Allow);
    assert!(!done.ask_again);
    // Woken by the decision, not at the end of the 8-second hold (slack for a loaded machine).
    assert!(began.elapsed() < std::time::Duration::from_secs(7), "decided while held: {:?}", began.elapsed());
    assert_eq!(w.app.login_row(login.login_id).await.reason, "push approved");
}
on_both_databases!(a_push_approved_while_held_lets_the_login_in, super::a_push_approved_while_held_lets_the_login_in);

async fn denied_fraud_and_expired_pushes_are_refused(backend: Backend) {
    let w = world(backend, true, 500).await;
    let (login, _) = w.pushed().await;
    w.app.decide_push(login.login_id, PushStatus::Denied).await;
    assert_eq!(denial(&w.answer(&login, "").await.step), "HostGuard: the push was denied. Login refused.");

    let (login, _) = w.pushed().await;
    w.app.decide_push(login.login_id, PushStatus::Fraud).await;
    assert!(denial(&w.answer(&login, "").await.step).contains("reported as not you"));

    let (login, _) = w.pushed().await;
    w.app.clock.advance(Duration::seconds(61));
    assert!(denial(&w.answer(&login, "").await.step).contains("not approved within 60 seconds"));
    assert_eq!(w.app.login_row(login.login_id).await.reason, "push expired");
}
on_both_databases!(denied_fraud_and_expired_pushes_are_refused, super::denied_fraud_and_expired_pushes_are_refused);

/// An undecided push: the console holds the call about 8 s, then says ask again with the same
/// prompt; a code typed at the push prompt still works, and the number typed there is a hint.
async fn a_pending_push_asks_again_and_codes_still_work(backend: Backend) {
    let w = world(backend, true, 500).await;
    let login = w.start().await;
    w.answer(&login, "3").await;
    let code = w.app.sms_code(PHONE).await;
    let sent = w.answer(&login, "1").await;
    let number = w.app.push_request_of(login.login_id).await.number;
    let began = Instant::now();
    let pending = w.answer(&login, "").await;
    let held = began.elapsed();
    assert!(
        held >= std::time::Duration::from_secs(7) && held < std::time::Duration::from_secs(15),
        "held for the 8-second hold: {held:?}"
    );
    assert!(pending.ask_again);
    assert_eq!(prompt_of(&pending.step), prompt_of(&sent.step));
    let hint = w.answer(&login, &number.to_string()).await;
    assert_eq!(hint.step.info[0], format!("Type {number} in the app, not here."));
    assert_eq!(w.app.login_row(login.login_id).await.attempts, 0);
    let done = w.answer(&login, &code).await;
    assert_eq!(done.step.action, Action::Allow, "the SMS passcode works at the push prompt");
    // Garbage at the push prompt is a wrong code.
    let (other, _) = w.pushed().await;
    assert_eq!(w.answer(&other, "garbage").await.step.info[0], "Wrong code. 2 attempts left.");
}
on_both_databases!(
    a_pending_push_asks_again_and_codes_still_work,
    super::a_pending_push_asks_again_and_codes_still_work
);

/// At most 3 pushes a minute and 10 an hour per person; past that the prompt says so and
/// offers the rest.
async fn pushes_are_rate_limited_per_person(backend: Backend) {
    let w = world(backend, true, 500).await;
    let login = w.start().await;
    for _ in 0..3 {
        assert!(prompt_of(&w.answer(&login, "1").await.step).0.starts_with("Push sent"));
    }
    let paused = w.answer(&login, "1").await;
    assert_eq!(prompt_of(&paused.step), (MENU_PROMPT, true));
    assert_eq!(
        lines(&paused.step)[2..],
        [
            "2. Call me (phone ending 1234)",
            "3. SMS passcode (phone ending 1234)",
            "Push is paused: at most 3 pushes a minute and 10 an hour."
        ]
    );
    assert_eq!(paused.step.info[0], "1 is not one of the methods offered.");
    for _ in 0..2 {
        w.app.clock.advance(Duration::seconds(61));
        let l = w.start().await;
        for _ in 0..3 {
            assert!(prompt_of(&w.answer(&l, "1").await.step).0.starts_with("Push sent"));
        }
    }
    w.app.clock.advance(Duration::seconds(61));
    let l = w.start().await;
    assert!(prompt_of(&w.answer(&l, "1").await.step).0.starts_with("Push sent"), "the tenth in the hour");
    w.app.clock.advance(Duration::seconds(61));
    let l = w.start().await;
    assert!(lines(&l.step).contains(&"Push is paused: at most 3 pushes a minute and 10 an hour."));
    assert!(!lines(&l.step).contains(&"1. Push to your approval device"));
}
on_both_databases!(pushes_are_rate_limited_per_person, super::pushes_are_rate_limited_per_person);

/// The person's default method is tried first: a push goes out (or an SMS passcode is sent) as
/// the login starts, and the menu's lines follow for the other methods.
async fn the_default_method_is_tried_first(backend: Backend) {
    use domain::entities::factor_preference;
    use sea_orm::ActiveValue::Set;
    let w = world(backend, true, 500).await;
    let prefer = |m: proto::DefaultMethod| factor_preference::ActiveModel {
        user_id: Set(w.alice.id),
        tenant_id: Set(w.p.tenant.id),
        default_method: Set(m),
        updated_at: Set(domain::Clock::now(&w.app.clock)),
    };
    factor_preference::Entity::insert(prefer(proto::DefaultMethod::Push))
        .exec_without_returning(&w.app.ctx.db)
        .await
        .unwrap();
    let login = w.start().await;
    let number = w.app.push_request_of(login.login_id).await.number;
    assert_eq!(
        prompt_of(&login.step),
        (format!("Push sent: enter {number} in the app, or type a code: ").as_str(), true)
    );
    assert!(lines(&login.step).contains(&"3. SMS passcode (phone ending 1234)"), "{:?}", login.step.info);
    w.app.decide_push(login.login_id, PushStatus::Approved).await;
    assert_eq!(w.answer(&login, "").await.step.action, Action::Allow);

    factor_preference::Entity::delete_by_id(w.alice.id).exec(&w.app.ctx.db).await.unwrap();
    factor_preference::Entity::insert(prefer(proto::DefaultMethod::Sms))
        .exec_without_returning(&w.app.ctx.db)
        .await
        .unwrap();
    let login = w.start().await;
    assert_eq!(
        lines(&login.step)[0],
        "A passcode was sent by SMS to the phone ending 1234. It is valid for 5 minutes."
    );
    let code = w.app.sms_code(PHONE).await;
    assert_eq!(w.answer(&login, &code).await.step.action, Action::Allow);
    assert_eq!(w.app.credits(w.p.tenant.id).await, 495);
}
on_both_databases!(the_default_method_is_tried_first, super::the_default_method_is_tried_first);

/// Two console replicas on one database: a push decided on one (its own connections, its own
/// poller) reaches the login whose call the other holds. The phone's signed approval goes to
/// replica B (its portal session, made on A, is in the shared database); the agent's call waits
/// on A. Garbage sent to B lets nobody in, three wrong numbers deny, and a push nobody decides
/// is refused when its minute is over, each answered on A.
async fn a_decision_on_another_replica_reaches_the_held_call(backend: Backend) {
    use app::models::PushDecision;
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Replicas", "web-01", &[]).await;
    app.put_in_force(&p, Some("code")).await;
    let other =
        spawn_app_with(backend, Options { database_url: Some(app.database_url.clone()), ..Options::empty() }).await;
    let held = |login: Uuid| {
        let (app, cred) = (&app, p.credential.clone());
        async move {
            let res = app.login_answer(&cred, login, "").await;
            assert_eq!(res.status(), 200);
            res.json::<LoginReply>().await.unwrap()
        }
    };
    // A fresh person per push: pushes are limited per person, and each replica has its own clock.
    let mut n = 0;
    let mut pushed = || {
        n += 1;
        let (app, p, k) = (&app, &p, n);
        async move {
            let who = app.account_owner(p, &format!("person{k}"), &format!("acct{k}")).await;
            let phone = app.approver(&who).await;
            let login = app.start_ok(p, &format!("acct{k}"), "198.51.100.7").await;
            let sent = app.answer_ok(p, login.login_id, "1").await;
            let number: u16 = prompt_of(&sent.step).0.split(' ').nth(3).unwrap().parse().unwrap();
            (login.login_id, phone, number)
        }
    };

    // Approved on B: the call held on A answers within the poll, not at the end of its hold.
    let (login, phone, number) = pushed().await;
    let began = Instant::now();
    let decide = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let request = phone.pending(&other).await[0].id;
        phone.decide(&other, request, number, PushDecision::Approve).await.unwrap()
    };
    let (done, decided) = tokio::join!(held(login), decide);
    assert_eq!(decided.status, PushStatus::Approved);
    assert_eq!(done.step.action, Action::Allow);
    assert!(
        began.elapsed() < std::time::Duration::from_secs(7),
        "woken before the 8-second hold ends: {:?}",
        began.elapsed()
    );
    assert_eq!(app.login_row(login).await.reason, "push approved");

    // Garbage on B (a forged signature, a wrong request's, a malformed number): refused there,
    // and the call held on A ends its hold still waiting; then three wrong numbers deny.
    let (login, phone, number) = pushed().await;
    let request = phone.pending(&other).await[0].id;
    let garbage = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let forged = format!("{}AA==", "AAAA".repeat(21));
        let moved = phone.sign(Uuid::new_v4(), number, PushDecision::Approve);
        for (what, typed, signature) in [
            ("forged", number.to_string(), forged),
            ("moved", number.to_string(), moved),
            ("malformed", "4x2".into(), "not base64!".into()),
        ] {
            let refused = phone.send(&other, request, &typed, PushDecision::Approve, signature).await.unwrap_err();
            assert_eq!(refused.status, 422, "{what}: {refused}");
        }
    };
    let (still, ()) = tokio::join!(held(login), garbage);
    assert!(still.ask_again && still.step.action != Action::Allow, "{still:?}");
    let wrong = if number == 999 { 998 } else { number + 1 };
    let deny = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for i in 0..3 {
            let refused = phone.decide(&other, request, wrong, PushDecision::Approve).await.unwrap_err();
            assert_eq!(refused.status, if i < 2 { 422 } else { 409 }, "wrong number {i}: {refused}");
        }
    };
    let (done, ()) = tokio::join!(held(login), deny);
    assert_eq!(denial(&done.step), "HostGuard: the push was denied. Login refused.");

    // Nobody decides: when its minute is over on A, the held call is refused.
    let (login, _phone, _) = pushed().await;
    let expire = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.clock.advance(Duration::seconds(61));
    };
    let began = Instant::now();
    let (done, ()) = tokio::join!(held(login), expire);
    assert!(denial(&done.step).contains("not approved within 60 seconds"), "{:?}", done.step);
    assert!(
        began.elapsed() < std::time::Duration::from_secs(7),
        "woken before the 8-second hold ends: {:?}",
        began.elapsed()
    );
    assert_eq!(app.login_row(login).await.reason, "push expired");
}
on_both_databases!(
    a_decision_on_another_replica_reaches_the_held_call,
    super::a_decision_on_another_replica_reaches_the_held_call
);
