//! HostGuard's host agent: registers a Linux server with the console, reports the facts the
//! console checks before enabling 2FA, and applies the 2FA configuration revisions it receives
//! to sshd and PAM (with backup, `sshd -t` and rollback).

pub mod api;
pub mod apply;
pub mod cli;
mod daemon;
pub mod facts;
pub mod files;
pub mod login;
pub mod pam_conf;
pub mod pam_stack;
pub mod sshd;
pub mod state;

pub use cli::Options;
pub use daemon::{run, run_until, AgentError};

/// Reported in facts and heartbeats.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
