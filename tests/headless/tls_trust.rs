//! HTTPS and the WebSocket trust the same certificates: the system's roots. A TLS front with
//! its own CA (as a TLS-inspecting proxy has) stands before the simulator; the real binary is
//! told to trust that CA the way a system is (`SSL_CERT_FILE`), and must then reach the
//! service over both `https://` and `wss://`, and over neither with a CA it does not trust.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_received, sim_with};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

/// A CA and a `localhost` certificate it signed.
struct Pki {
    ca_pem: String,
    leaf: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

fn pki(name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        leaf: leaf.der().clone(),
        leaf_key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

/// Terminates TLS with `pki`'s certificate and passes the bytes on to `backend`.
async fn tls_front(pki: &Pki, backend: SocketAddr) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.leaf_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to pass on.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    addr
}

async fn quiet() -> SimHandle {
    sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 2,
        history: 1,
        ..SimOptions::default()
    })
    .await
}

/// `send` of `text` to `cid`, trusting only the CA in `ca_file`.
fn send(sim: &SimHandle, http: &str, ws: &str, ca_file: &Path, data: &Path, cid: &str) -> Command {
    // Long enough for a slow machine to send; a refused certificate never succeeds later.
    let timeout = if ca_file.ends_with("proxy-ca.pem") {
        "30"
    } else {
        "3"
    };
    let mut c = Command::new(BIN);
    // The session in the command's own process: these tests are about one command alone.
    c.env("GOOFISH_NO_DAEMON", "1");
    c.env_remove("GOOFISH_MTOP_URL")
        .env_remove("GOOFISH_PASSPORT_URL")
        .env_remove("GOOFISH_WS_URL")
        .env_remove("GOOFISH_UPLOAD_URL")
        .env_remove("RUST_LOG")
        .env_remove("SSL_CERT_DIR")
        .env("SSL_CERT_FILE", ca_file)
        .env("GOOFISH_CONFIG", data.join("absent-config.toml"))
        .env("GOOFISH_DATA_DIR", data)
        .env("GOOFISH_COOKIE", sim.cookie())
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
        ])
        .args(["--ws-url", ws, "send", "--to", cid, "--timeout", timeout]);
    c
}

async fn run(mut c: Command, text: &str) -> Output {
    c.args(["--text", text]);
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_trust_the_system_roots_alike() {
    let sim = quiet().await;
    let cid = control(&sim, "incoming", json!({"text": "在吗"})).await["cid"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = pki("inspecting proxy CA");
    let front = tls_front(&proxy, sim.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let trusted = write(dir.path(), "proxy-ca.pem", &proxy.ca_pem);
    let stranger = write(dir.path(), "other-ca.pem", &pki("some other CA").ca_pem);
    let https = format!("https://localhost:{}/", front.port());
    let wss = format!("wss://localhost:{}/", front.port());

    // The proxy's CA is trusted: the whole send goes through it, HTTPS and WebSocket.
    let out = run(
        send(&sim, &https, &wss, &trusted, dir.path(), &cid),
        "经过代理",
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        sim_received(&sim)
            .await
            .iter()
            .any(|r| r["text"] == "经过代理")
    );

    // Only the WebSocket behind the proxy: it trusts the same roots as HTTPS.
    let out = run(
        send(&sim, sim.http_url(), &wss, &trusted, dir.path(), &cid),
        "只有长连接经过代理",
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // A CA the system does not trust: the WebSocket refuses the proxy like HTTPS does.
    let out = run(
        send(&sim, sim.http_url(), &wss, &stranger, dir.path(), &cid),
        "不可信的长连接",
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    let out = run(
        send(&sim, &https, sim.ws_url(), &stranger, dir.path(), &cid),
        "不可信的网页接口",
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    let got = sim_received(&sim).await;
    assert!(
        !got.iter()
            .any(|r| r["text"] == "不可信的长连接" || r["text"] == "不可信的网页接口"),
        "{got:#?}"
    );
    sim.shutdown().await;
}
