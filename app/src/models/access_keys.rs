//! Access keys as the "My Credentials" page shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyRow {
    pub id: Uuid,
    pub access_key: String,
    pub description: String,
    pub status: proto::AccessKeyStatus,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// The caller's keys, and what a script needs besides a key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessKeys {
    pub keys: Vec<AccessKeyRow>,
    /// The tenant's project id, as API paths name it.
    pub project_id: String,
    /// The console's address, where the API answers.
    pub endpoint: String,
    pub max_active: u64,
}

/// A key just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAccessKey {
    pub access_key: String,
    pub secret_key: String,
    pub project_id: String,
    pub endpoint: String,
}
