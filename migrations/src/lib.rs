//! The database schema, as ordered migrations. Applied at server start-up and by
//! `server migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_notifications;
mod m20261123_000003_two_factor_configs;
mod m20261123_000004_server_facts;
mod m20261123_000005_rollout_agents_keys;
mod m20261123_000006_server_search_indexes;
mod m20261125_000007_agent_tokens;
mod m20261125_000008_confirmation_sends;
mod m20261126_000009_sshd_drop_in;
mod m20261126_000010_server_logins;
mod m20261126_000011_authenticators;
mod m20261126_000012_agent_status_from_last_seen;
mod m20261205_000013_agent_guard;
mod m20261205_000014_factor_changes;
mod m20261205_000015_pam_stack_facts;
mod m20261205_000016_failure_kind;
mod m20261206_000017_push_requests;
mod m20261206_000018_credits;
mod m20261206_000019_invitations;
mod m20261206_000020_approval_devices;
mod m20261206_000021_phone_factors;
mod m20261206_000022_push_subscriptions;
mod m20261206_000023_passkeys;
mod m20261206_000024_console_sign_in;
mod m20261206_000025_login_codes;
mod m20261206_000026_config_tenant_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_notifications::Migration),
            Box::new(m20261123_000003_two_factor_configs::Migration),
            Box::new(m20261123_000004_server_facts::Migration),
            Box::new(m20261123_000005_rollout_agents_keys::Migration),
            Box::new(m20261123_000006_server_search_indexes::Migration),
            Box::new(m20261125_000007_agent_tokens::Migration),
            Box::new(m20261125_000008_confirmation_sends::Migration),
            Box::new(m20261126_000009_sshd_drop_in::Migration),
            Box::new(m20261126_000010_server_logins::Migration),
            Box::new(m20261126_000011_authenticators::Migration),
            Box::new(m20261126_000012_agent_status_from_last_seen::Migration),
            Box::new(m20261205_000013_agent_guard::Migration),
            Box::new(m20261205_000014_factor_changes::Migration),
            Box::new(m20261205_000015_pam_stack_facts::Migration),
            Box::new(m20261205_000016_failure_kind::Migration),
            Box::new(m20261206_000017_push_requests::Migration),
            Box::new(m20261206_000018_credits::Migration),
            Box::new(m20261206_000019_invitations::Migration),
            Box::new(m20261206_000020_approval_devices::Migration),
            Box::new(m20261206_000021_phone_factors::Migration),
            Box::new(m20261206_000022_push_subscriptions::Migration),
            Box::new(m20261206_000023_passkeys::Migration),
            Box::new(m20261206_000024_console_sign_in::Migration),
            Box::new(m20261206_000025_login_codes::Migration),
            Box::new(m20261206_000026_config_tenant_index::Migration),
        ]
    }
}
