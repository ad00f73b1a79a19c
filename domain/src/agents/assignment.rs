//! Handing a revision to an agent, and its acknowledgement.

use crate::{
    audit::{self, Actor, AuditAction, Entry},
    ctx::Ctx,
    entities::{server, topic, two_factor_config as config},
    error::{DomainError, DomainResult},
    rollout::Ack,
};
use proto::agent::Assignment;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The revision handed to this server's agent, if it is newer than `after`.
pub async fn assignment(ctx: &Ctx, server_id: Uuid, after: i64) -> DomainResult<Option<Assignment>> {
    let Some(c) = config::Entity::find_by_id(server_id)
        .filter(config::Column::Phase.eq(config::PhaseName::Delivering))
        .filter(config::Column::Revision.gt(after))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    let topic_urn = match c.topic_id {
        Some(id) => topic::Entity::find_by_id(id).one(&ctx.db).await?.map(|t| t.urn),
        None => None,
    };
    Ok(Some(Assignment {
        revision: c.revision,
        enabled: c.enabled,
        method: Some(c.method),
        topic_urn,
        server_id,
        console_url: ctx.public_url.clone(),
    }))
}

/// The agent's report on a revision. Returns whether it counted (false for a revision that is no
/// longer the newest, or was not handed over).
pub async fn acknowledge(
    ctx: &Ctx,
    s: &server::Model,
    revision: i64,
    outcome: Result<(), String>,
    source_ip: &str,
) -> DomainResult<bool> {
    if let Err(reason) = &outcome {
        if reason.chars().count() > super::limits::ACK_ERROR {
            return Err(DomainError::validation(
                "error",
                format!("must be at most {} characters", super::limits::ACK_ERROR),
            ));
        }
    }
    let now = ctx.clock.now();
    let txn = crate::db::write_txn(&ctx.db).await?;
    crate::two_factor::lock_servers(&txn, &[s.id]).await?;
    let Some(c) = config::Entity::find_by_id(s.id).one(&txn).await? else { return Ok(false) };
    let mut r = crate::two_factor::rollout_of(&c);
    let ack = r.ack(revision, outcome.clone(), now);
    if ack == Ack::Stale {
        return Ok(false);
    }
    crate::two_factor::store(&txn, s.id, s.tenant_id, &r, now).await?;
    let enabled = c.enabled;
    let late_after =
        if c.phase == config::PhaseName::Canceled { "a cancel" } else { "the deadline had marked it failed" };
    audit::record(
        &txn,
        now,
        &Actor::new(format!("agent on {}", s.name), source_ip),
        Entry {
            tenant_id: Some(s.tenant_id),
            action: if ack == Ack::Failed { AuditAction::TwoFactorFailed } else { AuditAction::TwoFactorApplied },
            target: s.name.clone(),
            detail: match outcome {
                Ok(()) if ack == Ack::AppliedLate => format!(
                    "revision {revision}: 2FA {}, acknowledged after {late_after}",
                    if enabled { "on" } else { "off" }
                ),
                Ok(()) => format!("revision {revision}: 2FA {}", if enabled { "on" } else { "off" }),
                Err(e) => format!("revision {revision}: {e}"),
            },
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
