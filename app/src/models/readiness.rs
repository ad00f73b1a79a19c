//! What stands in the way of 2FA on a server, as the 2FA tab and the server's page show it.

use serde::{Deserialize, Serialize};

/// A readiness rule: `domain::readiness` checks them, `topic_recipients` comes from the
/// topic's subscriptions. Serialized as the rule's name, e.g. `sshd_use_pam`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessRule {
    Protection,
    AgentOnline,
    LastApplyFailed,
    ConflictingSoftware,
    WindowsUnsupported,
    WindowsMustChangePassword,
    PamStack,
    SshdUsePam,
    SshdKeyboardInteractive,
    SshdDropInNotIncluded,
    SshdDropInOverridden,
    SshdPermitEmptyPasswords,
    SshdMatchOverride,
    OpensshVersion,
    PublicKeyLoginsAskCode,
    Selinux,
    /// The topic that gets the login codes has no confirmed endpoint.
    TopicRecipients,
}
proto::wire_strings!(ReadinessRule {
    Protection => "protection",
    AgentOnline => "agent_online",
    LastApplyFailed => "last_apply_failed",
    ConflictingSoftware => "conflicting_software",
    WindowsUnsupported => "windows_unsupported",
    WindowsMustChangePassword => "windows_must_change_password",
    PamStack => "pam_stack",
    SshdUsePam => "sshd_use_pam",
    SshdKeyboardInteractive => "sshd_keyboard_interactive",
    SshdDropInNotIncluded => "sshd_drop_in_not_included",
    SshdDropInOverridden => "sshd_drop_in_overridden",
    SshdPermitEmptyPasswords => "sshd_permit_empty_passwords",
    SshdMatchOverride => "sshd_match_override",
    OpensshVersion => "openssh_version",
    PublicKeyLoginsAskCode => "public_key_logins_ask_code",
    Selinux => "selinux",
    TopicRecipients => "topic_recipients",
});

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
