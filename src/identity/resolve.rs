//! Finds or creates the bridge identity for an upstream user at a department.

use super::{UpstreamIdentity, sanitize_localpart};
use crate::config::Department;
use crate::config::TemplateError;
use crate::random::Random;
use crate::store::{IdentityRow, NewIdentity, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot build a Matrix user name: {0}")]
    Localpart(TemplateError),
    #[error("the user name {0:?} from the identity provider has no usable characters")]
    EmptyLocalpart(String),
    #[error("no free user name near {0:?}")]
    Exhausted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many suffixed variants (`alice2` … ) to try before giving up.
const MAX_SUFFIX: u32 = 100;

/// Identity is keyed on (department, issuer, subject); the localpart is chosen once,
/// and a localpart taken by someone else gets a numeric suffix rather than merging
/// two people into one account.
pub async fn resolve_identity(
    store: &Store,
    random: &Random,
    now: i64,
    department: &Department,
    upstream: &UpstreamIdentity,
) -> Result<IdentityRow, MappingError> {
    let display_name = department
        .display_name_template
        .render(&upstream.claims)
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let key = IdentityKey {
        department: &department.id,
        issuer: &upstream.issuer,
        subject: &upstream.subject,
    };
    find_or_create_identity(store, random, now, &key, display_name.as_deref(), || {
        let raw = department
            .localpart_template
            .render(&upstream.claims)
            .map_err(MappingError::Localpart)?;
        sanitize_localpart(&raw).ok_or(MappingError::EmptyLocalpart(raw))
    })
    .await
}

/// Who someone is: a person as one IdP names them, at one department.
pub struct IdentityKey<'a> {
    pub department: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
}

/// The identity of `key` (its display name refreshed), or a new one whose
/// localpart is `localpart()` or, when someone else has that, the first free
/// suffixed variant. `localpart` is only asked for a new identity: a known
/// person keeps their account even if the IdP stops sending that claim.
pub async fn find_or_create_identity(
    store: &Store,
    random: &Random,
    now: i64,
    key: &IdentityKey<'_>,
    display_name: Option<&str>,
    localpart: impl FnOnce() -> Result<String, MappingError>,
) -> Result<IdentityRow, MappingError> {
    if let Some(existing) = store
        .touch_identity_by_subject(key.department, key.issuer, key.subject, display_name, now)
        .await?
    {
        return Ok(existing);
    }
    let base = localpart()?;
    let id = random.id();
    for attempt in 1..=MAX_SUFFIX {
        let localpart = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}{attempt}")
        };
        let inserted = store
            .insert_identity(NewIdentity {
                id: &id,
                department: key.department,
                issuer: key.issuer,
                subject: key.subject,
                localpart: &localpart,
                display_name,
                now,
            })
            .await;
        match inserted {
            Ok(()) => {
                if attempt > 1 {
                    tracing::warn!(
                        department = %key.department,
                        wanted = %base,
                        assigned = %localpart,
                        "localpart already taken by another person; assigned a suffixed one"
                    );
                }
                return Ok(IdentityRow {
                    id,
                    department: key.department.to_owned(),
                    issuer: key.issuer.to_owned(),
                    subject: key.subject.to_owned(),
                    localpart,
                    display_name: display_name.map(str::to_owned),
                });
            }
            Err(e) if e.is_unique_violation() => {
                // Either the localpart is taken, or a concurrent login of the same
                // person created the identity first.
                if let Some(existing) = store
                    .identity_by_subject(key.department, key.issuer, key.subject)
                    .await?
                {
                    return Ok(existing);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(MappingError::Exhausted(base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClaimTemplate, MembershipRule};
    use crate::identity::Claims;

    fn department() -> Department {
        let config = crate::config::Config::parse(crate::config::SAMPLE).unwrap();
        let mut d = config.departments[0].clone();
        d.membership = MembershipRule {
            claim: "department".into(),
            any_of: vec!["eng".into()],
            scopes: Vec::new(),
        };
        d.localpart_template = ClaimTemplate::parse("{preferred_username}").unwrap();
        d
    }

    fn person(subject: &str, username: &str, name: &str) -> UpstreamIdentity {
        let mut claims = Claims::default();
        claims.insert("preferred_username", vec![username.into()]);
        claims.insert("name", vec![name.into()]);
        UpstreamIdentity {
            issuer: "https://idp.ac.cdl".into(),
            subject: subject.into(),
            claims,
            session: Default::default(),
        }
    }

    #[tokio::test]
    async fn same_subject_same_identity_and_collisions_get_suffixes() {
        let store = crate::store::memory_store().await;
        let random = Random::seeded(1);
        let dept = department();
        let alice = resolve_identity(&store, &random, 1, &dept, &person("s1", "Alice", "Alice L"))
            .await
            .unwrap();
        assert_eq!(alice.localpart, "alice");
        let again = resolve_identity(
            &store,
            &random,
            2,
            &dept,
            &person("s1", "renamed", "Alice Liddell"),
        )
        .await
        .unwrap();
        assert_eq!(again.id, alice.id);
        assert_eq!(again.localpart, "alice", "the localpart never changes");
        assert_eq!(again.display_name.as_deref(), Some("Alice Liddell"));
        let stored = store.identity(&alice.id).await.unwrap().unwrap();
        assert_eq!(stored.display_name.as_deref(), Some("Alice Liddell"));
        let carol = resolve_identity(&store, &random, 3, &dept, &person("s2", "alice", "Carol"))
            .await
            .unwrap();
        assert_ne!(carol.id, alice.id, "two people are never merged");
        assert_eq!(carol.localpart, "alice2");
        let third = resolve_identity(&store, &random, 4, &dept, &person("s3", "ALICE", "Third"))
            .await
            .unwrap();
        assert_eq!(third.localpart, "alice3");
    }

    #[tokio::test]
    async fn unusable_user_names_are_errors() {
        let store = crate::store::memory_store().await;
        let random = Random::seeded(1);
        let err = resolve_identity(&store, &random, 1, &department(), &person("s1", "ééé", "x"))
            .await
            .unwrap_err();
        assert!(matches!(err, MappingError::EmptyLocalpart(_)));
        let mut nobody = person("s2", "x", "x");
        nobody.claims = Claims::default();
        let err = resolve_identity(&store, &random, 1, &department(), &nobody)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            MappingError::Localpart(TemplateError::MissingClaim(_))
        ));
    }
}
