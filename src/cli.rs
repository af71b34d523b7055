//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The language the help is shown in, known before the arguments are parsed: `--lang`,
/// else the locale.
pub fn early_lang(args: impl Iterator<Item = String>) -> crate::text::i18n::Lang {
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
        .and_then(crate::text::i18n::parse_lang)
        .unwrap_or_default()
        .resolve()
}

/// The command line, with its help headings in `lang` (the descriptions stay English: clap
/// takes them from the code).
pub fn command(lang: crate::text::i18n::Lang) -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    if lang == crate::text::i18n::Lang::Zh {
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
    /// Config file (default: ~/.config/goofish-tui/config.toml).
    #[arg(long, global = true, env = "GOOFISH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory for the cookie jar and device id (default: ~/.local/share/goofish-tui).
    #[arg(long, global = true, env = "GOOFISH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log level for the log file: error, warn, info, debug, trace (RUST_LOG also works).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// UI language (default: from the locale).
    #[arg(long, global = true, value_enum, ignore_case = true)]
    pub lang: Option<LangArg>,
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

impl From<LangArg> for crate::text::i18n::Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Zh => crate::text::i18n::Lang::Zh,
            LangArg::En => crate::text::i18n::Lang::En,
            LangArg::Auto => crate::text::i18n::Lang::Auto,
        }
    }
}

/// Where to connect and who to be; shared by every command that talks to the service.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnArgs {
    /// mtop gateway base URL (default: https://h5api.m.goofish.com/).
    #[arg(long, global = true, env = "GOOFISH_MTOP_URL")]
    pub mtop_url: Option<String>,
    /// Passport base URL (default: https://passport.goofish.com/).
    #[arg(long, global = true, env = "GOOFISH_PASSPORT_URL")]
    pub passport_url: Option<String>,
    /// Picture upload base URL (default: https://stream-upload.goofish.com/).
    #[arg(long, global = true, env = "GOOFISH_UPLOAD_URL")]
    pub upload_url: Option<String>,
    /// LWP WebSocket URL (default: wss://wss-goofish.dingtalk.com/).
    #[arg(long, global = true, env = "GOOFISH_WS_URL")]
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
    Search(crate::store::cmd::SearchArgs),
    /// Log in by scanning a QR code with the Xianyu app; the login is saved for later runs.
    Login(LoginArgs),
    /// Read the history of every conversation into the local history, so search finds it all.
    FetchHistory(FetchHistoryArgs),
}

#[derive(Debug, Args)]
pub struct FetchHistoryArgs {
    /// At most this many pages per conversation.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_pages: u32,
    /// Seconds between two requests (the service has risk control; do not hurry it).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub pause: f64,
    /// Only this conversation.
    #[arg(long, value_name = "CID")]
    pub cid: Option<String>,
    /// Go on past pages that are stored already (to finish a run cut short by --max-pages).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Draw the QR code for a terminal with a light background (dark text).
    #[arg(long)]
    pub light_terminal: bool,
}

impl Default for LoginArgs {
    fn default() -> Self {
        LoginArgs {
            timeout: 300.0,
            light_terminal: false,
        }
    }
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
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// JSON Lines (schema version 1, see the README) instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Also show platform notices, trade cards, order-state updates and system messages.
    #[arg(long)]
    pub all: bool,
    /// Run this shell command for each incoming buyer message, with its JSON on stdin.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Kill an --exec command that runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub exec_timeout: f64,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "peer"])))]
pub struct SendArgs {
    /// Conversation id to send to.
    #[arg(long, value_name = "CID")]
    pub to: Option<String>,
    /// User id of the peer; the conversation is found or created.
    #[arg(long, value_name = "UID")]
    pub peer: Option<String>,
    /// With --peer: the item the conversation is about.
    #[arg(long, value_name = "ITEM", requires = "peer")]
    pub item: Option<String>,
    /// The text (default: read from stdin).
    #[arg(long)]
    pub text: Option<String>,
    /// Send this picture file (JPEG, PNG, GIF or WebP, at most 5 MB) instead of a text.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub image: Option<std::path::PathBuf>,
    /// Send quick reply N (1 is the first of `[ui] quick_replies`, or of the built-in ones),
    /// with the buyer's nickname, the item and its price filled in.
    #[arg(long, value_name = "N", conflicts_with_all = ["text", "image"])]
    pub quick: Option<usize>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct RecallArgs {
    /// The conversation the message is in.
    #[arg(long, value_name = "CID")]
    pub to: String,
    /// The message id (`<digits>.PNM`, as `send` prints it).
    #[arg(long, value_name = "MSG_ID")]
    pub id: String,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Print one JSON document instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// The logged-in account's uid, so own messages are recognised as such.
    #[arg(long, value_name = "UID")]
    pub self_uid: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Seconds to wait for each network check.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
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
