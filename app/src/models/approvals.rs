//! The portal's Approvals page: the person's approval devices and their pending push requests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use proto::push::{PushDecision, PushStatus};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDeviceRow {
    pub id: Uuid,
    pub name: String,
    pub added: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// A push request waiting for the person. It never carries the number: that is on the login
/// prompt, and typing it proves the person is looking at this login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPush {
    pub id: Uuid,
    pub server: String,
    pub account: String,
    pub source_ip: String,
    pub requested: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// Seconds left when it was sent.
    pub seconds_left: i64,
}

/// The Approvals page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approvals {
    pub devices: Vec<ApprovalDeviceRow>,
    pub max_devices: u64,
    pub pending: Vec<PendingPush>,
    /// Until when notifications outside the portal are paused.
    pub muted_until: Option<DateTime<Utc>>,
    /// Until when this session may add or remove devices (a fresh step-up).
    pub verified_until: Option<DateTime<Utc>>,
    pub has_factor: bool,
}

/// What a decision did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionResult {
    pub status: PushStatus,
    pub muted_until: Option<DateTime<Utc>>,
}
