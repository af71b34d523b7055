//! The session actor against the simulator over loopback: every RPC the client uses and
//! every fault kind. After each fault the client is live again (or reports needs-login /
//! risk control), and the messages it holds are exactly the ones the simulator delivered.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{control, sim_state, sim_with};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::im::session::{self, SessionConfig, SessionHandle};
use goofish_tui::protocol::{Cid, ClientId, Content, Conversation, Message, MessageId};
use goofish_tui::sim::{Scenario, SimHandle, SimOptions};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

struct Client {
    session: SessionHandle,
    /// Every message event, in arrival order.
    messages: Vec<Message>,
    states: Vec<ConnState>,
}

fn test_config(sim: &SimHandle) -> SessionConfig {
    common::session_config(sim)
}

impl Client {
    fn start(sim: &SimHandle) -> Client {
        Client::start_with(sim, test_config(sim))
    }

    fn start_with(sim: &SimHandle, cfg: SessionConfig) -> Client {
        Client {
            session: session::spawn(cfg, common::sim_mtop(sim)),
            messages: vec![],
            states: vec![],
        }
    }

    async fn send(&self, cmd: ImCommand) {
        self.session.commands.send(cmd).await.unwrap();
    }

    fn record(&mut self, ev: &ImEvent) {
        match ev {
            ImEvent::Message(m) => self.messages.push(m.clone()),
            ImEvent::Connection(s) => self.states.push(s.clone()),
            _ => {}
        }
    }

    /// Reads events until `pred` matches one; returns it.
    async fn until(&mut self, what: &str, mut pred: impl FnMut(&ImEvent) -> bool) -> ImEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.session.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("timed out waiting for {what}; states {:?}", self.states)
                })
                .unwrap_or_else(|| panic!("session ended waiting for {what}"));
            self.record(&ev);
            if pred(&ev) {
                return ev;
            }
        }
    }

    /// Asks for the conversation list and returns it.
    async fn list(&mut self) -> Vec<Conversation> {
        self.send(ImCommand::ListConversations).await;
        match self
            .until("conversations", |e| matches!(e, ImEvent::Conversations(_)))
            .await
        {
            ImEvent::Conversations(v) => v,
            _ => unreachable!(),
        }
    }

    async fn live(&mut self) {
        self.until("live", |e| {
            matches!(e, ImEvent::Connection(ConnState::Live))
        })
        .await;
    }

    /// Reads whatever arrives for `d`.
    async fn drain_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.session.events.recv()).await
        {
            self.record(&ev);
        }
    }

    async fn message(&mut self, id: &str) -> Message {
        if let Some(m) = self.messages.iter().find(|m| m.id.as_str() == id) {
            return m.clone();
        }
        match self
            .until(
                id,
                |e| matches!(e, ImEvent::Message(m) if m.id.as_str() == id),
            )
            .await
        {
            ImEvent::Message(m) => m,
            _ => unreachable!(),
        }
    }

    fn assert_no_duplicates(&self) {
        let mut seen = HashSet::new();
        for m in &self.messages {
            assert!(
                seen.insert(m.id.clone()),
                "message {} delivered twice",
                m.id
            );
        }
    }
}

async fn quiet(conversations: usize) -> SimHandle {
    sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations,
        history: 8,
        ..SimOptions::default()
    })
    .await
}

use common::sim_received as received;

