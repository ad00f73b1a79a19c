//! Table models, one module per table. Column names match `migrations/`.

pub mod login_attempt;
pub mod server;
pub mod session;
pub mod tenant;
pub mod topic;
pub mod user;
