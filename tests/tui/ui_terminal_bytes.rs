//! The bytes the TUI writes to the terminal when buyers' names, titles and texts and the
//! service's error texts carry escape sequences: ratatui's own cursor and colour sequences,
//! and nothing a buyer wrote that the terminal would act on.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::im::api::{ConnState, ImEvent};
use goofish_tui::text::i18n::Lang;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use ui_support::*;

const NICK: &str = "买家\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\n小明\u{202e}";
const TITLE: &str = "相机\u{9b}2J\u{9d}0;t\u{9c}\u{2066}";
const TEXT: &str = "还在吗\u{1b}]0;pwned\u{7}\rfake\u{85}\u{8}";

/// The bytes left after removing well-formed CSI sequences (`ESC [ params letter`), which
/// are ratatui's own: cursor moves and colours.
fn without_own_sequences(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes).into_owned();
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            while let Some(&p) = chars.peek() {
                chars.next();
                if p.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// What the backend writes, kept for the test.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn hostile_texts_reach_the_terminal_as_plain_characters() {
    let mut s = populated(Lang::En);
    let mut c = conv("104", "3004", NICK, TITLE, now() - MIN, 1);
    c.last_message = Some(msg("1049.PNM", "104", "3004", now() - MIN, text(TEXT)));
    c.red_reminder = Some(TITLE.into());
    im(&mut s, ImEvent::Conversations(vec![c]));
    im(
        &mut s,
        ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 1000,
            attempt: 2,
            last_error: TEXT.into(),
        }),
    );
    // Open it: the pane header, the messages.
    key(&mut s, KeyCode::Home);
    key(&mut s, KeyCode::Enter);
    let mut m = msg("1.PNM", "104", "3004", now() - MIN, text(TEXT));
    m.sender_nick = Some(NICK.into());
    im(&mut s, ImEvent::Message(m));

    let out = Shared::default();
    let mut t = Terminal::with_options(
        CrosstermBackend::new(out.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 100, 30)),
        },
    )
    .unwrap();
    t.draw(|f| goofish_tui::ui::draw(f, &s)).unwrap();
    let first = out.take();
    im(
        &mut s,
        ImEvent::Connection(ConnState::RiskControl {
            url: format!("https://x/punish?{TEXT}"),
        }),
    );
    t.draw(|f| goofish_tui::ui::draw(f, &s)).unwrap();
    let frames = [first, out.take()];
    assert!(String::from_utf8_lossy(&frames[1]).contains("punish"));
    for (i, bytes) in frames.iter().enumerate() {
        let rest = without_own_sequences(bytes);
        let bad: Vec<char> = rest
            .chars()
            .filter(|&c| {
                let u = u32::from(c);
                u < 0x20 && c != '\n'
                    || (0x7f..=0x9f).contains(&u)
                    || (0x202a..=0x202e).contains(&u)
                    || (0x2066..=0x2069).contains(&u)
            })
            .collect();
        assert!(bad.is_empty(), "{bad:?} reach the terminal in {rest:?}");
        // What is harmless is shown: the name, the words.
        assert!(rest.contains("pwned"), "{rest}");
        if i == 0 {
            assert!(rest.contains("小明") && rest.contains("还在吗"), "{rest}");
        }
    }
}
