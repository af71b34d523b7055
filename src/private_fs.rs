//! Files only the owner may read: the cookie jar, the device id, the message store (with its
//! `-wal` and `-shm`) and the logs are created 0600, in folders created 0700. And the user's
//! own text files (the config file, a cookie file), read with a bound.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` when missing: the folder itself 0700, missing parents as usual (they are the
/// user's, e.g. `~/.local/share`). An existing folder is left as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Takes from `path` every permission bit that `allowed` does not have (0600 for a file, 0700
/// for a folder); a missing file is no error.
pub fn restrict(path: &Path, allowed: u32) -> io::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !allowed == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & allowed))
}

/// Makes sure `path` exists as a file created 0600 (an existing one keeps its content and is
/// restricted to 0600). Used before SQLite opens a database: it creates the `-wal` and `-shm`
/// files with the mode of the database file.
pub fn create_file(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => restrict(path, 0o600),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` so that a reader sees the old or the new content, never a part:
/// a temporary file in the same directory, created with mode 0600 (never briefly readable
/// by others), fsynced, then renamed over `path`. A missing parent directory is created
/// with mode 0700.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_dir(&dir)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let suffix: u32 = rand::random();
    let tmp = dir.join(format!(
        ".{}.{}-{suffix:08x}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; failure here does not undo the write.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The text of `path`, refused (`InvalidData`) past `limit` bytes or when not UTF-8.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {} KiB", limit / 1024),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("share/goofish-tui");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        create_dir(&dir).unwrap();

        let f = dir.join("store.sqlite3");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        std::fs::write(&f, "kept").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&f).unwrap();
        assert_eq!(
            (mode(&f), std::fs::read_to_string(&f).unwrap().as_str()),
            (0o600, "kept")
        );

        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        restrict(&f, 0o600).unwrap();
        assert_eq!(mode(&f), 0o400, "never widened");
        restrict(&dir.join("missing"), 0o600).unwrap();

        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict(&open, 0o700).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn atomic_write_is_private_in_a_private_folder() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("new/cookies.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!((mode(&p), mode(p.parent().unwrap())), (0o600, 0o700));
    }
}
