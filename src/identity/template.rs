//! Claim templates such as `{given_name} {family_name}`: literal text and claim names in braces.

use super::Claims;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Claim(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTemplate {
    source: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in template {0:?}")]
    Unclosed(String),
    #[error("stray `}}` in template {0:?}: write literal braces as `{{{{` and `}}}}`")]
    Stray(String),
    #[error("empty or invalid claim name in template {0:?}")]
    BadName(String),
    #[error("template {0:?} names no claim")]
    NoClaim(String),
    #[error("the IdP did not send claim `{0}`")]
    MissingClaim(String),
}

impl ClaimTemplate {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unclosed(source.to_owned())),
                        }
                    }
                    let name = name.trim();
                    let valid = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
                    if !valid {
                        return Err(TemplateError::BadName(source.to_owned()));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Claim(name.to_owned()));
                }
                '}' => return Err(TemplateError::Stray(source.to_owned())),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Claim(_))) {
            return Err(TemplateError::NoClaim(source.to_owned()));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills the template; every claim it names must be present and non-empty.
    pub fn render(&self, claims: &Claims) -> Result<String, TemplateError> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Claim(name) => out.push_str(
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

    #[test]
    fn rejects_malformed_templates() {
        assert!(matches!(
            ClaimTemplate::parse("{a"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            ClaimTemplate::parse("a}"),
            Err(TemplateError::Stray(_))
        ));
        assert!(matches!(
            ClaimTemplate::parse("{}"),
            Err(TemplateError::BadName(_))
        ));
        assert!(matches!(
            ClaimTemplate::parse("{a b}"),
            Err(TemplateError::BadName(_))
        ));
        assert!(matches!(
            ClaimTemplate::parse("plain"),
            Err(TemplateError::NoClaim(_))
        ));
    }
}
