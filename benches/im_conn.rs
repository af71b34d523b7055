//! The LWP connection over loopback: RPC round trip, push throughput (each push ACKed), and
//! the session's dedupe ring.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use goofish_tui::im::conn::{self, ConnConfig, ConnEvent};
use goofish_tui::im::session::SeenIds;
use goofish_tui::protocol::MessageId;
use goofish_tui::protocol::lwp::{Frame, Kind};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const BURST: usize = 1000;

/// Answers every request; a `/burst` request is answered after `BURST` pushes.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let mut seq = 0u64;
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(t) = msg else { continue };
                    let Ok(f) = Frame::parse(t.as_str()) else {
                        continue;
                    };
                    if f.kind() != Kind::Push {
                        continue; // an ACK
                    }
                    if f.lwp.as_deref() == Some("/burst") {
                        for _ in 0..BURST {
                            seq += 1;
                            let push = json!({
                                "lwp": "/s/sync",
                                "headers": {"mid": format!("{seq} 0"), "sid": "s"},
                                "body": {"syncPushPackage": {"data": []}}
                            });
                            ws.feed(Message::text(push.to_string())).await.unwrap();
                        }
                    }
                    let resp = Frame::response_to(&f, 200, Some(json!({"ok": 1})));
                    ws.send(Message::text(resp.to_text())).await.unwrap();
                }
            });
        }
    });
    format!("ws://{addr}/")
}

fn bench_conn(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (conn, mut events) = rt.block_on(async {
        let url = server().await;
        let cfg = ConnConfig {
            ws_url: url,
            request_timeout: Duration::from_secs(10),
            ..ConnConfig::default()
        };
        conn::connect(&cfg).await.unwrap()
    });

    c.bench_function("conn/request_roundtrip", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                conn.request("/r/Echo/echo", Some(json!([1])))
                    .await
                    .unwrap(),
            )
        })
    });

    let mut group = c.benchmark_group("conn");
    group.throughput(criterion::Throughput::Elements(BURST as u64));
    group.bench_function("push_burst_1000_acked", |b| {
        b.iter(|| {
            rt.block_on(async {
                let ask = conn.request("/burst", None);
                let mut got = 0;
                let drain = async {
                    while got < BURST {
                        match events.recv().await {
                            Some(ConnEvent::Push(_)) => got += 1,
                            other => panic!("{other:?}"),
                        }
                    }
                };
                let (r, ()) = tokio::join!(ask, drain);
                r.unwrap();
            })
        })
    });
    group.finish();
}

fn bench_dedupe(c: &mut Criterion) {
    let mut seen = SeenIds::new(100_000);
    for n in 0..100_000u64 {
        seen.insert(&MessageId::new(format!("{}.PNM", 3_400_000_000_000 + n)));
    }
    let mut next = 3_500_000_000_000u64;
    let mut group = c.benchmark_group("dedupe");
    group.throughput(criterion::Throughput::Elements(2000));
    group.bench_function("full_ring_1000_new_1000_dup", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                // A new id (evicting the oldest), then the same id again.
                next += 1;
                let id = MessageId::new(format!("{next}.PNM"));
                black_box(seen.insert(&id));
                black_box(seen.insert(&id));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_conn, bench_dedupe);
criterion_main!(benches);
