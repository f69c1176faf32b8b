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
        let secret = format!("{id}-client-secret-0123456789");
        config.push_str(&department(id, name, &secret, "university", homeserver));
    }
    config
}

/// One `[[departments]]` behind `upstream`, admitting those whose `department`
/// claim is its id; its homeserver's server name is `{id}.test`.
pub fn department(
    id: &str,
    name: &str,
    client_secret: &str,
    upstream: &str,
    homeserver: &str,
) -> String {
    format!(
        r#"[[departments]]
id = "{id}"
name = "{name}"
client_secret = "{client_secret}"
upstream = "{upstream}"
membership = {{ claim = "department", any_of = ["{id}"] }}
homeserver = {{ base_url = "{homeserver}", server_name = "{id}.test" }}
"#
    )
}

/// The sealed login a picker page carries in its forms.
pub fn sealed_flow(page: &str) -> Option<&str> {
    page.split("name=\"flow\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}
