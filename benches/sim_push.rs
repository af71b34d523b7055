//! How fast the simulator pushes messages to one client over loopback: `POST /__sim/burst`
//! of N messages, timed until the client has received (and ACKed) every item.
//! Target: ≥ 50,000 messages/s, so that the simulator is never the bottleneck of a benchmark.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use goofish_tui::im::conn::{ConnConfig, ConnEvent, connect};
use goofish_tui::im::cookies::CookieJar;
use goofish_tui::im::device::generate_device_id;
use goofish_tui::im::mtop::{Endpoints, MtopClient};
use goofish_tui::sim::{self, Scenario, SimOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BURST: u64 = 5_000;

fn items_in(ev: &ConnEvent) -> u64 {
    match ev {
        ConnEvent::Push(f) if f.lwp.as_deref() == Some("/s/sync") => f
            .body
            .as_ref()
            .and_then(|b| b.pointer("/syncPushPackage/data"))
            .and_then(Value::as_array)
            .map_or(0, |a| a.len() as u64),
        _ => 0,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, conn, mut events) = rt.block_on(async {
        let sim = sim::start(SimOptions {
            scenario: Scenario::Quiet,
            conversations: 20,
            history: 2,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let base = url::Url::parse(sim.http_url()).unwrap();
        let mtop = MtopClient::new(
            Endpoints::at(base),
            CookieJar::parse_header(sim.cookie()),
            None,
        )
        .unwrap();
        let did = generate_device_id(&sim.self_uid);
        let token = mtop.login_token(&did).await.unwrap();
        let cfg = ConnConfig {
            ws_url: sim.ws_url().to_string(),
            ..ConnConfig::default()
        };
        let (conn, events) = connect(&cfg).await.unwrap();
        conn.register(&token.access_token, &did).await.unwrap();
        conn.start_heartbeat();
        (sim, conn, events)
    });
    let http = reqwest::Client::new();
    let burst_url = format!("{}/burst", sim.control_url());
    let mut group = c.benchmark_group("sim_push");
    group.throughput(Throughput::Elements(BURST));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("burst_to_one_client", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Whatever is left from earlier pushes (vulcan, stragglers) is not counted.
                    while events.try_recv().is_ok() {}
                    let start = Instant::now();
                    let req = http
                        .post(&burst_url)
                        .json(&json!({"count": BURST, "conversations": 20}))
                        .send();
                    let mut got = 0;
                    let (resp, ()) = tokio::join!(req, async {
                        while got < BURST {
                            match events.recv().await {
                                Some(ev) => got += items_in(&ev),
                                None => panic!("connection closed"),
                            }
                        }
                    });
                    resp.unwrap();
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
    conn.close();
    rt.block_on(sim.shutdown());
}

/// The simulator's cost of encoding one chat message push item.
fn encode(c: &mut Criterion) {
    use goofish_tui::protocol::encode::chat_message_item;
    use goofish_tui::protocol::{Cid, Content, Message, MessageId, Uid};
    let msg = Message {
        id: MessageId::new("3400000000302.PNM"),
        cid: Cid::new("40000000201"),
        sender: Uid::new("1000000101"),
        is_self: false,
        time: 1_742_458_817_389,
        content: Content::Text {
            text: "你好，还在吗？能便宜点吗".into(),
        },
        item_id: Some("900000000601".into()),
        sender_nick: Some("买家小明".into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    };
    let me = Uid::new("2200000000401");
    let mut group = c.benchmark_group("sim_encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("chat_message_item", |b| {
        b.iter(|| chat_message_item(std::hint::black_box(&msg), &me))
    });
    group.finish();
}

criterion_group!(benches, bench, encode);
criterion_main!(benches);
