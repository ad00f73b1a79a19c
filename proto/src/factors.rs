//! An end user's factors, as the portal and the login prompt name them.

crate::wire_enum! {
    /// The method a person's login prompt tries first.
    DefaultMethod {
        /// A push to their approval device, with number matching.
        Push => "push",
        /// A call to their phone that reads a code aloud.
        Call => "call",
        /// An SMS passcode to their phone.
        Sms => "sms",
        /// A code they type: from an authenticator app, or a recovery code.
        Code => "code",
    }
}

impl DefaultMethod {
    /// As the portal shows it.
    pub fn label(self) -> &'static str {
        match self {
            DefaultMethod::Push => "Push to my approval device",
            DefaultMethod::Call => "Call my phone",
            DefaultMethod::Sms => "SMS passcode to my phone",
            DefaultMethod::Code => "Code from my authenticator app",
        }
    }
}
