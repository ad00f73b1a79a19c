//! What the audit trail records: one [`AuditAction`] per kind of change, stored and shown as its
//! dotted name (`2fa.enable`).

crate::wire_enum! {
    /// A kind of change the audit trail records.
    AuditAction {
        /// 2FA turned on for servers.
        TwoFactorEnable => "2fa.enable",
        TwoFactorDisable => "2fa.disable",
        /// The notification topic of servers' SMS/Email 2FA changed.
        TwoFactorChangeTopic => "2fa.change_topic",
        /// A pending 2FA change was cancelled.
        TwoFactorCancel => "2fa.cancel",
        /// A failed 2FA change was tried again.
        TwoFactorRetry => "2fa.retry",
        /// The agent applied a 2FA change.
        TwoFactorApplied => "2fa.applied",
        /// The agent could not apply a 2FA change.
        TwoFactorFailed => "2fa.failed",
        /// A revision was handed to the agent again after a late acknowledgement.
        TwoFactorReissue => "2fa.reissue",
        AccessKeyCreate => "access_key.create",
        AccessKeyRevoke => "access_key.revoke",
        AgentInstallToken => "agent.install_token",
        AgentReinstallToken => "agent.reinstall_token",
        AgentTokenRevoke => "agent.token_revoke",
        AgentRegister => "agent.register",
        AgentReinstall => "agent.reinstall",
        /// Someone signed in to the console (with every step their account needs).
        ConsoleSignIn => "console.sign_in",
        /// A refused console sign-in: a wrong password or a wrong second-step code.
        ConsoleSignInFailed => "console.sign_in_failed",
        /// Someone changed their own password (their other sessions end).
        ConsolePasswordChanged => "console.password_changed",
        /// A password-reset link was mailed to an account's address.
        ConsolePasswordResetRequested => "console.password_reset_requested",
        /// A password was set through a reset link.
        ConsolePasswordReset => "console.password_reset",
        /// A tenant admin or operator added an authenticator app for their console sign-in.
        ConsoleAuthenticatorAdded => "console.authenticator_added",
        ConsoleAuthenticatorRemoved => "console.authenticator_removed",
        /// A tenant admin turned the second factor at console sign-in on or off for its admins.
        ConsoleSecondFactorPolicy => "console.second_factor_policy",
        /// Written by versions before invitations replaced enrolment windows; kept so their
        /// trails still read.
        FactorEnrolmentOpened => "factor.enrolment_opened",
        FactorAuthenticatorAdded => "factor.authenticator_added",
        FactorAuthenticatorRemoved => "factor.authenticator_removed",
        FactorRecoveryCodesGenerated => "factor.recovery_codes_generated",
        /// An end user confirmed a new phone (or one that replaced theirs).
        FactorPhoneAdded => "factor.phone_added",
        FactorPhoneRemoved => "factor.phone_removed",
        /// An end user registered a passkey (WebAuthn).
        FactorPasskeyAdded => "factor.passkey_added",
        FactorPasskeyRemoved => "factor.passkey_removed",
        /// An end user renamed an authenticator or a phone.
        FactorRenamed => "factor.renamed",
        /// An end user chose the method their login prompt tries first.
        FactorDefaultMethod => "factor.default_method",
        /// An end user signed out their other sessions after a change.
        FactorOtherSessionsSignedOut => "factor.other_sessions_signed_out",
        /// A tenant admin removed one of an end user's factors (a lost phone).
        FactorRemovedByAdmin => "factor.removed_by_admin",
        /// A tenant admin invited an end user (a new one, or again after a lost phone).
        UserInvite => "user.invite",
        /// The invitation was sent again with a new link; the old link no longer works.
        UserInviteResend => "user.invite_resend",
        UserInviteRevoke => "user.invite_revoke",
        /// The person set their password from the invitation.
        UserInvitePassword => "user.invite_password",
        /// The person enrolled a first factor: the account is active.
        UserActivate => "user.activate",
        UserLock => "user.lock",
        UserUnlock => "user.unlock",
        LoginAccountMapped => "login.account_mapped",
        LoginAccountUnmapped => "login.account_unmapped",
        LoginBreakGlassIssued => "login.break_glass_issued",
        LoginBreakGlassUsed => "login.break_glass_used",
        /// A server's login settings changed.
        LoginSettings => "login.settings",
        /// An end user registered a browser or phone to approve push requests with.
        PushDeviceAdded => "push.device_added",
        PushDeviceRenamed => "push.device_renamed",
        PushDeviceRemoved => "push.device_removed",
        /// A push request approved with the right number and a device signature.
        PushApproved => "push.approved",
        /// A push request denied (by the person, or after too many wrong numbers).
        PushDenied => "push.denied",
        /// A wrong number typed to approve a push request.
        PushWrongNumber => "push.wrong_number",
        /// "This wasn't me" on a push request.
        PushFraudReported => "push.fraud_reported",
        /// A push decision whose device signature did not verify (refused).
        PushSignatureRefused => "push.signature_refused",
        /// A tenant admin changed what "This wasn't me" does (lock the person or not).
        PushPolicy => "push.policy",
        /// An end user subscribed a browser or phone to Web Push notifications of push requests.
        PushSubscriptionAdded => "push.subscription_added",
        PushSubscriptionRemoved => "push.subscription_removed",
        /// An end user got a one-time code for one login in the portal ("Get a code").
        LoginCodeIssued => "login_code.issued",
        /// A "Get a code" request whose device signature did not verify (refused).
        LoginCodeSignatureRefused => "login_code.signature_refused",
        ServerPreRegister => "server.pre_register",
        SubscriptionCreate => "subscription.create",
        SubscriptionRequestConfirmation => "subscription.request_confirmation",
        SubscriptionConfirm => "subscription.confirm",
        SubscriptionCancel => "subscription.cancel",
        SubscriptionDelete => "subscription.delete",
        TopicCreate => "topic.create",
        TopicDelete => "topic.delete",
        /// A topic's display name changed: written only by versions before 2026-11-24, kept so
        /// their trails still read.
        TopicUpdate => "topic.update",
        TopicPublish => "topic.publish",
        /// Servers use a topic for 2FA codes that has no confirmed recipient.
        TopicNoRecipients => "topic.no_recipients",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_stored_strings() {
        for a in AuditAction::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
            assert_eq!(serde_json::from_value::<AuditAction>(serde_json::json!(a.as_str())).unwrap(), *a);
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(serde_json::to_string(&AuditAction::TwoFactorEnable).unwrap(), r#""2fa.enable""#);
        assert_eq!(AuditAction::ALL.len(), 71);
    }
}
