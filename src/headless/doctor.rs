//! `goofish-tui doctor`: one line per check (✓ passed, ✗ failed, ! worth a look) with
//! what to do about it. Never prints a cookie or token value.

use super::{EXIT_FAILED, EXIT_OK};
use crate::config::{ConfigError, FileConfig, Settings, Sources};
use crate::im::conn::{self, ConnConfig};
use crate::im::cookies::CookieJar;
use crate::im::device;
use crate::im::mtop::{Endpoints, MtopClient, MtopError};
use crate::protocol::Uid;
use crate::text::i18n::Lang;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Seconds to wait for each network check.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
}

/// English or Chinese, as the user reads.
fn t(lang: Lang, en: impl Into<String>, zh: impl Into<String>) -> String {
    if lang == Lang::Zh {
        zh.into()
    } else {
        en.into()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Warn,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::Warn => "!",
        }
    }
}

/// One printed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub status: Status,
    pub name: String,
    pub detail: String,
    /// What to do, for a failure or a warning.
    pub fix: Option<String>,
}

/// The name of a check as shown: the English one is also the key tests look for.
fn name(lang: Lang, en: &'static str) -> String {
    let zh = match en {
        "config" => "配置",
        "demo" => "演示",
        "cookie" => "cookie",
        "endpoints" => "服务地址",
        "login" => "登录",
        "IM token" => "IM 令牌",
        "websocket" => "websocket",
        "terminal" => "终端",
        "colours" => "颜色",
        "tmux" => "tmux",
        "ssh" => "ssh",
        "locale" => "区域设置",
        "data dir" => "数据目录",
        "store" => "本地记录",
        "notify" => "通知",
        "features" => "终端功能",
        "tmux pass" => "tmux 透传",
        "renewed" => "登录续期",
        "core" => "后台核心",
        "accounts" => "账号",
        other => other,
    };
    t(lang, en, zh)
}

