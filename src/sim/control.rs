//! The control API under `/__sim`: inject buyer messages, bursts and faults; drive the QR
//! login; read counters.

use super::driver::chat_push;
use super::faults::{FaultKind, FaultRequest, Faults};
use super::passport;
use super::scenario::Action;
use super::shards::Shards;
use super::state::{Out, QrStatus, lock};
use crate::protocol::encode::PushItem;
use crate::protocol::lwp::path;
use crate::protocol::{Cid, Content, Uid};
use crate::sim::shards::Shard;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new()
        .route("/__sim/incoming", post(incoming))
        .route("/__sim/burst", post(burst))
        .route("/__sim/fault", post(fault))
        .route("/__sim/order", post(order))
        .route("/__sim/qr", post(qr))
        .route("/__sim/state", get(state))
        .route("/__sim/login-as", post(login_as))
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

#[derive(Deserialize)]
struct Incoming {
    from: Option<String>,
    cid: Option<String>,
    text: String,
    /// The buyer's nickname from now on (in pushes, the conversation list and profiles).
    nick: Option<String>,
    /// The title of the item a new conversation (one opened by `from`) is about.
    item_title: Option<String>,
}

async fn incoming(Shard(sim): Shard, Json(req): Json<Incoming>) -> Response {
    let now = crate::time::now_ms();
    let self_uid = sim.self_uid();
    let msg = {
        let mut st = sim.state();
        let mut new_conversation = false;
        let cid = match (req.cid, req.from) {
            (Some(cid), _) => {
                let cid = Cid::new(cid);
                if st.world.thread(&cid).is_none() {
                    return bad_request(format!("unknown conversation {cid}"));
                }
                cid
            }
            (None, Some(from)) => {
                let from = Uid::new(from);
                let existing = st
                    .world
                    .threads_newest_first()
                    .into_iter()
                    .find(|t| t.conv.peer == from)
                    .map(|t| t.conv.cid.clone());
                match existing {
                    Some(cid) => cid,
                    None => {
                        new_conversation = true;
                        let item = req.item_title.as_deref().map(|t| st.world.add_item(t));
                        st.world.open_conversation(&from, item.as_deref(), now)
                    }
                }
            }
            (None, None) => {
                // A buyer writes: any conversation but the platform assistant's.
                let buyers = st.buyer_cids();
                if buyers.is_empty() {
                    return bad_request("the world has no buyer conversation");
                }
                buyers[rand::random_range(0..buyers.len())].clone()
            }
        };
        if req.item_title.is_some() && !new_conversation {
            return bad_request(
                "item_title is only taken for a new conversation (give `from` of a new buyer)",
            );
        }
        if let Some(nick) = &req.nick {
            let peer = st.world.thread(&cid).map(|t| t.conv.peer.clone());
            if !peer.is_some_and(|p| st.world.rename_buyer(&p, nick)) {
                return bad_request(format!("conversation {cid} has no buyer to rename"));
            }
        }
        st.world.buyer_says(
            &cid,
            Content::Text {
                text: req.text.into(),
            },
            now,
        )
    };
    let Some(msg) = msg else {
        return bad_request("could not add the message");
    };
    sim.push_items(vec![chat_push(&msg, &self_uid)]);
    Json(json!({"message_id": msg.id.as_str(), "cid": msg.cid.as_str(), "time": msg.time}))
        .into_response()
}

#[derive(Deserialize)]
struct Burst {
    count: usize,
    #[serde(default = "one")]
    conversations: usize,
}

fn one() -> usize {
    1
}

/// At most this many buyers a burst brings in besides those of the world.
const MAX_NEW_CONVERSATIONS: usize = 100_000;

