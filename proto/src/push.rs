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
