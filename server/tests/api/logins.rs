//! The console's side of a login, through the agent API as the agent daemon calls it: SMS/Email
//! codes with HSS's recipient rules, attempts, expiry and replay; exemptions, unenrolled
//! accounts, the login policy, offline reports, and logins of other servers.

use crate::common::*;
use domain::audit::AuditAction;
use domain::entities::{outbox, server_login};
use proto::agent::paths;
use proto::login::{Action, LoginReason, LoginReply, LoginResult, OfflineLogin, OfflineReport};
use proto::MaybeKnown;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The number and code of a login code message: "Input #25: 123456 is the verification code…".
fn code_in(m: &Mail) -> (i32, String) {
    let rest = m.text.split("Input #").nth(1).unwrap_or_else(|| panic!("no code in {:?}", m.text));
    let (number, rest) = rest.split_once(": ").unwrap();
    (number.parse().unwrap(), rest.split_whitespace().next().unwrap().to_owned())
}

/// The login code messages to `to`, once there are `n` (each address also got its
/// subscription's confirmation request).
async fn codes_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<(i32, String)> {
    let all = sink.wait_for(to, n + 1).await;
    let codes: Vec<_> = all.iter().filter(|m| m.subject.starts_with("Login code")).map(code_in).collect();
    assert_eq!(codes.len(), n, "{all:?}");
    codes
}

struct Sms {
    app: TestApp,
    sink: SmtpSink,
    p: Protected,
}

const PHONE: &str = "+8613800000001";
const OPS: &str = "ops@acme-logins.test";
const DEV: &str = "dev@acme-logins.test";

async fn sms_server(backend: Backend) -> Sms {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(backend, Options { smtp_port: Some(sink.port), ..Options::empty() }).await;
    let p = app.protected_server("Acme Logins", "web-01", &[PHONE, OPS, DEV]).await;
    app.put_in_force(&p, Some("sms")).await;
    Sms { app, sink, p }
}

impl Sms {
    /// Starts a login and names `recipient`; returns the reply with the code prompt.
    async fn to_code_prompt(&self, account: &str, recipient: &str) -> LoginReply {
        let start = self.app.start_ok(&self.p, account, "198.51.100.7").await;
        assert_eq!(prompt_of(&start.step), ("Phone number or email address: ", true));
        self.app.answer_ok(&self.p, start.login_id, recipient).await
    }
}

async fn a_phone_number_sends_the_numbered_code_to_every_endpoint_and_it_logs_in(backend: Backend) {
    let s = sms_server(backend).await;
    let reply = s.to_code_prompt("root", "+86 138 0000 0001").await;
    let (prompt, echo) = prompt_of(&reply.step);
    assert!(!echo, "codes are typed unseen");
    let number: i32 = prompt.strip_prefix("Input #").unwrap().strip_suffix(" Code: ").unwrap().parse().unwrap();

    let (ops, dev) = (codes_to(&s.sink, OPS, 1).await, codes_to(&s.sink, DEV, 1).await);
    let (n1, code) = ops[0].clone();
    assert_eq!(dev[0], (n1, code.clone()), "both addresses get the same code");
    assert_eq!(n1, number, "the message carries the prompt's number");
    let mail = s.sink.messages_to(OPS).into_iter().find(|m| m.subject.starts_with("Login code")).unwrap();
    assert!(mail.text.contains("root on web-01 from 198.51.100.7"), "{}", mail.text);
    assert_eq!(mail.subject, format!("Login code #{number} for root@web-01"));
    let sms = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(PHONE))
        .filter(outbox::Column::Kind.eq("login_code"))
        .all(&s.app.ctx.db)
        .await
        .unwrap();
    assert_eq!(sms.len(), 1, "the phone gets it too");
    assert!(!sms[0].body_text.contains(&code), "the stored SMS holds a placeholder, not the code");

    let done = s.app.answer_ok(&s.p, reply.login_id, &code).await;
    assert_eq!(done.step.action, Action::Allow);
    let audit = s.app.login_row(reply.login_id).await;
    assert_eq!(
        (audit.result.map(|r| r.as_str()), audit.method.as_str(), audit.account.as_str()),
        (Some("allowed"), "sms", "root")
    );
    assert_eq!(audit.source_ip, "198.51.100.7");

    // The code is spent: the same answer again changes nothing.
    let again = s.app.answer_ok(&s.p, reply.login_id, &code).await;
    assert!(denial(&again.step).contains("already ended"));
}
on_both_databases!(
    a_phone_number_sends_the_numbered_code_to_every_endpoint_and_it_logs_in,
    super::a_phone_number_sends_the_numbered_code_to_every_endpoint_and_it_logs_in
);

