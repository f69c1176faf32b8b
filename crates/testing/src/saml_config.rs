//! The bridge configuration of the in-process SAML ACS tests, also used by the
//! SAML ACS benchmark: one SAML upstream (the test IdP's metadata and the SP
//! key in tests/fixtures/saml/) and one department behind it.

use std::path::PathBuf;

pub const BASE: &str = "http://127.0.0.1:8008/";

pub fn fixture(name: &str) -> PathBuf {
    crate::paths::root().join("tests/fixtures/saml").join(name)
}

/// With the IdP metadata file `metadata` (in the fixtures), the database URL and
/// the department homeserver's base URL.
pub fn saml_config(metadata: &str, database: &str, homeserver: &str) -> String {
    format!(
        r#"
public_base_url = "{BASE}"
database_url = "{database}"
[secrets]
encryption_key = "saml-tests-encryption-key-0123456789"
[redirects]
allowed_origins = ["https://app.example"]
[[upstreams]]
kind = "saml"
id = "campus"
metadata_file = "{metadata}"
sp_private_key = {{ file = "{key}" }}
sp_certificate_file = "{cert}"
clock_skew_seconds = 60
[[departments]]
id = "eng"
name = "Engineering"
client_secret = "eng-client-secret-0123456789"
upstream = "campus"
upstream_params = {{ department = "eng" }}
membership = {{ claim = "ou", any_of = ["eng"] }}
localpart_template = "{{uid}}"
display_name_template = "{{displayName}}"
homeserver = {{ base_url = "{homeserver}", server_name = "eng.test" }}
"#,
        metadata = fixture(metadata).display(),
        key = fixture("sp.key").display(),
        cert = fixture("sp.crt").display(),
    )
}
