//! Where things live, after XDG: config in `~/.config/goofish-tui`, data (cookie jar, device
//! id, local history) in `~/.local/share/goofish-tui`, logs in `~/.local/state/goofish-tui`.

use super::ConfigError;
use std::path::{Path, PathBuf};

/// Where things live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Where the background core's socket lives: `$XDG_RUNTIME_DIR/goofish-tui`, else the
    /// state dir.
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// The config file: the one a layer names (`--config`, `GOOFISH_CONFIG`), else the XDG one.
    pub(super) fn config_file(named: Option<&Path>) -> Result<PathBuf, ConfigError> {
        match named {
            Some(p) => Ok(p.to_path_buf()),
            None => project_dirs()
                .map(|d| d.config_dir().join("config.toml"))
                .ok_or(ConfigError::NoHome),
        }
    }

    /// Where things live: the data dir a layer names, else the XDG one; logs in the XDG state
    /// dir, else beside the data.
    pub(super) fn resolve(
        config_file: PathBuf,
        data_dir: Option<PathBuf>,
        runtime_dir: Option<PathBuf>,
    ) -> Result<Paths, ConfigError> {
        let dirs = project_dirs();
        let data_dir = match (data_dir, &dirs) {
            (Some(p), _) => p,
            (None, Some(d)) => d.data_dir().to_path_buf(),
            (None, None) => return Err(ConfigError::NoHome),
        };
        let log_dir = dirs
            .as_ref()
            .and_then(|d| d.state_dir().map(Path::to_path_buf))
            .unwrap_or_else(|| data_dir.join("logs"));
        let runtime_dir = runtime_dir.unwrap_or_else(|| log_dir.clone());
        Ok(Paths {
            config_file,
            data_dir,
            log_dir,
            runtime_dir,
        })
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "goofish-tui")
}

/// A path written in the config file: `~/…` is in the home directory, a relative path is
/// next to the config file (not in whatever directory the program was started from).
pub(super) fn beside(config_file: &Path, p: &Path) -> PathBuf {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