async fn an_address_gets_its_own_code_only_and_strangers_learn_nothing(backend: Backend) {
    let s = sms_server(backend).await;
    let known = s.to_code_prompt("root", "OPS@acme-logins.test").await;
    let (number, code) = codes_to(&s.sink, OPS, 1).await[0].clone();

    let unknown = s.to_code_prompt("root", "eve@evil.example").await;
    let stranger_number = s.to_code_prompt("root", "+15550100").await;
    // Same prompt, and the same line, whoever was named: only the number moves on.
    let shape = |r: &LoginReply, named: &str| {
        let prompt = prompt_of(&r.step).0.to_owned();
        let n = prompt.trim_start_matches("Input #").trim_end_matches(" Code: ").to_owned();
        (r.step.info.join("|").replace(named, "<named>").replace(&format!("#{n}"), "#<n>"), prompt.replace(&n, "<n>"))
    };
    assert_eq!(shape(&known, "OPS@acme-logins.test"), shape(&unknown, "eve@evil.example"));
    assert_eq!(shape(&unknown, "eve@evil.example"), shape(&stranger_number, "+15550100"));
    assert_eq!(
        number,
        prompt_of(&known.step).0.trim_start_matches("Input #").trim_end_matches(" Code: ").parse::<i32>().unwrap()
    );

    s.app.clock.advance(chrono::Duration::seconds(2));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let login_codes = |to: Option<&str>| {
        s.sink
            .messages()
            .into_iter()
            .filter(|m| m.subject.starts_with("Login code") && to.is_none_or(|t| m.to.contains(t)))
            .count()
    };
    assert_eq!(login_codes(Some(DEV)), 0, "an email address sends to itself only");
    assert_eq!(login_codes(None), 1, "nobody outside the topic got anything");
    assert_eq!(s.app.login_row(unknown.login_id).await.reason, "code sent to 0 endpoints");

    // The code works for its own login only.
    let elsewhere = s.app.answer_ok(&s.p, unknown.login_id, &code).await;
    assert!(prompt_of(&elsewhere.step).0.starts_with("Input #"), "a code of another login is just wrong");
    assert_eq!(s.app.answer_ok(&s.p, known.login_id, &code).await.step.action, Action::Allow);
}
on_both_databases!(
    an_address_gets_its_own_code_only_and_strangers_learn_nothing,
    super::an_address_gets_its_own_code_only_and_strangers_learn_nothing
);

async fn three_wrong_codes_end_the_login_and_an_expired_code_is_refused(backend: Backend) {
    let s = sms_server(backend).await;
    let reply = s.to_code_prompt("root", OPS).await;
    let (_, code) = codes_to(&s.sink, OPS, 1).await[0].clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let first = s.app.answer_ok(&s.p, reply.login_id, wrong).await;
    assert_eq!(first.step.info, ["Wrong code. 2 attempts left."]);
    let second = s.app.answer_ok(&s.p, reply.login_id, wrong).await;
    assert_eq!(second.step.info, ["Wrong code. 1 attempt left."]);
    let third = s.app.answer_ok(&s.p, reply.login_id, wrong).await;
    assert!(denial(&third.step).contains("no attempts are left"));
    let late = s.app.answer_ok(&s.p, reply.login_id, &code).await;
    assert!(denial(&late.step).contains("already ended"), "the right code after three wrong ones is too late");
    assert_eq!(s.app.login_row(reply.login_id).await.reason, "3 wrong codes");

    let reply = s.to_code_prompt("root", OPS).await;
    let (_, code) = codes_to(&s.sink, OPS, 2).await[1].clone();
    s.app.clock.advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(1));
    let expired = s.app.answer_ok(&s.p, reply.login_id, &code).await;
    assert!(denial(&expired.step).contains("expired"));
    assert_eq!(s.app.login_row(reply.login_id).await.result.map(|r| r.as_str()), Some("denied"));
}
on_both_databases!(
    three_wrong_codes_end_the_login_and_an_expired_code_is_refused,
    super::three_wrong_codes_end_the_login_and_an_expired_code_is_refused
);

