//! What every rule needs: the database, the clock and the policies read from configuration.

use crate::{clock::Clock, lockout::LockoutPolicy};
use sea_orm::DatabaseConnection;
use secrecy::SecretBox;
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
    pub rollout: RolloutPolicy,
    /// Encrypts secrets at rest (access keys' secret halves); `None` when not configured.
    pub secret_key: Option<Arc<SecretBox<[u8; 32]>>>,
    /// Wakes agents' long polls when their server gets a new revision.
    pub agent_signals: Arc<dyn crate::agents::AgentWakeups>,
    /// Bounds the password hashes checked at once (see [`password_check_slots`]).
    pub password_checks: Arc<tokio::sync::Semaphore>,
    /// The VAPID public key (base64url, uncompressed point) browsers subscribe to Web Push
    /// with; `None` when Web Push is not configured.
    pub vapid_public_key: Option<String>,
    /// Web Push subscriptions and deliveries may go to this machine (development and tests:
    /// `HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK`); never any other internal address.
    pub webpush_allow_loopback: bool,
    /// Batches the login path's writes into shared commits on SQLite ([`crate::group_commit`]).
    pub commits: Arc<crate::group_commit::GroupCommit>,
}

#[cfg(test)]
impl Ctx {
    /// A context for the domain's own tests: `db`, `clock`, the default policies, no secret key,
    /// no Web Push, and agents that are not woken.
    pub(crate) fn for_tests(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Ctx {
            commits: crate::group_commit::GroupCommit::new(),
            db,
            clock,
            lockout: Default::default(),
            sessions: Default::default(),
            public_url: "http://localhost".into(),
            outbox_signal: Default::default(),
            rollout: Default::default(),
            secret_key: None,
            agent_signals: Arc::new(crate::agents::NoWakeups),
            password_checks: password_check_slots(),
            vapid_public_key: None,
            webpush_allow_loopback: false,
        }
    }
}

/// Password checks allowed at once: two per core. Each argon2 check holds a core for tens of
/// milliseconds, so more at once only queue.
pub fn password_check_slots() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    Arc::new(tokio::sync::Semaphore::new(cores * 2))
}

/// How a saved 2FA change rolls out: the wait before it is applied (cancelable meanwhile), and
/// how long the agent has to acknowledge it before it counts as failed.
#[derive(Clone, Copy, Debug)]
pub struct RolloutPolicy {
    pub apply_delay: chrono::Duration,
    pub ack_deadline: chrono::Duration,
}

impl Default for RolloutPolicy {
    fn default() -> Self {
        Self { apply_delay: chrono::Duration::seconds(300), ack_deadline: chrono::Duration::minutes(10) }
    }
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
