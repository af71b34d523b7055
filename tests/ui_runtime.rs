//! The event loop: idle means no drawing, a burst of pushes is one frame.
#![allow(clippy::unwrap_used)]

mod ui_support;

use futures_util::{StreamExt, stream};
use goofish_tui::app::{AppState, Input};
use goofish_tui::im::api::{ImCommand, ImEvent};
use goofish_tui::tui::Runtime;
use goofish_tui::ui::i18n::Lang;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use std::io;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::mpsc;
use ui_support::*;

fn fixed_clock() -> i64 {
    now()
}

fn runtime(s: AppState) -> (Runtime<TestBackend>, mpsc::Receiver<ImCommand>) {
    let (tx, rx) = mpsc::channel(1024);
    let rt = Runtime::new(TestBackend::new(80, 24), s, tx)
        .unwrap()
        .with_clock(fixed_clock);
    (rt, rx)
}

fn no_input() -> stream::Pending<io::Result<Event>> {
    stream::pending()
}

#[tokio::test(start_paused = true)]
async fn idle_draws_nothing() {
    let (mut rt, _cmds) = runtime(populated(Lang::Zh));
    let (_events_tx, mut events) = mpsc::channel::<ImEvent>(16);
    // The first pass draws the initial screen, then nothing happens for an hour.
    let r = tokio::time::timeout(Duration::from_secs(3600), rt.run(no_input(), &mut events)).await;
    assert!(r.is_err(), "the loop keeps running");
    assert_eq!(rt.draws(), 1);
}

#[tokio::test(start_paused = true)]
async fn burst_of_pushes_is_one_frame() {
    let (mut rt, _cmds) = runtime(populated(Lang::Zh));
    let (events_tx, mut events) = mpsc::channel::<ImEvent>(256);
    let _ = tokio::time::timeout(Duration::from_secs(1), rt.run(no_input(), &mut events)).await;
    let before = rt.draws();
    for i in 0..100 {
        events_tx
            .send(ImEvent::Message(msg(
                &format!("{}.PNM", 1000 + i),
                "101",
                "3001",
                now() + i,
                text("来了"),
            )))
            .await
            .unwrap();
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), rt.run(no_input(), &mut events)).await;
    assert_eq!(rt.draws() - before, 1);
    assert_eq!(rt.state().conversation(&"101".into()).unwrap().unread, 102);
    assert_eq!(rt.title(), Some("(102) 闲鱼"));
}

/// Wall clock that follows tokio's (paused) time.
fn tokio_clock() -> i64 {
    static START: OnceLock<tokio::time::Instant> = OnceLock::new();
    let start = *START.get_or_init(tokio::time::Instant::now);
    now() + start.elapsed().as_millis() as i64
}

#[tokio::test(start_paused = true)]
async fn reconnect_countdown_ticks_then_goes_quiet() {
    let (tx, _cmds) = mpsc::channel(16);
    let _ = tokio_clock();
    let mut rt = Runtime::new(TestBackend::new(100, 24), populated(Lang::En), tx)
        .unwrap()
        .with_clock(tokio_clock);
    let (events_tx, mut events) = mpsc::channel::<ImEvent>(16);
    events_tx
        .send(ImEvent::Connection(
            goofish_tui::im::api::ConnState::Reconnecting {
                in_ms: 3000,
                attempt: 1,
                last_error: "reset".into(),
            },
        ))
        .await
        .unwrap();
    let _ =
        tokio::time::timeout(Duration::from_millis(1500), rt.run(no_input(), &mut events)).await;
    let screen = format!("{}", rt.terminal().backend());
    assert!(screen.contains("in 2s (attempt 1) reset"), "{screen}");
    let _ = tokio::time::timeout(Duration::from_secs(10), rt.run(no_input(), &mut events)).await;
    // Initial frame, the event, then one frame per shown second (2, 1, 0).
    let after_countdown = rt.draws();
    assert_eq!(after_countdown, 5);
    let _ = tokio::time::timeout(Duration::from_secs(3600), rt.run(no_input(), &mut events)).await;
    assert_eq!(
        rt.draws(),
        after_countdown,
        "quiet once the countdown is over"
    );
}

#[tokio::test(start_paused = true)]
async fn keys_flow_to_commands_and_quit_ends_the_loop() {
    let (mut rt, mut cmds) = runtime(populated(Lang::Zh));
    let (_tx, mut events) = mpsc::channel::<ImEvent>(16);
    let keys = [
        KeyCode::Char('j'),
        KeyCode::Enter,
        KeyCode::Char('好'),
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Char('q'),
    ];
    let input = stream::iter(
        keys.into_iter()
            .map(|k| Ok::<_, io::Error>(Event::Key(KeyEvent::new(k, KeyModifiers::NONE))))
            .collect::<Vec<_>>(),
    )
    .chain(stream::pending());
    let r = tokio::time::timeout(Duration::from_secs(5), rt.run(input, &mut events)).await;
    assert!(matches!(r, Ok(Ok(()))), "q ends the loop");
    let mut got = Vec::new();
    while let Ok(c) = cmds.try_recv() {
        got.push(c);
    }
    assert!(
        got.iter()
            .any(|c| matches!(c, ImCommand::SendText { text, .. } if text == "好")),
        "{got:?}"
    );
    assert_eq!(got.last(), Some(&ImCommand::Shutdown));
    // All six keys were folded into very few frames.
    assert!(rt.draws() <= 2, "{}", rt.draws());
}

#[tokio::test]
async fn scripted_dispatch_renders_to_the_test_backend() {
    let (mut rt, _cmds) = runtime(populated(Lang::Zh));
    rt.dispatch(Input::Key(KeyEvent::new(
        KeyCode::Char('j'),
        KeyModifiers::NONE,
    )))
    .await;
    assert!(rt.draw_if_dirty().unwrap());
    assert!(
        !rt.draw_if_dirty().unwrap(),
        "nothing changed: no second frame"
    );
    let screen = format!("{}", rt.terminal().backend());
    assert!(screen.contains("张三😀"), "{screen}");
}
