//! Long-poll wake-ups: per-server signals for agents waiting on this replica, and the wait.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::Notify;
use uuid::Uuid;

/// Per-server wake-ups for agents waiting in a long poll on this replica.
#[derive(Debug, Default)]
pub struct Signals {
    waiting: Mutex<HashMap<Uuid, Arc<Notify>>>,
}

impl Signals {
    /// The signal a long poll for `server_id` waits on.
    pub fn subscribe(&self, server_id: Uuid) -> Arc<Notify> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(server_id).or_default().clone()
    }

    /// Forgets the signal once no poll holds it.
    pub fn release(&self, server_id: Uuid) {
        let mut map = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&server_id).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(&server_id);
        }
    }

    pub fn wake(&self, server_id: Uuid) {
        if let Some(n) = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&server_id) {
            n.notify_waiters();
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
}

use crate::{
    ctx::Ctx,
    error::DomainResult,
};
use super::assignment::assignment;
use proto::agent::Assignment;

/// Waits up to `wait` for a revision newer than `after`: the long poll.
pub async fn wait_for_assignment(
    ctx: &Ctx,
    server_id: Uuid,
    after: i64,
    wait: std::time::Duration,
) -> DomainResult<Option<Assignment>> {
    let signal = ctx.agent_signals.subscribe(server_id);
    let result = async {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(a) = assignment(ctx, server_id, after).await? {
                return Ok(Some(a));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }
    .await;
    drop(signal);
    ctx.agent_signals.release(server_id);
    result
}
