//! The background core: views (the real binary) attach to one core per data directory, which
//! holds the only connection of the account; it survives its views, and its views survive it.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common::{control, quiet_sim, sim_state};
use goofish_tui::sim::SimHandle;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

/// A data directory and a runtime directory of its own: one core, private to the test. It
/// is stopped when the test ends.
pub struct Place {
    pub data: tempfile::TempDir,
    pub run: tempfile::TempDir,
    pub sim_args: Vec<String>,
    pub cookie: String,
}

impl Place {
    pub fn new(sim: &SimHandle) -> Place {
        Place {
            data: tempfile::tempdir().unwrap(),
            run: tempfile::Builder::new()
                .prefix("gt")
                .tempdir_in("/tmp")
                .unwrap(),
            sim_args: [
                "--mtop-url",
                sim.http_url(),
                "--passport-url",
                sim.http_url(),
                "--ws-url",
                sim.ws_url(),
                "--upload-url",
                sim.http_url(),
            ]
            .map(str::to_string)
            .to_vec(),
            cookie: sim.cookie().to_string(),
        }
    }

    /// The binary with these directories, pointed at the simulator.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        for k in [
            "GOOFISH_MTOP_URL",
            "GOOFISH_PASSPORT_URL",
            "GOOFISH_WS_URL",
            "GOOFISH_UPLOAD_URL",
            "GOOFISH_NO_DAEMON",
            "RUST_LOG",
            "LC_ALL",
            "LC_MESSAGES",
        ] {
            c.env_remove(k);
        }
        c.env("LANG", "C.UTF-8")
            .env(
                "GOOFISH_CONFIG",
                self.data.path().join("absent-config.toml"),
            )
            .env("GOOFISH_DATA_DIR", self.data.path())
            .env("XDG_RUNTIME_DIR", self.run.path())
            .env("GOOFISH_COOKIE", &self.cookie)
            .args(&self.sim_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.run.path().join("goofish-tui")
    }

    /// The socket file of the core.
    pub fn socket(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.socket_dir())
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "sock"))
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    /// `daemon --status --json`.
    pub async fn status(&self) -> Value {
        let out = self.run(&["daemon", "--status", "--json"]).await;
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = self.cmd(&["daemon", "--stop"]).output();
    }
}

/// A running view whose stdout lines arrive on a channel.
pub struct Lines {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub fn start(mut c: Command) -> Lines {
        let mut child = c.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Lines {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a JSON line matching `pred`.
    pub async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.lines.try_recv() {
                Ok(l) => {
                    self.seen.push(l.clone());
                    let v: Value = serde_json::from_str(&l).unwrap_or(Value::Null);
                    if pred(&v) {
                        return v;
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "no {what}; got {:#?}", self.seen);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    panic!("the view ended before {what}; got {:#?}", self.seen)
                }
            }
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
