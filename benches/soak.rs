//! Soak: buyers write at a steady rate while the connection is cut every so often, and what
//! reaches `watch` is counted against what the simulator sent. Reports sent / received /
//! lost / doubled; the promise is 0 lost and 0 doubled.
//!
//! `cargo bench --bench soak`; the defaults (3 minutes, 200 messages/s over 20 conversations,
//! a drop a minute) can be changed with `SOAK_SECS`, `SOAK_RATE`, `SOAK_CONVERSATIONS` and
//! `SOAK_DROP_EVERY_SECS`. The session runs with the production timings (backoff, the 3 s
//! settle before the backfill), which is what leaves room for messages to fall into a gap.
//! Exits 1 when a message was lost or doubled.
#![allow(clippy::unwrap_used)]

use goofish_tui::headless::watch::{Action, Style, Watcher};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::im::conn::ConnConfig;
use goofish_tui::im::cookies::CookieJar;
use goofish_tui::im::mtop::{Endpoints, MtopClient};
use goofish_tui::im::session::{self, DeviceSource, SessionConfig};
use goofish_tui::sim::{self, Scenario, SimOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"soak".contains(a.as_str()))
    {
        return;
    }
    let secs = env_or("SOAK_SECS", 180);
    let rate = env_or("SOAK_RATE", 200).max(1);
    let conversations = env_or("SOAK_CONVERSATIONS", 20).max(1) as usize;
    let drop_every = Duration::from_secs(env_or("SOAK_DROP_EVERY_SECS", 60).max(1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(soak(
        Duration::from_secs(secs),
        rate,
        conversations,
        drop_every,
    ));
    println!("{report}");
    let ok = report["lost"] == 0 && report["doubled"] == 0;
    std::process::exit(if ok { 0 } else { 1 });
}

async fn soak(run_for: Duration, rate: u64, conversations: usize, drop_every: Duration) -> Value {
    let sim = sim::start(SimOptions {
        scenario: Scenario::Quiet,
        conversations: conversations + 1,
        history: 5,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let mtop = MtopClient::new(
        Endpoints::at(url::Url::parse(sim.http_url()).unwrap()),
        CookieJar::parse_header(sim.cookie()),
        None,
    )
    .unwrap();
    let conn = ConnConfig {
        ws_url: sim.ws_url().to_string(),
        ..ConnConfig::default()
    };
    let did = goofish_tui::im::device::generate_device_id(&sim.self_uid);
    let cfg = SessionConfig::new(conn, DeviceSource::Fixed(did));
    let session = session::spawn(cfg, mtop);
    let commands = session.commands.clone();
    let mut events = session.events;
    commands.send(ImCommand::ListConversations).await.unwrap();

    // What reaches `watch`: every buyer message as a JSON line.
    let counter = tokio::spawn(async move {
        let mut watcher = Watcher::new(Style {
            json: true,
            all: false,
            color: false,
            exit_on_login: false,
        });
        let mut received: HashMap<String, u32> = HashMap::new();
        let mut live_count = 0u32;
        while let Some(ev) = events.recv().await {
            if matches!(ev, ImEvent::Connection(ConnState::Live)) {
                live_count += 1;
            }
            for action in watcher.on_event(ev) {
                if let Action::Print(line) = action
                    && let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["type"] == "message"
                    && let Some(id) = v["id"].as_str()
                {
                    *received.entry(id.to_string()).or_default() += 1;
                }
            }
        }
        (received, live_count)
    });

    let control = sim.control_url().to_string();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let req = http.post(format!("{control}/{path}")).json(&body).send();
        async move { req.await.ok()?.json::<Value>().await.ok() }
    };
    // Wait for the first connection before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cids: Vec<String> = {
        let st: Value = http
            .get(format!("{control}/state"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(st["registered_connections"].as_u64() >= Some(1), "{st}");
        let mut ids = vec![];
        for _ in 0..conversations {
            let a = post("incoming", json!({"text": "开始"})).await.unwrap();
            ids.push(a["cid"].as_str().unwrap().to_string());
        }
        ids.sort();
        ids.dedup();
        ids
    };

    let started = Instant::now();
    let mut sent: Vec<String> = Vec::new();
    let mut drops = 0u32;
    let mut next_drop = started + drop_every;
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0usize;
    while started.elapsed() < run_for {
        tick.tick().await;
        if Instant::now() >= next_drop {
            post("fault", json!({"kind": "drop"})).await;
            drops += 1;
            next_drop += drop_every;
        }
        let cid = &cids[n % cids.len()];
        n += 1;
        let text = format!("第{n}条");
        if let Some(a) = post("incoming", json!({"cid": cid, "text": text})).await
            && let Some(id) = a["message_id"].as_str()
        {
            sent.push(id.to_string());
        }
    }
    // Let the last backfill finish.
    tokio::time::sleep(Duration::from_secs(15)).await;
    commands.send(ImCommand::Shutdown).await.unwrap();
    drop(commands);
    let (received, lives) = counter.await.unwrap();
    sim.shutdown().await;
    let lost = sent.iter().filter(|id| !received.contains_key(*id)).count();
    let doubled = received.values().filter(|&&n| n > 1).count();
    json!({
        "seconds": run_for.as_secs(),
        "rate_per_s": rate,
        "conversations": cids.len(),
        "drops": drops,
        "connections_live": lives,
        "sent": sent.len(),
        "received": sent.iter().filter(|id| received.contains_key(*id)).count(),
        "lost": lost,
        "doubled": doubled,
    })
}
