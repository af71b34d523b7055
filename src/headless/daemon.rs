//! `goofish-tui daemon`: the background core (see [`crate::daemon`]). Without a flag it
//! makes sure one runs; `--foreground` is the core itself (for systemd or a container),
//! `--status` says what it does and `--stop` ends it.

use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK};
use crate::config::Settings;
use crate::daemon::{self, BindError, wire};
use crate::im::api::ConnState;
use crate::safe_text::clean_line;
use std::time::Duration;

/// Arguments of `daemon`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").args(["foreground", "status", "stop"])))]
pub struct DaemonArgs {
    /// Run the core in this process, until SIGTERM or `daemon --stop` (for systemd).
    #[arg(long)]
    pub foreground: bool,
    /// Print the account, the connection state and the attached views.
    #[arg(long)]
    pub status: bool,
    /// Stop the running core (the unsent texts stay in the store's outbox).
    #[arg(long)]
    pub stop: bool,
    /// With --status: one JSON object.
    #[arg(long, requires = "status")]
    pub json: bool,
}

/// Runs `daemon`; returns the exit code.
pub async fn run(settings: &Settings, args: &DaemonArgs) -> i32 {
    let lang = settings.lang;
    let say = |msg: &str| super::complain(lang, "daemon", msg);
    if args.foreground {
        return foreground(settings).await;
    }
    super::init_logging(&settings.stderr_log_level);
    if args.stop {
        return match daemon::request(settings, wire::ViewLine::Stop).await {
            Ok(None) => {
                println!("no core is running");
                EXIT_OK
            }
            Ok(Some(_)) => {
                let socket = daemon::place(settings).socket;
                for _ in 0..200 {
                    if !socket.exists() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                println!("stopped");
                EXIT_OK
            }
            Err(e) => {
                say(&format!("{e:#}"));
                EXIT_FAILED
            }
        };
    }
    if !args.status {
        // Make sure one runs: attaching starts it.
        let ask = super::OnTerminal {
            lang,
            command: "daemon",
        };
        match crate::daemon::attach(settings, "daemon", false, &ask).await {
            Ok(conn) => conn.shutdown().await,
            Err(e) => {
                say(&format!("{e:#}"));
                return EXIT_LOGIN;
            }
        }
    }
    match daemon::status(settings).await {
        Ok(Some(status)) => {
            if args.json {
                println!("{}", wire::encode(&status));
            } else {
                print!("{}", describe(&status));
            }
            EXIT_OK
        }
        Ok(None) => {
            if args.json {
                println!("null");
            } else {
                println!("no core is running");
            }
            EXIT_FAILED
        }
        Err(e) => {
            say(&format!("{e:#}"));
            EXIT_FAILED
        }
    }
}

/// The status as lines for a person: the core, then each account with its connection and
/// its views.
pub fn describe(s: &wire::CoreStatus) -> String {
    let mut out = format!("core {} (pid {})\n", s.version, s.pid);
    if s.accounts.is_empty() {
        // A core of an older version: one account, said at the top.
        out.push_str(&describe_account(
            s.account.as_ref(),
            s.nick.as_deref(),
            s.connection.as_ref(),
            &s.views,
        ));
    }
    for a in &s.accounts {
        out.push_str(&describe_account(
            Some(&a.account),
            a.nick.as_deref(),
            a.connection.as_ref(),
            &a.views,
        ));
    }
    out
}

fn describe_account(
    uid: Option<&crate::protocol::Uid>,
    nick: Option<&str>,
    connection: Option<&ConnState>,
    views: &[wire::ViewInfo],
) -> String {
    let account = match (uid, nick) {
        (Some(uid), Some(nick)) => format!("{uid} ({})", clean_line(nick)),
        (Some(uid), None) => uid.to_string(),
        (None, _) => "not known yet".to_string(),
    };
    let connection = match connection {
        None => "starting".to_string(),
        Some(ConnState::Live) => "live".to_string(),
        Some(ConnState::Reconnecting {
            in_ms,
            attempt,
            last_error,
        }) => format!(
            "reconnecting in {in_ms} ms (attempt {attempt}): {}",
            clean_line(last_error)
        ),
        Some(other) => {
            let v = serde_json::to_value(other).unwrap_or_default();
            v.get("state")
                .and_then(|s| s.as_str())
                .unwrap_or("unknown")
                .to_string()
        }
    };
    let mut out = format!(
        "account: {account}\nconnection: {connection}\nviews: {}\n",
        views.len()
    );
    for v in views {
        let pid = v.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        out.push_str(&format!("  {} {}{pid}\n", v.id, clean_line(&v.view)));
    }
    out
}

/// The core itself, in this process.
async fn foreground(settings: &Settings) -> i32 {
    let _log = crate::run::start_file_logging(settings);
    let lang = settings.lang;
    let say = |msg: &str| super::complain(lang, "daemon", msg);
    let place = daemon::place(settings);
    let locked = match daemon::lock(&place) {
        Ok(l) => l,
        Err(BindError::AlreadyRunning) => {
            eprintln!("goofish-tui daemon: a core already runs for this data directory");
            return EXIT_OK;
        }
        Err(e) => {
            say(&e.to_string());
            return EXIT_FAILED;
        }
    };
    let conns = match connect_all(settings).await {
        Ok(c) => c,
        Err(e) => {
            say(&format!("{e:#}"));
            return EXIT_LOGIN;
        }
    };
    let bound = match locked.listen() {
        Ok(b) => b,
        Err(e) => {
            say(&e.to_string());
            for (_, conn) in conns {
                conn.shutdown().await;
            }
            return EXIT_FAILED;
        }
    };
    daemon::serve(bound, conns, joiner(settings)).await;
    EXIT_OK
}

/// How the core starts the session of an account logged in after it started (or refused
/// when it started), from the account's saved login.
fn joiner(settings: &Settings) -> daemon::Join {
    let settings = settings.clone();
    std::sync::Arc::new(move |uid| {
        let settings = settings.clone();
        Box::pin(async move {
            let login = crate::run::saved_login_of(&settings, Some(uid.as_str()))
                .map_err(|e| format!("{e:#}"))?;
            start_account(&settings, login)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    })
}

/// One account's session for the core, its conversation list asked for.
async fn start_account(
    settings: &Settings,
    login: crate::run::Login,
) -> color_eyre::Result<(crate::accounts::Account, crate::run::Connection)> {
    let account = login.account.clone();
    let conn = crate::run::connect_as(settings, login, true).await?;
    conn.session.ask_for_list().await?;
    Ok((account, conn))
}

/// A session for every account logged in here (the given cookie's alone, when there is
/// one), started side by side. An account whose login is refused is left out, and said in
/// the log; when every one is, the first one's reason is the core's.
async fn connect_all(
    settings: &Settings,
) -> color_eyre::Result<Vec<(crate::accounts::Account, crate::run::Connection)>> {
    let logins = crate::run::logins(settings)?;
    let started = futures_util::future::join_all(logins.into_iter().map(|login| async move {
        let account = login.account.clone();
        (account, start_account(settings, login).await)
    }))
    .await;
    let mut out = Vec::new();
    let mut first_error = None;
    for (account, started) in started {
        match started {
            Ok(pair) => out.push(pair),
            Err(e) => {
                tracing::error!(account = %account.uid, "the account is left out: {e:#}");
                first_error.get_or_insert(e);
            }
        }
    }
    match (out.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uid;

    #[test]
    fn the_status_shows_each_account_with_its_connection_and_views() {
        let view = |id, view: &str| wire::ViewInfo {
            id,
            view: view.into(),
            pid: Some(7),
        };
        let a = wire::AccountStatus {
            account: Uid::new("11"),
            nick: Some("店A".into()),
            connection: Some(ConnState::Live),
            views: vec![view(1, "tui")],
        };
        let b = wire::AccountStatus {
            account: Uid::new("22"),
            nick: Some("店\u{1b}[2JB".into()),
            connection: None,
            views: vec![],
        };
        let status = wire::CoreStatus {
            version: "0.1.0".into(),
            pid: 9,
            account: Some(a.account.clone()),
            nick: a.nick.clone(),
            connection: a.connection.clone(),
            views: a.views.clone(),
            accounts: vec![a, b],
        };
        let text = describe(&status);
        assert!(text.starts_with("core 0.1.0 (pid 9)\naccount: 11 (店A)\nconnection: live\nviews: 1\n  1 tui (pid 7)\naccount: 22 ("), "{text}");
        assert!(text.ends_with("connection: starting\nviews: 0\n"), "{text}");
        assert!(!text.contains('\u{1b}'));
        // A core of an older version says one account at the top.
        let old = wire::CoreStatus {
            accounts: vec![],
            ..status
        };
        assert!(describe(&old).contains("account: 11 (店A)\nconnection: live"));
    }
}
