//! Everything below the screen, over real loopback sockets where a network is involved: the
//! protocol and its samples, the simulator, the mtop client, the session, the local history,
//! the headless commands (the real binary) and what bad input does to each.
// Helpers shared by the test crates; each crate uses a part of them.
/// The binary's command line, as the binary builds it.
#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;
#[cfg(feature = "sim")]
#[path = "../common/mod.rs"]
mod common;
#[path = "../hostile/mod.rs"]
mod hostile;
#[path = "../common/samples.rs"]
mod samples;

mod accounts;
mod core_daemon;
mod headless_cli;
mod headless_session;
mod hostile_http;
mod im_conn;
mod log_file_privacy;
mod mtop_client;
mod no_panic_input;
mod protocol_encode;
mod protocol_history;
mod protocol_sync;
mod secrets_and_modes;
mod session_sim;
mod settings;
mod shared_samples;
mod sim_host_check;
mod sim_pictures;
mod sim_protocol;
mod store_basic;
mod store_session;
mod terminal_safety;
mod tls_trust;
