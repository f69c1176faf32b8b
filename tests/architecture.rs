//! The direction of the imports, checked: every module of `src/` sits in a
//! layer, and may use modules of lower layers only (docs/architecture.md states
//! the same table). An import against the direction fails this test, with the
//! file that makes it.
//!
//! It reads the source as text (no dependency, no build of the crate): every
//! `crate::module` path, including the ones inside `use crate::{…}` groups, and
//! `super::module` where `super` is the crate root. Comments and the
//! `#[cfg(test)]` part of a file are left out: unit tests may reach anywhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first. A module may import the modules of the layers before its own.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &["clock", "encoding", "ids", "metrics", "outbound", "routes"],
    ),
    ("randomness", &["random"]),
    ("cryptography", &["crypto"]),
    ("shared helpers", &["rate_limit", "client_auth"]),
    ("configuration", &["config"]),
    ("storage", &["store"]),
    (
        "domain leaves",
        &["identity", "homeserver", "homeserver_config"],
    ),
    (
        "domain",
        &[
            "upstream",
            "provider",
            "homeserver_versions",
            "introspection",
        ],
    ),
    ("orchestration", &["flow", "logout"]),
    ("operator tools", &["doctor", "commands"]),
    ("the request being served", &["request_context"]),
    ("application state and logs", &["services", "logging"]),
    ("HTTP edge", &["http"]),
];

/// Outside crates that only these modules may name: nothing below the edge
/// knows about HTTP requests or pages.
const EDGE_CRATES: &[(&str, &[&str])] = &[
    ("actix_web", &["http", "request_context"]),
    ("actix_http", &["http", "request_context"]),
    ("askama", &["http"]),
];

