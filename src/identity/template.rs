//! What a claim template (`{given_name} {family_name}`, parsed with the
//! config) makes of a user's claims.

use super::Claims;
use crate::config::{ClaimTemplate, TemplateError, TemplatePiece};

impl ClaimTemplate {
    /// Fills the template; every claim it names must be present and non-empty.
    pub fn render(&self, claims: &Claims) -> Result<String, TemplateError> {
        let mut out = String::new();
        for piece in self.pieces() {
            match piece {
                TemplatePiece::Literal(text) => out.push_str(text),
                TemplatePiece::Claim(name) => out.push_str(
                    claims
                        .first(name)
                        .ok_or_else(|| TemplateError::MissingClaim(name.clone()))?,
                ),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClaimTemplate, TemplateError};

    fn claims() -> Claims {
        let mut c = Claims::default();
        c.insert("given_name", vec!["Alice".into()]);
        c.insert("family_name", vec!["Liddell".into()]);
        c.insert("urn:oid:2.5.4.11", vec!["eng".into()]);
        c
    }

    #[test]
    fn renders_claims_and_literals() {
        let t = ClaimTemplate::parse("{given_name} {family_name} ({{x}})").unwrap();
        assert_eq!(t.render(&claims()).unwrap(), "Alice Liddell ({x})");
        let t = ClaimTemplate::parse("{urn:oid:2.5.4.11}").unwrap();
        assert_eq!(t.render(&claims()).unwrap(), "eng");
    }

    #[test]
    fn missing_claim_is_an_error_not_an_empty_string() {
        let t = ClaimTemplate::parse("{preferred_username}").unwrap();
        assert_eq!(
            t.render(&claims()),
            Err(TemplateError::MissingClaim("preferred_username".into()))
        );
    }
}
