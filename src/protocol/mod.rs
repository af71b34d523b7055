//! Pure wire formats shared by the client and the simulator. No sockets, no clocks beyond
//! id generation.

pub mod content;
pub mod encode;
pub mod event;
pub mod history;
pub mod ids;
pub mod lwp;
pub mod model;
pub mod mtop;
pub mod send;
pub mod sync;

pub use compact_str::CompactString;
pub use event::SyncEvent;
pub use ids::{Cid, ClientId, MessageId, Uid};
pub use model::{
    Content, Conversation, ConversationPage, HistoryEntry, HistoryPage, ItemInfo, Message, Profile,
    TradeCard,
};
