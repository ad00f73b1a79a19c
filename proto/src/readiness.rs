//! What the console checks before it turns 2FA on for a server.

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
crate::wire_strings!(ReadinessRule {
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
