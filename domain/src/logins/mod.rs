//! Logins to servers: the console's side of the login dialogue (see `docs/login-protocol.md`).
//!
//! A server's agent opens a login when HostGuard's PAM module is reached, after the password.
//! The console answers with the next [`Step`] and keeps where the dialogue stands in the login's
//! row, which is also the login audit. Only the server's own agent can open or answer its
//! logins; every answer is checked against the row, inside a write transaction that holds the
//! row, so two answers cannot both use one code.

pub mod audit;
mod code;
pub mod history;
mod methods;
mod push;
pub mod settings;
mod sms;

use crate::{
    ctx::Ctx,
    entities::{
        server,
        server_login::{self, LoginMethod, Stage},
        two_factor_config as config,
    },
    error::{DomainError, DomainResult, FieldError},
};
use chrono::{DateTime, Duration, Utc};
use proto::login::{LoginReply, LoginResult, LoginStart, Step};
use proto::Method;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub use code::USER_WRONG_CODES;
pub use methods::{MENU_PROMPT, OUT_OF_CREDITS, SENDS_PER_LOGIN, SENDS_PER_PERSON};
pub use push::{PUSHES_PER_HOUR, PUSHES_PER_MINUTE, PUSH_VALID_SECS};
pub use settings::{LoginSettings, SettingsChange};
pub use sms::SENDS_PER_SOURCE;

/// How long a sent code is valid.
pub const CODE_VALID_MINUTES: i64 = 5;
/// Wrong codes a login may type before it is refused.
pub const MAX_CODE_ATTEMPTS: i32 = 3;
/// A dialogue not finished by then is over (the module gives up well before).
pub const LOGIN_VALID_MINUTES: i64 = 10;

/// Whether login `row` is past [`LOGIN_VALID_MINUTES`] at `now`.
fn timed_out(row: &server_login::Model, now: DateTime<Utc>) -> bool {
    now > row.created_at + Duration::minutes(LOGIN_VALID_MINUTES)
}

/// Input limits of the agent's requests.
pub mod limits {
    pub const ACCOUNT: usize = 64;
    pub const SOURCE_IP: usize = 255;
    pub const SERVICE: usize = 64;
    pub const TTY: usize = 64;
    pub const ANSWER: usize = proto::login::MAX_ANSWER_CHARS;
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must not contain control characters"));
        // PAM items are one line
    }
}

