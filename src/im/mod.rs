//! The client side of the network: mtop HTTP, the LWP WebSocket, and the session actor.

pub mod api;

pub use api::{ConnState, ImCommand, ImEvent, SendFailure, SendStage};
