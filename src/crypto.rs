//! Small cryptographic helpers: hashing secrets for storage, constant-time
//! comparison, PKCE, per-flow key derivation and sealing.

use base64::Engine;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::to_hex;
use crate::random::Random;

/// What the database keeps instead of a secret: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43–128 characters of the unreserved set.
pub fn is_valid_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A 32-byte key derived from a secret and a purpose label.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(secret, purpose.as_bytes())
}

/// XChaCha20-Poly1305's nonce and tag, in bytes.
const NONCE: usize = 24;
const TAG: usize = 16;

/// Authenticated encryption of small values (XChaCha20-Poly1305, random nonce),
/// encoded as base64 text for a TEXT column.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    encoding: &'static GeneralPurpose,
}

#[derive(Debug, thiserror::Error)]
#[error("sealed value could not be opened (wrong key or tampered)")]
pub struct OpenError;

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            encoding: &STANDARD,
        }
    }

    /// The same, encoded for URLs and form fields (URL-safe base64, no padding).
    pub fn for_urls(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            encoding: &URL_SAFE_NO_PAD,
        }
    }

    /// nonce ‖ ciphertext ‖ tag, encoded; built in one buffer.
    pub fn seal(&self, random: &Random, plaintext: &[u8]) -> String {
        let mut out = Vec::with_capacity(NONCE + plaintext.len() + TAG);
        out.resize(NONCE, 0);
        random.fill(&mut out);
        out.extend_from_slice(plaintext);
        let (nonce, message) = out.split_at_mut(NONCE);
        let tag = self
            .cipher
            .encrypt_in_place_detached(XNonce::from_slice(nonce), b"", message)
            .unwrap_or_else(|_| unreachable!("encryption of in-memory data does not fail"));
        out.extend_from_slice(&tag);
        self.encoding.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let bytes = self.encoding.decode(sealed).map_err(|_| OpenError)?;
        if bytes.len() < NONCE {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_valid_pkce_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_valid_pkce_verifier("short"));
        assert!(!is_valid_pkce_verifier(&"a b".repeat(20)));
    }

    #[test]
    fn sealing_round_trips_and_detects_tampering() {
        let random = Random::seeded(1);
        let sealer = Sealer::new([7; 32]);
        let sealed = sealer.seal(&random, b"hello");
        assert_eq!(sealer.open(&sealed).unwrap(), b"hello");
        assert!(Sealer::new([8; 32]).open(&sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(sealer.open(&STANDARD.encode(bytes)).is_err());
        assert!(sealer.open("not base64!").is_err());
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
