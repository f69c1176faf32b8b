//! The id_token signing key: RSA 2048 / RS256, generated at first start and kept
//! in the database sealed with the configured encryption key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

use super::ProviderError;
use crate::clock::Clock;
use crate::crypto::Sealer;
use crate::random::Random;
use crate::store::{SigningKeyRow, Store};

pub struct SigningKeys {
    kid: String,
    key: RsaPrivateKey,
    jwks: serde_json::Value,
}

const ALGORITHM: &str = "RS256";

impl SigningKeys {
    pub async fn load_or_create(
        store: &Store,
        sealer: &Sealer,
        random: &Random,
        clock: &dyn Clock,
    ) -> anyhow::Result<Self> {
        if store.active_signing_keys().await?.is_empty() {
            let key = RsaPrivateKey::new(&mut random.rng(), 2048)?;
            let pem = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)?;
            store
                .insert_signing_key(&SigningKeyRow {
                    kid: key_id(&key),
                    algorithm: ALGORITHM.into(),
                    sealed_private_key: sealer.seal(random, pem.as_bytes()),
                    created_at: clock.unix(),
                })
                .await?;
            tracing::info!(kid = %key_id(&key), "generated the OpenID Provider signing key");
        }
        // Reload: another instance may have inserted its key first.
        let rows = store.active_signing_keys().await?;
        let mut public_keys = Vec::new();
        let mut current = None;
        for row in &rows {
            let pem = sealer.open(&row.sealed_private_key).map_err(|_| {
                anyhow::anyhow!(
                    "signing key {} cannot be decrypted: `secrets.encryption_key` differs from the one that sealed it",
                    row.kid
                )
            })?;
            let pem = String::from_utf8(pem)?;
            let key = RsaPrivateKey::from_pkcs1_pem(&pem)?;
            public_keys.push(jwk(&row.kid, &key));
            if current.is_none() {
                current = Some((row.kid.clone(), key));
            }
        }
        let (kid, key) =
            current.ok_or_else(|| anyhow::anyhow!("no signing key in the database"))?;
        Ok(Self {
            kid,
            key,
            jwks: serde_json::json!({ "keys": public_keys }),
        })
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    pub fn algorithm(&self) -> &'static str {
        ALGORITHM
    }

    /// A compact JWS (RS256) over the given claims.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, ProviderError> {
        let header = serde_json::json!({ "alg": ALGORITHM, "typ": "JWT", "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let digest = Sha256::digest(signing_input.as_bytes());
        let signature = self
            .key
            .sign_with_rng(
                &mut rand::rngs::OsRng,
                Pkcs1v15Sign::new::<Sha256>(),
                &digest,
            )
            .map_err(|e| ProviderError::Signing(e.to_string()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn key_id(key: &RsaPrivateKey) -> String {
    hex::encode(&Sha256::digest(key.n().to_bytes_be())[..8])
}

fn jwk(kid: &str, key: &RsaPrivateKey) -> serde_json::Value {
    serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": ALGORITHM,
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}
