//! The simulator's world: generating a demo world and a 10,000-conversation one (target: the
//! 10,000 × 20 world in well under a second), and paging through it the way the client does.
//! Prints the resident memory the large world adds, once, before measuring.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use goofish_tui::protocol::lwp::FIRST_PAGE_CURSOR;
use goofish_tui::sim::world::{World, WorldConfig};

const NOW: i64 = 1_764_230_400_000;

fn large() -> WorldConfig {
    WorldConfig {
        seed: 1,
        conversations: 10_000,
        history: 20,
        now_ms: NOW,
        ..WorldConfig::new(1, NOW)
    }
}

/// Resident set size in KiB (Linux); `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report_memory() {
    let before = rss_kib();
    let w = World::generate(&large());
    let after = rss_kib();
    let msgs: usize = w
        .threads_newest_first()
        .iter()
        .map(|t| t.messages.len())
        .sum();
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!(
            "10,000 × 20 world: {msgs} messages, +{} MiB resident",
            a.saturating_sub(b) / 1024
        );
    }
}

fn generate(c: &mut Criterion) {
    report_memory();
    let mut g = c.benchmark_group("world_generate");
    g.sample_size(10);
    g.bench_function("demo_12x30", |b| {
        b.iter_with_large_drop(|| World::generate(black_box(&WorldConfig::new(1, NOW))))
    });
    g.bench_function("large_10000x20", |b| {
        // The simulator keeps its world; dropping it is not part of the cost.
        b.iter_with_large_drop(|| World::generate(black_box(&large())))
    });
    g.finish();
}

fn paging(c: &mut Criterion) {
    let w = World::generate(&large());
    c.bench_function("conversation_list_all_pages_10000_by_50", |b| {
        b.iter(|| {
            let mut cursor = FIRST_PAGE_CURSOR;
            let mut n = 0;
            loop {
                let (page, more, next) = w.conversations_page(cursor, 50);
                n += page.len();
                match (more, next) {
                    (true, Some(c)) => cursor = c,
                    _ => break,
                }
            }
            n
        })
    });
    let cid = w.any_cid(0).unwrap();
    c.bench_function("history_first_page_20", |b| {
        b.iter(|| w.history(black_box(&cid), FIRST_PAGE_CURSOR, 20).0.len())
    });
}

criterion_group!(benches, generate, paging);
criterion_main!(benches);
