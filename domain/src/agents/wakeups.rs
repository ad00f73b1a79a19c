//! Waking agents' long polls when their server is handed a revision. The rules say when; who
//! waits where is the server's runtime (`server::long_poll`), reached through this trait.

use uuid::Uuid;

pub trait AgentWakeups: Send + Sync + std::fmt::Debug {
    /// `server_id` was handed a revision: wake its agent's long polls on this replica.
    fn wake(&self, server_id: Uuid);
}

/// For a context that serves no long polls (tests, tools): wakes no one.
#[derive(Debug, Default)]
pub struct NoWakeups;

impl AgentWakeups for NoWakeups {
    fn wake(&self, _server_id: Uuid) {}
}
