//! Inputs that follow a rule, as types that can only hold a valid value: `parse` is the only
//! way to build one, so the code that takes one never checks it again. Each `parse` error is
//! the rule, for the message of the field the value came from.

use std::fmt;

macro_rules! parsed_string {
    ($(#[$meta:meta])* $ty:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $ty(String);

        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

parsed_string!(
    /// A topic name: letters, digits, `-` and `_`, 1 to 255 characters.
    TopicName
);
parsed_string!(
    /// A display name: up to 192 characters, no control characters (it becomes an email header).
    DisplayName
);
parsed_string!(
    /// A phone number in E.164 form: `+`, the country code and the number, 7 to 15 digits in all.
    Phone
);
parsed_string!(
    /// An email address, lower-case: one `@`, a local part, and a domain with a dot.
    Email
);
parsed_string!(
    /// A server account (a Linux or Windows user name): 1 to 32 letters, digits, `_`, `-`, `.`
    /// or `$`, not starting with `-`.
    AccountName
);

impl TopicName {
    /// Surrounding spaces do not count.
    pub fn parse(name: &str) -> Result<TopicName, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("is required".into());
        }
        if name.chars().count() > 255 {
            return Err("must be at most 255 characters".into());
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err("may contain only letters, digits, hyphens (-) and underscores (_)".into());
        }
        Ok(TopicName(name.to_owned()))
    }
}

impl DisplayName {
    /// Surrounding spaces do not count; it may be empty.
    pub fn parse(name: &str) -> Result<DisplayName, String> {
        let name = name.trim();
        if name.chars().count() > 192 {
            return Err("must be at most 192 characters".into());
        }
        if name.chars().any(|c| c.is_control()) {
            return Err("must not contain line breaks or control characters".into());
        }
        Ok(DisplayName(name.to_owned()))
    }
}

impl Phone {
    pub fn parse(number: &str) -> Result<Phone, String> {
        let rule = "must be a phone number with + and the country code, such as +8613800000000";
        let digits = number.strip_prefix('+').ok_or_else(|| rule.to_owned())?;
        if digits.len() < 7
            || digits.len() > 15
            || !digits.chars().all(|c| c.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(rule.into());
        }
        Ok(Phone(number.to_owned()))
    }
}

impl Email {
    /// Stored lower-case, so one mailbox is one address.
    pub fn parse(address: &str) -> Result<Email, String> {
        let rule = "must be an email address such as name@example.com";
        let address = address.to_lowercase();
        if address.len() > 254 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(rule.into());
        }
        let (local, domain) = address.split_once('@').ok_or_else(|| rule.to_owned())?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') || local.contains(['<', '>', '"', ',']) {
            return Err(rule.into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(rule.into());
        }
        Ok(Email(address))
    }
}

impl AccountName {
    /// Surrounding spaces do not count.
    pub fn parse(account: &str) -> Result<AccountName, &'static str> {
        let a = account.trim();
        let ok = !a.is_empty()
            && a.len() <= 32
            && !a.starts_with('-')
            && a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
        if ok {
            Ok(AccountName(a.to_owned()))
        } else {
            Err("must be an account name of 1 to 32 letters, digits, '_', '-', '.' or '$', not starting with '-'")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(TopicName::parse("login-codes_2").is_ok());
        assert!(TopicName::parse(&"a".repeat(255)).is_ok());
        assert_eq!(TopicName::parse("").unwrap_err(), "is required");
        assert!(TopicName::parse(&"a".repeat(256)).unwrap_err().contains("255"));
        assert!(TopicName::parse("login codes").unwrap_err().contains("letters, digits"));
        assert!(TopicName::parse("códigos").is_err());
    }

    #[test]
    fn display_names() {
        assert!(DisplayName::parse("Acme Ops").is_ok());
        assert!(DisplayName::parse("").is_ok());
        assert!(DisplayName::parse(&"x".repeat(193)).unwrap_err().contains("192"));
        assert!(DisplayName::parse("Acme\r\nBcc: evil@example.com").is_err());
    }

    #[test]
    fn phones() {
        assert!(Phone::parse("+8613800000000").is_ok());
        assert!(Phone::parse("+14155550123").is_ok());
        for bad in ["8613800000000", "+86 138 0000 0000", "+123", "+0123456789", "+1234567890123456", "+86abc0000000"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accounts() {
        assert_eq!(AccountName::parse(" root ").unwrap().as_str(), "root");
        assert!(AccountName::parse("svc$").is_ok());
        for bad in ["", "-x", "a b", &"a".repeat(33)] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("Ops@Acme.Example").unwrap().as_str(), "ops@acme.example");
        assert!(Email::parse("ops@acme.example").is_ok());
        assert!(Email::parse("first.last+tag@mail.acme.co.uk").is_ok());
        for bad in [
            "",
            "ops",
            "ops@",
            "@acme.example",
            "ops@acme",
            "ops@@acme.example",
            "o ps@acme.example",
            "ops@-acme.example",
            "ops@acme..example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
