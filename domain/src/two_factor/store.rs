//! Loading and storing servers' rollouts: one `two_factor_configs` row per server.

use super::CHUNK;
use crate::{
    entities::{
        server,
        two_factor_config::{self as config, PhaseName},
    },
    error::DomainResult,
    rollout::{FailureKind, Method, Phase, Revision, ServerRollout, Target},
};
use chrono::{DateTime, Utc};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

fn phase_of(c: &config::Model) -> Phase {
    let at = c.phase_at.unwrap_or(c.updated_at);
    match c.phase {
        PhaseName::Scheduled => Phase::Scheduled { due_at: c.due_at.unwrap_or(at) },
        PhaseName::Delivering => Phase::Delivering { since: at },
        PhaseName::Failed => Phase::Failed {
            at,
            // Every failure since the kind was stored has one (the migration gave older ones theirs).
            kind: c.failure_kind.unwrap_or(FailureKind::AgentError),
            reason: c.failure_reason.clone().unwrap_or_default(),
        },
        PhaseName::Canceled => Phase::Canceled { at },
        PhaseName::Applied => Phase::Applied { at },
    }
}

/// The rollout a stored configuration describes.
pub fn rollout_of(c: &config::Model) -> ServerRollout {
    let applied = (c.applied_revision > 0).then(|| {
        (
            c.applied_revision,
            Target {
                enabled: c.applied_enabled,
                // Stored with every applied revision; NULL only in a row edited by hand.
                method: c.applied_method.unwrap_or(Method::Code),
                topic_id: c.applied_topic_id,
            },
        )
    });
    let latest = (c.revision > 0).then(|| Revision {
        number: c.revision,
        target: Target { enabled: c.enabled, method: c.method, topic_id: c.topic_id },
        phase: phase_of(c),
    });
    ServerRollout { applied, latest }
}

/// The row that stores `r` for a server.
pub(super) fn stored(server_id: Uuid, tenant_id: Uuid, r: &ServerRollout, now: DateTime<Utc>) -> config::ActiveModel {
    let latest = r.latest.as_ref();
    let target =
        latest.map(|l| l.target.clone()).unwrap_or(Target { enabled: false, method: Method::Code, topic_id: None });
    let (phase, due_at, phase_at, failure) = match latest.map(|l| &l.phase) {
        Some(Phase::Scheduled { due_at }) => (PhaseName::Scheduled, Some(*due_at), Some(now), None),
        Some(Phase::Delivering { since }) => (PhaseName::Delivering, None, Some(*since), None),
        Some(Phase::Applied { at }) => (PhaseName::Applied, None, Some(*at), None),
        None => (PhaseName::Applied, None, Some(now), None),
        Some(Phase::Failed { at, kind, reason }) => (PhaseName::Failed, None, Some(*at), Some((*kind, reason.clone()))),
        Some(Phase::Canceled { at }) => (PhaseName::Canceled, None, Some(*at), None),
    };
    let (failure_kind, failure_reason) = failure.unzip();
    let applied = r.applied.as_ref();
    config::ActiveModel {
        server_id: Set(server_id),
        tenant_id: Set(tenant_id),
        enabled: Set(target.enabled),
        method: Set(target.method),
        topic_id: Set(target.topic_id),
        updated_at: Set(now),
        revision: Set(latest.map_or(0, |l| l.number)),
        phase: Set(phase),
        due_at: Set(due_at),
        phase_at: Set(phase_at),
        failure_reason: Set(failure_reason),
        failure_kind: Set(failure_kind),
        applied_revision: Set(applied.map_or(0, |(n, _)| *n)),
        applied_enabled: Set(applied.is_some_and(|(_, t)| t.enabled)),
        applied_method: Set(applied.map(|(_, t)| t.method)),
        applied_topic_id: Set(applied.and_then(|(_, t)| t.topic_id)),
    }
}

/// Stores one server's rollout.
pub async fn store<C: ConnectionTrait>(
    conn: &C,
    server_id: Uuid,
    tenant_id: Uuid,
    r: &ServerRollout,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    upsert(conn, vec![stored(server_id, tenant_id, r, now)]).await
}

pub(super) async fn upsert<C: ConnectionTrait>(conn: &C, rows: Vec<config::ActiveModel>) -> DomainResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    config::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(config::Column::ServerId)
                .update_columns([
                    config::Column::Enabled,
                    config::Column::Method,
                    config::Column::TopicId,
                    config::Column::UpdatedAt,
                    config::Column::Revision,
                    config::Column::Phase,
                    config::Column::DueAt,
                    config::Column::PhaseAt,
                    config::Column::FailureReason,
                    config::Column::FailureKind,
                    config::Column::AppliedRevision,
                    config::Column::AppliedEnabled,
                    config::Column::AppliedMethod,
                    config::Column::AppliedTopicId,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(super) async fn load_servers<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> DomainResult<Vec<server::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            server::Entity::find()
                .filter(server::Column::TenantId.eq(tenant_id))
                .filter(server::Column::Id.is_in(chunk.iter().copied()))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// Locks the servers' rows until the transaction ends, so that saves, cancels, retries and
/// acknowledgements of one server run one after another: each reads the stored rollout and
/// writes it back whole, and two at once would drop one's revision.
pub async fn lock_servers<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> DomainResult<()> {
    Ok(crate::db::lock_rows::<server::Entity>(conn, ids).await?)
}

pub(super) async fn load_configs<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> DomainResult<HashMap<Uuid, config::Model>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        for c in config::Entity::find().filter(config::Column::ServerId.is_in(chunk.iter().copied())).all(conn).await? {
            out.insert(c.server_id, c);
        }
    }
    Ok(out)
}
