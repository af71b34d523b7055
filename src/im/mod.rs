//! The client side of the network: mtop HTTP, the LWP WebSocket, and the IM session.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

pub mod api;
pub mod conn;
pub mod cookies;
pub mod device;
pub(crate) mod handoff;
pub mod mtop;
pub mod passport;
pub mod renewal;
pub mod session;
pub mod tls;

pub use api::{ConnState, ImCommand, ImEvent, SendFailure, SendStage};
