//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    // Allowed: with the default parameters and a fresh salt the only errors argon2 has (bad
    // parameters, a salt or output of the wrong length) cannot happen, and a password that
    // could not be hashed must not be stored some other way.
    #[allow(clippy::expect_used)]
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// True when `password` matches `hash`. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, for sign-ins to accounts that do not exist,
/// so timing does not tell which accounts exist.
pub fn burn_verification(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not-a-real-password"));
    let _ = verify_password(password, hash);
}

/// The rule for new passwords.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("must be at least 12 characters long".into());
    }
    if password.len() > 1024 {
        return Err("must be at most 1024 bytes long".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery");
        let b = hash_password("correct horse battery");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse battery", &a));
        assert!(verify_password("correct horse battery", &b));
    }

    #[test]
    fn wrong_password_or_garbage_hash_does_not_verify() {
        let h = hash_password("correct horse battery");
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("correct horse battery", ""));
    }

    #[test]
    fn new_password_rule() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("twelve chars").is_ok());
    }
}
