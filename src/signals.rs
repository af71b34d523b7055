//! The end signals a command stops on, shared by the headless commands and the background
//! core.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, listened to from creation on (so a signal during start-up counts).
pub struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
}

impl Signals {
    pub fn new() -> Signals {
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves at the first SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        async fn one(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    if s.recv().await.is_none() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.int) => {}
            _ = one(&mut self.term) => {}
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}
