//! Table models, one module per table. Column names match `migrations/`.

pub mod access_key;
pub mod agent_install_token;
pub mod audit_event;
pub mod confirmation_send;
pub mod login_attempt;
pub mod outbox;
pub mod rollout_job;
pub mod server;
pub mod session;
pub mod subscription;
pub mod tenant;
pub mod topic;
pub mod two_factor_config;
pub mod unsubscribe_token;
pub mod user;
