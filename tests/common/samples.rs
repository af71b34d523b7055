//! The shared protocol samples (`../shared/protocol/samples`, never copied into the repo), for
//! every test that reads them: the unit tests include this file too (`src/lib.rs`).
//!
//! A sample that is not there skips the test that needs it, with a notice on stderr, on a
//! clone without `../shared`. In CI (`CI=true`) it fails the test instead, so a run that lost
//! the samples cannot pass by skipping everything they check.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the samples are expected.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/protocol/samples")
}

/// Whether this run is CI's (`CI=true`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The samples folder, or `None` (skip) when it is absent.
pub fn dir() -> Option<PathBuf> {
    let d = root();
    present_or_skip(in_ci(), d.is_dir(), &d).then_some(d)
}

/// The path of one sample (`rel` inside the samples folder), or `None` (skip).
pub fn path(rel: &str) -> Option<PathBuf> {
    path_in(in_ci(), &root(), rel)
}

/// `path` with the folder and the CI flag given.
pub fn path_in(ci: bool, root: &Path, rel: &str) -> Option<PathBuf> {
    let p = root.join(rel);
    present_or_skip(ci, p.is_file(), &p).then_some(p)
}

/// A sample's text, trimmed of the trailing newline the `.b64` files end with.
pub fn text(rel: &str) -> Option<String> {
    let p = path(rel)?;
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read the sample {}: {e}", p.display()));
    Some(text.trim_end().to_string())
}

/// The protocol document the samples belong to (`../shared/protocol/GOOFISH_PROTOCOL.md`): for
/// the facts it records of captures that are not kept as sample files.
pub fn spec() -> Option<String> {
    let p = root().join("../GOOFISH_PROTOCOL.md");
    present_or_skip(in_ci(), p.is_file(), &p).then(|| {
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    })
}

/// A sample's bytes, as they are.
pub fn bytes(rel: &str) -> Option<Vec<u8>> {
    let p = path(rel)?;
    Some(
        std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read the sample {}: {e}", p.display())),
    )
}

/// A JSON sample.
pub fn json(rel: &str) -> Option<serde_json::Value> {
    let t = text(rel)?;
    Some(serde_json::from_str(&t).unwrap_or_else(|e| panic!("the sample {rel} is not JSON: {e}")))
}

/// `true` when the sample is there; else fails in CI, or prints the notice and says skip.
fn present_or_skip(ci: bool, present: bool, what: &Path) -> bool {
    if present {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if ci {
        panic!(
            "{test}: the protocol sample {} is missing, and CI=true: a CI run must have ../shared",
            what.display()
        );
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`, and a skip
    // nobody sees looks like a pass.
    let _ = writeln!(
        std::io::stderr().lock(),
        "note: {test} skipped: the protocol sample {} is absent",
        what.display()
    );
    false
}
