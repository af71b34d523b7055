//! The client's view of messages and conversations. Pushes (§7), history (§6.6) and the
//! conversation list (§6.2) all parse into these types, so one message seen through two
//! channels compares equal.

use super::ids::{Cid, MessageId, Uid};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// What a message carries, by its inner content type (§7.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// contentType 1. Most chat texts fit in 24 bytes and are then kept without a heap
    /// allocation.
    Text { text: CompactString },
    /// contentType 2; one URL per picture.
    Image { urls: Vec<String> },
    /// contentType 26: an order / bargain / rating card. Boxed: rare, and three strings
    /// inline would make every message bigger.
    TradeCard(Box<TradeCard>),
    /// contentType 14 and other platform notices: not a user message.
    Notice { text: String },
    /// Anything else (voice, video, AI message, future types), kept with its summary.
    Unknown { content_type: i64, summary: String },
}

/// An order / bargain / rating card (contentType 26).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeCard {
    pub title: String,
    pub desc: Option<String>,
    /// From the card's `targetUrl` (`order_detail?id=`), when present.
    pub order_id: Option<String>,
}

impl Content {
    pub fn trade_card(title: String, desc: Option<String>, order_id: Option<String>) -> Content {
        Content::TradeCard(Box::new(TradeCard {
            title,
            desc,
            order_id,
        }))
    }

    /// One line for previews, notifications and search.
    pub fn summary(&self) -> String {
        self.summary_text().into_owned()
    }

    /// `summary()`, borrowed from the message where it is the message's own text (nearly
    /// always): no copy on a path that only reads it.
    pub fn summary_text(&self) -> Cow<'_, str> {
        match self {
            Content::Text { text } => Cow::Borrowed(text),
            Content::Image { .. } => Cow::Borrowed("[图片]"),
            Content::TradeCard(card) => Cow::Owned(format!("[{}]", card.title)),
            Content::Notice { text } => Cow::Borrowed(text),
            Content::Unknown { summary, .. } => Cow::Borrowed(summary),
        }
    }

    /// Appends `summary()` to `out`, without a string of its own.
    pub fn push_summary(&self, out: &mut String) {
        out.push_str(&self.summary_text());
    }

    /// The short name of the kind, as in JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::TradeCard(_) => "trade_card",
            Content::Notice { .. } => "notice",
            Content::Unknown { .. } => "unknown",
        }
    }
}

/// One chat message (bizType 40000 push, or a history model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub cid: Cid,
    pub sender: Uid,
    /// Sender is the logged-in account (an echo of our own send, or sent elsewhere).
    pub is_self: bool,
    /// Creation time, ms since the epoch.
    pub time: i64,
    pub content: Content,
    /// Item the conversation is about (`reminderUrl` `itemId=`, or `extJson`/`bizTag`).
    pub item_id: Option<CompactString>,
    /// Sender's nickname, when `reminderTitle` is one (plain chat message from the sender).
    pub sender_nick: Option<CompactString>,
    /// `sessionType`: 1 = normal single chat; other values are system sessions.
    pub session_type: Option<i64>,
    /// `needPush` (§7.4 field 3): false for silent / system messages.
    pub need_push: bool,
    /// Order state label (`redReminder`), e.g. 等待买家付款.
    pub red_reminder: Option<String>,
    /// The message's `uuid` when the service tells it (our own sends): ties an echo to a send.
    pub client_id: Option<String>,
}

impl Message {
    /// A platform notice, a trade card, the assistant (uid 1400) or a non-chat session:
    /// not something a buyer typed (§10.9).
    pub fn is_system(&self) -> bool {
        matches!(self.content, Content::Notice { .. } | Content::TradeCard(_))
            || self.sender.as_str() == SYSTEM_SENDER
            || self.session_type.is_some_and(|t| t != 1)
    }
}

/// The platform assistant 闲小蜜.
pub const SYSTEM_SENDER: &str = "1400";

/// A history entry: the message and its read status as the service reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub message: Message,
    /// `readStatus` 2: read by the other side.
    pub read_by_peer: bool,
}

/// One page of `listUserMessages`, newest first as the service sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub cid: Cid,
    pub entries: Vec<HistoryEntry>,
    pub has_more: bool,
    /// Pass back verbatim for the next (older) page.
    pub next_cursor: Option<i64>,
}

/// One entry of the conversation list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub cid: Cid,
    /// The other member of the pair (never self).
    pub peer: Uid,
    /// From `squadName_<uid>`, or filled later by `user.query`.
    pub peer_nick: Option<String>,
    pub item_id: Option<String>,
    pub item_title: Option<String>,
    pub item_pic: Option<String>,
    /// `modifyTime`: latest activity, ms.
    pub modify_time: i64,
    /// `redPoint` (counts system items too).
    pub unread: u32,
    /// `topRank` > 0.
    pub pinned: bool,
    pub muted: bool,
    /// Order state label of the conversation (`user_extension.redReminder`).
    pub red_reminder: Option<String>,
    pub last_message: Option<Message>,
}

/// One page of `listNewestPagination`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    pub has_more: bool,
    pub next_cursor: Option<i64>,
}

/// A peer's profile (`user.query` v4.0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub uid: Uid,
    pub nick: String,
    pub avatar: Option<String>,
}

/// An item's details (`idle.pc.detail`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemInfo {
    pub item_id: String,
    pub title: String,
    pub price: Option<String>,
    pub pic: Option<String>,
}
