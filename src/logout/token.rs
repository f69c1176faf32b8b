//! The Logout Token (OpenID Connect Back-Channel Logout 1.0 §2.4) the bridge,
//! as each department's OpenID Provider, sends its homeserver.

use crate::provider::{Provider, ProviderError};
use crate::store::DeliveryRow;

pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: it is signed again for every attempt.
const LIFETIME: i64 = 120;

/// Signed with the current key: `iss`, `aud` (the department), `iat`, `exp`, a
/// fresh `jti`, the `sid` and `sub` of the id_token the homeserver got, the
/// back-channel logout event, and never a `nonce`.
pub async fn logout_token(
    op: &Provider<'_>,
    delivery: &DeliveryRow,
) -> Result<String, ProviderError> {
    let now = op.now();
    let claims = serde_json::json!({
        "iss": op.config.issuer(),
        "aud": delivery.department,
        "iat": now,
        "exp": now + LIFETIME,
        "jti": op.random.token(16),
        "sid": delivery.sid,
        "sub": delivery.subject,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    op.signing_keys().await.sign(&claims, now)
}