async fn code_requests_are_limited_per_account_and_per_source(backend: Backend) {
    let s = sms_server(backend).await;
    // Another tenant's agent cannot use up (or read) this tenant's count for an address.
    let other = s.app.protected_server("Globex Limits", "gx-01", &["ops@globex-limits.test"]).await;
    s.app.put_in_force(&other, Some("sms")).await;
    for i in 0..10 {
        let start = s.app.start_ok(&other, &format!("u{i}"), "198.51.100.7").await;
        s.app.answer_ok(&other, start.login_id, "+15550100").await;
    }
    for _ in 0..5 {
        s.to_code_prompt("deploy", "+15550100").await;
    }
    let start = s.app.start_ok(&s.p, "deploy", "198.51.100.7").await;
    let refused = s.app.answer_ok(&s.p, start.login_id, "+15550100").await;
    assert!(denial(&refused.step).contains("too many codes"), "{:?}", refused.step);
    // Another account from the same address still may, up to the address's own limit.
    let other = s.to_code_prompt("backup", "+15550100").await;
    assert!(prompt_of(&other.step).0.starts_with("Input #"));
    // Another address of the same IPv6 /64 is the same source.
    for i in 0..10 {
        let start = s.app.start_ok(&s.p, &format!("v6-{i}"), &format!("2001:db8:1:2::{i:x}")).await;
        let step = s.app.answer_ok(&s.p, start.login_id, "+15550100").await.step;
        assert!(prompt_of(&step).0.starts_with("Input #"), "{i}: {step:?}");
    }
    let start = s.app.start_ok(&s.p, "v6-last", "2001:db8:1:2:ffff::1").await;
    let refused = s.app.answer_ok(&s.p, start.login_id, "+15550100").await;
    assert!(denial(&refused.step).contains("from this address"), "{:?}", refused.step);
    s.app.clock.advance(chrono::Duration::minutes(16));
    let later = s.to_code_prompt("deploy", "+15550100").await;
    assert!(prompt_of(&later.step).0.starts_with("Input #"), "the window moves on");
}
on_both_databases!(
    code_requests_are_limited_per_account_and_per_source,
    super::code_requests_are_limited_per_account_and_per_source
);

async fn an_agent_answers_only_its_own_servers_logins(backend: Backend) {
    let s = sms_server(backend).await;
    let other = s.app.protected_server("Globex Logins", "db-01", &["ops@globex-logins.test"]).await;
    s.app.put_in_force(&other, Some("sms")).await;
    let mine = s.app.start_ok(&s.p, "root", "198.51.100.7").await;
    let refused = s.app.agent_of(&other).try_login_answer(mine.login_id, OPS).await.unwrap_err();
    assert_eq!(
        (agent_status(&refused), agent_error_code(&refused)),
        (404, "AGENT.0404"),
        "another server's login is not found"
    );
    let agent = s.app.agent_of(&s.p);
    assert_eq!(agent_status(&agent.try_login_answer(Uuid::new_v4(), "x").await.unwrap_err()), 404);
    // Raw: no agent sends a login id that is not one.
    let bad_id = s
        .app
        .http
        .post(s.app.url(&format!("{}/not-a-uuid/answer", paths::LOGINS)))
        .bearer_auth(&s.p.credential)
        .json(&proto::login::LoginAnswer { answer: "1".into() })
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 404);
    assert_eq!(bad_id.json::<proto::agent::ApiError>().await.unwrap().error_code, "AGENT.0404");
    assert_eq!(s.app.login_start("not-a-credential", "root", "").await.status(), 401);
    // The untouched login still runs for its own agent.
    let ok = s.app.answer_ok(&s.p, mine.login_id, OPS).await;
    assert!(prompt_of(&ok.step).0.starts_with("Input #"));

    // Bad input gets a 422 naming the field.
    match agent.try_login_start(&"a".repeat(65), "").await.unwrap_err() {
        AgentError::Status { status: 422, error_msg, .. } => {
            assert!(error_msg.contains("account: must be at most 64 characters"), "{error_msg}")
        }
        other => panic!("{other}"),
    }
    assert_eq!(agent_status(&agent.try_login_answer(mine.login_id, &"1".repeat(300)).await.unwrap_err()), 422);
}
on_both_databases!(an_agent_answers_only_its_own_servers_logins, super::an_agent_answers_only_its_own_servers_logins);

