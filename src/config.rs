//! Settings: embedded defaults < config file < `GOOFISH_*` environment < command-line flags.
//! Paths follow XDG: config in `~/.config/goofish-tui`, data (cookie jar, device id) in
//! `~/.local/share/goofish-tui`, logs in `~/.local/state/goofish-tui`.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

use crate::im::cookies::CookieJar;
use crate::secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The real service's endpoints (§1, §4.1).
pub const REAL_MTOP_URL: &str = "https://h5api.m.goofish.com/";
pub const REAL_PASSPORT_URL: &str = "https://passport.goofish.com/";
pub const REAL_WS_URL: &str = "wss://wss-goofish.dingtalk.com/";
/// Picture uploads (§3.5).
pub const REAL_UPLOAD_URL: &str = "https://stream-upload.goofish.com/";

/// The config file as written by the user; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// A `Cookie:` header value copied from a logged-in browser tab. Prefer `cookie_file`.
    pub cookie: Option<String>,
    /// A file holding the cookie (header form or a JSON object of name → value).
    pub cookie_file: Option<PathBuf>,
    pub mtop_url: Option<String>,
    pub passport_url: Option<String>,
    pub ws_url: Option<String>,
    pub upload_url: Option<String>,
    /// Seconds between heartbeats (default 15).
    pub heartbeat_secs: Option<u64>,
    /// `error`, `warn`, `info`, `debug` or `trace` (default `info`).
    pub log_level: Option<String>,
    /// Overrides the data directory (cookie jar, device id, local history); `--data-dir` and
    /// `GOOFISH_DATA_DIR` override it in turn.
    pub data_dir: Option<PathBuf>,
    /// Local history keeps at most this many messages per conversation, newest first
    /// (default: everything).
    pub keep_per_conversation: Option<usize>,
    /// Settings of the terminal UI.
    pub ui: Option<toml::Table>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read the cookie file {path}: {message}")]
    CookieFile { path: PathBuf, message: String },
    #[error("no home directory: set GOOFISH_DATA_DIR or use --data-dir")]
    NoHome,
}

/// Where things live.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    /// The config file: `config_override` (`--config`), else `GOOFISH_CONFIG`, else the XDG
    /// config dir.
    pub fn config_file(config_override: Option<&Path>) -> Result<PathBuf, ConfigError> {
        match (config_override, env_path("GOOFISH_CONFIG")) {
            (Some(p), _) => Ok(p.to_path_buf()),
            (None, Some(p)) => Ok(p),
            (None, None) => project_dirs()
                .map(|d| d.config_dir().join("config.toml"))
                .ok_or(ConfigError::NoHome),
        }
    }

    /// Where things live. The data dir is `data_override` (`--data-dir`), else
    /// `GOOFISH_DATA_DIR`, else the config file's `data_dir` (relative to the config file's
    /// folder, `~/` for the home directory), else the XDG data dir.
    pub fn resolve(
        config_file: PathBuf,
        data_override: Option<&Path>,
        file: &FileConfig,
    ) -> Result<Paths, ConfigError> {
        let dirs = project_dirs();
        let from_file = file
            .data_dir
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| beside(&config_file, p));
        let data_dir = match (
            data_override,
            env_path("GOOFISH_DATA_DIR"),
            from_file,
            &dirs,
        ) {
            (Some(p), _, _, _) => p.to_path_buf(),
            (None, Some(p), _, _) => p,
            (None, None, Some(p), _) => p,
            (None, None, None, Some(d)) => d.data_dir().to_path_buf(),
            (None, None, None, None) => return Err(ConfigError::NoHome),
        };
        let log_dir = dirs
            .as_ref()
            .and_then(|d| d.state_dir().map(Path::to_path_buf))
            .unwrap_or_else(|| data_dir.join("logs"));
        Ok(Paths {
            config_file,
            data_dir,
            log_dir,
        })
    }

    pub fn cookie_jar(&self) -> PathBuf {
        self.data_dir.join("cookies.json")
    }

    pub fn device_id(&self) -> PathBuf {
        self.data_dir.join("device_id")
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "goofish-tui")
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A path written in the config file: `~/…` is in the home directory, a relative path is
/// next to the config file (not in whatever directory the program was started from).
fn beside(config_file: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = directories::BaseDirs::new()
    {
        return home.home_dir().join(rest);
    }
    match config_file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

impl FileConfig {
    /// Reads the config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = match read_bounded(path, MAX_CONFIG_BYTES) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Largest config file read: a real one is a few KiB. Also what keeps `--config /dev/zero`
/// from reading forever.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The text of `path`, refused (`InvalidData`) past `limit` bytes or when not UTF-8.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {} KiB", limit / 1024),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Endpoints after layering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrls {
    pub mtop: String,
    pub passport: String,
    pub ws: String,
    pub upload: String,
}

/// Flags and environment that override the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub mtop_url: Option<String>,
    pub passport_url: Option<String>,
    pub ws_url: Option<String>,
    pub upload_url: Option<String>,
    pub cookie_file: Option<PathBuf>,
    /// `GOOFISH_COOKIE`.
    pub cookie: Option<Secret>,
    pub heartbeat_secs: Option<u64>,
}

