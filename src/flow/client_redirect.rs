//! The client's `redirectUrl`: what is refused outright, what needs the user's
//! confirmation, and how `loginToken` and `homeserver` are put on it.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUrlError {
    #[error("the redirect URL is missing")]
    Missing,
    #[error("the redirect URL is not a valid absolute URL")]
    Malformed,
    #[error("the redirect URL uses the `{0}:` scheme, which is never allowed")]
    ForbiddenScheme(String),
    #[error("the redirect URL contains a user name or password")]
    Credentials,
    #[error("the redirect URL has no host")]
    NoHost,
    #[error("the redirect URL is longer than {MAX_LENGTH} characters")]
    TooLong,
}

/// Longer than any client's callback; a cap keeps stored flows and pages small.
pub const MAX_LENGTH: usize = 2_048;

/// Schemes that name documents or network services, never an app waiting for a
/// login: refused. Web clients use http(s); native apps use their own
/// private-use scheme (RFC 8252 §7.1: `im.vector.app:/…`, `element://…`).
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ftp",
    "ftps",
    "sftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "sms",
    "news",
    "nntp",
    "gopher",
    "ldap",
    "ldaps",
    "irc",
    "ircs",
    "ssh",
    "telnet",
    "smb",
    "nfs",
    "git",
];

/// A client redirect URL that passed the hard checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    url: Url,
}

