//! A background core private to one test: its own data and runtime directories, views run
//! as the real binary, and the core stopped when the test ends.
#![allow(clippy::unwrap_used, dead_code)]

use goofish_tui::config::{Env, GivenCookie, Layer, Settings, Sources};
use goofish_tui::secret::Secret;
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use serde_json::Value;
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
            "GOOFISH_COOKIE",
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
            .args(&self.sim_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // No cookie given: the views use the logins saved in the data directory.
        if !self.cookie.is_empty() {
            c.env("GOOFISH_COOKIE", &self.cookie);
        }
        c
    }

    /// The settings a view in the test's own process runs on: the same as the binary's.
    pub fn settings(&self) -> Settings {
        let url = |i: usize| Some(self.sim_args[i].clone());
        let flags = Layer {
            config_file: Some(self.data.path().join("absent-config.toml")),
            data_dir: Some(self.data.path().to_path_buf()),
            mtop_url: url(1),
            passport_url: url(3),
            ws_url: url(5),
            upload_url: url(7),
            // None: the views use the logins saved here.
            cookie: (!self.cookie.is_empty())
                .then(|| GivenCookie::header("GOOFISH_COOKIE", Secret::new(self.cookie.clone()))),
            runtime_dir: Some(self.socket_dir()),
            // A view in the test's process starts the real program as its core.
            core_program: Some(BIN.into()),
            ..Layer::default()
        };
        let env = Env::from_lookup(|_| None);
        Sources { flags, env }.resolve().unwrap()
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

/// The names of the views a status (or one account of it) lists.
pub fn view_names(status: &Value) -> Vec<&str> {
    status["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["view"].as_str().unwrap())
        .collect()
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

// ---- several sellers, each logged in here ----

pub async fn two_sellers() -> SimHandle {
    super::sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 4,
        history: 2,
        qr_auto_confirm: Some(Duration::from_millis(400)),
        sellers: 2,
        ..SimOptions::default()
    })
    .await
}

/// A place whose views use the logins saved in it (no cookie given).
pub fn saved_logins(sim: &SimHandle) -> Place {
    let mut place = Place::new(sim);
    place.cookie.clear();
    place
}

/// Two sellers, the first logged in here: the simulator, the place and their uids.
pub async fn first_logged_in() -> (SimHandle, Place, String, String) {
    let sim = two_sellers().await;
    let first = sim.self_uid.to_string();
    let second = sim.others()[0].uid.clone();
    let place = saved_logins(&sim);
    login(&sim, &place, &first).await;
    (sim, place, first, second)
}

/// Two sellers, both logged in here (the first, then the second).
pub async fn two_logged_in() -> (SimHandle, Place, String, String) {
    let (sim, place, first, second) = first_logged_in().await;
    login(&sim, &place, &second).await;
    (sim, place, first, second)
}

/// `login` as seller `uid` (its phone scans the code).
pub async fn login(sim: &SimHandle, place: &Place, uid: &str) {
    assert!(sim.log_in_as(uid));
    let out = place.run(&["login", "--timeout", "30"]).await;
    let said = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out.stderr));
    assert!(said(&out.stdout).contains(uid), "{}", said(&out.stdout));
}