impl Check {
    fn pass(name: String, detail: impl Into<String>) -> Check {
        Check {
            status: Status::Pass,
            name,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: String, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Fail,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn warn(name: String, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Warn,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn render(&self) -> String {
        let pad = 10usize.saturating_sub(crate::text::width(&self.name));
        let mut s = format!(
            "{} {}{} {}",
            self.status.mark(),
            self.name,
            " ".repeat(pad),
            self.detail
        );
        if let Some(f) = &self.fix {
            for l in f.lines() {
                s.push_str(&format!("\n    {l}"));
            }
        }
        s
    }
}

fn fresh_cookie(lang: Lang) -> String {
    t(
        lang,
        "run `goofish-tui login`, or export a fresh Cookie header from a logged-in https://www.goofish.com/im tab (developer tools, Network tab) and set GOOFISH_COOKIE or --cookie-file",
        "运行 `goofish-tui login` 扫码登录，或从已登录的 https://www.goofish.com/im 页面（开发者工具，网络）复制新的 Cookie 请求头，设为 GOOFISH_COOKIE 或 --cookie-file",
    )
}

fn mtop_fix(lang: Lang, e: &MtopError) -> String {
    match e {
        MtopError::SessionExpired | MtopError::NoCookie => fresh_cookie(lang),
        MtopError::RiskControl { .. } => t(
            lang,
            "pass the slider check in a browser logged into the account, then export a fresh cookie",
            "在已登录该账号的浏览器中通过滑块验证，然后重新导出 cookie",
        ),
        MtopError::Http(_) => t(
            lang,
            "check the network and the --mtop-url / config endpoints",
            "检查网络，以及 --mtop-url / 配置文件中的服务地址",
        ),
        MtopError::Throttled { .. } => t(lang, "wait a while and try again", "等一会儿再试"),
        MtopError::TooLarge { .. } => t(
            lang,
            "no real answer is that large: check --mtop-url / --passport-url and any proxy in between",
            "真正的服务不会给出这么大的回答：检查 --mtop-url / --passport-url 以及中间的代理",
        ),
        _ => t(
            lang,
            "try again later; run with --log-level debug for details",
            "稍后再试；加 --log-level debug 运行可看到详情",
        ),
    }
}

/// The checks that touch the terminal and the environment (no network).
pub fn terminal_checks(env: &dyn Fn(&str) -> Option<String>, lang: Lang) -> Vec<Check> {
    let n = |en| name(lang, en);
    let mut out = Vec::new();
    match crossterm::terminal::size() {
        Ok((w, h)) if w >= 60 && h >= 16 => {
            out.push(Check::pass(n("terminal"), format!("{w}×{h}")))
        }
        Ok((w, h)) => out.push(Check::warn(
            n("terminal"),
            t(lang, format!("{w}×{h} is small"), format!("{w}×{h} 太小")),
            t(
                lang,
                "the TUI wants at least 60×16; enlarge the window",
                "界面至少需要 60×16，请把窗口放大",
            ),
        )),
        Err(_) => out.push(Check::warn(
            n("terminal"),
            t(
                lang,
                "stdout is not a terminal (fine for watch/send in scripts)",
                "标准输出不是终端（脚本里用 watch/send 没有问题）",
            ),
            t(lang, "run the TUI in a terminal", "请在终端中运行界面"),
        )),
    }
    let term = env("TERM").unwrap_or_default();
    let colorterm = env("COLORTERM").unwrap_or_default();
    if term.is_empty() || term == "dumb" {
        out.push(Check::warn(
            n("colours"),
            format!("TERM = {term:?}"),
            t(
                lang,
                "set TERM, e.g. TERM=xterm-256color",
                "请设置 TERM，例如 TERM=xterm-256color",
            ),
        ));
    } else if colorterm.contains("truecolor") || colorterm.contains("24bit") {
        out.push(Check::pass(
            n("colours"),
            t(
                lang,
                format!("true colour (TERM={term})"),
                format!("真彩色（TERM={term}）"),
            ),
        ));
    } else if term.contains("256color") {
        out.push(Check::pass(
            n("colours"),
            t(
                lang,
                format!("256 colours (TERM={term})"),
                format!("256 色（TERM={term}）"),
            ),
        ));
    } else {
        out.push(Check::warn(
            n("colours"),
            t(
                lang,
                format!("basic colours only (TERM={term})"),
                format!("只有基本颜色（TERM={term}）"),
            ),
            t(
                lang,
                "use a 256-colour TERM (e.g. xterm-256color or tmux-256color) for nicer output",
                "用 256 色的 TERM（如 xterm-256color 或 tmux-256color）显示更好",
            ),
        ));
    }
    if env("TMUX").is_some_and(|t| !t.is_empty()) {
        out.push(Check::pass(n("tmux"), t(lang, "inside tmux", "在 tmux 中")));
    }
    if env("SSH_CONNECTION").is_some_and(|t| !t.is_empty()) {
        out.push(Check::pass(n("ssh"), t(lang, "over SSH", "通过 SSH")));
    }
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()));
    match locale {
        Some(l) if l.to_uppercase().replace('-', "").contains("UTF8") => {
            out.push(Check::pass(n("locale"), l))
        }
        other => {
            let l = other.unwrap_or_else(|| t(lang, "no locale", "没有区域设置"));
            out.push(Check::warn(
                n("locale"),
                t(lang, format!("{l} is not UTF-8"), format!("{l} 不是 UTF-8")),
                t(
                    lang,
                    "Chinese text needs a UTF-8 locale: export LANG=en_US.UTF-8 (or zh_CN.UTF-8)",
                    "中文需要 UTF-8 区域设置：export LANG=zh_CN.UTF-8（或 en_US.UTF-8）",
                ),
            ))
        }
    }
    out
}

/// Can files be created in `dir`? Creates it when missing, like the TUI does.
pub fn data_dir_check(dir: &Path, lang: Lang) -> Check {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let result = crate::private_fs::create_dir(dir)
        .and_then(|_| std::fs::write(&probe, b"ok"))
        .and_then(|_| std::fs::remove_file(&probe));
    let d = dir.display();
    match result {
        Ok(()) => Check::pass(
            name(lang, "data dir"),
            t(lang, format!("{d} is writable"), format!("{d} 可写")),
        ),
        Err(e) => Check::fail(
            name(lang, "data dir"),
            t(
                lang,
                format!("{d} is not writable: {e}"),
                format!("{d} 不可写：{e}"),
            ),
            t(
                lang,
                "fix its permissions or choose another with --data-dir / GOOFISH_DATA_DIR",
                "修改它的权限，或用 --data-dir / GOOFISH_DATA_DIR 换一个目录",
            ),
        ),
    }
}

/// The account's message store, when there is one (opening it upgrades it; it is only a
/// cache, so a failure is a warning).
pub fn store_check(dir: &Path, uid: &Uid, lang: Lang) -> Check {
    let n = name(lang, "store");
    let path = match crate::store::db_path(dir, uid) {
        Ok(p) => p,
        Err(e) => {
            return Check::warn(
                n,
                crate::text::i18n::detail(lang, &e.to_string()),
                t(lang, "the history cache is off", "本地记录不可用"),
            );
        }
    };
    if !path.exists() {
        return Check::pass(
            n,
            t(
                lang,
                "none yet (made by the first run)",
                "还没有（第一次运行时创建）",
            ),
        );
    }
    let p = path.display();
    match crate::store::Store::open(dir, uid).and_then(|s| s.message_count()) {
        Ok(count) => Check::pass(
            n,
            t(
                lang,
                format!("{p} opens, {count} messages"),
                format!("{p} 可用，{count} 条消息"),
            ),
        ),
        Err(e) => Check::warn(
            n,
            t(
                lang,
                format!("{p} cannot be used: {e}"),
                format!(
                    "{p} 无法使用：{}",
                    crate::text::i18n::detail(lang, &e.to_string())
                ),
            ),
            t(
                lang,
                "it is only a cache: move the file away and it is rebuilt",
                "它只是缓存：把文件移走就会重建",
            ),
        ),
    }
}

/// The did the session would use, without creating the file (doctor changes nothing).
fn device_id(path: &Path, uid: &Uid) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .map(str::trim)
                .find(|l| l.get(37..) == Some(uid.as_str()) && device::is_device_id_of(l, uid))
                .map(str::to_string)
        })
        .unwrap_or_else(|| device::generate_device_id(uid))
}

