//! The command line, on the binary's side: clap's view of the flags, turned into the
//! settings' top layer ([`Cli::layer`]) and the command to run.

use clap::{Args, Parser, Subcommand, ValueEnum};
use goofish_tui::config::defaults::{MTOP_URL, PASSPORT_URL, UPLOAD_URL, WS_URL};
use goofish_tui::config::{GivenCookie, Layer};
use goofish_tui::headless::accounts::AccountsArgs;
use goofish_tui::headless::daemon::DaemonArgs;
use goofish_tui::headless::decode::DecodeArgs;
use goofish_tui::headless::doctor::DoctorArgs;
use goofish_tui::headless::history::FetchHistoryArgs;
use goofish_tui::headless::login::LoginArgs;
use goofish_tui::headless::recall::RecallArgs;
use goofish_tui::headless::search::SearchArgs;
use goofish_tui::headless::send::SendArgs;
use goofish_tui::headless::watch::WatchArgs;
use goofish_tui::text::i18n::{self, Lang};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The language the help is shown in, known before the arguments are parsed: `--lang`,
/// else `locale`.
pub fn early_lang(args: impl Iterator<Item = String>, locale: Lang) -> Lang {
    let args: Vec<String> = args.collect();
    let flag = args
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--lang") {
            Some("") => args.get(i + 1).cloned(),
            Some(v) => v.strip_prefix('=').map(str::to_string),
            None => None,
        });
    flag.as_deref()
        .and_then(i18n::parse_lang)
        .unwrap_or_default()
        .resolve_with_locale(locale)
}

/// The command line, with its help headings in `lang` (the descriptions stay English: clap
/// takes them from the code).
pub fn command(lang: Lang) -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    if lang == Lang::Zh {
        headings_zh(cmd, true)
    } else {
        cmd
    }
}

/// Chinese headings for `cmd` and its subcommands: usage, arguments, options, commands, and
/// the help and version flags.
fn headings_zh(cmd: clap::Command, root: bool) -> clap::Command {
    use clap::{Arg, ArgAction};
    let mut cmd = cmd
        .help_template("{before-help}{about-with-newline}\n用法：{usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("命令")
        .mut_args(|a| {
            let heading = if a.is_positional() {
                "参数"
            } else {
                "选项"
            };
            a.help_heading(heading)
        })
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("显示帮助")
                .help_heading("选项"),
        );
    if root {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("显示版本")
                .help_heading("选项"),
        );
    }
    cmd.mut_subcommands(|c| headings_zh(c, false))
}

#[derive(Debug, Parser)]
#[command(
    name = "goofish-tui",
    version,
    about = "A terminal messenger for Goofish (闲鱼) sellers"
)]
pub struct Cli {
    /// Try the program against the embedded simulator: no account, no network.
    #[arg(long, global = true)]
    pub demo: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[arg(
        long,
        global = true,
        help = "Config file (default: ~/.config/goofish-tui/config.toml) [env: GOOFISH_CONFIG]"
    )]
    pub config: Option<PathBuf>,
    #[arg(
        long,
        global = true,
        help = "Data directory for the cookie jar and device id (default: \
                ~/.local/share/goofish-tui) [env: GOOFISH_DATA_DIR]"
    )]
    pub data_dir: Option<PathBuf>,
    /// Log level for the log file: error, warn, info, debug, trace (RUST_LOG also works).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// UI language (default: from the locale).
    #[arg(long, global = true, value_enum, ignore_case = true)]
    pub lang: Option<LangArg>,
    /// Run the IM session in this process instead of attaching to the background core
    /// (`goofish-tui daemon`) [env: GOOFISH_NO_DAEMON].
    #[arg(long, global = true)]
    pub no_daemon: bool,
    /// When the running background core is of another version, restart it with this one
    /// without asking (for scripts) [env: GOOFISH_RESTART_CORE].
    #[arg(long, global = true)]
    pub restart_core: bool,
    /// Which account (a uid or a nick) when the data directory has several; `watch` also
    /// takes `all` (default: the first one logged in, as `goofish-tui accounts` lists them).
    #[arg(long, global = true, value_name = "UID|NICK")]
    pub account: Option<String>,
    /// Delete the account's local history (the message cache and unsent texts), say what
    /// was deleted, and exit.
    #[arg(long, global = true)]
    pub clear_cache: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The languages of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// Chinese.
    #[value(alias = "zh_cn", alias = "cn")]
    Zh,
    /// English.
    En,
    /// From LC_ALL, LC_MESSAGES or LANG.
    Auto,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Zh => Lang::Zh,
            LangArg::En => Lang::En,
            LangArg::Auto => Lang::Auto,
        }
    }
}

