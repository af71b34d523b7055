//! The core: one background process per user and data directory that owns the account's IM
//! session, its local history and its outbox, and that every view (the TUI, `watch`,
//! `send`, `recall`, `fetch-history`, hooks) attaches to over a Unix socket. One connection
//! per account, however many views; an SSH drop ends a view, never the session.
//!
//! * [`wire`]: the lines on the socket (versioned JSON, one object per line);
//! * [`hub`]: which view gets what (pure);
//! * `server`: the core's socket and its loop; [`client`]: a view's side, which starts a core
//!   when none runs and starts a new one when it dies;
//! * [`upgrade`]: what a view does with a core of another version (restart it, or use it).

pub mod client;
pub mod hub;
mod server;
pub mod upgrade;
pub mod wire;

pub use client::{attach, request, status};
pub use server::{BindError, Bound, Join, Locked, VIEW_QUEUE, lock, serve};

use crate::config::Settings;
use md5::{Digest, Md5};
use std::ffi::OsString;
use std::path::PathBuf;

/// Where a core lives: its socket, the lock that makes it the only one, and the file its
/// early errors go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub lock: PathBuf,
    pub errors: PathBuf,
    /// The data directory served, as resolved.
    pub data: PathBuf,
}

/// The core of `settings`' data directory: in `$XDG_RUNTIME_DIR/goofish-tui/`, else in the
/// state directory. One core per data directory (its name carries a digest of the path), so
/// two data directories never share a session. The data directory is created when missing:
/// its name is resolved (symbolic links, `..`) only once it exists, and a first run must find
/// the same core as the runs after it.
pub fn place(settings: &Settings) -> Place {
    let dir = settings.paths.runtime_dir.clone();
    let given = &settings.paths.data_dir;
    if let Err(e) = crate::private_fs::create_dir(given) {
        tracing::warn!("cannot create the data directory {}: {e}", given.display());
    }
    let data = std::fs::canonicalize(given)
        .or_else(|_| std::path::absolute(given))
        .unwrap_or_else(|_| given.clone());
    let digest = Md5::digest(data.as_os_str().as_encoded_bytes());
    let name: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Place {
        socket: dir.join(format!("core-{name}.sock")),
        lock: dir.join(format!("core-{name}.lock")),
        errors: dir.join(format!("core-{name}.err")),
        dir,
        data,
    }
}

/// Whether a core of this data directory answers on its socket (without speaking to it).
pub fn running(settings: &Settings) -> bool {
    std::os::unix::net::UnixStream::connect(place(settings).socket).is_ok()
}

/// The command line that starts a core with the same settings as this process: the flags
/// that name them (the environment and the config file are inherited as they are).
pub fn core_args(settings: &Settings) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut flag = |name: &str, value: OsString| {
        args.push(name.into());
        args.push(value);
    };
    flag("--config", settings.paths.config_file.clone().into());
    flag("--data-dir", settings.paths.data_dir.clone().into());
    flag("--mtop-url", settings.endpoints.mtop.clone().into());
    flag("--passport-url", settings.endpoints.passport.clone().into());
    flag("--ws-url", settings.endpoints.ws.clone().into());
    flag("--upload-url", settings.endpoints.upload.clone().into());
    flag(
        "--heartbeat-secs",
        settings.heartbeat.as_secs().max(1).to_string().into(),
    );
    flag("--log-level", settings.log_file_level.clone().into());
    if let Some(crate::config::GivenCookie {
        value: crate::config::CookieValue::File(path),
        ..
    }) = &settings.cookie
    {
        flag("--cookie-file", path.clone().into());
    }
    args.push("daemon".into());
    args.push("--foreground".into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, Layer, Sources};

    fn settings(data: PathBuf, run: &std::path::Path) -> Settings {
        let flags = Layer {
            config_file: Some(run.join("absent.toml")),
            data_dir: Some(data),
            runtime_dir: Some(run.join("goofish-tui")),
            ..Layer::default()
        };
        let env = Env::from_lookup(|_| None);
        Sources { flags, env }.resolve().unwrap()
    }

    #[test]
    fn a_data_directory_has_one_core_however_it_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let data = tmp.path().join("data");
        // Before it exists, through a `..`, through a link: one socket.
        let first = place(&settings(tmp.path().join("x/../data"), &run));
        assert!(data.is_dir());
        let again = place(&settings(data.clone(), &run));
        std::os::unix::fs::symlink(&data, tmp.path().join("link")).unwrap();
        let linked = place(&settings(tmp.path().join("link"), &run));
        assert_eq!(first, again);
        assert_eq!(again, linked);
        assert_eq!(first.dir, run.join("goofish-tui"));
        let other = place(&settings(tmp.path().join("other"), &run));
        assert_ne!(other.socket, first.socket);
    }
}
