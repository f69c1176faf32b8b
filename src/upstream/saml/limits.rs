//! Bounded work per response: one linear pass over the raw bytes counts what
//! makes XML parsers slow (elements, attributes and namespace declarations per
//! element, depth, attribute bytes) and refuses a response past any limit before
//! a parser sees it. Parsers check duplicate attributes and namespace bindings
//! pairwise, so 16,000 attributes on one element cost seconds; here they cost
//! one pass over 170 KB.
//!
//! The scan only counts, it does not judge well-formedness: the parser that runs
//! after it does. It never counts fewer attributes than a parser would see (every
//! attribute of a start tag has its `=` outside quotes).

use super::SamlError;

/// The limits, each far above what real IdPs send: a Shibboleth or pysaml2
/// response with 100 attributes has about 600 elements, 10 attributes per
/// element at most, 3 namespace declarations per element and 400 in all
/// (pysaml2 declares `xs`/`xsi` on every AttributeValue), depth 8 (12 when
/// encrypted) and about 6 KB of attribute values.
#[derive(Debug, Clone, Copy)]
pub struct ShapeLimits {
    pub elements: usize,
    pub attributes_per_element: usize,
    pub namespaces_per_element: usize,
    pub namespaces: usize,
    pub depth: usize,
    pub attribute_bytes: usize,
}

pub const LIMITS: ShapeLimits = ShapeLimits {
    elements: 5_000,
    attributes_per_element: 64,
    namespaces_per_element: 32,
    namespaces: 2_048,
    depth: 48,
    attribute_bytes: 64 * 1024,
};

/// Which limit a response went past; each has its own refusal reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Elements,
    AttributesPerElement,
    NamespacesPerElement,
    Namespaces,
    Depth,
    AttributeBytes,
}

impl Limit {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Elements => "saml_limit_elements",
            Self::AttributesPerElement => "saml_limit_attributes",
            Self::NamespacesPerElement | Self::Namespaces => "saml_limit_namespaces",
            Self::Depth => "saml_limit_depth",
            Self::AttributeBytes => "saml_limit_attribute_bytes",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Elements => "elements",
            Self::AttributesPerElement => "attributes on one element",
            Self::NamespacesPerElement => "namespace declarations on one element",
            Self::Namespaces => "namespace declarations",
            Self::Depth => "depth",
            Self::AttributeBytes => "bytes of attribute values",
        })
    }
}

fn exceeded(what: Limit, limit: usize) -> SamlError {
    SamlError::Limit { what, limit }
}

/// Counts the document's shape in one pass and refuses it past a limit. A
/// DOCTYPE is refused here too: nothing after this point ever sees one.
pub fn check_shape(xml: &str, limits: &ShapeLimits) -> Result<(), SamlError> {
    let bytes = xml.as_bytes();
    let mut at = 0;
    let mut elements = 0usize;
    let mut namespaces = 0usize;
    let mut depth = 0usize;
    let mut attribute_bytes = 0usize;
    while let Some(offset) = memchr(b'<', &bytes[at..]) {
        at += offset + 1;
        let rest = &bytes[at..];
        if rest.starts_with(b"!--") {
            at = skip_past(bytes, at, b"-->");
        } else if rest.starts_with(b"![CDATA[") {
            at = skip_past(bytes, at, b"]]>");
        } else if rest.starts_with(b"!") {
            return Err(SamlError::Doctype);
        } else if rest.starts_with(b"?") {
            at = skip_past(bytes, at, b"?>");
        } else if rest.starts_with(b"/") {
            depth = depth.saturating_sub(1);
            at = skip_past(bytes, at, b">");
        } else {
            elements += 1;
            if elements > limits.elements {
                return Err(exceeded(Limit::Elements, limits.elements));
            }
            let tag = scan_start_tag(bytes, at);
            at = tag.end;
            // Namespace declarations are attributes too; they get their own reason first.
            if tag.namespaces > limits.namespaces_per_element {
                return Err(exceeded(
                    Limit::NamespacesPerElement,
                    limits.namespaces_per_element,
                ));
            }
            if tag.attributes > limits.attributes_per_element {
                return Err(exceeded(
                    Limit::AttributesPerElement,
                    limits.attributes_per_element,
                ));
            }
            namespaces += tag.namespaces;
            if namespaces > limits.namespaces {
                return Err(exceeded(Limit::Namespaces, limits.namespaces));
            }
            attribute_bytes += tag.value_bytes;
            if attribute_bytes > limits.attribute_bytes {
                return Err(exceeded(Limit::AttributeBytes, limits.attribute_bytes));
            }
            if !tag.self_closing {
                depth += 1;
                if depth > limits.depth {
                    return Err(exceeded(Limit::Depth, limits.depth));
                }
            }
        }
    }
    Ok(())
}

