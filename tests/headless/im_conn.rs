//! The LWP connection against an in-test WebSocket server on loopback.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use goofish_tui::im::conn::{self, ConnConfig, ConnEvent, ConnEvents, RequestError};
use goofish_tui::protocol::Uid;
use goofish_tui::protocol::lwp::{Frame, Kind, RpcError};
use goofish_tui::protocol::push_body::PushItem;
use goofish_tui::secret::Secret;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

type Ws = WebSocketStream<TcpStream>;

/// Handshake headers the server saw.
#[derive(Debug, Default)]
struct Seen {
    origin: Option<String>,
    user_agent: Option<String>,
}

/// Listens on 127.0.0.1:0 and hands the first accepted socket to the test.
// The handshake callback's error type is tungstenite's, large by its design.
#[allow(clippy::result_large_err)]
async fn server() -> (String, oneshot::Receiver<(Ws, Seen)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut seen = Seen::default();
        let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            seen.origin = h("origin");
            seen.user_agent = h("user-agent");
            Ok(resp)
        })
        .await
        .unwrap();
        let _ = tx.send((ws, seen));
    });
    (format!("ws://{addr}/"), rx)
}

fn cfg(url: &str) -> ConnConfig {
    ConnConfig {
        ws_url: url.to_string(),
        heartbeat_every: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(500),
    }
}

/// Next LWP frame the client sent (skips control frames).
async fn recv_frame(ws: &mut Ws) -> Frame {
    loop {
        let msg = timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("client sent nothing")
            .expect("stream ended")
            .unwrap();
        if let Message::Text(t) = msg {
            return Frame::parse(t.as_str()).unwrap();
        }
    }
}

async fn send_frame(ws: &mut Ws, f: &Frame) {
    ws.send(Message::text(f.to_text())).await.unwrap();
}

async fn next_event(rx: &mut ConnEvents) -> ConnEvent {
    timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no event")
        .expect("event channel closed")
}

#[tokio::test]
async fn handshake_carries_origin_and_browser_ua() {
    let (url, srv) = server().await;
    let (_conn, _ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (_ws, seen) = srv.await.unwrap();
    assert_eq!(seen.origin.as_deref(), Some("https://www.goofish.com"));
    assert!(seen.user_agent.unwrap().starts_with("Mozilla/5.0"));
}

#[tokio::test]
async fn responses_out_of_order_reach_their_requests() {
    let (url, srv) = server().await;
    let (conn, _ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();

    let a = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/A/a", Some(json!([1]))).await }
    });
    let first = recv_frame(&mut ws).await;
    let b = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/B/b", Some(json!([2]))).await }
    });
    let second = recv_frame(&mut ws).await;
    assert_eq!(first.kind(), Kind::Push); // a request, seen from the server
    assert_ne!(first.mid(), second.mid());

    // Answer the second request first; a response to an unknown mid is dropped.
    let stray = Frame {
        code: Some(200),
        headers: serde_json::from_value(json!({"mid": "123 0"})).unwrap(),
        body: Some(json!({"stray": true})),
        lwp: None,
        sync: None,
    };
    send_frame(&mut ws, &stray).await;
    for req in [&second, &first] {
        let body = json!({"path": req.lwp, "arg": req.body});
        send_frame(&mut ws, &Frame::response_to(req, 200, Some(body))).await;
    }
    let ra = a.await.unwrap().unwrap();
    let rb = b.await.unwrap().unwrap();
    assert_eq!(ra, json!({"path": "/r/A/a", "arg": [1]}));
    assert_eq!(rb, json!({"path": "/r/B/b", "arg": [2]}));
}

