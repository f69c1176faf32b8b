//! RS256 JSON Web Tokens as the scripted peers sign and check them: the
//! scripted IdP signs its id_tokens, the scripted homeserver checks the
//! bridge's against the bridge's JWKS.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One signing key per test process: generating RSA keys is slow in debug builds.
pub fn test_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA test key"))
}

/// A compact RS256 JWS of `claims`, with `kid` in its header.
pub fn sign(key: &RsaPrivateKey, kid: &str, claims: &Value) -> String {
    sign_with_header(
        key,
        &json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }),
        claims,
    )
}

/// A compact JWS over `header` (whatever it says) and `claims`, signed RS256
/// with `key`: for tokens whose header is the point of the test.
pub fn sign_with_header(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key
        .sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input.as_bytes()),
        )
        .expect("RS256 signature");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The public half of `key` as a JWK.
pub fn jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}

/// The claims of an RS256 `jwt` whose signature a key of `jwks` (by `kid`)
/// verifies; why not, otherwise.
pub fn verify(jwt: &str, jwks: &Value) -> Result<Value, String> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {} is not RS256", header["alg"]));
    }
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .ok_or_else(|| format!("no key {} in the JWKS", header["kid"]))?;
    let number = |name: &str| -> Result<BigUint, String> {
        let text = jwk[name].as_str().ok_or(format!("the JWK has no {name}"))?;
        Ok(BigUint::from_bytes_be(&decode(text)?))
    };
    let public = RsaPublicKey::new(number("n")?, number("e")?).map_err(|e| e.to_string())?;
    let signed = &jwt[..jwt.rfind('.').unwrap_or_default()];
    public
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(signed.as_bytes()),
            &decode(signature)?,
        )
        .map_err(|_| "the signature does not verify".to_owned())?;
    serde_json::from_slice(&decode(payload)?).map_err(|e| e.to_string())
}
