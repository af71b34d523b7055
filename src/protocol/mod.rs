//! Pure wire formats shared by the client and the simulator. No sockets, no clocks and no
//! randomness: the time and random numbers come from the callers. What only the simulator
//! speaks (push encoders, request parsers, answer builders) is behind the `sim` feature.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

pub mod content;
#[cfg(feature = "sim")]
pub mod encode;
pub mod event;
pub mod history;
pub mod ids;
pub mod lenient;
pub mod lwp;
pub mod model;
pub mod mtop;
pub mod push_body;
pub mod push_scan;
pub mod send;
pub mod sync;

pub use compact_str::CompactString;
pub use event::SyncEvent;
pub use ids::{Cid, ClientId, MessageId, Uid};
pub use model::{
    Content, Conversation, ConversationPage, HistoryEntry, HistoryPage, ItemInfo, Message, Profile,
    TradeCard,
};