struct Printer {
    failed: bool,
}

impl Printer {
    fn print(&mut self, c: Check) {
        if c.status == Status::Fail {
            self.failed = true;
        }
        // Details quote the service (error texts, a risk-control URL): cleaned for the terminal.
        let text = crate::safe_text::clean(&c.render()).into_owned();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|_| out.flush());
    }
}

/// Runs `doctor` on the settings as `sources` resolved them (`resolved`), speaking `lang`; 0
/// when every essential check passed. A config file that cannot be read is reported, and
/// the other checks run on the defaults.
pub async fn run(
    sources: &Sources,
    resolved: Result<Settings, ConfigError>,
    lang: Lang,
    args: &DoctorArgs,
) -> i32 {
    super::init_logging(&sources.stderr_log_level());
    let n = |en| name(lang, en);
    let d = |e: &dyn std::fmt::Display| crate::text::i18n::message(lang, &e.to_string());
    let wait = super::secs(args.timeout);
    let mut p = Printer { failed: false };
    let no_home = |p: &mut Printer, e: ConfigError| {
        p.print(Check::fail(
            n("config"),
            d(&e),
            t(
                lang,
                "set GOOFISH_DATA_DIR or HOME",
                "请设置 GOOFISH_DATA_DIR 或 HOME",
            ),
        ));
        EXIT_FAILED
    };
    let settings = match resolved {
        Ok(s) => {
            let cf = s.paths.config_file.display();
            p.print(Check::pass(
                n("config"),
                if s.paths.config_file.exists() {
                    t(lang, format!("{cf} parses"), format!("{cf} 有效"))
                } else {
                    t(
                        lang,
                        format!("none at {cf} (defaults)"),
                        format!("{cf} 不存在（使用默认值）"),
                    )
                },
            ));
            s
        }
        Err(e) => {
            let path = match &e {
                ConfigError::Read { path, .. } | ConfigError::Invalid { path, .. } => path.clone(),
                ConfigError::NoHome => return no_home(&mut p, e),
            };
            p.print(Check::fail(
                n("config"),
                d(&e),
                t(
                    lang,
                    "fix the file (unknown keys are refused) or move it away",
                    "修改这个文件（不认识的键会被拒绝），或把它移走",
                ),
            ));
            match sources.with_file(path, FileConfig::default()) {
                Ok(s) => s,
                Err(e) => return no_home(&mut p, e),
            }
        }
    };
    let paths = &settings.paths;
    // The account checked: its folder holds its device id and local history.
    let mut account_dir = settings.store_dir();

    // In demo mode every network check runs against the embedded simulator.
    let sim = if settings.demo {
        DemoSim::start(&mut p, lang).await
    } else {
        None
    };
    // The cookie given this time, read and parsed; `None` when it cannot be read.
    let given = match settings
        .cookie
        .as_ref()
        .map(|c| CookieJar::from_given(c).map(|jar| (jar, c.source.clone())))
        .transpose()
    {
        Ok(given) => Some(given),
        Err(e) => {
            p.print(Check::fail(n("cookie"), d(&e), fresh_cookie(lang)));
            None
        }
    };
    let mut network = None;
    let mut account: Option<Uid> = None;
    if let Some(sim) = &sim {
        let (uid, demo) = sim.network();
        account = Some(uid);
        network = Some(demo);
        p.print(Check::pass(
            n("cookie"),
            t(lang, "the simulator's (demo)", "模拟器的（演示）"),
        ));
    } else if !settings.demo
        && let Some(given) = given
    {
        let all = crate::accounts::list(&paths.data_dir);
        if !all.is_empty() {
            let listed: Vec<String> = all.iter().map(crate::accounts::Account::label).collect();
            p.print(Check::pass(n("accounts"), listed.join(", ")));
        }
        let chosen = match crate::accounts::choose(&all, settings.account.as_deref()) {
            Ok(chosen) => chosen.cloned(),
            Err(e) => {
                p.print(Check::fail(
                    n("accounts"),
                    d(&e),
                    t(
                        lang,
                        "give --account one of them (a uid or a nick)",
                        "给 --account 其中一个（uid 或昵称）",
                    ),
                ));
                None
            }
        };
        let jar_path = chosen.as_ref().map_or_else(
            || crate::accounts::jar_in(&paths.data_dir),
            crate::accounts::Account::jar,
        );
        if let Some(c) = &chosen {
            account_dir = c.dir.clone();
        }
        if let Some(uid) = given.as_ref().and_then(|(jar, _)| jar.uid()) {
            account_dir = crate::accounts::dir_for(&paths.data_dir, &uid);
        }
        let found = match given {
            Some(found) => Some(found),
            None if chosen.is_none() => None,
            None => CookieJar::load(&jar_path).ok().map(|j| {
                let jp = jar_path.display();
                (
                    j,
                    t(lang, format!("the saved jar {jp}"), format!("保存的 {jp}")),
                )
            }),
        };
        match found {
            None => p.print(Check::fail(
                n("cookie"),
                t(lang, "no login cookie found", "没有找到登录 cookie"),
                crate::text::i18n::message(lang, crate::text::i18n::COOKIE_HELP),
            )),
            Some((jar, source)) if jar.uid().is_none() => p.print(Check::fail(
                n("cookie"),
                t(
                    lang,
                    format!("the cookie from {source} has no `unb` (not from a logged-in tab)"),
                    format!("来自 {source} 的 cookie 没有 `unb`（不是已登录页面的）"),
                ),
                fresh_cookie(lang),
            )),
            Some((jar, source)) => {
                account = jar.uid();
                let entries = jar.len();
                p.print(Check::pass(
                    n("cookie"),
                    t(
                        lang,
                        format!("from {source}, {entries} entries, has `unb`"),
                        format!("来自 {source}，{entries} 项，有 `unb`"),
                    ),
                ));
                match Endpoints::from_urls(&settings.endpoints) {
                    Ok(endpoints) => {
                        network = Some((jar, endpoints, settings.endpoints.ws.clone()))
                    }
                    Err(e) => p.print(Check::fail(
                        n("endpoints"),
                        e,
                        t(
                            lang,
                            "fix --mtop-url / --passport-url / --upload-url or the config file",
                            "修改 --mtop-url / --passport-url / --upload-url 或配置文件",
                        ),
                    )),
                }
            }
        }
    }

    // A running core holds the account's connection: a second one with the same device id
    // (and a fresh token) would knock it off, so its state is reported instead.
    let core = match &network {
        Some(_) if !settings.demo => crate::daemon::status(&settings).await.ok().flatten(),
        _ => None,
    };
    if let Some(core) = &core {
        p.print(core_check(core, lang));
    }
    if let Some((jar, endpoints, ws)) = network {
        let own_connection = core.is_none();
        network_checks(
            &mut p,
            jar,
            endpoints,
            ws,
            &account_dir.join("device_id"),
            wait,
            lang,
            own_connection,
        )
        .await;
    }
    let env = |k: &str| std::env::var(k).ok();
    for c in terminal_checks(&env, lang) {
        p.print(c);
    }
    let passthrough = env("TMUX")
        .filter(|t| !t.is_empty())
        .and_then(|_| tmux_passthrough());
    for c in feature_checks(&env, settings.notify.terminal, passthrough.as_deref(), lang) {
        p.print(c);
    }
    p.print(data_dir_check(&paths.data_dir, lang));
    if let Some(uid) = account {
        p.print(store_check(&account_dir, &uid, lang));
        p.print(login_renewed_check(
            &account_dir,
            &uid,
            crate::time::now_ms(),
            lang,
        ));
    }
    if let Some(sim) = sim {
        sim.stop().await;
    }
    if p.failed { EXIT_FAILED } else { EXIT_OK }
}

