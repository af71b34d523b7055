//! goofish-tui: a terminal messenger for the Goofish (闲鱼) web IM.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod app;
pub mod config;
pub mod daemon;
pub mod headless;
pub mod im;
pub mod logging;
pub mod messenger;
pub mod notify;
pub mod pictures;
pub mod private_fs;
pub mod process;
pub mod protocol;
pub mod run;
pub mod safe_text;
pub mod secret;
pub mod signals;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod text;
pub mod time;
pub mod tui;
pub mod ui;

/// The shared protocol samples, for the unit tests (one helper with the integration tests).
#[cfg(test)]
#[path = "../tests/common/samples.rs"]
mod test_samples;
