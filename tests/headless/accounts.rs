//! Several accounts in one data directory and one background core: `login` adds them, each
//! has its own connection, `watch --account all` shows every one's events, a send goes out
//! on the account it names, and a wrong `--account` is refused with the list.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common::core_place::{
    Lines, Place, first_logged_in, login, saved_logins, two_logged_in, two_sellers, view_names,
};
use crate::common::{control, sim_state};
use goofish_tui::sim::SimHandle;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn accounts(place: &Place) -> Vec<Value> {
    let out = place.run(&["accounts", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Each seller's registered connections, by uid.
async fn connections(sim: &SimHandle) -> Vec<(String, u64)> {
    sim_state(sim).await["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["uid"].as_str().unwrap().to_string(),
                a["registered_connections"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn received_by(sim: &SimHandle, uid: &str) -> Vec<String> {
    let st = sim_state(sim).await;
    let account = st["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["uid"] == uid)
        .unwrap()
        .clone();
    account["messages_received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_twice_ends_with_two_accounts_and_neither_jar_overwritten() {
    let (sim, place, first, second) = first_logged_in().await;
    let data = place.data.path();
    let top_jar = data.join("cookies.json");
    let first_jar = read(&top_jar);
    assert!(first_jar.contains(&first));
    login(&sim, &place, &second).await;
    let second_jar_path = data.join("accounts").join(&second).join("cookies.json");
    let second_jar = read(&second_jar_path);
    assert!(second_jar.contains(&second) && !second_jar.contains(&first));
    assert_eq!(
        read(&top_jar),
        first_jar,
        "the first account's jar was touched"
    );
    // Each account has its own device id once it has been used; none is shared.
    let listed = accounts(&place).await;
    let uids: Vec<&str> = listed.iter().map(|a| a["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, [first.as_str(), second.as_str()]);
    assert_eq!(listed[0]["default"], true);
    assert_eq!(listed[1]["nick"], sim.others()[0].nick.as_str());
    // The same account again replaces its own login only.
    login(&sim, &place, &second).await;
    assert_ne!(read(&second_jar_path), second_jar);
    assert_eq!(read(&top_jar), first_jar);
    assert_eq!(accounts(&place).await.len(), 2);
    let human = text(&place.run(&["accounts"]).await.stdout);
    assert!(
        human.starts_with(&format!("* {first}")) && human.contains(&second),
        "{human}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_core_runs_both_accounts_and_watch_all_shows_each_with_its_account() {
    let (sim, place, first, second) = two_logged_in().await;
    let mut watch = Lines::start(place.cmd(&["watch", "--account", "all", "--json"]));
    // Both go live, in whichever order.
    let mut live = std::collections::BTreeSet::new();
    while live.len() < 2 {
        let v = watch
            .until("both accounts live", |v| {
                v["type"] == "connection" && v["state"] == "live"
            })
            .await;
        live.insert(v["account"].as_str().unwrap().to_string());
    }
    assert_eq!(live, [first.clone(), second.clone()].into_iter().collect());
    assert_eq!(
        connections(&sim).await,
        [(first.clone(), 1), (second.clone(), 1)]
    );
    // A buyer writes to each shop.
    let mut cids = Vec::new();
    for (uid, said) in [(&first, "第一家店的买家"), (&second, "第二家店的买家")] {
        let r = control(
            &sim,
            &format!("incoming?account={uid}"),
            json!({"text": said}),
        )
        .await;
        let cid = r["cid"].as_str().unwrap().to_string();
        let seen = watch
            .until(said, |v| v["type"] == "message" && v["text"] == said)
            .await;
        assert_eq!(seen["account"], uid.as_str(), "{seen}");
        assert_eq!(seen["cid"], cid.as_str());
        cids.push(cid);
    }
    // A send names its account and goes out on that one only.
    let out = place
        .run(&[
            "send",
            "--account",
            &second,
            "--to",
            &cids[1],
            "--text",
            "第二家店回复",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        received_by(&sim, &second)
            .await
            .contains(&"第二家店回复".to_string())
    );
    assert!(received_by(&sim, &first).await.is_empty());
    let echo = watch
        .until("the echo", |v| {
            v["type"] == "message" && v["text"] == "第二家店回复"
        })
        .await;
    assert_eq!(echo["account"], second.as_str());
    assert_eq!(echo["self"], true);
    // Still one connection each: the views share the core's.
    assert_eq!(
        connections(&sim).await,
        [(first.clone(), 1), (second.clone(), 1)]
    );
    let status = place.status().await;
    let listed = status["accounts"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{status}");
    for (a, uid) in listed.iter().zip([&first, &second]) {
        assert_eq!(a["account"], uid.as_str(), "{status}");
        assert_eq!(a["connection"]["state"], "live", "{status}");
        let views = view_names(a);
        assert_eq!(views, ["watch"], "{status}");
    }
    let human = text(&place.run(&["daemon", "--status"]).await.stdout);
    assert!(
        human.contains(&format!("account: {first}"))
            && human.contains(&format!("account: {second}"))
            && human.matches("connection: live").count() == 2,
        "{human}"
    );
    drop(watch);
    let _ = place.run(&["daemon", "--stop"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&sim).await.iter().any(|(_, n)| *n != 0) {
        assert!(Instant::now() < deadline, "the core kept a connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_account_is_refused_with_the_accounts_there_are() {
    let (sim, place, first, second) = two_logged_in().await;
    for args in [
        &["send", "--account", "店C", "--to", "1", "--text", "x"][..],
        &["watch", "--account", "店C"][..],
        &["search", "--account", "店C", "x"][..],
        &["fetch-history", "--account", "店C"][..],
    ] {
        let out = place.run(args).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("店C") && err.contains(&first) && err.contains(&second),
            "{args:?}: {err}"
        );
    }
    // Nothing was started for a wrong name.
    assert!(place.socket().is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_one_account_keeps_working_as_it_was() {
    let sim = two_sellers().await;
    let place = saved_logins(&sim);
    let data = place.data.path();
    // As an older version left it: the jar at the top, no account folders.
    goofish_tui::im::cookies::CookieJar::parse_header(sim.cookie())
        .save(&data.join("cookies.json"))
        .unwrap();
    let listed = accounts(&place).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["uid"], sim.self_uid.as_str());
    let cid = control(&sim, "incoming", json!({"text": "还在吗"})).await["cid"]
        .as_str()
        .unwrap()
        .to_string();
    let out = place
        .run(&["send", "--to", &cid, "--text", "在的，旧目录照用"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Stored by the time `send` says it is sent.
    let out = place.run(&["search", "旧目录照用"]).await;
    assert!(
        text(&out.stdout).contains("在的，旧目录照用"),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!data.join("accounts").exists());
    assert!(data.join("device_id").exists());
    let _ = place.run(&["daemon", "--stop"]).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_logged_in_while_the_core_runs_is_connected_for_the_first_view_of_it() {
    let (sim, place, first, second) = first_logged_in().await;
    // The core starts with the first shop only.
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch
        .until("live", |v| {
            v["type"] == "connection" && v["state"] == "live"
        })
        .await;
    assert_eq!(
        place.status().await["accounts"].as_array().unwrap().len(),
        1
    );
    assert!(sim.log_in_as(&second));
    let out = place.run(&["login", "--timeout", "30"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("it connects this account for the first view that asks for it"),
        "{}",
        text(&out.stdout)
    );
    // While the service refuses the new shop's login, a view of it is told why.
    let fault = format!("fault?account={second}");
    control(&sim, &fault, json!({"kind": "expire-session"})).await;
    control(&sim, &fault, json!({"kind": "refuse-renewal"})).await;
    let refused = place.run(&["fetch-history", "--account", &second]).await;
    let said = text(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0), "{said}");
    assert!(
        said.contains("cannot serve account") && said.contains("could not be renewed"),
        "{said}"
    );
    assert_eq!(
        place.status().await["accounts"].as_array().unwrap().len(),
        1
    );
    control(&sim, &fault, json!({"kind": "clear"})).await;
    // A send for the new shop: the running core connects it, and the text goes out there.
    let cid = control(
        &sim,
        &format!("incoming?account={second}"),
        json!({"text": "新店的买家"}),
    )
    .await["cid"]
        .as_str()
        .unwrap()
        .to_string();
    let out = place
        .run(&[
            "send",
            "--account",
            &second,
            "--to",
            &cid,
            "--text",
            "新店开张",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(received_by(&sim, &second).await, ["新店开张"]);
    // The same core serves both now; the first shop was never reconnected.
    let status = place.status().await;
    let listed: Vec<&str> = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [first.as_str(), second.as_str()], "{status}");
    assert_eq!(
        connections(&sim).await,
        [(first.clone(), 1), (second.clone(), 1)]
    );
    assert!(
        watch.child.try_wait().unwrap().is_none(),
        "the first shop's watch goes on"
    );
    sim.shutdown().await;
}
