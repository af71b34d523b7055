//! The device id (`did`, §0.3): an upper-case UUID plus `-<uid>`. The service binds each IM
//! token to the did it was requested with (§4.3), so one installation keeps one did per
//! account and reuses it.

use crate::private_fs::write_atomic;
use crate::protocol::Uid;
use std::io;
use std::path::Path;
use uuid::fmt::Hyphenated;
use uuid::{Builder, Uuid, Variant, Version};

/// A fresh did: a random (version 4, RFC 4122 variant) UUID in upper-case hyphenated form,
/// which is exactly the §0.3 shape (`-` at 8, 13, 18, 23; `4` at 14; one of `89AB` at 19;
/// `0-9A-F` elsewhere); then `-<uid>`.
pub fn generate_device_id(uid: &Uid) -> String {
    let uuid = Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = Uuid::encode_buffer();
    format!("{}-{uid}", uuid.hyphenated().encode_upper(&mut buf))
}

/// Whether `did` has the §0.3 shape and belongs to `uid`.
pub fn is_device_id_of(did: &str, uid: &Uid) -> bool {
    if uid.is_empty() {
        return false;
    }
    let Some((head, tail)) = did.split_at_checked(Hyphenated::LENGTH) else {
        return false;
    };
    if tail.strip_prefix('-') != Some(uid.as_str()) {
        return false;
    }
    let Ok(uuid) = Uuid::try_parse(head) else {
        return false;
    };
    let mut buf = Uuid::encode_buffer();
    // `try_parse` also takes lower case and other layouts; the did is upper-case hyphenated.
    uuid.get_version() == Some(Version::Random)
        && uuid.get_variant() == Variant::RFC4122
        && uuid.hyphenated().encode_upper(&mut buf) == head
}

/// The did of `uid` for this installation, kept in `path` (mode 0600).
///
/// The file holds one did per line, one per account that used this installation; the line
/// of `uid` is reused. Lines that are not a well-formed did are dropped. A new did is made
/// (and the file rewritten) only when `uid` has no valid line, e.g. on first run.
pub fn load_or_create(path: &Path, uid: &Uid) -> io::Result<String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        // Unreadable bytes are a malformed file: start over rather than fail the login.
        Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<&str> = Vec::new();
    for line in existing.lines().map(str::trim) {
        if let Some(uid_part) = line.get(37..)
            && is_device_id_of(line, &Uid::new(uid_part))
        {
            if uid_part == uid.as_str() {
                return Ok(line.to_string());
            }
            lines.push(line);
        }
    }
    let did = generate_device_id(uid);
    let mut text = String::new();
    for line in lines.iter().copied().chain([did.as_str()]) {
        text.push_str(line);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())?;
    Ok(did)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn check_format(did: &str, uid: &str) {
        let (head, tail) = did.split_at(36);
        assert_eq!(tail, format!("-{uid}"));
        for (i, c) in head.chars().enumerate() {
            match i {
                8 | 13 | 18 | 23 => assert_eq!(c, '-', "{did} at {i}"),
                14 => assert_eq!(c, '4', "{did} at {i}"),
                19 => assert!("89AB".contains(c), "{did} at {i}"),
                _ => assert!(
                    c.is_ascii_hexdigit() && !c.is_ascii_lowercase(),
                    "{did} at {i}"
                ),
            }
        }
    }

    #[test]
    fn generated_ids_have_the_documented_format() {
        let uid = Uid::new("2200000000401");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let did = generate_device_id(&uid);
            check_format(&did, "2200000000401");
            assert!(is_device_id_of(&did, &uid));
            assert!(!is_device_id_of(&did, &Uid::new("1000000101")));
            seen.insert(did);
        }
        assert_eq!(seen.len(), 200, "ids must be random");
        assert!(is_device_id_of(
            "ED4CBA2C-5DA0-4154-A902-BF5CB52409E2-1000000101",
            &Uid::new("1000000101")
        ));
        assert!(!is_device_id_of(
            "ed4cba2c-5da0-4154-a902-bf5cb52409e2-1000000101",
            &Uid::new("1000000101")
        ));
        assert!(!is_device_id_of(
            "ED4CBA2C-5DA0-3154-A902-BF5CB52409E2-1000000101",
            &Uid::new("1000000101")
        ));
        // The RFC 4122 variant only (`89AB` at 19), and nothing but the hyphenated layout.
        for bad in [
            "ED4CBA2C-5DA0-4154-C902-BF5CB52409E2-1000000101",
            "ED4CBA2C5DA04154A902BF5CB52409E2XXXX-1000000101",
            "ED4CBA2C-5DA0-4154-A902-BF5CB52409E21000000101",
            "名字名字名字名字名字名字-1000000101",
            "",
        ] {
            assert!(!is_device_id_of(bad, &Uid::new("1000000101")), "{bad}");
        }
    }

    #[test]
    fn id_is_stable_per_account_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/device_id");
        let a = Uid::new("2200000000401");
        let b = Uid::new("1000000101");
        let first = load_or_create(&path, &a).unwrap();
        check_format(&first, a.as_str());
        assert_eq!(load_or_create(&path, &a).unwrap(), first);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Another account gets its own id; the first one survives.
        let other = load_or_create(&path, &b).unwrap();
        check_format(&other, b.as_str());
        assert_ne!(other, first);
        assert_eq!(load_or_create(&path, &a).unwrap(), first);
        assert_eq!(load_or_create(&path, &b).unwrap(), other);
    }

    #[test]
    fn malformed_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device_id");
        let uid = Uid::new("2200000000401");
        std::fs::write(
            &path,
            "garbage\nED4CBA2C-5DA0-3154-A902-BF5CB52409E2-2200000000401\n",
        )
        .unwrap();
        let did = load_or_create(&path, &uid).unwrap();
        check_format(&did, uid.as_str());
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), did);
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let again = load_or_create(&path, &uid).unwrap();
        check_format(&again, uid.as_str());
        assert_eq!(load_or_create(&path, &uid).unwrap(), again);
    }
}
