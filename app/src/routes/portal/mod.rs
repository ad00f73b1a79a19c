pub mod account;
pub mod history;
pub mod methods;
