//! A seller's first minute, step by step through the runtime on an 80×24 test terminal, with
//! the screen kept as a snapshot after each step: the list arrives, a conversation is opened,
//! its history comes in, an answer is typed and sent, the buyer answers back, and the seller
//! opens the next one from the list. Each snapshot is what a person would read at that moment.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::Input;
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::protocol::Uid;
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use ui_support::*;

fn fixed_clock() -> i64 {
    now()
}

struct Flow {
    rt: Runtime<TestBackend>,
    commands: mpsc::Receiver<ImCommand>,
    step: usize,
}

impl Flow {
    fn new() -> Flow {
        let (tx, commands) = mpsc::channel(64);
        let rt = Runtime::new(TestBackend::new(80, 24), state(Lang::Zh), tx)
            .unwrap()
            .with_clock(fixed_clock);
        Flow {
            rt,
            commands,
            step: 0,
        }
    }

    async fn input(&mut self, input: Input) {
        self.rt.dispatch(input).await;
    }

    async fn keys(&mut self, codes: &[KeyCode]) {
        for &code in codes {
            self.input(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
                .await;
        }
    }

    async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.keys(&[KeyCode::Char(c)]).await;
        }
    }

    /// Draws the frame the runtime would draw now and keeps it as this step's snapshot.
    async fn shot(&mut self, name: &str) {
        self.rt.settle().await;
        self.rt.draw_if_dirty().unwrap();
        self.step += 1;
        insta::assert_snapshot!(
            format!("seller_flow_{:02}_{name}", self.step),
            screen(&self.rt)
        );
    }

    /// The commands the screen has handed to the session so far (they go out with a frame).
    fn sent(&mut self) -> Vec<ImCommand> {
        self.rt.draw_if_dirty().unwrap();
        std::iter::from_fn(|| self.commands.try_recv().ok()).collect()
    }
}

#[tokio::test]
async fn a_seller_opens_a_conversation_answers_and_sees_the_reply() {
    let mut f = Flow::new();
    f.input(Input::Resize {
        width: 80,
        height: 24,
    })
    .await;
    f.shot("connecting").await;

    f.input(Input::Im(ImEvent::Connection(ConnState::Live)))
        .await;
    f.input(Input::Im(ImEvent::SelfInfo {
        uid: Uid::new(SELF_UID),
        nick: Some("小店主🐟".into()),
    }))
    .await;
    let buyer = conv(
        "101",
        "3001",
        "张三😀",
        "九成新 iPhone 13 128G",
        now() - 2 * MIN,
        1,
    );
    let other = conv("102", "3002", "Lily", "二手自行车", now() - 90 * MIN, 0);
    f.input(Input::Im(ImEvent::Conversations(vec![buyer, other])))
        .await;
    f.shot("list_arrives").await;

    f.keys(&[KeyCode::Enter]).await;
    let asked = f.sent();
    assert!(
        asked
            .iter()
            .any(|c| matches!(c, ImCommand::LoadHistory { cid, .. } if cid.as_str() == "101")),
        "opening a conversation asks for its history: {asked:?}"
    );
    let history = vec![
        msg(
            "1.PNM",
            "101",
            "3001",
            now() - 3 * MIN,
            text("你好，这个还在吗？"),
        ),
        msg(
            "2.PNM",
            "101",
            "3001",
            now() - 2 * MIN,
            text("可以包邮吗？👀"),
        ),
    ];
    f.input(Input::Im(ImEvent::History {
        page: page("101", history, None),
        requested: None,
    }))
    .await;
    f.shot("conversation_open").await;

    f.type_text("在的，可以包邮，今天发顺丰").await;
    f.shot("answer_typed").await;

    f.keys(&[KeyCode::Enter]).await;
    let client_id = f
        .sent()
        .into_iter()
        .find_map(|c| match c {
            ImCommand::SendText {
                client_id, text, ..
            } if text == "在的，可以包邮，今天发顺丰" => Some(client_id),
            _ => None,
        })
        .expect("Enter hands the answer to the session");
    f.shot("answer_sending").await;

    let mut delivered = msg(
        "3.PNM",
        "101",
        SELF_UID,
        now(),
        text("在的，可以包邮，今天发顺丰"),
    );
    delivered.client_id = Some(client_id.to_string());
    f.input(Input::Im(ImEvent::SendResult {
        client_id,
        cid: delivered.cid.clone(),
        result: Ok(delivered),
    }))
    .await;
    f.input(Input::Im(ImEvent::Message(msg(
        "4.PNM",
        "101",
        "3001",
        now(),
        text("好的，我现在拍"),
    ))))
    .await;
    f.shot("buyer_answers").await;

    f.keys(&[KeyCode::Esc]).await;
    f.keys(&[KeyCode::Char('j'), KeyCode::Enter]).await;
    let asked = f.sent();
    assert!(
        asked
            .iter()
            .any(|c| matches!(c, ImCommand::LoadHistory { cid, .. } if cid.as_str() == "102")),
        "the next conversation is opened from the list: {asked:?}"
    );
    f.shot("next_conversation").await;
}
