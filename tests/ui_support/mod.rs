//! Builders shared by the UI tests: fixed time, fixed zone, Chinese and emoji content.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{FixedOffset, TimeZone};
use goofish_tui::app::{AppState, Effect, Input, Msg, UiOptions, update};
use goofish_tui::im::api::{ConnState, ImEvent};
use goofish_tui::protocol::{
    Cid, Content, Conversation, HistoryEntry, HistoryPage, Message, MessageId, Uid,
};
use goofish_tui::text::i18n::Lang;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub const SELF_UID: &str = "2200000001";

pub fn tz() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

/// 2026-11-27 12:00:00 +08:00.
pub fn now() -> i64 {
    tz().with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
        .unwrap()
        .timestamp_millis()
}

pub const MIN: i64 = 60_000;

pub fn state(lang: Lang) -> AppState {
    let opts = UiOptions {
        lang,
        ..Default::default()
    };
    AppState::new(&opts, tz(), now()).0
}

pub fn at(s: &mut AppState, t: i64, input: Input) -> Vec<Effect> {
    update(s, Msg::new(t, input))
}

pub fn send(s: &mut AppState, input: Input) -> Vec<Effect> {
    let t = s.now_ms;
    update(s, Msg::new(t, input))
}

pub fn im(s: &mut AppState, ev: ImEvent) -> Vec<Effect> {
    send(s, Input::Im(ev))
}

pub fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    send(s, Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn key_mod(s: &mut AppState, code: KeyCode, m: KeyModifiers) -> Vec<Effect> {
    send(s, Input::Key(KeyEvent::new(code, m)))
}

pub fn typed(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

pub fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

pub fn msg(id: &str, cid: &str, sender: &str, time: i64, content: Content) -> Message {
    Message {
        id: MessageId::new(id),
        cid: Cid::new(cid),
        sender: Uid::new(sender),
        is_self: sender == SELF_UID,
        time,
        content,
        item_id: None,
        sender_nick: None,
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

pub fn conv(cid: &str, peer: &str, nick: &str, item: &str, time: i64, unread: u32) -> Conversation {
    Conversation {
        cid: Cid::new(cid),
        peer: Uid::new(peer),
        peer_nick: (!nick.is_empty()).then(|| nick.to_string()),
        item_id: Some(format!("item{cid}")),
        item_title: (!item.is_empty()).then(|| item.to_string()),
        item_pic: None,
        modify_time: time,
        unread,
        pinned: false,
        muted: false,
        red_reminder: None,
        last_message: Some(msg(&format!("{cid}9.PNM"), cid, peer, time, text("在吗？"))),
    }
}

/// `c` with the seller's answer as its last message: nobody waits there.
pub fn answered(mut c: Conversation) -> Conversation {
    let t = c.modify_time;
    let cid = c.cid.as_str().to_string();
    c.last_message = Some(msg(&format!("{cid}8.PNM"), &cid, SELF_UID, t, text("好的")));
    c
}

/// The conversations of `populated`, each answered by the seller.
pub fn answered_list() -> Vec<Conversation> {
    let mut pinned = answered(conv(
        "102",
        "3002",
        "",
        "二手自行车",
        now() - 26 * 60 * MIN,
        0,
    ));
    pinned.pinned = true;
    let mut muted = answered(conv(
        "103",
        "3003",
        "Lily",
        "Kindle",
        now() - 3 * 24 * 60 * MIN,
        0,
    ));
    muted.muted = true;
    let first = conv(
        "101",
        "3001",
        "张三😀",
        "九成新 iPhone 13 128G",
        now() - 2 * MIN,
        0,
    );
    vec![answered(first), pinned, muted]
}

pub fn page(cid: &str, msgs: Vec<Message>, next: Option<i64>) -> HistoryPage {
    HistoryPage {
        cid: Cid::new(cid),
        entries: msgs
            .into_iter()
            .rev()
            .map(|m| HistoryEntry {
                read_by_peer: m.is_self,
                message: m,
            })
            .collect(),
        has_more: next.is_some(),
        next_cursor: next,
    }
}

/// A live session with three conversations, the first one open and its history loaded.
pub fn populated(lang: Lang) -> AppState {
    let mut s = state(lang);
    send(
        s_ref(&mut s),
        Input::Resize {
            width: 80,
            height: 24,
        },
    );
    im(&mut s, ImEvent::Connection(ConnState::Live));
    im(
        &mut s,
        ImEvent::SelfInfo {
            uid: Uid::new(SELF_UID),
            nick: Some("小店主🐟".into()),
        },
    );
    let mut c1 = conv(
        "101",
        "3001",
        "张三😀",
        "九成新 iPhone 13 128G",
        now() - 2 * MIN,
        2,
    );
    c1.red_reminder = Some("等待买家付款".into());
    let mut c2 = conv("102", "3002", "", "二手自行车", now() - 26 * 60 * MIN, 0);
    c2.pinned = true;
    let mut c3 = conv(
        "103",
        "3003",
        "Lily",
        "Kindle Paperwhite 电子书阅读器",
        now() - 3 * 24 * 60 * MIN,
        5,
    );
    c3.muted = true;
    im(&mut s, ImEvent::Conversations(vec![c1, c2, c3]));
    s
}

fn s_ref(s: &mut AppState) -> &mut AppState {
    s
}

/// The state drawn on a `w`×`h` test terminal, as the snapshots show it.
pub fn render(s: &AppState, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| goofish_tui::ui::draw(f, s)).unwrap();
    format!("{}", t.backend())
}

/// The text of the runtime's screen, one line per row, as a person would read it: its state
/// drawn on a fresh test terminal of the same size. (The runtime's own test terminal only
/// receives the cells that changed, and unlike a real terminal it does not blank the cell a
/// wide character covers, so stale halves would show through.)
pub fn screen(rt: &goofish_tui::tui::Runtime<ratatui::backend::TestBackend>) -> String {
    let area = rt.terminal().backend().buffer().area;
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(area.width, area.height))
        .unwrap();
    t.draw(|f| {
        goofish_tui::ui::draw_all(f, rt.state(), rt.thumbs());
    })
    .unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut x = 0;
        while x < buf.area.width {
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            // The cell after a wide character is hidden by it on a real terminal.
            x += unicode_width::UnicodeWidthStr::width(sym).max(1) as u16;
        }
        out.push('\n');
    }
    out
}