/// Everything the network side needs, resolved.
#[derive(Debug)]
pub struct Resolved {
    pub endpoints: EndpointUrls,
    /// The cookie given by the user this time, if any (else the persisted jar is used).
    pub cookie: Option<CookieJar>,
    /// Where the cookie came from, for messages.
    pub cookie_source: Option<String>,
    pub heartbeat: Duration,
}

impl Resolved {
    pub fn new(file: &FileConfig, over: &Overrides) -> Result<Resolved, ConfigError> {
        let pick = |flag: &Option<String>, file: &Option<String>, real: &str| {
            flag.clone()
                .or_else(|| file.clone())
                .unwrap_or_else(|| real.to_string())
        };
        let endpoints = EndpointUrls {
            mtop: pick(&over.mtop_url, &file.mtop_url, REAL_MTOP_URL),
            passport: pick(&over.passport_url, &file.passport_url, REAL_PASSPORT_URL),
            ws: pick(&over.ws_url, &file.ws_url, REAL_WS_URL),
            upload: pick(&over.upload_url, &file.upload_url, REAL_UPLOAD_URL),
        };
        let (cookie, cookie_source) = if let Some(path) = &over.cookie_file {
            (
                Some(read_cookie_file(path)?),
                Some(format!("--cookie-file {}", path.display())),
            )
        } else if let Some(c) = &over.cookie {
            (
                Some(CookieJar::parse_header(c.expose())),
                Some("GOOFISH_COOKIE".to_string()),
            )
        } else if let Some(path) = &file.cookie_file {
            (
                Some(read_cookie_file(path)?),
                Some(format!("cookie_file {}", path.display())),
            )
        } else if let Some(c) = &file.cookie {
            (
                Some(CookieJar::parse_header(c)),
                Some("the config file".to_string()),
            )
        } else {
            (None, None)
        };
        let heartbeat = Duration::from_secs(
            over.heartbeat_secs
                .or(file.heartbeat_secs)
                .unwrap_or(15)
                .max(1),
        );
        Ok(Resolved {
            endpoints,
            cookie,
            cookie_source,
            heartbeat,
        })
    }
}

fn read_cookie_file(path: &Path) -> Result<CookieJar, ConfigError> {
    CookieJar::load(path).map_err(|e| ConfigError::CookieFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beat_defaults() {
        let file: FileConfig =
            toml::from_str("mtop_url = \"http://file/\"\nws_url = \"ws://file/\"").unwrap();
        let over = Overrides {
            ws_url: Some("ws://flag/".into()),
            ..Overrides::default()
        };
        let r = Resolved::new(&file, &over).unwrap();
        assert_eq!(r.endpoints.mtop, "http://file/");
        assert_eq!(r.endpoints.ws, "ws://flag/");
        assert_eq!(r.endpoints.passport, REAL_PASSPORT_URL);
        assert_eq!(r.heartbeat, Duration::from_secs(15));
    }

    #[test]
    fn unknown_keys_are_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "mtop_ur = \"typo\"").unwrap();
        let err = FileConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("mtop_ur"), "{err}");
        assert!(FileConfig::load(&dir.path().join("missing.toml")).is_ok());
    }

    #[test]
    fn a_data_dir_in_the_file_is_next_to_it_or_in_the_home_dir() {
        let cfg = Path::new("/etc/goofish/config.toml");
        assert_eq!(
            beside(cfg, Path::new("state")),
            PathBuf::from("/etc/goofish/state")
        );
        assert_eq!(beside(cfg, Path::new("/var/x")), PathBuf::from("/var/x"));
        if let Some(home) = directories::BaseDirs::new() {
            assert_eq!(beside(cfg, Path::new("~/gt")), home.home_dir().join("gt"));
        }
        // `~user` is not expanded; it is a relative name like any other.
        assert_eq!(
            beside(cfg, Path::new("~bob/gt")),
            PathBuf::from("/etc/goofish/~bob/gt")
        );
    }

    #[test]
    fn an_endless_or_huge_file_is_refused_not_read() {
        let err = FileConfig::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than"), "{err}");
        let over = Overrides {
            cookie_file: Some("/dev/zero".into()),
            ..Overrides::default()
        };
        let err = Resolved::new(&FileConfig::default(), &over)
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../config.example.toml");
        let cfg: FileConfig = toml::from_str(text).unwrap();
        assert!(cfg.cookie.is_none());
        let ui: crate::app::UiOptions = toml::Value::Table(cfg.ui.unwrap()).try_into().unwrap();
        assert_eq!(ui, crate::app::UiOptions::default());
    }
}
