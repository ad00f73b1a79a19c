//! Agents: one-time install tokens, registration, the agent's own credential, facts,
//! heartbeats, handing revisions over by long poll, and acknowledgements.

mod assignment;
pub mod budget;
mod facts;
mod registration;
mod tokens;
mod wakeups;

pub use assignment::{acknowledge, assignment};
pub use facts::{heartbeat, limits, report_facts, OFFLINE_AFTER_SECS};
pub use proto::agent::{Assignment, Facts};
pub use registration::{authenticate, credential_rejected, register, Registered, REJECTION_NOTED_EVERY_SECS};
pub use tokens::{
    create_install_token, create_reinstall_token, list_tokens, revoke_token, TokenInfo, TokenState, INSTALL_TOKEN_HOURS,
    TOKENS_LISTED,
};
pub use wakeups::{AgentWakeups, NoWakeups};
