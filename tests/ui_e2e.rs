//! The whole program, scripted: the UI runtime on a test terminal, the session actor and the
//! simulator over loopback. Open a conversation, see a buyer's message arrive, reply, and find
//! the reply in the simulator.
#![allow(clippy::unwrap_used)]

mod common;

mod ui_support;

use common::{control, sim_state, sim_with};
use goofish_tui::app::{AppState, Focus, Input, UiOptions};
use goofish_tui::im::api::ImCommand;
use goofish_tui::im::conn::ConnConfig;
use goofish_tui::im::session::{self, DeviceSource, SessionConfig, SessionHandle};
use goofish_tui::sim::{Scenario, SimOptions};
use goofish_tui::tui::Runtime;
use goofish_tui::ui::i18n::Lang;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;
use std::time::Duration;
use ui_support::screen;

/// Feeds session events to the runtime (drawing after each) until `done` holds.
async fn pump(
    rt: &mut Runtime<TestBackend>,
    session: &mut SessionHandle,
    what: &str,
    done: impl Fn(&Runtime<TestBackend>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(rt) {
        match tokio::time::timeout_at(deadline, session.events.recv()).await {
            Ok(Some(ev)) => rt.dispatch(Input::Im(ev)).await,
            Ok(None) => panic!("session ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}:\n{}", screen(rt)),
        }
        rt.draw_if_dirty().unwrap();
    }
}

async fn key(rt: &mut Runtime<TestBackend>, code: KeyCode) {
    rt.dispatch(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .await;
    rt.draw_if_dirty().unwrap();
}

#[tokio::test]
async fn open_receive_reply() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 6,
        history: 10,
        ..SimOptions::default()
    })
    .await;
    let mtop = common::sim_mtop(&sim);
    let conn = ConnConfig {
        ws_url: sim.ws_url().to_string(),
        ..ConnConfig::default()
    };
    let mut cfg = SessionConfig::new(
        conn,
        DeviceSource::Fixed(goofish_tui::im::device::generate_device_id(&sim.self_uid)),
    );
    cfg.settle_delay = Duration::from_millis(50);
    let mut session = session::spawn(cfg, mtop);

    let opts = UiOptions {
        lang: Lang::En,
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let (state, _) = AppState::new(&opts, tz, goofish_tui::time::now_ms());
    let mut rt = Runtime::new(TestBackend::new(120, 40), state, session.commands.clone()).unwrap();
    rt.dispatch(Input::Resize {
        width: 120,
        height: 40,
    })
    .await;
    session
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();

    pump(&mut rt, &mut session, "the conversation list", |rt| {
        rt.state().visible().len() == 6
    })
    .await;
    pump(&mut rt, &mut session, "live", |rt| {
        screen(rt).contains("live")
    })
    .await;

    // Open the selected conversation: its history loads and the compose box has the keys.
    key(&mut rt, KeyCode::Enter).await;
    assert_eq!(rt.state().focus, Focus::Compose);
    let cid = rt.state().selected.clone().unwrap();
    pump(&mut rt, &mut session, "history", |rt| {
        rt.state().thread(&cid).is_some_and(|t| !t.is_empty())
    })
    .await;

    // A buyer writes: it appears on screen.
    control(
        &sim,
        "incoming",
        json!({"cid": cid.as_str(), "text": "请问还能便宜吗"}),
    )
    .await;
    pump(&mut rt, &mut session, "the buyer's message", |rt| {
        screen(rt).contains("请问还能便宜吗")
    })
    .await;

    // Reply: typed, Enter, and it is in the simulator exactly once.
    for c in "最低350包邮".chars() {
        key(&mut rt, KeyCode::Char(c)).await;
    }
    key(&mut rt, KeyCode::Enter).await;
    pump(&mut rt, &mut session, "the reply on screen", |rt| {
        screen(rt).contains("最低350包邮")
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let st = sim_state(&sim).await;
        let received = st["messages_received"].as_array().unwrap().clone();
        if !received.is_empty() {
            assert_eq!(received.len(), 1);
            assert_eq!(received[0]["text"], "最低350包邮");
            assert_eq!(received[0]["cid"], cid.as_str());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reply never reached the simulator"
        );
        // Keep the runtime fed meanwhile.
        if let Ok(Some(ev)) =
            tokio::time::timeout(Duration::from_millis(100), session.events.recv()).await
        {
            rt.dispatch(Input::Im(ev)).await;
        }
    }
    // The compose box is empty again.
    assert!(rt.state().draft(&cid).trim().is_empty());
    sim.shutdown().await;
}
