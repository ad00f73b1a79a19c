//! The login prompt's methods through a real `ssh` to a real `sshd` protected by the real agent
//! and PAM module (the sandbox of `sshd_e2e`): choose 3 and type the SMS passcode read from the
//! development outbox; choose 2 and type the code the call reads out; choose 1, press Enter and
//! get in once the push is approved (after more than one held call, so the agent asks again);
//! a denied push is refused.

use crate::common::*;
use crate::login_e2e::skip_reason;
use crate::sshd_e2e::Sshd;
use domain::entities::push_request;
use proto::push::PushStatus;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::process::Stdio;
use std::time::Duration;

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
    /// Enter (wait for the push), and decide the push after `after`.
    Wait { decide: PushStatus, after: Duration },
}

/// One `ssh hgtest@127.0.0.1 true` answering the prompts after the password with `replies`;
/// whether it got in, and the prompts shown.
async fn ssh(s: &Sshd, replies: &[Reply]) -> (bool, Vec<String>) {
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
                    Reply::Wait { decide, after } => {
                        let db = s.app.ctx.db.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            decide_newest(&db, decide).await;
                        });
                        String::new()
                    }
                };
                std::fs::write(s.path(&format!("answer.{n}")), format!("{text}\n")).unwrap();
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

/// Decides the pending push request (there is one at a time here), as the approval side would.
async fn decide_newest(db: &sea_orm::DatabaseConnection, status: PushStatus) {
    let newest = push_request::Entity::find()
        .filter(push_request::Column::Status.eq(PushStatus::Pending.as_str()))
        .one(db)
        .await
        .unwrap()
        .expect("a pending push request");
    push_request::Entity::update_many()
        .col_expr(push_request::Column::Status, sea_orm::sea_query::Expr::value(status.as_str()))
        .filter(push_request::Column::Id.eq(newest.id))
        .exec(db)
        .await
        .unwrap();
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
    s.app.give_approval_device(&s.p, &alice).await;
    s.app.set_credits(s.p.tenant.id, 500).await;
    s.change(testkit::enable_code, app::models::TwoFactorState::Enabled).await;

    // 3: the SMS passcode from the development outbox.
    let (ok, prompts) = ssh(&s, &[Reply::Choose("3"), Reply::Sms]).await;
    assert!(ok, "SMS passcode logs in; prompts: {prompts:?}");
    assert_eq!(prompts[1..], ["Passcode or number: ", "Passcode or number: "], "{prompts:?}");
    let shown = std::fs::read_to_string(s.path("prompts.log")).unwrap();
    assert!(shown.contains("|3. SMS passcode (phone ending 5678)|"), "the menu's lines reach ssh: {shown}");
    assert!(shown.contains("A passcode was sent by SMS to the phone ending 5678."), "{shown}");

    // 2: the code the call reads out.
    let (ok, prompts) = ssh(&s, &[Reply::Choose("2"), Reply::Spoken]).await;
    assert!(ok, "call me logs in; prompts: {prompts:?}");
    assert_eq!(s.app.credits(s.p.tenant.id).await, 500 - 5 - 10);

    // 1: push, Enter, approved after the first held call (8 s) ran out: the agent asked again.
    let approve = Reply::Wait { decide: PushStatus::Approved, after: Duration::from_secs(10) };
    let (ok, prompts) = ssh(&s, &[Reply::Choose("1"), approve]).await;
    assert!(ok, "an approved push logs in; prompts: {prompts:?}");
    let number = push_request::Entity::find()
        .filter(push_request::Column::Status.eq(PushStatus::Approved.as_str()))
        .one(&s.app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .number;
    assert_eq!(prompts[2], format!("Push sent: enter {number} in the app, or type a code: "), "the number is in the prompt");
    assert_eq!(prompts.len(), 3, "the wait asked nothing more: {prompts:?}");

    // A denied push: refused.
    let deny = Reply::Wait { decide: PushStatus::Denied, after: Duration::from_millis(500) };
    let (ok, prompts) = ssh(&s, &[Reply::Choose("1"), deny]).await;
    assert!(!ok, "a denied push is refused; prompts: {prompts:?}");

    let logins = domain::logins::audit::list(
        &s.app.ctx,
        &s.p.caller,
        &domain::logins::audit::AuditQuery { page: 1, page_size: 50, ..Default::default() },
    )
    .await
    .unwrap();
    let reasons: Vec<_> = logins.items.iter().map(|l| l.reason.as_str()).collect();
    for want in ["SMS passcode accepted", "code from the call accepted", "push approved", "push denied"] {
        assert!(reasons.contains(&want), "{want}: {reasons:?}");
    }
}
on_both_databases!(choose_each_method_over_real_ssh, super::choose_each_method_over_real_ssh);
