//! Server functions: thin. Each gets the caller from the session, calls one rule in `domain`
//! and maps the result into `models`. Paths are fixed (`/api/...`) so scripts and tests can
//! call them.

pub mod access_keys;
pub mod agents;
pub mod approvals;
pub mod device_accounts;
pub mod audit;
pub mod auth;
pub mod console_factor;
pub mod invitations;
pub mod login_codes;
pub mod history;
pub mod logins;
pub mod phones;
pub mod passkeys;
pub mod portal;
pub mod server_accounts;
pub mod servers;
pub mod tenants;
pub mod topics;
pub mod two_factor;
pub mod webpush;
pub mod users;

#[cfg(feature = "ssr")]
pub mod ssr;
