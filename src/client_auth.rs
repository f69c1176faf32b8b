//! OAuth client authentication (RFC 6749 §2.3.1), shared by the OpenID
//! Provider's `/token` (homeservers) and token introspection (services): the
//! credentials a request carries, read one way for both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// The request is malformed (OAuth `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// No usable credentials (OAuth `invalid_client`).
    #[error("{0}")]
    InvalidClient(String),
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1, form-encoded
/// parts) or from the form body; using both at once is refused.
pub fn client_credentials(
    authorization: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<(String, String), ClientAuthError> {
    let from_header = match authorization {
        Some(header) => {
            let encoded = header.strip_prefix("Basic ").ok_or_else(|| {
                ClientAuthError::InvalidClient("unsupported Authorization scheme".into())
            })?;
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ClientAuthError::InvalidClient("malformed Basic credentials".into())
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                ClientAuthError::InvalidClient("malformed Basic credentials".into())
            })?;
            let unescape = |s: &str| {
                if !s.contains(['%', '+']) {
                    return s.to_owned();
                }
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((unescape(id), unescape(secret)))
        }
        None => None,
    };
    match (from_header, client_id, client_secret) {
        (Some(_), _, Some(_)) => Err(ClientAuthError::InvalidRequest(
            "client credentials given both in the header and the body".into(),
        )),
        (Some(creds), _, None) => Ok(creds),
        (None, Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(ClientAuthError::InvalidClient(
            "client authentication is required".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("eng:s%3Acret%2B1"));
        assert_eq!(
            client_credentials(Some(&header), None, None).unwrap(),
            ("eng".into(), "s:cret+1".into())
        );
    }

    #[test]
    fn post_credentials_and_conflicts() {
        assert_eq!(
            client_credentials(None, Some("eng"), Some("x")).unwrap(),
            ("eng".into(), "x".into())
        );
        let header = format!("Basic {}", STANDARD.encode("eng:x"));
        assert!(matches!(
            client_credentials(Some(&header), Some("eng"), Some("x")),
            Err(ClientAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            client_credentials(None, None, None),
            Err(ClientAuthError::InvalidClient(_))
        ));
        assert!(matches!(
            client_credentials(Some("Bearer x"), None, None),
            Err(ClientAuthError::InvalidClient(_))
        ));
        assert!(matches!(
            client_credentials(Some("Basic !!"), None, None),
            Err(ClientAuthError::InvalidClient(_))
        ));
    }
}
