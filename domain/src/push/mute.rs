//! Pauses of an end user's out-of-portal push notifications: after "This wasn't me", and after
//! [`DENIALS_IN_A_ROW`] denials in a row, none for [`MUTE_MINUTES`]. Someone who knows the
//! password then cannot wear the person down with notifications; the portal still shows the
//! requests to a person who opens it.

use crate::{
    entities::{push_mute, push_request},
    error::DomainResult,
};
use chrono::{DateTime, Duration, Utc};
use proto::push::PushStatus;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use push_mute::MuteReason;

pub const MUTE_MINUTES: i64 = 20;
pub const DENIALS_IN_A_ROW: u64 = 3;

/// Until when `user_id`'s notifications are paused, if they are.
pub async fn muted_until<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Option<DateTime<Utc>>> {
    Ok(push_mute::Entity::find()
        .filter(push_mute::Column::UserId.eq(user_id))
        .filter(push_mute::Column::Until.gt(now))
        .order_by_desc(push_mute::Column::Until)
        .one(conn)
        .await?
        .map(|m| m.until))
}

/// Whether the notifier must not notify `user_id` now. When in doubt (the database cannot say)
/// it must not: the portal still shows the request.
pub async fn muted<C: ConnectionTrait>(conn: &C, user_id: Uuid, now: DateTime<Utc>) -> bool {
    match muted_until(conn, user_id, now).await {
        Ok(until) => until.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, %user_id, "cannot read push mutes; not notifying");
            true
        }
    }
}

pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    request: &push_request::Model,
    reason: MuteReason,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    push_mute::Entity::insert(push_mute::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(request.tenant_id),
        user_id: Set(request.user_id),
        reason: Set(reason),
        request_id: Set(request.id),
        created_at: Set(now),
        until: Set(now + Duration::minutes(MUTE_MINUTES)),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// True when the user's last [`DENIALS_IN_A_ROW`] decisions (expired requests are no decision)
/// were all denials. Call it after writing a denial, in its transaction.
pub(crate) async fn denied_in_a_row<C: ConnectionTrait>(conn: &C, user_id: Uuid) -> DomainResult<bool> {
    let last: Vec<PushStatus> = push_request::Entity::find()
        .select_only()
        .column(push_request::Column::Status)
        .filter(push_request::Column::UserId.eq(user_id))
        .filter(push_request::Column::Status.is_in([PushStatus::Approved, PushStatus::Denied, PushStatus::Fraud]))
        .filter(push_request::Column::DecidedAt.is_not_null())
        .order_by_desc(push_request::Column::DecidedAt)
        .order_by_desc(push_request::Column::CreatedAt)
        .limit(DENIALS_IN_A_ROW)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(last.len() as u64 == DENIALS_IN_A_ROW && last.iter().all(|s| *s != PushStatus::Approved))
}
