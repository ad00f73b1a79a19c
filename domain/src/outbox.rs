//! The durable outbox: every email, SMS and voice message is written here in the same
//! transaction as the change that caused it. Workers lease due messages (so two replicas never
//! hold the same one), send them, and record the outcome; failures are retried with backoff and
//! end as `failed` with the reason.
//!
//! Secrets in a message (link tokens; later login codes) never sit in its subject or bodies:
//! those hold placeholders, the secrets a column of their own that is rendered in only at send
//! time and cleared once the message is sent or given up. Operators see them masked.

use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::{outbox, tenant},
    error::{DomainError, DomainResult},
    servers::{page_offset, Page},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

pub const MAX_ATTEMPTS: i32 = 8;

pub use proto::{Channel, MessageKind, OutboxStatus};

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub tenant_id: Option<Uuid>,
    pub channel: Channel,
    pub kind: MessageKind,
    pub recipient: String,
    pub sender_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Values in the subject and bodies that must not outlive delivery nor be shown to
    /// operators (link tokens, codes).
    pub secrets: Vec<String>,
}

/// What operators see in place of a secret.
pub const MASK: &str = "••••••";

fn placeholder(i: usize) -> String {
    format!("{{{{hostguard-secret-{i}}}}}")
}

/// Replaces each secret in `text` by its placeholder.
fn hide(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .enumerate()
        .fold(text.to_owned(), |t, (i, s)| if s.is_empty() { t } else { t.replace(s, &placeholder(i)) })
}

/// Puts `values` (the secrets, or masks) in place of the placeholders of `text`.
fn fill(text: &str, values: &[&str]) -> String {
    values.iter().enumerate().fold(text.to_owned(), |t, (i, v)| t.replace(&placeholder(i), v))
}

fn secrets_of(m: &outbox::Model) -> Vec<String> {
    m.secrets.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

/// A transport's error with the message's secrets masked: gateways often echo what they
/// refused, and the error is logged and shown to operators.
pub fn masked_error(m: &outbox::Model, error: &str) -> String {
    let secrets = secrets_of(m);
    let masks: Vec<&str> = secrets.iter().map(|_| MASK).collect();
    fill(&hide(error, &secrets), &masks)
}

/// The message as it is sent: its secrets in place of their placeholders.
pub fn render(m: &outbox::Model) -> outbox::Model {
    let secrets = secrets_of(m);
    let values: Vec<&str> = secrets.iter().map(String::as_str).collect();
    outbox::Model {
        subject: fill(&m.subject, &values),
        body_text: fill(&m.body_text, &values),
        body_html: fill(&m.body_html, &values),
        secrets: None,
        ..m.clone()
    }
}

/// The message as operators see it: every secret masked, whether still held or already
/// dropped after delivery.
pub fn masked(m: &outbox::Model) -> outbox::Model {
    let masks = [MASK; MAX_SECRETS];
    outbox::Model {
        subject: fill(&m.subject, &masks),
        body_text: fill(&m.body_text, &masks),
        body_html: fill(&m.body_html, &masks),
        secrets: None,
        ..m.clone()
    }
}

/// The most secrets one message carries (a confirmation: its two link tokens).
const MAX_SECRETS: usize = 8;

pub async fn enqueue<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>, m: NewMessage) -> DomainResult<Uuid> {
    if m.secrets.len() > MAX_SECRETS {
        return Err(DomainError::Internal(format!("a message may carry at most {MAX_SECRETS} secrets")));
    }
    let id = Uuid::new_v4();
    let secrets = (!m.secrets.is_empty())
        .then(|| serde_json::to_string(&m.secrets))
        .transpose()
        .map_err(|e| DomainError::Internal(format!("secrets: {e}")))?;
    outbox::Entity::insert(outbox::ActiveModel {
        id: Set(id),
        tenant_id: Set(m.tenant_id),
        channel: Set(m.channel),
        kind: Set(m.kind),
        recipient: Set(m.recipient),
        sender_name: Set(m.sender_name),
        subject: Set(hide(&m.subject, &m.secrets)),
        body_text: Set(hide(&m.body_text, &m.secrets)),
        body_html: Set(hide(&m.body_html, &m.secrets)),
        secrets: Set(secrets),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Leases up to `limit` due messages for `owner` until `now + lease`. On PostgreSQL rows that
/// another replica is leasing at this moment are skipped (`FOR UPDATE SKIP LOCKED`); SQLite has
/// one writer at a time, so its single UPDATE is atomic as it is.
pub async fn claim(ctx: &Ctx, owner: &str, limit: u64, lease: Duration) -> DomainResult<Vec<outbox::Model>> {
    let now = ctx.clock.now();
    let until = now + lease;
    let backend = ctx.db.get_database_backend();
    // The columns by name, not `*`: a SQLite connection that prepared this before a migration
    // added a column would otherwise return more columns than sqlx cached for the statement.
    let columns = outbox::Column::iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (
                SELECT id FROM outbox
                WHERE status = '{pending}' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING {columns}"
        }
        _ => {
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id IN (
                SELECT id FROM outbox
                WHERE status = '{pending}' AND next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
                ORDER BY next_attempt_at LIMIT ?4)
             RETURNING {columns}"
        }
    };
    let sql = sql.replace("{columns}", &columns).replace("{pending}", OutboxStatus::Pending.as_str());
    let stmt =
        Statement::from_sql_and_values(backend, &sql, [owner.into(), until.into(), now.into(), (limit as i64).into()]);
    let rows = ctx.db.query_all_raw(stmt).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for r in &rows {
        match outbox::Model::from_query_result(r, "") {
            Ok(m) => claimed.push(m),
            // A row no version of the console writes (a corrupt channel or kind) must not hold up
            // the messages behind it, login codes among them: it ends failed, with the reason.
            Err(e) => {
                let id: Uuid = r.try_get("", outbox::Column::Id.as_str())?;
                tracing::error!(%id, error = %e, "an outbox row the console cannot read is marked failed");
                outbox::Entity::update_many()
                    .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Failed.as_str()))
                    .col_expr(outbox::Column::LastError, Expr::value(format!("unreadable: {e}")))
                    .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
                    .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
                    .filter(outbox::Column::Id.eq(id))
                    .exec(&ctx.db)
                    .await?;
            }
        }
    }
    Ok(claimed)
}

