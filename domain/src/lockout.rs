//! Sign-in throttling. Failures are counted per sign-in name, whether or not an account has
//! that name, so neither the delay nor the lock tells anyone which accounts exist; and per
//! source address, so that spraying many names from one address is slowed too.
//!
//! Each attempt is counted *before* its password is checked, in one atomic statement, and only
//! the first `lock_after` attempts in a window are checked at all: parallel guesses cannot get
//! past the lock by all reading the count before any of them writes it. A right password
//! clears the name's count and takes its attempt back from the address's.

use crate::{ctx::Ctx, error::DomainResult};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(Clone, Copy, Debug)]
pub struct LockoutPolicy {
    pub free_failures: u32,
    pub delay_step: std::time::Duration,
    pub max_delay: std::time::Duration,
    /// Attempts checked per sign-in name in a window; the next ones are refused until `lock_for`
    /// has passed.
    pub lock_after: u32,
    pub lock_for: Duration,
    /// Attempts are forgotten once none has been made for this long.
    pub window: Duration,
    /// Failed attempts checked per source address in a window, over all names.
    pub source_lock_after: u32,
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
            source_lock_after: 30,
        }
    }
}

/// What the count allows for one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The password may be checked; this is the `attempt`-th in the window.
    Open { attempt: u32 },
    /// Refused without checking the password.
    Locked { until: DateTime<Utc> },
}

/// Whose attempts a count is: a sign-in name or a source address. Sign-in names always hold an
/// `@` (they are email addresses, checked before counting), so the two never share a key.
#[derive(Clone, Copy, Debug)]
pub enum Counter<'a> {
    Name(&'a str),
    Source(&'a str),
}

impl Counter<'_> {
    fn key(&self) -> String {
        match self {
            Counter::Name(login) => (*login).to_owned(),
            Counter::Source(ip) => format!("source {ip}"),
        }
    }
}

impl LockoutPolicy {
    /// How long to wait before answering the `attempt`-th wrong password.
    pub fn delay(&self, attempt: u32) -> std::time::Duration {
        if attempt > self.free_failures {
            (self.delay_step * (attempt - self.free_failures)).min(self.max_delay)
        } else {
            std::time::Duration::ZERO
        }
    }

    fn limit(&self, counter: Counter<'_>) -> u32 {
        match counter {
            Counter::Name(_) => self.lock_after,
            Counter::Source(_) => self.source_lock_after,
        }
    }
}

/// Counts one attempt for `counter` and says whether it may be checked. Atomic on both
/// databases: an upsert that computes the new count from the stored one.
pub async fn count_attempt(ctx: &Ctx, counter: Counter<'_>, now: DateTime<Utc>) -> DomainResult<Gate> {
    let p = ctx.lockout;
    let limit = p.limit(counter);
    let backend = ctx.db.get_database_backend();
    let ph = |i: usize| if backend == DbBackend::Postgres { format!("${i}") } else { format!("?{i}") };
    let (key, now_p, stale, lock_end, limit_p) = (ph(1), ph(2), ph(3), ph(4), ph(5));
    // The count starts over after a lock has ended or the window has passed without attempts;
    // during a lock it keeps counting, so every refused attempt stays above the limit.
    let next = format!(
        "CASE WHEN a.locked_until > {now_p} THEN a.failures + 1
              WHEN a.locked_until IS NOT NULL OR a.last_failure_at IS NULL OR a.last_failure_at <= {stale} THEN 1
              ELSE a.failures + 1 END"
    );
    let sql = format!(
        "INSERT INTO login_attempts AS a (login, failures, last_failure_at, locked_until)
         VALUES ({key}, 1, {now_p}, CASE WHEN 1 >= {limit_p} THEN {lock_end} ELSE NULL END)
         ON CONFLICT (login) DO UPDATE SET
            failures = {next},
            last_failure_at = {now_p},
            locked_until = CASE WHEN a.locked_until > {now_p} THEN a.locked_until
                                WHEN ({next}) >= {limit_p} THEN {lock_end}
                                ELSE NULL END
         RETURNING failures, locked_until"
    );
    let values: Vec<sea_orm::Value> = vec![
        counter.key().into(),
        now.into(),
        (now - p.window).into(),
        (now + p.lock_for).into(),
        (limit as i32).into(),
    ];
    let row = ctx
        .db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| crate::DomainError::Internal("the attempt count returned no row".into()))?;
    let failures: i32 = row.try_get("", "failures")?;
    let locked_until: Option<DateTime<Utc>> = row.try_get("", "locked_until")?;
    let attempt = failures.max(0) as u32;
    Ok(match locked_until {
        Some(until) if attempt > limit => Gate::Locked { until },
        _ => Gate::Open { attempt },
    })
}

/// Forgets a name's attempts after a right password.
pub async fn clear(ctx: &Ctx, counter: Counter<'_>) -> DomainResult<()> {
    let backend = ctx.db.get_database_backend();
    let ph = if backend == DbBackend::Postgres { "$1" } else { "?1" };
    ctx.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM login_attempts WHERE login = {ph}"),
            [counter.key().into()],
        ))
        .await?;
    Ok(())
}

/// Takes back one attempt (a right password from this address is no sign of spraying).
pub async fn take_back(ctx: &Ctx, counter: Counter<'_>) -> DomainResult<()> {
    let backend = ctx.db.get_database_backend();
    let ph = if backend == DbBackend::Postgres { "$1" } else { "?1" };
    ctx.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("UPDATE login_attempts SET failures = failures - 1 WHERE login = {ph} AND failures > 0"),
            [counter.key().into()],
        ))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_answers_slow_down_up_to_a_cap() {
        let p = LockoutPolicy::default();
        let delays: Vec<u128> = (1..=5).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![0, 0, 500, 1000, 1500]);
        assert_eq!(p.delay(50), p.max_delay);
    }
}
