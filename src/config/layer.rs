//! One layer of settings as one source gives them, every field optional: the config file, the
//! `GOOFISH_*` environment, the command line.

use super::UiOptions;
use crate::secret::Secret;
use crate::text::i18n::Lang;
use std::ffi::OsString;
use std::path::PathBuf;

/// What one source says; `None` leaves the field to the layers below.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    /// The config file to read (`GOOFISH_CONFIG`, `--config`).
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub mtop_url: Option<String>,
    pub passport_url: Option<String>,
    pub ws_url: Option<String>,
    pub upload_url: Option<String>,
    pub cookie: Option<GivenCookie>,
    pub heartbeat_secs: Option<u64>,
    /// Seconds between `loginuser.get` keep-alive calls.
    pub login_keepalive_secs: Option<u64>,
    /// Seconds between renewals of the login ahead of its expiry (`hasLogin.do`).
    pub login_renew_secs: Option<u64>,
    /// The level of every log (`--log-level`).
    pub log_level: Option<String>,
    /// The level of the log file alone (the config file's `log_level`).
    pub log_file_level: Option<String>,
    pub keep_per_conversation: Option<usize>,
    /// `--lang`, over the `[ui]` table's `lang`.
    pub lang: Option<Lang>,
    /// The `[ui]` table.
    pub ui: Option<UiOptions>,
    /// The `[notify]` table.
    pub notify: Option<super::NotifyOptions>,
    /// `--demo`.
    pub demo: Option<bool>,
    /// `GOOFISH_CORE_PROGRAM`: the program a view starts as the background core (default:
    /// this program).
    pub core_program: Option<PathBuf>,
    /// The folder of the core's socket: `GOOFISH_RUNTIME_DIR`, else
    /// `$XDG_RUNTIME_DIR/goofish-tui`.
    pub runtime_dir: Option<PathBuf>,
    /// `--no-daemon`, `GOOFISH_NO_DAEMON`: the session in this process, not in the core.
    pub no_daemon: Option<bool>,
    /// `--restart-core`, `GOOFISH_RESTART_CORE`: a core of another version is restarted
    /// without asking.
    pub restart_core: Option<bool>,
    /// `--account`: which of the data directory's accounts (uid or nick; `all` for `watch`).
    pub account: Option<String>,
}

impl Layer {
    /// `self` over `lower`: each field from `self` where it has it, else from `lower`.
    pub fn over(self, lower: Layer) -> Layer {
        Layer {
            config_file: self.config_file.or(lower.config_file),
            data_dir: self.data_dir.or(lower.data_dir),
            mtop_url: self.mtop_url.or(lower.mtop_url),
            passport_url: self.passport_url.or(lower.passport_url),
            ws_url: self.ws_url.or(lower.ws_url),
            upload_url: self.upload_url.or(lower.upload_url),
            cookie: self.cookie.or(lower.cookie),
            heartbeat_secs: self.heartbeat_secs.or(lower.heartbeat_secs),
            login_keepalive_secs: self.login_keepalive_secs.or(lower.login_keepalive_secs),
            login_renew_secs: self.login_renew_secs.or(lower.login_renew_secs),
            log_level: self.log_level.or(lower.log_level),
            log_file_level: self.log_file_level.or(lower.log_file_level),
            keep_per_conversation: self.keep_per_conversation.or(lower.keep_per_conversation),
            lang: self.lang.or(lower.lang),
            ui: self.ui.or(lower.ui),
            notify: self.notify.or(lower.notify),
            demo: self.demo.or(lower.demo),
            runtime_dir: self.runtime_dir.or(lower.runtime_dir),
            core_program: self.core_program.or(lower.core_program),
            no_daemon: self.no_daemon.or(lower.no_daemon),
            restart_core: self.restart_core.or(lower.restart_core),
            account: self.account.or(lower.account),
        }
    }
}

/// A login cookie the user gives this time (it is used instead of the saved jar). Kept as it
/// was given: reading and parsing it is the IM client's job.
#[derive(Clone, Debug, PartialEq)]
pub struct GivenCookie {
    pub value: CookieValue,
    /// Where it comes from, for messages: `--cookie-file FILE`, `GOOFISH_COOKIE`, …
    pub source: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CookieValue {
    /// A file holding it (a Cookie header value, or a JSON object name → value).
    File(PathBuf),
    /// A Cookie header value.
    Header(Secret),
}

impl GivenCookie {
    /// The cookie in the file `path`, named as `what` names it (`--cookie-file`, `cookie_file`).
    pub fn file(what: &str, path: PathBuf) -> GivenCookie {
        GivenCookie {
            source: format!("{what} {}", path.display()),
            value: CookieValue::File(path),
        }
    }

    /// A Cookie header value, from `source`.
    pub fn header(source: &str, value: Secret) -> GivenCookie {
        GivenCookie {
            value: CookieValue::Header(value),
            source: source.to_string(),
        }
    }
}

/// The process environment the settings read, read once: the `GOOFISH_*` layer and the
/// language of the locale (what `auto` means).
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub layer: Layer,
    pub locale: Lang,
}

impl Env {
    /// The process's environment.
    pub fn read() -> Env {
        Env::from_lookup(|k| std::env::var_os(k))
    }

    /// The environment `get` looks up. An empty variable is an unset one.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Env {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let path = |k: &str| get(k).map(PathBuf::from);
        // A URL that is not UTF-8 stays visibly wrong: refused with the others that are not URLs.
        let url = |k: &str| get(k).map(|v| v.to_string_lossy().into_owned());
        // A number that does not read as one is left to the layers below.
        let secs = |k: &str| get(k).and_then(|v| v.to_str()?.trim().parse::<u64>().ok());
        let cookie = get("GOOFISH_COOKIE")
            .and_then(|v| v.into_string().ok())
            .filter(|c| !c.trim().is_empty())
            .map(|c| GivenCookie::header("GOOFISH_COOKIE", Secret::new(c)));
        let flag = |k: &str| {
            get(k).map(|v| !matches!(v.to_str().map(str::trim), Some("0" | "false" | "no")))
        };
        let layer = Layer {
            config_file: path("GOOFISH_CONFIG"),
            data_dir: path("GOOFISH_DATA_DIR"),
            mtop_url: url("GOOFISH_MTOP_URL"),
            passport_url: url("GOOFISH_PASSPORT_URL"),
            ws_url: url("GOOFISH_WS_URL"),
            upload_url: url("GOOFISH_UPLOAD_URL"),
            cookie,
            login_keepalive_secs: secs("GOOFISH_LOGIN_KEEPALIVE_SECS"),
            login_renew_secs: secs("GOOFISH_LOGIN_RENEW_SECS"),
            runtime_dir: path("GOOFISH_RUNTIME_DIR")
                .or_else(|| path("XDG_RUNTIME_DIR").map(|d| d.join("goofish-tui"))),
            core_program: path("GOOFISH_CORE_PROGRAM"),
            no_daemon: flag("GOOFISH_NO_DAEMON"),
            restart_core: flag("GOOFISH_RESTART_CORE"),
            ..Layer::default()
        };
        let locale = Lang::Auto.resolve_with(|k| get(k).and_then(|v| v.into_string().ok()));
        Env { layer, locale }
    }
}
