//! What receiving costs, end to end: the simulator (a process of its own, so its work is not
//! counted) bursts buyer messages at a receiver, and the receiver's CPU time for the burst is
//! divided by the messages it got. Two receivers:
//!
//! - `watch --json`: the real binary, its session, its local history in a temp dir, its
//!   output into a pipe; done when every message line is out and the store holds them all.
//! - the TUI: the UI runtime on a test terminal with the session and the store, in this
//!   process (its CPU read from the same clock as `watch`'s); a key pressed during the burst
//!   must be answered.
//!
//! A third, when `GOOFISH_CLIENT_DIR` names a directory where the npm package
//! `goofish-client` is installed: that TypeScript client on the same burst, side by side.
//! After its burst, `watch` is also timed from push to output while idle (p50/p99).
//!
//! `cargo bench --bench receive_cost`; `RECEIVE_COUNT` (default 20,000) and
//! `RECEIVE_CONVERSATIONS` (50) set the burst, `LATENCY_ROUNDS` (200) the idle pushes,
//! `RECEIVE_ROUNDS` (3) how often each receiver takes the burst, in turn with the others.
//! Prints one JSON object per receiver, its median round, and with the peer a last one: each
//! receiver's CPU per message as a share of the peer's.
#![allow(clippy::unwrap_used)]

use goofish_tui::app::{AppState, Input, UiOptions};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::im::conn::ConnConfig;
use goofish_tui::im::cookies::CookieJar;
use goofish_tui::im::mtop::{Endpoints, MtopClient};
use goofish_tui::im::session::{self, DeviceSource, SessionConfig};
use goofish_tui::store::{Store, StoreHandle};
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The simulator as a child process: its endpoints and cookie.
struct SimProcess {
    child: Child,
    info: Value,
}