/// What the terminal supports, as far as its environment says: OSC 52 (copy), OSC 8 (links),
/// its notifications and, inside tmux, whether passthrough lets them out.
pub fn feature_checks(
    env: &dyn Fn(&str) -> Option<String>,
    notify: crate::notify::TerminalChoice,
    tmux_passthrough: Option<&str>,
    lang: Lang,
) -> Vec<Check> {
    use crate::notify::{Mux, TerminalKind};
    let n = |en| name(lang, en);
    let mut out = Vec::new();
    let yes_no = |v: Option<bool>| match v {
        Some(true) => t(lang, "yes", "支持"),
        Some(false) => t(lang, "no", "不支持"),
        None => t(lang, "unknown", "未知"),
    };
    let (osc52, osc8) = known_features(env);
    out.push(Check::pass(
        n("features"),
        t(
            lang,
            format!(
                "copy (OSC 52): {}, links (OSC 8): {}",
                yes_no(osc52),
                yes_no(osc8)
            ),
            format!(
                "复制（OSC 52）：{}，链接（OSC 8）：{}",
                yes_no(osc52),
                yes_no(osc8)
            ),
        ),
    ));
    let kind = notify.resolve(env);
    let how = match kind {
        TerminalKind::Bell => t(lang, "the bell", "响铃"),
        TerminalKind::Off => t(lang, "off", "关闭"),
        k => t(
            lang,
            format!("desktop notifications ({})", k.name()),
            format!("桌面通知（{}）", k.name()),
        ),
    };
    let chosen = if notify == crate::notify::TerminalChoice::Auto {
        t(lang, "auto", "自动")
    } else {
        t(lang, "set in [notify]", "由 [notify] 设定")
    };
    if kind == TerminalKind::Bell
        && crate::notify::is_ssh(env)
        && notify == crate::notify::TerminalChoice::Auto
    {
        out.push(Check::warn(
            n("notify"),
            t(lang, format!("{how} ({chosen}, over SSH)"), format!("{how}（{chosen}，通过 SSH）")),
            t(
                lang,
                "the terminal at the other end is unknown: set [notify] terminal = \"osc9\" (or osc777/osc99) if it shows desktop notifications, or a [notify] command for the phone",
                "SSH 另一端的终端未知：如果它能显示桌面通知，请设置 [notify] terminal = \"osc9\"（或 osc777/osc99），或用 [notify] command 推送到手机",
            ),
        ));
    } else {
        out.push(Check::pass(
            n("notify"),
            t(
                lang,
                format!("{how} ({chosen})"),
                format!("{how}（{chosen}）"),
            ),
        ));
    }
    let needs_passthrough = !matches!(kind, TerminalKind::Bell | TerminalKind::Off);
    if crate::notify::detect_mux(env) == Mux::Tmux && needs_passthrough {
        match tmux_passthrough.map(str::trim) {
            Some("on" | "all") => out.push(Check::pass(
                n("tmux pass"),
                t(lang, "allow-passthrough is on", "allow-passthrough 已打开"),
            )),
            other => out.push(Check::warn(
                n("tmux pass"),
                t(
                    lang,
                    format!("allow-passthrough is {}", other.unwrap_or("unknown")),
                    format!("allow-passthrough 为 {}", other.unwrap_or("未知")),
                ),
                t(
                    lang,
                    "notifications stay inside tmux: add `set -g allow-passthrough on` to ~/.tmux.conf",
                    "通知出不了 tmux：在 ~/.tmux.conf 中加入 `set -g allow-passthrough on`",
                ),
            )),
        }
    }
    out
}

