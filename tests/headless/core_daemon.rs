//! The background core: views (the real binary) attach to one core per data directory, which
//! holds the only connection of the account; it survives its views, and its views survive it.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common::core_place::{Lines, Place, view_names};
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
    let views = view_names(&status);
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

fn kill9(pid: u64) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_mid_send_is_replaced_and_the_message_lands_once() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    let first = place.status().await["pid"].as_u64().unwrap();
    // The service keeps the next send but its answer never comes back.
    control(
        &sim,
        "fault",
        json!({"kind": "lose-send-answer", "count": 1}),
    )
    .await;
    let mut send = place.cmd(&["send", "--to", &cid, "--text", "顺丰到付 📦"]);
    let send = tokio::task::spawn_blocking(move || send.output().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !crate::common::sim_received(&sim)
        .await
        .iter()
        .any(|m| m["text"] == "顺丰到付 📦")
    {
        assert!(
            Instant::now() < deadline,
            "the send never reached the service"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill9(first);
    // The views notice, say so, and a new core takes over.
    let lost = watch
        .until("the lost core", |v| {
            v["type"] == "error"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("lost the background core"))
        })
        .await;
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .contains("starting a new one")
    );
    watch.until("live again", live).await;
    let out = send.await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().ends_with(".PNM"));
    let landed = crate::common::sim_received(&sim)
        .await
        .into_iter()
        .filter(|m| m["text"] == "顺丰到付 📦")
        .count();
    assert_eq!(landed, 1, "delivered once");
    let second = place.status().await["pid"].as_u64().unwrap();
    assert_ne!(first, second);
    // The dead core's connection is gone; the new core has the only one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&sim).await != (1, 2) {
        assert!(Instant::now() < deadline, "{:?}", connections(&sim).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_file_is_cleaned_up() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    // A socket file nobody listens on, as a core killed with -9 leaves it.
    let socket = goofish_tui::daemon::place(&place.settings()).socket;
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let out = place.run(&["send", "--to", &cid, "--text", "在的"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(place.status().await["connection"]["state"], "live");
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_that_sends_garbage_is_told_and_disconnected_and_the_core_goes_on() {
    use std::io::{BufRead, BufReader, Write};
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    let socket = place.socket().unwrap();
    let talk = |lines: &'static [&'static str]| {
        let socket = socket.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            for l in lines {
                s.write_all(l.as_bytes()).unwrap();
            }
            // Everything the core says, until it closes the connection.
            let said: Vec<Value> = BufReader::new(s)
                .lines()
                .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
                .collect();
            said
        })
    };
    let said = talk(&["this is not json\n"]).await.unwrap();
    assert_eq!(said[0]["type"], "hello", "{said:?}");
    assert_eq!(said[0]["protocol"], 1, "{said:?}");
    let last = said.last().unwrap();
    assert_eq!(last["type"], "error", "{said:?}");
    let said = talk(&[
        "{\"type\":\"hello\",\"protocol\":1,\"view\":\"script\"}\n",
        "{\"type\":\"command\",\"command\":{\"send_text\":{\"cid\":7}}}\n",
    ])
    .await
    .unwrap();
    assert_eq!(said.last().unwrap()["type"], "error", "{said:?}");
    let said = talk(&["{\"type\":\"hello\",\"protocol\":99,\"view\":\"future\"}\n"])
        .await
        .unwrap();
    let last = said.last().unwrap();
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("protocol 1, not 99"),
        "{said:?}"
    );
    // The core, its connection and its other view are unharmed.
    assert_eq!(place.status().await["connection"]["state"], "live");
    control(&sim, "incoming", json!({"text": "还在吗"})).await;
    watch
        .until("a message", |v| {
            v["type"] == "message" && v["text"] == "还在吗"
        })
        .await;
    assert_eq!(connections(&sim).await, (1, 1));
}

