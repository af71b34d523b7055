//! The client side of the network: mtop HTTP, the LWP WebSocket, and the session actor.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

pub mod api;
pub mod conn;
pub mod cookies;
pub mod device;
pub mod mtop;
pub mod passport;
// The actor indexes only its own queues, by positions it just looked up.
#[allow(clippy::indexing_slicing)]
pub mod session;
pub mod tls;

pub use api::{ConnState, ImCommand, ImEvent, SendFailure, SendStage};
