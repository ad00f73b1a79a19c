//! The approval side of push: the devices an end user approves logins with ([`devices`]) and
//! their signed decisions on pending push requests ([`decide`]), with the pauses of
//! out-of-portal notifications that push fatigue and "This wasn't me" call for ([`mute`]), and
//! the Web Push subscriptions those notifications go to ([`subscriptions`]).
//! The login side creates the requests and waits for their status; the `push_requests` table
//! is all the two share.

pub mod codes;
pub mod decide;
pub mod devices;
pub mod mute;
pub mod policy;
mod signature;
pub mod subscriptions;

pub use decide::{decide, pending, Decision, Outcome, PendingRequest};
pub use mute::muted;

use crate::{
    caller::{Caller, Role},
    error::{DomainError, DomainResult},
};
use uuid::Uuid;

/// The calling end user's id and tenant; only end users approve logins.
fn end_user(caller: &Caller) -> DomainResult<(Uuid, Uuid)> {
    caller.require_role(Role::EndUser)?;
    Ok((caller.user_id, caller.tenant_id.ok_or(DomainError::Forbidden)?))
}
