//! Table models, one module per table. Column names match `migrations/`.
//!
//! An enumerated column holds its enum (sea-orm's `DeriveActiveEnum`; in `proto`, under its `db`
//! feature, for the values the browser UI shows too). A stored value that no variant maps fails
//! the read with a `DbErr`, the one place it is checked.

pub mod access_key;
pub mod account_mapping;
pub mod agent_guard;
pub mod agent_install_token;
pub mod approval_device;
pub mod audit_event;
pub mod authenticator;
pub mod break_glass_code;
pub mod confirmation_send;
pub mod console_authenticator;
pub mod console_wrong_code;
pub mod credit_entry;
pub mod factor_preference;
pub mod factor_step_up;
pub mod invitation;
pub mod login_attempt;
pub mod login_code;
pub mod login_code_nonce;
pub mod login_settings;
pub mod outbox;
pub mod passkey;
pub mod passkey_ceremony;
pub mod password_reset;
pub mod phone;
pub mod push_mute;
pub mod push_notification;
pub mod push_request;
pub mod push_subscription;
pub mod recovery_code;
pub mod rollout_job;
pub mod server;
pub mod server_login;
pub mod session;
pub mod subscription;
pub mod tenant;
pub mod tenant_console_policy;
pub mod tenant_fraud_policy;
pub mod topic;
pub mod two_factor_config;
pub mod unsubscribe_token;
pub mod user;

#[cfg(test)]
mod tests {
    use super::{rollout_job::JobStatus, two_factor_config::PhaseName};
    use proto::{agent::SelinuxMode, login::*, *};
    use sea_orm::ActiveEnum;

    /// The values stored are the enums' `as_str` (and serde names), as before the columns were
    /// typed: no data migration.
    #[test]
    fn stored_values_are_the_wire_strings() {
        fn same<T: ActiveEnum<Value = String> + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
            for v in all {
                assert_eq!(v.to_value(), as_str(*v));
                assert_eq!(T::try_from_value(&as_str(*v).to_owned()).ok().map(|t| t.to_value()), Some(v.to_value()));
            }
            assert_eq!(T::iter().count(), all.len());
        }
        same(Method::ALL, Method::as_str);
        same(Role::ALL, Role::as_str);
        same(OsType::ALL, OsType::as_str);
        same(SubscriptionStatus::ALL, SubscriptionStatus::as_str);
        same(Protocol::ALL, Protocol::as_str);
        same(AccessKeyStatus::ALL, AccessKeyStatus::as_str);
        same(OutboxStatus::ALL, OutboxStatus::as_str);
        same(Channel::ALL, Channel::as_str);
        same(MessageKind::ALL, MessageKind::as_str);
        same(FailMode::ALL, FailMode::as_str);
        same(LoginResult::ALL, LoginResult::as_str);
        same(LoginMethod::ALL, LoginMethod::as_str);
        same(proto::push::PushStatus::ALL, proto::push::PushStatus::as_str);
        same(DefaultMethod::ALL, DefaultMethod::as_str);
        same(LoginStage::ALL, LoginStage::as_str);
        same(SelinuxMode::ALL, SelinuxMode::as_str);
        same(JobStatus::ALL, JobStatus::as_str);
        same(PhaseName::ALL, PhaseName::as_str);
        same(proto::audit::AuditAction::ALL, proto::audit::AuditAction::as_str);
        assert!(Method::try_from_value(&"fax".to_owned()).is_err());
    }
}
