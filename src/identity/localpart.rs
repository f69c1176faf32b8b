//! Turning a claim value into a valid Matrix localpart.

/// Lower-cases and keeps the characters Matrix allows in a user id localpart
/// (`a-z 0-9 . _ = - /`); anything else becomes `_`, runs of `_` are folded and
/// the ends trimmed. Returns `None` when nothing usable is left.
pub fn sanitize_localpart(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars().flat_map(char::to_lowercase) {
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/".contains(c);
        let c = if keep { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches(['_', '.', '-', '/']).to_owned();
    // Leave room for a de-duplicating suffix within Matrix's 255-byte user id limit.
    let out: String = out.chars().take(200).collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::sanitize_localpart;

    #[test]
    fn keeps_valid_and_maps_the_rest() {
        assert_eq!(sanitize_localpart("alice").as_deref(), Some("alice"));
        assert_eq!(
            sanitize_localpart("Dave.O'Brien").as_deref(),
            Some("dave.o_brien")
        );
        assert_eq!(sanitize_localpart(" Zoë  Ngũ ").as_deref(), Some("zo_ng"));
        assert_eq!(sanitize_localpart("a@b.c").as_deref(), Some("a_b.c"));
    }

    #[test]
    fn nothing_usable_is_none() {
        assert_eq!(sanitize_localpart("   "), None);
        assert_eq!(sanitize_localpart("ééé"), None);
        assert_eq!(sanitize_localpart("__"), None);
    }
}
