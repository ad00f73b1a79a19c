//! What one agent may write through the agent API: a token bucket per server and kind of call,
//! so that one agent (of any tenant) cannot keep the database busy for all. Kept in memory on
//! each replica; the per-server limits in the database (logins a minute, offline rows a day)
//! hold across replicas. Measured in real time (not the console's clock): it bounds real load,
//! and an agent in a test whose clock stands still must not run dry.

use std::{collections::HashMap, sync::Mutex, time::Instant};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Opening and answering logins: people are waiting, and a busy server has bursts.
    Logins,
    /// Facts, heartbeats, acknowledgements and offline reports.
    Reports,
}

impl Kind {
    /// Calls in a burst, and calls a second after it.
    pub fn limits(self) -> (f64, f64) {
        match self {
            // Above `logins::STARTS_PER_SERVER_PER_MINUTE` with an answer or two each.
            Kind::Logins => (600.0, 20.0),
            // A heartbeat every 30 s, facts now and then, an offline queue in chunks.
            Kind::Reports => (60.0, 0.5),
        }
    }
}

/// Buckets kept before idle full ones are dropped.
const KEPT: usize = 100_000;

#[derive(Debug, Default)]
pub struct WriteBudgets {
    buckets: Mutex<HashMap<(Uuid, Kind), (f64, Instant)>>,
}

impl WriteBudgets {
    /// Spends one call of `kind` for `server_id`'s agent; past its budget, `Err` with the
    /// whole seconds until the next call is allowed.
    pub fn take(&self, server_id: Uuid, kind: Kind, now: Instant) -> Result<(), u64> {
        let (burst, per_sec) = kind.limits();
        let mut map = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= KEPT {
            map.retain(|(_, k), (tokens, at)| {
                let (burst, per_sec) = k.limits();
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = map.entry((server_id, kind)).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = (*at).max(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_calls_wait_for_the_refill() {
        let b = WriteBudgets::default();
        let (s, other) = (Uuid::new_v4(), Uuid::new_v4());
        let t = Instant::now();
        for _ in 0..60 {
            assert_eq!(b.take(s, Kind::Reports, t), Ok(()));
        }
        assert_eq!(b.take(s, Kind::Reports, t), Err(2), "0.5 a second: the next one in 2 s");
        assert_eq!(b.take(s, Kind::Logins, t), Ok(()), "logins have their own bucket");
        assert_eq!(b.take(other, Kind::Reports, t), Ok(()), "and every server its own");
        assert_eq!(b.take(s, Kind::Reports, t + Duration::from_secs(2)), Ok(()));
        assert!(b.take(s, Kind::Reports, t + Duration::from_secs(2)).is_err());
        assert!(b.take(s, Kind::Reports, t).is_err(), "an earlier time adds nothing");
        for _ in 0..600 {
            assert_eq!(b.take(other, Kind::Logins, t), Ok(()));
        }
        assert_eq!(b.take(other, Kind::Logins, t), Err(1));
    }
}
