//! The server's integration tests, one binary with a module per area, so the console links
//! once. Each scenario runs against the real server on SQLite and on PostgreSQL.

// Test code: a panic is a failed test, which is what an unexpected error there should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod accounts;
mod agent_e2e;
mod agent_registration;
mod approvals;
mod approvals_feed_session;
mod code_logins;
mod console_sign_in;
mod contract;
mod credits;
mod durability;
mod factors;
mod first_factor_link_only;
mod hss_api;
mod invitations;
mod limits;
mod list_paths;
mod links_and_limits;
mod login_codes;
mod login_console;
mod login_e2e;
mod logins;
mod notifications;
mod official_sdk;
mod operations;
mod outbox;
mod passkey_sign_in_limit;
mod passkeys;
mod phones;
mod portal_accounts;
mod prompt_logins;
mod prompt_sshd;
mod retention_issue17;
mod rollout;
mod rollout_races;
mod security_fixes;
mod sign_out_all;
mod sms_gateway;
mod sshd_e2e;
mod statuses;
mod stored_enums;
mod tenancy;
mod webpush;
mod webpush_ssrf;
mod webpush_unifiedpush;
