//! End users as their tenant admin manages them: where an account stands, where its invitation
//! stands, and the kinds of factor the Users page lists.

crate::wire_enum! {
    /// Where an end user's account stands.
    UserState {
        /// Invited, and has not yet set a password and enrolled a first factor: cannot sign in,
        /// and logins to servers are refused as for anyone without a factor.
        Invited => "invited",
        Active => "active",
        /// Locked by a tenant admin (or by the person's "This wasn't me"): cannot sign in, and
        /// logins to servers are denied.
        Locked => "locked",
    }
}

crate::wire_enum! {
    /// Where an invitation link stands.
    InvitationStatus {
        /// Sent, and usable until it expires.
        Pending => "pending",
        /// Its 24 hours passed before the person finished.
        Expired => "expired",
        /// An admin revoked it, or a newer invitation replaced it.
        Revoked => "revoked",
        /// The person set a password and enrolled a first factor with it.
        Accepted => "accepted",
    }
}

crate::wire_enum! {
    /// A kind of factor, as the Users page names it (never its secret).
    FactorKind {
        Authenticator => "authenticator",
        RecoveryCodes => "recovery_codes",
        Phone => "phone",
        ApprovalDevice => "approval_device",
        Passkey => "passkey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_stored_strings() {
        for s in UserState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in InvitationStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in FactorKind::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(UserState::parse("locked"), Some(UserState::Locked));
    }
}
