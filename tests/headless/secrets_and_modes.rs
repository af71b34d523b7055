//! Secrets never reach stderr, even at `RUST_LOG=trace` (the WebSocket and HTTP crates dump
//! frames and headers there), and what the program keeps on disk is private: folders 0700,
//! files 0600.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_with};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use goofish_tui::store::Store;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

async fn quiet() -> SimHandle {
    sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 3,
        history: 2,
        ..SimOptions::default()
    })
    .await
}

/// The login cookies alone: the service then sets the signing pair on the first call, so
/// rotated cookies reach the jar (and must stay out of the logs).
fn without_signing_pair(cookie: &str) -> String {
    cookie
        .split(';')
        .map(str::trim)
        .filter(|p| !p.starts_with("_m_h5_tk"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn cmd(sim: &SimHandle, data: &Path, rust_log: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    // The session in the command's own process: these tests are about one command alone.
    c.env("GOOFISH_NO_DAEMON", "1");
    c.env("GOOFISH_CONFIG", data.join("absent-config.toml"))
        .env("GOOFISH_DATA_DIR", data)
        .env("GOOFISH_COOKIE", without_signing_pair(sim.cookie()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .args([
            "--mtop-url",
            sim.http_url(),
            "--passport-url",
            sim.http_url(),
            "--upload-url",
            sim.http_url(),
            "--ws-url",
            sim.ws_url(),
        ]);
    match rust_log {
        Some(l) => c.env("RUST_LOG", l),
        None => c.env_remove("RUST_LOG"),
    };
    c
}

/// A running `watch --json` that has received one buyer message; `while_running` is called
/// then, and the stderr of the whole run is returned.
async fn watch_one_message(
    sim: &SimHandle,
    data: &Path,
    rust_log: Option<&str>,
    while_running: impl FnOnce(),
) -> String {
    let mut child = cmd(sim, data, rust_log)
        .args(["watch", "--json"])
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(25);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(what) => break,
                Ok(_) => {}
                Err(e) => panic!("no line with {what}: {e}"),
            }
        }
    };
    tokio::task::block_in_place(|| wait_for("\"live\""));
    control(sim, "incoming", json!({"text": "私密的话"})).await;
    tokio::task::block_in_place(|| wait_for("私密的话"));
    // The message is in the store once it is shown; the store commits right after.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while_running();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::task::block_in_place(|| child.wait()).unwrap();
    stderr.join().unwrap()
}

async fn run(c: Command) -> (Option<i32>, String) {
    let mut c = c;
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} holds a secret ({} chars, starting {:?})",
            s.len(),
            s.get(..4).unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_watch_send_and_doctor_hold_no_token_or_cookie() {
    let sim = quiet().await;
    let dir = tempfile::tempdir().unwrap();
    let watch = watch_one_message(&sim, dir.path(), Some("trace"), || {}).await;
    let mut send = cmd(&sim, dir.path(), Some("trace"));
    send.args([
        "send",
        "--peer",
        "1000000999",
        "--text",
        "好的",
        "--timeout",
        "20",
    ]);
    let (code, send) = run(send).await;
    assert_eq!(code, Some(0), "{send}");
    let mut doctor = cmd(&sim, dir.path(), Some("trace"));
    doctor.args(["doctor", "--timeout", "10"]);
    let (_, doctor) = run(doctor).await;

    let secrets: Vec<String> = sim.secrets().into_iter().filter(|s| s.len() >= 8).collect();
    // One token per run at least, the signing tokens, and the login cookie's values.
    assert!(secrets.len() >= 6, "{} secrets", secrets.len());
    for (what, text) in [("watch", &watch), ("send", &send), ("doctor", &doctor)] {
        // Trace is on: the program's own trace lines are there.
        assert!(
            text.contains("TRACE"),
            "{what} logged no trace line:\n{text}"
        );
        assert_no_secret(what, text, &secrets);
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_jar_and_device_id_are_private_in_a_private_folder() {
    let sim = quiet().await;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("goofish-tui");
    let store = data.join(format!("store-{}.sqlite3", sim.self_uid));
    let modes = std::sync::Mutex::new(Vec::new());
    watch_one_message(&sim, &data, None, || {
        // While the store is open, its WAL and shared-memory files exist.
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{}{suffix}", store.display());
            modes.lock().unwrap().push((p.clone(), mode(Path::new(&p))));
        }
    })
    .await;
    let mut modes = modes.into_inner().unwrap();
    modes.push(("data dir".into(), mode(&data)));
    for (p, m) in &modes {
        let want = if p == "data dir" { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{p} is {m:o}");
    }
    // The cookie jar (rotated signing cookies) and the device id.
    for f in ["cookies.json", "device_id"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}

#[test]
fn a_store_left_readable_by_an_older_version_is_made_private() {
    let dir = tempfile::tempdir().unwrap();
    let uid = goofish_tui::protocol::Uid::new("2200000001");
    let s = Store::open(dir.path(), &uid).unwrap();
    let path = s.path().unwrap().to_path_buf();
    let side = |suffix: &str| format!("{}{suffix}", path.display());
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(Path::new(&side(suffix))), 0o600, "{suffix}");
    }
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let p = side(suffix);
        if Path::new(&p).exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let _s = Store::open(dir.path(), &uid).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(Path::new(&side(suffix))), 0o600, "{suffix}");
    }
}
