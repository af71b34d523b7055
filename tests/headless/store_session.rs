//! The session actor with local history against the simulator: what it accepts is on disk
//! before it is shown, and a text in the outbox survives a kill and goes out exactly once.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, quiet_sim, sim_state};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent, SendStage};
use goofish_tui::im::session::{self, SessionConfig, SessionHandle};
use goofish_tui::protocol::{Cid, ClientId, Content, Uid};
use goofish_tui::sim::SimHandle;
use goofish_tui::store::{Store, StoreHandle};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn config(sim: &SimHandle, store: Option<StoreHandle>) -> SessionConfig {
    let mut cfg = common::session_config(sim);
    cfg.store = store;
    cfg
}

fn start(sim: &SimHandle, store: Option<StoreHandle>) -> SessionHandle {
    session::spawn(config(sim, store), common::sim_mtop(sim))
}

fn open(dir: &Path, uid: &Uid) -> StoreHandle {
    StoreHandle::new(Store::open(dir, uid).unwrap())
}

async fn until(
    s: &mut SessionHandle,
    what: &str,
    mut pred: impl FnMut(&ImEvent) -> bool,
) -> ImEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, s.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("session ended waiting for {what}"));
        if pred(&ev) {
            return ev;
        }
    }
}

async fn first_conversation(s: &mut SessionHandle) -> Cid {
    until(s, "live", |e| {
        matches!(e, ImEvent::Connection(ConnState::Live))
    })
    .await;
    s.commands.send(ImCommand::ListConversations).await.unwrap();
    match until(s, "conversations", |e| {
        matches!(e, ImEvent::Conversations(_))
    })
    .await
    {
        ImEvent::Conversations(list) => list[0].cid.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_in_the_outbox_survives_a_kill_and_is_sent_once() {
    let sim = quiet_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&sim, Some(open(dir.path(), &sim.self_uid)));
    let cid = first_conversation(&mut first).await;

    // The service stops answering: the send goes on the wire and hangs there.
    control(&sim, "fault", json!({"kind": "stall", "secs": 30})).await;
    let client_id = ClientId::new("-1790000000000123");
    let text = "断网时写的：最低多少钱？";
    first
        .commands
        .send(ImCommand::SendText {
            cid: cid.clone(),
            client_id: client_id.clone(),
            text: text.into(),
        })
        .await
        .unwrap();
    until(&mut first, "sending", |e| {
        matches!(e, ImEvent::SendProgress { client_id: c, stage: SendStage::Sending } if *c == client_id)
    })
    .await;
    // Killed while the text waits for an answer.
    first.task.abort();
    let _ = first.task.await;
    drop(first.commands);
    drop(first.events);
    control(&sim, "fault", json!({"kind": "clear"})).await;

    let pending = Store::open(dir.path(), &sim.self_uid)
        .unwrap()
        .outbox_pending()
        .unwrap();
    assert_eq!(pending.len(), 1, "the text is on disk");
    assert_eq!(pending[0].client_id, client_id);

    // The next run sends it by itself, with the same client id.
    let store = open(dir.path(), &sim.self_uid);
    let mut second = start(&sim, Some(store.clone()));
    let result = until(
        &mut second,
        "the resent text",
        |e| matches!(e, ImEvent::SendResult { client_id: c, .. } if *c == client_id),
    )
    .await;
    let ImEvent::SendResult { result, .. } = result else {
        unreachable!()
    };
    let sent = result.unwrap();
    assert_eq!(sent.content, Content::Text { text: text.into() });

    // Give a second (wrong) resend time to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = sim_state(&sim).await;
    let received: Vec<_> = state["messages_received"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uuid"] == client_id.as_str())
        .collect();
    assert_eq!(received.len(), 1, "delivered exactly once: {state}");
    assert_eq!(received[0]["text"], text);

    let (left, stored) = store
        .call(move |s| Ok((s.outbox_pending()?, s.messages(&cid, None, 50)?)))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "the outbox is empty once the server has it"
    );
    assert!(
        stored.iter().any(|m| m.id == sent.id),
        "the sent text is in the local history"
    );
    let _ = second.commands.send(ImCommand::Shutdown).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_and_the_list_are_stored_before_they_are_shown() {
    let sim = quiet_sim().await;
    let store = StoreHandle::new(Store::open_in_memory(&sim.self_uid).unwrap());
    let mut s = start(&sim, Some(store.clone()));
    let cid = first_conversation(&mut s).await;
    let cached = store.call(|s| s.conversations()).await.unwrap();
    assert!(cached.iter().any(|c| c.cid == cid), "the list is cached");

    // A history page.
    s.commands
        .send(ImCommand::LoadHistory {
            cid: cid.clone(),
            cursor: None,
        })
        .await
        .unwrap();
    let page = match until(&mut s, "history", |e| matches!(e, ImEvent::History { .. })).await {
        ImEvent::History { page, .. } => page,
        _ => unreachable!(),
    };
    assert!(!page.entries.is_empty());
    let c = cid.clone();
    let stored = store
        .call(move |s| s.messages(&c, None, 1000))
        .await
        .unwrap();
    for e in &page.entries {
        assert!(stored.contains(&e.message), "{:?} not stored", e.message.id);
    }

    // A push: in the store by the time it is shown, and searchable.
    control(
        &sim,
        "incoming",
        json!({"cid": cid.as_str(), "text": "老板能便宜点包邮吗"}),
    )
    .await;
    let pushed = match until(&mut s, "push", |e| matches!(e, ImEvent::Message(_))).await {
        ImEvent::Message(m) => m,
        _ => unreachable!(),
    };
    let hits = store.blocking(|s| s.search("能便宜点", 10)).unwrap();
    assert!(hits.iter().any(|h| h.message == pushed));
    let _ = s.commands.send(ImCommand::Shutdown).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_store_is_reported_once_and_the_session_goes_on() {
    let sim = quiet_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &sim.self_uid);
    // Sabotage: the tables vanish under the running session.
    store
        .blocking(|s| {
            s.clear()?;
            Ok(())
        })
        .unwrap();
    let raw =
        rusqlite::Connection::open(goofish_tui::store::db_path(dir.path(), &sim.self_uid).unwrap())
            .unwrap();
    raw.execute_batch("DROP TABLE outbox; DROP TABLE conversations;")
        .unwrap();
    drop(raw);

    let mut s = start(&sim, Some(store));
    let mut errors = 0;
    let mut saw_list = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut listed = false;
    while !saw_list {
        let ev = tokio::time::timeout_at(deadline, s.events.recv())
            .await
            .expect("no conversation list")
            .unwrap();
        match ev {
            ImEvent::Error(e) if e.contains("local history") => errors += 1,
            ImEvent::Connection(ConnState::Live) if !listed => {
                listed = true;
                s.commands.send(ImCommand::ListConversations).await.unwrap();
            }
            ImEvent::Conversations(list) => saw_list = !list.is_empty(),
            _ => {}
        }
    }
    assert_eq!(errors, 1, "reported once, not per call");
    let _ = s.commands.send(ImCommand::Shutdown).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn texts_left_by_an_earlier_run_go_out_in_their_order() {
    let sim = quiet_sim().await;
    let dir = tempfile::tempdir().unwrap();
    // Learn a conversation, then leave twelve texts in the outbox as a killed run would.
    let mut first = start(&sim, None);
    let cid = first_conversation(&mut first).await;
    let _ = first.commands.send(ImCommand::Shutdown).await;
    {
        let mut store = Store::open(dir.path(), &sim.self_uid).unwrap();
        for i in 1..=12 {
            let id = ClientId::new(format!("-17900000002{i:02}"));
            store
                .outbox_add(&cid, &id, &format!("{i:02}"), 1_790_000_000_000 + i)
                .unwrap();
        }
    }
    let mut second = start(&sim, Some(open(dir.path(), &sim.self_uid)));
    let mut results = 0;
    while results < 12 {
        if let ImEvent::SendResult { result, .. } = until(&mut second, "results", |e| {
            matches!(e, ImEvent::SendResult { .. })
        })
        .await
        {
            assert!(result.is_ok(), "{result:?}");
            results += 1;
        }
    }
    let texts: Vec<String> = common::sim_received(&sim)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    let written: Vec<String> = (1..=12).map(|i| format!("{i:02}")).collect();
    assert_eq!(texts, written);
    let _ = second.commands.send(ImCommand::Shutdown).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_the_outbox_cannot_keep_is_flagged_and_still_sent_once() {
    let sim = quiet_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &sim.self_uid);
    let mut s = start(&sim, Some(store));
    let cid = first_conversation(&mut s).await;
    // The outbox breaks under the running session.
    let raw =
        rusqlite::Connection::open(goofish_tui::store::db_path(dir.path(), &sim.self_uid).unwrap())
            .unwrap();
    raw.execute_batch("DROP TABLE outbox;").unwrap();
    drop(raw);
    // Offline, so that the text waits in memory: that is when it matters.
    control(&sim, "fault", json!({"kind": "drop"})).await;
    until(&mut s, "offline", |e| {
        matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
    })
    .await;
    let client_id = ClientId::new("-1790000000000777");
    s.commands
        .send(ImCommand::SendText {
            cid,
            client_id: client_id.clone(),
            text: "发件箱坏了也要发出去".into(),
        })
        .await
        .unwrap();
    let mut flagged = false;
    let result = loop {
        match until(&mut s, "the send", |e| {
            matches!(e, ImEvent::SendNotSaved { .. } | ImEvent::SendResult { .. })
        })
        .await
        {
            ImEvent::SendNotSaved {
                client_id: c,
                reason,
            } => {
                assert_eq!(c, client_id);
                assert!(reason.contains("outbox"), "{reason}");
                flagged = true;
            }
            ImEvent::SendResult { result, .. } => break result,
            _ => unreachable!(),
        }
    };
    assert!(flagged, "told while it waits that it is not crash-safe");
    assert!(result.is_ok(), "{result:?}");
    let got = common::sim_received(&sim).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["text"], "发件箱坏了也要发出去");
    let _ = s.commands.send(ImCommand::Shutdown).await;
    sim.shutdown().await;
}