fn validate_start(req: &LoginStart) -> DomainResult<()> {
    let mut errors = vec![];
    check_text(&mut errors, "account", &req.account, limits::ACCOUNT, true);
    check_text(&mut errors, "source_ip", &req.source_ip, limits::SOURCE_IP, false);
    check_text(&mut errors, "service", &req.service, limits::SERVICE, true);
    check_text(&mut errors, "tty", &req.tty, limits::TTY, false);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

/// What a login that reached the module must pass.
enum Required {
    /// Nothing: 2FA is off for the server.
    Nothing,
    Factor {
        method: Method,
        topic_id: Option<Uuid>,
    },
    /// 2FA is on but no method was recorded: refused, never let through.
    Unknown,
}

/// Whether `c`'s newest change is an enable on its way (the tab's Enabling…), newer than what
/// the agent acknowledged.
fn enabling(c: &config::Model) -> bool {
    use config::PhaseName::{Delivering, Scheduled};
    c.enabled && c.revision > c.applied_revision && matches!(c.phase, Scheduled | Delivering)
}

/// What a login must pass. While an enable is on its way, that change: the module being asked
/// at all shows 2FA is wanted, and the tab shows the new method and topic, so codes go where
/// the admin just said (never to a topic being replaced). Otherwise what the agent
/// acknowledged; and a failed or canceled first enable whose module is still asked keeps its
/// factor rather than letting logins through.
fn required(c: Option<&config::Model>) -> Required {
    let Some(c) = c else { return Required::Nothing };
    let (method, topic_id) = if enabling(c) {
        (Some(c.method), c.topic_id)
    } else if c.applied_revision > 0 && c.applied_enabled {
        (c.applied_method, c.applied_topic_id)
    } else if c.enabled {
        (Some(c.method), c.topic_id)
    } else {
        return Required::Nothing;
    };
    match method {
        Some(method) => Required::Factor { method, topic_id },
        None => Required::Unknown,
    }
}

/// The topic an SMS/Email login of a server with configuration `c` sends its codes to.
fn sms_topic(c: Option<&config::Model>) -> Option<Uuid> {
    match required(c) {
        Required::Factor { method: Method::Sms, topic_id } => topic_id,
        _ => None,
    }
}

/// Logins one server may open a minute: far above any real fleet's use, and a bound on what
/// one agent (of any tenant) can make the console write.
pub const STARTS_PER_SERVER_PER_MINUTE: u64 = 300;

/// The number of the server's next login, 1 to 99 and around again: short enough to read off
/// a phone, and different for logins close in time, so a user with several knows which code
/// is which.
async fn next_number(txn: &DatabaseTransaction, server_id: Uuid) -> DomainResult<i32> {
    let last = server_login::Entity::find()
        .filter(server_login::Column::ServerId.eq(server_id))
        .filter(server_login::Column::Offline.eq(false))
        .order_by_desc(server_login::Column::CreatedAt)
        .order_by_desc(server_login::Column::Number)
        .limit(1)
        .one(txn)
        .await?;
    Ok(last.map_or(1, |l| l.number % 99 + 1))
}

/// A login reached the PAM module of `s`: record it and say what happens next.
pub async fn start(ctx: &Ctx, s: &server::Model, req: &LoginStart) -> DomainResult<LoginReply> {
    validate_start(req)?;
    let (s, req) = (s.clone(), req.clone());
    // Answered after its write is committed (with others' on SQLite: the group commit).
    let (reply, row) =
        crate::group_commit::write(ctx, move |ctx, txn| Box::pin(async move { start_in(ctx, txn, &s, &req).await }))
            .await?;
    log_outcome(&row);
    Ok(reply)
}

/// [`start`] in `txn`; also the login as written, to log once committed.
async fn start_in(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    s: &server::Model,
    req: &LoginStart,
) -> DomainResult<(LoginReply, server_login::Model)> {
    let now = ctx.clock.now();
    // One number per login at a time; also orders this login after a config change in flight.
    crate::two_factor::lock_servers(txn, &[s.id]).await?;
    let cfg = config::Entity::find_by_id(s.id).one(txn).await?;
    let settings = settings::of(txn, s.id).await?;
    let recent = server_login::Entity::find()
        .filter(server_login::Column::ServerId.eq(s.id))
        .filter(server_login::Column::CreatedAt.gt(now - Duration::minutes(1)))
        .count(txn)
        .await?;
    if recent >= STARTS_PER_SERVER_PER_MINUTE {
        return Err(DomainError::RateLimited(format!(
            "more than {STARTS_PER_SERVER_PER_MINUTE} logins to this server in a minute; try again shortly"
        )));
    }
    let number = next_number(txn, s.id).await?;
    let mut row = server_login::Model {
        id: Uuid::new_v4(),
        tenant_id: s.tenant_id,
        server_id: s.id,
        server_name: s.name.clone(),
        account: req.account.clone(),
        source_ip: req.source_ip.clone(),
        source_block: crate::accounts::source_block(&req.source_ip),
        service: req.service.clone(),
        method: LoginMethod::None,
        number,
        stage: Stage::Done,
        code_hash: None,
        code_sent_at: None,
        code_expires_at: None,
        attempts: 0,
        result: None,
        reason: String::new(),
        offline: false,
        end_user_id: None,
        created_at: now,
        finished_at: None,
    };

    let step = match (required(cfg.as_ref()), settings.exemption(&req.account, &req.source_ip)) {
        (Required::Nothing, _) => {
            finish(&mut row, now, LoginResult::Allowed, "2FA is off for this server", Step::allow())
        }
        (Required::Unknown, _) => finish(
            &mut row,
            now,
            LoginResult::Denied,
            "the server's 2FA method is unknown",
            Step::deny("HostGuard: this server's two-factor setting cannot be read. Ask your administrator."),
        ),
        (Required::Factor { .. }, Some(why)) => finish(&mut row, now, LoginResult::Allowed, &why, Step::allow()),
        (Required::Factor { method, topic_id }, None) => match method {
            Method::Sms => {
                row.method = LoginMethod::Sms;
                sms::begin(txn, &mut row, topic_id, now).await?
            }
            Method::Code => {
                row.method = LoginMethod::Code;
                code::begin(ctx, txn, &mut row, &settings, now).await?
            }
        },
    };
    server_login::Entity::insert(row.clone().into_active_model()).exec_without_returning(txn).await?;
    Ok((LoginReply::new(row.id, step), row))
}

/// Ends the login in `row` and returns `step`.
fn finish(row: &mut server_login::Model, now: DateTime<Utc>, result: LoginResult, reason: &str, step: Step) -> Step {
    row.stage = Stage::Done;
    row.result = Some(result);
    row.reason = reason.to_owned();
    row.finished_at = Some(now);
    row.code_hash = None;
    step
}

fn log_outcome(row: &server_login::Model) {
    if let Some(result) = &row.result {
        tracing::info!(
            server = %row.server_name, account = %row.account, source_ip = %row.source_ip,
            method = %row.method, result = %result, reason = %row.reason, "login"
        );
    }
}

/// A push request a login waits for: the caller may hold the agent's call until it is decided
/// (or expires), then answer again with an empty answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushWaiting {
    pub request_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The next step of a login, and the push request it waits for, if it does.
#[derive(Clone, Debug)]
pub struct Answered {
    pub reply: LoginReply,
    pub waiting: Option<PushWaiting>,
}

/// The user's answer to the last prompt of login `login_id` of server `s`.
pub async fn answer(ctx: &Ctx, s: &server::Model, login_id: Uuid, answer: &str) -> DomainResult<LoginReply> {
    Ok(answer_or_wait(ctx, s, login_id, answer).await?.reply)
}

/// [`answer`], also saying which push request the login waits for when an empty answer at the
/// push prompt found it still pending (the login is then unchanged).
pub async fn answer_or_wait(ctx: &Ctx, s: &server::Model, login_id: Uuid, answer: &str) -> DomainResult<Answered> {
    if answer.chars().count() > limits::ANSWER {
        return Err(DomainError::validation("answer", format!("must be at most {} characters", limits::ANSWER)));
    }
    let since = std::time::Instant::now();
    let portal_code = code::portal_code(ctx, s.id, login_id, answer).await?;
    let (s, answer) = (s.clone(), answer.to_owned());
    // Answered after its write is committed (with others' on SQLite: the group commit), within
    // the batch's wait counted from before the portal code's check.
    let (answered, ended) = crate::group_commit::write_since(ctx, since, move |ctx, txn| {
        Box::pin(async move { answer_in(ctx, txn, &s, login_id, &answer, portal_code).await })
    })
    .await?;
    if let Some(row) = ended {
        log_outcome(&row);
    }
    Ok(answered)
}

/// [`answer_or_wait`] in `txn`; also the login as written, to log once committed.
async fn answer_in(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    s: &server::Model,
    login_id: Uuid,
    answer: &str,
    portal_code: Option<Uuid>,
) -> DomainResult<(Answered, Option<server_login::Model>)> {
    let now = ctx.clock.now();
    crate::db::lock_rows::<server_login::Entity>(txn, &[login_id]).await?;
    // Another server's login is "not found": its id reveals nothing.
    let Some(mut row) =
        server_login::Entity::find_by_id(login_id).filter(server_login::Column::ServerId.eq(s.id)).one(txn).await?
    else {
        return Err(DomainError::NotFound("login"));
    };
    if row.stage == Stage::Done {
        // A replayed answer, or a code typed into a finished login: nothing changes.
        let step = Step::deny("HostGuard: this login has already ended. Log in again.");
        return Ok((Answered { reply: LoginReply::new(login_id, step), waiting: None }, None));
    }
    let mut waiting = None;
    let step = if timed_out(&row, now) {
        finish(
            &mut row,
            now,
            LoginResult::Denied,
            "the login took too long",
            Step::deny("HostGuard: the login took too long. Log in again."),
        )
    } else {
        match row.stage {
            Stage::Recipient => {
                // The code-sending limits are counted per server: two answers must not both
                // read the count before either adds to it. (Only this stage: verifying a code
                // needs the login's row alone, so one server's logins verify in parallel.)
                crate::two_factor::lock_servers(txn, &[s.id]).await?;
                if !row.source_ip.is_empty() {
                    // The per-source count spans the tenant's servers.
                    crate::db::lock_key(txn, &format!("login-sends:{}:{}", row.tenant_id, row.source_block)).await?;
                }
                sms::send_code(ctx, txn, &mut row, answer, now).await?
            }
            Stage::Code => check_code(&mut row, answer, now),
            Stage::Verify | Stage::Push => {
                if let Some(user_id) = row.end_user_id {
                    // Wrong codes, sends and pushes are counted per end user, across servers.
                    crate::db::lock_rows::<crate::entities::user::Entity>(txn, &[user_id]).await?;
                }
                let (step, wait) = code::verify(ctx, txn, &mut row, answer, portal_code, now).await?;
                waiting = wait;
                step
            }
            _ => finish(
                &mut row,
                now,
                LoginResult::Denied,
                "the login's state is unknown",
                Step::deny("HostGuard: this login cannot continue. Log in again."),
            ),
        }
    };
    server_login::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(row.id),
        stage: Set(row.stage),
        code_hash: Set(row.code_hash.clone()),
        code_sent_at: Set(row.code_sent_at),
        code_expires_at: Set(row.code_expires_at),
        attempts: Set(row.attempts),
        result: Set(row.result),
        reason: Set(row.reason.clone()),
        finished_at: Set(row.finished_at),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok((Answered { reply: LoginReply::new(login_id, step), waiting }, Some(row)))
}

/// The code's hash, bound to its login: a code is only ever good for the login it was sent for.
fn code_hash(login_id: Uuid, code: &str) -> String {
    crate::tokens::hash_token(&format!("{login_id}:{code}"))
}

fn check_code(row: &mut server_login::Model, answer: &str, now: DateTime<Utc>) -> Step {
    if row.code_expires_at.is_none_or(|at| now > at) {
        return finish(
            row,
            now,
            LoginResult::Denied,
            "the code expired",
            Step::deny(format!(
                "HostGuard: the code has expired (codes are valid for {CODE_VALID_MINUTES} minutes). Log in again for a new one."
            )),
        );
    }
    let typed: String = answer.chars().filter(|c| !c.is_whitespace()).collect();
    if row.code_hash.as_deref() == Some(code_hash(row.id, &typed).as_str()) {
        return finish(row, now, LoginResult::Allowed, "code accepted", Step::allow());
    }
    row.attempts += 1;
    if row.attempts >= MAX_CODE_ATTEMPTS {
        return finish(
            row,
            now,
            LoginResult::Denied,
            &format!("{MAX_CODE_ATTEMPTS} wrong codes"),
            Step::deny("HostGuard: wrong code, and no attempts are left. Log in again for a new code."),
        );
    }
    let left = MAX_CODE_ATTEMPTS - row.attempts;
    Step::prompt(format!("Input #{} Code: ", row.number), false)
        .with_info(format!("Wrong code. {left} attempt{} left.", if left == 1 { "" } else { "s" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_requests_are_checked_field_by_field() {
        let ok = LoginStart {
            account: "root".into(),
            source_ip: "192.0.2.1".into(),
            service: "sshd".into(),
            tty: "ssh".into(),
            ..Default::default()
        };
        assert!(validate_start(&ok).is_ok());
        let bad = LoginStart {
            account: "".into(),
            source_ip: "x".repeat(300),
            service: "ss\nhd".into(),
            tty: String::new(),
            ..Default::default()
        };
        let Err(DomainError::Invalid(errors)) = validate_start(&bad) else { panic!("accepted") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["account", "source_ip", "service"]);
    }

    #[test]
    fn codes_are_bound_to_their_login() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(code_hash(a, "123456"), code_hash(a, "123456"));
        assert_ne!(code_hash(a, "123456"), code_hash(b, "123456"));
    }
}
