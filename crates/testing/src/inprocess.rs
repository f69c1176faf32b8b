//! What the in-process tests and benchmarks share: the bridge's configuration
//! around one OIDC upstream that is never called, and reading a picker page.

/// `[[upstreams]]` "university" and one `[[departments]]` per (id, name,
/// homeserver URL), each admitting those whose `department` claim is its id;
/// its client secret is `{id}-client-secret-0123456789`. Goes last in a config.
pub fn university_with(departments: &[(&str, &str, &str)]) -> String {
    let mut config = String::from(
        r#"[[upstreams]]
kind = "oidc"
id = "university"
issuer = "http://127.0.0.1:1"
client_id = "bridge"
client_secret = "secret"
"#,
    );
    for (id, name, homeserver) in departments {
        config.push_str(&format!(
            r#"[[departments]]
id = "{id}"
name = "{name}"
client_secret = "{id}-client-secret-0123456789"
upstream = "university"
membership = {{ claim = "department", any_of = ["{id}"] }}
homeserver = {{ base_url = "{homeserver}", server_name = "{id}.test" }}
"#
        ));
    }
    config
}

/// The sealed login a picker page carries in its forms.
pub fn sealed_flow(page: &str) -> Option<&str> {
    page.split("name=\"flow\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}