async fn off_exempt_and_unenrolled_logins_are_decided_and_audited(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Policy", "app-01", &[]).await;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");

    app.put_in_force(&p, None).await;
    assert_eq!(app.start_ok(&p, "root", "203.0.113.5").await.step.action, Action::Allow, "2FA off: no second factor");

    app.put_in_force(&p, Some("code")).await;
    let unlinked = app.start_ok(&p, "root", "203.0.113.5").await;
    let message = denial(&unlinked.step);
    assert!(message.contains("not linked") && message.contains("/portal"), "{message}");

    let change = domain::logins::SettingsChange {
        fail_mode: "secure".into(),
        allow_unenrolled: false,
        exempt_accounts: vec!["backup".into()],
        exempt_networks: vec!["10.20.0.0/16".into()],
    };
    domain::logins::settings::update(&app.ctx, &p.caller, &actor, p.server_id, &change).await.unwrap();
    let by_account = app.start_ok(&p, "backup", "203.0.113.5").await;
    assert_eq!(by_account.step.action, Action::Allow);
    assert_eq!(app.login_row(by_account.login_id).await.reason, "exempt account backup");
    let by_network = app.start_ok(&p, "root", "10.20.3.4").await;
    assert_eq!(app.login_row(by_network.login_id).await.reason, "exempt network 10.20.0.0/16");
    assert!(matches!(app.start_ok(&p, "root", "10.21.3.4").await.step.action, Action::Deny { .. }));

    let allow = domain::logins::SettingsChange { allow_unenrolled: true, ..change };
    domain::logins::settings::update(&app.ctx, &p.caller, &actor, p.server_id, &allow).await.unwrap();
    let let_in = app.start_ok(&p, "root", "203.0.113.5").await;
    assert_eq!(let_in.step.action, Action::Allow);
    assert!(app.login_row(let_in.login_id).await.reason.contains("allow unenrolled"));

    let changes = domain::audit::list(&app.ctx, &p.caller, 50).await.unwrap();
    assert_eq!(
        changes.iter().filter(|e| e.action == AuditAction::LoginSettings).count(),
        2,
        "each settings change is audited"
    );

    // The tenant's login audit: filters by account and result.
    let q = |account: Option<&str>, result: Option<&str>| domain::logins::audit::AuditQuery {
        account: account.map(str::to_owned),
        result: result.map(str::to_owned),
        page: 1,
        page_size: 50,
        ..Default::default()
    };
    let all = domain::logins::audit::list(&app.ctx, &p.caller, &q(None, None)).await.unwrap();
    assert_eq!(all.total, 6);
    let denied = domain::logins::audit::list(&app.ctx, &p.caller, &q(Some("root"), Some("denied"))).await.unwrap();
    assert_eq!(denied.total, 2);
    let bad = domain::logins::audit::list(&app.ctx, &p.caller, &q(None, Some("maybe"))).await;
    assert!(matches!(bad, Err(domain::DomainError::Invalid(ref e)) if e[0].field == "result"));
}
on_both_databases!(
    off_exempt_and_unenrolled_logins_are_decided_and_audited,
    super::off_exempt_and_unenrolled_logins_are_decided_and_audited
);

