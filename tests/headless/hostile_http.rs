//! Bounded everything that comes from outside: the mtop client against a hostile server on
//! loopback. A huge answer is refused unread (not buffered and then checked), and a flood of
//! `Set-Cookie` never leaves a jar that the service refuses, neither now nor after a restart.
#![allow(clippy::unwrap_used)]

use crate::hostile;

use goofish_tui::im::cookies::{CookieJar, MAX_HEADER_BYTES};
use goofish_tui::im::mtop::{
    Endpoints, MAX_ANSWER_BYTES, MAX_UPLOAD_ANSWER_BYTES, MtopClient, MtopError,
};
use hostile::{Answer, Body, Hostile};
use serde_json::json;
use std::time::{Duration, Instant};

const LOGIN: &str = "unb=2200000000401; cookie2=c2c2c2; _m_h5_tk=0123456789abcdef0123456789abcdef_1999999999999; _m_h5_tk_enc=encenc; sgcookie=sgsg; t=tttt";

fn client(server: &Hostile, jar: CookieJar, jar_path: Option<std::path::PathBuf>) -> MtopClient {
    let base = url::Url::parse(&server.url()).unwrap();
    MtopClient::new(Endpoints::at(base), jar, jar_path).unwrap()
}

/// A valid `loginuser.get` answer followed by `len` bytes of padding in a string.
fn huge_answer(len: u64, announce: bool) -> Answer {
    Answer {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Body::Stream {
            prefix: br#"{"ret":["SUCCESS::ok"],"data":{"userId":"2200000000401","pad":""#.to_vec(),
            fill: b'x',
            len,
            suffix: br#""}}"#.to_vec(),
            announce,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_the_limit_is_refused_without_reading_it() {
    // 64 MB without a length: read as it comes and cut off at the limit.
    let server = Hostile::start(|_| huge_answer(64 << 20, false)).await;
    let mtop = client(&server, CookieJar::parse_header(LOGIN), None);
    match mtop.login_user().await {
        Err(e @ MtopError::TooLarge { .. }) => {
            let text = e.to_string();
            assert!(text.contains("larger than 4 MB"), "{text}");
            assert!(text.contains("loginuser.get"), "{text}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The client hung up: the server could not write much more than the limit (plus what
    // the socket buffers held).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = server.body_bytes_written();
    assert!(written < 24 << 20, "{written} bytes were written");

    // 1 GB announced: refused before the body is read at all.
    let server = Hostile::start(|_| huge_answer(1 << 30, true)).await;
    let mtop = client(&server, CookieJar::parse_header(LOGIN), None);
    let started = Instant::now();
    assert!(matches!(
        mtop.login_user().await,
        Err(MtopError::TooLarge { limit, .. }) if limit == MAX_ANSWER_BYTES
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.body_bytes_written() < 24 << 20);

    // Below the limit an answer is read as before.
    let server = Hostile::start(|_| huge_answer(1 << 20, false)).await;
    let mtop = client(&server, CookieJar::parse_header(LOGIN), None);
    assert_eq!(mtop.login_user().await.unwrap().as_str(), "2200000000401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passport_and_upload_answers_are_bounded_too() {
    let server = Hostile::start(|_| huge_answer(64 << 20, false)).await;
    let mtop = client(&server, CookieJar::parse_header(LOGIN), None);
    assert!(matches!(
        mtop.passport("newlogin/qrcode/generate.do", &[], None).await,
        Err(MtopError::TooLarge { limit, .. }) if limit == MAX_ANSWER_BYTES
    ));
    assert!(matches!(
        mtop.upload_image("a.jpg", vec![0xff, 0xd8, 0xff, 0xe0]).await,
        Err(MtopError::TooLarge { limit, .. }) if limit == MAX_UPLOAD_ANSWER_BYTES
    ));
}

/// Answers like the gateway, with 90 cookies of 1 KB each; refuses, as a web server does, a
/// request whose head is over 8 KB.
async fn cookie_flooder() -> Hostile {
    Hostile::start(|seen| {
        if seen.head_bytes > 8 * 1024 {
            return Answer {
                status: 400,
                headers: vec![],
                body: Body::Bytes(b"<html>400 Request Header Or Cookie Too Large</html>".to_vec()),
            };
        }
        let mut a = Answer::json(
            200,
            &json!({"api": "mtop.taobao.idlemessage.pc.loginuser.get", "v": "1.0",
                "ret": ["SUCCESS::调用成功"], "data": {"userId": "2200000000401"}}),
        );
        for i in 0..90 {
            a.headers.push((
                "Set-Cookie".into(),
                format!(
                    "flood{i:02}={}; Domain=.goofish.com; Path=/",
                    "f".repeat(1000)
                ),
            ));
        }
        a
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_flood_never_locks_the_account_out_also_after_a_restart() {
    let server = cookie_flooder().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookies.json");
    let mtop = client(&server, CookieJar::parse_header(LOGIN), Some(path.clone()));
    for _ in 0..3 {
        assert_eq!(mtop.login_user().await.unwrap().as_str(), "2200000000401");
    }
    let jar = mtop.jar().clone();
    assert!(jar.header_len() <= MAX_HEADER_BYTES, "{}", jar.header_len());
    for name in [
        "unb",
        "cookie2",
        "_m_h5_tk",
        "_m_h5_tk_enc",
        "sgcookie",
        "t",
    ] {
        assert!(jar.get(name).is_some(), "{name} was dropped");
    }
    let saved = std::fs::metadata(&path).unwrap().len();
    assert!(
        saved < 2 * MAX_HEADER_BYTES as u64,
        "the saved jar is {saved} bytes"
    );

    // A restart: the saved jar works.
    let reloaded = CookieJar::load(&path).unwrap();
    let mtop = client(&server, reloaded, Some(path.clone()));
    assert_eq!(mtop.login_user().await.unwrap().as_str(), "2200000000401");
    for r in server.requests() {
        let cookie = r.cookie.unwrap_or_default();
        assert!(
            cookie.len() <= MAX_HEADER_BYTES,
            "a {} byte Cookie was sent",
            cookie.len()
        );
        assert!(r.head_bytes <= 8 * 1024);
    }
}
