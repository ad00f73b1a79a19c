//! Agents: one-time install tokens, registration, the agent's own credential, facts,
//! heartbeats, handing revisions over by long poll, and acknowledgements.

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
        self.waiting.lock().unwrap().entry(server_id).or_default().clone()
    }

    /// Forgets the signal once no poll holds it.
    pub fn release(&self, server_id: Uuid) {
        let mut map = self.waiting.lock().unwrap();
        if map.get(&server_id).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(&server_id);
        }
    }

    pub fn wake(&self, server_id: Uuid) {
        if let Some(n) = self.waiting.lock().unwrap().get(&server_id) {
            n.notify_waiters();
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap().len()
    }
}
