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

/// The status as lines for a person.
pub fn describe(s: &wire::CoreStatus) -> String {
    let account = match (&s.account, &s.nick) {
        (Some(uid), Some(nick)) => format!("{uid} ({})", clean_line(nick)),
        (Some(uid), None) => uid.to_string(),
        (None, _) => "not known yet".to_string(),
    };
    let connection = match &s.connection {
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
        "core {} (pid {})\naccount: {account}\nconnection: {connection}\nviews: {}\n",
        s.version,
        s.pid,
        s.views.len()
    );
    for v in &s.views {
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
    let conn = match crate::run::connect(settings, true).await {
        Ok(c) => c,
        Err(e) => {
            say(&format!("{e:#}"));
            return EXIT_LOGIN;
        }
    };
    if let Err(e) = conn
        .session
        .commands
        .send(crate::im::ImCommand::ListConversations)
        .await
    {
        say(&format!("the session stopped at start: {e}"));
        return EXIT_FAILED;
    }
    let bound = match locked.listen() {
        Ok(b) => b,
        Err(e) => {
            say(&e.to_string());
            conn.shutdown().await;
            return EXIT_FAILED;
        }
    };
    daemon::serve(bound, conn).await;
    EXIT_OK
}
