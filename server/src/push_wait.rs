//! Logins waiting on this replica for a push request's decision, without a thread or a
//! database connection each: a held agent call waits on a [`Notify`], and one poller task per
//! process asks the database about every waited-on request in one query (every
//! [`POLL_EVERY`]), so a decision made on any replica reaches the login here.

use domain::{entities::push_request, Ctx};
use proto::push::PushStatus;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};
use tokio::sync::Notify;
use uuid::Uuid;

/// How often the poller asks about the waited-on requests.
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Requests asked about in one query (well under both databases' parameter limits).
const CHUNK: usize = 500;

#[derive(Debug, Default)]
pub struct PushWaits {
    /// Per request: its signal, and how many calls wait on it.
    waiting: Mutex<HashMap<Uuid, (Arc<Notify>, usize)>>,
    /// Wakes the idle poller when the first call starts waiting.
    work: Notify,
}

impl PushWaits {
    /// A new registry with its poller running until the process ends.
    pub fn start(ctx: Ctx) -> Arc<Self> {
        let waits = Arc::new(Self::default());
        tokio::spawn(poll(ctx, waits.clone()));
        waits
    }

    fn subscribe(&self, id: Uuid) -> Arc<Notify> {
        let mut map = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(id).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        let signal = entry.0.clone();
        drop(map);
        self.work.notify_one();
        signal
    }

    fn release(&self, id: Uuid) {
        let mut map = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                map.remove(&id);
            }
        }
    }

    /// Requests waited on now.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn ids(&self) -> Vec<Uuid> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect()
    }

    fn wake(&self, id: Uuid) {
        if let Some((signal, _)) = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).get(&id) {
            // A stored permit: a waiter between subscribing and awaiting does not miss it.
            signal.notify_one();
        }
    }

    /// Waits up to `max` for request `id` to be decided or to expire; the caller then reads it.
    pub async fn wait(&self, id: Uuid, max: Duration) {
        let signal = self.subscribe(id);
        let _ = tokio::time::timeout(max, signal.notified()).await;
        drop(signal);
        self.release(id);
    }
}

/// The poller: idle while nobody waits, else one query per [`POLL_EVERY`] for the waited-on
/// requests that are decided or past their expiry.
async fn poll(ctx: Ctx, waits: Arc<PushWaits>) {
    loop {
        let ids = waits.ids();
        if ids.is_empty() {
            // Woken by the first subscriber (a permit is kept if it came before this wait).
            waits.work.notified().await;
            continue;
        }
        let now = ctx.clock.now();
        for chunk in ids.chunks(CHUNK) {
            let done = push_request::Entity::find()
                .select_only()
                .column(push_request::Column::Id)
                .filter(push_request::Column::Id.is_in(chunk.iter().copied()))
                .filter(
                    Condition::any()
                        .add(push_request::Column::Status.ne(PushStatus::Pending.as_str()))
                        .add(push_request::Column::ExpiresAt.lte(now)),
                )
                .into_tuple::<Uuid>()
                .all(&ctx.db)
                .await;
            match done {
                Ok(done) => done.into_iter().for_each(|id| waits.wake(id)),
                Err(e) => tracing::warn!(error = %e, "cannot read the push requests logins wait for"),
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
