//! Verification-code mode's pages: the tenant admin's Server accounts, and the end user's
//! Sign-in methods and Sign-in history on the portal.

use chrono::{DateTime, Utc};
use proto::login::LoginOutcome;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A server account mapped to an end user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountMappingRow {
    pub id: Uuid,
    pub account: String,
    /// `None`: every server of the tenant.
    pub server_name: Option<String>,
    pub end_user: String,
    pub end_user_email: String,
    pub created: DateTime<Utc>,
}

/// One option of a select: the value sent and the text shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub id: Uuid,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerAccounts {
    pub mappings: Vec<AccountMappingRow>,
    pub end_users: Vec<Choice>,
    pub servers: Vec<Choice>,
    /// The tenant has more servers than the form lists.
    pub servers_truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthenticatorRow {
    pub id: Uuid,
    pub name: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// The end user's sign-in methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInMethods {
    /// The user has an authenticator or an unused recovery code: changes need a current code.
    pub has_factor: bool,
    /// Until when this session may change the methods (it gave a current code lately).
    pub verified_until: Option<DateTime<Utc>>,
    /// Until when a first method may be added (the user's invitation is open until then).
    pub enrolment_open_until: Option<DateTime<Utc>>,
    /// How long a current code lets this session change the methods.
    pub step_up_minutes: i64,
    pub authenticators: Vec<AuthenticatorRow>,
    pub max_authenticators: u64,
    pub recovery_left: u64,
    pub recovery_total: u64,
    pub recovery_generated: Option<DateTime<Utc>>,
}

/// A current code was accepted: this session may change the sign-in methods until `until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteppedUp {
    pub until: DateTime<Utc>,
}

/// An authenticator being added: what the app needs, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAuthenticator {
    pub id: Uuid,
    pub name: String,
    /// The seed in base32, to type into the app by hand.
    pub secret: String,
    /// The `otpauth://` URI: a link that opens the authenticator app on the same phone.
    pub otpauth_uri: String,
    /// The QR code of the otpauth URI, as an SVG data URI.
    pub qr_data_uri: String,
    pub expires: DateTime<Utc>,
}

/// One of the end user's logins to a server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInRow {
    pub time: DateTime<Utc>,
    pub server: String,
    pub account: String,
    pub source_ip: String,
    pub result: LoginOutcome,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInHistory {
    pub rows: Vec<SignInRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}
