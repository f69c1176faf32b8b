//! Rules of the house that the compiler does not check, read from the source.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source tree")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of a source file that are code, before its unit tests: comments
/// and `#[cfg(test)]` modules (at the end of a file, by the house's layout) left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(i, line)| (i + 1, line))
}

#[test]
fn every_path_the_bridge_serves_is_written_once_in_src_routes_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        if file.ends_with("routes.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source file");
        for (number, line) in code_lines(&text) {
            for path in [
                "\"/_sso_bridge",
                "\"_sso_bridge",
                "\"/_matrix",
                "\"_matrix",
                "\"/.well-known",
            ] {
                if line.contains(path) {
                    found.push(format!("{}:{number}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths written out of src/routes.rs (use its constants and builders):\n{}",
        found.join("\n")
    );
}
