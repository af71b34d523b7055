//! The session actor's interface: commands in, events out.

use crate::protocol::{
    Cid, ClientId, Conversation, HistoryPage, ItemInfo, Message, MessageId, Profile, Uid,
};
use serde::{Deserialize, Serialize};

/// What the rest of the program asks of the network. Its serde form is what a view says on
/// the core's socket (`crate::daemon::wire`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImCommand {
    /// Refresh the conversation list (all pages).
    ListConversations,
    /// One page of history. `cursor: None` is the newest page; otherwise the
    /// `next_cursor` of the previous page.
    LoadHistory { cid: Cid, cursor: Option<i64> },
    /// Send a text. Exactly one `SendResult` follows for `client_id`, however long it takes
    /// (offline sends wait and go out after the next registration).
    SendText {
        cid: Cid,
        client_id: ClientId,
        text: String,
    },
    /// Send a picture file: uploaded first (§3.5), then sent like a text. Only while
    /// connected: offline, the `SendResult` says so at once (a picture is not kept for later).
    /// Exactly one `SendResult` follows for `client_id`.
    SendImage {
        cid: Cid,
        client_id: ClientId,
        path: std::path::PathBuf,
    },
    /// Mark incoming messages read and clear the conversation's badge.
    MarkRead { cid: Cid, ids: Vec<MessageId> },
    /// Look up a peer's nickname and avatar.
    FetchProfile { cid: Cid, uid: Uid },
    /// Look up an item's title and price.
    FetchItem { item_id: String },
    /// Find or create the single chat with `peer` (about `item_id`, when given). On success
    /// the conversation list comes again (`ImEvent::Conversations`) with the conversation
    /// in it; on failure an `ImEvent::Error` starting with [`OPEN_CONVERSATION_FAILED`].
    OpenConversation { peer: Uid, item_id: Option<String> },
    /// Recall an own message (`/r/MessageManager/recallMessage`, §6.11). Exactly one
    /// `RecallResult` follows; offline it fails at once (a recall is never kept for later:
    /// the service allows it only shortly after sending).
    Recall { cid: Cid, id: MessageId },
    /// Try to connect now: while waiting to reconnect, or after a login, a slider check or a
    /// removed session (the user's "reconnect now"). Nothing while connected or connecting.
    ReconnectNow,
    /// Close the connection and stop.
    Shutdown,
}

/// Prefix of the `ImEvent::Error` text when `OpenConversation` fails.
pub const OPEN_CONVERSATION_FAILED: &str = "could not open a conversation";

/// The connection as the user should see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    /// Getting a token / opening the socket.
    Connecting,
    /// Socket open, `/reg` sent.
    Registering,
    /// Registered and receiving pushes.
    Live,
    /// Registered, but a heartbeat is unanswered (15 s of the 30 s before the cut): pushes
    /// may not be arriving.
    Stalled,
    /// Waiting `in_ms` before attempt `attempt`.
    Reconnecting {
        in_ms: u64,
        attempt: u32,
        last_error: String,
    },
    /// The login cookies are missing or dead: a new cookie (or QR login) is needed.
    NeedsLogin { reason: String },
    /// Risk control: a human must pass the slider at `url` in a browser.
    RiskControl { url: String },
    /// The service removed the session (connection limit); not retried.
    SessionRemoved { reason: String },
    /// Shut down on request.
    Stopped,
}

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendFailure {
    pub reason: String,
    /// Worth retrying by the user (network trouble); false for content-security rejections.
    pub retryable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SendStage {
    /// Waiting for a connection.
    Queued,
    /// On the wire, waiting for the server.
    Sending,
}

/// What the network tells the rest of the program. Its serde form is what the core says to
/// its views on the socket (`crate::daemon::wire`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImEvent {
    Connection(ConnState),
    /// Who we are, once known (uid from the cookie, nick from the profile).
    SelfInfo {
        uid: Uid,
        nick: Option<String>,
    },
    /// The full conversation list, newest activity first.
    Conversations(Vec<Conversation>),
    /// One page of history for a conversation; `requested` is the cursor that was asked for.
    History {
        page: HistoryPage,
        requested: Option<i64>,
    },
    /// History could not be loaded.
    HistoryFailed {
        cid: Cid,
        requested: Option<i64>,
        reason: String,
    },
    /// A new message (push, echo or backfill), never the same id twice.
    Message(Message),
    /// Another view of this account (attached to the same background core) read the
    /// conversation: its badge goes here too.
    ReadElsewhere {
        cid: Cid,
    },
    /// The other side read these messages.
    Receipt {
        cid: Option<Cid>,
        ids: Vec<MessageId>,
    },
    Typing {
        cid: Option<Cid>,
        uid: Uid,
    },
    CardUpdate {
        cid: Option<Cid>,
        text: String,
        red_reminder: Option<String>,
    },
    Recalled {
        cid: Option<Cid>,
        id: MessageId,
    },
    /// A send moved on but is not finished.
    SendProgress {
        client_id: ClientId,
        stage: SendStage,
    },
    /// The text could not be written to the stored outbox: it stays in memory and is sent,
    /// but a crash or quit before that loses it.
    SendNotSaved {
        client_id: ClientId,
        reason: String,
    },
    /// Exactly one per `SendText` and `SendImage`.
    SendResult {
        client_id: ClientId,
        cid: Cid,
        result: Result<Message, SendFailure>,
    },
    /// The answer to `ImCommand::Recall`: `Err` holds the service's reason.
    RecallResult {
        cid: Cid,
        id: MessageId,
        result: Result<(), String>,
    },
    Profile(Profile),
    Item(ItemInfo),
    /// Catching up after a reconnect: `done` of `total` conversations fetched.
    Backfill {
        done: usize,
        total: usize,
    },
    /// Something went wrong that the user should know about; the session goes on.
    Error(String),
}

#[cfg(test)]
mod tests {
    use crate::text::i18n::{Lang, detail};

    #[test]
    fn the_sessions_own_error_texts_are_said_in_chinese() {
        use crate::im::conn::RequestError;
        for (en, zh) in [
            (RequestError::Timeout.to_string(), "请求超时"),
            (RequestError::Closed.to_string(), "连接已断开"),
            (
                format!("{} with 42: not connected", super::OPEN_CONVERSATION_FAILED),
                "无法打开会话：with 42: not connected",
            ),
        ] {
            assert_eq!(detail(Lang::Zh, &en), zh, "{en}");
        }
    }
}
