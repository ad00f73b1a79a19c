//! What every rule needs: the database, the clock and the policies read from configuration.

use crate::{clock::Clock, lockout::LockoutPolicy};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Ctx {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub lockout: LockoutPolicy,
    pub sessions: SessionPolicy,
    /// The console's address as users reach it; links in messages start with it.
    pub public_url: String,
    /// Woken when a message is added to the outbox, so the local worker sends it at once.
    pub outbox_signal: Arc<tokio::sync::Notify>,
}

/// How long a console session lives: it ends after `idle` without a request, and after
/// `absolute` since sign-in whatever happens.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: chrono::Duration,
    pub absolute: chrono::Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: chrono::Duration::minutes(30), absolute: chrono::Duration::hours(12) }
    }
}
