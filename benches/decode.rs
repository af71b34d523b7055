//! Push decoding speed: a whole `/s/sync` body through `decode_sync_body` (base64 → msgpack →
//! classified `SyncEvent`s), with 1 and 20 items, for text messages and for the real order
//! card. Target: ≥ 1,000,000 text items/s on one core.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use goofish_tui::protocol::sync::{decode_item, decode_sync_body};
use goofish_tui::protocol::{SyncEvent, Uid};
use serde_json::{Value, json};

#[path = "../tests/common/samples.rs"]
mod samples;

/// A shared sample, when `../shared` is there.
fn shared(sample: &str) -> Option<String> {
    samples::text(sample)
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

fn body(data: &str, n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|_| json!({"bizType": 40000, "objectType": 40000, "streamId": "", "data": data}))
        .collect();
    json!({
        "syncPushPackage": {"data": items, "maxHighPts": 0, "hasMore": 0},
        "syncExtensionModel": {"reconnectType": 0, "failover": 0, "fingerprint": 0}
    })
}

fn bench(c: &mut Criterion) {
    let me = Uid::new("2200000000401");
    // The constructed sample when present, else an own fixture of the same shape.
    let text = shared("constructed/text-incoming-item.b64")
        .unwrap_or_else(|| fixture("sync_text_item.b64"));
    let mut kinds = vec![("text", text.clone())];
    match shared("real/order-card-item.b64") {
        Some(card) => kinds.push(("card", card)),
        None => eprintln!("real card sample absent: benchmarking text items only"),
    }

    let mut g = c.benchmark_group("decode_sync_body");
    for (kind, data) in &kinds {
        assert!(
            matches!(decode_item(data, Some(40000), &me), SyncEvent::Message(_)),
            "{kind} item does not decode to a message"
        );
        for n in [1usize, 20] {
            let b = body(data, n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(format!("{kind}/{n}"), |bench| {
                bench.iter(|| {
                    let push = decode_sync_body(black_box(&b), &me);
                    assert_eq!(push.events.len(), n);
                    push
                })
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("decode_item");
    g.throughput(Throughput::Elements(1));
    g.bench_function("text", |bench| {
        bench.iter(|| decode_item(black_box(&text), Some(40000), &me))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
