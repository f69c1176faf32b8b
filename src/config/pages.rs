//! `[pages]`: how the bridge's pages present the university (its name and logo
//! in every page's header).

use serde::Deserialize;
use url::Url;

use super::validate::Problems;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesFile {
    /// Shown in every page's header, e.g. "University of Example".
    pub university_name: Option<String>,
    /// An absolute http(s) URL of the university's logo, shown beside its name.
    pub university_logo_url: Option<String>,
    /// More origins the picker's form may lead to (CSP `form-action`), besides
    /// the IdPs' login pages and the allowed redirect origins: those an IdP with
    /// a live session passes the browser through (e.g. a federation proxy).
    #[serde(default)]
    pub form_targets: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Pages {
    pub university_name: Option<String>,
    pub university_logo_url: Option<Url>,
    pub form_targets: Vec<url::Origin>,
}

pub(super) fn validate(p: &mut Problems, file: PagesFile) -> Pages {
    let university_name = file.university_name.map(|n| n.trim().to_owned());
    if let Some(name) = &university_name
        && (name.is_empty() || name.chars().count() > 100)
    {
        p.add(
            "pages.university_name",
            "must be 1 to 100 characters",
            "give the university's name as users know it, or remove the key",
        );
    }
    let university_logo_url = file
        .university_logo_url
        .and_then(|logo| match Url::parse(&logo) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            _ => {
                p.add(
                    "pages.university_logo_url",
                    format!("{logo:?} is not an absolute http(s) URL"),
                    "give the absolute URL of an image (https://…/logo.svg), or remove the key",
                );
                None
            }
        });
    if university_logo_url.is_some() && university_name.is_none() {
        p.add(
            "pages.university_logo_url",
            "a logo needs a name beside it (its text alternative)",
            "set pages.university_name too",
        );
    }
    let mut form_targets = Vec::new();
    for (i, origin) in file.form_targets.iter().enumerate() {
        match Url::parse(origin) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.path() == "/"
                    && url.query().is_none() =>
            {
                form_targets.push(url.origin());
            }
            _ => p.add(
                format!("pages.form_targets[{i}]"),
                format!("{origin:?} is not an origin"),
                "write scheme, host and optional port only, e.g. \"https://proxy.idp.ac.cdl\"",
            ),
        }
    }
    Pages {
        university_name,
        university_logo_url,
        form_targets,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, SAMPLE};

    #[test]
    fn the_university_header_and_department_names_per_language() {
        let config = Config::parse(&format!(
            "{}\n[pages]\nuniversity_name = \"University of Example\"\n\
             university_logo_url = \"https://www.example.edu/logo.svg\"\n",
            SAMPLE.replace(
                "name = \"Engineering\"",
                "name = \"Engineering\"\nnames = { fr = \"Ingénierie\" }"
            )
        ))
        .unwrap();
        assert_eq!(
            config.pages.university_name.as_deref(),
            Some("University of Example")
        );
        let eng = &config.departments[0];
        assert_eq!(eng.name_in("fr"), "Ingénierie");
        assert_eq!(eng.name_in("en"), "Engineering");
    }

    #[test]
    fn a_bad_header_or_an_unknown_language_names_its_key() {
        let err = Config::parse(&format!(
            "{}\n[pages]\nuniversity_logo_url = \"logo.svg\"\n",
            SAMPLE.replace(
                "name = \"Engineering\"",
                "name = \"Engineering\"\nnames = { de = \"Ingenieurwesen\" }"
            )
        ))
        .unwrap_err()
        .to_string();
        for needle in [
            "`pages.university_logo_url`",
            "`departments[0].names.de`",
            "use one of en, fr",
        ] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }
}