async fn the_agent_gets_its_policy_and_reports_offline_logins_once(backend: Backend) {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Offline", "app-02", &[]).await;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let codes = domain::logins::settings::issue_break_glass(&app.ctx, &p.caller, &actor, p.server_id).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 23 && c.matches('-').count() == 3), "{codes:?}");

    let agent = app.agent_of(&p);
    let get_policy = || agent.login_policy();
    let policy = get_policy().await;
    assert_eq!(policy.fail_mode, proto::login::FailMode::Secure, "secure is the default");
    assert_eq!(policy.break_glass.len(), 10);
    let used = policy
        .break_glass
        .iter()
        .find(|h| h.sha256 == domain::tokens::hash_token(&domain::logins::settings::normalize_break_glass(&codes[0])))
        .unwrap();

    let login = OfflineLogin {
        id: Uuid::new_v4(),
        at: chrono::Utc::now().to_rfc3339(),
        account: "root".into(),
        source_ip: "198.51.100.9".into(),
        service: "sshd".into(),
        result: LoginResult::Allowed,
        reason: LoginReason::BreakGlass.into(),
        break_glass_id: Some(used.id),
    };
    let report = OfflineReport { logins: vec![login.clone()] };
    for _ in 0..2 {
        agent.try_report_offline(&report).await.expect("a report sent again is fine");
    }
    let rows = server_login::Entity::find()
        .filter(server_login::Column::ServerId.eq(p.server_id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "recorded once");
    assert!(rows[0].offline && rows[0].reason.contains("break-glass"));
    assert_eq!(get_policy().await.break_glass.len(), 9, "a used code is no longer handed out");
    let events = domain::audit::list(&app.ctx, &p.caller, 50).await.unwrap();
    assert!(events.iter().any(|e| e.action == AuditAction::LoginBreakGlassUsed));

    let bad = OfflineReport {
        logins: vec![
            OfflineLogin { at: "yesterday".into(), id: Uuid::new_v4(), ..login.clone() },
            OfflineLogin { reason: MaybeKnown::Unknown("because".into()), id: Uuid::new_v4(), ..login.clone() },
            OfflineLogin { reason: LoginReason::FailSecure.into(), id: Uuid::new_v4(), ..login.clone() },
        ],
    };
    // Raw: the whole message is read, longer than the agent's client keeps of it.
    let res = app.http.post(app.url(paths::LOGINS_OFFLINE)).bearer_auth(&p.credential).json(&bad).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("logins[0].at") && text.contains("logins[1].reason") && text.contains("logins[2].result"),
        "{text}"
    );

    // A server clock running ahead does not lose the record; another server's code is not
    // marked used, nor audited as used.
    let other = app.protected_server("Globex Offline", "gx-02", &[]).await;
    let theirs =
        domain::logins::settings::issue_break_glass(&app.ctx, &other.caller, &actor, other.server_id).await.unwrap();
    assert_eq!(theirs.len(), 10);
    let their_id = domain::entities::break_glass_code::Entity::find()
        .filter(domain::entities::break_glass_code::Column::ServerId.eq(other.server_id))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let ahead = OfflineLogin {
        id: Uuid::new_v4(),
        at: (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339(),
        break_glass_id: Some(their_id),
        ..login
    };
    agent.report_offline(&OfflineReport { logins: vec![ahead.clone()] }).await;
    let row = server_login::Entity::find_by_id(ahead.id).one(&app.ctx.db).await.unwrap().unwrap();
    assert!(row.created_at <= domain::Clock::now(&app.clock), "dated now, not in the future");
    let code =
        domain::entities::break_glass_code::Entity::find_by_id(their_id).one(&app.ctx.db).await.unwrap().unwrap();
    assert!(code.used_at.is_none(), "another server's code stays unused");
    let used_events = domain::audit::list(&app.ctx, &p.caller, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::LoginBreakGlassUsed)
        .count();
    assert_eq!(used_events, 1, "only the real use is in the audit trail");
}
on_both_databases!(
    the_agent_gets_its_policy_and_reports_offline_logins_once,
    super::the_agent_gets_its_policy_and_reports_offline_logins_once
);

async fn unclear_states_and_floods_are_refused_not_let_through(backend: Backend) {
    use domain::entities::two_factor_config as config;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Edge", "edge-01", &["ops@edge.test"]).await;
    app.put_in_force(&p, Some("sms")).await;
    let row = || async {
        config::Entity::find_by_id(p.server_id).one(&app.ctx.db).await.unwrap().unwrap().into_active_model()
    };
    // An enabling revision the agent applied but has not acknowledged yet: the module being
    // asked at all shows the PAM line is in, so the factor is asked, not "2FA is off".
    let mut pending = row().await;
    pending.applied_revision = Set(0);
    pending.applied_enabled = Set(false);
    pending.applied_method = Set(None);
    pending.phase = Set(config::PhaseName::Delivering);
    pending.update(&app.ctx.db).await.unwrap();
    let step = app.start_ok(&p, "root", "198.51.100.7").await.step;
    assert_eq!(prompt_of(&step).0, "Phone number or email address: ");

    // A method the console cannot read is refused: the row does not load, and the agent takes
    // the console's error as an answer (a refusal), never as an outage.
    let mut odd = row().await;
    odd.applied_revision = Set(1);
    odd.applied_enabled = Set(true);
    odd.update(&app.ctx.db).await.unwrap();
    // Written as a plain string, past the typed column.
    let set_method = |m: &'static str| {
        use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
        config::Entity::update_many()
            .col_expr(config::Column::AppliedMethod, Expr::value(m))
            .filter(config::Column::ServerId.eq(p.server_id))
            .exec(&app.ctx.db)
    };
    set_method("carrier-pigeon").await.unwrap();
    assert_eq!(app.login_start(&p.credential, "root", "198.51.100.7").await.status(), 500);
    set_method("sms").await.unwrap();
    // That refusal recorded no login; this one takes its place in the count below.
    app.start_ok(&p, "root", "198.51.100.7").await;

    // One agent cannot make the console write without end: 300 logins a minute, then 429.
    for i in 0..298 {
        let req = proto::login::LoginStart {
            account: format!("flood{i}"),
            source_ip: "203.0.113.1".into(),
            service: "sshd".into(),
            tty: String::new(),
            ..Default::default()
        };
        domain::logins::start(&app.ctx, &server_of(&app, &p).await, &req).await.unwrap();
    }
    let refused = app.agent_of(&p).try_login_start("root", "203.0.113.1").await.unwrap_err();
    assert_eq!((agent_status(&refused), agent_error_code(&refused)), (429, "AGENT.0429"));
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.login_start(&p.credential, "root", "203.0.113.1").await.status(), 200, "a minute later");
}
on_both_databases!(
    unclear_states_and_floods_are_refused_not_let_through,
    super::unclear_states_and_floods_are_refused_not_let_through
);

