//! The background core: views (the real binary) attach to one core per data directory, which
//! holds the only connection of the account; it survives its views, and its views survive it.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common::core_place::{Lines, Place};
use crate::common::{control, quiet_sim, sim_state};
use goofish_tui::sim::SimHandle;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn connections(sim: &SimHandle) -> (u64, u64) {
    let st = sim_state(sim).await;
    (
        st["registered_connections"].as_u64().unwrap(),
        st["connections_total"].as_u64().unwrap(),
    )
}

async fn a_conversation(sim: &SimHandle) -> String {
    control(sim, "incoming", json!({"text": "多少钱"})).await["cid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn live(v: &Value) -> bool {
    v["type"] == "connection" && v["state"] == "live"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_and_three_sends_share_one_connection() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    // The first view starts the core: nothing to set up.
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    for n in 1..=3 {
        let said = format!("第{n}条 🙂");
        let out = place.run(&["send", "--to", &cid, "--text", &said]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).trim().ends_with(".PNM"),
            "{}",
            text(&out.stdout)
        );
        let seen = watch
            .until(&said, |v| {
                v["type"] == "message" && v["text"] == said.as_str()
            })
            .await;
        assert_eq!(seen["self"], true);
    }
    assert_eq!(connections(&sim).await, (1, 1));
    // The watch is the one view left; the sends came and went.
    let status = place.status().await;
    assert_eq!(status["account"], sim.self_uid.as_str(), "{status}");
    assert_eq!(status["connection"]["state"], "live", "{status}");
    let views: Vec<&str> = status["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["view"].as_str().unwrap())
        .collect();
    assert_eq!(views, ["watch"], "{status}");
    let human = place.run(&["daemon", "--status"]).await;
    let human = text(&human.stdout);
    assert!(
        human.contains("connection: live") && human.contains("watch"),
        "{human}"
    );
    // Its views gone, the core stays, connected, until it is stopped.
    drop(watch);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(place.status().await["connection"]["state"], "live");
    assert_eq!(connections(&sim).await, (1, 1));
    let socket = place.socket().unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let stop = place.run(&["daemon", "--stop"]).await;
    assert_eq!(
        text(&stop.stdout).trim(),
        "stopped",
        "{}",
        text(&stop.stderr)
    );
    assert!(!socket.exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&sim).await.0 != 0 {
        assert!(Instant::now() < deadline, "the core kept its connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(place.status().await, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_core_each_command_has_its_own_connection() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    for _ in 0..2 {
        let out = place
            .run(&["--no-daemon", "send", "--to", &cid, "--text", "好"])
            .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(connections(&sim).await.1, 2);
    assert!(place.socket().is_none());
}
