//! Claims or attributes of an upstream user, as a flat map of name → values.

use std::collections::BTreeMap;

/// Each claim may carry one or several string values (OIDC arrays, SAML multi-valued attributes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims(BTreeMap<String, Vec<String>>);

impl Claims {
    pub fn insert(&mut self, name: impl Into<String>, values: Vec<String>) {
        self.0.insert(name.into(), values);
    }

    pub fn values(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name)
            .iter()
            .map(String::as_str)
            .find(|v| !v.is_empty())
    }

    /// Flattens a JSON object (an id_token payload): strings, numbers and booleans
    /// become one value, arrays of those several; nested objects are ignored.
    pub fn from_json(object: &serde_json::Map<String, serde_json::Value>) -> Self {
        let mut claims = Self::default();
        for (name, value) in object {
            let values: Vec<String> = match value {
                serde_json::Value::Array(items) => items.iter().filter_map(scalar).collect(),
                other => scalar(other).into_iter().collect(),
            };
            if !values.is_empty() {
                claims.insert(name.clone(), values);
            }
        }
        claims
    }
}

fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_scalars_and_arrays() {
        let json = serde_json::json!({
            "sub": "u1", "groups": ["a", "b", 3], "verified": true, "address": {"x": 1}
        });
        let claims = Claims::from_json(json.as_object().unwrap());
        assert_eq!(claims.first("sub"), Some("u1"));
        assert_eq!(claims.values("groups"), ["a", "b", "3"]);
        assert_eq!(claims.first("verified"), Some("true"));
        assert!(claims.values("address").is_empty());
    }
}
