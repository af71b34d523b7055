//! Settings, resolved once at start: built-in defaults < config file < `GOOFISH_*`
//! environment < command-line flags. Each source is a [`Layer`] with every field optional;
//! [`Sources::resolve`] merges them into one [`Settings`] that the messenger and every command
//! use. A cookie stays as the user gave it ([`GivenCookie`]): the IM client reads and parses it.

pub mod defaults;
mod file;
mod layer;
mod notify;
mod paths;
mod ui;

pub use file::FileConfig;
pub use layer::{CookieValue, Env, GivenCookie, Layer};
pub use notify::{NotifyOptions, TerminalChoice};
pub use paths::Paths;
pub use ui::{ImagesMode, UiOptions};

use crate::text::i18n::Lang;
use defaults::*;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no home directory: set GOOFISH_DATA_DIR or use --data-dir")]
    NoHome,
}

/// The service's endpoints, as given (the IM client parses them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrls {
    pub mtop: String,
    pub passport: String,
    pub ws: String,
    pub upload: String,
}

/// Everything the program was told, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub paths: Paths,
    pub endpoints: EndpointUrls,
    /// The cookie given this time, if any (else the saved jar is used).
    pub cookie: Option<GivenCookie>,
    pub heartbeat: Duration,
    /// `loginuser.get` this often while running (§5.4).
    pub login_keepalive: Duration,
    /// `hasLogin.do` this often ahead of any expiry of the login.
    pub login_renew: Duration,
    /// The log file's level (`--log-level`, else the config file's).
    pub log_file_level: String,
    /// The level of what the commands log on stderr (`--log-level`).
    pub stderr_log_level: String,
    /// Local history keeps at most this many messages per conversation.
    pub keep_per_conversation: Option<usize>,
    /// The `[ui]` table, its language resolved (`--lang` over it, `auto` by the locale).
    pub ui: UiOptions,
    /// The `[notify]` table.
    pub notify: NotifyOptions,
    /// The language the program speaks in (the same as `ui.lang`).
    pub lang: Lang,
    /// `--demo`: the embedded simulator instead of the service.
    pub demo: bool,
    /// Run the session in this process instead of attaching to the background core.
    pub no_daemon: bool,
    /// A view that finds a core of another version restarts it without asking.
    pub restart_core: bool,
    /// The program started as the background core; `None`: this one.
    pub core_program: Option<PathBuf>,
    /// `--account`: the account a view is for (uid or nick), when the data directory has
    /// several; `None`: the first one logged in.
    pub account: Option<String>,
}

impl Settings {
    /// Where the local history lives: the data dir, or its `demo` subdirectory in demo mode
    /// (so the simulator's made-up conversations never mix with an account's).
    pub fn store_dir(&self) -> PathBuf {
        if self.demo {
            self.paths.data_dir.join("demo")
        } else {
            self.paths.data_dir.clone()
        }
    }
}

/// The layers above the config file: the command line over the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Sources {
    pub flags: Layer,
    pub env: Env,
}

impl Sources {
    /// The config file to read: `--config`, else `GOOFISH_CONFIG`, else the XDG one.
    pub fn config_file(&self) -> Result<PathBuf, ConfigError> {
        let named = self
            .flags
            .config_file
            .as_ref()
            .or(self.env.layer.config_file.as_ref());
        Paths::config_file(named.map(PathBuf::as_path))
    }

    /// The language to speak in when the config file cannot be read: `--lang`, else the
    /// locale.
    pub fn lang_without_file(&self) -> Lang {
        self.flags
            .lang
            .unwrap_or_default()
            .resolve_with_locale(self.env.locale)
    }

    /// The level of what the commands and the simulator log on stderr: `--log-level` (the
    /// config file's `log_level` is the log file's).
    pub fn stderr_log_level(&self) -> String {
        self.flags
            .log_level
            .clone()
            .unwrap_or_else(|| STDERR_LOG_LEVEL.to_string())
    }

