//! Headless commands for SSH sessions and scripts: `watch`, `send`, `recall`, `decode`,
//! `doctor`, `login`, `fetch-history`, `search` and `--clear-cache`.
//!
//! They connect exactly like the terminal UI (same flags, cookie sources, config file and
//! `--demo`), print results on stdout and everything else (logs, warnings, errors) on
//! stderr, so stdout can be piped into other programs.
//!
//! # Exit codes
//!
//! * `0` — done (or `watch` stopped by SIGINT / SIGTERM);
//! * `1` — the command failed (send rejected or timed out, undecodable input, a failed
//!   doctor check, the session stopped);
//! * `2` — a login problem (no or dead cookie, risk control, session removed by the
//!   service, a `--account` that names no account), or input that cannot be read at all
//!   (`decode`).
//!
//! # `watch --json` schema, version 1
//!
//! One JSON object per line. Every line has `"v": 1` and a `"type"`; fields that are
//! unknown are `null`. New fields may be added within version 1; a change of meaning
//! bumps `v`.
//!
//! * `message` — `cid`, `id`, `sender` (uid), `sender_nick`, `self` (bool: our own
//!   message, e.g. the echo of a send), `system` (bool: notice, trade card, platform
//!   message; only with `--all`), `item_id`, `item_title`, `kind` (`text`, `image`,
//!   `trade_card`, `notice`, `unknown`), `text` (one-line summary), `time` (ms since the
//!   epoch) and `time_iso` (RFC 3339, UTC).
//! * `receipt` — `cid`, `ids`: the peer read these messages.
//! * `connection` — `state` (`connecting`, `registering`, `live`, `stalled`, `reconnecting`,
//!   `needs_login`, `risk_control`, `session_removed`, `stopped`) and, by state, `in_ms`,
//!   `attempt`, `last_error`, `reason`, `url`.
//! * `typing` — `cid`, `uid`.
//! * `card_update` — `cid`, `text`, `red_reminder` (only with `--all`).
//! * `recalled` — `cid`, `id`.
//! * `send_result` — `cid`, `client_id`, `ok`, `id`, `error`.
//! * `error` — `message`.
//!
//! With `watch --account all` every line also has `account` (the uid of the account whose
//! event it is).

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

pub mod accounts;
mod core_prompt;
pub mod daemon;
pub mod decode;
pub mod doctor;
mod exec;
pub mod history;
pub mod login;
pub mod recall;
pub mod search;
pub mod send;
pub mod watch;

use crate::text::i18n::Lang;
use std::io::Write;

/// Success.
pub const EXIT_OK: i32 = 0;
/// The command failed.
pub const EXIT_FAILED: i32 = 1;
/// Login problem, or unreadable input.
pub const EXIT_LOGIN: i32 = 2;

/// Flushes stdout and ends the process with `code`.
pub fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Prints `goofish-tui <command>: <msg>` on stderr, in `lang`.
pub fn complain(lang: Lang, command: &str, msg: &str) {
    // The text may carry what the service or a buyer wrote: cleaned for the terminal.
    eprintln!(
        "goofish-tui {command}: {}",
        crate::safe_text::clean(&crate::text::i18n::message(lang, msg))
    );
}

/// Logs go to stderr at `level` (the settings' `stderr_log_level`), never into stdout.
fn init_logging(level: &str) {
    crate::logging::to_stderr(&crate::logging::spec(level));
}

pub use crate::signals::Signals;
pub use core_prompt::OnTerminal;

/// The session for a one-shot command (`send`, `recall`), connected by `deadline`; on
/// failure, said through `say`, the exit code: a refused login or a timeout.
async fn connect_by(
    settings: &crate::config::Settings,
    view: &str,
    deadline: tokio::time::Instant,
    say: &dyn Fn(&str),
) -> Result<crate::run::Connection, i32> {
    let ask = OnTerminal {
        lang: settings.lang,
        command: view,
    };
    let opening = crate::run::open_session(settings, false, view, false, &ask);
    match tokio::time::timeout_at(deadline, opening).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            say(&format!("{e:#}"));
            Err(EXIT_LOGIN)
        }
        Err(_) => {
            say("timed out while connecting");
            Err(EXIT_FAILED)
        }
    }
}

/// Seconds from a flag, clamped to something a timer accepts.
fn secs(s: f64) -> std::time::Duration {
    if s.is_finite() {
        std::time::Duration::from_secs_f64(s.clamp(0.001, 1.0e7))
    } else {
        std::time::Duration::from_secs(60)
    }
}
