//! Settings as a user gives them: the config file's `data_dir`, and the flags that override it,
//! decide where the program keeps its files; a flag value it does not know is refused.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_received, sim_with};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

/// The binary with `home` as its home directory and only the config file `config`: nothing
/// else says where the data goes.
fn cmd(home: &Path, config: &Path) -> Command {
    let mut c = Command::new(BIN);
    // The session in the command's own process: these tests are about one command alone.
    c.env("GOOFISH_NO_DAEMON", "1");
    for k in [
        "GOOFISH_MTOP_URL",
        "GOOFISH_PASSPORT_URL",
        "GOOFISH_WS_URL",
        "GOOFISH_UPLOAD_URL",
        "GOOFISH_DATA_DIR",
        "GOOFISH_COOKIE",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_CONFIG_HOME",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c.env("HOME", home)
        .env("GOOFISH_CONFIG", config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A config file for `sim` with the given extra lines.
fn write_config(path: &Path, sim: &SimHandle, extra: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let url = sim.http_url();
    std::fs::write(
        path,
        format!(
            "mtop_url = \"{url}\"\npassport_url = \"{url}\"\nupload_url = \"{url}\"\nws_url = \"{}\"\n{extra}\n",
            sim.ws_url()
        ),
    )
    .unwrap();
}

/// The files of the data dir a send leaves: the device id and the local history.
fn data_files(dir: &Path, uid: &str) -> Vec<PathBuf> {
    vec![
        dir.join("device_id"),
        dir.join(format!("store-{uid}.sqlite3")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_data_dir_holds_jar_device_id_and_history() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 2,
        history: 1,
        qr_auto_confirm: Some(std::time::Duration::from_millis(300)),
        ..SimOptions::default()
    })
    .await;
    let uid = sim.self_uid.to_string();
    let cid = control(&sim, "incoming", json!({"text": "还在吗"})).await["cid"]
        .as_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let config = tmp.path().join("etc/config.toml");
    let send = |text: &str, extra: &[&str]| {
        let mut c = cmd(&home, &config);
        c.args(extra).args(["send", "--to", &cid, "--text", text]);
        c
    };

    // A relative one is next to the config file, wherever the program is started from.
    let cookie = format!("cookie = {:?}", sim.cookie());
    write_config(&config, &sim, &format!("{cookie}\ndata_dir = \"state\""));
    std::fs::create_dir_all(&home).unwrap();
    let mut c = send("一", &[]);
    c.current_dir(&home);
    let out = output(c).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in data_files(&tmp.path().join("etc/state"), &uid) {
        assert!(f.is_file(), "{} is missing", f.display());
    }
    assert!(!home.join("state").exists());

    // `--data-dir` overrides the file.
    let flag = tmp.path().join("from-flag");
    let out = output(send("二", &["--data-dir", flag.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in data_files(&flag, &uid) {
        assert!(f.is_file(), "{} is missing", f.display());
    }
    assert!(!home.join(".local/share/goofish-tui").exists());

    // An absolute data_dir: the login (a QR code the simulator confirms; it starts a new
    // session, so this comes last) is saved there, and a send with no cookie given finds it.
    let absolute = tmp.path().join("goofish data");
    write_config(
        &config,
        &sim,
        &format!("data_dir = {:?}", absolute.to_str().unwrap()),
    );
    let mut login = cmd(&home, &config);
    login.args(["login", "--timeout", "30"]);
    let out = output(login).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(absolute.join("cookies.json").is_file());
    let out = output(send("三", &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in data_files(&absolute, &uid) {
        assert!(f.is_file(), "{} is missing", f.display());
    }
    // Nothing went to the default place in the home directory.
    assert!(!home.join(".local/share/goofish-tui").exists());
    let got = sim_received(&sim).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    sim.shutdown().await;
}

#[test]
fn an_unknown_language_is_refused_with_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["--lang", "fr"][..],
        &["--lang", "fr", "decode"],
        &["watch", "--lang", "de"],
    ] {
        let out = cmd(tmp.path(), &tmp.path().join("absent.toml"))
            .args(args)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("[possible values: zh, en, auto]"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_names_the_service_and_a_flag_overrides_it() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 1,
        history: 1,
        ..SimOptions::default()
    })
    .await;
    let cid = control(&sim, "incoming", json!({"text": "在吗"})).await["cid"]
        .as_str()
        .unwrap()
        .to_string();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let data = tmp.path().join("data");
    let url = sim.http_url().to_string();
    let send = |text: &str, ws: &str, extra: &[&str]| {
        let mut c = cmd(&home, &tmp.path().join("absent.toml"));
        for k in [
            "GOOFISH_MTOP_URL",
            "GOOFISH_PASSPORT_URL",
            "GOOFISH_UPLOAD_URL",
        ] {
            c.env(k, &url);
        }
        c.env("GOOFISH_WS_URL", ws)
            .env("GOOFISH_COOKIE", sim.cookie())
            .env("GOOFISH_DATA_DIR", &data)
            .args(extra)
            .args(["send", "--to", &cid, "--text", text]);
        c
    };

    // The service named by the environment alone.
    let out = output(send("一", sim.ws_url(), &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A flag beats the environment: a dead WebSocket there, the simulator's on the command line.
    let out = output(send("二", "ws://127.0.0.1:9/", &["--ws-url", sim.ws_url()])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // An empty variable is an unset one: the config file in the home directory (none).
    let mut c = send("三", sim.ws_url(), &[]);
    c.env("GOOFISH_CONFIG", "");
    let out = output(c).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(data.join("device_id").is_file());
    let got = sim_received(&sim).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    sim.shutdown().await;
}
