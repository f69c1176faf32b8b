//! The random source: a CSPRNG seeded from the OS, or from a fixed seed in tests.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub enum Random {
    /// Each thread's own CSPRNG (`rand`'s thread RNG: ChaCha, seeded and
    /// reseeded from the OS), so the workers never wait on each other for it.
    Os,
    /// One deterministic generator, for tests; a lock orders its draws.
    Seeded(Box<Mutex<ChaCha20Rng>>),
}

impl Random {
    pub fn from_os() -> Self {
        Self::Os
    }

    /// Deterministic, for tests only.
    pub fn seeded(seed: u64) -> Self {
        Self::Seeded(Box::new(Mutex::new(ChaCha20Rng::seed_from_u64(seed))))
    }

    pub fn fill(&self, out: &mut [u8]) {
        match self {
            Self::Os => rand::thread_rng().fill_bytes(out),
            Self::Seeded(rng) => rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .fill_bytes(out),
        }
    }

    /// A URL-safe token with `bytes` bytes of entropy.
    pub fn token(&self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.fill(&mut buf);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// An identifier with 128 bits of entropy, in lower-case hex.
    pub fn id(&self) -> String {
        let mut buf = [0u8; 16];
        self.fill(&mut buf);
        crate::encoding::to_hex(&buf)
    }

    /// A `rand` RNG for APIs that want one (key generation), seeded from this source.
    pub fn rng(&self) -> ChaCha20Rng {
        let mut seed = [0u8; 32];
        self.fill(&mut seed);
        ChaCha20Rng::from_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::Random;

    #[test]
    fn seeded_is_deterministic_and_tokens_are_url_safe() {
        assert_eq!(Random::seeded(7).token(32), Random::seeded(7).token(32));
        let t = Random::from_os().token(32);
        assert_eq!(t.len(), 43);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(Random::from_os().id().len(), 32);
    }
}
