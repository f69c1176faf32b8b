//! The id_token signing keys: RSA 2048 / RS256, generated at first start and
//! kept in the database sealed with the configured encryption key.
//!
//! Rotation without a flag day: `sso-bridge keys rotate` adds a key that
//! activates later. Until then it is only published (homeservers that cache
//! the JWKS see it before any token carries it); from then on it signs, and
//! the key it replaces stays published until every id_token it signed has
//! expired. Every instance computes the same ring from the same rows and the
//! clock, and re-reads the rows every few seconds, so instances need no signal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::ProviderError;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::random::Random;
use crate::store::{SigningKeyRow, Store};

const ALGORITHM: &str = "RS256";
/// How stale an instance's view of the key rows may get.
pub const RELOAD_SECONDS: i64 = 5;
/// Clock skew allowed on top of a token's lifetime before its key is dropped.
const SKEW_SECONDS: i64 = 60;

/// One key, decoded.
pub struct LoadedKey {
    pub kid: String,
    pub activates_at: i64,
    pub created_at: i64,
    /// The same key for OpenSSL, which signs (RS256) several times faster than `rsa`.
    signer: PKey<Private>,
    jwk: serde_json::Value,
}

/// The keys as rows say at one moment: which signs, which are published.
pub struct KeyRing {
    /// Newest activation first.
    keys: Vec<LoadedKey>,
    /// How long a replaced key stays published after its successor activates.
    retain_seconds: i64,
}

/// What a key is doing at a given time, for `sso-bridge keys list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signs from `activates_at`.
    Next,
    Signing,
    /// Published until the given time, no longer signs.
    Retiring {
        until: i64,
    },
    /// Past its retention; the next purge deletes it.
    Retired,
}

impl KeyRing {
    fn new(mut keys: Vec<LoadedKey>, retain_seconds: i64) -> Self {
        // The same order on every instance, even for keys created in the same second.
        keys.sort_by(|a, b| {
            (b.activates_at, b.created_at, &b.kid).cmp(&(a.activates_at, a.created_at, &a.kid))
        });
        Self {
            keys,
            retain_seconds,
        }
    }

    pub fn keys(&self) -> &[LoadedKey] {
        &self.keys
    }

