//! Secrets that may be written inline, read from a file, or taken from an env var,
//! and a newtype that never prints its value.

use std::fmt;

use serde::Deserialize;

/// Where a secret comes from, as written in the config file.
#[derive(Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretSource {
    Inline(String),
    File { file: String },
    Env { env: String },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File { file } => write!(f, "File({file})"),
            Self::Env { env } => write!(f, "Env({env})"),
        }
    }
}

impl SecretSource {
    /// Reads the secret; the error says what to fix, without the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            Self::Inline(value) => value.clone(),
            Self::File { file } => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read secret file {file}: {e}"))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
            Self::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))?
            }
        };
        if value.is_empty() {
            return Err("the secret is empty".to_owned());
        }
        Ok(Secret(value))
    }
}

/// A secret value: `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
