//! Logging: `tracing` to a daily file under the state dir while the TUI runs (never to the
//! screen), or to stderr for the simulator and headless commands.
//!
//! Whatever `RUST_LOG` says, two things hold:
//! * the crates that dump wire data at debug and trace (WebSocket frames with the IM token,
//!   HTTP headers with the cookies, TLS records) log at info at most;
//! * every field is cleaned for the terminal (a log is read with `tail -f` or on stderr, and
//!   it quotes buyers' texts and the service's error texts).

use crate::private_fs;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use tracing::{Level, Metadata};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::debug_fn;
use tracing_subscriber::prelude::*;

/// Crates whose debug and trace output holds frames, headers or records from the wire.
const WIRE_TARGETS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "http",
    "reqwest",
    "rustls",
    "axum",
    "tower",
    "tower_http",
];

const LOG_PREFIX: &str = "goofish-tui.log";

/// Whether `target` is one of [`WIRE_TARGETS`] or a module of one.
fn dumps_wire(target: &str) -> bool {
    WIRE_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Whether a record may be written at all: never debug or trace from a wire crate.
fn allowed(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || !dumps_wire(meta.target())
}

/// What to log: `RUST_LOG` when set, else `level` for this crate and warn for the rest.
pub fn spec(level: &str) -> String {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("warn,goofish_tui={level}"))
}

fn env_filter(spec: &str) -> EnvFilter {
    EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("warn,goofish_tui=info"))
}

/// Installs the subscriber: `spec` as an `EnvFilter`, capped by [`allowed`], fields cleaned.
fn install<W>(spec: &str, writer: W, ansi: bool)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    // The message and every field pass through the terminal cleaner.
    let fields = debug_fn(|w, field, value| {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        let text = crate::safe_text::clean_line(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ");
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(fields)
        // One filter with the `EnvFilter`'s level hint: what no directive enables is skipped
        // at the call site (and `log` records of other crates before they are formatted).
        .with_filter(
            env_filter(spec).and(filter_fn(allowed).with_max_level_hint(LevelFilter::TRACE)),
        );
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Logs to `<dir>/goofish-tui.log.<date>` by `spec` (see [`spec`]); the folder is private
/// (0700) and so is every file (0600). Keep the guard alive until exit so lines are flushed.
pub fn to_file(dir: &Path, spec: &str) -> std::io::Result<WorkerGuard> {
    private_fs::create_dir(dir)?;
    // The folder is the program's own: one made before files were private is made private.
    private_fs::restrict(dir, 0o700)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(LOG_PREFIX)
        .max_log_files(7)
        .build(dir)
        .map_err(std::io::Error::other)?;
    let (writer, guard) = tracing_appender::non_blocking(PrivateLogs::new(appender, dir));
    install(spec, writer, false);
    Ok(guard)
}

/// Logs to stderr by `spec` (see [`spec`]), in colour only on a terminal.
pub fn to_stderr(spec: &str) {
    install(spec, std::io::stderr, std::io::stderr().is_terminal());
}

/// The day (UTC, as the appender rotates) of now.
fn utc_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// The rolling appender, with each new day's file made private: the appender creates its files
/// with the default mode, so they are restricted to 0600 when the day changes (in a 0700
/// folder, nobody else can open them meanwhile).
struct PrivateLogs<W> {
    inner: W,
    dir: PathBuf,
    day: u64,
    /// Writes left that check the files again: the appender may roll over at the write after
    /// the one that saw the new day.
    recheck: u8,
}

impl<W: Write> PrivateLogs<W> {
    fn new(inner: W, dir: &Path) -> Self {
        restrict_logs(dir);
        PrivateLogs {
            inner,
            dir: dir.to_path_buf(),
            day: utc_day(),
            recheck: 0,
        }
    }

    fn after_write(&mut self) {
        let day = utc_day();
        if day != self.day {
            self.day = day;
            self.recheck = 2;
        }
        if self.recheck > 0 {
            self.recheck -= 1;
            restrict_logs(&self.dir);
        }
    }
}

impl<W: Write> Write for PrivateLogs<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.after_write();
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Makes every log file in `dir` readable by the owner only.
fn restrict_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(LOG_PREFIX) {
            let _ = private_fs::restrict(&e.path(), 0o600);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn wire_crates_never_log_below_info() {
        for t in [
            "tungstenite",
            "tungstenite::protocol",
            "tokio_tungstenite",
            "hyper::proto::h1::role",
            "hyper_util::client::legacy::pool",
            "reqwest::connect",
            "rustls::client::hs",
            "h2::codec",
        ] {
            assert!(dumps_wire(t), "{t}");
        }
        for t in [
            "goofish_tui::im::conn",
            "hyperion",
            "tungstenite_ext",
            "rusqlite",
        ] {
            assert!(!dumps_wire(t), "{t}");
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_days_file_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("goofish-tui.log.2026-01-01");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut logs = PrivateLogs::new(Vec::new(), dir.path());
        assert_eq!(mode(&old), 0o600, "files from before are made private");
        // The appender rolled over to a file of its own making, with the default mode.
        let new = dir.path().join("goofish-tui.log.2026-01-02");
        std::fs::write(&new, "y").unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o644)).unwrap();
        logs.write_all(b"same day\n").unwrap();
        assert_eq!(mode(&new), 0o644, "no directory scan within a day");
        logs.day -= 1;
        logs.write_all(b"next day\n").unwrap();
        assert_eq!(mode(&new), 0o600);
        // Other files of the folder are left alone.
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "z").unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
        logs.day -= 1;
        logs.write_all(b"day after\n").unwrap();
        assert_eq!(mode(&other), 0o644);
    }
}
