//! The whole program, scripted: the UI runtime on a test terminal, the session actor and the
//! simulator over loopback. Open a conversation, see a buyer's message arrive, reply, and find
//! the reply in the simulator.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use crate::ui_support;

use common::{control, sim_state, sim_with};
use goofish_tui::app::{AppState, Focus, Input, UiOptions};
use goofish_tui::im::api::ImCommand;
use goofish_tui::im::conn::ConnConfig;
use goofish_tui::im::session::{self, DeviceSource, SessionConfig, SessionHandle};
use goofish_tui::sim::{Scenario, SimOptions};
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
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

/// Scripted terminal input for `Runtime::run`: keys sent on a channel.
fn key_stream(
    rx: tokio::sync::mpsc::UnboundedReceiver<ratatui::crossterm::event::Event>,
) -> impl futures_util::Stream<Item = std::io::Result<ratatui::crossterm::event::Event>> + Unpin {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    }))
}

fn press(code: KeyCode) -> ratatui::crossterm::event::Event {
    ratatui::crossterm::event::Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[tokio::test]
async fn a_burst_into_the_open_conversation_never_stops_the_ui() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 10,
        history: 3,
        ..SimOptions::default()
    })
    .await;
    let mut cfg = common::session_config(&sim);
    // A debug build under a burst can be slow to answer: keep the heartbeat patient.
    cfg.conn.heartbeat_every = Duration::from_secs(2);
    cfg.conn.heartbeat_timeout = Duration::from_secs(20);
    let mut session = session::spawn(cfg, common::sim_mtop(&sim));
    let opts = UiOptions {
        lang: Lang::En,
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let (state, _) = AppState::new(&opts, tz, goofish_tui::time::now_ms());
    let mut rt = Runtime::new(TestBackend::new(80, 24), state, session.commands.clone()).unwrap();
    rt.dispatch(Input::Resize {
        width: 80,
        height: 24,
    })
    .await;
    session
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();
    pump(&mut rt, &mut session, "the list", |rt| {
        rt.state().visible().len() == 10 && screen(rt).contains("live")
    })
    .await;
    key(&mut rt, KeyCode::Enter).await;
    let cid = rt.state().selected.clone().unwrap();

    let (keys, input) = tokio::sync::mpsc::unbounded_channel();
    let burst_url = format!("{}/burst", sim.control_url());
    let script = async {
        let burst = tokio::spawn(
            reqwest::Client::new()
                .post(burst_url)
                .json(&json!({"count": 12000, "conversations": 10}))
                .send(),
        );
        // Keys typed while the burst comes in are read, and quitting works.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for c in "在的".chars() {
            keys.send(press(KeyCode::Char(c))).unwrap();
        }
        let answer: serde_json::Value = burst.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(answer["count"], 12000);
        // The end of the input ends `run` without quitting.
        drop(keys);
        std::future::pending::<()>().await
    };
    let run = rt.run(key_stream(input), &mut session.events);
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::select! {
            r = run => r,
            () = script => unreachable!(),
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the UI stopped answering during the burst:\n{}",
        screen(&rt)
    );
    ended.unwrap().unwrap();
    assert_eq!(
        rt.state().draft(&cid),
        "在的",
        "keys typed during the burst"
    );
    // Nothing was lost on the way: the open conversation gets at least its tenth of the
    // burst, after the three messages of history it had.
    let expected = 12000 / 10 + 3;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rt.state().thread(&cid).map_or(0, |t| t.len()) < expected {
        match tokio::time::timeout_at(deadline, session.events.recv()).await {
            Ok(Some(ev)) => rt.dispatch(Input::Im(ev)).await,
            other => panic!(
                "the burst stopped at {} of {expected} in the open conversation ({other:?})",
                rt.state().thread(&cid).map_or(0, |t| t.len())
            ),
        }
    }
    // And the keys still work: back to the list, quit.
    let (keys, input) = tokio::sync::mpsc::unbounded_channel();
    keys.send(press(KeyCode::Esc)).unwrap();
    keys.send(press(KeyCode::Char('q'))).unwrap();
    let quit = tokio::time::timeout(
        Duration::from_secs(20),
        rt.run(key_stream(input), &mut session.events),
    )
    .await;
    assert!(quit.is_ok(), "q did not quit:\n{}", screen(&rt));
    assert!(rt.state().should_quit());
    sim.shutdown().await;
}

