//! The messenger's screen: the reducer, the runtime on a test terminal, snapshots, the bytes
//! written to a terminal, and the whole program against the simulator.
// Helpers shared by the test crates; each crate uses a part of them.
#[cfg(feature = "sim")]
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/samples.rs"]
mod samples;
#[path = "../ui_support/mod.rs"]
mod ui_support;

mod core_question;
mod core_views;
mod pictures;
mod seller_flow;
mod ui_e2e;
mod ui_links;
mod ui_reducer;
mod ui_robust;
mod ui_runtime;
mod ui_seller;
mod ui_snapshots;
mod ui_store;
mod ui_terminal_bytes;
