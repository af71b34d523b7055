//! The rule every test that reads `../shared/protocol/samples` follows: a missing sample skips
//! the test on a user's clone and fails it in CI.
#![allow(clippy::unwrap_used)]

use crate::samples;

#[test]
fn a_missing_sample_skips_outside_ci() {
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        samples::path_in(false, empty.path(), "real/order-card-item.b64"),
        None
    );
}

#[test]
fn a_missing_sample_fails_in_ci() {
    let empty = tempfile::tempdir().unwrap();
    let root = empty.path().to_path_buf();
    let failed =
        std::panic::catch_unwind(|| samples::path_in(true, &root, "real/x.b64")).unwrap_err();
    let msg = failed.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("real/x.b64") && msg.contains("CI=true"),
        "{msg}"
    );
}

#[test]
fn a_present_sample_is_found_either_way() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::fs::write(dir.path().join("real/a.json"), "{}").unwrap();
    for ci in [false, true] {
        assert_eq!(
            samples::path_in(ci, dir.path(), "real/a.json"),
            Some(dir.path().join("real/a.json"))
        );
    }
}
