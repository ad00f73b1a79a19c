//! The 2FA rollout of one server, as a state machine over an injected "now": a saved change
//! becomes a new revision that waits for the apply delay (cancelable), is handed to the agent,
//! and counts only when the agent acknowledges that revision. A newer revision supersedes one
//! not yet applied; an agent silent past the deadline fails it; a failed one can be retried.
//!
//! Pure rules: the database layer loads a `ServerRollout`, calls one of these, and stores it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{sea_query::StringLen, DeriveActiveEnum, EnumIter};
use uuid::Uuid;

pub use proto::Method;

/// The highest revision an agent may report. Revisions stay within JSON's exact integers, and
/// far enough from `i64::MAX` that a revision reissued past the agent's never overflows.
pub const MAX_REVISION: i64 = (1 << 53) - 1;

/// Why a handed-over revision failed when its agent stayed silent.
pub fn deadline_reason(deadline: Duration) -> String {
    let minutes = deadline.num_minutes().max(1);
    format!(
        "the agent did not acknowledge within {minutes} minute{}; it may be offline",
        if minutes == 1 { "" } else { "s" }
    )
}

/// What made a revision fail (`two_factor_configs.failure_kind`); the reason says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum FailureKind {
    /// The agent reported that it could not apply the revision.
    #[sea_orm(string_value = "agent_error")]
    AgentError,
    /// The agent stayed silent past the deadline: it may still have applied the revision, so a
    /// late acknowledgement counts.
    #[sea_orm(string_value = "deadline")]
    Deadline,
}

/// What a server's 2FA should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub enabled: bool,
    pub method: Method,
    pub topic_id: Option<Uuid>,
}

impl Target {
    /// 2FA off, as before any change.
    pub fn off() -> Target {
        Target { enabled: false, method: Method::Code, topic_id: None }
    }

    /// Both do the same on the host: off, or on with the same method (and, for SMS/Email, the
    /// same topic). What an off target remembers of its method does not matter.
    pub fn same_effect(&self, other: &Target) -> bool {
        self.enabled == other.enabled
            && (!self.enabled
                || (self.method == other.method && (self.method != Method::Sms || self.topic_id == other.topic_id)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Saved; applied at `due_at` unless canceled or superseded first.
    Scheduled {
        due_at: DateTime<Utc>,
    },
    /// Handed to the agent; waiting for it to acknowledge this revision.
    Delivering {
        since: DateTime<Utc>,
    },
    Applied {
        at: DateTime<Utc>,
    },
    Failed {
        at: DateTime<Utc>,
        kind: FailureKind,
        reason: String,
    },
    Canceled {
        at: DateTime<Utc>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub number: i64,
    pub target: Target,
    pub phase: Phase,
}

/// One server's rollout: what its agent last acknowledged, and the newest revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerRollout {
    /// The configuration the agent has acknowledged; `None` before any (2FA off).
    pub applied: Option<(i64, Target)>,
    pub latest: Option<Revision>,
}

/// What the console did about the revision an agent says it runs (`ServerRollout::reconcile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reconciled {
    /// The agent runs what the console shows, or a revision is on its way to it.
    InStep,
    /// The agent runs the newest revision: taken as its acknowledgement (`late` after a cancel
    /// or the deadline, as `ack` takes those).
    Acknowledged { revision: i64, late: bool },
    /// The agent runs a revision the console no longer shows (a stale acknowledgement after a
    /// supersede or a cancel): the latest target is handed to it at once as a new revision.
    Reissued { revision: i64, target: Target, agent_revision: i64 },
    /// The agent could not apply the newest revision: the console shows that failure, and
    /// handing it more would only fail again at every heartbeat. A retry or a new save moves on.
    Failed,
}

/// What the console shows in the 2FA Status column.
pub use proto::TwoFactorStatus as Status;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("there is no pending change to cancel")]
    NothingToCancel,
    #[error("only a failed change can be retried")]
    NothingToRetry,
}

/// How an acknowledgement was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ack {
    Applied,
    /// Applied, reported after the deadline had already failed it: the host has it, so it counts.
    AppliedLate,
    Failed,
    /// For a revision that is not the newest: recorded nowhere, changes nothing.
    Stale,
}

