//! The LWP WebSocket at `/` (§4, §6): `/reg`, heartbeats, the IM RPCs and sync pushes.

use super::driver::chat_push;
use super::state::{ConnRec, ConnShared, Out, Received, Sim, State, lock, random_hex};
use crate::protocol::content::content_to_json;
use crate::protocol::encode::{PushItem, recall_item, sync_push_body};
use crate::protocol::history::{
    conversation_entry_json, conversation_page_json, history_page_json,
};
use crate::protocol::lwp::{FLOW_CONTROL_CODE, Frame, IM_APP_KEY, Kind, new_mid, path};
use crate::protocol::send::{
    parse_clear_red_point, parse_create_single, parse_get_by_cids, parse_list_newest_pagination,
    parse_list_user_messages, parse_read_body, parse_recall, parse_send_request,
    send_response_json,
};
use crate::protocol::{Cid, Content, HistoryEntry, Uid};
use crate::sim::shards::Shard;
use crate::sim::shards::Shards;
use axum::Router;
use axum::extract::State as AxState;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

/// At most this many items go into one sync package.
const MAX_ITEMS_PER_PACKAGE: usize = 20;
/// Every this many packages carries `syncExtraType` 1, which tells clients to resync.
const SYNC_EXTRA_EVERY: u64 = 25;

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new().route("/", get(upgrade))
}

async fn upgrade(
    Shard(sim): Shard,
    AxState(shards): AxState<Arc<Shards>>,
    ws: WebSocketUpgrade,
) -> Response {
    // Any handshake is accepted: authentication is `/reg` (§4.1), which also says whose
    // connection it is.
    ws.max_message_size(8 << 20)
        .on_upgrade(move |socket| serve(sim, shards, socket))
}

async fn serve(sim: Arc<Sim>, shards: Arc<Shards>, socket: WebSocket) {
    let mut sim = sim;
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let id = sim.next_conn_id();
    let shared = Arc::new(ConnShared {
        id,
        tx,
        unacked: Mutex::new(HashSet::new()),
        stalled_until: Mutex::new(None),
        sid: random_hex(12),
    });
    sim.state().conns.insert(
        id,
        ConnRec {
            shared: shared.clone(),
            uid: None,
            token: None,
        },
    );
    sim.counters.connections.fetch_add(1, Ordering::Relaxed);
    let writer = tokio::spawn(write_loop(sim.clone(), shared.clone(), sink, rx));
    read_loop(&mut sim, &shards, &shared, stream).await;
    sim.state().conns.remove(&id);
    let _ = shared.tx.send(Out::Close);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

async fn wait_while_stalled(shared: &ConnShared) {
    while let Some(until) = shared.stall_deadline() {
        sleep_until(until).await;
    }
}

fn push_headers(shared: &ConnShared) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert(
        "mid".into(),
        json!(new_mid(crate::time::now_ms(), rand::random())),
    );
    h.insert("sid".into(), json!(shared.sid));
    h.insert("app-key".into(), json!(IM_APP_KEY));
    h.insert(
        "ua".into(),
        json!("goofish-sim DingTalk(2.2.0) IMPaaS DingWeb/2.2.0"),
    );
    h.insert("dt".into(), json!("j"));
    h
}

