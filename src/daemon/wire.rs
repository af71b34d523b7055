//! The lines spoken on the core's socket: one JSON object per line, both ways.
//!
//! The session's own [`ImCommand`] and [`ImEvent`] travel in their serde form (one
//! representation, shared with the in-process session): a view gets exactly what a view in
//! the same process would get. Everything here is pure: parsing and printing, no sockets.

use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::protocol::{ClientId, Uid};
use serde::{Deserialize, Serialize};

/// The version of this protocol. A change of meaning bumps it; fields may be added within.
pub const PROTOCOL: u32 = 1;

/// Longest line either side accepts: a conversation list of 1,000 entries is far shorter.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// What a view says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewLine {
    /// The first line: who is attaching, speaking which protocol.
    Hello {
        protocol: u32,
        /// What the view is (`tui`, `watch`, `send`, …), shown by `daemon --status`.
        view: String,
        #[serde(default)]
        pid: Option<u32>,
        /// The account the view is for, when the core serves several; none: the first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<Uid>,
    },
    /// A command for the account's session. `shutdown` only detaches this view.
    Command { command: ImCommand },
    /// The sends this view still waits for, after attaching again (its core was lost):
    /// their results come to it, also one that came before it was back.
    Awaiting { client_ids: Vec<ClientId> },
    /// Asks for a `status` line.
    Status,
    /// Asks the core to end (every view is told `stopping`).
    Stop,
}

/// What the core says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreLine {
    /// The first line, before anything else: the protocol, the program's version and the
    /// account served (the first one, when it serves several).
    Hello {
        protocol: u32,
        version: String,
        account: Option<Uid>,
        pid: u32,
        /// Every account served, the first one first (a core of one account may leave it
        /// out).
        #[serde(default)]
        accounts: Vec<Uid>,
    },
    /// An event of the account's session.
    Event { event: ImEvent },
    /// The answer to `status`.
    Status(CoreStatus),
    /// The view's line could not be understood; the core closes the connection after it.
    Error { message: String },
    /// The view did not keep up with the events and is disconnected.
    Dropped { reason: String },
    /// The core is ending.
    Stopping,
}

/// The core as `daemon --status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreStatus {
    pub version: String,
    pub pid: u32,
    pub account: Option<Uid>,
    pub nick: Option<String>,
    pub connection: Option<ConnState>,
    pub views: Vec<ViewInfo>,
    /// Every account served, with its own connection and views (the fields above are the
    /// first one's, and every view).
    #[serde(default)]
    pub accounts: Vec<AccountStatus>,
}

/// One account of the core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountStatus {
    pub account: Uid,
    pub nick: Option<String>,
    pub connection: Option<ConnState>,
    pub views: Vec<ViewInfo>,
}

/// One attached view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewInfo {
    pub id: u64,
    pub view: String,
    pub pid: Option<u32>,
}

/// The version of the program, as the hello says it.
pub fn program_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// One line of JSON (no newline). Serialising these types cannot fail: they hold only
/// strings, numbers and maps with string keys.
pub fn encode<T: Serialize>(line: &T) -> String {
    serde_json::to_string(line).unwrap_or_else(|e| {
        tracing::error!("cannot encode a line for the socket: {e}");
        r#"{"type":"error","message":"unencodable line"}"#.to_string()
    })
}

/// A view's line; `Err` says what is wrong with it, for the error line.
pub fn parse_view(line: &str) -> Result<ViewLine, String> {
    serde_json::from_str(line).map_err(|e| format!("not a line of protocol {PROTOCOL}: {e}"))
}

/// A line of the core.
pub fn parse_core(line: &str) -> Result<CoreLine, String> {
    serde_json::from_str(line).map_err(|e| format!("the core said something unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Cid, Content, Message, MessageId};

    #[test]
    fn commands_and_events_come_back_as_they_went() {
        let cmd = ViewLine::Command {
            command: ImCommand::SendText {
                cid: Cid::new("40000000201"),
                client_id: ClientId::new("c-1"),
                text: "还在吗 🙂".into(),
            },
        };
        let text = encode(&cmd);
        assert!(
            text.starts_with(r#"{"type":"command","command":{"send_text":"#),
            "{text}"
        );
        assert_eq!(parse_view(&text), Ok(cmd));
        let m = Message {
            id: MessageId::new("1.PNM"),
            cid: Cid::new("40000000201"),
            sender: Uid::new("1000000101"),
            is_self: false,
            time: 1,
            content: Content::Text { text: "在".into() },
            item_id: None,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: None,
        };
        for event in [
            ImEvent::Message(m.clone()),
            ImEvent::Connection(ConnState::Reconnecting {
                in_ms: 5,
                attempt: 2,
                last_error: "closed".into(),
            }),
            ImEvent::SendResult {
                client_id: ClientId::new("c-1"),
                cid: m.cid.clone(),
                result: Ok(m.clone()),
            },
            ImEvent::Conversations(Vec::new()),
        ] {
            let line = CoreLine::Event { event };
            assert_eq!(parse_core(&encode(&line)), Ok(line));
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"type":"nope"}"#,
            "\u{0}\u{1b}[2J",
            r#"{"type":"command"}"#,
        ] {
            assert!(parse_view(bad).is_err(), "{bad:?}");
        }
    }
}
