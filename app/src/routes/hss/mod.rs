pub mod login_audit;
pub mod server_detail;
pub mod two_factor;