async fn write_loop(
    sim: Arc<Sim>,
    shared: Arc<ConnShared>,
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut rx: mpsc::UnboundedReceiver<Out>,
) {
    let mut pending: Option<Out> = None;
    loop {
        let out = match pending.take() {
            Some(o) => o,
            None => match rx.recv().await {
                Some(o) => o,
                None => break,
            },
        };
        wait_while_stalled(&shared).await;
        let text = match out {
            Out::Item(first) => {
                let mut items = vec![first];
                while items.len() < MAX_ITEMS_PER_PACKAGE {
                    match rx.try_recv() {
                        Ok(Out::Item(i)) => items.push(i),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let n = sim.counters.packages.fetch_add(1, Ordering::Relaxed) + 1;
                let extra = n.is_multiple_of(SYNC_EXTRA_EVERY).then_some(1);
                let pts = crate::time::now_ms() * 1000;
                sim.counters
                    .items_sent
                    .fetch_add(items.len() as u64, Ordering::Relaxed);
                push_text(
                    &sim,
                    &shared,
                    path::PUSH_SYNC,
                    sync_push_body(&items, pts, extra),
                )
            }
            Out::Push { lwp, body } => push_text(&sim, &shared, lwp, body),
            Out::Text(t) => t,
            Out::Close => {
                let _ = sink.send(WsMessage::Close(None)).await;
                break;
            }
            Out::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        if sink.send(WsMessage::Text(text.into())).await.is_err() {
            break;
        }
    }
    // Whatever is still queued will never be written: release any waiting flush.
    rx.close();
    while let Ok(o) = rx.try_recv() {
        if let Out::Flush(done) = o {
            let _ = done.send(());
        }
    }
}

/// A push frame; its mid is recorded as awaiting an ACK.
fn push_text(sim: &Sim, shared: &ConnShared, lwp: &str, body: Value) -> String {
    let headers = push_headers(shared);
    if let Some(mid) = headers.get("mid").and_then(Value::as_str) {
        lock(&shared.unacked).insert(crate::protocol::lwp::mid_key(mid).to_string());
    }
    sim.counters.pushes_sent.fetch_add(1, Ordering::Relaxed);
    Frame {
        lwp: Some(lwp.to_string()),
        code: None,
        headers,
        body: Some(body),
        sync: None,
    }
    .to_text()
}

async fn read_loop(
    sim: &mut Arc<Sim>,
    shards: &Shards,
    shared: &Arc<ConnShared>,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
) {
    let mut stop = sim.stop.clone();
    let mut last_heartbeat = Instant::now();
    let mut kicked = false;
    loop {
        if let Some(until) = shared.stall_deadline() {
            sleep_until(until).await;
            last_heartbeat = last_heartbeat.max(until);
            continue;
        }
        let kick_at = last_heartbeat + sim.opts.heartbeat_kick_after;
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(WsMessage::Text(t))) => {
                    follow_registration(sim, shards, shared, t.as_str());
                    if handle_text(sim, shared, t.as_str()) {
                        last_heartbeat = Instant::now();
                    }
                }
                Some(Ok(WsMessage::Binary(_))) => {
                    sim.counters.malformed_from_clients.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = sleep_until(kick_at), if !kicked => {
                tracing::info!(conn = shared.id, "no heartbeat: kicking the connection");
                kicked = true;
                let _ = shared.tx.send(Out::Push { lwp: path::PUSH_KICKOUT, body: json!({"reason": "heartbeat timeout"}) });
                let _ = shared.tx.send(Out::Close);
            }
            _ = stop.changed() => break,
        }
    }
}

/// A `/reg` with another seller's token makes the connection that seller's, as the
/// service's one endpoint serves every account.
fn follow_registration(sim: &mut Arc<Sim>, shards: &Shards, shared: &ConnShared, text: &str) {
    let Ok(frame) = Frame::parse(text) else {
        return;
    };
    if frame.kind() != Kind::Push || frame.lwp.as_deref() != Some(path::REG) {
        return;
    }
    let token = frame.header_str("token").unwrap_or("");
    let owner = shards
        .all
        .iter()
        .find(|s| s.state().im_tokens.contains_key(token));
    let Some(owner) = owner.filter(|o| !Arc::ptr_eq(o, sim)) else {
        return;
    };
    let rec = sim.state().conns.remove(&shared.id);
    if let Some(rec) = rec {
        owner.state().conns.insert(shared.id, rec);
        sim.counters.connections.fetch_sub(1, Ordering::Relaxed);
        owner.counters.connections.fetch_add(1, Ordering::Relaxed);
    }
    *sim = owner.clone();
}

/// Handles one text frame; true if it was a heartbeat.
fn handle_text(sim: &Arc<Sim>, shared: &Arc<ConnShared>, text: &str) -> bool {
    let Ok(frame) = Frame::parse(text) else {
        sim.counters
            .malformed_from_clients
            .fetch_add(1, Ordering::Relaxed);
        return false;
    };
    match frame.kind() {
        Kind::Response => {
            // An ACK of one of our pushes.
            if let Some(key) = frame.mid_key()
                && lock(&shared.unacked).remove(key)
            {
                sim.counters.pushes_acked.fetch_add(1, Ordering::Relaxed);
            }
            false
        }
        Kind::Push => {
            let is_heartbeat = frame.lwp.as_deref() == Some(path::HEARTBEAT);
            let mut lost = false;
            let (response, after) = handle_request(sim, shared, &frame, &mut lost);
            if lost {
                tracing::info!("simulator: a send's answer is lost");
            } else {
                let _ = shared.tx.send(Out::Text(response.to_text()));
            }
            for out in after {
                let _ = shared.tx.send(out);
            }
            is_heartbeat
        }
        Kind::Other => {
            sim.counters
                .malformed_from_clients
                .fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

fn error(req: &Frame, code: i64, body: Value) -> Frame {
    Frame::response_to(req, code, Some(body))
}

fn ok(req: &Frame, body: Value) -> Frame {
    Frame::response_to(req, 200, Some(body))
}

type Handled = (Frame, Vec<Out>);

/// The answer to `req`, and what follows it; `lost` is set when the answer must not be sent.
fn handle_request(
    sim: &Arc<Sim>,
    shared: &Arc<ConnShared>,
    req: &Frame,
    lost: &mut bool,
) -> Handled {
    let lwp = req.lwp.as_deref().unwrap_or("");
    if lwp == path::HEARTBEAT {
        let mut resp = Frame::response_to(req, 200, None);
        resp.headers.insert(
            "server-timestamp".into(),
            json!(crate::time::now_ms().to_string()),
        );
        return (resp, vec![]);
    }
    if lwp == path::REG {
        return register(sim, shared, req);
    }
    sim.counters.rpcs.fetch_add(1, Ordering::Relaxed);
    let mut st = sim.state();
    let registered = st.conns.get(&shared.id).is_some_and(|c| c.uid.is_some());
    if !registered {
        return (error(req, 401, json!({"reason": "not auth"})), vec![]);
    }
    if lwp.starts_with("/r/") && st.faults.take_flow_control() {
        return (
            error(
                req,
                400,
                json!({"code": FLOW_CONTROL_CODE, "reason": "请求过于频繁，请稍后再试"}),
            ),
            vec![],
        );
    }
    let body = req.body.clone().unwrap_or(Value::Null);
    let self_uid = sim.self_uid();
    let now = crate::time::now_ms();
    match lwp {
        path::GET_STATE => (
            ok(
                req,
                json!({"pipeline": "sync", "tooLong2Tag": "PNM,1", "channel": "sync", "topic": "sync",
                "highPts": 0, "pts": now * 1000, "seq": 0, "timestamp": now}),
            ),
            vec![],
        ),
        path::ACK_DIFF => (
            ok(
                req,
                json!({"syncExtensionModel": {"fingerprint": 0}, "syncExtraType": {"type": 0}}),
            ),
            vec![],
        ),
        path::LIST_NEWEST_PAGINATION => match parse_list_newest_pagination(&body) {
            Ok((cursor, limit)) => {
                let (convs, more, next) = st
                    .world
                    .conversations_page(cursor, limit.clamp(1, 100) as usize);
                let convs: Vec<_> = convs.into_iter().cloned().collect();
                (
                    ok(req, conversation_page_json(&convs, &self_uid, more, next)),
                    vec![],
                )
            }
            Err(e) => (error(req, 400, json!({"reason": e.to_string()})), vec![]),
        },
        path::LIST_NEWEST => {
            let max = body
                .get(1)
                .and_then(Value::as_u64)
                .unwrap_or(20)
                .clamp(1, 100) as usize;
            let (convs, _, _) = st
                .world
                .conversations_page(crate::protocol::lwp::FIRST_PAGE_CURSOR, max);
            let list: Vec<Value> = convs
                .iter()
                .map(|c| conversation_entry_json(c, &self_uid))
                .collect();
            (ok(req, Value::Array(list)), vec![])
        }
        path::GET_BY_CIDS => {
            let list: Vec<Value> = parse_get_by_cids(&body)
                .iter()
                .filter_map(|cid| st.world.thread(cid))
                .map(|t| conversation_entry_json(&t.conv, &self_uid))
                .collect();
            (ok(req, Value::Array(list)), vec![])
        }
        path::CREATE_SINGLE => match parse_create_single(&body) {
            Ok((a, b, item)) => {
                let peer = if a == self_uid { b } else { a };
                let cid = st.world.open_conversation(&peer, item.as_deref(), now);
                let conv = st.world.thread(&cid).map(|t| t.conv.clone());
                let body = match conv {
                    Some(c) => json!({"singleChatConversation": {
                        "cid": c.cid.im(), "pairFirst": c.peer.im(), "pairSecond": self_uid.im(), "bizType": "1",
                        "createAt": now, "msgReadStatusSetting": 1,
                        "extension": {"itemId": c.item_id.unwrap_or_default()}}}),
                    None => json!({"cid": cid.im()}),
                };
                (ok(req, body), vec![])
            }
            Err(e) => (error(req, 400, json!({"reason": e.to_string()})), vec![]),
        },
        path::LIST_USER_MESSAGES => match parse_list_user_messages(&body) {
            Ok((cid, cursor, limit)) => {
                let Some(thread) = st.world.thread(&cid) else {
                    return (
                        error(req, 400, json!({"reason": "conversation not exist"})),
                        vec![],
                    );
                };
                let read_up_to = thread.read_up_to_by_peer;
                let (msgs, more, next) =
                    st.world.history(&cid, cursor, limit.clamp(1, 100) as usize);
                let entries: Vec<HistoryEntry> = msgs
                    .into_iter()
                    .map(|m| HistoryEntry {
                        read_by_peer: m.is_self && m.time <= read_up_to,
                        message: m.clone(),
                    })
                    .collect();
                (ok(req, history_page_json(&entries, more, next)), vec![])
            }
            Err(e) => (error(req, 400, json!({"reason": e.to_string()})), vec![]),
        },
        path::SEND => {
            *lost = st.faults.take_lose_send_answer();
            let echo_except = lost.then_some(shared.id);
            send(sim, &mut st, req, &body, now, echo_except)
        }
        path::READ => {
            let (ids, cid) = parse_read_body(&body);
            let cids: HashSet<Cid> = ids
                .iter()
                .filter_map(|id| find_cid_of(&st, id))
                .chain(cid)
                .collect();
            for cid in cids {
                st.world.mark_read_by_self(&cid);
            }
            (ok(req, json!({})), vec![])
        }
        path::CLEAR_RED_POINT => {
            for cid in parse_clear_red_point(&body) {
                st.world.mark_read_by_self(&cid);
            }
            (ok(req, json!({})), vec![])
        }
        path::RECALL => match parse_recall(&body)
            .ok_or("no message id")
            .and_then(|id| recallable(&mut st.world, &id, now))
        {
            Ok((cid, id)) => {
                drop(st);
                sim.push_items(vec![PushItem {
                    biz_type: 40104,
                    data: recall_item(&cid, &id, now),
                }]);
                (ok(req, json!({})), vec![])
            }
            Err(reason) => (error(req, 400, json!({ "reason": reason })), vec![]),
        },
        _ => (
            error(
                req,
                404,
                json!({"reason": format!("unknown lwp path {lwp}")}),
            ),
            vec![],
        ),
    }
}

/// How long after sending an own message may be recalled. §6.11 [L]: a client offers recall
/// for 2 minutes, which is taken as the service's rule.
pub const RECALL_WINDOW_MS: i64 = 2 * 60 * 1000;

/// Removes `id` when the account may recall it (its own message, at most
/// `RECALL_WINDOW_MS` old); otherwise the reason, as the answer's `reason`.
fn recallable(
    world: &mut super::world::World,
    id: &crate::protocol::MessageId,
    now: i64,
) -> Result<(Cid, crate::protocol::MessageId), &'static str> {
    let m = world.message(id).ok_or("message not exist")?;
    if !m.is_self {
        return Err("only your own messages can be recalled");
    }
    if now.saturating_sub(m.time) > RECALL_WINDOW_MS {
        return Err("message can only be recalled within 2 minutes");
    }
    world.recall(id).ok_or("message not exist")
}

fn find_cid_of(st: &State, id: &crate::protocol::MessageId) -> Option<Cid> {
    st.world
        .threads_newest_first()
        .into_iter()
        .find(|t| t.messages.iter().any(|m| &m.id == id))
        .map(|t| t.conv.cid.clone())
}

/// Texts the simulated content security blocks, like the real one blocks contact details.
fn blocked_by_content_security(content: &Content) -> bool {
    match content {
        Content::Text { text } => {
            let t = text.to_lowercase();
            ["微信", "weixin", "vx:", "加v", "qq号"]
                .iter()
                .any(|w| t.contains(w))
        }
        _ => false,
    }
}

fn send(
    sim: &Arc<Sim>,
    st: &mut State,
    req: &Frame,
    body: &Value,
    now: i64,
    echo_except: Option<u64>,
) -> Handled {
    let sreq = match parse_send_request(body) {
        Ok(r) => r,
        Err(e) => return (error(req, 400, json!({"reason": e.to_string()})), vec![]),
    };
    // The service's behaviour on a repeated uuid is not known; the simulator answers with
    // the first message so a client's resend after a lost response stays exactly-once,
    // and counts it so tests can see needless resends.
    if let Some((id, time)) = st.sent_by_uuid.get(&sreq.uuid).cloned() {
        sim.counters.duplicate_sends.fetch_add(1, Ordering::Relaxed);
        return (ok(req, send_response_json(&id, &sreq.uuid, time)), vec![]);
    }
    if st.faults.take_csi_forbid() || blocked_by_content_security(&sreq.content) {
        return (
            error(
                req,
                400,
                json!({"reason": "内容存在不当信息，请修改后重试", "moreInfo": "CSI_FORBID||安全拦截"}),
            ),
            vec![],
        );
    }
    let Some(thread) = st.world.thread(&sreq.cid) else {
        return (
            error(req, 400, json!({"reason": "conversation not exist"})),
            vec![],
        );
    };
    let peer: Uid = thread.conv.peer.clone();
    let Some(msg) = st.world.self_says(
        &sreq.cid,
        sreq.content.clone(),
        Some(sreq.uuid.clone()),
        now,
    ) else {
        return (
            error(req, 400, json!({"reason": "conversation not exist"})),
            vec![],
        );
    };
    st.sent_by_uuid
        .insert(sreq.uuid.clone(), (msg.id.clone(), msg.time));
    let text = match &sreq.content {
        Content::Text { text } => text.to_string(),
        other => content_to_json(other),
    };
    st.received.push(Received {
        cid: sreq.cid.to_string(),
        text: text.clone(),
        uuid: sreq.uuid.clone(),
        message_id: msg.id.to_string(),
    });
    let answers = st.director.answer(&st.world, &sreq.cid, &text);
    // The echo goes to every connection of the account, the sender's included (§6.8).
    st.queue_items_except(&[chat_push(&msg, &peer)], echo_except);
    super::driver::schedule(sim.clone(), answers);
    (
        ok(req, send_response_json(&msg.id, &sreq.uuid, msg.time)),
        vec![],
    )
}

fn register(sim: &Arc<Sim>, shared: &Arc<ConnShared>, req: &Frame) -> Handled {
    let token = req.header_str("token").unwrap_or("");
    let did = req.header_str("did").unwrap_or("");
    let app_key = req.header_str("app-key").unwrap_or("");
    let now = crate::time::now_ms();
    let mut st = sim.state();
    let reason = match st.im_tokens.get(token) {
        None => Some("token is not found"),
        Some(t) if t.expires_at_ms <= now => Some("invalid token"),
        Some(t) if t.did != did || app_key != IM_APP_KEY => {
            Some("device id or appkey is not equal")
        }
        Some(_) => None,
    };
    if let Some(reason) = reason {
        return (error(req, 401, json!({"reason": reason})), vec![]);
    }
    let self_uid = sim.self_uid();
    if let Some(rec) = st.conns.get_mut(&shared.id) {
        rec.uid = Some(self_uid.clone());
        rec.token = Some(token.to_string());
    }
    sim.counters.registrations.fetch_add(1, Ordering::Relaxed);
    let mut resp = ok(
        req,
        json!({"unitName": "sim", "timestamp": now, "isFromChina": true, "cookie": random_hex(16)}),
    );
    for (k, v) in [
        ("reg-sid", shared.sid.clone()),
        ("reg-uid", self_uid.im()),
        ("sid", shared.sid.clone()),
        ("dt", "j".to_string()),
        ("real-ip", "127.0.0.1".to_string()),
    ] {
        resp.headers.insert(k.into(), json!(v));
    }
    (
        resp,
        vec![Out::Push {
            lwp: path::PUSH_VULCAN,
            body: json!({}),
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::{World, WorldConfig};

    #[test]
    fn only_own_messages_within_two_minutes_are_recalled() {
        let now = 1_800_000_000_000;
        let mut w = World::generate(&WorldConfig {
            conversations: 3,
            history: 2,
            ..WorldConfig::new(1, now)
        });
        let cid = w.threads_newest_first()[0].conv.cid.clone();
        let text = |t: &str| Content::Text { text: t.into() };
        let old = w.self_says(&cid, text("早"), None, now).expect("sent");
        let fresh = w.self_says(&cid, text("晚"), None, now + 1).expect("sent");
        let theirs = w.buyer_says(&cid, text("在吗"), now + 2).expect("said");
        let later = now + 1 + RECALL_WINDOW_MS;
        assert!(recallable(&mut w, &old.id, later).is_err());
        assert!(recallable(&mut w, &theirs.id, later).is_err());
        assert_eq!(
            recallable(&mut w, &fresh.id, later),
            Ok((cid.clone(), fresh.id.clone()))
        );
        assert_eq!(
            recallable(&mut w, &fresh.id, later),
            Err("message not exist")
        );
    }
}
