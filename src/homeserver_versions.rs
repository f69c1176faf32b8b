//! The central `/versions`: what every department's homeserver supports. Clients
//! decide from it, before the login, what they may use (matrix-rust-sdk, as in
//! Element X, stops at `build()` without the sliding-sync flag every department
//! advertises). The bridge advertises the spec versions and unstable features
//! that all departments share, fetched at start and refreshed, beside its own
//! MSC1730/MSC1731 flags.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};
use url::Url;

/// What the bridge answers before it has heard from any department.
const DEFAULT_VERSIONS: &[&str] = &[
    "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10",
    "v1.11", "v1.12",
];
/// The bridge's own, always advertised.
const OWN_FEATURES: &[&str] = &["org.matrix.msc1731", "org.matrix.msc1730"];

/// One homeserver's `/versions`, as far as the bridge uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supported {
    pub versions: Vec<String>,
    /// Unstable features the homeserver says are on.
    pub features: Vec<String>,
}

impl Supported {
    pub fn from_answer(answer: &Value) -> Option<Self> {
        let versions = answer
            .get("versions")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let features = answer
            .get("unstable_features")
            .and_then(Value::as_object)
            .map(|features| {
                features
                    .iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        Some(Self { versions, features })
    }
}

/// The answer to `/versions` for departments that support `each`: their shared
/// versions (in the first one's order) and features, with the bridge's flags.
pub fn shared_answer(each: &[&Supported]) -> Value {
    let versions: Vec<&str> = match each.split_first() {
        None => DEFAULT_VERSIONS.to_vec(),
        Some((first, rest)) => first
            .versions
            .iter()
            .filter(|v| rest.iter().all(|other| other.versions.contains(v)))
            .map(String::as_str)
            .collect(),
    };
    let mut features = Map::new();
    if let Some((first, rest)) = each.split_first() {
        for feature in &first.features {
            if rest.iter().all(|other| other.features.contains(feature)) {
                features.insert(feature.clone(), Value::Bool(true));
            }
        }
    }
    for own in OWN_FEATURES {
        features.insert((*own).to_owned(), Value::Bool(true));
    }
    serde_json::json!({ "versions": versions, "unstable_features": features })
}

/// The last answer of each department's homeserver, and the central answer
/// built from them.
pub struct DepartmentVersions {
    answers: RwLock<BTreeMap<String, Supported>>,
    central: RwLock<Arc<Value>>,
}

impl Default for DepartmentVersions {
    fn default() -> Self {
        Self {
            answers: RwLock::new(BTreeMap::new()),
            central: RwLock::new(Arc::new(shared_answer(&[]))),
        }
    }
}

impl DepartmentVersions {
    /// The central `/versions` answer.
    pub fn central(&self) -> Arc<Value> {
        self.central
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks every homeserver again; one that does not answer keeps its last
    /// answer (and is left out until it has given one). Returns the homeservers
    /// that did not answer, for the log.
    pub async fn refresh(&self, http: &reqwest::Client, homeservers: &[&Url]) -> Vec<String> {
        let asked = homeservers.iter().map(|homeserver| fetch(http, homeserver));
        let answered = futures_util::future::join_all(asked).await;
        let mut silent = Vec::new();
        for (homeserver, answer) in homeservers.iter().zip(answered) {
            match answer {
                Some(supported) => {
                    self.answers
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(homeserver.to_string(), supported);
                }
                None => silent.push(homeserver.to_string()),
            }
        }
        let answers = self.answers.read().unwrap_or_else(|e| e.into_inner());
        let each: Vec<&Supported> = answers.values().collect();
        *self.central.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(shared_answer(&each));
        silent
    }
}

async fn fetch(http: &reqwest::Client, homeserver: &Url) -> Option<Supported> {
    let mut url = homeserver.clone();
    url.set_path(&format!("{}_matrix/client/versions", homeserver.path()));
    let response = http
        .get(url.as_str())
        .timeout(crate::homeserver::CHECK_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    Supported::from_answer(&response.json().await.ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supported(versions: &[&str], features: &[(&str, bool)]) -> Supported {
        let features: Map<String, Value> = features
            .iter()
            .map(|(k, on)| ((*k).to_owned(), Value::Bool(*on)))
            .collect();
        Supported::from_answer(
            &serde_json::json!({ "versions": versions, "unstable_features": features }),
        )
        .unwrap()
    }

    #[test]
    fn the_central_answer_is_what_every_department_shares_plus_the_bridges_flags() {
        let eng = supported(
            &["v1.10", "v1.11", "v1.12"],
            &[
                ("org.matrix.simplified_msc3575", true),
                ("org.matrix.msc3882", true),
            ],
        );
        let hist = supported(
            &["v1.11", "v1.12", "v1.13"],
            &[
                ("org.matrix.simplified_msc3575", true),
                ("org.matrix.msc3882", false),
            ],
        );
        let answer = shared_answer(&[&eng, &hist]);
        assert_eq!(answer["versions"], serde_json::json!(["v1.11", "v1.12"]));
        let features = answer["unstable_features"].as_object().unwrap();
        assert_eq!(features["org.matrix.simplified_msc3575"], true);
        assert!(!features.contains_key("org.matrix.msc3882"), "off at hist");
        assert_eq!(features["org.matrix.msc1731"], true);
        assert_eq!(features["org.matrix.msc1730"], true);
    }

    #[test]
    fn before_any_department_answers_the_bridge_says_what_it_knows() {
        let answer = shared_answer(&[]);
        assert!(
            answer["versions"]
                .as_array()
                .unwrap()
                .contains(&Value::from("v1.12"))
        );
        assert_eq!(answer["unstable_features"].as_object().unwrap().len(), 2);
        assert!(Supported::from_answer(&serde_json::json!({"no": "versions"})).is_none());
    }
}
