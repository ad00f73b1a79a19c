//! How pages name the values of enumerations, each value in one place, so that every page that
//! shows a value shows the same words.

use super::TokenState;
use proto::{
    login::{LoginMethod, LoginOutcome},
    AccessKeyStatus, Method, OsType, OutboxStatus, Protocol, SubscriptionStatus,
};

/// A value as pages name it.
pub trait Label: Copy {
    fn label(self) -> &'static str;
}

/// A status as a badge shows it: its words and its colour (`ok`, `warn`, `err` or `muted`).
pub trait Status: Label {
    fn badge(self) -> &'static str;
}

impl Label for LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            LoginOutcome::Allowed => "Allowed",
            LoginOutcome::Denied => "Denied",
            LoginOutcome::Open => "In progress",
            LoginOutcome::Abandoned => "Abandoned",
        }
    }
}

impl Status for LoginOutcome {
    fn badge(self) -> &'static str {
        match self {
            LoginOutcome::Allowed => "ok",
            LoginOutcome::Denied => "err",
            LoginOutcome::Open => "warn",
            LoginOutcome::Abandoned => "muted",
        }
    }
}

impl Label for SubscriptionStatus {
    fn label(self) -> &'static str {
        match self {
            SubscriptionStatus::Confirmed => "Confirmed",
            SubscriptionStatus::Unconfirmed => "Unconfirmed",
            SubscriptionStatus::Canceled => "Canceled",
        }
    }
}

impl Status for SubscriptionStatus {
    fn badge(self) -> &'static str {
        match self {
            SubscriptionStatus::Confirmed => "ok",
            SubscriptionStatus::Unconfirmed => "warn",
            SubscriptionStatus::Canceled => "muted",
        }
    }
}

impl Label for OutboxStatus {
    fn label(self) -> &'static str {
        match self {
            OutboxStatus::Sent => "Sent",
            // Kept by the development SMS gateway: it never reached a phone.
            OutboxStatus::Held => "Held (development)",
            OutboxStatus::Pending => "Pending",
            OutboxStatus::Failed => "Failed",
        }
    }
}

impl Status for OutboxStatus {
    fn badge(self) -> &'static str {
        match self {
            OutboxStatus::Sent => "ok",
            OutboxStatus::Held => "muted",
            OutboxStatus::Pending => "warn",
            OutboxStatus::Failed => "err",
        }
    }
}

impl Label for AccessKeyStatus {
    fn label(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Revoked => "Revoked",
        }
    }
}

impl Status for AccessKeyStatus {
    fn badge(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "ok",
            AccessKeyStatus::Revoked => "muted",
        }
    }
}

/// The tab lists a token's state as it is stored (`valid`, `used 2026-…`).
impl Label for TokenState {
    fn label(self) -> &'static str {
        self.as_str()
    }
}

impl Status for TokenState {
    fn badge(self) -> &'static str {
        match self {
            TokenState::Valid => "ok",
            TokenState::Used => "muted",
            TokenState::Revoked | TokenState::Expired => "warn",
        }
    }
}

impl Label for Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Sms => "SMS",
            Protocol::Email => "Email",
        }
    }
}

impl Label for OsType {
    fn label(self) -> &'static str {
        match self {
            OsType::Linux => "Linux",
            OsType::Windows => "Windows",
        }
    }
}

/// `label` with a capital first letter, for a table cell or a heading: "Verification code".
pub fn capitalized(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A 2FA method in a table cell.
pub fn method_cell(method: Method) -> String {
    capitalized(method.label())
}

/// The second factor a login was asked for, in the audit's Method column.
pub fn login_method_cell(method: LoginMethod) -> String {
    match method {
        LoginMethod::Sms => method_cell(Method::Sms),
        LoginMethod::Code => method_cell(Method::Code),
        LoginMethod::None => "None".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_cells_are_the_method_labels_capitalized() {
        assert_eq!(method_cell(Method::Sms), "SMS/Email");
        assert_eq!(method_cell(Method::Code), "Verification code");
        assert_eq!(login_method_cell(LoginMethod::Code), "Verification code");
        assert_eq!(login_method_cell(LoginMethod::None), "None");
        assert_eq!(capitalized(""), "");
    }
}
