pub mod access_keys;
pub mod server_accounts;
pub mod users;
pub mod push_policy;
