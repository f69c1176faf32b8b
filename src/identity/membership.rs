//! The rule that proves a user belongs to a department.

use super::Claims;

/// Member when the claim carries at least one of the accepted values (exact match).
#[derive(Debug, Clone)]
pub struct MembershipRule {
    pub claim: String,
    pub any_of: Vec<String>,
}

impl MembershipRule {
    pub fn admits(&self, claims: &Claims) -> bool {
        claims
            .values(&self.claim)
            .iter()
            .any(|value| self.any_of.iter().any(|accepted| accepted == value))
    }

    /// Plain words for a log line or an operator: what was required.
    pub fn describe(&self) -> String {
        format!("claim `{}` one of {:?}", self.claim, self.any_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> MembershipRule {
        MembershipRule {
            claim: "department".into(),
            any_of: vec!["eng".into(), "eng-staff".into()],
        }
    }

    #[test]
    fn admits_single_and_multi_valued_claims() {
        let mut claims = Claims::default();
        claims.insert("department", vec!["eng".into()]);
        assert!(rule().admits(&claims));
        let mut claims = Claims::default();
        claims.insert("department", vec!["hist".into(), "eng-staff".into()]);
        assert!(rule().admits(&claims));
    }

    #[test]
    fn refuses_other_values_missing_claim_and_near_misses() {
        let mut claims = Claims::default();
        claims.insert("department", vec!["hist".into()]);
        assert!(!rule().admits(&claims));
        assert!(!rule().admits(&Claims::default()));
        let mut claims = Claims::default();
        claims.insert("department", vec!["ENG".into(), "engineering".into()]);
        assert!(!rule().admits(&claims));
        let mut claims = Claims::default();
        claims.insert("other", vec!["eng".into()]);
        assert!(!rule().admits(&claims));
    }
}
