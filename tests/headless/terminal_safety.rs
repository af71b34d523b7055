//! A buyer's text must never drive the seller's terminal: nicknames, item titles, messages and
//! the service's error texts with escape sequences, C1 controls, CR and bidi overrides go
//! through every command (the real binary, against the simulator or a hostile server) and
//! not one such character reaches stdout or stderr, while JSON output keeps the exact text.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::hostile;

use common::{control, sim_with};
use goofish_tui::protocol::encode::{PushItem, chat_message_item, sync_push_body};
use goofish_tui::protocol::{Cid, Content, Message, MessageId, Uid};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use hostile::{Answer, Hostile};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

/// Window title, clipboard write, screen clear, CR/LF, a bidi override and an isolate.
const NICK: &str =
    "买家\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\n小明\u{202e}gnp.exe\u{2066}";
/// 8-bit CSI and OSC, SGR, DEL.
const TITLE: &str = "相机\u{1b}[31m\u{9b}2J\u{9d}0;title\u{9c}\u{7f}";
/// A message with an OSC title, a bare CR over the line, NEL and a backspace.
const TEXT: &str = "MARKER 还在吗\u{1b}]0;pwned\u{7}\rfake line\u{85}\u{8}";

/// Characters a terminal acts on instead of showing (newline and tab are allowed).
fn active(c: char) -> bool {
    let u = u32::from(c);
    (u < 0x20 && c != '\n' && c != '\t')
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Fails when `bytes` hold anything the terminal would act on.
fn assert_inert(what: &str, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    if let Some((at, c)) = s.char_indices().find(|&(_, c)| active(c)) {
        let from = s.floor_char_boundary(at.saturating_sub(40));
        panic!(
            "{what}: {c:?} at byte {at} reaches the terminal, after {:?}",
            &s[from..at]
        );
    }
}

async fn quiet() -> SimHandle {
    sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await
}

/// The binary with a private data dir, no config, and the service at `http` / `ws`.
fn cmd(http: &str, ws: &str, cookie: &str, data: &Path) -> Command {
    let mut c = Command::new(BIN);
    // The session in the command's own process: these tests are about one command alone.
    c.env("GOOFISH_NO_DAEMON", "1");
    c.env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("GOOFISH_CONFIG", data.join("absent-config.toml"))
        .env("GOOFISH_DATA_DIR", data)
        .env("GOOFISH_COOKIE", cookie)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .args([
            "--mtop-url",
            http,
            "--passport-url",
            http,
            "--upload-url",
            http,
            "--ws-url",
            ws,
        ]);
    c
}

fn sim_cmd(sim: &SimHandle, data: &Path) -> Command {
    cmd(sim.http_url(), sim.ws_url(), sim.cookie(), data)
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// A running `watch`, its stdout lines on a channel and its raw output kept.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
}

impl Watch {
    fn start(mut c: Command) -> Watch {
        let mut child = c.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = std::thread::spawn(move || {
            let mut raw = Vec::new();
            let mut r = BufReader::new(out);
            loop {
                let mut l = Vec::new();
                match r.read_until(b'\n', &mut l) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        raw.extend_from_slice(&l);
                        let _ = tx.send(String::from_utf8_lossy(&l).trim_end().to_string());
                    }
                }
            }
            raw
        });
        let stderr = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        Watch {
            child,
            lines,
            seen: vec![],
            stderr,
            stdout,
        }
    }

    /// Waits for a line for which `pred` holds.
    async fn until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(25);
        loop {
            match self.lines.try_recv() {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(
                        Instant::now() < deadline,
                        "no {what} line; got {:#?}",
                        self.seen
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    panic!("watch ended before {what}; got {:#?}", self.seen)
                }
            }
        }
    }

    /// SIGTERM; the raw stdout and stderr.
    async fn terminate(mut self) -> (Vec<u8>, Vec<u8>) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        tokio::task::spawn_blocking(move || {
            let _ = self.child.wait();
            (self.stdout.join().unwrap(), self.stderr.join().unwrap())
        })
        .await
        .unwrap()
    }
}