async fn burst(Shard(sim): Shard, Json(req): Json<Burst>) -> Response {
    if req.count == 0 || req.conversations == 0 {
        return bad_request("count and conversations must be positive");
    }
    let started = Instant::now();
    let self_uid = sim.self_uid();
    let now = crate::time::now_ms();
    // A message needs a conversation, and a conversation used needs a message.
    let wanted = req.conversations.min(req.count);
    let (messages, created) = {
        let mut st = sim.state();
        let mut cids = st.buyer_cids();
        cids.truncate(wanted);
        // More conversations than the world has: new buyers write, as in a busy hour.
        let created = wanted - cids.len();
        if created > MAX_NEW_CONVERSATIONS {
            return bad_request(format!(
                "a burst brings in at most {MAX_NEW_CONVERSATIONS} new conversations; the world has {}",
                cids.len()
            ));
        }
        for _ in 0..created {
            let cid = st.world.new_buyer_conversation(now);
            cids.push(cid);
        }
        let messages = (0..req.count)
            .filter_map(|i| {
                let cid = &cids[i % cids.len()];
                // Distinct, increasing times keep the order inside each conversation clear.
                let text = format!("第{}条：还在吗？", i + 1);
                st.world
                    .buyer_says(cid, Content::Text { text: text.into() }, now + i as i64)
            })
            .collect::<Vec<_>>();
        (messages, created)
    };
    let conversations = messages
        .iter()
        .map(|m| &m.cid)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let items: Vec<PushItem> = messages.iter().map(|m| chat_push(m, &self_uid)).collect();
    sim.push_items(items);
    sim.flush_all().await;
    let secs = started.elapsed().as_secs_f64();
    Json(json!({
        "count": messages.len(),
        "conversations": conversations,
        "created_conversations": created,
        "connections": sim.registered_connections(),
        "elapsed_ms": (secs * 1000.0).round(),
        "per_second": if secs > 0.0 { (messages.len() as f64 / secs).round() } else { 0.0 },
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OrderStep {
    /// The buyer places an order (我已拍下，待付款).
    Place,
    /// The buyer pays (我已付款，等待你发货).
    Pay,
    /// The order is shipped: only the order-status push (等待买家收货), no card.
    Ship,
}

#[derive(Deserialize)]
struct OrderReq {
    cid: String,
    step: OrderStep,
}

/// A buyer's order step in a conversation: the trade card and the order-status push.
async fn order(Shard(sim): Shard, Json(req): Json<OrderReq>) -> Response {
    let cid = Cid::new(req.cid);
    if sim.state().world.thread(&cid).is_none() {
        return bad_request(format!("unknown conversation {cid}"));
    }
    let action = match req.step {
        OrderStep::Place => Action::PlaceOrder { cid },
        OrderStep::Pay => Action::Pay { cid },
        OrderStep::Ship => Action::Ship { cid },
    };
    super::driver::apply(&sim, &action);
    Json(json!({"ok": true})).into_response()
}

async fn fault(Shard(sim): Shard, Json(req): Json<FaultRequest>) -> Response {
    let count = req.count.unwrap_or(1);
    match req.kind {
        FaultKind::Drop => sim.to_all(|| Out::Close),
        FaultKind::Stall => {
            let secs = req.secs.unwrap_or(40.0).max(0.0);
            let until = Instant::now() + Duration::from_secs_f64(secs);
            let st = sim.state();
            for rec in st.conns.values() {
                *lock(&rec.shared.stalled_until) = Some(until);
            }
        }
        FaultKind::Kickout => {
            let mut st = sim.state();
            let tokens: Vec<String> = st.conns.values().filter_map(|c| c.token.clone()).collect();
            for t in tokens {
                st.im_tokens.remove(&t);
            }
            for rec in st.conns.values() {
                let _ = rec.shared.tx.send(Out::Push {
                    lwp: path::PUSH_KICKOUT,
                    body: json!({}),
                });
                let _ = rec.shared.tx.send(Out::Close);
            }
        }
        FaultKind::SessionRemove => {
            let st = sim.state();
            for rec in st.conns.values() {
                let _ = rec.shared.tx.send(Out::Push {
                    lwp: path::PUSH_SESSION_REMOVE,
                    body: json!({}),
                });
                let _ = rec.shared.tx.send(Out::Close);
            }
        }
        FaultKind::ExpireImToken => sim.expire_im_tokens(),
        FaultKind::ExpireSession => {
            sim.state().faults.session_expired = true;
            sim.expire_im_tokens();
        }
        FaultKind::RiskControl => {
            sim.state().faults.risk_control = true;
            sim.expire_im_tokens();
        }
        FaultKind::FlowControl => sim.state().faults.flow_control_left = count,
        FaultKind::CsiForbid => sim.state().faults.csi_forbid_left = count,
        FaultKind::LoseSendAnswer => sim.state().faults.lose_send_answer_left = count,
        FaultKind::Duplicate => sim.state().faults.duplicate = true,
        FaultKind::RefuseRenewal => sim.state().faults.refuse_renewal = true,
        FaultKind::Malformed => {
            let st = sim.state();
            for rec in st.conns.values().filter(|c| c.uid.is_some()) {
                for i in 0..count {
                    let garbage = match i % 4 {
                        0 => "this is not json".to_string(),
                        1 => "[1,2,3]".to_string(),
                        2 => r#"{"lwp": 5, "headers": "x"}"#.to_string(),
                        _ => "{\"code\":".to_string(),
                    };
                    let _ = rec.shared.tx.send(Out::Text(garbage));
                    let data = match i % 3 {
                        0 => "!!!not base64!!!".to_string(),
                        1 => "3q2+7w==".to_string(),
                        _ => "gqFhwA==".to_string(),
                    };
                    let _ = rec.shared.tx.send(Out::Item(PushItem {
                        biz_type: 40000,
                        data,
                    }));
                }
            }
        }
        FaultKind::Clear => {
            let mut st = sim.state();
            st.faults = Faults::default();
            for rec in st.conns.values() {
                *lock(&rec.shared.stalled_until) = None;
            }
        }
    }
    tracing::info!(kind = ?req.kind, "simulator fault");
    Json(json!({"ok": true, "kind": req.kind})).into_response()
}

#[derive(Deserialize)]
struct QrReq {
    status: QrStatus,
}

async fn qr(Shard(sim): Shard, Json(req): Json<QrReq>) -> Response {
    if passport::set_status(&sim, req.status) {
        Json(json!({"ok": true})).into_response()
    } else {
        bad_request("no QR code has been generated")
    }
}

#[derive(Deserialize)]
struct LoginAs {
    uid: String,
}

/// The next QR login confirms as this seller (its phone scans the code).
async fn login_as(AxState(shards): AxState<Arc<Shards>>, Json(req): Json<LoginAs>) -> Response {
    if shards.log_in_as(&req.uid) {
        Json(json!({"ok": true})).into_response()
    } else {
        bad_request(format!("no seller {}", req.uid))
    }
}

async fn state(Shard(sim): Shard, AxState(shards): AxState<Arc<Shards>>) -> Response {
    let c = &sim.counters;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    // Every seller's own counters (each lock taken alone).
    let accounts: Vec<Value> = shards
        .all
        .iter()
        .map(|s| {
            let st = s.state();
            json!({
                "uid": s.self_uid().as_str(),
                "nick": st.world.self_nick,
                "registered_connections": st.conns.values().filter(|r| r.uid.is_some()).count(),
                "connections_total": s.counters.connections.load(Ordering::Relaxed),
                "registrations": s.counters.registrations.load(Ordering::Relaxed),
                "messages_received": st.received,
            })
        })
        .collect();
    let st = sim.state();
    let unacked: usize = st
        .conns
        .values()
        .map(|r| lock(&r.shared.unacked).len())
        .sum();
    let body: Value = json!({
        "self_uid": sim.self_uid().as_str(),
        "connections": st.conns.len(),
        "registered_connections": st.conns.values().filter(|r| r.uid.is_some()).count(),
        "connections_total": get(&c.connections),
        "registrations": get(&c.registrations),
        "pushes_sent": get(&c.pushes_sent),
        "pushes_acked": get(&c.pushes_acked),
        "pushes_unacked": unacked,
        "items_sent": get(&c.items_sent),
        "packages": get(&c.packages),
        "rpcs": get(&c.rpcs),
        "token_requests": get(&c.token_requests),
        "duplicate_sends": get(&c.duplicate_sends),
        "malformed_from_clients": get(&c.malformed_from_clients),
        "messages_received": st.received,
        "uploads": get(&c.uploads),
        "renewals": get(&c.renewals),
        "silent_renewals": get(&c.silent_renewals),
        "faults": st.faults,
        "accounts": accounts,
    });
    Json(body).into_response()
}
