//! What stands in the way of 2FA on a server, as the 2FA tab and the server's page show it.

use serde::{Deserialize, Serialize};

pub use proto::readiness::ReadinessRule;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadinessItem {
    pub rule: ReadinessRule,
    /// Blocks enabling 2FA; otherwise a warning.
    pub blocker: bool,
    /// Names the server, the rule and the fix.
    pub message: String,
}

impl ReadinessItem {
    /// Whether it refuses a save. A failed last change does not: saving again (or Retry) is
    /// how it is fixed, and domain takes that save.
    pub fn refuses_save(&self) -> bool {
        self.blocker && self.rule != ReadinessRule::LastApplyFailed
    }
}

#[cfg(test)]
mod tests {
    use super::ReadinessRule;

    #[test]
    fn rules_serialize_as_their_names() {
        for rule in ReadinessRule::ALL {
            assert_eq!(serde_json::to_value(rule).unwrap(), rule.as_str());
            assert_eq!(ReadinessRule::parse(rule.as_str()), Some(*rule));
        }
        assert_eq!(serde_json::to_string(&ReadinessRule::SshdUsePam).unwrap(), "\"sshd_use_pam\"");
    }
}
