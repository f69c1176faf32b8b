//! The identifiers a login carries, each its own type so that one cannot be
//! passed for another: a flow's id where a department's is expected does not
//! compile. They read as `&str` (for queries, logs and labels) and are made
//! from the strings they were parsed or generated as.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        /// Shown as the quoted text it is, as messages quote ids (`{:?}`).
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
    };
}

id_type! {
    /// A login in progress (`flows.id`): 32 hex characters from the random source.
    FlowId
}

id_type! {
    /// A department (`[[departments]] id`): also its homeserver's OAuth `client_id`.
    DepartmentId
}

id_type! {
    /// A university IdP (`[[upstreams]] id`), as it appears in callback paths.
    UpstreamId
}

id_type! {
    /// A bridge identity (`identities.id`): the `sub` homeservers see.
    IdentityId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_as_its_text_and_compares_with_strings() {
        let id = DepartmentId::from("eng");
        assert_eq!(id, "eng");
        assert_eq!(id.as_str(), "eng");
        assert_eq!(id.to_string(), "eng");
        assert_eq!(format!("{id:?}"), r#""eng""#);
        assert_eq!(&*id, "eng");
        assert_eq!(String::from(id), "eng");
        let lookup: std::collections::HashMap<FlowId, u8> = [(FlowId::new("f1"), 1)].into();
        assert_eq!(lookup.get("f1"), Some(&1));
    }
}
