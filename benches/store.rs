//! Local history speed. Targets: 100,000 messages stored in batches in < 2 s in total;
//! a 3-character Chinese search over 1,000,000 stored messages in < 50 ms; the first frame
//! painted from a store of 10,000 conversations in < 100 ms.
//! The 1M-message database is built once per run in a temp dir (it takes a while).
#![allow(clippy::unwrap_used)]

use chrono::FixedOffset;
use criterion::{Criterion, criterion_group, criterion_main};
use goofish_tui::app::{AppState, Input, Msg, StoreReply, UiOptions, update};
use goofish_tui::protocol::{Cid, Content, Conversation, Message, MessageId, Uid};
use goofish_tui::store::Store;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Buyer lines of the kind a seller gets; one in ~40 asks for a discount (`能便宜`).
const PHRASES: &[&str] = &[
    "你好，这个还在吗",
    "老板能便宜点吗，诚心要",
    "包邮吗？",
    "iPhone 电池健康多少",
    "好的，我拍了",
    "什么时候发货",
    "可以小刀吗😀",
    "成色怎么样，有没有划痕",
    "在吗在吗",
    "我再考虑一下",
    "发顺丰还是中通",
    "已付款，麻烦尽快发",
    "收到了，谢谢老板",
    "价格还能再商量吗",
    "有发票吗",
    "能不能面交",
    "配件都齐全吗",
    "保修还有多久",
    "这个型号是国行吗",
    "明天能到吗",
];

const BATCH: usize = 1_000;

fn message(i: usize, conversations: usize) -> Message {
    // Spread the discount question thinner than the other lines: about 1 in 40.
    let text = if i % 40 == 7 {
        format!("第{i}个问题：能便宜一点吗")
    } else {
        format!(
            "{} #{i}",
            PHRASES[i % PHRASES.len()].replace("能便宜", "便宜")
        )
    };
    Message {
        id: MessageId::new(format!("{}.PNM", 3_400_000_000_000u64 + i as u64)),
        cid: Cid::new(format!(
            "{}",
            50_000_000_000u64 + (i % conversations) as u64
        )),
        sender: Uid::new(format!("{}", 1_000_000_000u64 + (i % 997) as u64)),
        is_self: i.is_multiple_of(5),
        time: 1_700_000_000_000 + i as i64 * 1000,
        content: Content::Text { text: text.into() },
        item_id: Some("700123".into()),
        sender_nick: Some("买家".into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

fn messages(n: usize, conversations: usize) -> Vec<Message> {
    (0..n).map(|i| message(i, conversations)).collect()
}

fn fill(store: &mut Store, messages: &[Message]) {
    for batch in messages.chunks(BATCH) {
        assert_eq!(store.save_messages(batch).unwrap(), batch.len());
    }
}

fn insert_100k(c: &mut Criterion) {
    let uid = Uid::new("2200000001");
    let mut g = c.benchmark_group("store_insert");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    // Built once: the bench times storing, not making test data.
    let data = messages(100_000, 200);
    g.bench_function("100k_messages_batches_of_1000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let mut store = Store::open(dir.path(), &uid).unwrap();
                let start = Instant::now();
                fill(&mut store, &data);
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

fn search_1m(c: &mut Criterion) {
    let uid = Uid::new("2200000001");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &uid).unwrap();
    let start = Instant::now();
    fill(&mut store, &messages(1_000_000, 2_000));
    eprintln!(
        "built a 1,000,000-message store in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(store.message_count().unwrap(), 1_000_000);
    let mut g = c.benchmark_group("store_search_1m");
    g.sample_size(20);
    g.bench_function("trigram_能便宜_limit_50", |b| {
        b.iter(|| {
            let hits = store.search(black_box("能便宜"), 50).unwrap();
            assert_eq!(hits.len(), 50);
            hits
        })
    });
    g.bench_function("trigram_能便宜_limit_200_as_in_the_tui", |b| {
        b.iter(|| store.search(black_box("能便宜"), 200).unwrap())
    });
    g.bench_function("trigram_rare_无拆无修_limit_50", |b| {
        b.iter(|| store.search(black_box("无拆无修"), 50).unwrap())
    });
    g.bench_function("scan_2_chars_包邮_limit_50", |b| {
        b.iter(|| {
            let hits = store.search(black_box("包邮"), 50).unwrap();
            assert_eq!(hits.len(), 50);
            hits
        })
    });
    g.bench_function("scan_2_chars_absent_limit_50", |b| {
        b.iter(|| store.search(black_box("火箭"), 50).unwrap())
    });
    g.finish();
}

fn conversation(i: usize) -> Conversation {
    Conversation {
        cid: Cid::new(format!("{}", 50_000 + i)),
        peer: Uid::new(format!("{}", 90_000 + i)),
        peer_nick: Some(format!("买家{i}号🐟")),
        item_id: Some(format!("{}", 700_000 + i)),
        item_title: Some(format!("九成新 商品 {i} 国行 带盒")),
        item_pic: None,
        modify_time: 1_790_000_000_000 - i as i64 * 60_000,
        unread: u32::from(i.is_multiple_of(7)),
        pinned: i.is_multiple_of(500),
        muted: false,
        red_reminder: None,
        last_message: Some(message(i, 10_000)),
    }
}

/// From opening the database file to the first frame on screen, as at start-up: open (with
/// its migration check), read the list and the drafts, reduce, draw.
fn first_frame_10k(c: &mut Criterion) {
    let uid = Uid::new("2200000001");
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path(), &uid).unwrap();
        let list: Vec<Conversation> = (0..10_000).map(conversation).collect();
        store.save_conversations(&list).unwrap();
        for i in 0..20 {
            store
                .set_draft(&list[i * 100].cid, "周末可以自提吗")
                .unwrap();
        }
    }
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut g = c.benchmark_group("store_startup");
    g.sample_size(20);
    g.bench_function("first_frame_from_10k_conversations", |b| {
        b.iter(|| {
            let store = Store::open(dir.path(), &uid).unwrap();
            let reply = StoreReply::Startup {
                conversations: store.conversations().unwrap(),
                drafts: store.drafts().unwrap(),
            };
            let (mut state, _) = AppState::new(&UiOptions::default(), tz, 1_790_000_000_000);
            update(&mut state, Msg::new(1_790_000_000_000, Input::Store(reply)));
            assert_eq!(state.visible().len(), 10_000);
            term.draw(|f| goofish_tui::ui::draw(f, &state)).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, first_frame_10k, insert_100k, search_1m);
criterion_main!(benches);
