//! Pictures fetched once, kept on disk under the XDG cache dir (`~/.cache/goofish-tui/
//! pictures`), one file per URL named by its hash, at most `max_bytes` in all: the least
//! recently used go first. Files are the owner's only (0600 in a 0700 folder), since what
//! buyers send is private.

use md5::{Digest, Md5};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Default bound of the disk cache.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The picture cache folder, after XDG; `None` without a home.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "goofish-tui").map(|d| d.cache_dir().join("pictures"))
}

#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl DiskCache {
    pub fn new(dir: PathBuf, max_bytes: u64) -> DiskCache {
        DiskCache { dir, max_bytes }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, url: &str) -> PathBuf {
        let digest = Md5::digest(url.as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }

    /// The bytes kept for `url`, marked as just used; `None` when not kept (or unreadable).
    pub fn get(&self, url: &str, max_bytes: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        let path = self.path(url);
        let file = std::fs::File::open(&path).ok()?;
        let mut bytes = Vec::new();
        file.take(max_bytes + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > max_bytes {
            return None;
        }
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(bytes)
    }

    /// Keeps `bytes` for `url`, then makes room: the least recently used files go until the
    /// folder holds at most `max_bytes`.
    pub fn put(&self, url: &str, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() as u64 > self.max_bytes {
            return Ok(());
        }
        crate::private_fs::create_dir(&self.dir)?;
        crate::private_fs::write_atomic(&self.path(url), bytes)?;
        self.evict()
    }

    /// Total bytes kept.
    pub fn size(&self) -> u64 {
        self.entries().iter().map(|(_, len, _)| len).sum()
    }

    fn entries(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                meta.is_file().then(|| {
                    let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    (e.path(), meta.len(), used)
                })
            })
            .collect()
    }

    fn evict(&self) -> io::Result<()> {
        let mut files = self.entries();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_bytes {
            return Ok(());
        }
        files.sort_by_key(|(_, _, used)| *used);
        for (path, len, _) in files {
            if total <= self.max_bytes {
                break;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => total = total.saturating_sub(len),
                Err(e) if e.kind() == io::ErrorKind::NotFound => total = total.saturating_sub(len),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_pictures_come_back_and_the_least_recently_used_go_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path().join("pictures"), 250);
        assert_eq!(cache.get("https://a.cn/1.jpg", 1000), None);
        cache.put("https://a.cn/1.jpg", &[1; 100]).expect("put");
        cache.put("https://a.cn/2.jpg", &[2; 100]).expect("put");
        // Used again: the first is now the most recent.
        let past = SystemTime::now() - std::time::Duration::from_secs(60);
        let f = std::fs::File::options()
            .write(true)
            .open(cache.path("https://a.cn/2.jpg"))
            .expect("open");
        f.set_modified(past).expect("mtime");
        assert_eq!(cache.get("https://a.cn/1.jpg", 1000), Some(vec![1; 100]));
        cache.put("https://a.cn/3.jpg", &[3; 100]).expect("put");
        assert!(cache.size() <= 250);
        assert_eq!(cache.get("https://a.cn/2.jpg", 1000), None);
        assert!(cache.get("https://a.cn/1.jpg", 1000).is_some());
        assert!(cache.get("https://a.cn/3.jpg", 1000).is_some());
        // Larger than allowed when read back: not taken.
        assert_eq!(cache.get("https://a.cn/3.jpg", 10), None);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cache.dir())
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
