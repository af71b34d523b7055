//! The event loop: idle means no drawing, a burst of pushes is one frame.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use futures_util::{StreamExt, stream};
use goofish_tui::app::{AppState, Input, Msg, update};
use goofish_tui::im::api::{ImCommand, ImEvent};
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
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
async fn a_wait_on_screen_is_redrawn_when_its_minute_changes_and_only_then() {
    let (tx, _cmds) = mpsc::channel(16);
    let _ = tokio_clock();
    let mut rt = Runtime::new(TestBackend::new(100, 24), populated(Lang::En), tx)
        .unwrap()
        .with_clock(tokio_clock);
    let (_events_tx, mut events) = mpsc::channel::<ImEvent>(16);
    let _ = tokio::time::timeout(Duration::from_secs(3600), rt.run(no_input(), &mut events)).await;
    // 张三 waits from 2 minutes to 62: 3m … 59m, then 1h; the first frame besides.
    assert!((58..=60).contains(&rt.draws()), "{}", rt.draws());
    let screen = format!("{}", rt.terminal().backend());
    assert!(screen.contains("1h"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn reconnect_countdown_ticks_then_goes_quiet() {
    let (tx, _cmds) = mpsc::channel(16);
    let _ = tokio_clock();
    // Nobody waits for an answer: only the countdown changes with time.
    let mut s = populated(Lang::En);
    update(
        &mut s,
        Msg::new(now(), Input::Im(ImEvent::Conversations(answered_list()))),
    );
    let mut rt = Runtime::new(TestBackend::new(100, 24), s, tx)
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

/// `populated` with 张三's conversation open and one message loaded, focus in the pane.
fn opened_in_pane() -> AppState {
    let mut s = populated(Lang::Zh);
    let k = |s: &mut AppState, code| {
        update(
            s,
            Msg::new(now(), Input::Key(KeyEvent::new(code, KeyModifiers::NONE))),
        );
    };
    k(&mut s, KeyCode::Char('j'));
    k(&mut s, KeyCode::Enter);
    update(
        &mut s,
        Msg::new(
            now(),
            Input::Im(ImEvent::History {
                page: page(
                    "101",
                    vec![msg("1.PNM", "101", "3001", now(), text("能包邮吗"))],
                    None,
                ),
                requested: None,
            }),
        ),
    );
    s
}

#[tokio::test]
async fn a_copy_goes_to_the_terminal_clipboard() {
    let (mut rt, _cmds) = runtime(opened_in_pane());
    for code in [KeyCode::Esc, KeyCode::Tab, KeyCode::Char('y')] {
        rt.dispatch(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .await;
    }
    assert_eq!(rt.copied(), Some("能包邮吗"));
}

#[tokio::test]
async fn a_key_leaves_the_mouse_to_the_terminal_and_takes_it_back() {
    let (mut rt, _cmds) = runtime(opened_in_pane());
    let m = || Input::Key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE));
    rt.dispatch(Input::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)))
        .await;
    assert!(rt.state().mouse_capture);
    rt.dispatch(m()).await;
    assert!(!rt.state().mouse_capture);
    rt.draw_if_dirty().unwrap();
    assert!(screen(&rt).contains("鼠标归终端"), "{}", screen(&rt));
    // Said in the status bar for as long as it lasts, after the notice is gone.
    rt.dispatch(Input::Key(KeyEvent::new(
        KeyCode::Char('j'),
        KeyModifiers::NONE,
    )))
    .await;
    rt.draw_if_dirty().unwrap();
    let shown = screen(&rt);
    assert!(
        !shown.contains("鼠标归终端") && shown.contains("鼠标:终端"),
        "{shown}"
    );
    rt.dispatch(m()).await;
    assert!(rt.state().mouse_capture);
    rt.draw_if_dirty().unwrap();
    assert!(!screen(&rt).contains("鼠标:终端"));
    // The help lists it with its key.
    rt.dispatch(Input::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )))
    .await;
    rt.draw_if_dirty().unwrap();
    assert!(screen(&rt).contains("鼠标"), "{}", screen(&rt));
}

#[test]
fn the_mouse_key_is_an_effect_and_can_be_bound_elsewhere() {
    use goofish_tui::app::{Effect, UiOptions};
    let opts = UiOptions {
        lang: Lang::En,
        keymap: [("mouse".to_string(), "ctrl-y".to_string())].into(),
        ..UiOptions::default()
    };
    let (mut s, errors) = AppState::new(&opts, tz(), now());
    assert!(errors.is_empty(), "{errors:?}");
    let fx = key_mod(&mut s, KeyCode::Char('y'), KeyModifiers::CONTROL);
    assert!(fx.contains(&Effect::MouseCapture(false)), "{fx:?}");
    let fx = key(&mut s, KeyCode::Char('m'));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::MouseCapture(_))),
        "{fx:?}"
    );
}

#[tokio::test]
async fn the_editor_has_the_screen_until_it_ends_and_its_text_is_the_draft() {
    let (tx, _cmds) = mpsc::channel(16);
    // An "editor" that writes the file it is given.
    let mut rt = Runtime::new(TestBackend::new(80, 24), opened_in_pane(), tx)
        .unwrap()
        .with_clock(fixed_clock)
        .with_editor("printf '亲，今天发货' >");
    rt.draw_if_dirty().unwrap();
    let draws = rt.draws();
    rt.dispatch(Input::Key(KeyEvent::new(
        KeyCode::Char('e'),
        KeyModifiers::CONTROL,
    )))
    .await;
    assert!(rt.editing());
    // Nothing is drawn over the editor.
    rt.dispatch(Input::Resize {
        width: 80,
        height: 24,
    })
    .await;
    assert!(!rt.draw_if_dirty().unwrap());
    rt.finish_editing().await;
    assert!(!rt.editing());
    assert_eq!(rt.state().draft(&"101".into()), "亲，今天发货");
    assert!(rt.draw_if_dirty().unwrap());
    assert_eq!(rt.draws(), draws + 1);
    assert!(screen(&rt).contains("亲，今天发货"));
}

