//! `goofish-tui doctor`: one line per check (✓ passed, ✗ failed, ! worth a look) with
//! what to do about it. Never prints a cookie or token value.

use super::{EXIT_FAILED, EXIT_OK};
use crate::cli::{Cli, DoctorArgs};
use crate::config::{FileConfig, Paths, Resolved};
use crate::im::conn::{self, ConnConfig};
use crate::im::cookies::CookieJar;
use crate::im::device;
use crate::im::mtop::{Endpoints, MtopClient, MtopError};
use crate::protocol::Uid;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

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
    pub name: &'static str,
    pub detail: String,
    /// What to do, for a failure or a warning.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            status: Status::Pass,
            name,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Fail,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Warn,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn render(&self) -> String {
        let mut s = format!("{} {:<10} {}", self.status.mark(), self.name, self.detail);
        if let Some(f) = &self.fix {
            for l in f.lines() {
                s.push_str(&format!("\n    {l}"));
            }
        }
        s
    }
}

const FRESH_COOKIE: &str = "export a fresh Cookie header from a logged-in https://www.goofish.com/im tab (developer tools, Network tab) and set GOOFISH_COOKIE or --cookie-file";

fn mtop_fix(e: &MtopError) -> String {
    match e {
        MtopError::SessionExpired | MtopError::NoCookie => FRESH_COOKIE.to_string(),
        MtopError::RiskControl { .. } => {
            "pass the slider check in a browser logged into the account, then export a fresh cookie"
                .into()
        }
        MtopError::Http(_) => "check the network and the --mtop-url / config endpoints".into(),
        MtopError::Throttled { .. } => "wait a while and try again".into(),
        MtopError::TooLarge { .. } => {
            "no real answer is that large: check --mtop-url / --passport-url and any proxy in between"
                .into()
        }
        _ => "try again later; run with --log-level debug for details".into(),
    }
}

/// The checks that touch the terminal and the environment (no network).
pub fn terminal_checks(env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let mut out = Vec::new();
    match crossterm::terminal::size() {
        Ok((w, h)) if w >= 60 && h >= 16 => out.push(Check::pass("terminal", format!("{w}×{h}"))),
        Ok((w, h)) => out.push(Check::warn(
            "terminal",
            format!("{w}×{h} is small"),
            "the TUI wants at least 60×16; enlarge the window",
        )),
        Err(_) => out.push(Check::warn(
            "terminal",
            "stdout is not a terminal (fine for watch/send in scripts)",
            "run the TUI in a terminal",
        )),
    }
    let term = env("TERM").unwrap_or_default();
    let colorterm = env("COLORTERM").unwrap_or_default();
    if term.is_empty() || term == "dumb" {
        out.push(Check::warn(
            "colours",
            format!("TERM is {:?}", term),
            "set TERM, e.g. TERM=xterm-256color",
        ));
    } else if colorterm.contains("truecolor") || colorterm.contains("24bit") {
        out.push(Check::pass("colours", format!("true colour (TERM={term})")));
    } else if term.contains("256color") {
        out.push(Check::pass("colours", format!("256 colours (TERM={term})")));
    } else {
        out.push(Check::warn(
            "colours",
            format!("basic colours only (TERM={term})"),
            "use a 256-colour TERM (e.g. xterm-256color or tmux-256color) for nicer output",
        ));
    }
    if env("TMUX").is_some_and(|t| !t.is_empty()) {
        out.push(Check::pass("tmux", "inside tmux"));
    }
    if env("SSH_CONNECTION").is_some_and(|t| !t.is_empty()) {
        out.push(Check::pass("ssh", "over SSH"));
    }
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()));
    match locale {
        Some(l) if l.to_uppercase().replace('-', "").contains("UTF8") => {
            out.push(Check::pass("locale", l))
        }
        other => out.push(Check::warn(
            "locale",
            format!(
                "{} is not UTF-8",
                other.unwrap_or_else(|| "no locale".into())
            ),
            "Chinese text needs a UTF-8 locale: export LANG=en_US.UTF-8 (or zh_CN.UTF-8)",
        )),
    }
    out
}

/// Can files be created in `dir`? Creates it when missing, like the TUI does.
pub fn data_dir_check(dir: &Path) -> Check {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let result = crate::private_fs::create_dir(dir)
        .and_then(|_| std::fs::write(&probe, b"ok"))
        .and_then(|_| std::fs::remove_file(&probe));
    match result {
        Ok(()) => Check::pass("data dir", format!("{} is writable", dir.display())),
        Err(e) => Check::fail(
            "data dir",
            format!("{} is not writable: {e}", dir.display()),
            "fix its permissions or choose another with --data-dir / GOOFISH_DATA_DIR",
        ),
    }
}

