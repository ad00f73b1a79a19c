//! Access keys as the "My Credentials" page shows them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyRow {
    pub id: String,
    pub access_key: String,
    pub description: String,
    /// `active` or `revoked`.
    pub status: String,
    pub created: String,
    pub last_used: Option<String>,
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
