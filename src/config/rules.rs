//! The rules a department's config states about claims: membership, and the
//! templates of localparts and display names. Parsed and checked here, at
//! start; what they mean for a user's claims is the identity layer's
//! (`crate::identity`), so the config never depends on it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
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

    /// The template's parts, for the identity layer that renders them.
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }
}

/// The rule that proves a user belongs to a department.
#[derive(Debug, Clone)]
pub struct MembershipRule {
    pub claim: String,
    pub any_of: Vec<String>,
    pub scopes: Vec<String>,
}

impl MembershipRule {
    /// Plain words for a log line or an operator: what was required.
    pub fn describe(&self) -> String {
        match (self.any_of.is_empty(), self.scopes.is_empty()) {
            (false, true) => format!("claim `{}` one of {:?}", self.claim, self.any_of),
            (true, false) => format!("claim `{}` scoped to one of {:?}", self.claim, self.scopes),
            _ => format!(
                "claim `{}` one of {:?} or scoped to one of {:?}",
                self.claim, self.any_of, self.scopes
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
