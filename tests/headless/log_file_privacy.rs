//! The TUI's log file at trace level: private (0600 in a 0700 folder), and without the IM
//! token or the cookies, although the WebSocket and HTTP crates dump frames and headers at
//! trace. Its own test binary: the log subscriber is global to the process.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_with};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::im::session;
use goofish_tui::sim::{Scenario, SimOptions};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

async fn wait(
    events: &mut tokio::sync::mpsc::Receiver<ImEvent>,
    what: &str,
    pred: fn(&ImEvent) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = events.recv().await {
            if pred(&ev) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_log_is_private_and_holds_no_secret() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("state/goofish-tui");
    let guard = goofish_tui::logging::to_file(&logs, "trace").unwrap();

    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await;
    let mut s = session::spawn(common::session_config(&sim), common::sim_mtop(&sim));
    wait(&mut s.events, "live", |e| {
        matches!(e, ImEvent::Connection(ConnState::Live))
    })
    .await;
    control(&sim, "incoming", json!({"text": "私密的话"})).await;
    wait(&mut s.events, "the message", |e| {
        matches!(e, ImEvent::Message(_))
    })
    .await;
    s.commands.send(ImCommand::Shutdown).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.task).await;
    let secrets: Vec<String> = sim.secrets().into_iter().filter(|x| x.len() >= 8).collect();
    sim.shutdown().await;
    drop(guard);

    assert_eq!(mode(&logs), 0o700);
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    let mut all = String::new();
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
        all.push_str(&std::fs::read_to_string(f).unwrap());
    }
    assert!(all.contains("TRACE"), "trace is on:\n{all}");
    assert!(secrets.len() >= 4);
    for x in &secrets {
        assert!(
            !all.contains(x.as_str()),
            "the log holds a secret of {} chars",
            x.len()
        );
    }
}