async fn inject(sim: &SimHandle, text: &str) -> String {
    control(sim, "incoming", json!({"text": text})).await["message_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn lists_loads_history_sends_and_receives() {
    let sim = quiet(7).await;
    let mut c = Client::start(&sim);
    c.live().await;
    let convs = c.list().await;
    assert_eq!(convs.len(), 7);
    assert!(
        convs
            .windows(2)
            .all(|w| w[0].modify_time >= w[1].modify_time)
    );
    let cid = convs[0].cid.clone();

    c.send(ImCommand::LoadHistory {
        cid: cid.clone(),
        cursor: None,
    })
    .await;
    let page = match c
        .until("history", |e| matches!(e, ImEvent::History { .. }))
        .await
    {
        ImEvent::History { page, .. } => page,
        _ => unreachable!(),
    };
    assert_eq!(page.cid, cid);
    assert!(!page.entries.is_empty());

    let client_id = ClientId::new("-1700000000000123");
    c.send(ImCommand::SendText {
        cid: cid.clone(),
        client_id: client_id.clone(),
        text: "你好，在的 👋".into(),
    })
    .await;
    let result = c
        .until(
            "send result",
            |e| matches!(e, ImEvent::SendResult { client_id: id, .. } if *id == client_id),
        )
        .await;
    let ImEvent::SendResult {
        result: Ok(sent), ..
    } = result
    else {
        panic!("send failed: {result:?}")
    };
    assert!(sent.id.as_str().ends_with(".PNM"));
    assert_eq!(
        sent.content,
        Content::Text {
            text: "你好，在的 👋".into()
        }
    );
    let id = inject(&sim, "那我拍了哈").await;
    let got = c.message(&id).await;
    assert_eq!(
        got.content,
        Content::Text {
            text: "那我拍了哈".into()
        }
    );
    assert!(!got.is_self);

    c.send(ImCommand::MarkRead {
        cid: got.cid.clone(),
        ids: vec![got.id.clone()],
    })
    .await;
    c.drain_for(Duration::from_millis(300)).await;
    let st = sim_state(&sim).await;
    let received = st["messages_received"].as_array().unwrap();
    assert_eq!(
        received.len(),
        1,
        "the send reached the simulator exactly once"
    );
    assert_eq!(received[0]["uuid"], client_id.as_str());
    assert_eq!(st["duplicate_sends"], 0);
    c.assert_no_duplicates();
    c.send(ImCommand::Shutdown).await;
    c.until("stopped", |e| {
        matches!(e, ImEvent::Connection(ConnState::Stopped))
    })
    .await;
    sim.shutdown().await;
}

/// Injects one message and checks it arrives exactly once.
async fn still_works(c: &mut Client, sim: &SimHandle, label: &str) {
    let id = inject(sim, &format!("after {label}")).await;
    c.message(&id).await;
    c.drain_for(Duration::from_millis(200)).await;
    c.assert_no_duplicates();
}

async fn recover_from(kind: &str, extra: serde_json::Value) {
    let sim = quiet(5).await;
    let mut c = Client::start(&sim);
    c.live().await;
    let mut body = json!({"kind": kind});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    control(&sim, "fault", body).await;
    // The client notices, reconnects and is live again.
    c.until(&format!("reconnect after {kind}"), |e| {
        matches!(
            e,
            ImEvent::Connection(ConnState::Reconnecting { .. } | ConnState::Connecting)
        )
    })
    .await;
    c.live().await;
    still_works(&mut c, &sim, kind).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn recovers_from_drop() {
    recover_from("drop", json!({})).await;
}

#[tokio::test]
async fn recovers_from_stall() {
    recover_from("stall", json!({"secs": 4})).await;
}

#[tokio::test]
async fn recovers_from_kickout() {
    recover_from("kickout", json!({})).await;
}

#[tokio::test]
async fn recovers_from_expired_im_token() {
    recover_from("expire-im-token", json!({})).await;
}

#[tokio::test]
async fn duplicate_pushes_are_shown_once() {
    let sim = quiet(5).await;
    let mut c = Client::start(&sim);
    c.live().await;
    control(&sim, "fault", json!({"kind": "duplicate"})).await;
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(inject(&sim, &format!("重复 {i}")).await);
    }
    for id in &ids {
        c.message(id).await;
    }
    c.drain_for(Duration::from_millis(500)).await;
    c.assert_no_duplicates();
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_and_items_do_not_break_the_connection() {
    let sim = quiet(5).await;
    let mut c = Client::start(&sim);
    c.live().await;
    let registrations = sim_state(&sim).await["registrations"].as_u64().unwrap();
    control(&sim, "fault", json!({"kind": "malformed", "count": 6})).await;
    still_works(&mut c, &sim, "malformed").await;
    assert_eq!(
        sim_state(&sim).await["registrations"].as_u64().unwrap(),
        registrations,
        "no reconnect"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn flow_control_is_retried() {
    let sim = quiet(5).await;
    let mut c = Client::start(&sim);
    c.live().await;
    c.drain_for(Duration::from_millis(200)).await;
    control(&sim, "fault", json!({"kind": "flow-control", "count": 2})).await;
    c.send(ImCommand::ListConversations).await;
    let ev = c
        .until("conversations", |e| matches!(e, ImEvent::Conversations(_)))
        .await;
    assert!(matches!(&ev, ImEvent::Conversations(v) if v.len() == 5));
    // A send that meets flow control goes out after the retry, once.
    control(&sim, "fault", json!({"kind": "flow-control", "count": 1})).await;
    let ImEvent::Conversations(convs) = ev else {
        unreachable!()
    };
    let client_id = ClientId::new("-1700000000000777");
    c.send(ImCommand::SendText {
        cid: convs[0].cid.clone(),
        client_id: client_id.clone(),
        text: "稍等".into(),
    })
    .await;
    let res = c
        .until("send result", |e| matches!(e, ImEvent::SendResult { .. }))
        .await;
    assert!(
        matches!(res, ImEvent::SendResult { result: Ok(_), .. }),
        "{res:?}"
    );
    assert_eq!(received(&sim).await.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn content_security_rejection_is_reported_and_not_retried() {
    let sim = quiet(3).await;
    let mut c = Client::start(&sim);
    c.live().await;
    let convs = c.list().await;
    control(&sim, "fault", json!({"kind": "csi-forbid"})).await;
    let client_id = ClientId::new("-1700000000000999");
    c.send(ImCommand::SendText {
        cid: convs[0].cid.clone(),
        client_id: client_id.clone(),
        text: "加我微信聊".into(),
    })
    .await;
    let ev = c
        .until("send result", |e| matches!(e, ImEvent::SendResult { .. }))
        .await;
    let ImEvent::SendResult {
        result: Err(failure),
        ..
    } = ev
    else {
        panic!("expected a rejection: {ev:?}")
    };
    assert!(!failure.retryable);
    assert!(!failure.reason.is_empty());
    c.drain_for(Duration::from_millis(500)).await;
    assert_eq!(received(&sim).await.len(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn login_faults_are_reported() {
    let sim = quiet(3).await;
    let mut c = Client::start(&sim);
    c.live().await;
    control(&sim, "fault", json!({"kind": "risk-control"})).await;
    let ev = c
        .until("risk control", |e| {
            matches!(e, ImEvent::Connection(ConnState::RiskControl { .. }))
        })
        .await;
    let ImEvent::Connection(ConnState::RiskControl { url }) = ev else {
        unreachable!()
    };
    assert!(url.contains("punish"), "{url}");
    sim.shutdown().await;

    let sim = quiet(3).await;
    let mut c = Client::start(&sim);
    c.live().await;
    control(&sim, "fault", json!({"kind": "expire-session"})).await;
    c.until("needs login", |e| {
        matches!(e, ImEvent::Connection(ConnState::NeedsLogin { .. }))
    })
    .await;
    sim.shutdown().await;

    let sim = quiet(3).await;
    let mut c = Client::start(&sim);
    c.live().await;
    control(&sim, "fault", json!({"kind": "session-remove"})).await;
    c.until("session removed", |e| {
        matches!(e, ImEvent::Connection(ConnState::SessionRemoved { .. }))
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn messages_sent_during_a_gap_are_backfilled() {
    let sim = quiet(6).await;
    let mut cfg = test_config(&sim);
    // A long first backoff leaves a window in which the client is surely offline.
    cfg.backoff_min = Duration::from_secs(2);
    cfg.backoff_max = Duration::from_secs(2);
    let mut c = Client::start_with(&sim, cfg);
    c.live().await;
    c.send(ImCommand::ListConversations).await;
    c.until("list", |e| matches!(e, ImEvent::Conversations(_)))
        .await;
    control(&sim, "fault", json!({"kind": "drop"})).await;
    c.until("offline", |e| {
        matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
    })
    .await;
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(inject(&sim, &format!("离线时的消息 {i}")).await);
    }
    c.live().await;
    for id in &ids {
        c.message(id).await;
    }
    c.drain_for(Duration::from_millis(500)).await;
    c.assert_no_duplicates();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_send_while_offline_goes_out_once_after_reconnect() {
    let sim = quiet(3).await;
    let mut cfg = test_config(&sim);
    cfg.backoff_min = Duration::from_secs(1);
    cfg.backoff_max = Duration::from_secs(1);
    let mut c = Client::start_with(&sim, cfg);
    c.live().await;
    let convs = c.list().await;
    control(&sim, "fault", json!({"kind": "drop"})).await;
    c.until("offline", |e| {
        matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
    })
    .await;
    let client_id = ClientId::new("-1700000000000555");
    c.send(ImCommand::SendText {
        cid: convs[0].cid.clone(),
        client_id: client_id.clone(),
        text: "离线发送".into(),
    })
    .await;
    let ev = c
        .until("send result", |e| matches!(e, ImEvent::SendResult { .. }))
        .await;
    assert!(
        matches!(ev, ImEvent::SendResult { result: Ok(_), .. }),
        "{ev:?}"
    );
    c.drain_for(Duration::from_millis(300)).await;
    let st = sim_state(&sim).await;
    let texts: Vec<_> = st["messages_received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("离线发送")]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_10000_arrives_complete_and_in_order() {
    // 100 buyers, and the platform assistant, whom bursts leave out.
    let sim = quiet(101).await;
    let mut c = Client::start(&sim);
    c.live().await;
    c.drain_for(Duration::from_millis(200)).await;
    let before = c.messages.len();
    // Taken while it comes: the simulator answers once the client has read it all, and the
    // client reads only a little ahead of what the session has taken.
    let burst = control(&sim, "burst", json!({"count": 10000, "conversations": 100}));
    let taken = async {
        while c.messages.len() - before < 10000 {
            c.until("burst", |e| matches!(e, ImEvent::Message(_))).await;
        }
    };
    let (burst, ()) = tokio::join!(burst, taken);
    assert_eq!(burst["count"], 10000);
    eprintln!(
        "simulator pushed {} messages/s to one client",
        burst["per_second"]
    );
    c.drain_for(Duration::from_millis(300)).await;
    c.assert_no_duplicates();
    let burst_msgs = &c.messages[before..];
    assert_eq!(burst_msgs.len(), 10000);
    let mut per_conv: HashMap<Cid, Vec<(i64, MessageId)>> = HashMap::new();
    for m in burst_msgs {
        per_conv
            .entry(m.cid.clone())
            .or_default()
            .push((m.time, m.id.clone()));
    }
    assert_eq!(per_conv.len(), 100);
    for (cid, list) in per_conv {
        assert_eq!(list.len(), 100, "{cid}");
        assert!(
            list.windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1.number() < w[1].1.number()),
            "order in {cid}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_saved_while_parked_brings_the_session_back() {
    use goofish_tui::im::cookies::CookieJar;
    use goofish_tui::im::mtop::{Endpoints, MtopClient};
    use goofish_tui::im::passport::{QrLogin, QrState};
    let sim = quiet(3).await;
    let dir = tempfile::tempdir().unwrap();
    let jar_path = dir.path().join("cookies.json");
    let base = url::Url::parse(sim.http_url()).unwrap();
    let jar = CookieJar::parse_header(sim.cookie());
    let mtop = MtopClient::new(Endpoints::at(base.clone()), jar, Some(jar_path.clone())).unwrap();
    let mut c = Client {
        session: session::spawn(test_config(&sim), mtop),
        messages: vec![],
        states: vec![],
    };
    c.live().await;
    control(&sim, "fault", json!({"kind": "expire-session"})).await;
    c.until("needs login", |e| {
        matches!(e, ImEvent::Connection(ConnState::NeedsLogin { .. }))
    })
    .await;

    // A QR login elsewhere (as `goofish-tui login` does it), saved where the session keeps
    // its cookie jar.
    let mut fresh = MtopClient::new(Endpoints::at(base), CookieJar::new(), None).unwrap();
    let mut login = QrLogin::start(&mut fresh).await.unwrap();
    let code = login.new_code().await.unwrap();
    control(&sim, "qr", json!({"status": "CONFIRMED"})).await;
    let state = login.poll(&code).await.unwrap();
    assert!(matches!(state, QrState::Confirmed { .. }), "{state:?}");
    fresh.jar().save(&jar_path).unwrap();

    c.until("live with the new login", |e| {
        matches!(e, ImEvent::Connection(ConnState::Live))
    })
    .await;
    assert!(!c.list().await.is_empty());
    sim.shutdown().await;
}

/// Waits for the one `SendResult` of `client_id`.
async fn result_of(c: &mut Client, client_id: &ClientId) -> Result<Message, String> {
    let ev = c
        .until(
            "send result",
            |e| matches!(e, ImEvent::SendResult { client_id: id, .. } if id == client_id),
        )
        .await;
    let ImEvent::SendResult { result, .. } = ev else {
        unreachable!()
    };
    result.map_err(|f| f.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_is_uploaded_then_sent_once() {
    let sim = quiet(2).await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("相机正面.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(7u8, 3000));
    std::fs::write(&photo, &png).unwrap();
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not a picture").unwrap();

    let mut c = Client::start(&sim);
    c.live().await;
    let cid = c.list().await[0].cid.clone();
    let id = ClientId::new("-1700000000000201");
    c.send(ImCommand::SendImage {
        cid: cid.clone(),
        client_id: id.clone(),
        path: photo,
    })
    .await;
    let sent = result_of(&mut c, &id).await.unwrap();
    let Content::Image { urls } = &sent.content else {
        panic!("sent {:?}", sent.content)
    };
    assert!(urls[0].starts_with(sim.http_url()), "{urls:?}");
    assert_eq!(sim_state(&sim).await["uploads"], 1);
    let got: Vec<_> = received(&sim)
        .await
        .into_iter()
        .filter(|r| r["text"].as_str().is_some_and(|t| t.contains(&urls[0])))
        .collect();
    assert_eq!(got.len(), 1, "sent once, as a picture");
    assert!(
        got[0]["text"]
            .as_str()
            .unwrap()
            .contains("\"contentType\":2")
    );
    // The echo of the picture is not a second message.
    c.drain_for(Duration::from_millis(500)).await;
    assert!(!c.messages.iter().any(|m| m.id == sent.id));

    let bad = ClientId::new("-1700000000000202");
    c.send(ImCommand::SendImage {
        cid: cid.clone(),
        client_id: bad.clone(),
        path: text_file,
    })
    .await;
    let err = result_of(&mut c, &bad).await.unwrap_err();
    assert!(err.contains("not a JPEG, PNG, GIF or WebP"), "{err}");
    let missing = ClientId::new("-1700000000000203");
    c.send(ImCommand::SendImage {
        cid,
        client_id: missing.clone(),
        path: dir.path().join("gone.jpg"),
    })
    .await;
    let err = result_of(&mut c, &missing).await.unwrap_err();
    assert!(err.contains("gone.jpg"), "{err}");
    assert_eq!(sim_state(&sim).await["uploads"], 1);
    sim.shutdown().await;
}

async fn inject_into(sim: &SimHandle, cid: &Cid, text: &str) -> String {
    control(sim, "incoming", json!({"cid": cid.as_str(), "text": text})).await["message_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Drops the connection and waits until the client says it is offline.
async fn drop_connection(c: &mut Client, sim: &SimHandle) {
    control(sim, "fault", json!({"kind": "drop"})).await;
    c.until("offline", |e| {
        matches!(e, ImEvent::Connection(ConnState::Reconnecting { .. }))
    })
    .await;
}

/// A client whose backfill starts a while after it is live again, so that live messages can
/// arrive before, during and after it.
fn slow_backfill_client(sim: &SimHandle) -> Client {
    let mut cfg = test_config(sim);
    cfg.backoff_min = Duration::from_millis(600);
    cfg.backoff_max = Duration::from_millis(600);
    cfg.settle_delay = Duration::from_millis(700);
    Client::start_with(sim, cfg)
}

#[tokio::test]
async fn a_live_message_after_reconnect_does_not_hide_the_gap() {
    let sim = quiet(4).await;
    let mut c = slow_backfill_client(&sim);
    c.live().await;
    let convs = c.list().await;
    let (x, y) = (convs[0].cid.clone(), convs[1].cid.clone());
    drop_connection(&mut c, &sim).await;
    let gap_x = inject_into(&sim, &x, "断线时 A").await;
    let gap_y = inject_into(&sim, &y, "断线时 C").await;
    c.live().await;
    // Before the backfill runs, both conversations move on live.
    let live_x = inject_into(&sim, &x, "重连后 B").await;
    let live_y = inject_into(&sim, &y, "重连后 D").await;
    for id in [&gap_x, &gap_y, &live_x, &live_y] {
        c.message(id).await;
    }
    // During and after the backfill: still nothing lost or doubled.
    let during = inject_into(&sim, &x, "补齐时 E").await;
    c.message(&during).await;
    c.drain_for(Duration::from_millis(900)).await;
    let after = inject_into(&sim, &x, "补齐后 F").await;
    c.message(&after).await;
    c.drain_for(Duration::from_millis(300)).await;
    c.assert_no_duplicates();
    sim.shutdown().await;
}

#[tokio::test]
async fn gaps_of_several_drops_in_a_row_are_all_backfilled() {
    let sim = quiet(3).await;
    let mut c = slow_backfill_client(&sim);
    c.live().await;
    let convs = c.list().await;
    let x = convs[0].cid.clone();
    let mut expected = vec![];
    for round in 0..3 {
        drop_connection(&mut c, &sim).await;
        expected.push(inject_into(&sim, &x, &format!("第{round}次断线时")).await);
        c.live().await;
        // Live again, and the conversation moves on before the backfill of this gap.
        expected.push(inject_into(&sim, &x, &format!("第{round}次重连后")).await);
    }
    for id in &expected {
        c.message(id).await;
    }
    c.drain_for(Duration::from_millis(300)).await;
    c.assert_no_duplicates();
    sim.shutdown().await;
}

// Several worker threads, as in the program: concurrent sends would race there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn texts_written_offline_go_out_in_the_order_they_were_written() {
    let sim = quiet(3).await;
    let mut cfg = test_config(&sim);
    cfg.backoff_min = Duration::from_millis(800);
    cfg.backoff_max = Duration::from_millis(800);
    let mut c = Client::start_with(&sim, cfg);
    c.live().await;
    let convs = c.list().await;
    drop_connection(&mut c, &sim).await;
    let (a, b) = (convs[0].cid.clone(), convs[1].cid.clone());
    let mut ids = vec![];
    for i in 1..=24 {
        // Two conversations interleaved: the order holds within each.
        let cid = if i % 3 == 0 { &b } else { &a };
        let client_id = ClientId::new(format!("-17000000001{i:02}"));
        c.send(ImCommand::SendText {
            cid: cid.clone(),
            client_id: client_id.clone(),
            text: format!("{i:02}"),
        })
        .await;
        ids.push(client_id);
    }
    let mut left: HashSet<ClientId> = ids.iter().cloned().collect();
    while !left.is_empty() {
        if let ImEvent::SendResult {
            client_id, result, ..
        } = c
            .until("send results", |e| matches!(e, ImEvent::SendResult { .. }))
            .await
        {
            assert!(result.is_ok(), "{result:?}");
            left.remove(&client_id);
        }
    }
    let got = received(&sim).await;
    let order = |cid: &Cid| -> Vec<String> {
        got.iter()
            .filter(|m| m["cid"] == cid.as_str())
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect()
    };
    let written = |in_b: bool| -> Vec<String> {
        (1..=24)
            .filter(|i| (i % 3 == 0) == in_b)
            .map(|i| format!("{i:02}"))
            .collect()
    };
    assert_eq!(order(&a), written(false));
    assert_eq!(order(&b), written(true));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_is_delivered_once() {
    let sim = quiet(3).await;
    let mut cfg = test_config(&sim);
    cfg.conn.request_timeout = Duration::from_millis(800);
    let mut c = Client::start_with(&sim, cfg);
    c.live().await;
    let convs = c.list().await;
    control(&sim, "fault", json!({"kind": "lose-send-answer"})).await;
    let client_id = ClientId::new("-1700000000000901");
    c.send(ImCommand::SendText {
        cid: convs[0].cid.clone(),
        client_id: client_id.clone(),
        text: "回答丢了也只发一次".into(),
    })
    .await;
    let ev = c
        .until("send result", |e| matches!(e, ImEvent::SendResult { .. }))
        .await;
    let ImEvent::SendResult { result, .. } = ev else {
        unreachable!()
    };
    let sent = result.unwrap();
    assert!(
        sent.id.as_str().ends_with(".PNM"),
        "its real id: {}",
        sent.id
    );
    c.drain_for(Duration::from_millis(1500)).await;
    let st = sim_state(&sim).await;
    assert_eq!(st["messages_received"].as_array().unwrap().len(), 1);
    assert_eq!(st["duplicate_sends"], 0, "not sent a second time: {st}");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_send_gets_exactly_one_result_even_under_a_repeated_client_id() {
    let sim = quiet(3).await;
    let mut c = Client::start(&sim);
    c.live().await;
    let convs = c.list().await;
    control(&sim, "fault", json!({"kind": "stall", "secs": 1.5})).await;
    let client_id = ClientId::new("-1700000000000902");
    let text = |t: &str| ImCommand::SendText {
        cid: convs[0].cid.clone(),
        client_id: client_id.clone(),
        text: t.into(),
    };
    // The same send asked for twice, and another text under the same id.
    c.send(text("同一条")).await;
    c.send(text("同一条")).await;
    c.send(text("别的内容")).await;
    let mut results = vec![];
    while results.len() < 3 {
        if let ImEvent::SendResult { result, .. } = c
            .until("send results", |e| matches!(e, ImEvent::SendResult { .. }))
            .await
        {
            results.push(result.map(|m| m.content));
        }
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 2, "{results:?}");
    assert!(results.iter().all(|r| match r {
        Ok(content) =>
            *content
                == Content::Text {
                    text: "同一条".into()
                },
        Err(f) => f.reason.contains("same client id"),
    }));
    c.drain_for(Duration::from_millis(500)).await;
    let got = received(&sim).await;
    assert_eq!(got.len(), 1, "{got:?}");
    sim.shutdown().await;
}

/// An upload endpoint that takes its time: it reads the request, waits `delay`, then answers
/// with a picture URL.
async fn slow_upload_server(delay: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tcp.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let body = r#"{"success":true,"object":{"url":"https://img.alicdn.com/slow.png"}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_slow_upload_holds_up_neither_messages_nor_other_requests() {
    use goofish_tui::im::cookies::CookieJar;
    use goofish_tui::im::mtop::{Endpoints, MtopClient};
    let sim = quiet(3).await;
    let mut endpoints = Endpoints::at(url::Url::parse(sim.http_url()).unwrap());
    endpoints.upload = url::Url::parse(&slow_upload_server(Duration::from_secs(10)).await).unwrap();
    let mtop = MtopClient::new(endpoints, CookieJar::parse_header(sim.cookie()), None).unwrap();
    let mut c = Client {
        session: session::spawn(test_config(&sim), mtop),
        messages: vec![],
        states: vec![],
    };
    c.live().await;
    let convs = c.list().await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.png");
    std::fs::write(&photo, b"\x89PNG\r\n\x1a\n0000").unwrap();
    let id = ClientId::new("-1700000000000301");
    c.send(ImCommand::SendImage {
        cid: convs[0].cid.clone(),
        client_id: id.clone(),
        path: photo,
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // While the upload waits: buyers' messages arrive, and an mtop lookup is answered, all
    // before the upload's answer.
    for i in 0..3 {
        let m = inject(&sim, &format!("上传时 {i}")).await;
        c.message(&m).await;
    }
    c.send(ImCommand::FetchProfile {
        cid: convs[1].cid.clone(),
        uid: convs[1].peer.clone(),
    })
    .await;
    let first = c
        .until("the profile or the picture's result", |e| {
            matches!(e, ImEvent::Profile(_) | ImEvent::SendResult { .. })
        })
        .await;
    assert!(
        matches!(first, ImEvent::Profile(_)),
        "the lookup waited for the upload: {first:?}"
    );
    // And the picture goes out once the upload answers.
    assert!(result_of(&mut c, &id).await.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_renewal_asks_for_a_login_once_and_stops_renewing() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 2,
        history: 2,
        session_lifetime: Some(Duration::from_secs(2)),
        ..SimOptions::default()
    })
    .await;
    control(&sim, "fault", json!({"kind": "refuse-renewal"})).await;
    let mut cfg = test_config(&sim);
    cfg.login.keepalive = Some(Duration::from_millis(500));
    cfg.login.renew_every = Some(Duration::from_millis(700));
    let mut c = Client::start_with(&sim, cfg);
    c.live().await;
    c.until("needs login", |e| {
        matches!(e, ImEvent::Connection(ConnState::NeedsLogin { .. }))
    })
    .await;
    let renewals = |s: &serde_json::Value| {
        s["renewals"].as_u64().unwrap() + s["silent_renewals"].as_u64().unwrap()
    };
    let asked = renewals(&sim_state(&sim).await);
    // Long enough for several keep-alive and renewal periods: nothing more is tried.
    c.drain_for(Duration::from_secs(4)).await;
    assert_eq!(
        renewals(&sim_state(&sim).await),
        asked,
        "renewals after needs-login"
    );
    let needs_login = c
        .states
        .iter()
        .filter(|s| matches!(s, ConnState::NeedsLogin { .. }))
        .count();
    assert_eq!(needs_login, 1, "{:?}", c.states);
    let ConnState::NeedsLogin { reason } = c.states.last().unwrap() else {
        panic!("{:?}", c.states)
    };
    assert!(reason.contains("could not be renewed"), "{reason}");
    sim.shutdown().await;
}
