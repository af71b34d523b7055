//! Typed events made of sync push items (§7).

use super::ids::{Cid, MessageId, Uid};
use super::model::Message;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    /// A chat message (bizType 40000): incoming, or the echo of one of our own.
    Message(Message),
    /// The other side read these messages (40102 / 40103).
    Receipt {
        cid: Option<Cid>,
        ids: Vec<MessageId>,
        time: Option<i64>,
    },
    /// The peer is typing (40006 layout; uncertain, §12.6).
    Typing { uid: Uid, cid: Option<Cid> },
    /// An order-state change (§7.5): the captured order-status push (its label in both
    /// `text` and `red_reminder`, no `update_key`) or the card update (layout uncertain).
    CardUpdate {
        cid: Option<Cid>,
        text: String,
        red_reminder: Option<String>,
        update_key: Option<String>,
        time: Option<i64>,
    },
    /// A message was recalled (40104).
    Recalled { cid: Option<Cid>, id: MessageId },
    /// A plain-JSON item (§7.6): platform prompt, pricing notice, marketing tip…
    System {
        kind: String,
        json: serde_json::Value,
    },
    /// Anything that could not be decoded; kept so it can be shown and logged.
    Undecodable { reason: String, raw: String },
}
