//! The durable outbox: every email, SMS and voice message is written here in the same
//! transaction as the change that caused it. Workers lease due messages (so two replicas never
//! hold the same one), send them, and record the outcome; failures are retried with backoff and
//! end as `failed` with the reason.

use crate::{
    caller::{Caller, Role},
    ctx::Ctx,
    entities::outbox,
    error::{DomainError, DomainResult},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;

pub const MAX_ATTEMPTS: i32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub tenant_id: Option<Uuid>,
    pub channel: Channel,
    pub kind: &'static str,
    pub recipient: String,
    pub sender_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

pub async fn enqueue<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>, m: NewMessage) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    outbox::Entity::insert(outbox::ActiveModel {
        id: Set(id),
        tenant_id: Set(m.tenant_id),
        channel: Set(m.channel.as_str().to_owned()),
        kind: Set(m.kind.to_owned()),
        recipient: Set(m.recipient),
        sender_name: Set(m.sender_name),
        subject: Set(m.subject),
        body_text: Set(m.body_text),
        body_html: Set(m.body_html),
        status: Set("pending".into()),
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

/// How many messages of this kind went to this recipient since `since` (for resend limits).
pub async fn count_recent<C: ConnectionTrait>(
    conn: &C,
    recipient: &str,
    kind: &str,
    since: DateTime<Utc>,
) -> DomainResult<u64> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(recipient))
        .filter(outbox::Column::Kind.eq(kind))
        .filter(outbox::Column::CreatedAt.gt(since))
        .count(conn)
        .await?)
}

/// Leases up to `limit` due messages for `owner` until `now + lease`. On PostgreSQL rows that
/// another replica is leasing at this moment are skipped (`FOR UPDATE SKIP LOCKED`); SQLite has
/// one writer at a time, so its single UPDATE is atomic as it is.
pub async fn claim(ctx: &Ctx, owner: &str, limit: u64, lease: Duration) -> DomainResult<Vec<outbox::Model>> {
    let now = ctx.clock.now();
    let until = now + lease;
    let backend = ctx.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (
                SELECT id FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING *"
        }
        _ => {
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id IN (
                SELECT id FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
                ORDER BY next_attempt_at LIMIT ?4)
             RETURNING *"
        }
    };
    let stmt =
        Statement::from_sql_and_values(backend, sql, [owner.into(), until.into(), now.into(), (limit as i64).into()]);
    let rows = ctx.db.query_all_raw(stmt).await?;
    rows.iter().map(|r| outbox::Model::from_query_result(r, "").map_err(Into::into)).collect()
}

/// Records a successful send. False if the lease was lost meanwhile.
pub async fn mark_sent(ctx: &Ctx, id: Uuid, owner: &str) -> DomainResult<bool> {
    let now = ctx.clock.now();
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value("sent"))
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

/// Records a failed attempt: retried after a backoff, or `failed` after `MAX_ATTEMPTS`.
pub async fn mark_failed(ctx: &Ctx, m: &outbox::Model, owner: &str, error: &str) -> DomainResult<()> {
    let now = ctx.clock.now();
    let attempts = m.attempts + 1;
    let status = if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + backoff(attempts)))
        .col_expr(outbox::Column::LastError, Expr::value(error.chars().take(2000).collect::<String>()))
        .col_expr(outbox::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(outbox::Column::Id.eq(m.id))
        .filter(outbox::Column::LeaseOwner.eq(owner))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The outbox, newest first, for operators.
pub async fn list(ctx: &Ctx, caller: &Caller, limit: u64) -> DomainResult<Vec<outbox::Model>> {
    if caller.role != Role::Operator {
        return Err(DomainError::Forbidden);
    }
    Ok(outbox::Entity::find().order_by_desc(outbox::Column::CreatedAt).limit(limit.clamp(1, 500)).all(&ctx.db).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<i64> = (1..=10).map(|n| super::backoff(n).num_seconds()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800]);
    }
}
