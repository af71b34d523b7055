//! Pictures in the message pane: the cost of a frame with three thumbnails on screen (once
//! decoded), in half blocks and in kitty's protocol, and the memory 50 pictures viewed take
//! (fetched from the simulator, decoded, made thumbnails; printed once).
#![allow(clippy::unwrap_used)]

use chrono::FixedOffset;
use criterion::{Criterion, criterion_group, criterion_main};
use goofish_tui::app::{AppState, Input, Msg, PictureView, UiOptions, update};
use goofish_tui::im::api::{ConnState, ImEvent};
use goofish_tui::pictures::{Fetcher, Limits, Loader, THUMBS_KEPT, Thumbs, thumb};
use goofish_tui::protocol::{
    Cid, Content, Conversation, HistoryEntry, HistoryPage, Message, MessageId, Uid,
};
use goofish_tui::sim::{self, Scenario, SimOptions};
use goofish_tui::text::i18n::Lang;
use goofish_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_image::picker::{Picker, ProtocolType};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000_000;

fn url(i: usize) -> String {
    format!("https://img.alicdn.com/imgextra/i1/O1CN01bench{i}_!!2-0-xy_chat.jpg")
}

fn message(i: usize) -> Message {
    Message {
        id: MessageId::new(format!("{}.PNM", 10_000 + i)),
        cid: Cid::new("1"),
        sender: Uid::new("2"),
        is_self: false,
        time: NOW - (10 - i as i64) * 60_000,
        content: Content::Image { urls: vec![url(i)] },
        item_id: None,
        sender_nick: Some("买家小王".into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

/// A 120×40 screen with a conversation of three pictures open, all three in view.
fn state() -> AppState {
    let opts = UiOptions {
        lang: Lang::Zh,
        ..UiOptions::default()
    };
    let (mut s, _) = AppState::new(&opts, FixedOffset::east_opt(8 * 3600).unwrap(), NOW);
    let mut go = |input| {
        update(&mut s, Msg::new(NOW, input));
    };
    go(Input::Resize {
        width: 120,
        height: 40,
    });
    go(Input::Im(ImEvent::Connection(ConnState::Live)));
    go(Input::Im(ImEvent::Conversations(vec![Conversation {
        cid: Cid::new("1"),
        peer: Uid::new("2"),
        peer_nick: Some("买家小王".into()),
        item_id: Some("7".into()),
        item_title: Some("九成新 相机".into()),
        item_pic: None,
        modify_time: NOW,
        unread: 0,
        pinned: false,
        muted: false,
        red_reminder: None,
        last_message: None,
    }])));
    go(Input::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    go(Input::Im(ImEvent::History {
        page: HistoryPage {
            cid: Cid::new("1"),
            entries: (0..3)
                .map(|i| HistoryEntry {
                    message: message(i),
                    read_by_peer: false,
                })
                .collect(),
            has_more: false,
            next_cursor: None,
        },
        requested: None,
    }));
    for i in 0..3 {
        go(Input::Picture {
            url: url(i),
            view: Some(PictureView::Ready),
        });
    }
    s.images = true;
    s
}

fn photo() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(400, 300, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }))
}

fn thumbs(protocol: ProtocolType) -> Thumbs {
    let mut picker = Picker::halfblocks();
    picker.set_protocol_type(protocol);
    let mut t = Thumbs::default();
    for i in 0..3 {
        t.put(
            url(i),
            thumb(&picker, photo(), (400, 300), (24, 6)).unwrap(),
        );
    }
    t
}

fn frames(c: &mut Criterion) {
    let s = state();
    for (name, protocol) in [
        (
            "frame_three_thumbnails_halfblocks_120x40",
            ProtocolType::Halfblocks,
        ),
        ("frame_three_thumbnails_kitty_120x40", ProtocolType::Kitty),
    ] {
        let t = thumbs(protocol);
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        // All three are drawn, none is still wanted.
        let mut drawn = ui::Drawn::default();
        term.draw(|f| drawn = ui::draw_all(f, &s, &t)).unwrap();
        assert!(drawn.pictures.is_empty(), "{:?}", drawn.pictures);
        c.bench_function(name, |b| {
            b.iter(|| {
                // A fresh buffer each time: the whole frame is drawn, as after a change.
                term.swap_buffers();
                term.draw(|f| {
                    black_box(ui::draw_all(f, black_box(&s), &t));
                })
                .unwrap();
            })
        });
    }
}

/// Resident set size in KiB (Linux); `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 50 pictures viewed: fetched from the simulator, decoded and kept as thumbnails (the runtime
/// keeps at most `THUMBS_KEPT`).
fn memory(_: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sim = sim::start(SimOptions {
            scenario: Scenario::Quiet,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let base = rss_kib();
        let dir = tempfile::tempdir().unwrap();
        let cache =
            goofish_tui::pictures::cache::DiskCache::new(dir.path().to_path_buf(), 64 << 20);
        let fetcher = Fetcher::new(Some(cache), Limits::default()).unwrap();
        let mut loader = Loader::spawn(fetcher, Picker::halfblocks());
        let mut thumbs = Thumbs::default();
        let started = std::time::Instant::now();
        for i in 0..50 {
            loader.request(&format!(
                "{}/imgextra/i1/O1CN01rss{i}_!!2-0-xy_chat.jpg",
                sim.http_url()
            ));
        }
        for _ in 0..50 {
            let l = loader.next().await;
            let (t, _) = l.result.unwrap();
            thumbs.put(l.request.url, t);
        }
        let took = started.elapsed();
        if let (Some(b), Some(a)) = (base, rss_kib()) {
            eprintln!(
                "50 pictures fetched, decoded, made thumbnails in {took:?}: {} thumbnails kept \
                 (bound {THUMBS_KEPT}), +{} MiB resident, {} MiB in all",
                thumbs.len(),
                a.saturating_sub(b) / 1024,
                a / 1024
            );
        }
        sim.shutdown().await;
    });
}

criterion_group!(benches, frames, memory);
criterion_main!(benches);
