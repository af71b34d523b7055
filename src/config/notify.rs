//! The `[notify] table`: how a buyer's message out of view reaches the seller.

pub use crate::notify::TerminalChoice;
use serde::Deserialize;

/// Notification settings (the `[notify]` table of the config file).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyOptions {
    /// What the terminal gets: `auto`, `bell`, `osc9`, `osc777`, `osc99` or `off`.
    pub terminal: TerminalChoice,
    /// A shell command run for each notification with the message's `watch --json` object on
    /// stdin (a phone push).
    pub command: Option<String>,
    /// A command running longer than this is killed.
    pub command_timeout_secs: u64,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        NotifyOptions {
            terminal: TerminalChoice::Auto,
            command: None,
            command_timeout_secs: super::defaults::NOTIFY_COMMAND_TIMEOUT.as_secs(),
        }
    }
}
