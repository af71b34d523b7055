//! Telling the seller that a buyer wrote, where they are: the terminal they sit at (a bell or
//! a desktop notification by OSC 9 / 777 / 99, through tmux and GNU screen), and a command of
//! their own (a phone push) fed the message's `watch --json` object. The TUI and `watch`
//! decide *when* by the same rules; this module says *how*.

mod command;
pub mod message_json;
mod terminal;

pub use command::{CommandError, CommandQueue, run_command};
pub use message_json::{MessageLine, json_text, message_json, message_json_of, with_account};
pub use terminal::{
    Mux, TerminalChoice, TerminalKind, detect, detect_mux, is_ssh, sequence, tmux_passthrough,
};

use std::io::Write;
use std::time::Duration;

/// One notification: what the terminal shows and what the command gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub body: String,
    /// The message as a `watch --json` line.
    pub json: String,
}

/// The `[notify]` settings, resolved against the environment.
pub struct Notifier {
    kind: TerminalKind,
    mux: Mux,
    terminal: Box<dyn Write + Send>,
    command: Option<CommandQueue>,
}

impl Notifier {
    /// `terminal`: where the terminal's bytes go (stdout of the TUI, the tty for `watch`).
    /// `reports`: where a failing command is told of, one line each.
    pub fn new(
        kind: TerminalKind,
        mux: Mux,
        terminal: Box<dyn Write + Send>,
        command: Option<(String, Duration, tokio::sync::mpsc::UnboundedSender<String>)>,
    ) -> Notifier {
        let command =
            command.map(|(cmd, timeout, reports)| CommandQueue::start(cmd, timeout, reports));
        Notifier {
            kind,
            mux,
            terminal,
            command,
        }
    }

    pub fn kind(&self) -> TerminalKind {
        self.kind
    }

    /// Whether a notification goes anywhere (a terminal that shows them, or a command).
    pub fn is_active(&self) -> bool {
        self.kind != TerminalKind::Off || self.command.is_some()
    }

    /// The notifier the settings ask for, on the process's environment. `terminal`: where
    /// the terminal's bytes go (None: no terminal to notify).
    pub fn from_settings(
        options: &crate::config::NotifyOptions,
        terminal: Option<Box<dyn Write + Send>>,
        reports: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Notifier {
        let env = |k: &str| std::env::var(k).ok();
        let (kind, sink): (TerminalKind, Box<dyn Write + Send>) = match terminal {
            Some(t) => (options.terminal.resolve(&env), t),
            None => (TerminalKind::Off, Box::new(std::io::sink())),
        };
        let command = options
            .command
            .clone()
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                let timeout = Duration::from_secs(options.command_timeout_secs.max(1));
                (c, timeout, reports)
            });
        tracing::info!(
            terminal = kind.name(),
            command = command.is_some(),
            "notifications"
        );
        Notifier::new(kind, detect_mux(&env), sink, command)
    }

    /// Writes the terminal notification (when `terminal`) and queues the command; never
    /// waits for either.
    pub fn notify(&mut self, n: &Notification, terminal: bool) {
        if terminal {
            let bytes = sequence(self.kind, self.mux, &n.title, &n.body);
            if !bytes.is_empty()
                && let Err(e) = self
                    .terminal
                    .write_all(&bytes)
                    .and_then(|()| self.terminal.flush())
            {
                tracing::debug!(error = %e, "terminal notification not written");
            }
        }
        if let Some(q) = &self.command {
            q.push(n.json.clone());
        }
    }

    /// Stops the command queue (a command still running is killed).
    pub fn stop(self) {
        if let Some(q) = self.command {
            q.stop();
        }
    }
}