impl Cli {
    /// What the command line says, as the top layer of the settings (the environment is
    /// read apart, once: [`goofish_tui::config::Env`]).
    pub fn layer(&self) -> Layer {
        let c = &self.conn;
        Layer {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            mtop_url: c.mtop_url.clone(),
            passport_url: c.passport_url.clone(),
            ws_url: c.ws_url.clone(),
            upload_url: c.upload_url.clone(),
            cookie: c
                .cookie_file
                .clone()
                .map(|p| GivenCookie::file("--cookie-file", p)),
            heartbeat_secs: c.heartbeat_secs,
            log_level: self.log_level.clone(),
            lang: self.lang.map(Lang::from),
            demo: self.demo.then_some(true),
            no_daemon: self.no_daemon.then_some(true),
            restart_core: self.restart_core.then_some(true),
            account: self.account.clone(),
            ..Layer::default()
        }
    }
}

/// The help of a URL flag: what it is, its default and its variable.
fn url_help(what: &str, default: &str, var: &str) -> String {
    format!("{what} (default: {default}) [env: {var}]")
}

/// Where to connect and who to be; shared by every command that talks to the service.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnArgs {
    #[arg(long, global = true, help = url_help("mtop gateway base URL", MTOP_URL, "GOOFISH_MTOP_URL"))]
    pub mtop_url: Option<String>,
    #[arg(long, global = true, help = url_help("Passport base URL", PASSPORT_URL, "GOOFISH_PASSPORT_URL"))]
    pub passport_url: Option<String>,
    #[arg(long, global = true, help = url_help("Picture upload base URL", UPLOAD_URL, "GOOFISH_UPLOAD_URL"))]
    pub upload_url: Option<String>,
    #[arg(long, global = true, help = url_help("LWP WebSocket URL", WS_URL, "GOOFISH_WS_URL"))]
    pub ws_url: Option<String>,
    /// A file with the login cookie (a Cookie header value, or a JSON object name → value).
    #[arg(long, global = true)]
    pub cookie_file: Option<PathBuf>,
    /// Seconds between WebSocket heartbeats.
    #[arg(long, global = true)]
    pub heartbeat_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Goofish simulator: prints one JSON line with its endpoints, then serves.
    Sim(SimArgs),
    /// Print incoming messages and events, one line each, until interrupted.
    Watch(WatchArgs),
    /// Send one text message and print its id.
    Send(SendArgs),
    /// Recall an own message sent less than 2 minutes ago.
    Recall(RecallArgs),
    /// Decode a sync push (item base64, /s/sync frame or body) read from stdin. No network.
    Decode(DecodeArgs),
    /// Check the config, the cookie, the connection and the terminal.
    Doctor(DoctorArgs),
    /// Search the local history (no network): conversation, time, sender and text of each match.
    Search(SearchArgs),
    /// Log in by scanning a QR code with the Xianyu app; the login is saved for later runs.
    /// Logging into another account adds it (the same account again replaces its login).
    Login(LoginArgs),
    /// List the accounts logged in here (uid, nick, folder); the first is the default.
    Accounts(AccountsArgs),
    /// Read the history of every conversation into the local history, so search finds it all.
    FetchHistory(FetchHistoryArgs),
    /// The background core that owns the account's connection and local history, shared by
    /// every view: start it, run it in the foreground, show its status or stop it.
    Daemon(DaemonArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
    /// Buyers write, bargain, order and pay now and then, and answer what you send.
    Demo,
    /// No spontaneous traffic.
    Quiet,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Seed of the generated world.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "demo")]
    pub scenario: ScenarioArg,
    /// Number of conversations in the world.
    #[arg(long, default_value_t = 12)]
    pub conversations: usize,
    /// Messages of history per conversation.
    #[arg(long, default_value_t = 30)]
    pub history: usize,
    /// Confirm a login QR code by itself after this many seconds.
    #[arg(long)]
    pub qr_auto_confirm: Option<f64>,
    /// Lifetime of an IM token, in seconds.
    #[arg(long, default_value_t = 86400)]
    pub im_token_lifetime: u64,
    /// Kick a connection after this many seconds without a heartbeat.
    #[arg(long, default_value_t = 30)]
    pub heartbeat_kick_after: u64,
    /// The login cookie dies this many seconds after it was issued or last renewed
    /// (default: never).
    #[arg(long, value_name = "SECS")]
    pub session_lifetime: Option<f64>,
    /// Sellers served behind the same endpoints, each with its own uid, nick, cookie and
    /// world (the further ones are listed under `others` in the JSON line).
    #[arg(long, default_value_t = 1)]
    pub sellers: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn lang_takes_the_known_languages_and_refuses_others_with_the_list() {
        for (arg, want) in [
            ("zh", LangArg::Zh),
            ("ZH_CN", LangArg::Zh),
            ("cn", LangArg::Zh),
            ("En", LangArg::En),
            ("auto", LangArg::Auto),
        ] {
            let cli = Cli::try_parse_from(["goofish-tui", "--lang", arg]).unwrap();
            assert_eq!(cli.lang, Some(want), "{arg}");
        }
        let err = Cli::try_parse_from(["goofish-tui", "decode", "--lang", "fr"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'fr'"), "{err}");
        assert!(err.contains("[possible values: zh, en, auto]"), "{err}");
    }
}
