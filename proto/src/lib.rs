//! HostGuard's wire types: the values the console, its browser UI, the host agent and (later)
//! the PAM module exchange, defined once so that a field or value renamed on one side fails to
//! compile on the other. Plain data and serde only: no async runtime, no database, builds for wasm.
//!
//! Each enum's `as_str` is its stored and serialized value; `parse` is its inverse.

pub mod agent;
pub mod audit;
pub mod exempt;
pub mod factors;
pub mod login;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod push;
pub mod readiness;
pub mod users;

use serde::{Deserialize, Serialize};

pub use factors::DefaultMethod;

/// Defines `as_str`, `parse`, `ALL` and `Display` for an enum, from its variants' strings (the
/// serde names of this crate's enums, and the stored values of the console's).
#[macro_export]
macro_rules! wire_strings {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<$ty> {
                match s {
                    $($s => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Defines a wire enum from one list of its variants and their strings: the serde names, the
/// stored values (sea-orm's `DeriveActiveEnum`, with the `db` feature) and `wire_strings!` all
/// come from it, so they cannot disagree.
#[macro_export]
macro_rules! wire_enum {
    // `$s` is a `tt`, not a `literal`: a `literal` fragment reaches derives wrapped in an invisible
    // group, which utoipa's `ToSchema` does not read, and the OpenAPI documents then named the
    // variants (`Secure`) instead of their wire strings (`secure`).
    ($(#[$meta:meta])* $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $s:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "db", derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter))]
        #[cfg_attr(feature = "db", sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::None)"))]
        pub enum $ty {
            $($(#[$vmeta])* #[serde(rename = $s)] #[cfg_attr(feature = "db", sea_orm(string_value = $s))] $variant),+
        }
        $crate::wire_strings!($ty { $($variant => $s),+ });
    };
}

/// A wire enum's value as a peer sent it: one this side knows, or the text of one it does not (a
/// newer peer's, or garbage). A receiver can then refuse that one field, with the message's other
/// fields checked too, instead of refusing the whole message unread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaybeKnown<T> {
    Known(T),
    Unknown(String),
}

impl<T> From<T> for MaybeKnown<T> {
    fn from(v: T) -> Self {
        MaybeKnown::Known(v)
    }
}

impl<T: PartialEq> PartialEq<T> for MaybeKnown<T> {
    fn eq(&self, other: &T) -> bool {
        matches!(self, MaybeKnown::Known(v) if v == other)
    }
}

impl<T: std::fmt::Display> std::fmt::Display for MaybeKnown<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaybeKnown::Known(v) => v.fmt(f),
            MaybeKnown::Unknown(s) => f.write_str(s),
        }
    }
}

wire_enum! {
    /// How a login proves the second factor.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    Method {
        /// SMS/Email: a code sent to the endpoints of a notification topic.
        Sms => "sms",
        /// Verification code: from the end user's own factors.
        Code => "code",
    }
}

impl Method {
    /// As the console shows it.
    pub fn label(self) -> &'static str {
        match self {
            Method::Sms => "SMS/Email",
            Method::Code => "verification code",
        }
    }
}

/// A server's 2FA status as the console's Status column shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum TwoFactorStatus {
    Enabled,
    Disabled,
    /// On its way; `seconds_left` of the apply delay (0 once handed to the agent).
    Enabling {
        seconds_left: i64,
    },
    Disabling {
        seconds_left: i64,
    },
    /// The newest change failed; the reason names the cause.
    Failed {
        reason: String,
    },
}

wire_enum! {
    /// The statuses the 2FA list filters by, without their data.
    TwoFactorState {
        Enabled => "enabled",
        Disabled => "disabled",
        Enabling => "enabling",
        Disabling => "disabling",
        Failed => "failed",
    }
}

impl TwoFactorStatus {
    pub fn state(&self) -> TwoFactorState {
        match self {
            TwoFactorStatus::Enabled => TwoFactorState::Enabled,
            TwoFactorStatus::Disabled => TwoFactorState::Disabled,
            TwoFactorStatus::Enabling { .. } => TwoFactorState::Enabling,
            TwoFactorStatus::Disabling { .. } => TwoFactorState::Disabling,
            TwoFactorStatus::Failed { .. } => TwoFactorState::Failed,
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.state().as_str()
    }
}

wire_enum! {
    /// Who a console user is.
    Role {
        /// The provider's internal team.
        Operator => "operator",
        /// A cloud customer's administrator.
        TenantAdmin => "tenant_admin",
        /// A person who logs in to servers.
        EndUser => "end_user",
    }
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Operator => "Operator",
            Role::TenantAdmin => "Tenant administrator",
            Role::EndUser => "User",
        }
    }
}

wire_enum! {
    /// A server's operating system family.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    OsType {
        Linux => "linux",
        Windows => "windows",
    }
}

