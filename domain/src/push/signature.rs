//! Checking an approval device's signature: ECDSA over P-256 with SHA-256, as WebCrypto's
//! `sign({name: "ECDSA", hash: "SHA-256"}, …)` makes it (the raw 64-byte r‖s form). RustCrypto's
//! `p256` does the mathematics.

use p256::{
    ecdsa::{signature::Verifier, Signature, VerifyingKey},
    pkcs8::DecodePublicKey,
};

/// The public key of a device being registered, as SubjectPublicKeyInfo DER (WebCrypto's
/// `exportKey("spki", …)`). `None` unless it is a valid P-256 point.
pub(crate) fn parse_public_key(spki_der: &[u8]) -> Option<VerifyingKey> {
    VerifyingKey::from_public_key_der(spki_der).ok()
}

/// True when `signature` (r‖s, 64 bytes) signs `message` under the key `spki_der`.
pub(crate) fn verifies(spki_der: &[u8], message: &str, signature: &[u8]) -> bool {
    let Some(key) = parse_public_key(spki_der) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    key.verify(message.as_bytes(), &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::{
        ecdsa::{signature::Signer, SigningKey},
        pkcs8::EncodePublicKey,
    };
    use rand::rngs::OsRng;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let key = SigningKey::random(&mut OsRng);
        let spki = p256::PublicKey::from(key.verifying_key()).to_public_key_der().unwrap();
        let sig: Signature = key.sign(b"hostguard-push-v1\nA\n472\napprove");
        let raw = sig.to_bytes();
        assert_eq!(raw.len(), 64);
        assert!(verifies(spki.as_bytes(), "hostguard-push-v1\nA\n472\napprove", &raw));
        assert!(!verifies(spki.as_bytes(), "hostguard-push-v1\nB\n472\napprove", &raw), "another request");
        assert!(!verifies(spki.as_bytes(), "hostguard-push-v1\nA\n473\napprove", &raw), "another number");
        let other = SigningKey::random(&mut OsRng);
        let other_spki = p256::PublicKey::from(other.verifying_key()).to_public_key_der().unwrap();
        assert!(!verifies(other_spki.as_bytes(), "hostguard-push-v1\nA\n472\napprove", &raw), "another key");
        assert!(!verifies(spki.as_bytes(), "hostguard-push-v1\nA\n472\napprove", &raw[..63]), "truncated");
        assert!(!verifies(b"not a key", "x", &raw));
        assert!(!verifies(spki.as_bytes(), "x", &[0u8; 64]), "zeros");
    }

    #[test]
    fn only_p256_spki_keys_register() {
        let key = SigningKey::random(&mut OsRng);
        let spki = p256::PublicKey::from(key.verifying_key()).to_public_key_der().unwrap();
        assert!(parse_public_key(spki.as_bytes()).is_some());
        assert!(parse_public_key(&spki.as_bytes()[..40]).is_none());
        assert!(parse_public_key(&[]).is_none());
    }
}