/// A stand-in for a core of a later version: it holds the core's lock and answers every
/// hello with protocol 2, under the pid of a `sleep`; when that process ends (as a core does
/// on SIGTERM) its lock and its socket go. The pid, and the process's end when it comes.
fn a_core_of_protocol_2(
    place: &Place,
) -> (u32, std::sync::mpsc::Receiver<std::process::ExitStatus>) {
    use std::io::{BufRead, BufReader, Write};
    let mut other = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let pid = other.id();
    let at = goofish_tui::daemon::place(&place.settings());
    std::fs::create_dir_all(&at.dir).unwrap();
    let lock = std::fs::File::create(&at.lock).unwrap();
    lock.lock().unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&at.socket).unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            let mut hello = String::new();
            let _ = BufReader::new(&s).read_line(&mut hello);
            let line = format!(
                "{{\"type\":\"hello\",\"protocol\":2,\"version\":\"9.0.0\",\"pid\":{pid},\"shape\":[]}}\n"
            );
            let _ = s.write_all(line.as_bytes());
        }
    });
    let (tx, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let status = other.wait().unwrap();
        let _ = std::fs::remove_file(&at.socket);
        drop(lock);
        let _ = tx.send(status);
    });
    (pid, ended)
}

fn signal_of(status: std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_of_another_protocol_is_refused_without_a_terminal_and_daemon_stop_ends_it() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let (_, ended) = a_core_of_protocol_2(&place);
    // Without a terminal nothing is asked: one line says why, and the exit code is 2.
    let out = place.run(&["send", "--to", &cid, "--text", "在的"]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("9.0.0")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("goofish-tui 9.0.0 (protocol 2)")
            && err.contains("--restart-core")
            && err.contains("daemon --stop"),
        "{err}"
    );
    assert_eq!(connections(&sim).await.1, 0, "nothing connected meanwhile");
    assert!(ended.try_recv().is_err(), "it was left alone");
    let stop = place.run(&["daemon", "--stop"]).await;
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    let status = ended.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        signal_of(status),
        Some(15),
        "the other core was asked to end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_core_ends_a_core_of_another_protocol_by_its_pid_and_starts_this_version() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let (pid, ended) = a_core_of_protocol_2(&place);
    let out = place
        .run(&["send", "--restart-core", "--to", &cid, "--text", "新版本"])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("restarted the background core: 9.0.0 → {OURS}")),
        "{err}"
    );
    let status = ended.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        signal_of(status),
        Some(15),
        "SIGTERM to the pid of its hello"
    );
    let core = place.status().await;
    assert_eq!(core["version"], OURS, "{core}");
    assert_ne!(core["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(connections(&sim).await, (1, 1));
    assert_eq!(landed(&sim, "新版本").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_history_fills_the_cores_local_history_through_its_connection() {
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    let out = place.run(&["fetch-history", "--pause", "0"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let last = said.lines().last().unwrap();
    let added: u64 = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(added > 0, "{said}");
    // A second run finds nothing new: the first one counted what the core stored.
    let again = place.run(&["fetch-history", "--pause", "0"]).await;
    let again = text(&again.stdout);
    assert!(
        again.lines().last().unwrap().starts_with("0 new"),
        "{again}"
    );
    assert_eq!(connections(&sim).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_the_core_instead_of_knocking_its_connection_off() {
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    let tokens = sim_state(&sim).await["token_requests"].as_u64().unwrap();
    let out = place.run(&["doctor"]).await;
    let said = text(&out.stdout);
    assert!(
        said.contains("connected and registered, 1 view(s); the token and WebSocket are its own"),
        "{said}"
    );
    assert_eq!(connections(&sim).await, (1, 1), "{said}");
    assert_eq!(
        sim_state(&sim).await["token_requests"].as_u64().unwrap(),
        tokens
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_not_deleted_under_a_running_core() {
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    let out = place.run(&["daemon"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("views: 0"),
        "{}",
        text(&out.stdout)
    );
    let out = place.run(&["--clear-cache"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("daemon --stop"),
        "{}",
        text(&out.stderr)
    );
    place.run(&["daemon", "--stop"]).await;
    let out = place.run(&["--clear-cache"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_gives_up_waiting_leaves_the_text_with_the_core_which_sends_it() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let mut watch = Lines::start(place.cmd(&["watch", "--json"]));
    watch.until("live", live).await;
    control(&sim, "fault", json!({"kind": "stall", "secs": 3.0})).await;
    let out = place
        .run(&["send", "--to", &cid, "--text", "稍后到", "--timeout", "1"])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("waits in the background core's outbox"),
        "{err}"
    );
    // Nobody waits for it any more: the watch reports how it ended.
    let done = watch
        .until("the text, sent by the core", |v| v["type"] == "send_result")
        .await;
    assert_eq!(done["ok"], true, "{done}");
    let landed = crate::common::sim_received(&sim)
        .await
        .into_iter()
        .filter(|m| m["text"] == "稍后到")
        .count();
    assert_eq!(landed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_whose_data_directory_is_removed_ends() {
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    assert_eq!(place.run(&["daemon"]).await.status.code(), Some(0));
    let socket = place.socket().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The core may be writing a file in it meanwhile (its nick, its jar): removed again.
    while let Err(e) = std::fs::remove_dir_all(place.data.path()) {
        assert!(
            Instant::now() < deadline,
            "cannot remove the data directory: {e}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while socket.exists() || connections(&sim).await.0 != 0 {
        assert!(Instant::now() < deadline, "the core went on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// This program's version, as its core says it.
const OURS: &str = env!("CARGO_PKG_VERSION");
/// What the older core claims to be.
const OLD: &str = "0.0.1-old";

/// Starts a core that says it is of version [`OLD`] (same protocol) and waits until it is
/// live; its pid.
async fn an_older_core(place: &Place) -> u64 {
    let mut c = place.cmd(&["daemon"]);
    c.env("GOOFISH_CORE_VERSION", OLD);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = until_status(place, "live", |s| s["connection"]["state"] == "live").await;
    assert_eq!(status["version"], OLD, "{status}");
    status["pid"].as_u64().unwrap()
}

async fn until_status(place: &Place, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = place.status().await;
        if pred(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "no {what}: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until process `pid` has ended: after it let go of its lock, a core still puts out
/// its last lines and exits.
async fn until_ended(pid: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ended(pid) {
        assert!(Instant::now() < deadline, "the old core {pid} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether process `pid` has ended (a zombie has).
fn ended(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

async fn landed(sim: &SimHandle, said: &str) -> usize {
    crate::common::sim_received(sim)
        .await
        .iter()
        .filter(|m| m["text"] == said)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_without_a_terminal_uses_an_older_core_of_the_same_protocol_and_says_so_once() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let pid = an_older_core(&place).await;
    let out = place
        .run(&["send", "--to", &cid, "--text", "旧核心也能发"])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(text(&out.stdout).trim().ends_with(".PNM"));
    let said: Vec<&str> = err.lines().filter(|l| l.contains(OLD)).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].starts_with("goofish-tui send: the background core is goofish-tui 0.0.1-old")
            && said[0].contains(&format!("this is {OURS}"))
            && said[0].contains("--restart-core"),
        "{err}"
    );
    // The same core and its one connection did the work.
    assert_eq!(place.status().await["pid"].as_u64(), Some(pid));
    assert_eq!(connections(&sim).await, (1, 1));
    assert_eq!(landed(&sim, "旧核心也能发").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_core_replaces_an_older_core_and_the_text_it_kept_offline_is_sent_once() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let old = an_older_core(&place).await;
    // Offline: the service wants a slider check before it hands out a token, and the old
    // core will not look again for minutes.
    control(&sim, "fault", json!({"kind": "risk-control"})).await;
    until_status(&place, "risk control", |s| {
        s["connection"]["state"] == "risk_control"
    })
    .await;
    // The send is handed to the core, which keeps it in its outbox; the command itself
    // says why it cannot wait for it.
    let out = place
        .run(&[
            "send",
            "--to",
            &cid,
            "--text",
            "离线时写的",
            "--timeout",
            "5",
        ])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("slider check"), "{err}");
    assert_eq!(landed(&sim, "离线时写的").await, 0);
    control(&sim, "fault", json!({"kind": "clear"})).await;
    let before = connections(&sim).await.1;
    let out = place
        .run(&["--restart-core", "send", "--to", &cid, "--text", "重启之后"])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("restarted the background core: {OLD} → {OURS}")),
        "{err}"
    );
    assert!(!err.contains("using it as it is"), "{err}");
    // The old core is gone; a core of this version has a new connection, and the only one:
    // the old core's had closed before the new one started.
    until_ended(old).await;
    assert_eq!(connections(&sim).await.0, 1);
    let status = place.status().await;
    assert_eq!(status["version"], OURS, "{status}");
    assert_ne!(status["pid"].as_u64(), Some(old));
    assert!(connections(&sim).await.1 > before);
    // The text left in the old core's outbox goes out from the new one, once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while landed(&sim, "离线时写的").await == 0 {
        assert!(Instant::now() < deadline, "the kept text was never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(landed(&sim, "离线时写的").await, 1, "delivered once");
    assert_eq!(landed(&sim, "重启之后").await, 1);
    // A view of this version attaches to it without a word.
    let again = place.run(&["send", "--to", &cid, "--text", "好"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(!text(&again.stderr).contains("background core"));
}

/// Runs `c` with a terminal for its stdin and stderr (stdout stays a pipe), answers `answer`
/// to the question once it shows (`None`: Ctrl-C, as SIGINT); the exit code, stdout and what
/// the terminal showed.
fn on_a_terminal(
    mut c: std::process::Command,
    answer: Option<&str>,
) -> (Option<i32>, String, String) {
    use nix::fcntl::OFlag;
    use std::io::{Read, Write};
    // Both ends close on exec: no other process (a core the child starts, a process another
    // test starts meanwhile) keeps the terminal open after the child.
    let mut master =
        nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).unwrap();
    nix::pty::grantpt(&master).unwrap();
    nix::pty::unlockpt(&master).unwrap();
    let name = nix::pty::ptsname_r(&master).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name)
        .unwrap();
    c.stdin(slave.try_clone().unwrap()).stderr(slave);
    let child = c.spawn().unwrap();
    // The terminal ends for its reader once the child (its last user) is gone.
    drop(c);
    let mut shown = Vec::new();
    let mut answered = false;
    let mut buf = [0u8; 4096];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        shown.extend_from_slice(&buf[..n]);
        if !answered && String::from_utf8_lossy(&shown).contains("[Y/n]") {
            match answer {
                Some(a) => master.write_all(a.as_bytes()).unwrap(),
                None => {
                    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
                }
            }
            answered = true;
        }
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stdout), text(&shown))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_on_a_terminal_asks_n_keeps_the_older_core_and_y_restarts_it() {
    let sim = quiet_sim().await;
    let cid = a_conversation(&sim).await;
    let place = Place::new(&sim);
    let old = an_older_core(&place).await;
    let c = place.cmd(&["send", "--to", &cid, "--text", "先用旧的"]);
    let (code, stdout, shown) = tokio::task::spawn_blocking(move || on_a_terminal(c, Some("n\n")))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{shown}");
    assert!(stdout.trim().ends_with(".PNM"), "{stdout}");
    assert!(
        shown.contains(&format!(
            "The background core runs goofish-tui {OLD}; this is {OURS}. Restart it with this version?"
        )),
        "{shown}"
    );
    // Asked and answered: no notice besides.
    assert!(!shown.contains("using it as it is"), "{shown}");
    assert_eq!(place.status().await["pid"].as_u64(), Some(old));
    let c = place.cmd(&["send", "--to", &cid, "--text", "换新的"]);
    let (code, _, shown) = tokio::task::spawn_blocking(move || on_a_terminal(c, Some("y\n")))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains(&format!("restarted the background core: {OLD} → {OURS}")),
        "{shown}"
    );
    let status = place.status().await;
    assert_eq!(status["version"], OURS, "{status}");
    until_ended(old).await;
    assert_eq!(landed(&sim, "先用旧的").await, 1);
    assert_eq!(landed(&sim, "换新的").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_interrupted_at_the_question_ends_and_leaves_the_older_core_alone() {
    let sim = quiet_sim().await;
    let place = Place::new(&sim);
    let old = an_older_core(&place).await;
    let c = place.cmd(&["watch", "--json"]);
    let (code, stdout, shown) = tokio::task::spawn_blocking(move || on_a_terminal(c, None))
        .await
        .unwrap();
    // As a watch stopped by SIGINT at any other time.
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(stdout, "");
    assert!(shown.contains("[Y/n]"), "{shown}");
    let status = place.status().await;
    assert_eq!(status["pid"].as_u64(), Some(old), "{status}");
    assert_eq!(status["version"], OLD);
}