wire_enum! {
    /// Where a subscription of a notification topic stands.
    SubscriptionStatus {
        /// Waiting for its endpoint to follow the confirmation link.
        Unconfirmed => "unconfirmed",
        /// Receives the topic's messages.
        Confirmed => "confirmed",
        Canceled => "canceled",
    }
}

wire_enum! {
    /// How a subscription's endpoint is reached.
    Protocol {
        Sms => "sms",
        Email => "email",
    }
}

wire_enum! {
    /// Whether an access key (AK/SK pair) still signs requests.
    AccessKeyStatus {
        Active => "active",
        /// Revoked keys sign nothing; they stay listed for the audit.
        Revoked => "revoked",
    }
}

wire_enum! {
    /// Where a message of the outbox stands.
    OutboxStatus {
        /// Waiting for its (next) attempt.
        Pending => "pending",
        /// Handed to the carrier or mail server.
        Sent => "sent",
        /// Kept by the development gateway: it never left the machine.
        Held => "held",
        /// Given up after the last attempt.
        Failed => "failed",
    }
}

wire_enum! {
    /// How a message of the outbox reaches its recipient.
    Channel {
        Email => "email",
        Sms => "sms",
        Voice => "voice",
    }
}

/// A subscription's messages go by its protocol's channel.
impl From<Protocol> for Channel {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Sms => Channel::Sms,
            Protocol::Email => Channel::Email,
        }
    }
}

wire_enum! {
    /// What a message of the outbox is for.
    MessageKind {
        /// The link a new subscription's endpoint confirms with.
        SubscriptionConfirmation => "subscription_confirmation",
        /// A message published to a topic.
        TopicMessage => "topic_message",
        /// A login's one-time code (SMS/Email method).
        LoginCode => "login_code",
        /// Tells the tenant's admins that a topic had no one to send a login code to.
        TopicWithoutRecipients => "topic_without_recipients",
        /// Tells an end user that their factors changed.
        FactorChanged => "factor_changed",
        /// The code that confirms a phone an end user adds.
        PhoneConfirmation => "phone_confirmation",
        /// Tells a tenant's admins that an end user reported a push request as not theirs.
        PushFraudReported => "push_fraud_reported",
        /// An invitation to HostGuard, with the link that sets a password and a first factor.
        Invitation => "invitation",
        /// Tells an end user they got a one-time code in the portal ("Get a code").
        LoginCodeIssued => "login_code_issued",
        /// A link to choose a new console password (asked for on the sign-in page).
        PasswordReset => "password_reset",
        /// Tells someone their console password changed.
        PasswordChanged => "password_changed",
        /// Tells a tenant admin or operator their console authenticator was added or removed.
        ConsoleSignInChanged => "console_sign_in_changed",
        /// The code that proves the mailbox when someone adds a console authenticator at sign-in.
        ConsoleEnrolmentCode => "console_enrolment_code",
    }
}

/// The page sizes lists offer.
pub const PAGE_SIZES: [u64; 4] = [10, 20, 50, 100];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_stored_strings() {
        fn same<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), as_str(*v));
            }
        }
        same(Method::ALL, Method::as_str);
        same(TwoFactorState::ALL, TwoFactorState::as_str);
        same(Role::ALL, Role::as_str);
        same(OsType::ALL, OsType::as_str);
        same(SubscriptionStatus::ALL, SubscriptionStatus::as_str);
        same(Protocol::ALL, Protocol::as_str);
        same(AccessKeyStatus::ALL, AccessKeyStatus::as_str);
        same(OutboxStatus::ALL, OutboxStatus::as_str);
        same(Channel::ALL, Channel::as_str);
        same(MessageKind::ALL, MessageKind::as_str);
        same(DefaultMethod::ALL, DefaultMethod::as_str);
        same(login::FailMode::ALL, login::FailMode::as_str);
        same(login::LoginResult::ALL, login::LoginResult::as_str);
        same(login::LoginMethod::ALL, login::LoginMethod::as_str);
        same(login::LoginStage::ALL, login::LoginStage::as_str);
        same(login::LoginOutcome::ALL, login::LoginOutcome::as_str);
        same(agent::SelinuxMode::ALL, agent::SelinuxMode::as_str);
        assert_eq!(Method::parse("fax"), None);
    }

    #[test]
    fn an_unknown_value_is_kept_as_sent() {
        let known: MaybeKnown<Method> = serde_json::from_str(r#""sms""#).unwrap();
        assert_eq!(known, MaybeKnown::Known(Method::Sms));
        let unknown: MaybeKnown<Method> = serde_json::from_str(r#""fax""#).unwrap();
        assert_eq!(unknown, MaybeKnown::Unknown("fax".into()));
        assert_eq!(serde_json::to_string(&MaybeKnown::from(Method::Code)).unwrap(), r#""code""#);
        assert_eq!(unknown.to_string(), "fax");
        assert!(known == Method::Sms && unknown != Method::Sms);
    }
}
