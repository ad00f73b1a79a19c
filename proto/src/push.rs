//! Push approvals, as the portal and the login audit show them.

crate::wire_enum! {
    /// Where a push request stands.
    PushStatus {
        /// Waiting for the person (until it expires).
        Pending => "pending",
        /// Approved in the portal with the right number and a valid device signature.
        Approved => "approved",
        /// Denied in the portal (or too many wrong numbers).
        Denied => "denied",
        /// Denied with "This wasn't me".
        Fraud => "fraud",
        /// Not decided in time.
        Expired => "expired",
    }
}

crate::wire_enum! {
    /// What a person decides about a push request in the portal; each is signed by their
    /// approval device.
    PushDecision {
        Approve => "approve",
        Deny => "deny",
        /// "This wasn't me": denies, tells the tenant's admins and pauses notifications.
        Fraud => "fraud",
    }
}

/// The text an approval device signs for a decision (ECDSA P-256, SHA-256). It names the
/// request, so a signature cannot be moved to another one, and the number and the decision, so
/// it cannot be turned into another decision. Browser and console build it with this function.
pub fn signed_message(request_id: uuid::Uuid, number: u16, decision: PushDecision) -> String {
    format!("hostguard-push-v1\n{}\n{number}\n{}", request_id.hyphenated(), decision.as_str())
}

/// The text an approval device signs to ask for a one-time login code ("Get a code"): the
/// single-use nonce the console gave for it, under its own prefix, so no push decision's
/// signature can stand for it or the other way round.
pub fn code_request_message(nonce: &str) -> String {
    format!("hostguard-code-v1\n{nonce}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_request_signs_its_nonce_under_its_own_prefix() {
        assert_eq!(code_request_message("abc"), "hostguard-code-v1\nabc");
    }

    #[test]
    fn the_signed_message_names_request_number_and_decision() {
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            signed_message(id, 472, PushDecision::Approve),
            "hostguard-push-v1\n01234567-89ab-cdef-0123-456789abcdef\n472\napprove"
        );
    }
}
