//! Whether a user's claims satisfy a department's membership rule (parsed
//! with the config).

use super::Claims;
use crate::config::MembershipRule;

impl MembershipRule {
    pub fn admits(&self, claims: &Claims) -> bool {
        claims.values(&self.claim).iter().any(|value| {
            self.any_of.iter().any(|accepted| accepted == value)
                || value.rsplit_once('@').is_some_and(|(user, scope)| {
                    !user.is_empty() && self.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MembershipRule;

    fn rule() -> MembershipRule {
        MembershipRule {
            claim: "department".into(),
            any_of: vec!["eng".into(), "eng-staff".into()],
            scopes: Vec::new(),
        }
    }

    #[test]
    fn scoped_values_match_on_their_scope_only() {
        let rule = MembershipRule {
            claim: "eduPersonScopedAffiliation".into(),
            any_of: Vec::new(),
            scopes: vec!["eng.ac.cdl".into()],
        };
        let with = |v: &str| {
            let mut c = Claims::default();
            c.insert("eduPersonScopedAffiliation", vec![v.into()]);
            c
        };
        assert!(rule.admits(&with("member@eng.ac.cdl")));
        assert!(rule.admits(&with("staff@ENG.ac.cdl")));
        assert!(!rule.admits(&with("member@hist.ac.cdl")));
        assert!(!rule.admits(&with("member@evil.eng.ac.cdl.example")));
        assert!(!rule.admits(&with("@eng.ac.cdl")));
        assert!(!rule.admits(&with("eng.ac.cdl")));
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
