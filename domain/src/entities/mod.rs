//! Table models, one module per table. Column names match `migrations/`.

/// A state stored in a string column: its `as_str` is the stored value (`proto::wire_strings`),
/// and it converts to a query value, so filters and updates name the enum, not a string literal.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $ty {
            $($(#[$vmeta])* $variant),+
        }

        proto::wire_strings!($ty { $($variant => $s),+ });

        impl From<$ty> for sea_orm::Value {
            fn from(v: $ty) -> sea_orm::Value {
                v.as_str().into()
            }
        }
    };
}

pub mod access_key;
pub mod account_mapping;
pub mod agent_guard;
pub mod agent_install_token;
pub mod audit_event;
pub mod authenticator;
pub mod break_glass_code;
pub mod confirmation_send;
pub mod enrolment_window;
pub mod factor_step_up;
pub mod login_attempt;
pub mod login_settings;
pub mod outbox;
pub mod recovery_code;
pub mod rollout_job;
pub mod server;
pub mod server_login;
pub mod session;
pub mod subscription;
pub mod tenant;
pub mod topic;
pub mod two_factor_config;
pub mod unsubscribe_token;
pub mod user;
