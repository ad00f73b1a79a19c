pub mod account;
pub mod approvals;
pub mod history;
pub mod methods;