/// Extends `owner`'s lease on a message right before sending it. False if the lease ran out
/// (another worker may have taken the message over, or may at any moment): then the message
/// must not be sent, or it could go out twice. One conditional UPDATE, so two workers can never
/// both get true for one message at one time.
pub async fn renew_lease(ctx: &Ctx, id: Uuid, owner: &str, lease: Duration) -> DomainResult<bool> {
    let now = ctx.clock.now();
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::LeaseUntil, Expr::value(now + lease))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::LeaseOwner.eq(owner))
        .filter(outbox::Column::LeaseUntil.gt(now))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// What a transport did with a message it accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Handed to the carrier or mail server.
    Sent,
    /// Kept by the development gateway: it never left the machine, so it must not read "Sent".
    Held,
}

impl Delivered {
    pub fn status(self) -> OutboxStatus {
        match self {
            Delivered::Sent => OutboxStatus::Sent,
            Delivered::Held => OutboxStatus::Held,
        }
    }
}

/// Records a successful send and drops the message's secrets. A development hold keeps them:
/// the message never left, the outbox stands in for the phone, and the code is read there (by
/// a developer or a test; operators still see it masked). False if the lease was lost meanwhile.
pub async fn mark_delivered(ctx: &Ctx, id: Uuid, owner: &str, how: Delivered) -> DomainResult<bool> {
    let now = ctx.clock.now();
    let mut update = outbox::Entity::update_many();
    if how == Delivered::Sent {
        update = update.col_expr(outbox::Column::Secrets, Expr::value(Option::<String>::None));
    }
    let res = update
        .col_expr(outbox::Column::Status, Expr::value(how.status()))
        .col_expr(outbox::Column::SentAt, Expr::value(now))
        .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
        .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::LeaseOwner.eq(owner))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The wait before attempt `n + 1` after `n` failed attempts: 5 s, 10 s, 20 s … at most 30 min.
pub fn backoff(attempts: i32) -> Duration {
    let secs = 5i64.saturating_mul(1i64 << (attempts.clamp(1, 20) - 1));
    Duration::seconds(Ord::min(secs, 30 * 60))
}

/// Records a failed attempt: retried after a backoff, or `failed` after `MAX_ATTEMPTS` (and
/// then its secrets are dropped: it will never be sent).
pub async fn mark_failed(ctx: &Ctx, m: &outbox::Model, owner: &str, error: &str) -> DomainResult<()> {
    let now = ctx.clock.now();
    let attempts = m.attempts + 1;
    let status = if attempts >= MAX_ATTEMPTS { OutboxStatus::Failed } else { OutboxStatus::Pending };
    let mut update = outbox::Entity::update_many();
    if status == OutboxStatus::Failed {
        update = update.col_expr(outbox::Column::Secrets, Expr::value(Option::<String>::None));
    }
    update
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + backoff(attempts)))
        .col_expr(outbox::Column::LastError, Expr::value(masked_error(m, error).chars().take(2000).collect::<String>()))
        .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(outbox::Column::Id.eq(m.id))
        .filter(outbox::Column::LeaseOwner.eq(owner))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The operators' outbox view: each filter optional (`None` or empty means all).
