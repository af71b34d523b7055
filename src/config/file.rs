//! The config file (`config.example.toml` describes it), read whole, `[ui]` with the rest.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

use super::layer::{GivenCookie, Layer};
use super::paths::beside;
use super::{ConfigError, UiOptions};
use crate::secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    /// Seconds between heartbeats.
    pub heartbeat_secs: Option<u64>,
    /// Seconds between `loginuser.get` calls that keep the login cookies warm.
    pub login_keepalive_secs: Option<u64>,
    /// Seconds between renewals of the login ahead of its expiry (`hasLogin.do`).
    pub login_renew_secs: Option<u64>,
    /// `error`, `warn`, `info`, `debug` or `trace`: the log file's level.
    pub log_level: Option<String>,
    /// Overrides the data directory (cookie jar, device id, local history); `--data-dir` and
    /// `GOOFISH_DATA_DIR` override it in turn.
    pub data_dir: Option<PathBuf>,
    /// Local history keeps at most this many messages per conversation, newest first
    /// (default: everything).
    pub keep_per_conversation: Option<usize>,
    /// Settings of the terminal UI.
    pub ui: Option<UiOptions>,
    /// How a buyer's message reaches the seller (terminal notification, a command).
    pub notify: Option<super::NotifyOptions>,
}

/// Largest config file read: a real one is a few KiB. Also what keeps `--config /dev/zero`
/// from reading forever.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl FileConfig {
    /// Reads the config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = match crate::private_fs::read_bounded(path, MAX_CONFIG_BYTES) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
            Err(error) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The file as a layer of settings; `path` is where it was read from (a relative
    /// `data_dir` is next to it).
    pub fn into_layer(self, path: &Path) -> Layer {
        let cookie = match (self.cookie_file, self.cookie) {
            (Some(file), _) => Some(GivenCookie::file("cookie_file", file)),
            (None, Some(c)) => Some(GivenCookie::header("the config file", Secret::new(c))),
            (None, None) => None,
        };
        Layer {
            data_dir: self
                .data_dir
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| beside(path, &p)),
            mtop_url: self.mtop_url,
            passport_url: self.passport_url,
            ws_url: self.ws_url,
            upload_url: self.upload_url,
            cookie,
            heartbeat_secs: self.heartbeat_secs,
            login_keepalive_secs: self.login_keepalive_secs,
            login_renew_secs: self.login_renew_secs,
            log_file_level: self.log_level,
            keep_per_conversation: self.keep_per_conversation,
            ui: self.ui,
            notify: self.notify,
            ..Layer::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_endless_or_huge_file_is_refused_not_read() {
        let err = FileConfig::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn the_ui_table_is_read_with_the_rest_and_a_bad_one_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "heartbeat_secs = 20\n[ui]\nlang = \"ZH_CN\"\nbell = false\n",
        )
        .unwrap();
        let file = FileConfig::load(&p).unwrap();
        let ui = file.ui.unwrap();
        assert_eq!(ui.lang, crate::text::i18n::Lang::Zh);
        assert!(!ui.bell);
        std::fs::write(&p, "[ui]\nbell = \"yes\"\n").unwrap();
        let err = FileConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("bell"), "{err}");
        std::fs::write(&p, "[ui]\nlang = \"fr\"\n").unwrap();
        let err = FileConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("unknown language \"fr\""), "{err}");
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../config.example.toml");
        let cfg: FileConfig = toml::from_str(text).unwrap();
        assert!(cfg.cookie.is_none());
        assert_eq!(cfg.ui, Some(UiOptions::default()));
    }
}
