//! Agents: one-time install tokens, registration and the agent's own credential, facts and
//! heartbeats, handing revisions over and their acknowledgements, the wake-ups of long polls
//! (which the server runs), and the agent API's write budgets.

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
    create_install_token, create_reinstall_token, list_tokens, revoke_token, TokenInfo, TokenState,
    INSTALL_TOKEN_HOURS, TOKENS_LISTED,
};
pub use wakeups::{AgentWakeups, NoWakeups};
