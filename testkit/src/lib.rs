//! What the server's integration tests share: the real console on a random port with a fresh
//! database ([`spawn_app`]), tenants and users made for the test ([`TestApp::create_tenant`]),
//! sign-in helpers, typed calls of the server functions ([`TestApp::run`]), a fake agent on the
//! agent's own API client ([`FakeAgent`]), a real SMTP server ([`SmtpSink`]) and `TEST_LOG=1` logs.

// Test code: a panic is a failed test, which is what an unexpected error there should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod addresses;
mod agent;
pub mod approve;
mod console;
pub mod console_sign_in;
pub mod demo;
mod factors;
mod fixlogin;
mod fixtures;
pub mod invite;
mod log;
mod logins;
mod ntfy;
pub mod passkey;
mod phone;
mod postgres;
mod prompt;
pub mod push_service;
mod server_fns;
mod smtp;

pub use agent::{agent_error_code, agent_status, debian_facts, AgentError, ApiClient, FakeAgent};
pub use console::{
    session_cookie, set_session_cookie, spawn_app, spawn_app_with, Backend, Credentials, Options, TestApp,
    TEST_SECRET_KEY,
};
pub use fixtures::{Login, TenantFixture};
pub use logins::{denial, prompt_of, Protected};
pub use postgres::{create_postgres_database, fresh_postgres_database};
pub use server_fns::{change, disable, enable_code, enable_sms, token_of, Refused, Session, NO_SESSION};
pub use smtp::{Mail, SmtpSink};

/// Runs the same async test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                ($body)($crate::Backend::Postgres).await
            }
        }
    };
}

/// Polls `check` until it is true (up to 30 s: a check that passes returns at once, and a
/// loaded machine may take long over what normally takes a second).
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, std::time::Duration::from_secs(30), check).await
}

/// Polls `check` every 50 ms until it is true, for up to `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if check().await {
            return;
        }
        if started.elapsed() >= limit {
            panic!("timed out waiting for: {what} ({limit:?})");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `n` Linux servers of a tenant that are ready for 2FA (agent online, PAM and
/// keyboard-interactive on), named `{prefix}-00000` on, to write straight to the database.
pub fn ready_servers(tenant_id: uuid::Uuid, prefix: &str, n: usize) -> Vec<domain::entities::server::ActiveModel> {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| domain::entities::server::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            name: Set(format!("{prefix}-{i:05}")),
            ip: Set(format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)),
            ips: Set(String::new()),
            os_type: Set(proto::OsType::Linux),
            os_name: Set("Debian 12".into()),
            region: Set("ap-southeast-1".into()),
            protection_enabled: Set(true),
            last_seen_at: Set(Some(now)),
            created_at: Set(now),
            sshd_use_pam: Set(Some(true)),
            sshd_kbd_interactive: Set(Some(true)),
            sshd_permit_empty_passwords: Set(Some(false)),
            openssh_version: Set(Some("OpenSSH_9.2p1".into())),
            selinux: Set(Some(proto::agent::SelinuxMode::Disabled)),
            must_change_password_accounts: Set(String::new()),
            conflicting_software: Set(String::new()),
            ..Default::default()
        })
        .collect()
}