async fn server_of(app: &TestApp, p: &Protected) -> domain::entities::server::Model {
    domain::entities::server::Entity::find_by_id(p.server_id).one(&app.ctx.db).await.unwrap().unwrap()
}

/// Like [`sms_server`], for tests that read the outbox only (no SMTP sink runs).
async fn sms_server_outbox_only(backend: Backend) -> SmsOutbox {
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Logins", "web-01", &[PHONE, OPS, DEV]).await;
    app.put_in_force(&p, Some("sms")).await;
    SmsOutbox { app, p }
}

struct SmsOutbox {
    app: TestApp,
    p: Protected,
}

impl SmsOutbox {
    async fn to_code_prompt(&self, account: &str, recipient: &str) -> LoginReply {
        let start = self.app.start_ok(&self.p, account, "198.51.100.7").await;
        assert_eq!(prompt_of(&start.step), ("Phone number or email address: ", true));
        self.app.answer_ok(&self.p, start.login_id, recipient).await
    }
}

/// A topic of `p`'s tenant whose endpoints are confirmed.
async fn confirmed_topic(app: &TestApp, p: &Protected, endpoints: &[&str]) -> Uuid {
    use domain::entities::subscription;
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let name = format!("codes-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let topic = domain::topics::create(
        &app.ctx,
        &p.caller,
        &actor,
        &domain::topics::NewTopic::parse(&name, "New login codes").unwrap(),
    )
    .await
    .unwrap();
    let new: Vec<_> = endpoints
        .iter()
        .map(|e| domain::subscriptions::NewEndpoint {
            protocol: "email".into(),
            endpoint: (*e).into(),
            remark: String::new(),
        })
        .collect();
    domain::subscriptions::add(&app.ctx, &p.caller, &actor, topic.id, &new).await.unwrap();
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, sea_orm::sea_query::Expr::value("confirmed"))
        .filter(subscription::Column::TopicId.eq(topic.id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    topic.id
}

/// Login code messages queued for `to`.
async fn codes_queued_for(app: &TestApp, to: &str) -> usize {
    outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(to))
        .filter(outbox::Column::Kind.eq("login_code"))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .len()
}

/// Issue 15, item 9: while a server is enabling (a saved SMS/Email change waiting for its apply
/// delay or for the agent), codes go to the topic being enabled, never to the one applied before.
async fn while_enabling_codes_go_to_the_topic_being_enabled(backend: Backend) {
    use domain::entities::two_factor_config as config;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    const NEW: &str = "oncall@acme-logins.test";
    let s = sms_server_outbox_only(backend).await;
    let app = &s.app;
    let old_topic = s.p.topic_id;
    let new_topic = confirmed_topic(app, &s.p, &[NEW]).await;
    let set = |phase: &'static str, applied_enabled: bool| async move {
        let mut c =
            config::Entity::find_by_id(s.p.server_id).one(&app.ctx.db).await.unwrap().unwrap().into_active_model();
        c.enabled = Set(true);
        c.method = Set(proto::Method::Sms);
        c.topic_id = Set(Some(new_topic));
        c.revision = Set(2);
        c.phase = Set(config::PhaseName::parse(phase).unwrap());
        c.applied_revision = Set(1);
        c.applied_enabled = Set(applied_enabled);
        c.applied_method = Set(Some(proto::Method::Sms));
        c.applied_topic_id = Set(Some(old_topic));
        c.update(&app.ctx.db).await.unwrap();
    };

    // A change of topic handed to the agent, not acknowledged yet.
    set("delivering", true).await;
    let to_new = s.to_code_prompt("root", NEW).await;
    assert!(prompt_of(&to_new.step).0.starts_with("Input #"));
    assert_eq!(codes_queued_for(app, NEW).await, 1, "the topic being enabled gets the code");
    let to_old = s.to_code_prompt("deploy", OPS).await;
    assert!(prompt_of(&to_old.step).0.starts_with("Input #"), "the dialogue tells nothing either way");
    assert_eq!(codes_queued_for(app, OPS).await, 0, "the topic being replaced gets nothing");
    assert_eq!(app.login_row(to_old.login_id).await.reason, "code sent to 0 endpoints");

    // Still waiting for the apply delay: the same.
    set("scheduled", true).await;
    s.to_code_prompt("backup", NEW).await;
    assert_eq!(codes_queued_for(app, NEW).await, 2);

    // A first enable (2FA was off, an old topic remembered): the new topic.
    set("delivering", false).await;
    s.to_code_prompt("web", NEW).await;
    assert_eq!(codes_queued_for(app, NEW).await, 3);
    s.to_code_prompt("web", OPS).await;
    assert_eq!(codes_queued_for(app, OPS).await, 0);

    // A canceled change leaves the applied topic in force.
    set("canceled", true).await;
    s.to_code_prompt("ops", OPS).await;
    assert_eq!(codes_queued_for(app, OPS).await, 1);
    s.to_code_prompt("ops", NEW).await;
    assert_eq!(codes_queued_for(app, NEW).await, 3);
}
on_both_databases!(
    while_enabling_codes_go_to_the_topic_being_enabled,
    super::while_enabling_codes_go_to_the_topic_being_enabled
);

