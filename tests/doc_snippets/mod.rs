//! Keeps the code blocks of the docs identical to code that `cargo test`
//! compiles and runs.
//!
//! A test file marks each snippet with a pair of comment lines,
//! `// snippet: NAME` and `// end snippet`; a Markdown file marks the code
//! block that shows it with `<!-- snippet: NAME -->` on the line before the
//! opening fence. [`check`] compares the two. Run the tests with
//! `WEFT_BLESS_DOCS=1` to copy the snippets into the docs instead.

use std::collections::BTreeMap;
use std::path::Path;

const START: &str = "// snippet: ";
const END: &str = "// end snippet";
const MARKER: &str = "<!-- snippet: ";

/// The snippets of `source`, by name, with their common indentation removed.
pub fn extract(source: &str) -> BTreeMap<String, String> {
    let mut snippets = BTreeMap::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix(START) else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != END).collect();
        let indent = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let text: Vec<&str> = body
            .iter()
            .map(|l| if l.len() >= indent { &l[indent..] } else { "" })
            .collect();
        let previous = snippets.insert(name.trim().to_string(), text.join("\n"));
        assert!(previous.is_none(), "snippet {name:?} defined twice");
    }
    snippets
}

/// Checks that every snippet of `source` appears in each of `docs` (paths
/// relative to the package root) exactly as written, and that the docs
/// name no snippet that does not exist.
pub fn check(source: &str, docs: &[&str]) {
    let snippets = extract(source);
    assert!(!snippets.is_empty(), "no snippets found");
    let bless = std::env::var_os("WEFT_BLESS_DOCS").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for doc in docs {
        let path = root.join(doc);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut out: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            out.push(line.to_string());
            let Some(rest) = line.trim().strip_prefix(MARKER) else {
                continue;
            };
            let name = rest.trim_end_matches("-->").trim();
            let Some(expected) = snippets.get(name) else {
                problems.push(format!("{doc}: unknown snippet {name:?}"));
                continue;
            };
            seen.push(name.to_string());
            let fence = lines.next().unwrap_or_default();
            if !fence.starts_with("```rust") {
                problems.push(format!(
                    "{doc}: snippet {name:?} is not followed by ```rust"
                ));
                out.push(fence.to_string());
                continue;
            }
            let shown: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            if shown.join("\n") != *expected {
                problems.push(format!(
                    "{doc}: snippet {name:?} differs from the tested code; it should read:\n{expected}\n"
                ));
            }
            out.push(fence.to_string());
            out.push(expected.clone());
            out.push("```".to_string());
        }
        for name in snippets.keys() {
            if !seen.contains(name) {
                problems.push(format!("{doc}: snippet {name:?} is not shown"));
            }
        }
        if bless {
            let mut new = out.join("\n");
            if text.ends_with('\n') {
                new.push('\n');
            }
            std::fs::write(&path, new).expect("write the blessed doc");
        }
    }
    if !bless {
        assert!(
            problems.is_empty(),
            "the docs and the tested snippets disagree (run with WEFT_BLESS_DOCS=1 to copy the \
             snippets into the docs):\n{}",
            problems.join("\n")
        );
    }
}
