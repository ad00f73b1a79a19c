//! Agents' long polls on this replica: who is waiting for which server, the wait itself, and
//! the wake-up when a revision is handed over. Runtime plumbing, so it lives here; the rules
//! reach it through `domain::agents::AgentWakeups`.

use domain::{agents::Assignment, Ctx, DomainResult};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::Notify;
use uuid::Uuid;

/// Per-server wake-ups for agents waiting in a long poll on this replica.
#[derive(Debug)]
pub struct LongPolls {
    waiting: Mutex<HashMap<Uuid, Arc<Notify>>>,
    /// Config streams open at once (each an agent's socket, outside the connection cap once
    /// upgraded); more are refused with 503, and those agents long-poll.
    streams: Arc<tokio::sync::Semaphore>,
    /// The one open config stream of each server, by generation: a newer one ends the older.
    open_streams: Mutex<HashMap<Uuid, (u64, Arc<Notify>)>>,
    generation: std::sync::atomic::AtomicU64,
    /// Waits reading the database at once (see [`LongPolls::query_turn`]).
    queries: tokio::sync::Semaphore,
}

/// Waits' queries running at once: half the pool, so logins find a connection even when every
/// agent asks at once, as after a restart.
const WAIT_QUERIES: usize = 8;

/// A server's config stream, while it is the newest: [`StreamTurn::ended`] completes when a
/// newer stream of the same server takes over.
pub struct StreamTurn {
    polls: Arc<LongPolls>,
    server_id: Uuid,
    generation: u64,
    ended: Arc<Notify>,
}

impl StreamTurn {
    pub async fn ended(&self) {
        self.ended.notified().await
    }
}

impl Drop for StreamTurn {
    fn drop(&mut self) {
        let mut map = self.polls.open_streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&self.server_id).is_some_and(|(g, _)| *g == self.generation) {
            map.remove(&self.server_id);
        }
    }
}

impl Default for LongPolls {
    fn default() -> Self {
        Self::new(crate::serve::Limits::default().max_connections)
    }
}

impl LongPolls {
    pub fn new(max_streams: usize) -> Self {
        Self {
            waiting: Mutex::default(),
            streams: Arc::new(tokio::sync::Semaphore::new(max_streams)),
            open_streams: Mutex::default(),
            generation: Default::default(),
            queries: tokio::sync::Semaphore::new(WAIT_QUERIES),
        }
    }

    /// A turn to read the database for a wait, held while the query runs. After a restart every
    /// agent's first wait reads at once: the others wait here holding a few bytes, rather than
    /// with their query's state (about 2 kB each) queued for a pooled connection, memory the
    /// allocator keeps after the storm.
    pub async fn query_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.queries.acquire().await.ok()
    }

    /// Makes a new config stream `server_id`'s only one: the older one, if any, is told to end.
    /// One credential (a stolen one, say) holds one stream, however many it opens.
    pub fn take_turn(self: &Arc<Self>, server_id: Uuid) -> StreamTurn {
        let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ended = Arc::new(Notify::new());
        let older = self
            .open_streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(server_id, (generation, ended.clone()));
        if let Some((_, older)) = older {
            // A stored permit: the older stream sees it even if it is not listening this instant.
            older.notify_one();
        }
        StreamTurn { polls: self.clone(), server_id, generation, ended }
    }

    /// A place for one more config stream, held while it is open; `None` when all are taken.
    pub fn stream_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.streams.clone().try_acquire_owned().ok()
    }

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

    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
}

impl domain::agents::AgentWakeups for LongPolls {
    fn wake(&self, server_id: Uuid) {
        if let Some(n) = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&server_id) {
            n.notify_waiters();
        }
    }
}

/// Waits up to `wait` for a revision newer than `after`: the long poll.
pub async fn wait_for_assignment(
    ctx: &Ctx,
    polls: &LongPolls,
    server_id: Uuid,
    after: i64,
    wait: std::time::Duration,
) -> DomainResult<Option<Assignment>> {
    let signal = polls.subscribe(server_id);
    let result = async {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Boxed: while it waits, a poll holds only the wake-up and the timer, not the
            // query's future (thousands wait at once).
            let found = {
                let _turn = polls.query_turn().await;
                Box::pin(domain::agents::assignment(ctx, server_id, after)).await?
            };
            if let Some(a) = found {
                return Ok(Some(a));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }
    .await;
    drop(signal);
    polls.release(server_id);
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn streams_past_the_cap_are_refused_until_one_closes() {
        let polls = super::LongPolls::new(2);
        let (a, b) = (polls.stream_slot(), polls.stream_slot());
        assert!(a.is_some() && b.is_some());
        assert!(polls.stream_slot().is_none(), "a third is refused");
        drop(a);
        assert!(polls.stream_slot().is_some(), "a closed stream makes room");
    }

    #[tokio::test]
    async fn waits_read_the_database_a_few_at_a_time() {
        let polls = super::LongPolls::new(10);
        let turns: Vec<_> = futures_util::future::join_all((0..super::WAIT_QUERIES).map(|_| polls.query_turn())).await;
        assert!(turns.iter().all(Option::is_some));
        let soon = std::time::Duration::from_millis(50);
        assert!(tokio::time::timeout(soon, polls.query_turn()).await.is_err(), "one more waits its turn");
        drop(turns);
        assert!(tokio::time::timeout(soon, polls.query_turn()).await.is_ok_and(|t| t.is_some()));
    }

    #[tokio::test]
    async fn a_newer_stream_of_a_server_ends_the_older() {
        let polls = std::sync::Arc::new(super::LongPolls::new(10));
        let (one, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let first = polls.take_turn(one);
        let elsewhere = polls.take_turn(other);
        let second = polls.take_turn(one);
        let soon = std::time::Duration::from_millis(100);
        assert!(tokio::time::timeout(soon, first.ended()).await.is_ok(), "the older one is told to end");
        assert!(tokio::time::timeout(soon, second.ended()).await.is_err(), "the newer one goes on");
        assert!(tokio::time::timeout(soon, elsewhere.ended()).await.is_err(), "another server's is untouched");
        // The older one ending does not unregister the newer.
        drop(first);
        let third = polls.take_turn(one);
        assert!(tokio::time::timeout(soon, second.ended()).await.is_ok());
        drop(third);
    }
}