impl ServerRollout {
    fn next_number(&self) -> i64 {
        let latest = self.latest.as_ref().map(|r| r.number).unwrap_or(0);
        let applied = self.applied.as_ref().map(|(n, _)| *n).unwrap_or(0);
        latest.max(applied) + 1
    }

    /// Saves a change: a new revision, due after `delay`. It replaces a revision not yet applied.
    pub fn save(&mut self, target: Target, now: DateTime<Utc>, delay: Duration) -> i64 {
        let number = self.next_number();
        self.latest = Some(Revision { number, target, phase: Phase::Scheduled { due_at: now + delay } });
        number
    }

    /// Cancels a change still waiting: for its apply delay, or for its agent to take it (an
    /// offline agent). What the agent has stays in force; should it still apply the canceled
    /// revision, its acknowledgement counts (`ack`), since the host then runs it.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> Result<(), RolloutError> {
        match &mut self.latest {
            Some(r) if matches!(r.phase, Phase::Scheduled { .. } | Phase::Delivering { .. }) => {
                r.phase = Phase::Canceled { at: now };
                Ok(())
            }
            _ => Err(RolloutError::NothingToCancel),
        }
    }

    /// The revision to hand to the agent now, if its delay is over.
    pub fn due(&self, now: DateTime<Utc>) -> Option<&Revision> {
        self.latest.as_ref().filter(|r| matches!(r.phase, Phase::Scheduled { due_at } if due_at <= now))
    }

    /// The job ran: the revision is now the agent's to apply. False if it was not due.
    pub fn hand_over(&mut self, now: DateTime<Utc>) -> bool {
        if self.due(now).is_none() {
            return false;
        }
        if let Some(r) = &mut self.latest {
            r.phase = Phase::Delivering { since: now };
        }
        true
    }

    /// The agent reports on `revision`: applied (`Ok`) or not (`Err(reason)`).
    pub fn ack(&mut self, revision: i64, outcome: Result<(), String>, now: DateTime<Utc>) -> Ack {
        let Some(r) = self.latest.as_mut().filter(|r| r.number == revision) else { return Ack::Stale };
        // A late "applied" still tells the truth about the host: what it runs now is this
        // revision, whatever the deadline or a cancel while it was on its way said. A late
        // failure adds nothing.
        let late = match &r.phase {
            Phase::Delivering { .. } => false,
            Phase::Failed { kind: FailureKind::Deadline, .. } if outcome.is_ok() => true,
            Phase::Canceled { .. } if outcome.is_ok() => true,
            _ => return Ack::Stale,
        };
        match outcome {
            Ok(()) => {
                r.phase = Phase::Applied { at: now };
                self.applied = Some((revision, r.target.clone()));
                if late {
                    Ack::AppliedLate
                } else {
                    Ack::Applied
                }
            }
            Err(reason) => {
                r.phase = Phase::Failed {
                    at: now,
                    kind: FailureKind::AgentError,
                    reason: format!("the agent could not apply it: {reason}"),
                };
                Ack::Failed
            }
        }
    }

    /// Fails a handed-over revision whose agent has not answered within `deadline`.
    pub fn check_deadline(&mut self, now: DateTime<Utc>, deadline: Duration) -> bool {
        match &mut self.latest {
            Some(r) if matches!(r.phase, Phase::Delivering { since } if since + deadline <= now) => {
                r.phase = Phase::Failed { at: now, kind: FailureKind::Deadline, reason: deadline_reason(deadline) };
                true
            }
            _ => false,
        }
    }

    /// Tries a failed change again, as a new revision after `delay`.
    pub fn retry(&mut self, now: DateTime<Utc>, delay: Duration) -> Result<i64, RolloutError> {
        match &self.latest {
            Some(Revision { target, phase: Phase::Failed { .. }, .. }) => {
                let target = target.clone();
                Ok(self.save(target, now, delay))
            }
            _ => Err(RolloutError::NothingToRetry),
        }
    }

    /// The agent reports (with its heartbeat) that it runs `agent_revision`. When that is not
    /// what the console shows, the host would stay on a configuration nobody sees, so the
    /// latest target goes to the agent now, without the apply delay: a saved change still
    /// waiting is handed over at once; otherwise what the console shows in force (off before
    /// any acknowledgement). A revision already handed over and newer than the agent's is
    /// simply on its way.
    pub fn reconcile(&mut self, agent_revision: i64, now: DateTime<Utc>) -> Reconciled {
        let shown = self.applied.as_ref().map_or(0, |(n, _)| *n);
        let (latest_number, delivering, own_failure) = match &self.latest {
            Some(r) => (
                r.number,
                matches!(r.phase, Phase::Delivering { .. }),
                matches!(r.phase, Phase::Failed { kind: FailureKind::AgentError, .. }),
            ),
            None => (0, false, false),
        };
        if delivering && latest_number > agent_revision {
            return Reconciled::InStep;
        }
        // The host runs the newest revision: what its acknowledgement would say, so it counts
        // as one (the real one, if it still comes, is then stale).
        if latest_number == agent_revision {
            match self.ack(agent_revision, Ok(()), now) {
                Ack::Applied => return Reconciled::Acknowledged { revision: agent_revision, late: false },
                Ack::AppliedLate => return Reconciled::Acknowledged { revision: agent_revision, late: true },
                Ack::Failed | Ack::Stale => {}
            }
        }
        if !delivering && agent_revision == shown {
            return Reconciled::InStep;
        }
        if own_failure {
            return Reconciled::Failed;
        }
        let target = match &self.latest {
            Some(Revision { target, phase: Phase::Scheduled { .. }, .. }) => target.clone(),
            _ => self.applied.as_ref().map(|(_, t)| t.clone()).unwrap_or_else(Target::off),
        };
        // Newer than anything the agent has, or it would not take it.
        let number = self.next_number().max(agent_revision.saturating_add(1));
        self.latest = Some(Revision { number, target: target.clone(), phase: Phase::Delivering { since: now } });
        Reconciled::Reissued { revision: number, target, agent_revision }
    }

    /// Saving `target` would change nothing: it is the change already on its way, or, with
    /// nothing on its way and no failure showing, what is in force. (A failed change is fixed
    /// by saving again, so after one a save always counts.)
    pub fn unchanged_by(&self, target: &Target) -> bool {
        match &self.latest {
            Some(r) if matches!(r.phase, Phase::Scheduled { .. } | Phase::Delivering { .. }) => {
                r.target.same_effect(target)
            }
            Some(Revision { phase: Phase::Failed { .. }, .. }) => false,
            _ => self.applied.as_ref().map(|(_, t)| t.clone()).unwrap_or_else(Target::off).same_effect(target),
        }
    }

    /// What is in force: the configuration the agent last acknowledged, if it has 2FA on. A
    /// failed or canceled change leaves it as it was; before any acknowledgement nothing is.
    pub fn in_force(&self) -> Option<&Target> {
        self.applied.as_ref().map(|(_, t)| t).filter(|t| t.enabled)
    }

    /// The change on its way: saved or handed to the agent, not yet acknowledged.
    pub fn pending(&self) -> Option<&Target> {
        self.latest
            .as_ref()
            .filter(|r| matches!(r.phase, Phase::Scheduled { .. } | Phase::Delivering { .. }))
            .map(|r| &r.target)
    }

    pub fn status(&self, now: DateTime<Utc>) -> Status {
        let settled = || match &self.applied {
            Some((_, t)) if t.enabled => Status::Enabled,
            _ => Status::Disabled,
        };
        let Some(r) = &self.latest else { return settled() };
        let moving = |seconds_left: i64| {
            if r.target.enabled {
                Status::Enabling { seconds_left }
            } else {
                Status::Disabling { seconds_left }
            }
        };
        match &r.phase {
            // Rounded up: "1 s left" until it is due, whatever the clock's precision.
            Phase::Scheduled { due_at } => moving(((*due_at - now).num_milliseconds().max(0) + 999) / 1000),
            Phase::Delivering { .. } => moving(0),
            Phase::Failed { reason, .. } => Status::Failed { reason: reason.clone() },
            Phase::Applied { .. } | Phase::Canceled { .. } => settled(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use chrono::TimeZone;

    const DELAY: Duration = Duration::seconds(300);
    const DEADLINE: Duration = Duration::minutes(10);

    fn clock() -> ManualClock {
        ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
    }

    fn on() -> Target {
        Target { enabled: true, method: Method::Code, topic_id: None }
    }

    fn off() -> Target {
        Target { enabled: false, method: Method::Code, topic_id: None }
    }

    #[test]
    fn a_change_waits_for_the_delay_then_counts_only_when_acknowledged() {
        let c = clock();
        let mut r = ServerRollout::default();
        assert_eq!(r.status(c.now()), Status::Disabled);
        let n = r.save(on(), c.now(), DELAY);
        assert_eq!(r.status(c.now()), Status::Enabling { seconds_left: 300 });

        c.advance(Duration::seconds(299));
        assert!(!r.hand_over(c.now()), "not before the delay");
        assert_eq!(r.status(c.now()), Status::Enabling { seconds_left: 1 });

        c.advance(Duration::seconds(1));
        assert!(r.hand_over(c.now()));
        assert_eq!(r.status(c.now()), Status::Enabling { seconds_left: 0 }, "handed over is not yet enabled");

        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::Applied);
        assert_eq!(r.status(c.now()), Status::Enabled);
        assert_eq!(r.applied, Some((n, on())));
    }

    #[test]
    fn a_waiting_change_can_be_canceled_and_then_never_applies() {
        let c = clock();
        let mut r = ServerRollout::default();
        r.save(on(), c.now(), DELAY);
        c.advance(Duration::seconds(60));
        r.cancel(c.now()).unwrap();
        assert_eq!(r.status(c.now()), Status::Disabled);
        c.advance(Duration::hours(1));
        assert!(r.due(c.now()).is_none());
        assert!(!r.hand_over(c.now()));
        assert_eq!(r.cancel(c.now()), Err(RolloutError::NothingToCancel));
    }

    #[test]
    fn a_change_waiting_for_its_agent_can_be_canceled_and_the_host_still_decides() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        assert!(r.hand_over(c.now()));
        assert_eq!(r.status(c.now()), Status::Enabling { seconds_left: 0 }, "waiting for the agent");
        r.cancel(c.now()).unwrap();
        assert_eq!(r.status(c.now()), Status::Disabled);
        assert!(r.pending().is_none());
        // The agent had taken it before the cancel and applied it: the host runs it, so it counts.
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::AppliedLate);
        assert_eq!(r.status(c.now()), Status::Enabled);
        assert_eq!(r.cancel(c.now()), Err(RolloutError::NothingToCancel), "applied: nothing left to cancel");

        // A failure reported for a canceled revision changes nothing.
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.cancel(c.now()).unwrap();
        assert_eq!(r.ack(n, Err("sshd -t failed".into()), c.now()), Ack::Stale);
        assert_eq!(r.status(c.now()), Status::Disabled);
    }

    #[test]
    fn a_newer_revision_supersedes_one_not_yet_applied() {
        let c = clock();
        let mut r = ServerRollout::default();
        let first = r.save(on(), c.now(), DELAY);
        c.advance(Duration::seconds(100));
        let topic = Some(Uuid::new_v4());
        let second = r.save(Target { enabled: true, method: Method::Sms, topic_id: topic }, c.now(), DELAY);
        assert!(second > first);
        c.advance(Duration::seconds(200));
        assert!(r.due(c.now()).is_none(), "the first revision's due time no longer counts");
        c.advance(Duration::seconds(100));
        assert_eq!(r.due(c.now()).map(|rev| rev.number), Some(second));
    }

    #[test]
    fn an_ack_of_an_older_revision_changes_nothing() {
        let c = clock();
        let mut r = ServerRollout::default();
        let first = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        let second = r.save(off(), c.now(), DELAY);
        assert_eq!(r.ack(first, Ok(()), c.now()), Ack::Stale);
        assert_eq!(r.applied, None);
        assert_eq!(r.status(c.now()), Status::Disabling { seconds_left: 300 });
        // Nor does an ack for a revision that was never handed over.
        assert_eq!(r.ack(second, Ok(()), c.now()), Ack::Stale);
    }

    #[test]
    fn an_agent_silent_past_the_deadline_fails_the_change_and_retry_schedules_it_again() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        c.advance(DEADLINE - Duration::seconds(1));
        assert!(!r.check_deadline(c.now(), DEADLINE));
        c.advance(Duration::seconds(1));
        assert!(r.check_deadline(c.now(), DEADLINE));
        let Status::Failed { reason } = r.status(c.now()) else { panic!("failed") };
        assert!(reason.contains("did not acknowledge within 10 minutes"), "{reason}");
        // A late failure report adds nothing to the deadline's.
        assert_eq!(r.ack(n, Err("sshd -t failed".into()), c.now()), Ack::Stale);

        let again = r.retry(c.now(), DELAY).unwrap();
        assert!(again > n);
        assert_eq!(r.status(c.now()), Status::Enabling { seconds_left: 300 });
        assert_eq!(r.retry(c.now(), DELAY), Err(RolloutError::NothingToRetry));
    }

    #[test]
    fn an_applied_ack_after_the_deadline_counts_because_the_host_has_it() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        c.advance(DEADLINE);
        assert!(r.check_deadline(c.now(), DEADLINE));
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::AppliedLate);
        assert_eq!(r.status(c.now()), Status::Enabled);
        assert_eq!(r.applied, Some((n, on())));
        // An agent's own failure is final: a later "applied" for it is not believed.
        let m = r.save(off(), c.now(), Duration::zero());
        r.hand_over(c.now());
        assert_eq!(r.ack(m, Err("sshd -t failed".into()), c.now()), Ack::Failed);
        assert_eq!(r.ack(m, Ok(()), c.now()), Ack::Stale);
        assert_eq!(r.applied, Some((n, on())));
    }

    #[test]
    fn only_the_kind_of_a_failure_decides_whether_a_late_ack_counts() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        // An agent's error worded like the deadline's is still the agent's own failure.
        assert_eq!(r.ack(n, Err("x".into()), c.now()), Ack::Failed);
        if let Some(l) = r.latest.as_mut() {
            l.phase = Phase::Failed { at: c.now(), kind: FailureKind::AgentError, reason: deadline_reason(DEADLINE) };
        }
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::Stale);
        // And the deadline's failure counts a late ack whatever its words.
        if let Some(l) = r.latest.as_mut() {
            l.phase = Phase::Failed { at: c.now(), kind: FailureKind::Deadline, reason: "silent".into() };
        }
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::AppliedLate);
    }

    #[test]
    fn an_agent_error_fails_the_change_with_its_reason() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        assert_eq!(r.ack(n, Err("sshd -t failed: line 12: Bad configuration option".into()), c.now()), Ack::Failed);
        let Status::Failed { reason } = r.status(c.now()) else { panic!("failed") };
        assert!(reason.contains("sshd -t failed"));
        assert_eq!(r.applied, None, "the server keeps its previous configuration");
    }

    #[test]
    fn disabling_an_enabled_server() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.ack(n, Ok(()), c.now());
        let m = r.save(off(), c.now(), DELAY);
        assert_eq!(r.status(c.now()), Status::Disabling { seconds_left: 300 });
        r.cancel(c.now()).unwrap();
        assert_eq!(r.status(c.now()), Status::Enabled, "canceling keeps what the agent has");
        let m2 = r.save(off(), c.now(), Duration::zero());
        assert!(m2 > m);
        r.hand_over(c.now());
        r.ack(m2, Ok(()), c.now());
        assert_eq!(r.status(c.now()), Status::Disabled);
    }

    #[test]
    fn a_stale_ack_after_a_supersede_and_cancel_is_undone_by_the_next_heartbeat() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        // The agent took n, then went offline; n is superseded, and that change is canceled.
        let m = r.save(off(), c.now(), DELAY);
        r.cancel(c.now()).unwrap();
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::Stale);
        assert_eq!(r.status(c.now()), Status::Disabled, "the console shows 2FA off");
        // Its heartbeat says the host runs n: what the console shows (off) goes to it at once.
        let Reconciled::Reissued { revision, target, agent_revision } = r.reconcile(n, c.now()) else {
            panic!("reissued")
        };
        assert!(revision > m && revision > n);
        assert_eq!((target, agent_revision), (off(), n));
        assert_eq!(r.status(c.now()), Status::Disabling { seconds_left: 0 }, "handed over, no delay");
        assert!(r.due(c.now()).is_none());
        assert_eq!(r.reconcile(n, c.now()), Reconciled::InStep, "on its way: not again");
        assert_eq!(r.ack(revision, Ok(()), c.now()), Ack::Applied);
        assert_eq!(r.reconcile(revision, c.now()), Reconciled::InStep);
        assert_eq!(r.status(c.now()), Status::Disabled);
    }

    #[test]
    fn a_stale_ack_while_a_newer_change_waits_hands_that_change_over_at_once() {
        let c = clock();
        let mut r = ServerRollout::default();
        let first = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.ack(first, Ok(()), c.now());
        let n = r.save(off(), c.now(), Duration::zero());
        r.hand_over(c.now());
        let topic = Some(Uuid::new_v4());
        let sms = Target { enabled: true, method: Method::Sms, topic_id: topic };
        r.save(sms.clone(), c.now(), DELAY);
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::Stale, "the host now runs 2FA off, unseen");
        let Reconciled::Reissued { revision, target, .. } = r.reconcile(n, c.now()) else { panic!("reissued") };
        assert_eq!(target, sms);
        assert_eq!(
            r.latest.as_ref().map(|l| (l.number, l.phase.clone())),
            Some((revision, Phase::Delivering { since: c.now() }))
        );
    }

    #[test]
    fn a_heartbeat_in_step_or_with_a_change_on_its_way_changes_nothing() {
        let c = clock();
        let mut r = ServerRollout::default();
        assert_eq!(r.reconcile(0, c.now()), Reconciled::InStep);
        let n = r.save(on(), c.now(), DELAY);
        assert_eq!(r.reconcile(0, c.now()), Reconciled::InStep, "waiting for its delay: the host has nothing yet");
        c.advance(DELAY);
        r.hand_over(c.now());
        assert_eq!(r.reconcile(0, c.now()), Reconciled::InStep);
        // Applied, its ack not yet through: the heartbeat says as much.
        assert_eq!(r.reconcile(n, c.now()), Reconciled::Acknowledged { revision: n, late: false });
        assert_eq!(r.status(c.now()), Status::Enabled);
        assert_eq!(r.ack(n, Ok(()), c.now()), Ack::Stale, "the ack itself then adds nothing");
        assert_eq!(r.reconcile(n, c.now()), Reconciled::InStep);
        // An agent restored from an old state file runs nothing the console shows: in force goes again.
        let Reconciled::Reissued { target, .. } = r.reconcile(0, c.now()) else { panic!("reissued") };
        assert_eq!(target, on());
    }

    #[test]
    fn a_heartbeat_naming_the_canceled_revision_counts_like_its_late_ack() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.cancel(c.now()).unwrap();
        assert_eq!(r.reconcile(n, c.now()), Reconciled::Acknowledged { revision: n, late: true });
        assert_eq!(r.status(c.now()), Status::Enabled);
        assert_eq!(r.reconcile(n, c.now()), Reconciled::InStep);
    }

    #[test]
    fn after_the_agents_own_failure_the_heartbeat_hands_nothing_more() {
        let c = clock();
        let mut r = ServerRollout::default();
        let n = r.save(on(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.ack(n, Ok(()), c.now());
        let m = r.save(off(), c.now(), Duration::zero());
        r.hand_over(c.now());
        r.ack(m, Err("sshd -t failed".into()), c.now());
        // An agent on some other revision would fail again at every heartbeat; the failure shows.
        assert_eq!(r.reconcile(n + 100, c.now()), Reconciled::Failed);
        assert!(matches!(r.status(c.now()), Status::Failed { .. }));
    }

    #[test]
    fn a_change_that_changes_nothing_is_recognised() {
        let c = clock();
        let mut r = ServerRollout::default();
        assert!(r.unchanged_by(&off()), "off before any change");
        assert!(!r.unchanged_by(&on()));
        let n = r.save(on(), c.now(), DELAY);
        assert!(r.unchanged_by(&on()), "the same change on its way");
        assert!(!r.unchanged_by(&off()));
        r.hand_over(c.now() + DELAY);
        r.ack(n, Ok(()), c.now());
        assert!(r.unchanged_by(&on()));
        let sms = |topic| Target { enabled: true, method: Method::Sms, topic_id: topic };
        assert!(!r.unchanged_by(&sms(None)));
        // What an off target remembers does not matter.
        let m = r.save(Target { enabled: false, method: Method::Sms, topic_id: Some(Uuid::new_v4()) }, c.now(), DELAY);
        assert!(r.unchanged_by(&off()));
        r.hand_over(c.now() + DELAY);
        r.ack(m, Err("sshd -t failed".into()), c.now());
        assert!(!r.unchanged_by(&off()), "after a failure a save always counts");
        // Two topics are two changes.
        let a = Some(Uuid::new_v4());
        r.save(sms(a), c.now(), DELAY);
        assert!(r.unchanged_by(&sms(a)));
        assert!(!r.unchanged_by(&sms(Some(Uuid::new_v4()))));
    }
}
