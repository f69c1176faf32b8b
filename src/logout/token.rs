//! The Logout Token (OpenID Connect Back-Channel Logout 1.0 §2.4) the bridge,
//! as each department's OpenID Provider, sends its homeserver.

use crate::provider::ProviderError;
use crate::services::Services;
use crate::store::DeliveryRow;

pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: it is signed again for every attempt.
const LIFETIME: i64 = 120;

/// Signed with the current key: `iss`, `aud` (the department), `iat`, `exp`, a
/// fresh `jti`, the `sid` and `sub` of the id_token the homeserver got, the
/// back-channel logout event, and never a `nonce`.
pub async fn logout_token(
    services: &Services,
    delivery: &DeliveryRow,
) -> Result<String, ProviderError> {
    let now = services.now();
    let claims = serde_json::json!({
        "iss": services.config.issuer(),
        "aud": delivery.department,
        "iat": now,
        "exp": now + LIFETIME,
        "jti": services.random.token(16),
        "sid": delivery.sid,
        "sub": delivery.subject,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    services.signing_keys().await.sign(&claims, now)
}
