//! The agent's heartbeat names the revision its host runs. When that is not what the console
//! shows (an acknowledgement that came too late to count), the host is brought back in step
//! at once: the rule is `rollout::ServerRollout::reconcile`; this loads, stores and audits it.

use super::store::{lock_servers, rollout_of, store};
use crate::{
    audit::{self, Actor, AuditAction, Entry},
    ctx::Ctx,
    entities::{
        rollout_job::{self, JobStatus},
        server,
        two_factor_config::{self as config, PhaseName},
    },
    error::{DomainError, DomainResult},
    rollout::{Method, Reconciled},
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};

/// Compares the revision the agent says it has applied with the console's record, and acts on
/// a difference (see `Reconciled`). Most heartbeats are in step and cost one read.
pub async fn reconcile(ctx: &Ctx, s: &server::Model, agent_revision: i64, source_ip: &str) -> DomainResult<Reconciled> {
    if !(0..=crate::rollout::MAX_REVISION).contains(&agent_revision) {
        return Err(DomainError::validation(
            "applied_revision",
            format!("must be 0 to {}", crate::rollout::MAX_REVISION),
        ));
    }
    let now = ctx.clock.now();
    let c = config::Entity::find_by_id(s.id).one(&ctx.db).await?;
    let first = c.as_ref().map(rollout_of).unwrap_or_default().reconcile(agent_revision, now);
    if matches!(first, Reconciled::InStep | Reconciled::Failed) {
        return Ok(first);
    }
    // Again under the server's lock: a save, cancel or ack may have come in between.
    let txn = crate::db::write_txn(&ctx.db).await?;
    lock_servers(&txn, &[s.id]).await?;
    let c = config::Entity::find_by_id(s.id).one(&txn).await?;
    let late_after = match c.as_ref().map(|c| c.phase) {
        Some(PhaseName::Canceled) => "a cancel",
        _ => "the deadline had marked it failed",
    };
    let mut r = c.as_ref().map(rollout_of).unwrap_or_default();
    let done = r.reconcile(agent_revision, now);
    let (action, detail) = match &done {
        Reconciled::InStep | Reconciled::Failed => return Ok(done),
        Reconciled::Acknowledged { revision, late } => (
            AuditAction::TwoFactorApplied,
            format!(
                "revision {revision}: 2FA {}, reported applied by the agent's heartbeat{}",
                if r.in_force().is_some() { "on" } else { "off" },
                if *late { format!(" after {late_after}") } else { String::new() }
            ),
        ),
        Reconciled::Reissued { revision, target, agent_revision } => {
            // A change that was waiting for its delay is handed over now; its job has nothing left to do.
            rollout_job::Entity::update_many()
                .col_expr(rollout_job::Column::Status, Expr::value(JobStatus::Superseded))
                .col_expr(rollout_job::Column::FinishedAt, Expr::value(now))
                .filter(rollout_job::Column::ServerId.eq(s.id))
                .filter(rollout_job::Column::Status.eq(JobStatus::Pending))
                .exec(&txn)
                .await?;
            let what = match (target.enabled, target.method) {
                (false, _) => "2FA off",
                (true, Method::Sms) => "2FA on by SMS/Email",
                (true, Method::Code) => "2FA on by verification code",
            };
            (
                AuditAction::TwoFactorReissue,
                format!(
                    "the agent reported revision {agent_revision}, which the console does not show (an acknowledgement \
                     that came too late to count); revision {revision} ({what}) is handed to it now, without the apply delay"
                ),
            )
        }
    };
    store(&txn, s.id, s.tenant_id, &r, now).await?;
    audit::record(
        &txn,
        now,
        &Actor::new(format!("agent on {}", s.name), source_ip),
        Entry { tenant_id: Some(s.tenant_id), action, target: s.name.clone(), detail },
    )
    .await?;
    txn.commit().await?;
    if matches!(done, Reconciled::Reissued { .. }) {
        ctx.agent_signals.wake(s.id);
    }
    Ok(done)
}
