//! HostGuard's business rules, free of any web framework.
//!
//! Server functions (the Leptos UI) and the HTTP APIs both authenticate the caller, then call
//! the plain `async fn`s here, which check authorization and tenancy themselves.

pub mod access_keys;
pub mod accounts;
pub mod agents;
pub mod audit;
pub mod caller;
pub mod clock;
pub mod console_auth;
pub mod credits;
pub mod ctx;
pub mod db;
pub mod demo;
pub mod device_accounts;
pub mod entities;
pub mod error;
pub mod factors;
pub mod group_commit;
pub mod lockout;
pub mod logins;
pub mod messages;
pub mod outbox;
pub mod password;
pub mod push;
pub mod readiness;
pub mod retention;
pub mod rollout;
mod seal;
pub mod search;
pub mod servers;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;
pub mod topics;
pub mod two_factor;
pub mod users;
pub mod validate;

pub use caller::{Caller, Role};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ctx::Ctx;
pub use error::{DomainError, DomainResult, FieldError};
