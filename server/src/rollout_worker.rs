//! Runs the 2FA rollout on every replica: due jobs hand their revisions to the agents, revisions
//! the agents leave unacknowledged past the deadline fail, silent agents turn offline, and long
//! polls waiting on this replica are woken for revisions another replica handed over.

use crate::long_poll::LongPolls;
use domain::{agents::AgentWakeups, Ctx};
use std::{sync::Arc, time::Duration};

/// Jobs taken per lease.
const BATCH: u64 = 1000;

pub fn spawn(ctx: Ctx, long_polls: Arc<LongPolls>, poll: Duration) {
    let owner = format!("rollout-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = tokio::time::Instant::now();
        let mut wake_mark = ctx.clock.now();
        loop {
            tick.tick().await;
            loop {
                match domain::two_factor::run_due_jobs(&ctx, &owner, BATCH).await {
                    Ok(handed) if handed.len() as u64 >= BATCH / 2 => continue,
                    Ok(handed) => {
                        if !handed.is_empty() {
                            tracing::info!(servers = handed.len(), "handed 2FA revisions to agents");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "rollout jobs failed to run; retrying");
                        break;
                    }
                }
            }
            if long_polls.waiting() > 0 {
                let now = ctx.clock.now();
                match domain::two_factor::handed_over_since(&ctx, wake_mark - chrono::Duration::seconds(2)).await {
                    Ok(ids) => ids.into_iter().for_each(|id| long_polls.wake(id)),
                    Err(e) => tracing::warn!(error = %e, "cannot look for handed-over revisions"),
                }
                wake_mark = now;
            }
            if last_sweep.elapsed() >= Duration::from_secs(5) {
                last_sweep = tokio::time::Instant::now();
                match domain::two_factor::fail_overdue(&ctx).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(servers = n, "2FA revisions failed: no acknowledgement in time"),
                    Err(e) => tracing::warn!(error = %e, "cannot check acknowledgement deadlines"),
                }
            }
        }
    });
}
