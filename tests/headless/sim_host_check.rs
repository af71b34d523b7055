//! The simulator answers only requests addressed to it by a loopback name, so that a web page
//! cannot drive it by DNS rebinding while `--demo` runs.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The status code of one raw HTTP/1.1 request with this `Host` header.
async fn status(addr: std::net::SocketAddr, method: &str, path: &str, host: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"text":"rebound"}"#;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn foreign_host_names_are_refused_on_every_endpoint() {
    let sim = common::quiet_sim().await;
    let addr = sim.addr;
    let port = addr.port();
    for host in [
        "evil.example",
        &format!("rebind.attacker.test:{port}"),
        "localhost.evil",
    ] {
        for (method, path) in [
            ("GET", "/__sim/state"),
            ("POST", "/__sim/incoming"),
            ("POST", "/h5/mtop.taobao.idlemessage.pc.loginuser.get/1.0/"),
            ("GET", "/newlogin/qrcode/generate.do"),
            ("GET", "/imgextra/i2/O1CN01abc_!!2211-0-xy_chat.jpg"),
            ("GET", "/"),
        ] {
            assert_eq!(
                status(addr, method, path, host).await,
                421,
                "{method} {path} {host}"
            );
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_string(),
    ] {
        assert_eq!(
            status(addr, "GET", "/__sim/state", &host).await,
            200,
            "{host}"
        );
    }
    assert_eq!(
        status(
            addr,
            "POST",
            "/__sim/incoming",
            &format!("127.0.0.1:{port}")
        )
        .await,
        200
    );
    sim.shutdown().await;
}
