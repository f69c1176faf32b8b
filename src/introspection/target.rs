//! Which homeservers to ask: the one a hint names, or every department's.

use url::Url;

use super::IntrospectionError;
use crate::config::Config;
use crate::ids::DepartmentId;

/// One homeserver and the departments it serves.
#[derive(Debug, Clone)]
pub struct Target {
    pub base_url: Url,
    pub server_name: String,
    /// Department ids, in config order.
    pub departments: Vec<DepartmentId>,
}

/// Groups the departments by homeserver, once at start.
pub fn all(config: &Config) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for department in &config.departments {
        let hs = &department.homeserver;
        match targets.iter_mut().find(|t| t.base_url == hs.base_url) {
            Some(target) => target.departments.push(department.id.clone()),
            None => targets.push(Target {
                base_url: hs.base_url.clone(),
                server_name: hs.server_name.clone(),
                departments: vec![department.id.clone()],
            }),
        }
    }
    targets
}

/// The targets a hint selects: a homeserver URL, a server name, or a user ID.
/// No hint: all of them. A hint that matches nothing is refused, so a caller
/// can never make the bridge contact a server it does not know.
pub fn select<'a>(
    targets: &'a [Target],
    hint: Option<&str>,
) -> Result<Vec<&'a Target>, IntrospectionError> {
    let Some(hint) = hint.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(targets.iter().collect());
    };
    let matches: Vec<&Target> = if hint.starts_with("http://") || hint.starts_with("https://") {
        let url = Url::parse(hint)
            .map(with_trailing_slash)
            .map_err(|_| IntrospectionError::UnknownHomeserver(hint.to_owned()))?;
        targets.iter().filter(|t| t.base_url == url).collect()
    } else {
        let server = match hint.strip_prefix('@') {
            Some(user_id) => user_id.split_once(':').map_or("", |(_, s)| s),
            None => hint,
        };
        targets
            .iter()
            .filter(|t| t.server_name.eq_ignore_ascii_case(server))
            .collect()
    };
    if matches.is_empty() {
        return Err(IntrospectionError::UnknownHomeserver(hint.to_owned()));
    }
    Ok(matches)
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<Target> {
        let target = |url: &str, name: &str, depts: &[&str]| Target {
            base_url: Url::parse(url).unwrap_or_else(|_| unreachable!()),
            server_name: name.into(),
            departments: depts.iter().map(|&d| d.into()).collect(),
        };
        vec![
            target("https://matrix.eng.ac.cdl/", "eng.ac.cdl", &["eng", "mech"]),
            target("https://hist.ac.cdl/matrix/", "hist.ac.cdl", &["hist"]),
        ]
    }

    fn names(selected: Result<Vec<&Target>, IntrospectionError>) -> Vec<String> {
        selected
            .map(|ts| ts.iter().map(|t| t.server_name.clone()).collect())
            .unwrap_or_else(|e| vec![e.reason().to_owned()])
    }

    #[test]
    fn hints_select_by_url_server_name_or_user_id() {
        let t = targets();
        assert_eq!(names(select(&t, None)), ["eng.ac.cdl", "hist.ac.cdl"]);
        assert_eq!(names(select(&t, Some(" "))), ["eng.ac.cdl", "hist.ac.cdl"]);
        assert_eq!(
            names(select(&t, Some("https://matrix.eng.ac.cdl"))),
            ["eng.ac.cdl"]
        );
        assert_eq!(
            names(select(&t, Some("https://hist.ac.cdl/matrix"))),
            ["hist.ac.cdl"]
        );
        assert_eq!(names(select(&t, Some("HIST.ac.cdl"))), ["hist.ac.cdl"]);
        assert_eq!(names(select(&t, Some("@alice:eng.ac.cdl"))), ["eng.ac.cdl"]);
    }

    #[test]
    fn unknown_hints_are_refused() {
        let t = targets();
        for hint in [
            "https://evil.example/",
            "https://matrix.eng.ac.cdl.evil.example/",
            "http://matrix.eng.ac.cdl/",
            "https://hist.ac.cdl/",
            "evil.example",
            "@alice:evil.example",
            "@alice",
            "https://[::1",
        ] {
            assert_eq!(
                names(select(&t, Some(hint))),
                ["unknown_homeserver"],
                "{hint}"
            );
        }
    }
}