impl ClientRedirect {
    /// Refuses what can never be a login target; anything else is kept as given.
    pub fn parse(raw: &str) -> Result<Self, RedirectUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(RedirectUrlError::Missing);
        }
        if raw.len() > MAX_LENGTH {
            return Err(RedirectUrlError::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| RedirectUrlError::Malformed)?;
        if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
            return Err(RedirectUrlError::ForbiddenScheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUrlError::Credentials);
        }
        // Native apps may use custom schemes (`im.vector.app://…`, `element://…`);
        // web URLs must have a host.
        if matches!(url.scheme(), "http" | "https") && url.host().is_none() {
            return Err(RedirectUrlError::NoHost);
        }
        Ok(Self { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// Whether the origin is on the allow-list (parsed origins, never string prefixes).
    pub fn is_trusted(&self, allowed: &[url::Origin], own_origin: &url::Origin) -> bool {
        let origin = self.url.origin();
        origin.is_tuple() && (origin == *own_origin || allowed.contains(&origin))
    }

    /// What the confirmation page names: the whole origin, scheme and port
    /// included (`http://127.0.0.1:7777` is not `https://127.0.0.1`), or the
    /// scheme alone for an app link without a host.
    pub fn display_host(&self) -> String {
        let scheme = self.url.scheme();
        match (self.url.host_str(), self.url.port()) {
            (Some(host), Some(port)) => format!("{scheme}://{host}:{port}"),
            (Some(host), None) => format!("{scheme}://{host}"),
            (None, _) => format!("{scheme}:"),
        }
    }

    /// The URL with exactly one `loginToken` and one `homeserver`, whatever the
    /// client put there before.
    pub fn with_login(&self, login_token: &str, homeserver: &str) -> Url {
        let mut url = self.url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "loginToken" && k != "homeserver")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &kept {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("loginToken", login_token);
            pairs.append_pair("homeserver", homeserver);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<url::Origin> {
        vec![Url::parse("https://app.element.io").unwrap().origin()]
    }

    fn own() -> url::Origin {
        Url::parse("https://matrix.ac.cdl/").unwrap().origin()
    }

    fn trusted(raw: &str) -> bool {
        ClientRedirect::parse(raw)
            .unwrap()
            .is_trusted(&allowed(), &own())
    }

    #[test]
    fn refuses_dangerous_urls() {
        assert_eq!(
            ClientRedirect::parse("javascript:alert(1)"),
            Err(RedirectUrlError::ForbiddenScheme("javascript".into()))
        );
        assert_eq!(
            ClientRedirect::parse(" JavaScript:alert(1)"),
            Err(RedirectUrlError::ForbiddenScheme("javascript".into()))
        );
        assert_eq!(
            ClientRedirect::parse("data:text/html,<script>x</script>"),
            Err(RedirectUrlError::ForbiddenScheme("data".into()))
        );
        assert_eq!(
            ClientRedirect::parse("https://user:pw@app.element.io/"),
            Err(RedirectUrlError::Credentials)
        );
        assert_eq!(
            ClientRedirect::parse("https://app.element.io@evil.example/"),
            Err(RedirectUrlError::Credentials)
        );
        assert_eq!(ClientRedirect::parse(""), Err(RedirectUrlError::Missing));
        assert_eq!(
            ClientRedirect::parse("/relative"),
            Err(RedirectUrlError::Malformed)
        );
    }

    #[test]
    fn allow_list_compares_parsed_origins_not_prefixes() {
        assert!(trusted("https://app.element.io/#/login"));
        assert!(trusted("https://APP.element.io:443/x"));
        assert!(trusted(
            "https://matrix.ac.cdl/_matrix/static/client/login/"
        ));
        assert!(!trusted("https://app.element.io.evil.example/"));
        assert!(!trusted("https://evil.example/https://app.element.io"));
        assert!(!trusted("http://app.element.io/"));
        assert!(!trusted("https://app.element.io:8443/"));
        assert!(!trusted("https://evil.example/?u=https://app.element.io"));
        assert!(!trusted("element://login"));
    }

    #[test]
    fn sets_exactly_one_token_and_homeserver() {
        let r = ClientRedirect::parse(
            "https://app.element.io/cb?loginToken=evil&a=1&homeserver=https://evil.example&loginToken=x#frag",
        )
        .unwrap();
        let url = r.with_login("syl_abc", "https://matrix.eng.ac.cdl/");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("loginToken".into(), "syl_abc".into()),
                ("homeserver".into(), "https://matrix.eng.ac.cdl/".into()),
            ]
        );
        assert_eq!(url.fragment(), Some("frag"));
    }

    #[test]
    fn refuses_schemes_that_are_no_app_and_urls_past_the_cap() {
        for url in [
            "ftp://127.0.0.1:7777/",
            "wss://evil.example/",
            "mailto:a@b.example",
            "tel:+1555",
            "FILE:///etc/passwd",
        ] {
            assert!(
                matches!(
                    ClientRedirect::parse(url),
                    Err(RedirectUrlError::ForbiddenScheme(_))
                ),
                "{url}"
            );
        }
        for app in [
            "element://login",
            "im.vector.app:/cb",
            "io.element.android:/sso",
        ] {
            assert!(ClientRedirect::parse(app).is_ok(), "{app}");
        }
        let long = format!("https://app.example/?q={}", "a".repeat(20_000));
        assert_eq!(ClientRedirect::parse(&long), Err(RedirectUrlError::TooLong));
        let longest = format!("https://app.example/?q={}", "a".repeat(MAX_LENGTH - 23));
        assert_eq!(longest.len(), MAX_LENGTH);
        assert!(ClientRedirect::parse(&longest).is_ok());
    }

    #[test]
    fn names_the_whole_origin_for_the_confirmation_page() {
        assert_eq!(
            ClientRedirect::parse("https://evil.example:8443/x")
                .unwrap()
                .display_host(),
            "https://evil.example:8443"
        );
        assert_eq!(
            ClientRedirect::parse("http://127.0.0.1:7777/cb")
                .unwrap()
                .display_host(),
            "http://127.0.0.1:7777"
        );
        assert_eq!(
            ClientRedirect::parse("https://evil.example/x")
                .unwrap()
                .display_host(),
            "https://evil.example"
        );
        assert_eq!(
            ClientRedirect::parse("element://login")
                .unwrap()
                .display_host(),
            "element://login"
        );
        assert_eq!(
            ClientRedirect::parse("im.app:/cb").unwrap().display_host(),
            "im.app:"
        );
    }
}