/// Writes hostile messages from a new buyer (hostile nickname, about an item with a hostile
/// title) until `watch` shows one with the item's title; returns that line.
async fn hostile_buyer_writes(sim: &SimHandle, w: &mut Watch, title_in: impl Fn(&str) -> bool) {
    let first = control(
        sim,
        "incoming",
        json!({"from": "1000000999", "nick": NICK, "item_title": TITLE, "text": TEXT}),
    )
    .await;
    let cid = first["cid"]
        .as_str()
        .expect("incoming answered a cid")
        .to_string();
    w.until("the hostile message", |l| l.contains("MARKER"))
        .await;
    // The title is fetched after the first line: later lines carry it.
    for n in 0..40 {
        control(
            sim,
            "incoming",
            json!({"cid": cid, "text": format!("{TEXT} #{n}")}),
        )
        .await;
        let l = w
            .until("the next hostile message", |l| l.contains(&format!("#{n}")))
            .await;
        if title_in(&l) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the item title never showed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_lines_search_and_fetch_history_cannot_drive_the_terminal() {
    let sim = quiet().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = sim_cmd(&sim, dir.path());
    c.args(["watch", "--all"]);
    let mut w = Watch::start(c);
    w.until("connected", |l| l.contains("-- connected")).await;
    hostile_buyer_writes(&sim, &mut w, |l| l.contains("相机")).await;
    let shown = w
        .seen
        .iter()
        .find(|l| l.contains("MARKER"))
        .unwrap()
        .clone();
    let (stdout, stderr) = w.terminate().await;
    assert_inert("watch stdout", &stdout);
    assert_inert("watch stderr", &stderr);
    // What is harmless is still shown: the name, the title, the words.
    assert!(
        shown.contains("pwned") && shown.contains("小明") && shown.contains("还在吗"),
        "{shown}"
    );

    // The same texts from the local history, as lines and as JSON.
    let mut c = sim_cmd(&sim, dir.path());
    c.args(["search", "MARKER"]);
    let out = output(c).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_inert("search stdout", &out.stdout);
    assert_inert("search stderr", &out.stderr);
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.contains("小明") && lines.contains("还在吗"),
        "{lines}"
    );

    let mut c = sim_cmd(&sim, dir.path());
    c.args(["search", "MARKER", "--json"]);
    let out = output(c).await;
    assert_inert("search --json stdout", &out.stdout);
    let hits: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!hits.is_empty());
    for h in &hits {
        assert_eq!(h["sender_nick"], NICK, "{h}");
        assert!(h["text"].as_str().unwrap().starts_with(TEXT), "{h}");
    }

    let mut c = sim_cmd(&sim, dir.path());
    c.args(["fetch-history", "--pause", "0"]);
    let out = output(c).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_inert("fetch-history stdout", &out.stdout);
    assert_inert("fetch-history stderr", &out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("小明"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_json_keeps_the_exact_text_escaped() {
    let sim = quiet().await;
    let dir = tempfile::tempdir().unwrap();
    let exec_log = dir.path().join("exec.jsonl");
    let mut c = sim_cmd(&sim, dir.path());
    c.args([
        "watch",
        "--json",
        "--exec",
        &format!("cat >> '{}'", exec_log.display()),
    ]);
    let mut w = Watch::start(c);
    w.until("live", |l| l.contains("\"live\"")).await;
    hostile_buyer_writes(&sim, &mut w, |l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| v["item_title"] == TITLE)
    })
    .await;
    let (stdout, stderr) = w.terminate().await;
    assert_inert("watch --json stdout", &stdout);
    assert_inert("watch --json stderr", &stderr);
    let messages: Vec<Value> = String::from_utf8_lossy(&stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "message")
        .collect();
    assert!(!messages.is_empty());
    for m in &messages {
        assert_eq!(m["sender_nick"], NICK, "{m}");
    }
    // The hook gets the same exact text.
    let deadline = Instant::now() + Duration::from_secs(10);
    let execs = loop {
        let got = std::fs::read_to_string(&exec_log).unwrap_or_default();
        if got.lines().count() >= messages.len() || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first: Value = serde_json::from_str(execs.lines().next().unwrap()).unwrap();
    assert_eq!(first["sender_nick"], NICK);
}

#[test]
fn decode_summary_and_tree_cannot_drive_the_terminal() {
    let me = Uid::new("2200000000401");
    let msg = Message {
        id: MessageId::new("3400000000399.PNM"),
        cid: Cid::new("40000000201"),
        sender: Uid::new("1000000101"),
        is_self: false,
        time: 1_742_458_817_389,
        content: Content::Text { text: TEXT.into() },
        item_id: Some("900000000601".into()),
        sender_nick: Some(NICK.into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    };
    let body = sync_push_body(
        &[PushItem {
            biz_type: 40000,
            data: chat_message_item(&msg, &me),
        }],
        1,
        None,
    );
    for args in [&[][..], &["--json"][..]] {
        let mut child = Command::new(BIN)
            .arg("decode")
            .args(["--self-uid", me.as_str()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = body.to_string();
        let mut sin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || sin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_inert(&format!("decode {args:?} stdout"), &out.stdout);
        assert_inert(&format!("decode {args:?} stderr"), &out.stderr);
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        if args.is_empty() {
            assert!(s.contains("pwned") && s.contains("还在吗"), "{s}");
        } else {
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v["items"][0]["event"]["sender_nick"], NICK, "{v}");
        }
    }
}

/// Every mtop call is answered with risk control and a punish URL that holds escapes.
async fn risk_control_server() -> Hostile {
    Hostile::start(|_| {
        Answer::json(
            200,
            &json!({
                "api": "mtop.x", "v": "1.0",
                "ret": ["FAIL_SYS_USER_VALIDATE", "RGV587_ERROR::SM::\u{1b}]0;pwned\u{7}"],
                "data": {"url": "https://h5api.m.goofish.com/punish?x5secdata=\u{1b}]52;c;cm0=\u{7}\u{1b}[2J\r\u{9b}1A\u{202e}"}
            }),
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_texts_from_the_service_cannot_drive_the_terminal() {
    let server = risk_control_server().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let cookie = "unb=2200000000401; cookie2=abc";
    let run = |args: &'static [&'static str]| {
        let mut c = cmd(&url, "ws://127.0.0.1:9/", cookie, dir.path());
        c.args(args);
        output(c)
    };
    for args in [
        &["doctor", "--timeout", "5"][..],
        &["send", "--to", "1", "--text", "hi", "--timeout", "10"][..],
        &["watch"][..],
        &["fetch-history"][..],
    ] {
        let out = run(args).await;
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {all}");
        assert!(
            all.contains("x5secdata="),
            "{args:?} names the check page: {all}"
        );
        assert_inert(&format!("{args:?} stdout"), &out.stdout);
        assert_inert(&format!("{args:?} stderr"), &out.stderr);
    }
}
