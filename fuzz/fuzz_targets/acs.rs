//! Fuzzes the SAML ACS path: base64, structural pre-checks, xmlsec signature
//! verification, samael's parser and validation, and the mapping. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use sso_bridge::config::Config;
use sso_bridge::outbound::back_channel_client;
use sso_bridge::upstream::Upstreams;

fn upstreams() -> &'static Upstreams {
    static UPSTREAMS: OnceLock<Upstreams> = OnceLock::new();
    UPSTREAMS.get_or_init(|| {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/saml");
        let config = Config::parse(&format!(
            r#"
public_base_url = "http://127.0.0.1:8008/"
[secrets]
encryption_key = "fuzz-encryption-key-0123456789abcdef"
[[upstreams]]
kind = "saml"
id = "campus"
metadata_file = "{fixtures}/idp-metadata.xml"
sp_private_key = {{ file = "{fixtures}/sp.key" }}
sp_certificate_file = "{fixtures}/sp.crt"
[[departments]]
id = "eng"
name = "Engineering"
client_secret = "eng-client-secret-0123456789"
upstream = "campus"
membership = {{ claim = "ou", any_of = ["eng"] }}
homeserver = {{ base_url = "http://127.0.0.1:8101/", server_name = "eng.test" }}
"#
        ))
        .expect("fuzz config");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(Upstreams::load(&config, back_channel_client().expect("client"))).expect("upstreams")
    })
}

fuzz_target!(|data: &[u8]| {
    let idp = upstreams().saml("campus").expect("campus");
    // As posted (base64), and as raw XML, so the fuzzer reaches the parsers quickly.
    let _ = idp.verify_for_fuzzing(data);
    let _ = idp.verify_for_fuzzing(STANDARD.encode(data).as_bytes());
});
