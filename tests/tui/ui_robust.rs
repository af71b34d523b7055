//! No input makes the reducer or the views panic: long random sessions of keys, mouse,
//! pastes, resizes and network events, drawn after every step at the current size.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{Input, StoreReply, UiOptions};
use goofish_tui::im::api::{ConnState, ImEvent, SendFailure};
use goofish_tui::protocol::{Cid, ClientId, Content, Conversation, MessageId, Uid};
use goofish_tui::store::SearchHit;
use goofish_tui::text::i18n::Lang;
use goofish_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ui_support::*;

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const TEXTS: &[&str] = &[
    "",
    "你好",
    "👍🏽👨‍👩‍👧",
    "a\tb\u{7}c\r\n",
    "很长的一段中文文本很长的一段中文文本很长的一段中文文本",
    "x",
];

fn random_input(r: &mut Rng, w: u16, h: u16) -> Input {
    let codes = [
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::Char('g'),
        KeyCode::Char('G'),
        KeyCode::Char('n'),
        KeyCode::Char('/'),
        KeyCode::Char('?'),
        KeyCode::Char('r'),
        KeyCode::Char('你'),
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::Backspace,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::PageUp,
        KeyCode::F(5),
        KeyCode::Char('f'),
    ];
    let mods = [
        KeyModifiers::NONE,
        KeyModifiers::CONTROL,
        KeyModifiers::ALT,
        KeyModifiers::SHIFT,
    ];
    let cid = Cid::new(format!("{}", 100 + r.below(5)));
    match r.below(14) {
        0..=4 => {
            let code = codes[r.below(codes.len() as u64) as usize];
            let m = mods[r.below(4) as usize];
            if code == KeyCode::Char('c') && m == KeyModifiers::CONTROL {
                return Input::Tick;
            }
            Input::Key(KeyEvent::new(code, m))
        }
        5 => Input::Mouse(MouseEvent {
            kind: [
                MouseEventKind::Down(MouseButton::Left),
                MouseEventKind::ScrollUp,
                MouseEventKind::ScrollDown,
            ][r.below(3) as usize],
            column: r.below(u64::from(w) + 5) as u16,
            row: r.below(u64::from(h) + 5) as u16,
            modifiers: KeyModifiers::NONE,
        }),
        6 => Input::Paste(TEXTS[r.below(TEXTS.len() as u64) as usize].to_string()),
        7 => Input::Resize {
            width: r.below(130) as u16,
            height: r.below(45) as u16,
        },
        8 => Input::Focus(r.below(2) == 0),
        9 => Input::Tick,
        10 | 11 => Input::Store(random_store_reply(r, &cid)),
        _ => Input::Im(match r.below(8) {
            0 => ImEvent::Message(msg(
                &format!("{}.PNM", r.below(50)),
                cid.as_str(),
                if r.below(2) == 0 { SELF_UID } else { "3001" },
                now() + r.below(1000) as i64 * 1000 - 500_000,
                text(TEXTS[r.below(TEXTS.len() as u64) as usize]),
            )),
            1 => ImEvent::Connection(
                [
                    ConnState::Live,
                    ConnState::Connecting,
                    ConnState::Reconnecting {
                        in_ms: r.below(10_000),
                        attempt: 2,
                        last_error: "e\n🔥".into(),
                    },
                    ConnState::RiskControl {
                        url: "https://x".into(),
                    },
                ][r.below(4) as usize]
                    .clone(),
            ),
            2 => ImEvent::History {
                page: page(
                    cid.as_str(),
                    vec![msg(
                        &format!("{}.PNM", r.below(50)),
                        cid.as_str(),
                        "3001",
                        now() - r.below(100) as i64 * MIN,
                        Content::Image { urls: vec![] },
                    )],
                    if r.below(2) == 0 { Some(5) } else { None },
                ),
                requested: if r.below(2) == 0 { None } else { Some(5) },
            },
            3 => ImEvent::SendResult {
                client_id: ClientId::new("-1"),
                cid,
                result: Err(SendFailure {
                    reason: "x".into(),
                    retryable: true,
                }),
            },
            4 => ImEvent::Receipt {
                cid: None,
                ids: vec![MessageId::new(format!("{}.PNM", r.below(50)))],
            },
            5 => ImEvent::Typing {
                cid: None,
                uid: Uid::new("3001"),
            },
            6 => ImEvent::Recalled {
                cid: Some(cid),
                id: MessageId::new(format!("{}.PNM", r.below(50))),
            },
            _ => ImEvent::Conversations(vec![
                conv("100", "3001", "甲", "物品", now(), r.below(3) as u32),
                conv("101", "", "", "", now() - MIN, 0),
            ]),
        }),
    }
}