#[tokio::test]
async fn error_responses_are_classified() {
    let (url, srv) = server().await;
    let (conn, _ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.request("/r/MessageSend/sendByReceiverScope", None)
                .await
        }
    });
    let req = recv_frame(&mut ws).await;
    let body = json!({"reason": "含有违规内容", "moreInfo": "CSI_FORBID||安全拦截"});
    send_frame(&mut ws, &Frame::response_to(&req, 400, Some(body))).await;
    assert_eq!(
        call.await.unwrap(),
        Err(RequestError::Rpc(RpcError::ContentBlocked {
            reason: "含有违规内容".into()
        }))
    );
}

#[tokio::test]
async fn unanswered_request_times_out_and_the_connection_stays() {
    let (url, srv) = server().await;
    let (conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/Slow/slow", None).await }
    });
    let _ignored = recv_frame(&mut ws).await;
    assert_eq!(call.await.unwrap(), Err(RequestError::Timeout));
    assert!(!conn.is_closed());

    // A later request still works.
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/Fast/fast", None).await }
    });
    let req = recv_frame(&mut ws).await;
    send_frame(
        &mut ws,
        &Frame::response_to(&req, 200, Some(json!({"ok": 1}))),
    )
    .await;
    assert_eq!(call.await.unwrap(), Ok(json!({"ok": 1})));
    assert!(ev.try_recv().is_err(), "no event expected");
}

