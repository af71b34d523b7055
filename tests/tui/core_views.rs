//! The TUI attached to the background core: its reply reaches the other views, and a TUI that
//! comes back after an SSH drop shows what buyers wrote meanwhile, from the local history,
//! before its first frame; the service never sees a reconnect.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common::core_place::{Lines, Place, two_logged_in, view_names};
use crate::common::{control, sim_state, sim_with};
use crate::ui_support::screen;
use goofish_tui::app::{AppState, Input, UiOptions};
use goofish_tui::im::api::{ConnState, ImCommand};
use goofish_tui::run::Connection;
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;
use std::time::Duration;

async fn pump(
    rt: &mut Runtime<TestBackend>,
    conn: &mut Connection,
    what: &str,
    done: impl Fn(&Runtime<TestBackend>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(rt) {
        match tokio::time::timeout_at(deadline, conn.session.events.recv()).await {
            Ok(Some(ev)) => rt.dispatch(Input::Im(ev)).await,
            Ok(None) => panic!("the session ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}:\n{}", screen(rt)),
        }
        rt.settle().await;
        rt.draw_if_dirty().unwrap();
    }
}

async fn key(rt: &mut Runtime<TestBackend>, code: KeyCode) {
    rt.dispatch(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .await;
    rt.draw_if_dirty().unwrap();
}

/// A TUI attached to the core of `place`, its local history shown.
async fn tui(place: &Place) -> (Runtime<TestBackend>, Connection) {
    let ask = goofish_tui::daemon::upgrade::Unattended;
    let conn = goofish_tui::daemon::attach(&place.settings(), "tui", true, &ask)
        .await
        .unwrap();
    let opts = UiOptions {
        lang: Lang::En,
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let (state, _) = AppState::new(&opts, tz, goofish_tui::time::now_ms());
    let mut rt = Runtime::new(
        TestBackend::new(100, 30),
        state,
        conn.session.commands.clone(),
    )
    .unwrap();
    rt.dispatch(Input::Resize {
        width: 100,
        height: 30,
    })
    .await;
    rt.attach_store(conn.store.clone(), conn.store_problem.clone())
        .await;
    rt.draw_if_dirty().unwrap();
    (rt, conn)
}

async fn connections(sim: &SimHandle) -> (u64, u64) {
    let st = sim_state(sim).await;
    (
        st["registered_connections"].as_u64().unwrap(),
        st["connections_total"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_reply_reaches_a_watch_and_a_tui_after_a_drop_shows_what_came_meanwhile() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await;
    let place = Place::new(&sim);
    // The watch starts the core; the TUI attaches to it.
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch
        .until("live", |v| {
            v["type"] == "connection" && v["state"] == "live"
        })
        .await;
    let (mut rt, mut conn) = tui(&place).await;
    conn.session
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();
    pump(&mut rt, &mut conn, "the list", |rt| {
        rt.state().visible().len() == 3
    })
    .await;
    pump(&mut rt, &mut conn, "live", |rt| screen(rt).contains("live")).await;
    key(&mut rt, KeyCode::Enter).await;
    let cid = rt.state().selected.clone().unwrap();
    pump(&mut rt, &mut conn, "history", |rt| {
        rt.state().thread(&cid).is_some_and(|t| !t.is_empty())
    })
    .await;
    for c in "最低350包邮".chars() {
        key(&mut rt, KeyCode::Char(c)).await;
    }
    key(&mut rt, KeyCode::Enter).await;
    pump(&mut rt, &mut conn, "the reply sent", |rt| {
        screen(rt).contains("最低350包邮") && !screen(rt).contains("sending")
    })
    .await;
    let seen = watch
        .until("the TUI's reply", |v| {
            v["type"] == "message" && v["text"] == "最低350包邮"
        })
        .await;
    assert_eq!(seen["self"], true);

    // The terminal goes away (an SSH drop): the view ends without a word to the core.
    drop(rt);
    drop(conn);
    for text in ["还在吗", "能发顺丰吗 🚚"] {
        control(&sim, "incoming", json!({"cid": cid.as_str(), "text": text})).await;
        watch
            .until(text, |v| v["type"] == "message" && v["text"] == text)
            .await;
    }
    // Written by the core's store owner in its next group commit.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A new TUI: the buyer's last words are in its first frame, from the local history.
    let (rt, conn) = tui(&place).await;
    let first = screen(&rt);
    assert!(first.contains("能发顺丰吗"), "{first}");
    assert_eq!(rt.draws(), 1, "{first}");
    drop(conn);
    // One connection all along: no reconnect for the drop or the new TUI.
    assert_eq!(connections(&sim).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_read_in_one_tui_is_read_in_the_other() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await;
    let place = Place::new(&sim);
    let started = place.run(&["daemon"]).await;
    assert_eq!(started.status.code(), Some(0));
    let (mut a, mut a_conn) = tui(&place).await;
    let (mut b, mut b_conn) = tui(&place).await;
    for (rt, conn) in [(&mut a, &mut a_conn), (&mut b, &mut b_conn)] {
        conn.session
            .commands
            .send(ImCommand::ListConversations)
            .await
            .unwrap();
        pump(rt, conn, "the list", |rt| rt.state().visible().len() == 3).await;
    }
    let cid = a.state().visible()[1].clone();
    control(
        &sim,
        "incoming",
        json!({"cid": cid.as_str(), "text": "在吗在吗"}),
    )
    .await;
    let unread = |rt: &Runtime<TestBackend>| {
        rt.state()
            .conversation(&cid)
            .map(|c| c.unread)
            .unwrap_or_default()
    };
    pump(&mut a, &mut a_conn, "unread in A", |rt| unread(rt) > 0).await;
    pump(&mut b, &mut b_conn, "unread in B", |rt| unread(rt) > 0).await;
    // A opens it: read there, and so in B, which did nothing.
    // It moved to the top with the new message.
    for code in [KeyCode::Up; 3].into_iter().chain([KeyCode::Down; 3]) {
        if a.state().selected.as_ref() == Some(&cid) {
            break;
        }
        key(&mut a, code).await;
    }
    key(&mut a, KeyCode::Enter).await;
    assert_eq!(a.state().open.as_ref(), Some(&cid));
    assert_eq!(unread(&a), 0);
    pump(&mut b, &mut b_conn, "read in B", |rt| unread(rt) == 0).await;
    assert_ne!(
        b.state().open.as_ref(),
        Some(&cid),
        "B keeps its own selection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_whose_core_is_killed_says_so_and_is_live_again_on_a_new_one() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await;
    let place = Place::new(&sim);
    assert_eq!(place.run(&["daemon"]).await.status.code(), Some(0));
    let pid = place.status().await["pid"].as_u64().unwrap();
    let (mut rt, mut conn) = tui(&place).await;
    conn.session
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();
    pump(&mut rt, &mut conn, "live", |rt| screen(rt).contains("live")).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    pump(&mut rt, &mut conn, "the notice", |rt| {
        screen(rt).contains("lost the background core")
    })
    .await;
    // This view starts a new core, which connects: live again, with one connection left.
    let live = |rt: &Runtime<TestBackend>| rt.state().conn.state == ConnState::Live;
    pump(&mut rt, &mut conn, "connecting", |rt| !live(rt)).await;
    pump(&mut rt, &mut conn, "live again", live).await;
    let again = place.status().await["pid"].as_u64().unwrap();
    assert_ne!(again, pid);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while connections(&sim).await != (1, 2) {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Feeds the runtime the shown session's events and those of the sessions beside it until
/// `done`.
async fn pump_accounts(
    rt: &mut Runtime<TestBackend>,
    events: &mut tokio::sync::mpsc::Receiver<goofish_tui::im::api::ImEvent>,
    what: &str,
    done: impl Fn(&Runtime<TestBackend>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(rt) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            screen(rt)
        );
        tokio::select! {
            ev = events.recv() => rt.dispatch(Input::Im(ev.expect("the shown session ended"))).await,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        rt.take_beside_events().await;
        rt.settle().await;
        rt.draw_if_dirty().unwrap();
    }
}

/// Each seller's registered connections.
async fn per_seller(sim: &SimHandle) -> Vec<u64> {
    sim_state(sim).await["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["registered_connections"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_shows_the_other_shops_unread_and_switches_to_it_on_the_cores_connections() {
    use goofish_tui::tui::Switch;
    let (sim, place, first, second) = two_logged_in().await;
    let settings = place.settings();
    let ask = goofish_tui::daemon::upgrade::Unattended;
    let conn = goofish_tui::daemon::attach(&settings, "tui", true, &ask)
        .await
        .unwrap();
    let mut sessions = goofish_tui::messenger::Sessions::new(&settings, &ask, conn);
    let shown = sessions.first().unwrap();
    let (list, on, beside) = sessions.accounts().await.expect("two accounts");
    assert_eq!(on.as_str(), first);
    assert_eq!(list.len(), 2);
    let opts = UiOptions {
        lang: Lang::En,
        ..UiOptions::default()
    };
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let fresh = || AppState::new(&opts, tz, goofish_tui::time::now_ms()).0;
    let mut rt = Runtime::new(TestBackend::new(120, 30), fresh(), shown.commands.clone()).unwrap();
    rt.dispatch(Input::Resize {
        width: 120,
        height: 30,
    })
    .await;
    rt.attach_store(shown.store.clone(), shown.store_problem.clone())
        .await;
    rt.show_accounts(list, on);
    assert_eq!(beside.len(), 1, "the other shop only");
    rt.watch_accounts(beside);
    let mut events = shown.events;
    shown
        .commands
        .send(ImCommand::ListConversations)
        .await
        .unwrap();
    pump_accounts(&mut rt, &mut events, "the first shop live", |rt| {
        screen(rt).contains("live")
            && screen(rt).contains("me: 阿哲的闲置小铺 │ 小林的二手书店 0 │")
    })
    .await;

    // A buyer writes to the other shop: counted in the status bar, not in this shop's list.
    let to_second = format!("incoming?account={second}");
    control(&sim, &to_second, json!({"text": "这本书还在吗"})).await;
    pump_accounts(&mut rt, &mut events, "the other shop's unread", |rt| {
        screen(rt).contains("小林的二手书店 1 │")
    })
    .await;
    assert!(!screen(&rt).contains("这本书还在吗"), "{}", screen(&rt));

    // The switch key: the other shop, its buyer's message in its list.
    key(&mut rt, KeyCode::Char('a')).await;
    assert_eq!(rt.switch_to().map(|u| u.as_str()), Some(second.as_str()));
    assert!(rt.state().should_quit());
    let next = sessions
        .open(&rt.switch_to().unwrap().clone())
        .await
        .unwrap();
    events = rt.show_session(fresh(), next).await;
    pump_accounts(&mut rt, &mut events, "the second shop", |rt| {
        let s = screen(rt);
        s.contains("这本书还在吗")
            && s.contains("me: 小林的二手书店 │ 阿哲的闲置小铺")
            && s.contains("live")
    })
    .await;
    assert!(!rt.state().should_quit());
    // The first shop is followed beside now: a view of it on the core, counted once its
    // list has come.
    pump_accounts(&mut rt, &mut events, "the first shop counted", |rt| {
        rt.state().accounts[0].unread.is_some()
    })
    .await;
    let views = |status: &serde_json::Value, i: usize| -> Vec<String> {
        view_names(&status["accounts"][i])
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    let status = place.status().await;
    assert_eq!(views(&status, 0), ["tui (unread)"], "{status}");
    assert_eq!(views(&status, 1), ["tui"], "{status}");
    control(&sim, "incoming", json!({"text": "包邮吗"})).await;
    let before = rt.state().accounts[0].unread.unwrap();
    pump_accounts(&mut rt, &mut events, "the first shop's unread", |rt| {
        rt.state().accounts[0].unread == Some(before + 1)
    })
    .await;
    // The service saw one connection per shop: views come and go on the core's.
    assert_eq!(per_seller(&sim).await, [1, 1]);
    sessions.close().await;
    let status = place.status().await;
    assert!(
        status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["views"].as_array().unwrap().is_empty()),
        "{status}"
    );
}
