//! What the console checks before it turns 2FA on for a server.

crate::wire_enum! {
    /// A readiness rule: `domain::readiness` checks them, `topic_recipients` comes from the
    /// topic's subscriptions. Serialized as the rule's name, e.g. `sshd_use_pam`.
    ReadinessRule {
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
        /// The topic that gets the login codes has no confirmed endpoint.
        TopicRecipients => "topic_recipients",
    }
}
