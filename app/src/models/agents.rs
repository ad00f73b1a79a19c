//! Agent install and re-install tokens as the 2FA tab lists them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One install or re-install token (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentToken {
    pub id: Uuid,
    pub kind: TokenKind,
    /// The server a re-install token replaces the agent of.
    pub for_server: Option<String>,
    /// The server the token registered, once used.
    pub registered: Option<String>,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub state: TokenState,
    /// When it was used or revoked.
    pub state_at: Option<DateTime<Utc>>,
}

/// An install token registers a new server; a re-install token replaces one server's agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenKind {
    #[serde(rename = "install")]
    Install,
    #[serde(rename = "re-install")]
    Reinstall,
}
proto::wire_strings!(TokenKind { Install => "install", Reinstall => "re-install" });

/// Where a token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    /// Can still register (once).
    Valid,
    Used,
    Revoked,
    Expired,
}
proto::wire_strings!(TokenState { Valid => "valid", Used => "used", Revoked => "revoked", Expired => "expired" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_serialize_as_the_tab_showed_them() {
        for k in TokenKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in TokenState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(serde_json::to_string(&TokenKind::Reinstall).unwrap(), "\"re-install\"");
    }
}
