//! From a verified assertion to the upstream identity: the audience, the claims
//! (attributes by Name, and by the documented alias of a well-known Name), the
//! stable subject, and how long the replay cache must remember the assertion.

use chrono::{DateTime, Utc};
use samael::schema::Assertion;

use super::{SamlError, VerifiedAssertion};
use crate::identity::{Claims, UpstreamIdentity, UpstreamSession};

const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// Well-known attribute Names and the aliases templates and rules may use for
/// them. The alias is ours, tied to the Name: whatever FriendlyName an IdP
/// writes next to another Name never reaches these claims.
pub const ALIASES: &[(&str, &str)] = &[
    ("urn:oid:0.9.2342.19200300.100.1.1", "uid"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "mail"),
    ("urn:oid:2.5.4.3", "cn"),
    ("urn:oid:2.5.4.4", "sn"),
    ("urn:oid:2.5.4.42", "givenName"),
    ("urn:oid:2.5.4.11", "ou"),
    ("urn:oid:2.16.840.1.113730.3.1.241", "displayName"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "eduPersonAffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "eduPersonScopedAffiliation",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "eduPersonTargetedID"),
];

/// How the mapping reads an IdP's attributes.
#[derive(Debug, Clone)]
pub struct MappingRules {
    pub subject_attribute: Option<String>,
    /// Offer attributes under their FriendlyName too (`friendly_names = true`).
    pub friendly_names: bool,
}

pub fn check_audience(assertion: &Assertion, entity_id: &str) -> Result<(), SamlError> {
    let named = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|restrictions| {
            !restrictions.is_empty()
                && restrictions
                    .iter()
                    .all(|r| r.audience.iter().any(|a| a == entity_id))
        });
    if named {
        Ok(())
    } else {
        Err(SamlError::Audience)
    }
}

/// The claims an assertion offers: each attribute by Name, by our alias of a
/// well-known Name, and by FriendlyName only where the configuration asks.
/// A claim named by a Name wins over the same word used as a FriendlyName.
pub fn claims(assertion: &Assertion, friendly_names: bool) -> Claims {
    let mut claims = Claims::default();
    let mut friendly: Vec<(&str, Vec<String>)> = Vec::new();
    for statement in assertion.attribute_statements.iter().flatten() {
        for attribute in &statement.attributes {
            let values: Vec<String> = attribute
                .values
                .iter()
                .filter_map(|v| v.value.clone())
                .collect();
            if let Some(name) = attribute.name.as_deref() {
                claims.insert(name, values.clone());
                if let Some((_, alias)) = ALIASES.iter().find(|(oid, _)| *oid == name) {
                    claims.insert(*alias, values.clone());
                }
            }
            if friendly_names && let Some(hint) = attribute.friendly_name.as_deref() {
                friendly.push((hint, values));
            }
        }
    }
    for (hint, values) in friendly {
        if claims.first(hint).is_none() {
            claims.insert(hint, values);
        }
    }
    if let Some(name_id) = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref()) {
        claims.insert("name_id", vec![name_id.value.clone()]);
    }
    claims
}

pub fn to_verified(
    assertion: &Assertion,
    idp_entity_id: &str,
    rules: &MappingRules,
    skew: i64,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, SamlError> {
    let claims = claims(assertion, rules.friendly_names);
    let name_id = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref());
    let subject = match rules.subject_attribute.as_deref() {
        Some(attribute) => claims.first(attribute).map(str::to_owned).ok_or_else(|| {
            SamlError::Subject(format!("the stable attribute {attribute:?} is missing"))
        })?,
        None => {
            let name_id = name_id.ok_or_else(|| SamlError::Subject("no NameID".into()))?;
            if name_id.format.as_deref() != Some(PERSISTENT) {
                return Err(SamlError::Subject(format!(
                    "the NameID is not persistent ({}) and no subject_attribute is configured",
                    name_id.format.as_deref().unwrap_or("no format")
                )));
            }
            name_id.value.trim().to_owned()
        }
    };
    if subject.is_empty() {
        return Err(SamlError::Subject("the subject is empty".into()));
    }
    let mut until = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    for confirmation in assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
    {
        if let Some(at) = confirmation
            .subject_confirmation_data
            .as_ref()
            .and_then(|d| d.not_on_or_after)
        {
            until = Some(until.map_or(at, |u| u.max(at)));
        }
    }
    let expires_at = until.unwrap_or(now).timestamp() + skew + 300;
    Ok(VerifiedAssertion {
        assertion_id: assertion.id.clone(),
        expires_at,
        identity: UpstreamIdentity {
            issuer: idp_entity_id.to_owned(),
            subject,
            claims,
            session: UpstreamSession {
                id: assertion
                    .authn_statements
                    .iter()
                    .flatten()
                    .find_map(|s| s.session_index.clone()),
                name_id: name_id.map(|n| n.value.trim().to_owned()),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(attributes: &str) -> Assertion {
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>i</saml:Issuer><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#
        )
        .parse()
        .unwrap()
    }

    const SELF_SERVICE_OU: &str = r#"<saml:Attribute Name="urn:example:selfservice" FriendlyName="ou"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:2.5.4.11" FriendlyName="ou"><saml:AttributeValue>hist</saml:AttributeValue></saml:Attribute>"#;

    #[test]
    fn a_friendly_name_never_stands_for_another_name() {
        let claims = claims(&assertion(SELF_SERVICE_OU), false);
        assert_eq!(claims.first("ou"), Some("hist"));
        assert_eq!(claims.first("urn:example:selfservice"), Some("eng"));
        let alone = r#"<saml:Attribute Name="urn:example:selfservice" FriendlyName="ou"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute>"#;
        assert_eq!(claims_of(alone, false).first("ou"), None);
    }

    fn claims_of(attributes: &str, friendly: bool) -> Claims {
        claims(&assertion(attributes), friendly)
    }

    #[test]
    fn friendly_names_only_when_configured_and_never_over_a_name() {
        let alone = r#"<saml:Attribute Name="urn:example:dept" FriendlyName="department"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute>"#;
        assert_eq!(claims_of(alone, false).first("department"), None);
        assert_eq!(claims_of(alone, true).first("department"), Some("eng"));
        // Even when asked for, the alias of the real ou attribute wins.
        assert_eq!(claims_of(SELF_SERVICE_OU, true).first("ou"), Some("hist"));
    }
}
