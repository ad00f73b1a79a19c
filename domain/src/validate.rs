//! Input rules shared by the console and the APIs. Each returns the message for its field.

/// Topic names: letters, digits, `-` and `_`, 1 to 255 characters.
pub fn topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".into());
    }
    if name.chars().count() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("may contain only letters, digits, hyphens (-) and underscores (_)".into());
    }
    Ok(())
}

/// Display names: up to 192 characters, no control characters (it becomes an email header).
pub fn display_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 192 {
        return Err("must be at most 192 characters".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("must not contain line breaks or control characters".into());
    }
    Ok(())
}

/// A phone number in E.164 form: `+`, the country code and the number, 7 to 15 digits in all.
pub fn phone(number: &str) -> Result<(), String> {
    let rule = "must be a phone number with + and the country code, such as +8613800000000";
    let digits = number.strip_prefix('+').ok_or_else(|| rule.to_owned())?;
    if digits.len() < 7 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) || digits.starts_with('0') {
        return Err(rule.into());
    }
    Ok(())
}

/// An email address: one `@`, a local part, and a domain with a dot.
pub fn email(address: &str) -> Result<(), String> {
    let rule = "must be an email address such as name@example.com";
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(topic_name("login-codes_2").is_ok());
        assert!(topic_name(&"a".repeat(255)).is_ok());
        assert_eq!(topic_name("").unwrap_err(), "is required");
        assert!(topic_name(&"a".repeat(256)).unwrap_err().contains("255"));
        assert!(topic_name("login codes").unwrap_err().contains("letters, digits"));
        assert!(topic_name("códigos").is_err());
    }

    #[test]
    fn display_names() {
        assert!(display_name("Acme Ops").is_ok());
        assert!(display_name("").is_ok());
        assert!(display_name(&"x".repeat(193)).unwrap_err().contains("192"));
        assert!(display_name("Acme\r\nBcc: evil@example.com").is_err());
    }

    #[test]
    fn phones() {
        assert!(phone("+8613800000000").is_ok());
        assert!(phone("+14155550123").is_ok());
        for bad in ["8613800000000", "+86 138 0000 0000", "+123", "+0123456789", "+1234567890123456", "+86abc0000000"] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(email("ops@acme.example").is_ok());
        assert!(email("first.last+tag@mail.acme.co.uk").is_ok());
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
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