struct StartTag {
    /// Just past the tag's `>` (or the end of the input).
    end: usize,
    attributes: usize,
    namespaces: usize,
    value_bytes: usize,
    self_closing: bool,
}

/// Reads a start tag from just after its `<`: every `=` outside quotes is an
/// attribute; one whose name is `xmlns` or starts with `xmlns:` declares a namespace.
fn scan_start_tag(bytes: &[u8], from: usize) -> StartTag {
    let mut tag = StartTag {
        end: bytes.len(),
        attributes: 0,
        namespaces: 0,
        value_bytes: 0,
        self_closing: false,
    };
    let mut name_start = from;
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b'>' => {
                tag.self_closing = at > from && bytes[at - 1] == b'/';
                tag.end = at + 1;
                return tag;
            }
            b'"' | b'\'' => {
                let quote = bytes[at];
                let close = memchr(quote, &bytes[at + 1..]).map_or(bytes.len(), |o| at + 1 + o);
                tag.value_bytes += close - at - 1;
                at = close + 1;
                name_start = at;
                continue;
            }
            b'=' => {
                tag.attributes += 1;
                let name = trim(&bytes[name_start..at]);
                if name == b"xmlns" || name.starts_with(b"xmlns:") {
                    tag.namespaces += 1;
                }
            }
            // A name starts after whitespace (and after the element name).
            b' ' | b'\t' | b'\r' | b'\n'
                if !bytes
                    .get(at + 1)
                    .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'=')) =>
            {
                name_start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    tag
}

fn trim(name: &[u8]) -> &[u8] {
    let start = name
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(name.len());
    let end = name
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &name[start..end]
}

fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    bytes[from..]
        .windows(end.len())
        .position(|w| w == end)
        .map_or(bytes.len(), |p| from + p + end.len())
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(xml: &str) -> Result<(), SamlError> {
        check_shape(xml, &LIMITS)
    }

    fn refused_for(xml: &str) -> Limit {
        match shape(xml) {
            Err(SamlError::Limit { what, .. }) => what,
            other => panic!("expected a limit refusal, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_documents_pass() {
        shape(r#"<a xmlns="urn:x" xmlns:b='urn:y' c = "1"><b:d e="&gt;"/><!-- <x y="1"> --><![CDATA[<z a=1>]]><?pi x="y"?></a>"#)
            .unwrap();
    }

    #[test]
    fn each_limit_has_its_own_refusal() {
        let attributes: String = (0..16_000).map(|i| format!(" a{i}=\"x\"")).collect();
        assert_eq!(
            refused_for(&format!("<r{attributes}/>")),
            Limit::AttributesPerElement
        );
        let namespaces: String = (0..8_000)
            .map(|i| format!(" xmlns:n{i}=\"urn:{i}\""))
            .collect();
        assert_eq!(
            refused_for(&format!("<r{namespaces}/>")),
            Limit::NamespacesPerElement
        );
        let spread: String = (0..3_000)
            .map(|i| format!("<e xmlns:n=\"urn:{i}\"/>"))
            .collect();
        assert_eq!(refused_for(&format!("<r>{spread}</r>")), Limit::Namespaces);
        assert_eq!(
            refused_for(&format!("<r>{}</r>", "<e/>".repeat(50_000))),
            Limit::Elements
        );
        assert_eq!(
            refused_for(&format!("{}{}", "<e>".repeat(100), "</e>".repeat(100))),
            Limit::Depth
        );
        let long = "v".repeat(70 * 1024);
        assert_eq!(
            refused_for(&format!("<r a=\"{long}\"/>")),
            Limit::AttributeBytes
        );
    }

    #[test]
    fn quoted_equals_and_brackets_do_not_count() {
        let tag = scan_start_tag(br#"r a="x=y>z" b='=' >"#, 0);
        assert_eq!(tag.attributes, 2);
        assert_eq!(tag.value_bytes, 6);
        assert!(!tag.self_closing);
        let tag = scan_start_tag(br#"r xmlns = "urn:a" xmlns:p="urn:b" xmlnsx="c"/>"#, 0);
        assert_eq!(tag.namespaces, 2);
        assert_eq!(tag.attributes, 3);
        assert!(tag.self_closing);
    }

    #[test]
    fn a_doctype_is_refused_by_the_scan() {
        assert!(matches!(
            shape("<!DOCTYPE r [<!ENTITY e \"x\">]><r/>"),
            Err(SamlError::Doctype)
        ));
    }

    #[test]
    fn truncated_input_ends_the_scan_without_panicking() {
        for xml in [
            "<",
            "<a",
            "<a b=\"",
            "<!--",
            "<![CDATA[",
            "<?",
            "</",
            "<a b='x'",
        ] {
            let _ = shape(xml);
        }
    }
}