fn random_store_reply(r: &mut Rng, cid: &Cid) -> StoreReply {
    let m = |r: &mut Rng| {
        msg(
            &format!("{}.PNM", r.below(50)),
            cid.as_str(),
            if r.below(2) == 0 { SELF_UID } else { "3001" },
            now() - r.below(1000) as i64 * MIN,
            text(TEXTS[r.below(TEXTS.len() as u64) as usize]),
        )
    };
    match r.below(5) {
        0 => StoreReply::Messages {
            cid: cid.clone(),
            before: (r.below(2) == 0).then(|| (now(), MessageId::new("7.PNM"))),
            messages: (0..r.below(60)).map(|_| m(r)).collect(),
        },
        1 => {
            let target = m(r);
            StoreReply::Around {
                cid: cid.clone(),
                id: target.id.clone(),
                messages: vec![m(r), target],
            }
        }
        2 => StoreReply::Search {
            query: TEXTS[r.below(TEXTS.len() as u64) as usize].to_string(),
            result: Ok((0..r.below(4))
                .map(|_| {
                    let message = m(r);
                    SearchHit {
                        snippet: message.content.summary(),
                        highlight: Some(0..r.below(8) as usize),
                        conversation: Some(Conversation {
                            cid: message.cid.clone(),
                            item_title: Some("物品\n".into()),
                            ..Default::default()
                        }),
                        message,
                    }
                })
                .collect()),
        },
        3 => StoreReply::Failed {
            reason: "disk I/O error".into(),
        },
        _ => StoreReply::Startup {
            conversations: vec![conv("104", "3004", "缓存", "旧物", now() - MIN, 1)],
            drafts: vec![(cid.clone(), "草稿".into())],
        },
    }
}

#[test]
fn random_sessions_never_panic() {
    for seed in 1..=10u64 {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let lang = if seed % 2 == 0 { Lang::Zh } else { Lang::En };
        let mut s = populated(lang);
        let mut t = 0;
        for _ in 0..300 {
            let (w, h) = s.size;
            let input = random_input(&mut r, w, h);
            t += r.below(3000) as i64;
            at(&mut s, now() + t, input);
            if s.should_quit() {
                break;
            }
            if s.filter.is_none() {
                let counted: u64 = s
                    .visible()
                    .iter()
                    .filter_map(|c| s.conversation(c))
                    .filter(|c| !c.muted)
                    .map(|c| u64::from(c.unread))
                    .sum();
                assert_eq!(
                    s.unread_total(),
                    counted,
                    "the kept total matches a recount"
                );
            }
            let (w, h) = s.size;
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| ui::draw(f, &s)).unwrap();
        }
    }
}

#[test]
fn ui_options_read_from_toml() {
    let opts: UiOptions =
        toml::from_str("lang = \"zh\"\nunread_first = true\n[keymap]\nnext_unread = \"ctrl-n\"\n")
            .unwrap();
    assert_eq!(opts.lang, Lang::Zh);
    assert!(opts.unread_first);
    assert_eq!(
        opts.keymap.get("next_unread").map(String::as_str),
        Some("ctrl-n")
    );
    let empty: UiOptions = toml::from_str("").unwrap();
    assert_eq!(empty.lang, Lang::Auto);
}