/// Issue 15, item 6: the per-source send cap spans the tenant's servers, so concurrent code
/// requests from one address to several servers must be counted one at a time.
async fn parallel_code_requests_from_one_source_stay_within_its_cap(backend: Backend) {
    let s = sms_server_outbox_only(backend).await;
    let app = &s.app;
    // Two more servers of the same tenant, 2FA on with the same topic.
    let actor = domain::audit::Actor::new("test", "127.0.0.1");
    let mut servers = vec![];
    for name in ["web-02", "web-03"] {
        let (token, _) = domain::agents::create_install_token(&app.ctx, &s.p.caller, &actor).await.unwrap();
        let facts = proto::agent::Facts {
            hostname: name.into(),
            os_type: "linux".into(),
            os_name: "Debian GNU/Linux 12".into(),
            agent_version: "test".into(),
            ..Default::default()
        };
        let registered = domain::agents::register(&app.ctx, &token, &facts, "127.0.0.1").await.unwrap();
        let p = Protected {
            server_id: registered.server_id,
            server_name: name.into(),
            credential: secrecy::ExposeSecret::expose_secret(&registered.credential).to_owned(),
            tenant: s.p.tenant.clone(),
            admin: s.p.admin.clone(),
            caller: s.p.caller.clone(),
            topic_id: s.p.topic_id,
        };
        app.put_in_force(&p, Some("sms")).await;
        servers.push(p);
    }
    let mut waiting = vec![];
    for i in 0..8 {
        for p in [&s.p, &servers[0], &servers[1]] {
            let start = app.start_ok(p, &format!("user{i}"), "198.51.100.77").await;
            waiting.push((p, start.login_id));
        }
    }
    let answers = futures::future::join_all(
        waiting.iter().map(|(p, id)| app.login_answer(&p.credential, *id, "nobody@nowhere.test")),
    )
    .await;
    assert!(answers.iter().all(|r| r.status() == 200));
    let sent = server_login::Entity::find()
        .filter(server_login::Column::SourceIp.eq("198.51.100.77"))
        .filter(server_login::Column::CodeSentAt.is_not_null())
        .all(&app.ctx.db)
        .await
        .unwrap()
        .len() as u64;
    assert_eq!(
        sent,
        domain::logins::SENDS_PER_SOURCE,
        "{sent} codes for one source; the cap is {}",
        domain::logins::SENDS_PER_SOURCE
    );
}
on_both_databases!(
    parallel_code_requests_from_one_source_stay_within_its_cap,
    super::parallel_code_requests_from_one_source_stay_within_its_cap
);

fn offline(reason: LoginReason, result: LoginResult, at: chrono::DateTime<chrono::Utc>) -> OfflineLogin {
    OfflineLogin {
        id: Uuid::new_v4(),
        at: at.to_rfc3339(),
        account: "root".into(),
        source_ip: "198.51.100.9".into(),
        service: "sshd".into(),
        result,
        reason: reason.into(),
        break_glass_id: None,
    }
}

async fn post_offline(app: &TestApp, p: &Protected, logins: &[OfflineLogin]) -> reqwest::Response {
    let report = OfflineReport { logins: logins.to_vec() };
    app.http.post(app.url(paths::LOGINS_OFFLINE)).bearer_auth(&p.credential).json(&report).send().await.unwrap()
}