async fn key_mod(rt: &mut Runtime<TestBackend>, code: KeyCode, m: KeyModifiers) {
    rt.dispatch(Input::Key(KeyEvent::new(code, m))).await;
    rt.draw_if_dirty().unwrap();
}

async fn typed(rt: &mut Runtime<TestBackend>, text: &str) {
    for c in text.chars() {
        key(rt, KeyCode::Char(c)).await;
    }
}

/// What the simulator received so far, as (text, message id).
async fn received(sim: &goofish_tui::sim::SimHandle) -> Vec<(String, String)> {
    let st = sim_state(sim).await;
    st["messages_received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["text"].as_str().unwrap().to_string(),
                r["message_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_sellers_round_waiting_words_quick_reply_edit_recall_and_order_state() {
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
        lang: Lang::Zh,
        quick_replies: Some(vec!["{nick}，{item} 还在，可以直接拍".into()]),
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let (state, _) = AppState::new(&opts, tz, goofish_tui::time::now_ms());
    let mut rt = Runtime::new(TestBackend::new(80, 24), state, session.commands.clone()).unwrap();
    rt.dispatch(Input::Resize {
        width: 80,
        height: 24,
    })
    .await;
    session
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();
    pump(&mut rt, &mut session, "the list, live", |rt| {
        rt.state().visible().len() == 6 && rt.state().is_live()
    })
    .await;

    // A buyer writes: the list shows the words and the wait, without opening anything. In a
    // conversation that waits for nobody yet (an older unanswered message would show its own,
    // longer wait), about an item (the quick reply names it).
    let quiet = rt
        .state()
        .visible()
        .iter()
        .find(|c| {
            rt.state().waiting_since(c).is_none()
                && rt.state().conversation(c).is_some_and(|v| {
                    v.item_id.is_some()
                        && v.peer.as_str() != goofish_tui::protocol::model::SYSTEM_SENDER
                })
        })
        .cloned()
        .expect("a conversation about an item that waits for nobody");
    let r = control(
        &sim,
        "incoming",
        json!({"cid": quiet.as_str(), "text": "有人在吗，想买这个"}),
    )
    .await;
    let cid = goofish_tui::protocol::Cid::new(r["cid"].as_str().unwrap());
    pump(&mut rt, &mut session, "the words in the list", |rt| {
        let s = screen(rt);
        s.contains("有人在吗，想买") && s.contains("等 1 分")
    })
    .await;
    assert_eq!(rt.state().open, None);

    // To that buyer with n, and a quick reply, filled in, with two keys and Enter.
    while rt.state().selected.as_ref() != Some(&cid) {
        key(&mut rt, KeyCode::Char('n')).await;
    }
    key_mod(&mut rt, KeyCode::Char('t'), KeyModifiers::CONTROL).await;
    key(&mut rt, KeyCode::Char('1')).await;
    let draft = rt.state().draft(&cid);
    assert!(
        !draft.contains('{') && draft.contains("还在，可以直接拍"),
        "{draft}"
    );
    key(&mut rt, KeyCode::Enter).await;
    pump(&mut rt, &mut session, "the quick reply sent", |rt| {
        rt.state().waiting_since(&cid).is_none()
    })
    .await;
    let got = received(&sim).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, draft);

    // Rejected by content security, edited, sent.
    typed(&mut rt, "加微信聊").await;
    key(&mut rt, KeyCode::Enter).await;
    pump(&mut rt, &mut session, "the rejection", |rt| {
        screen(rt).contains("请修改后重试")
    })
    .await;
    key(&mut rt, KeyCode::Up).await;
    key(&mut rt, KeyCode::Char('e')).await;
    assert_eq!(rt.state().draft(&cid), "加微信聊");
    for _ in 0..3 {
        key(&mut rt, KeyCode::Backspace).await;
    }
    typed(&mut rt, "平台聊就行").await;
    key(&mut rt, KeyCode::Enter).await;
    pump(&mut rt, &mut session, "the edited message sent", |rt| {
        screen(rt).contains("加平台聊就行") && !screen(rt).contains("请修改后重试")
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let id = loop {
        if let Some((_, id)) = received(&sim)
            .await
            .into_iter()
            .find(|(t, _)| t == "加平台聊就行")
        {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached the simulator"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!received(&sim).await.iter().any(|(t, _)| t == "加微信聊"));

    // Recalled from the message pane: x, y.
    pump(
        &mut rt,
        &mut session,
        "the echo of the edited message",
        |rt| {
            rt.state()
                .thread(&cid)
                .and_then(|t| t.entries().last())
                .is_some_and(|e| e.id().is_some_and(|i| i.as_str() == id))
        },
    )
    .await;
    key(&mut rt, KeyCode::Up).await;
    assert_eq!(rt.state().focus, Focus::Messages);
    key(&mut rt, KeyCode::Char('x')).await;
    key(&mut rt, KeyCode::Char('y')).await;
    pump(&mut rt, &mut session, "the recall", |rt| {
        let s = screen(rt);
        s.contains("你撤回了一条消息") && !s.contains("加平台聊就行")
    })
    .await;
    let history = control(
        &sim,
        "incoming",
        json!({"cid": cid.as_str(), "text": "好的"}),
    )
    .await;
    assert!(history["message_id"].is_string());

    // The buyer pays (a card and the order state), then the order ships: the order-status
    // push alone changes the state in the header and the conversation's row.
    control(&sim, "order", json!({"cid": cid.as_str(), "step": "pay"})).await;
    pump(&mut rt, &mut session, "the paid order", |rt| {
        screen(rt).contains("[待发货] 等待卖家发货")
    })
    .await;
    control(&sim, "order", json!({"cid": cid.as_str(), "step": "ship"})).await;
    pump(&mut rt, &mut session, "the shipped order", |rt| {
        let s = screen(rt);
        let row = s.lines().find(|l| l.starts_with('▌')).unwrap_or_default();
        s.contains("[已发货] 等待买家收货") && row.contains("已发货")
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_login_shows_the_qr_code_at_80x24_and_goes_live_once_confirmed() {
    use goofish_tui::im::cookies::CookieJar;
    use goofish_tui::im::mtop::{Endpoints, MtopClient};
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        qr_auto_confirm: Some(Duration::from_secs(3)),
        ..SimOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let jar_path = dir.path().join("cookies.json");
    let base = url::Url::parse(sim.http_url()).unwrap();
    let mtop = MtopClient::new(
        Endpoints::at(base.clone()),
        CookieJar::parse_header(sim.cookie()),
        Some(jar_path.clone()),
    )
    .unwrap();
    let mut session = session::spawn(common::session_config(&sim), mtop);
    let opts = UiOptions {
        lang: Lang::En,
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let (state, _) = AppState::new(&opts, tz, goofish_tui::time::now_ms());
    let mut rt = Runtime::new(TestBackend::new(80, 24), state, session.commands.clone())
        .unwrap()
        .with_login(goofish_tui::tui::LoginSetup {
            endpoints: Endpoints::at(base),
            data_dir: dir.path().to_path_buf(),
        });
    rt.dispatch(Input::Resize {
        width: 80,
        height: 24,
    })
    .await;
    pump(&mut rt, &mut session, "live", |rt| rt.state().is_live()).await;
    // The login dies and cannot be renewed.
    control(&sim, "fault", json!({"kind": "expire-session"})).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut saw_code = false;
    loop {
        tokio::select! {
            ev = session.events.recv() => rt.dispatch(Input::Im(ev.unwrap())).await,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        rt.take_login_updates().await;
        rt.draw_if_dirty().unwrap();
        let shown = screen(&rt);
        if shown.contains("Scan with the Xianyu") {
            // The whole code is on the 80×24 screen: 22 rows of half blocks.
            let rows = shown
                .lines()
                .filter(|l| l.contains('█') || l.contains('▀'))
                .count();
            assert!(rows >= 20, "{shown}");
            saw_code = true;
        }
        if saw_code && rt.state().is_live() && rt.state().login.is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not live again after the scan:\n{shown}"
        );
    }
    assert!(screen(&rt).contains("● live"), "{}", screen(&rt));
    sim.shutdown().await;
}