    fn signing_index(&self, now: i64) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.activates_at <= now)
            // Only keys that activate later: the oldest of them (cannot happen
            // with keys made by this program, whose first key is active at once).
            .or_else(|| self.keys.len().checked_sub(1))
    }

    pub fn state(&self, index: usize, now: i64) -> KeyState {
        let signing = self.signing_index(now);
        match signing {
            Some(s) if index < s => KeyState::Next,
            Some(s) if index == s => KeyState::Signing,
            _ => {
                let until = self.keys[index - 1].activates_at + self.retain_seconds;
                if until > now {
                    KeyState::Retiring { until }
                } else {
                    KeyState::Retired
                }
            }
        }
    }

    /// The key that signs now.
    pub fn signing(&self, now: i64) -> Option<&LoadedKey> {
        self.signing_index(now).map(|i| &self.keys[i])
    }

    /// The JWKS: the next key, the signing key, and replaced keys still in their retention.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<&serde_json::Value> = (0..self.keys.len())
            .filter(|&i| self.state(i, now) != KeyState::Retired)
            .map(|i| &self.keys[i].jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// A compact JWS (RS256) over the given claims, with the key that signs now.
    pub fn sign(&self, claims: &serde_json::Value, now: i64) -> Result<String, ProviderError> {
        let key = self
            .signing(now)
            .ok_or_else(|| ProviderError::Signing("no signing key".into()))?;
        let header = serde_json::json!({ "alg": ALGORITHM, "typ": "JWT", "kid": key.kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // RSASSA-PKCS1-v1_5 with SHA-256 (OpenSSL's default padding for RSA keys).
        let signature = openssl::sign::Signer::new(MessageDigest::sha256(), &key.signer)
            .and_then(|mut signer| signer.sign_oneshot_to_vec(signing_input.as_bytes()))
            .map_err(|e| ProviderError::Signing(e.to_string()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// The ring as last read from the database, re-read when stale.
pub struct SigningKeys {
    ring: RwLock<Arc<KeyRing>>,
    /// When the rows were last read (unix seconds); a lock so one request re-reads at a time.
    loaded_at: tokio::sync::Mutex<i64>,
    /// Decoded keys by kid: an RSA key is parsed once per process, not per reload.
    decoded: Mutex<HashMap<String, Arc<RsaPrivateKey>>>,
    retain_seconds: i64,
}

impl SigningKeys {
    /// Creates the first key if there is none, then loads the ring.
    /// `token_lifetime` is the longest lifetime of a token the keys sign.
    pub async fn load_or_create(
        store: &Store,
        sealer: &Sealer,
        random: &Random,
        now: i64,
        token_lifetime: i64,
    ) -> anyhow::Result<Self> {
        if store.signing_keys().await?.is_empty() {
            let kid = insert_new_key(store, sealer, random, now, now).await?;
            tracing::info!(%kid, "generated the OpenID Provider signing key");
        }
        let keys = Self {
            ring: RwLock::new(Arc::new(KeyRing::new(Vec::new(), 0))),
            loaded_at: tokio::sync::Mutex::new(now),
            decoded: Mutex::new(HashMap::new()),
            retain_seconds: token_lifetime + SKEW_SECONDS,
        };
        // Another instance may have inserted its key first: read what is there.
        let ring = keys.read_rows(store, sealer).await?;
        if ring.keys.is_empty() {
            anyhow::bail!("no signing key in the database");
        }
        keys.set(ring);
        Ok(keys)
    }

    pub fn algorithm(&self) -> &'static str {
        ALGORITHM
    }

    /// How long a replaced key stays published after its successor activates.
    pub fn retain_seconds(&self) -> i64 {
        self.retain_seconds
    }

    /// The ring, re-read from the database when older than [`RELOAD_SECONDS`].
    /// A failed re-read keeps the last good ring (and says so in the log).
    pub async fn ring(&self, store: &Store, sealer: &Sealer, now: i64) -> Arc<KeyRing> {
        if now - *self.loaded_at.lock().await >= RELOAD_SECONDS {
            let mut loaded_at = self.loaded_at.lock().await;
            if now - *loaded_at >= RELOAD_SECONDS {
                match self.read_rows(store, sealer).await {
                    Ok(ring) if !ring.keys.is_empty() => self.set(ring),
                    Ok(_) => {
                        tracing::error!("no signing key in the database; keeping the last ones")
                    }
                    Err(error) => {
                        tracing::warn!(%error, "re-reading the signing keys failed; keeping the last ones")
                    }
                }
                *loaded_at = now;
            }
        }
        self.current()
    }

    /// The ring as last read, without touching the database.
    pub fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, ring: KeyRing) {
        match self.ring.write() {
            Ok(mut slot) => *slot = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
    }

    async fn read_rows(&self, store: &Store, sealer: &Sealer) -> anyhow::Result<KeyRing> {
        let rows = store.signing_keys().await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.decode(&row, sealer)?;
            keys.push(LoadedKey {
                jwk: jwk(&row.kid, &key),
                kid: row.kid,
                activates_at: row.activates_at,
                created_at: row.created_at,
                signer: PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(
                    key.to_pkcs1_der()?.as_bytes(),
                )?)?,
            });
        }
        Ok(KeyRing::new(keys, self.retain_seconds))
    }

    fn decode(&self, row: &SigningKeyRow, sealer: &Sealer) -> anyhow::Result<Arc<RsaPrivateKey>> {
        let mut decoded = self
            .decoded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = decoded.get(&row.kid) {
            return Ok(key.clone());
        }
        let pem = sealer.open(&row.sealed_private_key).map_err(|_| {
            anyhow::anyhow!(
                "signing key {} cannot be decrypted: `secrets.encryption_key` differs from the one that sealed it",
                row.kid
            )
        })?;
        let key = Arc::new(RsaPrivateKey::from_pkcs1_pem(&String::from_utf8(pem)?)?);
        decoded.insert(row.kid.clone(), key.clone());
        Ok(key)
    }

    /// Adds a key that starts signing `activate_after` seconds from now; refused
    /// while another rotation is pending. Returns the new kid and its activation time.
    pub async fn rotate(
        store: &Store,
        sealer: &Sealer,
        random: &Random,
        now: i64,
        activate_after: i64,
    ) -> anyhow::Result<(String, i64)> {
        if let Some(pending) = store
            .signing_keys()
            .await?
            .into_iter()
            .find(|row| row.activates_at > now)
        {
            anyhow::bail!(
                "a rotation is already pending: key {} starts signing at {}; rotate again after that",
                pending.kid,
                crate::clock::rfc3339(pending.activates_at)
            );
        }
        let activates_at = now + activate_after.max(0);
        let kid = insert_new_key(store, sealer, random, now, activates_at).await?;
        tracing::info!(%kid, activates_at, "added a new OpenID Provider signing key");
        Ok((kid, activates_at))
    }
}

async fn insert_new_key(
    store: &Store,
    sealer: &Sealer,
    random: &Random,
    now: i64,
    activates_at: i64,
) -> anyhow::Result<String> {
    let key = RsaPrivateKey::new(&mut random.rng(), 2048)?;
    let pem = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)?;
    let kid = key_id(&key);
    store
        .insert_signing_key(&SigningKeyRow {
            kid: kid.clone(),
            algorithm: ALGORITHM.into(),
            sealed_private_key: sealer.seal(random, pem.as_bytes()),
            created_at: now,
            activates_at,
        })
        .await?;
    Ok(kid)
}

fn key_id(key: &RsaPrivateKey) -> String {
    crate::encoding::to_hex(&Sha256::digest(key.n().to_bytes_be())[..8])
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

/// Seals data at rest (the signing keys) with a key derived from `secrets.encryption_key`.
pub fn data_at_rest_sealer(config: &Config) -> Sealer {
    Sealer::new(crate::crypto::derive_key(
        config.encryption_key.expose().as_bytes(),
        "sso-bridge data at rest v1",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory_store;

    fn sealer() -> Sealer {
        Sealer::new([7; 32])
    }

    fn kids(jwks: &serde_json::Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    fn kid_of(jwt: &str) -> String {
        let header = jwt.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_rotation_publishes_first_signs_later_and_keeps_the_old_key_for_its_tokens() {
        let (store, sealer, random) = (memory_store().await, sealer(), Random::seeded(1));
        let lifetime = 300;
        let keys = SigningKeys::load_or_create(&store, &sealer, &random, 1000, lifetime)
            .await
            .unwrap();
        let old = keys.current().signing(1000).unwrap().kid.clone();

        let (new, activates_at) = SigningKeys::rotate(&store, &sealer, &random, 2000, 600)
            .await
            .unwrap();
        assert_eq!(activates_at, 2600);
        // A second rotation while one is pending is refused, naming the pending key.
        let err = SigningKeys::rotate(&store, &sealer, &random, 2001, 600)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&new), "{err}");

        // Before activation: both published, the old key signs.
        let ring = keys.ring(&store, &sealer, 2000 + RELOAD_SECONDS).await;
        let at = 2100;
        assert_eq!(kids(&ring.jwks(at)), [new.clone(), old.clone()]);
        assert_eq!(kid_of(&ring.sign(&serde_json::json!({}), at).unwrap()), old);
        // After activation: the new key signs, the old stays published for a token lifetime and skew.
        let at = activates_at;
        assert_eq!(kid_of(&ring.sign(&serde_json::json!({}), at).unwrap()), new);
        assert_eq!(
            kids(&ring.jwks(at + lifetime + SKEW_SECONDS - 1)),
            [new.clone(), old.clone()]
        );
        assert_eq!(
            ring.state(1, at),
            KeyState::Retiring {
                until: at + lifetime + SKEW_SECONDS
            }
        );
        // Then it leaves the JWKS, and the purge deletes it from the database.
        let gone = at + lifetime + SKEW_SECONDS;
        assert_eq!(kids(&ring.jwks(gone)), std::slice::from_ref(&new));
        assert_eq!(ring.state(1, gone), KeyState::Retired);
        assert_eq!(
            store
                .purge_retired_signing_keys(gone - 1, keys.retain_seconds())
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .purge_retired_signing_keys(gone, keys.retain_seconds())
                .await
                .unwrap(),
            1
        );
        let ring = keys.ring(&store, &sealer, gone + RELOAD_SECONDS).await;
        assert_eq!(kids(&ring.jwks(gone)), [new]);
    }

    #[tokio::test]
    async fn instances_agree_and_a_stale_instance_still_reads_the_new_rows() {
        let (store, sealer, random) = (memory_store().await, sealer(), Random::seeded(2));
        let a = SigningKeys::load_or_create(&store, &sealer, &random, 0, 60)
            .await
            .unwrap();
        let b = SigningKeys::load_or_create(&store, &sealer, &random, 0, 60)
            .await
            .unwrap();
        assert_eq!(
            store.signing_keys().await.unwrap().len(),
            1,
            "one key for all instances"
        );
        // Both read the rows at 10, just before another instance rotates.
        for keys in [&a, &b] {
            keys.ring(&store, &sealer, 10).await;
        }
        let (new, _) = SigningKeys::rotate(&store, &sealer, &random, 10, 0)
            .await
            .unwrap();
        // Within the reload interval an instance keeps its view…
        assert_ne!(
            a.ring(&store, &sealer, 10 + RELOAD_SECONDS - 1)
                .await
                .signing(10)
                .unwrap()
                .kid,
            new
        );
        // …after it, every instance signs with the new key.
        for keys in [&a, &b] {
            assert_eq!(
                keys.ring(&store, &sealer, 10 + RELOAD_SECONDS)
                    .await
                    .signing(10)
                    .unwrap()
                    .kid,
                new
            );
        }
    }

    #[tokio::test]
    async fn openssl_signs_exactly_as_the_rsa_crate_would() {
        let (store, sealer, random) = (memory_store().await, sealer(), Random::seeded(4));
        let keys = SigningKeys::load_or_create(&store, &sealer, &random, 0, 60)
            .await
            .unwrap();
        let jwt = keys
            .current()
            .sign(&serde_json::json!({ "sub": "x" }), 0)
            .unwrap();
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let row = store.signing_keys().await.unwrap().remove(0);
        let key = keys.decode(&row, &sealer).unwrap();
        // PKCS#1 v1.5 signatures are deterministic: the same bytes either way.
        let expected = key
            .sign(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(input.as_bytes()),
            )
            .unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap(), expected);
    }

    #[tokio::test]
    async fn a_wrong_encryption_key_is_named_at_start() {
        let (store, random) = (memory_store().await, Random::seeded(3));
        SigningKeys::load_or_create(&store, &sealer(), &random, 0, 60)
            .await
            .unwrap();
        let Err(err) =
            SigningKeys::load_or_create(&store, &Sealer::new([8; 32]), &random, 0, 60).await
        else {
            panic!("a key sealed with another encryption key must not load");
        };
        assert!(err.to_string().contains("secrets.encryption_key"), "{err}");
    }
}