#[derive(Clone, Debug, Default)]
pub struct OutboxQuery {
    pub tenant_id: Option<Uuid>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub page: u64,
    pub page_size: u64,
}

/// A message as operators see it (secrets masked), with its tenant's name (`None` for
/// messages of no tenant, such as operators' own).
#[derive(Clone, Debug)]
pub struct Listed {
    pub message: outbox::Model,
    pub tenant_name: Option<String>,
}

/// A filter's value: `None` or empty means all; anything else must name one of `all`.
fn one_of<T: Copy>(
    field: &str,
    value: Option<&str>,
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> DomainResult<Option<T>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => all.iter().copied().find(|t| as_str(*t) == v).map(Some).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|t| as_str(*t)).collect();
            DomainError::validation(field, format!("must be one of {}", names.join(", ")))
        }),
    }
}

/// One page of the outbox, newest first, for operators only, with secrets masked.
pub async fn list(ctx: &Ctx, caller: &Caller, q: &OutboxQuery) -> DomainResult<Page<Listed>> {
    if caller.role != Role::Operator {
        return Err(DomainError::Forbidden);
    }
    let offset = page_offset(q.page, q.page_size)?;
    let mut find = outbox::Entity::find();
    if let Some(t) = q.tenant_id {
        find = find.filter(outbox::Column::TenantId.eq(t));
    }
    if let Some(s) = one_of("status", q.status.as_deref(), OutboxStatus::ALL, OutboxStatus::as_str)? {
        find = find.filter(outbox::Column::Status.eq(s));
    }
    if let Some(c) = one_of("channel", q.channel.as_deref(), Channel::ALL, Channel::as_str)? {
        find = find.filter(outbox::Column::Channel.eq(c));
    }
    let total = find.clone().count(&ctx.db).await?;
    let found = find
        .order_by_desc(outbox::Column::CreatedAt)
        .order_by_desc(outbox::Column::Id)
        .offset(offset)
        .limit(q.page_size)
        .all(&ctx.db)
        .await?;
    let ids: Vec<Uuid> = found.iter().filter_map(|m| m.tenant_id).collect();
    let names: std::collections::HashMap<Uuid, String> = if ids.is_empty() {
        Default::default()
    } else {
        tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(ids))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect()
    };
    let items = found
        .iter()
        .map(|m| Listed { message: masked(m), tenant_name: m.tenant_id.and_then(|t| names.get(&t).cloned()) })
        .collect();
    Ok(Page { items, total })
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<i64> = (1..=10).map(|n| super::backoff(n).num_seconds()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800]);
    }

    #[test]
    fn secrets_are_rendered_at_send_time_and_masked_for_operators() {
        let token = "tok3n-abc_DEF";
        let secrets = vec![token.to_owned(), "second".to_owned()];
        let stored = crate::entities::outbox::Model {
            id: uuid::Uuid::nil(),
            tenant_id: None,
            channel: super::Channel::Email,
            kind: super::MessageKind::SubscriptionConfirmation,
            recipient: "a@b.example".into(),
            sender_name: String::new(),
            subject: super::hide("Code second", &secrets),
            body_text: super::hide(&format!("https://h/c?token={token} and second"), &secrets),
            body_html: super::hide(&format!("<a href=\"https://h/c?token={token}\">"), &secrets),
            secrets: Some(serde_json::to_string(&secrets).unwrap()),
            status: super::OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: chrono::Utc::now(),
            lease_owner: None,
            lease_until: None,
            last_error: None,
            created_at: chrono::Utc::now(),
            sent_at: None,
        };
        assert!(
            !stored.body_text.contains(token)
                && !stored.body_html.contains(token)
                && !stored.subject.contains("second")
        );
        let sent = super::render(&stored);
        assert_eq!(sent.body_text, format!("https://h/c?token={token} and second"));
        assert_eq!(sent.subject, "Code second");
        assert!(sent.body_html.contains(token));
        let shown = super::masked(&stored);
        assert_eq!(shown.body_text, format!("https://h/c?token={} and {}", super::MASK, super::MASK));
        assert_eq!(shown.secrets, None);
        // A gateway that echoes the refused text does not put the token in the error shown.
        let error = super::masked_error(&stored, &format!("400: rejected body https://h/c?token={token}"));
        assert!(!error.contains(token) && error.contains(super::MASK), "{error}");
        // After delivery the secrets are gone; the placeholders still mask.
        let delivered = crate::entities::outbox::Model { secrets: None, ..stored };
        assert!(!super::render(&delivered).body_text.contains(token));
        assert!(super::masked(&delivered).body_text.contains(super::MASK));
    }
}