/// Files that are not a layer: the binary's CLI and the crate root.
const OUTSIDE_LAYERS: &[&str] = &["main", "lib"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Offence {
    file: String,
    uses: String,
    why: String,
}

#[test]
fn imports_go_one_way_from_the_http_edge_down() {
    let root = source_root();
    let mut offences = BTreeSet::new();
    for (file, text) in rust_files(&root) {
        offences.extend(check_file(&file, &text));
    }
    assert!(
        offences.is_empty(),
        "imports against the direction (see docs/architecture.md):\n{}",
        offences
            .iter()
            .map(|o| format!("  {} uses {}: {}", o.file, o.uses, o.why))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_module_has_a_layer() {
    let root = source_root();
    let mut unplaced = BTreeSet::new();
    for (file, _) in rust_files(&root) {
        let module = top_module(&file);
        if layer_of(&module).is_none() && !OUTSIDE_LAYERS.contains(&module.as_str()) {
            unplaced.insert(module);
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules without a layer in tests/architecture.rs (and docs/architecture.md): {unplaced:?}"
    );
}

/// The checker itself: an import upwards, one inside a `use` group, one by
/// `super` from a module root, and an HTTP type below the edge are all found;
/// imports downwards and inside unit tests are not.
#[test]
fn the_check_finds_imports_against_the_direction() {
    let provider = "use crate::store::Store;\n\
                    use crate::{config::Config, flow::Next};\n\
                    // use crate::http::app;\n\
                    fn f() -> actix_web::HttpResponse { todo() }\n\
                    #[cfg(test)]\nmod tests { use crate::services::Services; }\n";
    let found: Vec<String> = check_file("provider/token.rs", provider)
        .into_iter()
        .map(|o| o.uses)
        .collect();
    assert_eq!(found, ["flow", "actix_web"]);
    let store_root = "use super::services::Services;\n";
    let found: Vec<String> = check_file("store/mod.rs", store_root)
        .into_iter()
        .map(|o| o.uses)
        .collect();
    assert_eq!(found, ["services"]);
    assert!(check_file("http/mod.rs", "use crate::{flow, services::Services};").is_empty());
}

/// Inside the login flow (`src/flow/`), lowest first: the entry points use
/// the steps and never each other, so its modules form no circle.
const FLOW_LAYERS: &[(&str, &[&str])] = &[
    (
        "what every step shares",
        &[
            "mod",
            "context",
            "browser",
            "client_redirect",
            "error",
            "pending",
        ],
    ),
    ("steps", &["record", "readiness"]),
    ("steps that use steps", &["to_upstream", "handover"]),
    (
        "entry points",
        &["start", "resume", "authorize", "callback", "complete"],
    ),
];

#[test]
fn the_login_flows_modules_form_no_circle() {
    let root = source_root().join("flow");
    let mut offences = Vec::new();
    for (file, text) in rust_files(&root) {
        offences.extend(check_flow_file(&file, &text));
    }
    assert!(
        offences.is_empty(),
        "flow modules used against their order (see src/flow/mod.rs):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_flow_check_finds_an_entry_point_using_another() {
    let resume = "use super::start::go_upstream;\nuse super::{FlowContext, readiness::x};\n";
    assert_eq!(check_flow_file("resume.rs", resume).len(), 1);
    assert!(check_flow_file("to_upstream.rs", "use super::readiness::x;").is_empty());
}

fn check_flow_file(file: &str, text: &str) -> Vec<String> {
    let layer = |module: &str| {
        FLOW_LAYERS
            .iter()
            .position(|(_, modules)| modules.contains(&module))
    };
    let module = file.trim_end_matches(".rs");
    let Some(own) = layer(module) else {
        return vec![format!(
            "  flow/{file}: a module without a place in FLOW_LAYERS"
        )];
    };
    let code = without_tests(&without_comments(text));
    names_after(&code, &["super::"])
        .into_iter()
        .filter_map(|used| {
            let theirs = layer(&used)?;
            (theirs >= own && used != module).then(|| {
                format!(
                    "  flow/{file} uses {used}: {} may only use what comes before ({})",
                    FLOW_LAYERS[own].0, FLOW_LAYERS[theirs].0
                )
            })
        })
        .collect()
}

fn check_file(file: &str, text: &str) -> Vec<Offence> {
    let module = top_module(file);
    let Some(own) = layer_of(&module) else {
        return Vec::new();
    };
    let code = without_tests(&without_comments(text));
    let mut offences = Vec::new();
    for used in crate_modules(&code, is_module_root(file)) {
        if used == module {
            continue;
        }
        let why = match layer_of(&used) {
            Some(theirs) if theirs < own => continue,
            Some(theirs) => format!(
                "{module} ({}) may not use {used} ({})",
                LAYERS[own].0, LAYERS[theirs].0
            ),
            None => continue,
        };
        offences.push(Offence {
            file: file.to_owned(),
            uses: used,
            why,
        });
    }
    for (krate, allowed) in EDGE_CRATES {
        if !allowed.contains(&module.as_str()) && mentions_path(&code, krate) {
            offences.push(Offence {
                file: file.to_owned(),
                uses: (*krate).to_owned(),
                why: format!("only {allowed:?} know about HTTP requests and pages"),
            });
        }
    }
    offences
}

/// `provider` of `provider/token.rs`, `services` of `services.rs`.
fn top_module(file: &str) -> String {
    let first = file.split('/').next().unwrap_or(file);
    first.trim_end_matches(".rs").to_owned()
}

/// `services.rs` or `http/mod.rs`: there `super::` is the crate root.
fn is_module_root(file: &str) -> bool {
    !file.contains('/') || file.matches('/').count() == 1 && file.ends_with("/mod.rs")
}

/// The top-level modules a piece of code names through `crate::` (or `super::`
/// from a module root), one entry per module, in order of first use.
fn crate_modules(code: &str, super_is_root: bool) -> Vec<String> {
    let mut prefixes = vec!["crate::"];
    if super_is_root {
        prefixes.push("super::");
    }
    names_after(code, &prefixes)
}

/// The first name after each of `prefixes` (each item of a `{…}` group after
/// one), once each, in order of first use.
fn names_after(code: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |name: String| {
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
    };
    for &prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            if code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                group_items(group).into_iter().for_each(&mut add);
            } else {
                add(identifier(rest));
            }
        }
    }
    found
}

/// The first identifier of each top-level item of a `{a::b, c, d::{e, f}}` group.
fn group_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && !c.is_whitespace() => {
                items.push(identifier(&group[i..]));
                start = false;
            }
            _ => {}
        }
    }
    items
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Whether `krate::` appears as a path (not inside a longer name).
fn mentions_path(code: &str, krate: &str) -> bool {
    let needle = format!("{krate}::");
    code.match_indices(&needle).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// The code before the file's unit tests.
fn without_tests(code: &str) -> String {
    code.split("#[cfg(test)]").next().unwrap_or(code).to_owned()
}

/// The code without `//` and `/* */` comments. Strings, raw strings and
/// character literals are copied as they are, so that a `"` or `//` inside
/// one is not taken for code.
fn without_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        let previous_is_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let literal_end = match c {
            '"' => string_end(&chars, i + 1),
            'r' if !previous_is_word && matches!(at(i + 1), Some('"' | '#')) => {
                raw_string_end(&chars, i + 1)
            }
            '\'' if at(i + 1) == Some('\\') => chars[i + 2..]
                .iter()
                .position(|&c| c == '\'')
                .map(|p| i + 2 + p + 1),
            '\'' if at(i + 2) == Some('\'') => Some(i + 3),
            _ => None,
        };
        if let Some(end) = literal_end {
            out.extend(&chars[i..end.min(chars.len())]);
            i = end;
            continue;
        }
        match (c, at(i + 1)) {
            ('/', Some('/')) => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                i += 2;
                while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                    i += 1;
                }
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Just past the `"` that closes a string whose text starts at `from`.
fn string_end(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 2,
            '"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    Some(chars.len())
}

/// Just past the end of `r#"…"#`, from the character after the `r`; `None` if
/// this `r` does not start a raw string after all.
fn raw_string_end(chars: &[char], from: usize) -> Option<usize> {
    let hashes = chars[from..].iter().take_while(|&&c| c == '#').count();
    if chars.get(from + hashes) != Some(&'"') {
        return None;
    }
    let mut i = from + hashes + 1;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(chars.len())
}

fn source_root() -> PathBuf {
    // Read at run time, so the check can be pointed at another tree.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    Path::new(&manifest).join("src")
}

/// Every `.rs` file under `root`, as (path relative to `root`, text).
fn rust_files(root: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(root)
                    .expect("under the source root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                files.push((relative, text));
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no source under {root:?}");
    files
}
