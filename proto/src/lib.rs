//! HostGuard's wire types: the values the console, its browser UI, the host agent and (later)
//! the PAM module exchange, defined once so that a field or value renamed on one side fails to
//! compile on the other. Plain data and serde only: no async runtime, no database, builds for wasm.
//!
//! Each enum's `as_str` is its stored and serialized value; `parse` is its inverse.

pub mod agent;
pub mod audit;
pub mod exempt;
pub mod login;

use serde::{Deserialize, Serialize};

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

/// How a login proves the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// SMS/Email: a code sent to the endpoints of a notification topic.
    Sms,
    /// Verification code: from the end user's own factors.
    Code,
}
wire_strings!(Method { Sms => "sms", Code => "code" });

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

/// The statuses the 2FA list filters by, without their data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TwoFactorState {
    Enabled,
    Disabled,
    Enabling,
    Disabling,
    Failed,
}
wire_strings!(TwoFactorState {
    Enabled => "enabled",
    Disabled => "disabled",
    Enabling => "enabling",
    Disabling => "disabling",
    Failed => "failed",
});

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

/// Who a console user is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The provider's internal team.
    Operator,
    /// A cloud customer's administrator.
    TenantAdmin,
    /// A person who logs in to servers.
    EndUser,
}
wire_strings!(Role { Operator => "operator", TenantAdmin => "tenant_admin", EndUser => "end_user" });

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Operator => "Operator",
            Role::TenantAdmin => "Tenant administrator",
            Role::EndUser => "User",
        }
    }
}

/// A server's operating system family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OsType {
    Linux,
    Windows,
}
wire_strings!(OsType { Linux => "linux", Windows => "windows" });

/// Where a subscription of a notification topic stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Waiting for its endpoint to follow the confirmation link.
    Unconfirmed,
    /// Receives the topic's messages.
    Confirmed,
    Canceled,
}
wire_strings!(SubscriptionStatus { Unconfirmed => "unconfirmed", Confirmed => "confirmed", Canceled => "canceled" });

/// How a subscription's endpoint is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Sms,
    Email,
}
wire_strings!(Protocol { Sms => "sms", Email => "email" });

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
