//! `watch` line making: one message event through `Watcher::on_event`, as a JSON line and
//! as a readable line. Target: ≥ 100,000 lines/s on one core, far above any real inflow,
//! so that a backfill burst never backs up the session's event channel.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use goofish_tui::headless::watch::{Style, Watcher};
use goofish_tui::im::api::ImEvent;
use goofish_tui::protocol::{Cid, Content, Conversation, Message, MessageId, Uid};
use std::hint::black_box;

fn conversation() -> Conversation {
    Conversation {
        cid: Cid::new("40000000201"),
        peer: Uid::new("1000000101"),
        peer_nick: Some("买家小明".into()),
        item_id: Some("900000000601".into()),
        item_title: Some("九成新 Switch 续航版 带两个手柄".into()),
        ..Default::default()
    }
}

fn message(n: u64) -> Message {
    Message {
        id: MessageId::new(format!("{}.PNM", 3_400_000_000_000 + n)),
        cid: Cid::new("40000000201"),
        sender: Uid::new("1000000101"),
        is_self: false,
        time: 1_742_458_817_389,
        content: Content::Text {
            text: "你好，这个还在吗？能便宜点吗，包邮吗".into(),
        },
        item_id: Some("900000000601".into()),
        sender_nick: None,
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch_line");
    g.throughput(Throughput::Elements(1));
    for (name, json) in [("json", true), ("human", false)] {
        let mut w = Watcher::new(Style {
            json,
            all: false,
            color: false,
            exit_on_login: false,
        });
        w.on_event(ImEvent::Conversations(vec![conversation()]));
        let mut n = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                black_box(w.on_event(ImEvent::Message(message(n))))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
