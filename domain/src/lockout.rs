//! Sign-in throttling. Failures are counted per sign-in name, whether or not an account has
//! that name, so neither the delay nor the lock tells anyone which accounts exist.
//!
//! After `free_failures` failures each further failure is answered more slowly; at
//! `lock_after` failures the name is locked for `lock_for`. Failures older than `window`
//! are forgotten.

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct LockoutPolicy {
    pub free_failures: u32,
    pub delay_step: std::time::Duration,
    pub max_delay: std::time::Duration,
    pub lock_after: u32,
    pub lock_for: Duration,
    pub window: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            free_failures: 2,
            delay_step: std::time::Duration::from_millis(500),
            max_delay: std::time::Duration::from_secs(3),
            lock_after: 5,
            lock_for: Duration::minutes(15),
            window: Duration::minutes(15),
        }
    }
}

/// What is remembered about one sign-in name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptState {
    pub failures: u32,
    pub last_failure: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The password may be checked.
    Open,
    /// Refused without checking the password.
    Locked { until: DateTime<Utc> },
}

impl LockoutPolicy {
    /// May a password be checked for this name now?
    pub fn gate(&self, state: &AttemptState, now: DateTime<Utc>) -> Gate {
        match state.locked_until {
            Some(until) if until > now => Gate::Locked { until },
            _ => Gate::Open,
        }
    }

    /// The state after one more wrong password, and how long to wait before answering.
    pub fn record_failure(&self, state: &AttemptState, now: DateTime<Utc>) -> (AttemptState, std::time::Duration) {
        let stale = state.last_failure.is_none_or(|t| now - t > self.window);
        let expired_lock = state.locked_until.is_some_and(|until| until <= now);
        let previous = if stale || expired_lock { 0 } else { state.failures };
        let failures = previous + 1;
        let locked_until = (failures >= self.lock_after).then(|| now + self.lock_for);
        let delay = if failures > self.free_failures {
            (self.delay_step * (failures - self.free_failures)).min(self.max_delay)
        } else {
            std::time::Duration::ZERO
        };
        (AttemptState { failures, last_failure: Some(now), locked_until }, delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    #[test]
    fn failures_slow_down_then_lock() {
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        let mut delays = vec![];
        for i in 0..5 {
            assert_eq!(p.gate(&s, t0()), Gate::Open, "attempt {i} is allowed");
            let (next, d) = p.record_failure(&s, t0());
            s = next;
            delays.push(d.as_millis());
        }
        assert_eq!(delays, vec![0, 0, 500, 1000, 1500]);
        assert_eq!(p.gate(&s, t0() + Duration::minutes(14)), Gate::Locked { until: t0() + Duration::minutes(15) });
    }

    #[test]
    fn lock_ends_after_lock_for_and_counting_starts_over() {
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for _ in 0..5 {
            s = p.record_failure(&s, t0()).0;
        }
        let later = t0() + Duration::minutes(15);
        assert_eq!(p.gate(&s, later), Gate::Open);
        let (s, d) = p.record_failure(&s, later);
        assert_eq!(s.failures, 1);
        assert_eq!(d, std::time::Duration::ZERO);
        assert_eq!(s.locked_until, None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = LockoutPolicy::default();
        let mut s = AttemptState::default();
        for _ in 0..4 {
            s = p.record_failure(&s, t0()).0;
        }
        let (s, _) = p.record_failure(&s, t0() + Duration::minutes(16));
        assert_eq!(s.failures, 1, "a failure after the window starts a new count");
        assert_eq!(p.gate(&s, t0() + Duration::minutes(16)), Gate::Open);
    }

    #[test]
    fn delay_is_capped() {
        let p = LockoutPolicy { lock_after: 100, ..Default::default() };
        let mut s = AttemptState::default();
        let mut last = std::time::Duration::ZERO;
        for _ in 0..50 {
            let (n, d) = p.record_failure(&s, t0());
            s = n;
            last = d;
        }
        assert_eq!(last, p.max_delay);
    }
}