#[tokio::test]
async fn push_is_acked_with_full_headers_before_delivery() {
    let (url, srv) = server().await;
    let (_conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    let push = Frame::parse(
        &json!({
            "lwp": "/s/sync",
            "headers": {"mid": "5701741704675979 0", "sid": "0f1e", "app-key": "k",
                        "ua": "u", "dt": "j", "extra": "x"},
            "body": {"syncPushPackage": {"data": [{"bizType": 40000, "data": "AA=="}]},
                     "syncExtraType": {"type": 1}}
        })
        .to_string(),
    )
    .unwrap();
    send_frame(&mut ws, &push).await;

    // The ACK arrives without the client having looked at its events.
    let ack = recv_frame(&mut ws).await;
    assert_eq!(ack.code, Some(200));
    assert_eq!(ack.headers, push.headers);
    assert!(ack.lwp.is_none() && ack.body.is_none());

    match next_event(&mut ev).await {
        ConnEvent::Push(f) => {
            assert_eq!((&f.lwp, &f.headers), (&push.lwp, &push.headers));
            // A sync body is handed on as its items, read with the frame.
            let sync = f.sync.expect("the sync body's items");
            assert_eq!(sync.extra_type, Some(1));
            assert_eq!(
                sync.items,
                vec![PushItem {
                    biz: Some(40000),
                    data: "AA==".into()
                }]
            );
            assert!(f.body.is_none());
        }
        other => panic!("expected the push, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_frames_do_not_close_the_connection() {
    let (url, srv) = server().await;
    let (conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    for junk in [
        "not json {",
        "[1,2]",
        r#"{"foo":1}"#,
        r#"{"lwp":"/s/sync"}"#,
    ] {
        ws.send(Message::text(junk)).await.unwrap();
    }
    ws.send(Message::binary(vec![0x93, 0x01, 0x02, 0x03]))
        .await
        .unwrap();

    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/After/garbage", None).await }
    });
    let req = recv_frame(&mut ws).await;
    send_frame(&mut ws, &Frame::response_to(&req, 200, Some(json!({})))).await;
    assert_eq!(call.await.unwrap(), Ok(json!({})));
    assert_eq!(conn.garbage_frames(), 5);
    assert!(!conn.is_closed());
    assert!(ev.try_recv().is_err(), "garbage must not produce events");
}

#[tokio::test]
async fn register_sends_reg_headers_and_reads_reg_uid() {
    let (url, srv) = server().await;
    let (conn, _ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    let reg = tokio::spawn({
        let conn = conn.clone();
        async move { conn.register(&Secret::new("TOKEN-1"), "DID-1").await }
    });
    let req = recv_frame(&mut ws).await;
    assert_eq!(req.lwp.as_deref(), Some("/reg"));
    assert_eq!(req.header_str("token"), Some("TOKEN-1"));
    assert_eq!(req.header_str("did"), Some("DID-1"));
    assert_eq!(
        req.header_str("app-key"),
        Some("444e9908a51d1cb236a27862abc769c9")
    );
    assert!(req.body.is_none());
    let mut resp = Frame::response_to(&req, 200, Some(json!({"unitName": "u"})));
    resp.headers
        .insert("reg-uid".into(), Value::from("2200000000401@goofish"));
    resp.headers.insert("reg-sid".into(), Value::from("0f1e"));
    send_frame(&mut ws, &resp).await;
    let got = reg.await.unwrap().unwrap();
    assert_eq!(got.uid, Some(Uid::new("2200000000401")));
    assert_eq!(got.sid.as_deref(), Some("0f1e"));

    // A rejected token is typed, so the session can fetch a fresh one.
    let reg = tokio::spawn({
        let conn = conn.clone();
        async move { conn.register(&Secret::new("stale"), "DID-1").await }
    });
    let req = recv_frame(&mut ws).await;
    let body = json!({"reason": "invalid token"});
    send_frame(&mut ws, &Frame::response_to(&req, 401, Some(body))).await;
    assert!(matches!(
        reg.await.unwrap(),
        Err(RequestError::Rpc(RpcError::InvalidToken { .. }))
    ));
}

#[tokio::test]
async fn answered_heartbeats_keep_the_connection() {
    let (url, srv) = server().await;
    let (conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    conn.start_heartbeat();
    for _ in 0..8 {
        let hb = recv_frame(&mut ws).await;
        assert_eq!(hb.lwp.as_deref(), Some("/!"));
        assert!(hb.body.is_none());
        send_frame(&mut ws, &Frame::response_to(&hb, 200, None)).await;
    }
    // 8 heartbeats at 100 ms outlast the 300 ms timeout several times.
    assert!(!conn.is_closed());
    assert!(ev.try_recv().is_err());
}

#[tokio::test]
async fn unanswered_heartbeat_closes_within_the_timeout() {
    let (url, srv) = server().await;
    let (conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    // Keep reading (so the socket is healthy) but never answer.
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    conn.start_heartbeat();
    // Stalled at half the timeout, then cut 300 ms after the first heartbeat; allow
    // generous slack for slow machines.
    assert_eq!(
        timeout(Duration::from_secs(3), ev.recv()).await.unwrap(),
        Some(ConnEvent::Stalled)
    );
    match timeout(Duration::from_secs(3), ev.recv()).await.unwrap() {
        Some(ConnEvent::Closed { reason }) => assert!(reason.contains("heartbeat"), "{reason}"),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(conn.is_closed());
    // Exactly one Closed: the channel ends after it.
    assert_eq!(
        timeout(Duration::from_secs(2), ev.recv()).await.unwrap(),
        None
    );
    drain.abort();
}

#[tokio::test]
async fn server_close_fails_pending_requests_and_reports_once() {
    let (url, srv) = server().await;
    let mut c = cfg(&url);
    c.request_timeout = Duration::from_secs(10);
    let (conn, mut ev) = conn::connect(&c).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.request("/r/Pending/never", None).await }
    });
    let _req = recv_frame(&mut ws).await;
    ws.close(None).await.unwrap();

    let result = timeout(Duration::from_secs(3), call)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result, Err(RequestError::Closed));
    match next_event(&mut ev).await {
        ConnEvent::Closed { reason } => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(
        timeout(Duration::from_secs(2), ev.recv()).await.unwrap(),
        None
    );
    // Requests after the close fail at once.
    assert_eq!(
        conn.request("/r/After/close", None).await,
        Err(RequestError::Closed)
    );
}

#[tokio::test]
async fn dropped_socket_reports_closed() {
    let (url, srv) = server().await;
    let (_conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (ws, _) = srv.await.unwrap();
    drop(ws); // TCP reset / EOF without a close frame
    assert!(matches!(
        next_event(&mut ev).await,
        ConnEvent::Closed { .. }
    ));
}

#[tokio::test]
async fn client_close_reports_closed_once() {
    let (url, srv) = server().await;
    let (conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (mut ws, _) = srv.await.unwrap();
    conn.close();
    assert_eq!(
        next_event(&mut ev).await,
        ConnEvent::Closed {
            reason: "closed by client".into()
        }
    );
    assert_eq!(
        timeout(Duration::from_secs(2), ev.recv()).await.unwrap(),
        None
    );
    // The server sees the socket end.
    let end = timeout(Duration::from_secs(3), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok());
}

#[tokio::test]
async fn connect_to_nothing_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    assert!(conn::connect(&cfg(&format!("ws://{addr}/"))).await.is_err());
    assert!(conn::connect(&cfg("not a url")).await.is_err());
}

// ---- the session actor against the simulator ------------------------------------------------

mod session {
    use goofish_tui::im::conn::ConnConfig;
    use goofish_tui::im::cookies::CookieJar;
    use goofish_tui::im::device::generate_device_id;
    use goofish_tui::im::mtop::{Endpoints, MtopClient};
    use goofish_tui::im::session::{self, DeviceSource, SessionConfig, SessionHandle};
    use goofish_tui::im::{ConnState, ImCommand, ImEvent, SendStage};
    use goofish_tui::protocol::{ClientId, Content, Conversation};
    use goofish_tui::sim::{self, SimHandle, SimOptions};
    use serde_json::{Value, json};
    use std::time::Duration;
    use tokio::time::{Instant, timeout};
    use url::Url;

    const WAIT: Duration = Duration::from_secs(20);

    async fn start_sim() -> SimHandle {
        sim::start(SimOptions::default()).await.unwrap()
    }

    fn session_for(sim: &SimHandle) -> SessionHandle {
        session_with(sim, |_| {})
    }

    fn session_with(sim: &SimHandle, tweak: impl FnOnce(&mut SessionConfig)) -> SessionHandle {
        let base = Url::parse(sim.http_url()).unwrap();
        let endpoints = Endpoints::at(base);
        let mtop = MtopClient::new(endpoints, CookieJar::parse_header(sim.cookie()), None).unwrap();
        let conn = ConnConfig {
            ws_url: sim.ws_url().to_string(),
            request_timeout: Duration::from_secs(5),
            ..ConnConfig::default()
        };
        let did = generate_device_id(&sim.self_uid);
        let mut cfg = SessionConfig::new(conn, DeviceSource::Fixed(did));
        cfg.backoff_min = Duration::from_millis(100);
        cfg.backoff_max = Duration::from_millis(800);
        cfg.settle_delay = Duration::ZERO;
        cfg.retry_step = Duration::from_millis(100);
        cfg.parked_retry = None;
        tweak(&mut cfg);
        session::spawn(cfg, mtop)
    }

    async fn control(sim: &SimHandle, what: &str, body: Value) -> Value {
        let url = format!("{}/{what}", sim.control_url());
        let resp = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{what}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Reads events until one matches; returns it and everything seen before it.
    async fn until(
        h: &mut SessionHandle,
        what: &str,
        pred: impl Fn(&ImEvent) -> bool,
    ) -> (ImEvent, Vec<ImEvent>) {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, h.events.recv()).await {
                Ok(Some(ev)) if pred(&ev) => return (ev, seen),
                Ok(Some(ev)) => seen.push(ev),
                Ok(None) => panic!("events ended while waiting for {what}; saw {seen:#?}"),
                Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
            }
        }
    }

    /// Every event that arrives within `d`.
    async fn drain_for(h: &mut SessionHandle, d: Duration) -> Vec<ImEvent> {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        while let Ok(Some(ev)) = timeout(
            deadline.saturating_duration_since(Instant::now()),
            h.events.recv(),
        )
        .await
        {
            out.push(ev);
        }
        out
    }

    fn is_live(ev: &ImEvent) -> bool {
        *ev == ImEvent::Connection(ConnState::Live)
    }

    async fn live_with_list(h: &mut SessionHandle) -> Vec<Conversation> {
        until(h, "Live", is_live).await;
        h.commands.send(ImCommand::ListConversations).await.unwrap();
        match until(h, "conversations", |e| {
            matches!(e, ImEvent::Conversations(_))
        })
        .await
        {
            (ImEvent::Conversations(list), _) => list,
            _ => unreachable!(),
        }
    }

    fn texts_of(events: &[ImEvent], needle: &str) -> usize {
        events
            .iter()
            .filter(|e| match e {
                ImEvent::Message(m) => {
                    m.content
                        == Content::Text {
                            text: needle.into(),
                        }
                }
                ImEvent::SendResult { result: Ok(m), .. } => {
                    m.content
                        == Content::Text {
                            text: needle.into(),
                        }
                }
                _ => false,
            })
            .count()
    }

    #[tokio::test]
    async fn goes_live_lists_conversations_and_loads_history() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let (_, before) = until(&mut h, "Live", is_live).await;
        assert!(before.contains(&ImEvent::Connection(ConnState::Connecting)));
        assert!(before.contains(&ImEvent::Connection(ConnState::Registering)));
        assert!(
            before
                .iter()
                .any(|e| matches!(e, ImEvent::SelfInfo { uid, .. } if *uid == sim.self_uid))
        );
        h.commands.send(ImCommand::ListConversations).await.unwrap();
        let list = match until(&mut h, "list", |e| matches!(e, ImEvent::Conversations(_))).await {
            (ImEvent::Conversations(l), _) => l,
            _ => unreachable!(),
        };
        assert!(!list.is_empty());
        assert!(
            list.windows(2)
                .all(|w| w[0].modify_time >= w[1].modify_time)
        );
        let cid = list[0].cid.clone();
        h.commands
            .send(ImCommand::LoadHistory {
                cid: cid.clone(),
                cursor: None,
            })
            .await
            .unwrap();
        let (ev, _) = until(&mut h, "history", |e| matches!(e, ImEvent::History { .. })).await;
        match ev {
            ImEvent::History { page, requested } => {
                assert_eq!(requested, None);
                assert_eq!(page.cid, cid);
                assert!(!page.entries.is_empty());
            }
            _ => unreachable!(),
        }
        h.commands.send(ImCommand::Shutdown).await.unwrap();
        until(&mut h, "Stopped", |e| {
            *e == ImEvent::Connection(ConnState::Stopped)
        })
        .await;
        timeout(WAIT, h.task).await.unwrap().unwrap();
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn incoming_message_arrives_once_even_when_pushed_twice() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let list = live_with_list(&mut h).await;
        control(&sim, "fault", json!({"kind": "duplicate"})).await;
        let cid = list[0].cid.as_str().to_string();
        control(
            &sim,
            "incoming",
            json!({"cid": cid, "text": "还在吗？在线等"}),
        )
        .await;
        let (ev, _) = until(&mut h, "message", |e| matches!(e, ImEvent::Message(_))).await;
        match &ev {
            ImEvent::Message(m) => {
                assert_eq!(
                    m.content,
                    Content::Text {
                        text: "还在吗？在线等".into()
                    }
                );
                assert!(!m.is_self);
                assert_eq!(m.cid.as_str(), cid);
            }
            _ => unreachable!(),
        }
        let later = drain_for(&mut h, Duration::from_secs(1)).await;
        assert_eq!(texts_of(&later, "还在吗？在线等"), 0, "{later:#?}");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn send_gets_exactly_one_result_and_the_echo_is_not_repeated() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let list = live_with_list(&mut h).await;
        let client_id = ClientId::generate(goofish_tui::time::now_ms(), rand::random());
        h.commands
            .send(ImCommand::SendText {
                cid: list[0].cid.clone(),
                client_id: client_id.clone(),
                text: "好的，今天发货 📦".into(),
            })
            .await
            .unwrap();
        let (ev, before) = until(&mut h, "send result", |e| {
            matches!(e, ImEvent::SendResult { .. })
        })
        .await;
        assert!(before.contains(&ImEvent::SendProgress {
            client_id: client_id.clone(),
            stage: SendStage::Sending
        }));
        let msg = match ev {
            ImEvent::SendResult {
                client_id: id,
                result: Ok(m),
                ..
            } => {
                assert_eq!(id, client_id);
                m
            }
            other => panic!("{other:?}"),
        };
        assert!(msg.is_self);
        assert!(msg.id.as_str().ends_with(".PNM"), "{:?}", msg.id);
        let mut all = before;
        all.extend(drain_for(&mut h, Duration::from_millis(1500)).await);
        assert_eq!(
            texts_of(&all, "好的，今天发货 📦"),
            0,
            "echo shown again: {all:#?}"
        );
        assert!(
            !all.iter().any(|e| matches!(e, ImEvent::SendResult { .. })),
            "a second SendResult"
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn blocked_content_fails_at_once_and_flow_control_is_retried() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let list = live_with_list(&mut h).await;
        let cid = list[0].cid.clone();

        control(&sim, "fault", json!({"kind": "csi-forbid"})).await;
        let blocked = ClientId::new("-1");
        h.commands
            .send(ImCommand::SendText {
                cid: cid.clone(),
                client_id: blocked.clone(),
                text: "加我微信".into(),
            })
            .await
            .unwrap();
        match until(&mut h, "blocked", |e| {
            matches!(e, ImEvent::SendResult { .. })
        })
        .await
        {
            (
                ImEvent::SendResult {
                    client_id,
                    result: Err(f),
                    ..
                },
                _,
            ) => {
                assert_eq!(client_id, blocked);
                assert!(!f.retryable, "{f:?}");
            }
            other => panic!("{other:?}"),
        }

        control(&sim, "fault", json!({"kind": "flow-control", "count": 2})).await;
        let slow = ClientId::new("-2");
        h.commands
            .send(ImCommand::SendText {
                cid,
                client_id: slow.clone(),
                text: "稍等".into(),
            })
            .await
            .unwrap();
        match until(&mut h, "flow", |e| matches!(e, ImEvent::SendResult { .. })).await {
            (
                ImEvent::SendResult {
                    client_id, result, ..
                },
                _,
            ) => {
                assert_eq!(client_id, slow);
                assert!(result.is_ok(), "{result:?}");
            }
            other => panic!("{other:?}"),
        }
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn reconnects_after_a_drop_and_backfills_the_gap() {
        let sim = start_sim().await;
        // The first retry waits at least 1 s: the message surely falls into the gap.
        let mut h = session_with(&sim, |c| {
            c.backoff_min = Duration::from_secs(2);
            c.backoff_max = Duration::from_secs(2);
        });
        let list = live_with_list(&mut h).await;
        let cid = list[0].cid.as_str().to_string();

        control(&sim, "fault", json!({"kind": "drop"})).await;
        // Sent while the client is (most likely) between connections.
        control(
            &sim,
            "incoming",
            json!({"cid": cid, "text": "断线期间的消息"}),
        )
        .await;
        let (_, before) = until(&mut h, "Live again", is_live).await;
        assert!(
            before
                .iter()
                .any(|e| matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))),
            "{before:#?}"
        );
        let (ev, during) = until(
            &mut h,
            "backfill done",
            |e| matches!(e, ImEvent::Backfill { done, total } if done == total && *total > 0),
        )
        .await;
        assert_eq!(ev, ImEvent::Backfill { done: 1, total: 1 });
        let mut all = before;
        all.extend(during);
        all.extend(drain_for(&mut h, Duration::from_millis(800)).await);
        assert_eq!(texts_of(&all, "断线期间的消息"), 1, "{all:#?}");
        assert!(all.iter().any(|e| matches!(e, ImEvent::Conversations(_))));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn stalled_socket_is_detected_by_the_heartbeat_and_replaced() {
        let sim = start_sim().await;
        let mut h = session_with(&sim, |c| {
            c.conn.heartbeat_every = Duration::from_millis(200);
            c.conn.heartbeat_timeout = Duration::from_millis(800);
        });
        until(&mut h, "Live", is_live).await;
        control(&sim, "fault", json!({"kind": "stall", "secs": 30})).await;
        let (ev, before) = until(&mut h, "Reconnecting", |e| {
            matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
        })
        .await;
        // Shown as stalled at half the timeout, before the cut.
        assert!(
            before.contains(&ImEvent::Connection(ConnState::Stalled)),
            "{before:#?}"
        );
        match ev {
            ImEvent::Connection(ConnState::Reconnecting { last_error, .. }) => {
                assert!(last_error.contains("heartbeat"), "{last_error}")
            }
            _ => unreachable!(),
        }
        until(&mut h, "Live again", is_live).await;
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_short_stall_shows_as_stalled_then_live_without_a_reconnect() {
        let sim = start_sim().await;
        let mut h = session_with(&sim, |c| {
            c.conn.heartbeat_every = Duration::from_millis(200);
            c.conn.heartbeat_timeout = Duration::from_millis(3000);
        });
        until(&mut h, "Live", is_live).await;
        control(&sim, "fault", json!({"kind": "stall", "secs": 2.0})).await;
        let (_, before) = until(&mut h, "Stalled", |e| {
            matches!(e, ImEvent::Connection(ConnState::Stalled))
        })
        .await;
        let (_, during) = until(&mut h, "Live again", is_live).await;
        for e in before.iter().chain(&during) {
            assert!(
                !matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. })),
                "{e:?}"
            );
        }
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn offline_send_is_queued_and_goes_out_after_reconnect() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let list = live_with_list(&mut h).await;
        control(&sim, "fault", json!({"kind": "kickout"})).await;
        until(&mut h, "Reconnecting", |e| {
            matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
        })
        .await;
        let client_id = ClientId::new("-3");
        h.commands
            .send(ImCommand::SendText {
                cid: list[0].cid.clone(),
                client_id: client_id.clone(),
                text: "重连后发出".into(),
            })
            .await
            .unwrap();
        let (ev, before) = until(&mut h, "result", |e| {
            matches!(e, ImEvent::SendResult { .. })
        })
        .await;
        assert!(before.contains(&ImEvent::SendProgress {
            client_id: client_id.clone(),
            stage: SendStage::Queued
        }));
        assert!(before.iter().any(is_live));
        assert!(matches!(ev, ImEvent::SendResult { result: Ok(_), .. }));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn risk_control_parks_the_session_with_the_slider_url() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        until(&mut h, "Live", is_live).await;
        control(&sim, "fault", json!({"kind": "risk-control"})).await;
        let (ev, _) = until(&mut h, "RiskControl", |e| {
            matches!(e, ImEvent::Connection(ConnState::RiskControl { .. }))
        })
        .await;
        match ev {
            ImEvent::Connection(ConnState::RiskControl { url }) => {
                assert!(url.contains("punish"), "{url}")
            }
            _ => unreachable!(),
        }
        // Parked: no retry loop against the token API.
        let after = drain_for(&mut h, Duration::from_secs(2)).await;
        assert!(
            !after.iter().any(|e| matches!(e, ImEvent::Connection(_))),
            "{after:#?}"
        );
        // Cleared in a browser; the user asks again.
        control(&sim, "fault", json!({"kind": "clear"})).await;
        h.commands.send(ImCommand::ListConversations).await.unwrap();
        until(&mut h, "Live after retry", is_live).await;
        until(&mut h, "list", |e| matches!(e, ImEvent::Conversations(_))).await;
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn expired_login_asks_for_a_new_login() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        until(&mut h, "Live", is_live).await;
        control(&sim, "fault", json!({"kind": "expire-session"})).await;
        until(&mut h, "NeedsLogin", |e| {
            matches!(e, ImEvent::Connection(ConnState::NeedsLogin { .. }))
        })
        .await;
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn session_remove_stops_reconnecting() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        until(&mut h, "Live", is_live).await;
        control(&sim, "fault", json!({"kind": "session-remove"})).await;
        until(&mut h, "SessionRemoved", |e| {
            matches!(e, ImEvent::Connection(ConnState::SessionRemoved { .. }))
        })
        .await;
        let after = drain_for(&mut h, Duration::from_secs(2)).await;
        assert!(
            !after.iter().any(|e| matches!(e, ImEvent::Connection(_))),
            "{after:#?}"
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn malformed_frames_and_items_do_not_break_the_session() {
        let sim = start_sim().await;
        let mut h = session_for(&sim);
        let list = live_with_list(&mut h).await;
        control(&sim, "fault", json!({"kind": "malformed", "count": 6})).await;
        let cid = list[0].cid.as_str().to_string();
        control(&sim, "incoming", json!({"cid": cid, "text": "坏帧之后"})).await;
        let (_, before) = until(&mut h, "message after garbage", |e| {
            matches!(e, ImEvent::Message(m) if m.content == Content::Text { text: "坏帧之后".into() })
        })
        .await;
        assert!(!before.iter().any(|e| matches!(e, ImEvent::Connection(_))));
        // Reported to the user, but only once for the whole batch.
        let errors = before
            .iter()
            .filter(|e| matches!(e, ImEvent::Error(_)))
            .count();
        assert!(errors <= 1, "{before:#?}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_burst_beyond_the_read_ahead_waits_for_the_owner_and_arrives_whole() {
    let (url, srv) = server().await;
    let (_conn, mut ev) = conn::connect(&cfg(&url)).await.unwrap();
    let (ws, _) = srv.await.unwrap();
    let (mut sink, mut acks) = ws.split();
    // 200 pushes of 8 KB: far more than the reader may be ahead of its owner.
    const PUSHES: usize = 200;
    let filler = "A".repeat(8 * 1024);
    let sender = tokio::spawn(async move {
        for i in 0..PUSHES {
            let push = json!({
                "lwp": "/s/sync",
                "headers": {"mid": format!("{i} 0"), "sid": "s"},
                "body": {"syncPushPackage": {"data": [{"bizType": 40000, "data": filler}]}}
            });
            sink.send(Message::text(push.to_string())).await.unwrap();
        }
        sink
    });
    let mut acked = 0;
    let mut count_acks = async |wait: Duration| {
        while let Ok(Some(Ok(Message::Text(_)))) = timeout(wait, acks.next()).await {
            acked += 1;
        }
        acked
    };
    // The owner takes nothing yet: the reader stops a little way in, and so do its ACKs.
    let before = count_acks(Duration::from_millis(300)).await;
    assert!(
        before > 0 && before < PUSHES / 2,
        "{before} ACKs before the owner read"
    );
    // The owner takes its events: every push comes, in order, and every one is ACKed.
    for i in 0..PUSHES {
        match next_event(&mut ev).await {
            ConnEvent::Push(f) => assert_eq!(f.headers["mid"], format!("{i} 0")),
            other => panic!("push {i}: got {other:?}"),
        }
    }
    assert_eq!(count_acks(Duration::from_millis(500)).await, PUSHES);
    let _sink = sender.await.unwrap();
}