impl SimProcess {
    fn start(conversations: usize) -> SimProcess {
        let mut child = Command::new(BIN)
            .args([
                "sim",
                "--scenario",
                "quiet",
                "--conversations",
                &(conversations + 1).to_string(),
                "--history",
                "2",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        SimProcess {
            child,
            info: serde_json::from_str(&line).unwrap(),
        }
    }

    fn field(&self, k: &str) -> &str {
        self.info[k].as_str().unwrap()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/{path}", self.field("control"));
        let resp = reqwest::Client::new().post(url).json(&body).send().await;
        match resp {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn state(&self) -> Value {
        let url = format!("{}/state", self.field("control"));
        match reqwest::get(url).await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system, every thread, those ended too) of a process, from its CPU
/// clock: nanoseconds, where `/proc/PID/stat` counts in ticks of 10 ms, too coarse for a
/// burst that costs tens of milliseconds.
fn proc_cpu(pid: u32) -> f64 {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return 0.0;
    };
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid, writable clockid_t.
    if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
        return 0.0;
    }
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
        return 0.0;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// CPU microseconds per message, to a hundredth.
fn us_per_message(cpu_s: f64, messages: usize) -> f64 {
    (cpu_s * 1e6 / messages.max(1) as f64 * 100.0).round() / 100.0
}

/// The CPU per message a receiver's report gives.
fn reported_us(report: &Value) -> Option<f64> {
    report["cpu_us_per_message"].as_f64()
}

/// `receiver`'s CPU per message as a share of the peer's, to a hundredth.
fn share_of_peer(receiver: &Value, peer: &Value) -> Value {
    let per = |v: &Value| reported_us(v).filter(|x| *x > 0.0);
    match (per(receiver), per(peer)) {
        (Some(r), Some(p)) => json!((r / p * 100.0).round() / 100.0),
        _ => Value::Null,
    }
}

/// Messages stored in the database at `db`, read through a reader connection of its own.
fn count_rows(db: &std::path::Path, uid: &goofish_tui::protocol::Uid) -> u64 {
    Store::open_reader(db, uid)
        .and_then(|s| s.message_count())
        .unwrap_or(0)
}

/// Peak resident memory of a process in MB, from /proc.
fn proc_peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds of this whole process (every thread).
fn self_cpu() -> f64 {
    proc_cpu(std::process::id())
}

async fn watch(count: usize, conversations: usize) -> Value {
    let sim = SimProcess::start(conversations);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env("GOOFISH_NO_DAEMON", "1")
        .env("GOOFISH_COOKIE", sim.field("cookie"))
        .env("GOOFISH_CONFIG", dir.path().join("absent.toml"))
        .env("GOOFISH_DATA_DIR", dir.path())
        .args([
            "--mtop-url",
            sim.field("http"),
            "--passport-url",
            sim.field("http"),
        ])
        .args([
            "--upload-url",
            sim.field("http"),
            "--ws-url",
            sim.field("ws"),
        ])
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut messages = 0usize;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains("\"type\":\"connection\"") && line.contains("\"live\"") {
                let _ = tx.send(usize::MAX);
            } else if line.contains("\"type\":\"message\"") {
                messages += 1;
                let _ = tx.send(messages);
            }
            line.clear();
        }
    });
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let next = |rx: &std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<usize>>>, secs| {
        rx.lock().unwrap().recv_timeout(Duration::from_secs(secs))
    };
    while next(&rx, 30).unwrap() != usize::MAX {}
    // Settled: the first list and its writes are done.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let uid = goofish_tui::protocol::Uid::new(sim.field("self_uid"));
    let db = goofish_tui::store::db_path(dir.path(), &uid).unwrap();
    let stored_before = count_rows(&db, &uid);
    let cpu0 = proc_cpu(pid);
    let started = Instant::now();
    let burst = json!({"count": count, "conversations": conversations});
    let answer = sim.control("burst", burst).await;
    assert_eq!(answer["count"], count, "{answer}");
    let waiter = {
        let rx = rx.clone();
        tokio::task::spawn_blocking(move || {
            let mut seen = 0;
            while seen < count {
                match next(&rx, 60) {
                    Ok(n) if n != usize::MAX => seen = n,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            seen
        })
    };
    let seen = waiter.await.unwrap();
    let printed = started.elapsed().as_secs_f64();
    // Done when every message is also stored (and so searchable): the store's own count,
    // read beside the running program.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_rows(&db, &uid) < stored_before + count as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = proc_cpu(pid) - cpu0;
    let peak = proc_peak_mb(pid);
    let latency = idle_latency(&sim, &rx, seen).await;
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    let stored = Store::open(dir.path(), &uid)
        .and_then(|s| s.message_count())
        .unwrap_or(0);
    json!({
        "receiver": "watch --json",
        "messages": seen,
        "stored_messages": stored,
        "cpu_ms": (cpu * 1000.0).round(),
        "cpu_us_per_message": us_per_message(cpu, seen),
        "messages_per_s": (seen as f64 / elapsed).round(),
        "printed_after_s": (printed * 100.0).round() / 100.0,
        "stored_after_s": (elapsed * 100.0).round() / 100.0,
        "peak_rss_mb": (peak * 10.0).round() / 10.0,
        "idle_push_to_output_ms": latency,
        "sim_unacked": sim.state().await["pushes_unacked"],
    })
}

type Lines = std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<usize>>>;

/// Push-to-output latency while idle: single messages a quarter second apart, each timed
/// from the simulator's control call to the line on the receiver's stdout.
async fn idle_latency(sim: &SimProcess, rx: &Lines, mut seen: usize) -> Value {
    let rounds = env_or("LATENCY_ROUNDS", 200);
    let client = reqwest::Client::new();
    let url = format!("{}/incoming", sim.field("control"));
    let mut ms = Vec::with_capacity(rounds);
    for i in 0..rounds {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let sent = Instant::now();
        let body = json!({"from": "1000000101", "text": format!("在吗 {i}")});
        if client.post(&url).json(&body).send().await.is_err() {
            break;
        }
        let rx = rx.clone();
        let got = tokio::task::spawn_blocking(move || {
            let rx = rx.lock().unwrap();
            loop {
                match rx.recv_timeout(Duration::from_secs(10)) {
                    Ok(n) if n != usize::MAX && n > seen => return Some(n),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .unwrap();
        match got {
            Some(n) => {
                seen = n;
                ms.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            None => break,
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i)
            .map_or(Value::Null, |v| json!((v * 100.0).round() / 100.0))
    };
    json!({"rounds": ms.len(), "p50": at(0.5), "p99": at(0.99), "max": at(1.0)})
}

/// The TypeScript client `goofish-client` from npm on the same burst, decoding and
/// formatting every message (it stores nothing). Its directory (holding `node_modules`) comes
/// in `GOOFISH_CLIENT_DIR`; without it this receiver is skipped with a notice.
async fn peer(count: usize, conversations: usize) -> Option<Value> {
    let Ok(dir) = std::env::var("GOOFISH_CLIENT_DIR") else {
        eprintln!(
            "goofish-client skipped: `npm install goofish-client` in a directory outside the \
             repository and set GOOFISH_CLIENT_DIR to it"
        );
        return None;
    };
    let sim = SimProcess::start(conversations);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/peer/goofish_client_receiver.js"
    );
    let mut child = Command::new("node")
        .env("GOOFISH_CLIENT_DIR", &dir)
        .arg(script)
        .arg(sim.info.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let n = match line.strip_prefix("count ") {
                Some(n) => n.parse().unwrap_or(0),
                None if line == "live" => usize::MAX,
                None => continue,
            };
            let _ = tx.send(n);
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)) != Ok(usize::MAX) {
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("goofish-client did not go live");
        return None;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cpu0 = proc_cpu(pid);
    let started = Instant::now();
    let answer = sim
        .control(
            "burst",
            json!({"count": count, "conversations": conversations}),
        )
        .await;
    assert_eq!(answer["count"], count, "{answer}");
    let mut seen = 0;
    while seen < count {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(n) if n != usize::MAX => seen = n,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = proc_cpu(pid) - cpu0;
    let peak = proc_peak_mb(pid);
    let _ = child.kill();
    let _ = child.wait();
    Some(json!({
        "receiver": "goofish-client (TypeScript, npm), decode + format, no storage",
        "messages": seen,
        "cpu_ms": (cpu * 1000.0).round(),
        "cpu_us_per_message": us_per_message(cpu, seen),
        "messages_per_s": (seen as f64 / elapsed).round(),
        "peak_rss_mb": (peak * 10.0).round() / 10.0,
    }))
}

async fn tui(count: usize, conversations: usize) -> Value {
    let sim = SimProcess::start(conversations);
    {
        let dir = tempfile::tempdir().unwrap();
        let uid = goofish_tui::protocol::Uid::new(sim.field("self_uid"));
        let store = StoreHandle::new(Store::open(dir.path(), &uid).unwrap());
        let mtop = MtopClient::new(
            Endpoints::at(url::Url::parse(sim.field("http")).unwrap()),
            CookieJar::parse_header(sim.field("cookie")),
            None,
        )
        .unwrap();
        let conn = ConnConfig {
            ws_url: sim.field("ws").to_string(),
            ..ConnConfig::default()
        };
        let did = goofish_tui::im::device::generate_device_id(&uid);
        let mut cfg = SessionConfig::new(conn, DeviceSource::Fixed(did));
        cfg.store = Some(store.clone());
        let mut session = session::spawn(cfg, mtop);
        let (state, _) = AppState::new(
            &UiOptions::default(),
            chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
            goofish_tui::time::now_ms(),
        );
        let mut ui =
            Runtime::new(TestBackend::new(120, 40), state, session.commands.clone()).unwrap();
        ui.attach_store(Some(store.clone()), None).await;
        ui.dispatch(Input::Resize {
            width: 120,
            height: 40,
        })
        .await;
        session
            .commands
            .send(ImCommand::ListConversations)
            .await
            .unwrap();
        let mut live = false;
        let mut listed = false;
        while !(live && listed) {
            match session.events.recv().await {
                Some(ev) => {
                    live |= matches!(ev, ImEvent::Connection(ConnState::Live));
                    listed |= matches!(ev, ImEvent::Conversations(_));
                    ui.dispatch(Input::Im(ev)).await;
                }
                None => panic!("session ended"),
            }
        }
        ui.draw_if_dirty().unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        while let Ok(ev) = session.events.try_recv() {
            ui.dispatch(Input::Im(ev)).await;
        }
        ui.draw_if_dirty().unwrap();
        let burst_url = format!("{}/burst", sim.field("control"));
        let cpu0 = self_cpu();
        let draws0 = ui.draws();
        let started = Instant::now();
        let burst = tokio::spawn(
            reqwest::Client::new()
                .post(burst_url)
                .json(&json!({"count": count, "conversations": conversations}))
                .send(),
        );
        let mut received = 0usize;
        let mut key_at = None;
        let mut key_answered_after = None;
        while received < count {
            let ev =
                match tokio::time::timeout(Duration::from_secs(60), session.events.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => break,
                };
            if matches!(ev, ImEvent::Message(_)) {
                received += 1;
            }
            ui.dispatch(Input::Im(ev)).await;
            // Frames as the runtime folds them: whatever waits is taken first.
            while let Ok(ev) = session.events.try_recv() {
                if matches!(ev, ImEvent::Message(_)) {
                    received += 1;
                }
                ui.dispatch(Input::Im(ev)).await;
            }
            if received >= count / 2 && key_at.is_none() {
                // A key in the middle of the burst: the next frame shows it.
                key_at = Some(ui.draws());
                ui.dispatch(Input::Key(ratatui::crossterm::event::KeyEvent::new(
                    ratatui::crossterm::event::KeyCode::Char('j'),
                    ratatui::crossterm::event::KeyModifiers::NONE,
                )))
                .await;
            }
            ui.draw_if_dirty().unwrap();
            if key_at.is_some() && key_answered_after.is_none() {
                key_answered_after = key_at.map(|k| ui.draws() - k);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let _ = burst.await;
        ui.settle().await;
        let cpu = self_cpu() - cpu0;
        let stored = store.call(|s| s.message_count()).await.unwrap_or(0);
        json!({
            "receiver": "tui (runtime on a test terminal)",
            "messages": received,
            "stored_messages": stored,
            "cpu_ms": (cpu * 1000.0).round(),
            "cpu_us_per_message": us_per_message(cpu, received),
            "messages_per_s": (received as f64 / elapsed).round(),
            "frames": ui.draws() - draws0,
            "key_answered_in_frames": key_answered_after,
            "peak_rss_mb": (proc_peak_mb(std::process::id()) * 10.0).round() / 10.0,
        })
    }
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"receive_cost".contains(a.as_str()))
    {
        return;
    }
    let count = env_or("RECEIVE_COUNT", 20_000);
    let conversations = env_or("RECEIVE_CONVERSATIONS", 50);
    let rounds = env_or("RECEIVE_ROUNDS", 3).max(1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Receivers take turns, round after round, so that a slow spell of the machine falls on
    // all of them; each is reported by its median round.
    let (mut peers, mut watches, mut tuis) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        if let Some(p) = rt.block_on(peer(count, conversations)) {
            peers.push(p);
        }
        watches.push(rt.block_on(watch(count, conversations)));
        tuis.push(rt.block_on(tui(count, conversations)));
    }
    let peer = median_round(peers);
    let watch = median_round(watches);
    let tui = median_round(tuis);
    for v in [&peer, &watch, &tui].into_iter().flatten() {
        println!("{v}");
    }
    if let (Some(peer), Some(watch), Some(tui)) = (&peer, &watch, &tui) {
        let shares = json!({
            "share_of_peer_cpu": {
                "watch --json": share_of_peer(watch, peer),
                "tui": share_of_peer(tui, peer),
            }
        });
        println!("{shares}");
    }
}

/// The round with the median CPU per message, with every round's figure beside it.
fn median_round(mut rounds: Vec<Value>) -> Option<Value> {
    let per = |v: &Value| reported_us(v).unwrap_or(f64::MAX);
    rounds.sort_by(|a, b| per(a).total_cmp(&per(b)));
    let all: Vec<f64> = rounds.iter().map(per).collect();
    let mut median = rounds.into_iter().nth(all.len() / 2)?;
    median["rounds_cpu_us_per_message"] = json!(all);
    Some(median)
}
