//! The client side of the network: mtop HTTP, the LWP WebSocket, and the session actor.

pub mod api;
pub mod conn;
pub mod cookies;
pub mod device;
pub mod mtop;
pub mod passport;
pub mod session;
pub mod tls;

pub use api::{ConnState, ImCommand, ImEvent, SendFailure, SendStage};