/// The account's message store, when there is one (opening it upgrades it; it is only a
/// cache, so a failure is a warning).
pub fn store_check(dir: &Path, uid: &Uid) -> Check {
    let path = match crate::store::db_path(dir, uid) {
        Ok(p) => p,
        Err(e) => return Check::warn("store", e.to_string(), "the history cache is off"),
    };
    if !path.exists() {
        return Check::pass("store", "none yet (made by the first run)");
    }
    match crate::store::Store::open(dir, uid).and_then(|s| s.message_count()) {
        Ok(n) => Check::pass("store", format!("{} opens, {n} messages", path.display())),
        Err(e) => Check::warn(
            "store",
            format!("{} cannot be used: {e}", path.display()),
            "it is only a cache: move the file away and it is rebuilt",
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

/// Runs `doctor`; 0 when every essential check passed.
pub async fn run(cli: &Cli, args: &DoctorArgs) -> i32 {
    super::init_logging(cli);
    let wait = super::secs(args.timeout);
    let mut p = Printer { failed: false };
    let no_home = |p: &mut Printer, e: crate::config::ConfigError| {
        p.print(Check::fail(
            "config",
            e.to_string(),
            "set GOOFISH_DATA_DIR or HOME",
        ));
        EXIT_FAILED
    };
    let config_file = match Paths::config_file(cli.config.as_deref()) {
        Ok(f) => f,
        Err(e) => return no_home(&mut p, e),
    };
    let file = if config_file.exists() {
        match FileConfig::load(&config_file) {
            Ok(f) => {
                p.print(Check::pass(
                    "config",
                    format!("{} parses", config_file.display()),
                ));
                f
            }
            Err(e) => {
                p.print(Check::fail(
                    "config",
                    e.to_string(),
                    "fix the file (unknown keys are refused) or move it away",
                ));
                FileConfig::default()
            }
        }
    } else {
        p.print(Check::pass(
            "config",
            format!("none at {} (defaults)", config_file.display()),
        ));
        FileConfig::default()
    };
    let paths = match Paths::resolve(config_file, cli.data_dir.as_deref(), &file) {
        Ok(p) => p,
        Err(e) => return no_home(&mut p, e),
    };

    // In demo mode every network check runs against the embedded simulator.
    let sim = if cli.demo {
        match crate::sim::start(crate::sim::SimOptions::default()).await {
            Ok(s) => Some(s),
            Err(e) => {
                p.print(Check::fail(
                    "demo",
                    format!("cannot start the simulator: {e}"),
                    "free a local port",
                ));
                None
            }
        }
    } else {
        None
    };
    let resolved = match Resolved::new(&file, &crate::run::overrides(cli)) {
        Ok(r) => Some(r),
        Err(e) => {
            p.print(Check::fail("cookie", e.to_string(), FRESH_COOKIE));
            None
        }
    };
    let mut network = None;
    let mut account: Option<Uid> = None;
    if let Some(sim) = &sim {
        account = Some(sim.self_uid.clone());
        network = Some((
            CookieJar::parse_header(sim.cookie()),
            Endpoints::at(
                url::Url::parse(sim.http_url()).unwrap_or_else(|_| Endpoints::real().mtop),
            ),
            sim.ws_url().to_string(),
        ));
        p.print(Check::pass("cookie", "the simulator's (demo)"));
    } else if let Some(r) = resolved {
        let jar_path = paths.cookie_jar();
        let found = match r.cookie {
            Some(jar) => Some((jar, r.cookie_source.clone().unwrap_or_default())),
            None => CookieJar::load(&jar_path)
                .ok()
                .map(|j| (j, format!("the saved jar {}", jar_path.display()))),
        };
        match found {
            None => p.print(Check::fail(
                "cookie",
                "no login cookie found",
                crate::run::COOKIE_HELP,
            )),
            Some((jar, source)) if jar.uid().is_none() => p.print(Check::fail(
                "cookie",
                format!("the cookie from {source} has no `unb` (not from a logged-in tab)"),
                FRESH_COOKIE,
            )),
            Some((jar, source)) => {
                account = jar.uid();
                p.print(Check::pass(
                    "cookie",
                    format!("from {source}, {} entries, has `unb`", jar.len()),
                ));
                match Endpoints::from_urls(&r.endpoints) {
                    Ok(endpoints) => network = Some((jar, endpoints, r.endpoints.ws.clone())),
                    Err(e) => p.print(Check::fail(
                        "endpoints",
                        e,
                        "fix --mtop-url / --passport-url / --upload-url or the config file",
                    )),
                }
            }
        }
    }

    if let Some((jar, endpoints, ws)) = network {
        network_checks(&mut p, jar, endpoints, ws, &paths, wait).await;
    }
    for c in terminal_checks(&|k| std::env::var(k).ok()) {
        p.print(c);
    }
    p.print(data_dir_check(&paths.data_dir));
    if let Some(uid) = account {
        p.print(store_check(
            &crate::store::cmd::store_dir(&paths, cli.demo),
            &uid,
        ));
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    if p.failed { EXIT_FAILED } else { EXIT_OK }
}

async fn network_checks(
    p: &mut Printer,
    jar: CookieJar,
    endpoints: Endpoints,
    ws: String,
    paths: &Paths,
    wait: Duration,
) {
    // No jar path: doctor must not rewrite the saved cookies.
    let mtop = match MtopClient::new(endpoints, jar, None) {
        Ok(m) => m,
        Err(e) => return p.print(Check::fail("login", e.to_string(), "report this as a bug")),
    };
    let uid = match tokio::time::timeout(wait, mtop.login_user()).await {
        Ok(Ok(uid)) => {
            p.print(Check::pass(
                "login",
                "the cookie is accepted (loginuser.get)",
            ));
            uid
        }
        Ok(Err(e)) => {
            let fix = mtop_fix(&e);
            return p.print(Check::fail(
                "login",
                format!("the cookie is not valid: {e}"),
                fix,
            ));
        }
        Err(_) => {
            return p.print(Check::fail(
                "login",
                format!(
                    "no answer from the mtop gateway in {} s",
                    wait.as_secs_f64()
                ),
                "check the network and the --mtop-url endpoint",
            ));
        }
    };
    let did = device_id(&paths.device_id(), &uid);
    let token = match tokio::time::timeout(wait, mtop.login_token(&did)).await {
        Ok(Ok(t)) => {
            let life = t
                .expires_at_ms
                .map(|e| {
                    format!(
                        ", valid for {} min",
                        (e - crate::time::now_ms()).max(0) / 60_000
                    )
                })
                .unwrap_or_default();
            p.print(Check::pass("IM token", format!("received{life}")));
            t
        }
        Ok(Err(e)) => {
            let fix = mtop_fix(&e);
            return p.print(Check::fail("IM token", e.to_string(), fix));
        }
        Err(_) => {
            return p.print(Check::fail(
                "IM token",
                format!("no answer in {} s", wait.as_secs_f64()),
                "check the network",
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
                "websocket",
                format!("{ws}: {e}"),
                "check the network, a proxy or firewall, and --ws-url",
            ));
        }
    };
    match c.register(&token.access_token, &did).await {
        Ok(_) => p.print(Check::pass("websocket", format!("{ws}: connected and registered"))),
        Err(e) => p.print(Check::fail(
            "websocket",
            format!("{ws}: /reg failed: {e}"),
            "another client may use the same device id; retry in a minute, or export a fresh cookie",
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
        let good = terminal_checks(&env(&[
            ("TERM", "xterm-256color"),
            ("LANG", "zh_CN.UTF-8"),
            ("TMUX", "/tmp/tmux-1/default,1,0"),
        ]));
        let by = |cs: &[Check], n: &str| cs.iter().find(|c| c.name == n).map(|c| c.status);
        assert_eq!(by(&good, "colours"), Some(Status::Pass));
        assert_eq!(by(&good, "locale"), Some(Status::Pass));
        assert_eq!(by(&good, "tmux"), Some(Status::Pass));
        let bad = terminal_checks(&env(&[("TERM", "dumb"), ("LANG", "C")]));
        assert_eq!(by(&bad, "colours"), Some(Status::Warn));
        assert_eq!(by(&bad, "locale"), Some(Status::Warn));
        assert_eq!(by(&bad, "ssh"), None);
    }

    #[test]
    fn store_line_reports_a_broken_database_as_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let uid = Uid::new("2200000000401");
        assert_eq!(store_check(dir.path(), &uid).status, Status::Pass);
        let path = crate::store::db_path(dir.path(), &uid).unwrap();
        std::fs::write(&path, b"this is not a sqlite database, not at all").unwrap();
        let c = store_check(dir.path(), &uid);
        assert_eq!(c.status, Status::Warn, "{c:?}");
    }

    #[test]
    fn unwritable_data_dir_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(data_dir_check(dir.path()).status, Status::Pass);
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let c = data_dir_check(&file.join("sub"));
        assert_eq!(c.status, Status::Fail);
        assert!(c.render().contains("✗"));
    }
}