/// OSC 52 and OSC 8 support of the terminals known by their variables (None: unknown).
fn known_features(env: &dyn Fn(&str) -> Option<String>) -> (Option<bool>, Option<bool>) {
    let var = |k: &str| env(k).unwrap_or_default();
    let set = |k: &str| !var(k).is_empty();
    let (term, program) = (var("TERM"), var("TERM_PROGRAM"));
    let both = set("KITTY_WINDOW_ID")
        || term == "xterm-kitty"
        || program == "WezTerm"
        || set("WEZTERM_PANE")
        || program == "ghostty"
        || term.starts_with("foot")
        || term == "alacritty"
        || set("WT_SESSION");
    if both {
        (Some(true), Some(true))
    } else if program == "iTerm.app" || var("LC_TERMINAL") == "iTerm2" {
        // OSC 52 needs "Applications in terminal may access clipboard" on.
        (None, Some(true))
    } else if set("VTE_VERSION") {
        (Some(false), Some(true))
    } else {
        (None, None)
    }
}

/// `tmux show-options -gv allow-passthrough`, when inside tmux (None: unknown).
fn tmux_passthrough() -> Option<String> {
    let out = std::process::Command::new("tmux")
        .args(["show-options", "-gv", "allow-passthrough"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// When the session last renewed the login (the store's note), for an account.
pub fn login_renewed_check(dir: &Path, uid: &Uid, now_ms: i64, lang: Lang) -> Check {
    let n = name(lang, "renewed");
    let note = crate::store::db_path(dir, uid)
        .ok()
        .filter(|p| p.exists())
        .and_then(|_| crate::store::Store::open(dir, uid).ok())
        .and_then(|s| {
            s.meta_get(crate::im::session::LOGIN_RENEWED_KEY)
                .ok()
                .flatten()
        })
        .and_then(|v| v.parse::<i64>().ok());
    match note {
        Some(at) => {
            let mins = (now_ms - at).max(0) / 60_000;
            let when = chrono::DateTime::from_timestamp_millis(at)
                .map(|d| {
                    d.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            Check::pass(
                n,
                t(
                    lang,
                    format!("{when} ({mins} min ago)"),
                    format!("{when}（{mins} 分钟前）"),
                ),
            )
        }
        None => Check::pass(
            n,
            t(
                lang,
                "not yet (renewed while the program runs: hourly, and when it expires)",
                "还没有（程序运行时续期：每小时一次，过期时也会）",
            ),
        ),
    }
}

/// The cookie, the HTTP endpoints and the WebSocket URL the network checks run with.
type Network = (CookieJar, Endpoints, String);

/// The embedded simulator that demo mode checks against.
struct DemoSim {
    #[cfg(feature = "sim")]
    sim: crate::sim::SimHandle,
    /// Without the simulator there is none to check against, and no `DemoSim` can be made.
    #[cfg(not(feature = "sim"))]
    none: std::convert::Infallible,
}

impl DemoSim {
    /// The simulator, started; `None` when it cannot start (the check failed is printed).
    async fn start(p: &mut Printer, lang: Lang) -> Option<DemoSim> {
        #[cfg(feature = "sim")]
        let failure = match crate::sim::start(crate::sim::SimOptions::default()).await {
            Ok(sim) => return Some(DemoSim { sim }),
            Err(e) => Check::fail(
                name(lang, "demo"),
                t(
                    lang,
                    format!("cannot start the simulator: {e}"),
                    format!("无法启动模拟器：{e}"),
                ),
                t(lang, "free a local port", "请释放一个本地端口"),
            ),
        };
        #[cfg(not(feature = "sim"))]
        let failure = Check::fail(
            name(lang, "demo"),
            crate::text::i18n::message(lang, crate::text::i18n::NO_SIMULATOR),
            t(
                lang,
                "use a build with the default features",
                "请使用带默认功能的构建",
            ),
        );
        p.print(failure);
        None
    }

    /// The simulator's account, and the network to check.
    fn network(&self) -> (Uid, Network) {
        #[cfg(feature = "sim")]
        {
            let sim = &self.sim;
            let base = url::Url::parse(sim.http_url()).unwrap_or_else(|_| Endpoints::real().mtop);
            let network = (
                CookieJar::parse_header(sim.cookie()),
                Endpoints::at(base),
                sim.ws_url().to_string(),
            );
            (sim.self_uid.clone(), network)
        }
        #[cfg(not(feature = "sim"))]
        match self.none {}
    }

    async fn stop(self) {
        #[cfg(feature = "sim")]
        self.sim.shutdown().await;
        #[cfg(not(feature = "sim"))]
        match self.none {}
    }
}

/// The background core's state, when one runs.
fn core_check(core: &crate::daemon::wire::CoreStatus, lang: Lang) -> Check {
    let views = core.views.len();
    match &core.connection {
        Some(crate::im::api::ConnState::Live) => Check::pass(
            name(lang, "core"),
            t(
                lang,
                format!(
                    "pid {}, connected and registered, {views} view(s); the token and WebSocket are its own",
                    core.pid
                ),
                format!(
                    "进程 {}，已连接并注册，{views} 个视图；令牌和 websocket 由它持有",
                    core.pid
                ),
            ),
        ),
        state => {
            let state = state
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok())
                .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_else(|| "starting".into());
            Check::warn(
                name(lang, "core"),
                t(
                    lang,
                    format!("pid {}, not connected ({state})", core.pid),
                    format!("进程 {}，未连接（{state}）", core.pid),
                ),
                t(
                    lang,
                    "see `goofish-tui daemon --status`; `daemon --stop` ends it",
                    "查看 `goofish-tui daemon --status`；`daemon --stop` 可结束它",
                ),
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn network_checks(
    p: &mut Printer,
    jar: CookieJar,
    endpoints: Endpoints,
    ws: String,
    device_file: &std::path::Path,
    wait: Duration,
    lang: Lang,
    own_connection: bool,
) {
    let n = |en| name(lang, en);
    let d = |e: &dyn std::fmt::Display| crate::text::i18n::detail(lang, &e.to_string());
    let secs = wait.as_secs_f64();
    // No jar path: doctor must not rewrite the saved cookies.
    let mtop = match MtopClient::new(endpoints, jar, None) {
        Ok(m) => m,
        Err(e) => {
            return p.print(Check::fail(
                n("login"),
                d(&e),
                t(lang, "report this as a bug", "请报告这个问题"),
            ));
        }
    };
    let uid = match tokio::time::timeout(wait, mtop.login_user()).await {
        Ok(Ok(uid)) => {
            p.print(Check::pass(
                n("login"),
                t(
                    lang,
                    "the cookie is accepted (loginuser.get)",
                    "cookie 有效（loginuser.get）",
                ),
            ));
            uid
        }
        Ok(Err(e)) => {
            let fix = mtop_fix(lang, &e);
            return p.print(Check::fail(
                n("login"),
                t(
                    lang,
                    format!("the cookie is not valid: {e}"),
                    format!("cookie 无效：{}", d(&e)),
                ),
                fix,
            ));
        }
        Err(_) => {
            return p.print(Check::fail(
                n("login"),
                t(
                    lang,
                    format!("no answer from the mtop gateway in {secs} s"),
                    format!("mtop 网关 {secs} 秒内没有回应"),
                ),
                t(
                    lang,
                    "check the network and the --mtop-url endpoint",
                    "检查网络和 --mtop-url 地址",
                ),
            ));
        }
    };
    if !own_connection {
        return;
    }
    let did = device_id(device_file, &uid);
    let token = match tokio::time::timeout(wait, mtop.login_token(&did)).await {
        Ok(Ok(tok)) => {
            let life = tok
                .expires_at_ms
                .map(|e| (e - crate::time::now_ms()).max(0) / 60_000);
            let detail = match life {
                Some(m) => t(
                    lang,
                    format!("received, valid for {m} min"),
                    format!("已获得，{m} 分钟内有效"),
                ),
                None => t(lang, "received", "已获得"),
            };
            p.print(Check::pass(n("IM token"), detail));
            tok
        }
        Ok(Err(e)) => {
            let fix = mtop_fix(lang, &e);
            return p.print(Check::fail(n("IM token"), d(&e), fix));
        }
        Err(_) => {
            return p.print(Check::fail(
                n("IM token"),
                t(
                    lang,
                    format!("no answer in {secs} s"),
                    format!("{secs} 秒内没有回应"),
                ),
                t(lang, "check the network", "检查网络"),
            ));
        }
    };
    let cfg = ConnConfig {
        ws_url: ws.clone(),
        request_timeout: wait,
        ..ConnConfig::default()
    };
    let (c, _events) = match conn::connect(&cfg).await {
        Ok(x) => x,
        Err(e) => {
            return p.print(Check::fail(
                n("websocket"),
                format!("{ws}: {}", d(&e)),
                t(
                    lang,
                    "check the network, a proxy or firewall, and --ws-url",
                    "检查网络、代理或防火墙，以及 --ws-url",
                ),
            ));
        }
    };
    match c.register(&token.access_token, &did).await {
        Ok(_) => p.print(Check::pass(
            n("websocket"),
            t(
                lang,
                format!("{ws}: connected and registered"),
                format!("{ws}：已连接并注册"),
            ),
        )),
        Err(e) => p.print(Check::fail(
            n("websocket"),
            t(
                lang,
                format!("{ws}: /reg failed: {e}"),
                format!("{ws}：/reg 失败：{}", d(&e)),
            ),
            t(
                lang,
                "another client may use the same device id; retry in a minute, or export a fresh cookie",
                "可能有其他客户端在用同一设备 ID；一分钟后重试，或重新导出 cookie",
            ),
        )),
    }
    c.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_checks_read_term_and_locale() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let good = terminal_checks(
            &env(&[
                ("TERM", "xterm-256color"),
                ("LANG", "zh_CN.UTF-8"),
                ("TMUX", "/tmp/tmux-1/default,1,0"),
            ]),
            Lang::En,
        );
        let by = |cs: &[Check], n: &str| cs.iter().find(|c| c.name == n).map(|c| c.status);
        assert_eq!(by(&good, "colours"), Some(Status::Pass));
        assert_eq!(by(&good, "locale"), Some(Status::Pass));
        assert_eq!(by(&good, "tmux"), Some(Status::Pass));
        let bad = terminal_checks(&env(&[("TERM", "dumb"), ("LANG", "C")]), Lang::En);
        // The same checks in Chinese.
        let zh = terminal_checks(&env(&[("TERM", "dumb"), ("LANG", "C")]), Lang::Zh);
        assert_eq!(by(&zh, "颜色"), Some(Status::Warn));
        assert!(zh.iter().all(|c| !c.render().contains("is not")), "{zh:?}");
        assert!(zh.iter().any(|c| c.render().contains("不是 UTF-8")));
        assert_eq!(by(&bad, "colours"), Some(Status::Warn));
        assert_eq!(by(&bad, "locale"), Some(Status::Warn));
        assert_eq!(by(&bad, "ssh"), None);
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn terminal_features_notifications_and_tmux_passthrough_are_reported() {
        use crate::notify::TerminalChoice;
        let by = |cs: &[Check], n: &str| cs.iter().find(|c| c.name == n).cloned();
        let kitty_in_tmux = env_of(&[("KITTY_WINDOW_ID", "1"), ("TMUX", "/tmp/t,1,0")]);
        let cs = feature_checks(&kitty_in_tmux, TerminalChoice::Auto, Some("off"), Lang::En);
        assert!(by(&cs, "features").unwrap().detail.contains("OSC 52): yes"));
        assert!(by(&cs, "notify").unwrap().detail.contains("osc99"));
        let pass = by(&cs, "tmux pass").unwrap();
        assert_eq!(pass.status, Status::Warn);
        assert!(
            pass.render().contains("set -g allow-passthrough on"),
            "{pass:?}"
        );
        let on = feature_checks(&kitty_in_tmux, TerminalChoice::Auto, Some("on\n"), Lang::En);
        assert_eq!(by(&on, "tmux pass").unwrap().status, Status::Pass);
        // The bell needs no passthrough.
        let bell = feature_checks(&kitty_in_tmux, TerminalChoice::Bell, None, Lang::En);
        assert!(by(&bell, "tmux pass").is_none());
        // Over SSH auto means the bell, with a hint; a named kind is taken as it is.
        let ssh = env_of(&[("SSH_CONNECTION", "a b c d")]);
        let cs = feature_checks(&ssh, TerminalChoice::Auto, None, Lang::Zh);
        let note = by(&cs, "通知").unwrap();
        assert_eq!(note.status, Status::Warn);
        assert!(note.render().contains("osc9"), "{note:?}");
        let cs = feature_checks(&ssh, TerminalChoice::Osc9, None, Lang::En);
        assert_eq!(by(&cs, "notify").unwrap().status, Status::Pass);
        assert!(by(&cs, "features").unwrap().detail.contains("unknown"));
    }

    #[test]
    fn the_last_renewal_of_the_login_is_read_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let uid = Uid::new("2200000000401");
        let none = login_renewed_check(dir.path(), &uid, 0, Lang::En);
        assert!(none.detail.starts_with("not yet"), "{none:?}");
        let at = 1_790_000_000_000_i64;
        let mut store = crate::store::Store::open(dir.path(), &uid).unwrap();
        store
            .meta_set(crate::im::session::LOGIN_RENEWED_KEY, &at.to_string())
            .unwrap();
        drop(store);
        let c = login_renewed_check(dir.path(), &uid, at + 42 * 60_000, Lang::En);
        assert!(c.detail.ends_with("(42 min ago)"), "{c:?}");
    }

    #[test]
    fn store_line_reports_a_broken_database_as_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let uid = Uid::new("2200000000401");
        assert_eq!(store_check(dir.path(), &uid, Lang::En).status, Status::Pass);
        let path = crate::store::db_path(dir.path(), &uid).unwrap();
        std::fs::write(&path, b"this is not a sqlite database, not at all").unwrap();
        let c = store_check(dir.path(), &uid, Lang::En);
        assert_eq!(c.status, Status::Warn, "{c:?}");
    }

    #[test]
    fn unwritable_data_dir_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(data_dir_check(dir.path(), Lang::En).status, Status::Pass);
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let c = data_dir_check(&file.join("sub"), Lang::En);
        assert_eq!(c.status, Status::Fail);
        assert!(c.render().contains("✗"));
    }
}
