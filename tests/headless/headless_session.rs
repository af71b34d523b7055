//! `ImCommand::OpenConversation` on the session actor against the simulator: what
//! `send --peer` relies on.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_with};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent, OPEN_CONVERSATION_FAILED};
use goofish_tui::im::session::{self, SessionHandle};
use goofish_tui::protocol::{Cid, Conversation, Uid};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use serde_json::json;
use std::time::Duration;

fn start(sim: &SimHandle) -> SessionHandle {
    session::spawn(common::session_config(sim), common::sim_mtop(sim))
}

async fn until(h: &mut SessionHandle, what: &str, pred: impl Fn(&ImEvent) -> bool) -> ImEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ev = tokio::time::timeout_at(deadline, h.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("session ended waiting for {what}"));
        if pred(&ev) {
            return ev;
        }
    }
}

fn with_peer<'a>(list: &'a [Conversation], peer: &Uid) -> Option<&'a Conversation> {
    list.iter().find(|c| &c.peer == peer)
}

async fn open(h: &mut SessionHandle, peer: &Uid, item: Option<&str>) -> Conversation {
    h.commands
        .send(ImCommand::OpenConversation {
            peer: peer.clone(),
            item_id: item.map(str::to_string),
        })
        .await
        .unwrap();
    match until(
        h,
        "the list with the new conversation",
        |e| matches!(e, ImEvent::Conversations(l) if with_peer(l, peer).is_some()),
    )
    .await
    {
        ImEvent::Conversations(l) => with_peer(&l, peer).unwrap().clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn open_conversation_creates_once_and_is_idempotent() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 2,
        history: 1,
        ..SimOptions::default()
    })
    .await;
    // Asked before the connection is up: it waits for it.
    let mut h = start(&sim);
    let peer = Uid::new("1000000777");
    let first = open(&mut h, &peer, Some("900000000777")).await;
    assert_eq!(first.item_id.as_deref(), Some("900000000777"));
    let again = open(&mut h, &peer, Some("900000000777")).await;
    assert_eq!(again.cid, first.cid);
    // The simulator now routes that buyer's messages to the created conversation.
    let reply = control(
        &sim,
        "incoming",
        json!({"from": "1000000777", "text": "hi"}),
    )
    .await;
    assert_eq!(Cid::new(reply["cid"].as_str().unwrap()), first.cid);

    // Without a login, the request fails with the documented prefix instead of hanging.
    control(&sim, "fault", json!({"kind": "expire-session"})).await;
    until(&mut h, "needs login", |e| {
        matches!(e, ImEvent::Connection(ConnState::NeedsLogin { .. }))
    })
    .await;
    h.commands
        .send(ImCommand::OpenConversation {
            peer: Uid::new("1000000778"),
            item_id: None,
        })
        .await
        .unwrap();
    until(
        &mut h,
        "open failure",
        |e| matches!(e, ImEvent::Error(m) if m.starts_with(OPEN_CONVERSATION_FAILED)),
    )
    .await;
    let _ = h.commands.send(ImCommand::Shutdown).await;
}
