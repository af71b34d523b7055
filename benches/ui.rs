//! Frame cost at scale: 10,000 conversations and an open conversation of 10,000 messages.
#![allow(clippy::unwrap_used)]

use chrono::FixedOffset;
use criterion::{Criterion, criterion_group, criterion_main};
use goofish_tui::app::{AppState, Input, Msg, UiOptions, update};
use goofish_tui::im::api::{ConnState, ImEvent};
use goofish_tui::protocol::{
    Cid, CompactString, Content, Conversation, HistoryEntry, HistoryPage, Message, MessageId, Uid,
};
use goofish_tui::text::i18n::Lang;
use goofish_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000_000;

fn message(i: i64, cid: &str) -> Message {
    let is_self = i % 3 == 0;
    Message {
        id: MessageId::new(format!("{}.PNM", 10_000_000 + i)),
        cid: Cid::new(cid),
        sender: Uid::new(if is_self { "1" } else { "2" }),
        is_self,
        time: NOW - (20_000 - i) * 60_000,
        content: Content::Text {
            // Exactly sized, as the decoders make it (`format!` leaves spare capacity).
            text: CompactString::from(
                format!("第{i}条消息 你好，这个宝贝还在吗？可以便宜一点吗 😀 message number {i}")
                    .as_str(),
            ),
        },
        item_id: None,
        sender_nick: Some("买家小王".into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

/// 10,000 conversations, newest first, each with its last message.
fn conversations() -> Vec<Conversation> {
    (0..10_000)
        .map(|i| Conversation {
            cid: Cid::new(format!("{}", 50_000 + i)),
            peer: Uid::new(format!("{}", 90_000 + i)),
            peer_nick: Some(format!("买家{i}号🐟")),
            item_id: Some(format!("{i}")),
            item_title: Some(format!("九成新 商品 {i}")),
            item_pic: None,
            modify_time: NOW - i * 60_000,
            unread: (i % 4) as u32,
            pinned: i % 1000 == 0,
            muted: i % 7 == 0,
            red_reminder: None,
            last_message: Some(message(i, &format!("{}", 50_000 + i))),
        })
        .collect()
}

fn big_state() -> AppState {
    let opts = UiOptions {
        lang: Lang::Zh,
        ..Default::default()
    };
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let (mut s, _) = AppState::new(&opts, tz, NOW);
    let step = |s: &mut AppState, input| {
        update(s, Msg::new(NOW, input));
    };
    step(
        &mut s,
        Input::Resize {
            width: 120,
            height: 40,
        },
    );
    step(&mut s, Input::Im(ImEvent::Connection(ConnState::Live)));
    let convs = conversations();
    step(&mut s, Input::Im(ImEvent::Conversations(convs)));
    // Open the first one and give it 10,000 messages.
    step(
        &mut s,
        Input::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let cid = s.open.clone().unwrap();
    let entries = (0..10_000)
        .map(|i| HistoryEntry {
            message: message(i, cid.as_str()),
            read_by_peer: true,
        })
        .collect();
    step(
        &mut s,
        Input::Im(ImEvent::History {
            page: HistoryPage {
                cid,
                entries,
                has_more: true,
                next_cursor: Some(1),
            },
            requested: None,
        }),
    );
    s
}

/// Resident memory of this process, in MiB (Linux `/proc/self/status`).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Memory target: the whole state with 10,000 conversations × 20 loaded messages each.
/// Printed, not asserted: RSS of this process before and after building it.
fn memory_report() {
    let before = rss_mib().unwrap_or(0.0);
    let opts = UiOptions {
        lang: Lang::Zh,
        ..Default::default()
    };
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let (mut s, _) = AppState::new(&opts, tz, NOW);
    let convs = conversations();
    update(
        &mut s,
        Msg::new(NOW, Input::Im(ImEvent::Conversations(convs))),
    );
    for c in 0..10_000i64 {
        let cid = Cid::new(format!("{}", 50_000 + c));
        let entries = (0..20)
            .map(|k| HistoryEntry {
                message: message(c * 20 + k, cid.as_str()),
                read_by_peer: true,
            })
            .collect();
        let page = HistoryPage {
            cid,
            entries,
            has_more: true,
            next_cursor: Some(1),
        };
        update(
            &mut s,
            Msg::new(
                NOW,
                Input::Im(ImEvent::History {
                    page,
                    requested: None,
                }),
            ),
        );
    }
    let loaded: usize = s
        .visible()
        .iter()
        .filter_map(|c| s.thread(c))
        .map(|t| t.len())
        .sum();
    let after = rss_mib().unwrap_or(0.0);
    eprintln!(
        "memory: {loaded} messages in 10,000 conversations; process RSS {after:.1} MiB (state adds {:.1} MiB)",
        after - before
    );
    black_box(&s);
}

fn bench(c: &mut Criterion) {
    memory_report();
    let mut state = big_state();
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    c.bench_function("full frame 120x40, 10k conversations, 10k messages", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&state))).unwrap();
        })
    });
    let cid = state.open.clone().unwrap();
    let mut n = 0i64;
    c.bench_function("incoming message: reduce + draw", |b| {
        b.iter(|| {
            n += 1;
            let mut m = message(20_000 + n, cid.as_str());
            m.time = NOW + n;
            m.is_self = false;
            update(
                &mut state,
                Msg::new(NOW + n, Input::Im(ImEvent::Message(m))),
            );
            term.draw(|f| ui::draw(f, &state)).unwrap();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
