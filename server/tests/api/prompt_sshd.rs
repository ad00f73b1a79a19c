//! The login prompt's methods through a real `ssh` to a real `sshd` protected by the real agent
//! and PAM module (the sandbox of `sshd_e2e`): choose 3 and type the SMS passcode read from the
//! development outbox; choose 2 and type the code the call reads out; choose 1, press Enter and
//! get in once the person approves on their phone with the number the prompt shows (a signed
//! `portal/approvals/decide`, after more than one held call, so the agent asks again). A denied
//! push, three wrong numbers, a push nobody answers within its minute, and forged or garbage
//! decisions are refused.

use crate::common::*;
use crate::login_e2e::skip_reason;
use crate::sshd_e2e::Sshd;
use app::models::{PushDecision, PushStatus};
use std::process::Stdio;
use std::time::Duration;
use testkit::approve::Approver;

const PASSWORD: &str = "hg-test-password-1";
const PHONE: &str = "+8613800005678";

/// Logs each prompt as one line (ssh puts the info lines before it, joined here by `|`), then
/// prints the answer the test writes to `answer.<n>` for the n-th prompt.
const ASKPASS: &str = r#"#!/bin/sh
D=$(dirname "$0")
printf '%s' "$1" | tr '\n' '|' >>"$D/prompts.log"; echo >>"$D/prompts.log"
case "$1" in
  *assword*) echo "$HG_PASSWORD" ;;
  *) n=$(wc -l <"$D/prompts.log"); i=0
     while [ ! -e "$D/answer.$n" ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
     cat "$D/answer.$n" ;;
esac
"#;

/// What the test types at a prompt after the password.
#[derive(Clone, Copy)]
enum Reply {
    Choose(&'static str),
    /// The newest SMS passcode to the phone.
    Sms,
    /// The code the newest call reads out.
    Spoken,
    /// Enter (wait for the push), and `then` on the phone after `after`.
    Wait {
        then: Phone,
        after: Duration,
    },
}

/// What the person does on their phone while ssh waits at the push prompt.
#[derive(Clone, Copy, Debug)]
enum Phone {
    /// Approve with the number the prompt shows.
    Approve,
    Deny,
    /// Three wrong numbers (the third denies the request).
    WrongNumbers,
    /// Nothing: the push's minute passes (the test clock moves on).
    Ignore,
    /// A forged signature and a garbage number, both refused; then the minute passes.
    Garbage,
}

/// The number in a push prompt (`Push sent: enter 472 in the app, …`).
fn number_in(prompt: &str) -> u16 {
    let rest = prompt.split("enter ").nth(1).unwrap_or_else(|| panic!("not a push prompt: {prompt:?}"));
    rest.split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("no number in {prompt:?}"))
}

/// Does `then` on the phone of `a`, for the push whose prompt shows `number`.
async fn on_the_phone(s: &Sshd, a: &Approver, then: Phone, number: u16) {
    let app = &s.app;
    match then {
        Phone::Approve => {
            let done = a.decide_pending(app, number, PushDecision::Approve).await.unwrap();
            assert_eq!(done.status, PushStatus::Approved);
        }
        Phone::Deny => {
            let done = a.decide_pending(app, 0, PushDecision::Deny).await.unwrap();
            assert_eq!(done.status, PushStatus::Denied);
        }
        Phone::WrongNumbers => {
            let wrong = if number == 999 { 998 } else { number + 1 };
            for i in 0..2 {
                let refused = a.decide_pending(app, wrong, PushDecision::Approve).await.unwrap_err();
                assert_eq!(refused.status, 422, "wrong number {i}: {refused}");
            }
            let refused = a.decide_pending(app, wrong, PushDecision::Approve).await.unwrap_err();
            assert_eq!(refused.status, 409, "the third wrong number denies: {refused}");
        }
        Phone::Ignore => app.clock.advance(chrono::Duration::seconds(61)),
        Phone::Garbage => {
            let request = a.pending(app).await[0].id;
            let forged = a
                .send(app, request, &number.to_string(), PushDecision::Approve, format!("{}AA==", "AAAA".repeat(21)))
                .await;
            assert_eq!(forged.unwrap_err().status, 422, "a signature that is not the device's");
            let moved = a.sign(uuid::Uuid::new_v4(), number, PushDecision::Approve);
            let moved = a.send(app, request, &number.to_string(), PushDecision::Approve, moved).await;
            assert_eq!(moved.unwrap_err().status, 422, "another request's signature");
            let garbage = a.send(app, request, "4x2", PushDecision::Approve, "not base64!".into()).await;
            assert_eq!(garbage.unwrap_err().status, 422, "a garbage number and signature");
            app.clock.advance(chrono::Duration::seconds(61));
        }
    }
}

/// One `ssh hgtest@127.0.0.1 true` answering the prompts after the password with `replies`;
/// whether it got in, and the prompts shown.
async fn ssh(s: &Sshd, phone: &Approver, replies: &[Reply]) -> (bool, Vec<String>) {
    let dir = s.path("");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("answer.") || name == "prompts.log" {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let mut child = tokio::process::Command::new("setsid")
        .args(["-w", "ssh", "-p", &s.port.to_string()])
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
        .args(["-o", "PreferredAuthentications=keyboard-interactive", "-o", "NumberOfPasswordPrompts=1"])
        .args(["-o", "ConnectTimeout=10", "-o", "PubkeyAuthentication=no"])
        .args(["hgtest@127.0.0.1", "true"])
        .env("SSH_ASKPASS", s.path("askpass"))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env("HG_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let prompts = s.path("prompts.log");
    let answer = async {
        let mut next = 0;
        loop {
            let text = std::fs::read_to_string(&prompts).unwrap_or_default();
            let n = text.lines().count();
            if n >= 2 && n - 2 == next && next < replies.len() {
                let text = match replies[next] {
                    Reply::Choose(c) => c.to_owned(),
                    Reply::Sms => s.app.sms_code(PHONE).await,
                    Reply::Spoken => s.app.spoken_code(PHONE).await,
                    Reply::Wait { .. } => String::new(),
                };
                std::fs::write(s.path(&format!("answer.{n}")), format!("{text}\n")).unwrap();
                if let Reply::Wait { then, after } = replies[next] {
                    // ssh now waits at the push prompt, its call held by the console.
                    let shown = text_of_last_prompt(&std::fs::read_to_string(&prompts).unwrap());
                    tokio::time::sleep(after).await;
                    on_the_phone(s, phone, then, number_in(&shown)).await;
                }
                next += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(80), async {
        tokio::select! {
            status = child.wait() => status.unwrap(),
            () = answer => unreachable!(),
        }
    })
    .await;
    let prompts = std::fs::read_to_string(s.path("prompts.log")).unwrap_or_default();
    let Ok(status) = status else {
        let sshd = std::fs::read_to_string(s.path("sshd.log")).unwrap_or_default();
        panic!("ssh did not finish; prompts so far: {prompts:?}\nsshd said:\n{sshd}")
    };
    (status.success(), prompts.lines().map(|l| l.rsplit('|').next().unwrap_or_default().to_owned()).collect())
}

/// The last prompt in the log, without the info lines before it.
fn text_of_last_prompt(log: &str) -> String {
    log.lines().last().unwrap_or_default().rsplit('|').next().unwrap_or_default().to_owned()
}

async fn choose_each_method_over_real_ssh(backend: Backend) {
    if let Some(why) = skip_reason() {
        println!("SKIP real sshd test: {why}");
        return;
    }
    let s = Sshd::start(backend).await;
    std::fs::write(s.path("askpass"), ASKPASS).unwrap();
    eventually("the agent reports in", || async {
        let page = s.app.two_factor_page(&s.admin, &[]).await;
        page.items.iter().any(|r| r.id == s.p.server_id && r.agent_online)
    })
    .await;
    let alice = s.app.account_owner(&s.p, "alice", "hgtest").await;
    s.app.give_phone(&s.p, &alice, PHONE).await;
    let phone = s.app.approver(&alice).await;
    s.app.set_credits(s.p.tenant.id, 500).await;
    s.change(testkit::enable_code, app::models::TwoFactorState::Enabled).await;

    // 3: the SMS passcode from the development outbox.
    let (ok, prompts) = ssh(&s, &phone, &[Reply::Choose("3"), Reply::Sms]).await;
    assert!(ok, "SMS passcode logs in; prompts: {prompts:?}");
    assert_eq!(prompts[1..], ["Passcode or number: ", "Passcode or number: "], "{prompts:?}");
    let shown = std::fs::read_to_string(s.path("prompts.log")).unwrap();
    assert!(shown.contains("|3. SMS passcode (phone ending 5678)|"), "the menu's lines reach ssh: {shown}");
    assert!(shown.contains("A passcode was sent by SMS to the phone ending 5678."), "{shown}");

    // 2: the code the call reads out.
    let (ok, prompts) = ssh(&s, &phone, &[Reply::Choose("2"), Reply::Spoken]).await;
    assert!(ok, "call me logs in; prompts: {prompts:?}");
    assert_eq!(s.app.credits(s.p.tenant.id).await, 500 - 5 - 10);

    // 1: push, Enter, approved on the phone with the prompt's number after the first held call
    // (8 s) ran out: the agent asked again, and nothing more was asked.
    let approve = Reply::Wait { then: Phone::Approve, after: Duration::from_secs(10) };
    let (ok, prompts) = ssh(&s, &phone, &[Reply::Choose("1"), approve]).await;
    assert!(ok, "an approved push logs in; prompts: {prompts:?}");
    assert!(
        prompts[2].starts_with("Push sent: enter ") && prompts[2].ends_with(" in the app, or type a code: "),
        "{prompts:?}"
    );
    assert_eq!(prompts.len(), 3, "the wait asked nothing more: {prompts:?}");

    // Refused: a denied push, three wrong numbers, a push nobody answers within its minute, and
    // forged or garbage decisions (then the minute passes). Each is a new push: at most 3 a
    // minute per person, so the test clock moves on between them.
    for then in [Phone::Deny, Phone::WrongNumbers, Phone::Ignore, Phone::Garbage] {
        s.app.clock.advance(chrono::Duration::seconds(61));
        let wait = Reply::Wait { then, after: Duration::from_millis(1500) };
        let (ok, prompts) = ssh(&s, &phone, &[Reply::Choose("1"), wait]).await;
        assert!(!ok, "{then:?} is refused; prompts: {prompts:?}");
        assert!(phone.pending(&s.app).await.is_empty(), "{then:?}: nothing is left pending");
    }

    let logins = domain::logins::audit::list(
        &s.app.ctx,
        &s.p.caller,
        &domain::logins::audit::AuditQuery { page: 1, page_size: 50, ..Default::default() },
    )
    .await
    .unwrap();
    let mut reasons: Vec<_> = logins.items.iter().map(|l| l.reason.as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        [
            "SMS passcode accepted",
            "code from the call accepted",
            "push approved",
            "push denied",
            "push denied",
            "push expired",
            "push expired"
        ]
    );
}
on_both_databases!(choose_each_method_over_real_ssh, super::choose_each_method_over_real_ssh);
