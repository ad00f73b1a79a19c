//! The portal's phone factor and the choices around every factor: the default method, names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use proto::DefaultMethod;

/// The phone in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhoneRow {
    pub id: Uuid,
    pub name: String,
    pub number: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A phone waiting for the code sent to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingPhoneRow {
    pub id: Uuid,
    pub name: String,
    pub number: String,
    pub code_expires: DateTime<Utc>,
    /// When another code may be sent.
    pub resend_at: DateTime<Utc>,
}

/// The end user's phones and default method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhonesView {
    pub in_force: Option<PhoneRow>,
    pub pending: Option<PendingPhoneRow>,
    pub default_method: Option<DefaultMethod>,
    /// The methods the person may choose now (SMS and call need a phone, code an app).
    pub choosable: Vec<DefaultMethod>,
    pub code_valid_minutes: i64,
    /// The person has a factor and this session has no fresh step-up: a change needs a code.
    pub needs_step_up: bool,
}

/// A code was sent to the phone for a step-up; another may be sent from `resend_at`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepUpCodeSent {
    pub resend_at: DateTime<Utc>,
}
