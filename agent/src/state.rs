//! The agent's persistent state (`<state-dir>/agent.json`, mode 0600): which console it belongs
//! to, its server id and credential, and the last revision it applied.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::files;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub console: String,
    pub server_id: Uuid,
    /// Secret: never logged, and left out of `Debug`.
    pub credential: String,
    pub applied_revision: i64,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("console", &self.console)
            .field("server_id", &self.server_id)
            .field("credential", &"[REDACTED]")
            .field("applied_revision", &self.applied_revision)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not a valid agent state file: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: io::Error },
}

/// Loads the state, or `None` when the agent has not registered yet.
pub fn load(path: &Path) -> Result<Option<AgentState>, StateError> {
    let bytes =
        files::read_optional(path).map_err(|source| StateError::Read { path: path.display().to_string(), source })?;
    bytes
        .map(|b| serde_json::from_slice(&b))
        .transpose()
        .map_err(|source| StateError::Parse { path: path.display().to_string(), source })
}

pub fn save(path: &Path, state: &AgentState) -> Result<(), StateError> {
    let mut json = serde_json::to_vec_pretty(state)
        .map_err(|e| StateError::Write { path: path.display().to_string(), source: io::Error::other(e) })?;
    json.push(b'\n');
    files::write_atomic(path, &json, 0o600)
        .map_err(|source| StateError::Write { path: path.display().to_string(), source })
}

/// `<state-dir>/status.json`: what the running daemon wants an admin to know (readable by
/// monitoring; it holds no secret).
pub const STATUS_FILE: &str = "status.json";

/// The daemon's status as written to [`STATUS_FILE`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// `ok`, or `credential_rejected` while the console answers 401 to the agent's credential.
    pub state: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// What happened and what to do, for people.
    pub message: String,
}

impl AgentStatus {
    pub fn ok() -> Self {
        Self {
            state: "ok".into(),
            since: chrono::Utc::now().to_rfc3339(),
            message: "the console accepts this agent".into(),
        }
    }

    pub fn credential_rejected(error: &str) -> Self {
        Self {
            state: "credential_rejected".into(),
            since: chrono::Utc::now().to_rfc3339(),
            message: format!(
                "the console rejects this agent's credential ({error}). Logins are decided from the stored policy as in \
                 fail mode secure: exemptions and break-glass codes only. Fix: re-install the agent with a new install \
                 token from the server's page in the console."
            ),
        }
    }
}

pub fn save_status(path: &Path, status: &AgentStatus) -> Result<(), StateError> {
    let mut json = serde_json::to_vec_pretty(status)
        .map_err(|e| StateError::Write { path: path.display().to_string(), source: io::Error::other(e) })?;
    json.push(b'\n');
    files::write_atomic(path, &json, 0o644)
        .map_err(|source| StateError::Write { path: path.display().to_string(), source })
}

pub fn load_status(path: &Path) -> Option<AgentStatus> {
    files::read_optional(path).ok().flatten().and_then(|b| serde_json::from_slice(&b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/lib/hostguard/agent.json");
        assert_eq!(load(&path).unwrap(), None);
        let state = AgentState {
            console: "http://console".into(),
            server_id: Uuid::new_v4(),
            credential: "secret".into(),
            applied_revision: 7,
        };
        save(&path, &state).unwrap();
        assert!(!format!("{state:?}").contains("secret"), "Debug hides the credential");
        assert_eq!(load(&path).unwrap(), Some(state));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
