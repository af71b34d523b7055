//! The embedded Goofish simulator: mtop + passport over HTTP, LWP over WebSocket, a world of
//! buyers and items, a control API and fault injection.

pub mod scenario;
pub mod world;
