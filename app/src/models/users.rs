//! The Users page (IAM → Users) and the invitation page's types.

use super::{Label, Status};
use chrono::{DateTime, Utc};
pub use proto::users::{FactorKind, InvitationStatus, UserState};
use proto::Channel;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One of a person's factors, by name and kind (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorRow {
    pub kind: FactorKind,
    /// The authenticator's id, for *Remove*; `None` for the recovery codes.
    pub id: Option<Uuid>,
    pub name: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A person's latest invitation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationRow {
    pub channel: Channel,
    pub address: String,
    pub sent: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub status: InvitationStatus,
    pub password_set: bool,
}

/// One end user as their tenant admin sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub state: UserState,
    pub created: DateTime<Utc>,
    pub last_sign_in: Option<DateTime<Utc>>,
    pub factors: Vec<FactorRow>,
    pub server_accounts: Vec<String>,
    pub invitation: Option<InvitationRow>,
}

/// The Users page's filters, as its URL carries them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsersQuery {
    pub search: String,
    /// `invited`, `active`, `locked`, or empty for all.
    pub state: String,
    pub page: u64,
    pub page_size: u64,
}

impl Default for UsersQuery {
    fn default() -> Self {
        UsersQuery { search: String::new(), state: String::new(), page: 1, page_size: 20 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub items: Vec<PersonRow>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

/// An invitation just sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationSent {
    pub email: String,
    pub channel: Channel,
    pub address: String,
    pub expires: DateTime<Utc>,
}

/// What an invitation link is for, as its page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationLink {
    pub tenant_name: String,
    pub email: String,
    pub display_name: String,
    pub expires: DateTime<Utc>,
    /// The password is chosen; the next step is the authenticator.
    pub password_set: bool,
}

/// An authenticator being added from an invitation: what the app needs, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationAuthenticator {
    pub id: Uuid,
    pub name: String,
    /// The seed in base32, to type into the app by hand.
    pub secret: String,
    /// `otpauth://…`: opens the authenticator app on the phone itself.
    pub otpauth_uri: String,
    /// The QR code of the otpauth URI, as an SVG data URI.
    pub qr_data_uri: String,
    pub expires: DateTime<Utc>,
}

impl Label for UserState {
    fn label(self) -> &'static str {
        match self {
            UserState::Invited => "Invited",
            UserState::Active => "Active",
            UserState::Locked => "Locked",
        }
    }
}

impl Status for UserState {
    fn badge(self) -> &'static str {
        match self {
            UserState::Invited => "warn",
            UserState::Active => "ok",
            UserState::Locked => "err",
        }
    }
}

impl Label for InvitationStatus {
    fn label(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "Pending",
            InvitationStatus::Expired => "Expired",
            InvitationStatus::Revoked => "Revoked",
            InvitationStatus::Accepted => "Accepted",
        }
    }
}

impl Label for FactorKind {
    fn label(self) -> &'static str {
        match self {
            FactorKind::Authenticator => "Authenticator app",
            FactorKind::RecoveryCodes => "Recovery codes",
            FactorKind::Phone => "Phone",
            FactorKind::ApprovalDevice => "Approval device",
            FactorKind::Passkey => "Passkey",
        }
    }
}
