//! Logging: `tracing` to a daily file under the state dir while the TUI runs (never to the
//! screen), or to stderr for the simulator and headless commands. Every field is cleaned for
//! the terminal: a log is read with `tail -f` or on stderr, and it quotes buyers' texts and
//! the service's error texts.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::debug_fn;

fn filter(level: &str) -> EnvFilter {
    // RUST_LOG wins when set; otherwise the given level for this crate, warn for the rest.
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,goofish_tui={level}")))
}

/// The message and every field, through the terminal cleaner.
fn fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    debug_fn(|w, field, value| {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        let text = crate::safe_text::clean_line(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Logs to `<dir>/goofish-tui.log.<date>`. Keep the guard alive until exit so lines are flushed.
pub fn to_file(dir: &Path, level: &str) -> std::io::Result<WorkerGuard> {
    std::fs::create_dir_all(dir)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("goofish-tui.log")
        .max_log_files(7)
        .build(dir)
        .map_err(std::io::Error::other)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .fmt_fields(fields())
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}

/// Logs to stderr, in colour only on a terminal.
pub fn to_stderr(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .fmt_fields(fields())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
