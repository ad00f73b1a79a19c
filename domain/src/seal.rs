//! Sealing secrets the console must read back later (access keys' SKs, authenticators' TOTP
//! seeds): AES-256-GCM under the server's secret key (`HOSTGUARD_SECRET_KEY`), with the owner of
//! each secret bound in, so a ciphertext copied to another row does not open.

use crate::{
    ctx::Ctx,
    error::{DomainError, DomainResult},
};
use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::{rngs::OsRng, RngCore};
use secrecy::ExposeSecret;

/// Encrypts `secret` for `owner` (the access key, or the row's id), as base64 of the nonce and
/// the ciphertext.
pub(crate) fn seal(key: &[u8; 32], owner: &str, secret: &str) -> DomainResult<String> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret.as_bytes(), aad: owner.as_bytes() })
        .map_err(|_| DomainError::Internal("cannot encrypt a secret".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

/// Decrypts what [`seal`] made for `owner`.
pub(crate) fn open(key: &[u8; 32], owner: &str, stored: &str) -> DomainResult<String> {
    let broken = || {
        DomainError::Internal(format!(
            "the secret sealed for {owner} cannot be decrypted; was HOSTGUARD_SECRET_KEY changed?"
        ))
    };
    let raw = STANDARD.decode(stored).map_err(|_| broken())?;
    if raw.len() < 12 {
        return Err(broken());
    }
    let (nonce, sealed) = raw.split_at(12);
    let plain = Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: owner.as_bytes() })
        .map_err(|_| broken())?;
    String::from_utf8(plain).map_err(|_| broken())
}

/// The server's secret key, if it has one.
pub(crate) fn server_key(ctx: &Ctx) -> Option<&[u8; 32]> {
    ctx.secret_key.as_deref().map(ExposeSecret::expose_secret)
}

/// The server's secret key, to [`seal`] new secrets of `what` with; without one, a Conflict that
/// names the setting.
pub(crate) fn sealing_key<'a>(ctx: &'a Ctx, what: &str) -> DomainResult<&'a [u8; 32]> {
    server_key(ctx).ok_or_else(|| {
        DomainError::Conflict(format!(
            "{what} cannot be created: the server has no secret key to encrypt them with. \
             Set HOSTGUARD_SECRET_KEY (64 hexadecimal characters) and restart the server."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_owner() {
        let sealed = seal(&KEY, "AK1", "secret").unwrap();
        assert_eq!(open(&KEY, "AK1", &sealed).unwrap(), "secret");
        assert!(open(&KEY, "AK2", &sealed).is_err(), "copied to another key's row");
        assert!(open(&[8; 32], "AK1", &sealed).is_err(), "another server key");
        assert_ne!(seal(&KEY, "AK1", "secret").unwrap(), sealed, "a fresh nonce each time");
        assert!(open(&KEY, "AK1", "short").is_err(), "not a sealed value");
    }
}