    /// Reads the config file (a missing one is empty) and resolves everything.
    pub fn resolve(&self) -> Result<Settings, ConfigError> {
        let path = self.config_file()?;
        let file = FileConfig::load(&path)?;
        self.with_file(path, file)
    }

    /// Resolves everything over `file`, read from `path`.
    pub fn with_file(&self, path: PathBuf, file: FileConfig) -> Result<Settings, ConfigError> {
        let file = file.into_layer(&path);
        let l = self.flags.clone().over(self.env.layer.clone()).over(file);
        let paths = Paths::resolve(path, l.data_dir, l.runtime_dir)?;
        let url = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_string());
        let mut ui = l.ui.unwrap_or_default();
        ui.lang = l
            .lang
            .unwrap_or(ui.lang)
            .resolve_with_locale(self.env.locale);
        Ok(Settings {
            paths,
            endpoints: EndpointUrls {
                mtop: url(l.mtop_url, MTOP_URL),
                passport: url(l.passport_url, PASSPORT_URL),
                ws: url(l.ws_url, WS_URL),
                upload: url(l.upload_url, UPLOAD_URL),
            },
            cookie: l.cookie,
            heartbeat: l
                .heartbeat_secs
                .map_or(HEARTBEAT, |s| Duration::from_secs(s.max(1))),
            login_keepalive: l
                .login_keepalive_secs
                .map_or(LOGIN_KEEPALIVE, |s| Duration::from_secs(s.max(1))),
            login_renew: l
                .login_renew_secs
                .map_or(LOGIN_RENEW, |s| Duration::from_secs(s.max(1))),
            log_file_level: l
                .log_level
                .or(l.log_file_level)
                .unwrap_or_else(|| LOG_FILE_LEVEL.to_string()),
            stderr_log_level: self.stderr_log_level(),
            keep_per_conversation: l.keep_per_conversation,
            lang: ui.lang,
            ui,
            notify: l.notify.unwrap_or_default(),
            demo: l.demo.unwrap_or(false),
            no_daemon: l.no_daemon.unwrap_or(false),
            restart_core: l.restart_core.unwrap_or(false),
            core_program: l.core_program,
            account: l.account,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::path::Path;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Env::from_lookup(|k| map.get(k).cloned())
    }

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    fn resolve(flags: Layer, env: Env, text: &str) -> Settings {
        let sources = Sources { flags, env };
        sources
            .with_file(PathBuf::from("/etc/gt/config.toml"), file(text))
            .unwrap()
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let text = "mtop_url = \"http://file/\"\nws_url = \"ws://file/\"\npassport_url = \"http://file-p/\"\nheartbeat_secs = 20";
        let e = env(&[
            ("GOOFISH_WS_URL", "ws://env/"),
            ("GOOFISH_PASSPORT_URL", "http://env-p/"),
        ]);
        let flags = Layer {
            ws_url: Some("ws://flag/".into()),
            ..Layer::default()
        };
        let s = resolve(flags, e, text);
        assert_eq!(s.endpoints.mtop, "http://file/");
        assert_eq!(s.endpoints.passport, "http://env-p/");
        assert_eq!(s.endpoints.ws, "ws://flag/");
        assert_eq!(s.endpoints.upload, UPLOAD_URL);
        assert_eq!(s.heartbeat, Duration::from_secs(20));
        let s = resolve(Layer::default(), env(&[]), "");
        assert_eq!(s.endpoints.mtop, MTOP_URL);
        assert_eq!(s.heartbeat, HEARTBEAT);
        let s = resolve(
            Layer {
                heartbeat_secs: Some(0),
                ..Layer::default()
            },
            env(&[]),
            "",
        );
        assert_eq!(s.heartbeat, Duration::from_secs(1));
    }

    #[test]
    fn the_login_keepalive_and_renewal_periods_come_from_file_and_environment() {
        let text = "login_keepalive_secs = 120\nlogin_renew_secs = 900";
        let s = resolve(Layer::default(), env(&[]), text);
        assert_eq!(s.login_keepalive, Duration::from_secs(120));
        assert_eq!(s.login_renew, Duration::from_secs(900));
        let e = env(&[
            ("GOOFISH_LOGIN_KEEPALIVE_SECS", "2"),
            ("GOOFISH_LOGIN_RENEW_SECS", "not a number"),
        ]);
        let s = resolve(Layer::default(), e, text);
        assert_eq!(s.login_keepalive, Duration::from_secs(2));
        assert_eq!(s.login_renew, Duration::from_secs(900));
        let s = resolve(Layer::default(), env(&[]), "");
        assert_eq!(s.login_keepalive, LOGIN_KEEPALIVE);
        assert_eq!(s.login_renew, LOGIN_RENEW);
    }

    #[test]
    fn the_notify_table_is_read_and_a_wrong_terminal_is_refused() {
        let s = resolve(Layer::default(), env(&[]), "");
        assert_eq!(s.notify, NotifyOptions::default());
        assert_eq!(s.notify.terminal, TerminalChoice::Auto);
        let text = "[notify]\nterminal = \"osc9\"\ncommand = \"cat\"\n";
        let s = resolve(Layer::default(), env(&[]), text);
        assert_eq!(s.notify.terminal, TerminalChoice::Osc9);
        assert_eq!(s.notify.command.as_deref(), Some("cat"));
        let err = toml::from_str::<FileConfig>("[notify]\nterminal = \"osc10\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("osc10") && err.contains("osc777"), "{err}");
    }

    #[test]
    fn the_cookie_comes_from_the_highest_layer_that_gives_one_unread() {
        let text = "cookie = \"unb=1\"\ncookie_file = \"/f/cookie\"";
        let flag = Layer {
            cookie: Some(GivenCookie::file("--cookie-file", "/flag/cookie".into())),
            ..Layer::default()
        };
        let e = env(&[("GOOFISH_COOKIE", "unb=2")]);
        let s = resolve(flag.clone(), e.clone(), text);
        assert_eq!(s.cookie.unwrap().source, "--cookie-file /flag/cookie");
        let s = resolve(Layer::default(), e, text);
        assert_eq!(
            s.cookie,
            Some(GivenCookie::header("GOOFISH_COOKIE", Secret::new("unb=2")))
        );
        // In the file, the file beats the value; a blank GOOFISH_COOKIE is none.
        let s = resolve(Layer::default(), env(&[("GOOFISH_COOKIE", "  ")]), text);
        let cookie = s.cookie.unwrap();
        assert_eq!(cookie.value, CookieValue::File("/f/cookie".into()));
        assert_eq!(cookie.source, "cookie_file /f/cookie");
        let s = resolve(Layer::default(), env(&[]), "cookie = \"unb=1\"");
        assert_eq!(s.cookie.unwrap().source, "the config file");
        // Nothing is read: a file that is not there is no error yet.
        let s = resolve(Layer::default(), env(&[]), "cookie_file = \"/no/such\"");
        assert!(s.cookie.is_some());
    }

    #[test]
    fn the_data_dir_and_the_config_file_follow_the_same_order() {
        let text = "data_dir = \"state\"";
        assert_eq!(
            resolve(Layer::default(), env(&[]), text).paths.data_dir,
            Path::new("/etc/gt/state")
        );
        let e = env(&[
            ("GOOFISH_DATA_DIR", "/env/data"),
            ("GOOFISH_CONFIG", "/env/c.toml"),
        ]);
        assert_eq!(
            resolve(Layer::default(), e.clone(), text).paths.data_dir,
            Path::new("/env/data")
        );
        let flags = Layer {
            data_dir: Some("/flag/data".into()),
            config_file: Some("/flag/c.toml".into()),
            ..Layer::default()
        };
        let s = resolve(flags.clone(), e.clone(), text);
        assert_eq!(s.paths.data_dir, Path::new("/flag/data"));
        let sources = Sources {
            flags,
            env: e.clone(),
        };
        assert_eq!(sources.config_file().unwrap(), Path::new("/flag/c.toml"));
        let sources = Sources {
            flags: Layer::default(),
            env: e,
        };
        assert_eq!(sources.config_file().unwrap(), Path::new("/env/c.toml"));
        // An empty variable is an unset one.
        let sources = Sources {
            flags: Layer::default(),
            env: env(&[("GOOFISH_CONFIG", ""), ("GOOFISH_MTOP_URL", "")]),
        };
        assert_eq!(sources.env.layer, Layer::default());
    }

    #[test]
    fn pictures_and_links_are_read_from_the_ui_table() {
        use crate::config::ImagesMode;
        let s = resolve(Layer::default(), env(&[]), "");
        assert_eq!((s.ui.images, s.ui.hyperlinks), (ImagesMode::Auto, true));
        let s = resolve(
            Layer::default(),
            env(&[]),
            "[ui]\nimages = \"sixel\"\nhyperlinks = false",
        );
        assert_eq!((s.ui.images, s.ui.hyperlinks), (ImagesMode::Sixel, false));
        let s = resolve(Layer::default(), env(&[]), "[ui]\nimages = \"off\"");
        assert_eq!(s.ui.images, ImagesMode::Off);
    }

    #[test]
    fn the_language_is_the_flag_else_the_files_else_the_locale() {
        let zh = env(&[("LANG", "zh_CN.UTF-8")]);
        let s = resolve(Layer::default(), zh.clone(), "");
        assert_eq!((s.lang, s.ui.lang), (Lang::Zh, Lang::Zh));
        let s = resolve(Layer::default(), zh.clone(), "[ui]\nlang = \"en\"");
        assert_eq!(s.lang, Lang::En);
        let flags = Layer {
            lang: Some(Lang::Zh),
            ..Layer::default()
        };
        let s = resolve(flags.clone(), env(&[]), "[ui]\nlang = \"en\"");
        assert_eq!(s.lang, Lang::Zh);
        let sources = Sources {
            flags: Layer::default(),
            env: zh,
        };
        assert_eq!(sources.lang_without_file(), Lang::Zh);
        let sources = Sources {
            flags: Layer {
                lang: Some(Lang::En),
                ..Layer::default()
            },
            env: env(&[("LC_ALL", "zh_TW")]),
        };
        assert_eq!(sources.lang_without_file(), Lang::En);
    }

    #[test]
    fn the_log_files_level_is_the_flag_else_the_files_and_stderr_takes_the_flag_only() {
        let text = "log_level = \"debug\"";
        let s = resolve(Layer::default(), env(&[]), text);
        assert_eq!(
            (s.log_file_level.as_str(), s.stderr_log_level.as_str()),
            ("debug", "warn")
        );
        let s = resolve(Layer::default(), env(&[]), "");
        assert_eq!(s.log_file_level, LOG_FILE_LEVEL);
        let flags = Layer {
            log_level: Some("trace".into()),
            ..Layer::default()
        };
        let s = resolve(flags, env(&[]), text);
        assert_eq!(
            (s.log_file_level.as_str(), s.stderr_log_level.as_str()),
            ("trace", "trace")
        );
    }

    #[test]
    fn demo_keeps_its_history_apart() {
        let flags = Layer {
            demo: Some(true),
            data_dir: Some("/d".into()),
            ..Layer::default()
        };
        assert_eq!(
            resolve(flags, env(&[]), "").store_dir(),
            Path::new("/d/demo")
        );
        let s = resolve(
            Layer {
                data_dir: Some("/d".into()),
                ..Layer::default()
            },
            env(&[]),
            "",
        );
        assert_eq!(s.store_dir(), Path::new("/d"));
    }
}