/// Issue 15, item 7: one agent cannot load the database for all. Offline rows are capped per
/// server and day (a refused report is kept by the agent and sent again, split), and every
/// write the agent API takes comes out of the agent's own budget, 429 with Retry-After past it.
async fn offline_rows_and_agent_writes_are_capped_per_server(backend: Backend) {
    use domain::{entities::agent_guard, logins::settings::OFFLINE_ROWS_PER_SERVER, Clock};
    use sea_orm::ActiveValue::Set;
    let app = spawn_app_with(backend, Options::empty()).await;
    let p = app.protected_server("Acme Caps", "cap-01", &[]).await;
    let other = app.protected_server("Globex Caps", "cap-02", &[]).await;
    let now = app.clock.now();
    // The server has reported all but one row of its day's cap.
    agent_guard::Entity::insert(agent_guard::ActiveModel {
        server_id: Set(p.server_id),
        tenant_id: Set(p.tenant.id),
        credential_rejected_at: Set(None),
        offline_window_start: Set(Some(now - chrono::Duration::hours(1))),
        offline_rows_in_window: Set(OFFLINE_ROWS_PER_SERVER - 1),
    })
    .exec_without_returning(&app.ctx.db)
    .await
    .unwrap();
    let (a, b) = (
        offline(LoginReason::FailSafe, LoginResult::Allowed, now),
        offline(LoginReason::FailSecure, LoginResult::Denied, now),
    );
    let res = post_offline(&app, &p, &[a.clone(), b.clone()]).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: proto::agent::ApiError = res.json().await.unwrap();
    assert_eq!(body.error_code, "AGENT.0429");
    assert!(body.error_msg.contains("10000"), "{body:?}");
    let rows = || async {
        server_login::Entity::find()
            .filter(server_login::Column::ServerId.eq(p.server_id))
            .all(&app.ctx.db)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(rows().await, 0, "a refused report records nothing");
    // Split, the first half fits; sent again it is not counted twice; the rest waits.
    assert_eq!(post_offline(&app, &p, std::slice::from_ref(&a)).await.status(), 204);
    assert_eq!(post_offline(&app, &p, std::slice::from_ref(&a)).await.status(), 204);
    assert_eq!(post_offline(&app, &p, std::slice::from_ref(&b)).await.status(), 429);
    assert_eq!(rows().await, 1);
    // Another server is not held up, and the next day the rest is taken.
    assert_eq!(
        post_offline(&app, &other, &[offline(LoginReason::FailSafe, LoginResult::Allowed, now)]).await.status(),
        204
    );
    app.clock.advance(chrono::Duration::hours(23));
    assert_eq!(post_offline(&app, &p, std::slice::from_ref(&b)).await.status(), 204);
    assert_eq!(rows().await, 2);

    // Reports (heartbeats here): a burst of 60, then 429 with Retry-After; other agents are not
    // affected. (The budgets run on real time.)
    let heartbeat = |p: &Protected| {
        app.http
            .post(app.url(paths::HEARTBEAT))
            .bearer_auth(&p.credential)
            .json(&serde_json::json!({"agent_version": "test", "applied_revision": 0}))
            .send()
    };
    let mut passed = 0;
    let started = std::time::Instant::now();
    let refused = loop {
        let res = heartbeat(&other).await.unwrap();
        if res.status() != 204 {
            break res;
        }
        passed += 1;
        // The burst, and what refills at 0.5 a second while a slow machine sends it.
        assert!(passed <= 62 + started.elapsed().as_secs() / 2, "no limit");
    };
    assert_eq!(refused.status(), 429);
    // 0.5 a second: the next report is due within 2 s (less when the refusal came a moment
    // after the bucket emptied, as on a busy machine).
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(passed >= 58, "a burst passes ({passed}; one report above came out of it)");
    assert_eq!(heartbeat(&p).await.unwrap().status(), 204, "another agent's budget is its own");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(heartbeat(&other).await.unwrap().status(), 204, "refilled");

    // Logins have a generous budget of their own: 600 calls in a burst (and 20 a second), then 429.
    // 32 calls at a time, so that the calls outpace the refill however slow each one is.
    let mut passed = 0u64;
    let started = std::time::Instant::now();
    let refused = loop {
        let answers =
            futures::future::join_all((0..32).map(|_| app.login_answer(&other.credential, Uuid::new_v4(), "123456")))
                .await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
        assert!(statuses.iter().all(|s| matches!(s, 404 | 429)), "only not found or too many: {statuses:?}");
        let (found, refused): (Vec<_>, Vec<_>) = answers.into_iter().partition(|r| r.status() == 404);
        passed += found.len() as u64;
        assert!(passed <= 600 + 20 * started.elapsed().as_secs() + 20 && passed <= 5000, "no limit ({passed})");
        if let Some(refused) = refused.into_iter().next() {
            break refused;
        }
    };
    assert!(passed >= 600, "{passed}");
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(app.login_start(&p.credential, "root", "198.51.100.7").await.status(), 200);
}
on_both_databases!(
    offline_rows_and_agent_writes_are_capped_per_server,
    super::offline_rows_and_agent_writes_are_capped_per_server
);
