//! `[[departments]]`: each department, its homeserver, membership rule and
//! templates, checked.

use std::collections::HashSet;

use url::Url;

use super::file::DepartmentFile;
use super::validate::{Problems, placeholder_url, valid_id};
use super::{ClaimTemplate, MembershipRule};
use super::{Department, Homeserver};

pub(super) fn department(
    p: &mut Problems,
    i: usize,
    d: DepartmentFile,
    upstreams: &HashSet<String>,
) -> Department {
    let key = |k: &str| format!("departments[{i}].{k}");
    if !valid_id(&d.id) {
        p.add(key("id"), format!("{:?} is not a valid id", d.id), "use 1–64 characters of a-z, 0-9, - and _ (it is also the department homeserver's client_id)");
    }
    if d.name.trim().is_empty() {
        p.add(
            key("name"),
            "is empty",
            "give the name users see in the picker",
        );
    }
    let mut names = Vec::new();
    for (lang, name) in &d.names {
        if !super::PAGE_LANGUAGES.contains(&lang.as_str()) {
            p.add(
                key(&format!("names.{lang}")),
                format!("{lang:?} is not a language of the pages"),
                format!("use one of {}", super::PAGE_LANGUAGES.join(", ")),
            );
        } else if name.trim().is_empty() {
            p.add(
                key(&format!("names.{lang}")),
                "is empty",
                "give the name, or remove the key",
            );
        } else {
            names.push((lang.clone(), name.trim().to_owned()));
        }
    }
    let logo_url = d.logo_url.as_deref().map(|logo| match Url::parse(logo) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            p.add(
                key("logo_url"),
                format!("{logo:?} is not an http(s) URL"),
                "give an absolute URL of an image",
            );
            placeholder_url()
        }
    });
    if let Some(icon) = &d.icon
        && !icon.starts_with("mxc://")
    {
        p.add(
            key("icon"),
            format!("{icon:?} is not an mxc:// URI"),
            "upload the icon to a homeserver and give its mxc:// URI, or remove the key",
        );
    }
    let mut email_domains = Vec::new();
    for domain in &d.email_domains {
        let normalized = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        if normalized.is_empty()
            || normalized.contains(['@', '/', ' '])
            || !normalized.contains('.')
        {
            p.add(
                key("email_domains"),
                format!("{domain:?} is not a domain"),
                "write domains like \"eng.ac.cdl\"",
            );
        } else {
            email_domains.push(normalized);
        }
    }
    let base_url = p.http_url(&key("homeserver.base_url"), &d.homeserver.base_url);
    if d.homeserver.server_name.trim().is_empty() {
        p.add(
            key("homeserver.server_name"),
            "is empty",
            "give the server name in the department's user ids, e.g. \"eng.ac.cdl\"",
        );
    }
    let oidc_redirect_uris = match d.homeserver.oidc_redirect_uris {
        Some(uris) if !uris.is_empty() => {
            for uri in &uris {
                if !matches!(Url::parse(uri), Ok(u) if matches!(u.scheme(), "http" | "https")) {
                    p.add(
                        key("homeserver.oidc_redirect_uris"),
                        format!("{uri:?} is not an http(s) URL"),
                        "give the homeserver's full OIDC callback URL",
                    );
                }
            }
            uris
        }
        Some(_) => {
            p.add(
                key("homeserver.oidc_redirect_uris"),
                "is empty",
                "remove the key to use the Synapse default, or list the callback URLs",
            );
            Vec::new()
        }
        None => vec![format!(
            "{base_url}{}",
            crate::routes::SYNAPSE_OIDC_CALLBACK
        )],
    };
    let client_secret = p.secret(&key("client_secret"), &d.client_secret, 16);
    if !upstreams.contains(&d.upstream) {
        p.add(
            key("upstream"),
            format!("{:?} names no configured upstream", d.upstream),
            "use the id of one of the [[upstreams]]",
        );
    }
    if d.membership.claim.trim().is_empty()
        || (d.membership.any_of.is_empty() && d.membership.scopes.is_empty())
    {
        p.add(key("membership"), "the rule is empty", "name a claim and accepted values or scopes, e.g. { claim = \"department\", any_of = [\"eng\"] } or { claim = \"eduPersonScopedAffiliation\", scopes = [\"eng.ac.cdl\"] }");
    }
    const RESERVED: &[&str] = &[
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "login_hint",
        "SAMLRequest",
        "RelayState",
        "SigAlg",
        "Signature",
    ];
    for name in d.upstream_params.keys() {
        if name.is_empty() || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            p.add(
                key("upstream_params"),
                format!("{name:?} cannot be set here"),
                "use a parameter name the IdP understands that is not part of the protocol itself",
            );
        }
    }
    let upstream_params: Vec<(String, String)> = d.upstream_params.into_iter().collect();
    let mut template = |k: &str, source: &str| {
        ClaimTemplate::parse(source).unwrap_or_else(|e| {
            p.add(
                key(k),
                e.to_string(),
                "write claim names in braces, e.g. \"{preferred_username}\"",
            );
            ClaimTemplate::parse("{sub}")
                .unwrap_or_else(|_| unreachable!("constant template parses"))
        })
    };
    let localpart_template = template("localpart_template", &d.localpart_template);
    let display_name_template = template("display_name_template", &d.display_name_template);
    Department {
        id: d.id.into(),
        name: d.name,
        names,
        logo_url,
        icon: d.icon,
        email_domains,
        homeserver: Homeserver {
            base_url,
            server_name: d.homeserver.server_name,
            oidc_redirect_uris,
        },
        client_secret,
        upstream: d.upstream.into(),
        upstream_params,
        membership: MembershipRule {
            claim: d.membership.claim,
            any_of: d.membership.any_of,
            scopes: d.membership.scopes,
        },
        localpart_template,
        display_name_template,
    }
}
