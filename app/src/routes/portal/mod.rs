pub mod account;
pub mod approvals;
pub mod help;
pub mod history;
pub mod methods;