/// A terminal that keeps what is written to it.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `populated` on a runtime whose notifier writes OSC 9 to a `Captured` terminal and whose
/// command appends what it reads to a file (in the folder, kept while it lives).
fn notified(mux: goofish_tui::notify::Mux) -> Notified {
    use goofish_tui::notify::{Notifier, TerminalKind};
    let dir = tempfile::tempdir().unwrap();
    let pushed = dir.path().join("push.json");
    let terminal = Captured::default();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let notifier = Notifier::new(
        TerminalKind::Osc9,
        mux,
        Box::new(terminal.clone()),
        Some((
            format!("cat >> '{}'", pushed.display()),
            Duration::from_secs(10),
            reports_tx,
        )),
    );
    let (rt, commands) = runtime(populated(Lang::Zh));
    Notified {
        rt: rt.with_notifier(notifier, reports),
        terminal,
        pushed,
        _dir: dir,
        _commands: commands,
    }
}

struct Notified {
    rt: Runtime<TestBackend>,
    terminal: Captured,
    pushed: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _commands: mpsc::Receiver<ImCommand>,
}

impl Notified {
    /// What reached the terminal so far.
    fn written(&self) -> String {
        String::from_utf8(self.terminal.0.lock().unwrap().clone()).unwrap()
    }

    /// The JSON lines the notify command has read, once it has read `n` of them.
    async fn command_read(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = std::fs::read_to_string(&self.pushed).unwrap_or_default();
            if got.ends_with('\n') && got.lines().count() == n {
                return got
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the command ran {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_buyer_message_out_of_view_writes_osc9_through_tmux_and_feeds_the_command() {
    use goofish_tui::notify::Mux;
    let mut n = notified(Mux::Tmux);
    n.rt.dispatch(Input::Im(ImEvent::Message(msg(
        "n1.PNM",
        "102",
        "3002",
        now() + 1,
        text("自行车还在吗"),
    ))))
    .await;
    let written = n.written();
    assert!(
        written.starts_with("\x1bPtmux;\x1b\x1b]9;闲鱼 · ")
            && written.ends_with(": 自行车还在吗\x07\x1b\\"),
        "{written:?}"
    );
    let v = n.command_read(1).await.remove(0);
    assert_eq!(v["type"], "message");
    assert_eq!(v["cid"], "102");
    assert_eq!(v["text"], "自行车还在吗");
    assert_eq!(v["self"], false);
}

#[tokio::test]
async fn a_buyer_of_another_shop_is_counted_and_notified_with_the_shop_named() {
    use goofish_tui::app::AccountBadge;
    use goofish_tui::notify::Mux;
    use goofish_tui::protocol::Uid;
    let mut n = notified(Mux::None);
    let (shown, other) = (Uid::new("1000"), Uid::new("2000"));
    n.rt.show_accounts(
        vec![
            AccountBadge::new(shown.clone(), Some("阿哲的闲置小铺".into())),
            AccountBadge::new(other.clone(), Some("小林的二手书店".into())),
        ],
        shown.clone(),
    );
    let (shown_tx, shown_rx) = mpsc::channel(16);
    let (other_tx, other_rx) = mpsc::channel(16);
    // One of the shown shop too: its buyers are the shown state's to count and notify.
    n.rt.watch_accounts(vec![(shown.clone(), shown_rx), (other.clone(), other_rx)]);
    let list = vec![conv("201", "4001", "书虫", "三体", now() - MIN, 2)];
    other_tx.send(ImEvent::Conversations(list)).await.unwrap();
    other_tx
        .send(ImEvent::Message(msg(
            "b1.PNM",
            "201",
            "4001",
            now() + 1,
            text("三体还在吗"),
        )))
        .await
        .unwrap();
    // The shown shop's own buyer, were a view beside to bring it: notified by the shown
    // state only.
    let _ = shown_tx
        .send(ImEvent::Message(msg(
            "a1.PNM",
            "102",
            "3002",
            now() + 1,
            text("自行车还在吗"),
        )))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    n.rt.take_beside_events().await;
    n.rt.draw_if_dirty().unwrap();
    assert_eq!(n.rt.state().accounts[1].unread, Some(3));
    assert!(
        screen(&n.rt).contains("小林的二手书店 3 │"),
        "{}",
        screen(&n.rt)
    );
    let written = n.written();
    assert!(
        written.starts_with("\x1b]9;小林的二手书店 · 闲鱼 · 书虫")
            && written.ends_with(": 三体还在吗\x07"),
        "{written:?}"
    );
    assert!(!written.contains("自行车"), "{written:?}");
    // The shown shop's buyer, seen by the shown state: its shop named too.
    n.rt.dispatch(Input::Im(ImEvent::Message(msg(
        "a1.PNM",
        "102",
        "3002",
        now() + 1,
        text("自行车还在吗"),
    ))))
    .await;
    let written = n.written();
    assert!(
        written.contains("\x1b]9;阿哲的闲置小铺 · 闲鱼 · "),
        "{written:?}"
    );
    // What the notify command reads says whose buyer it is.
    let lines = n.command_read(2).await;
    assert_eq!(lines[0]["account"], "2000");
    assert_eq!(lines[0]["text"], "三体还在吗");
    assert_eq!(lines[1]["account"], "1000");
}
