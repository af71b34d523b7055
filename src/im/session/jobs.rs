//! The network steps the core asks for, each an async function over one connection or the
//! mtop client, returning typed results. No decisions beyond the steps themselves: retries
//! of bulk reads on flow control are the one exception, paced as the core's settings say.

use super::core::{ConnectFailure, ConnectStep, RpcFailure};
use super::outbox::{Outgoing, SendError};
use super::{DeviceSource, SessionConfig};
use crate::im::conn::{self, Conn, ConnConfig, ConnEvents, Registration, RequestError};
use crate::im::device;
use crate::im::mtop::{ImToken, MtopClient, MtopError};
use crate::protocol::history::{
    parse_conversation_list, parse_conversation_page, parse_history_page,
};
use crate::protocol::lwp::{FIRST_PAGE_CURSOR, RpcError, path};
use crate::protocol::send::{self as wire, SendAck};
use crate::protocol::{Cid, Conversation, HistoryPage, Message, MessageId, Uid};
use serde_json::Value;
use std::time::Duration;

/// A registered connection, as the connect job hands it over.
pub struct Established {
    pub conn: Conn,
    pub events: ConnEvents,
    pub token: ImToken,
}

/// What a connection attempt starts from.
pub struct ConnectPlan<'a> {
    pub mtop: &'a MtopClient,
    pub conn: &'a ConnConfig,
    pub device: &'a DeviceSource,
    pub token_margin: Duration,
    pub uid: Option<Uid>,
    pub did: Option<String>,
    pub token: Option<ImToken>,
}

fn login_failure(e: MtopError) -> ConnectFailure {
    match e {
        MtopError::NoCookie | MtopError::SessionExpired => ConnectFailure::NeedsLogin(e),
        MtopError::RiskControl { url } => ConnectFailure::RiskControl {
            url: url.unwrap_or_else(|| "https://www.goofish.com/im".to_string()),
        },
        other => ConnectFailure::Retry {
            error: other.to_string(),
            token: None,
        },
    }
}

/// §9.1 steps 1–9: uid, did, token, socket, `/reg`, getState → ackDiff, heartbeat.
/// `progress` hears of each step the user may want to see.
pub async fn establish(
    plan: ConnectPlan<'_>,
    progress: impl Fn(ConnectStep),
) -> Result<Established, ConnectFailure> {
    let ConnectPlan {
        mtop,
        conn: conn_cfg,
        device,
        token_margin,
        uid,
        did,
        token,
    } = plan;
    let uid = match uid {
        Some(uid) => uid,
        None => match mtop.uid() {
            Some(uid) => uid,
            None => mtop.login_user().await.map_err(login_failure)?,
        },
    };
    let did = match did {
        Some(did) => did,
        None => resolve_did(device, &uid).await,
    };
    progress(ConnectStep::Identity {
        uid: uid.clone(),
        did: did.clone(),
    });

    let mut token =
        token.filter(|t| super::lifecycle::token_usable(t, crate::time::now_ms(), token_margin));
    // Two rounds at most: a reused token the server rejects is replaced by a fresh one.
    for round in 0..2 {
        let reused = token.is_some();
        let tok = match token.take() {
            Some(t) => t,
            None => mtop.login_token(&did).await.map_err(login_failure)?,
        };
        let (conn, events) = match conn::connect(conn_cfg).await {
            Ok(c) => c,
            Err(e) => {
                return Err(ConnectFailure::Retry {
                    error: e.to_string(),
                    token: Some(tok),
                });
            }
        };
        progress(ConnectStep::Registering);
        match conn.register(&tok.access_token, &did).await {
            Ok(reg) => {
                check_reg_uid(&reg, &uid);
                conn.start_heartbeat();
                sync_state(&conn).await;
                return Ok(Established {
                    conn,
                    events,
                    token: tok,
                });
            }
            Err(RequestError::Rpc(
                e @ (RpcError::InvalidToken { .. } | RpcError::DeviceMismatch { .. }),
            )) => {
                conn.close();
                tracing::info!(error = %e, reused, "token rejected by /reg");
                if !(reused && round == 0) {
                    return Err(ConnectFailure::Retry {
                        error: e.to_string(),
                        token: None,
                    });
                }
            }
            Err(RequestError::Rpc(RpcError::ConnectLimit { reason })) => {
                conn.close();
                return Err(ConnectFailure::SessionRemoved(reason));
            }
            Err(e) => {
                conn.close();
                return Err(ConnectFailure::Retry {
                    error: format!("registration failed: {e}"),
                    token: Some(tok),
                });
            }
        }
    }
    Err(ConnectFailure::Retry {
        error: "IM token rejected".into(),
        token: None,
    })
}

fn check_reg_uid(reg: &Registration, uid: &Uid) {
    if let Some(reg_uid) = &reg.uid
        && reg_uid != uid
    {
        // §10.8: the cookie's `unb` stays authoritative; a mismatch means a stale cookie.
        tracing::warn!(cookie_uid = %uid, reg_uid = %reg_uid, "registered uid differs from the cookie");
    }
}

async fn resolve_did(device: &DeviceSource, uid: &Uid) -> String {
    match device {
        DeviceSource::Fixed(did) => did.clone(),
        DeviceSource::File(path) => {
            let (path, owner) = (path.clone(), uid.clone());
            let loaded =
                tokio::task::spawn_blocking(move || device::load_or_create(&path, &owner)).await;
            match loaded {
                Ok(Ok(did)) => did,
                Ok(Err(e)) => {
                    // Without a stable file the did changes per run; tokens still work.
                    tracing::warn!(error = %e, "device id file unusable; using a temporary id");
                    device::generate_device_id(uid)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "device id task failed; using a temporary id");
                    device::generate_device_id(uid)
                }
            }
        }
    }
}

/// getState → ackDiff(state) (§4.5). Whether this is needed is open (§12.1): failures are
/// logged and the session goes on.
pub async fn sync_state(conn: &Conn) {
    let state = match conn
        .request(path::GET_STATE, Some(wire::get_state_body()))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(error = %e, "getState failed");
            return;
        }
    };
    if let Err(e) = conn
        .request(path::ACK_DIFF, Some(wire::ack_diff_body(&state)))
        .await
    {
        tracing::info!(error = %e, "ackDiff failed");
    }
}

/// A request retried on flow control and transient errors, `retry_step`·n apart.
pub async fn request_retrying(
    conn: &Conn,
    cfg: &SessionConfig,
    path: &str,
    body: Value,
) -> Result<Value, RequestError> {
    let mut tries = 0;
    loop {
        match conn.request(path, Some(body.clone())).await {
            Err(RequestError::Rpc(e)) if e.is_retryable() && tries < cfg.retry_limit => {
                tries += 1;
                tracing::debug!(path, error = %e, tries, "retrying");
                tokio::time::sleep(cfg.retry_step * tries).await;
            }
            other => return other,
        }
    }
}

/// Every conversation page, newest activity first.
pub async fn list_all(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
) -> Result<Vec<Conversation>, RpcFailure> {
    let mut all: Vec<Conversation> = Vec::new();
    let mut cursor = FIRST_PAGE_CURSOR;
    for _ in 0..cfg.max_conversation_pages.max(1) {
        let body = wire::list_newest_pagination_body(cursor, cfg.conversation_page);
        let resp = request_retrying(conn, cfg, path::LIST_NEWEST_PAGINATION, body).await?;
        let page = parse_conversation_page(&resp, uid)?;
        for c in page.conversations {
            if !all.iter().any(|a| a.cid == c.cid) {
                all.push(c);
            }
        }
        match page.next_cursor {
            // A cursor that does not move would loop forever.
            Some(next) if page.has_more && next != cursor => cursor = next,
            _ => break,
        }
    }
    all.sort_by_key(|c| std::cmp::Reverse(c.modify_time));
    Ok(all)
}

pub async fn history_page(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
    cid: &Cid,
    cursor: i64,
    limit: u32,
) -> Result<HistoryPage, RpcFailure> {
    let body = wire::list_user_messages_body(cid, cursor, limit);
    let resp = request_retrying(conn, cfg, path::LIST_USER_MESSAGES, body).await?;
    Ok(parse_history_page(&resp, cid, uid)?)
}

/// How far a backfill of one conversation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Down to what was known before the gap.
    Known,
    /// Stopped at `backfill_max_pages`: older messages of the gap are only in its history.
    PageLimit,
    /// A page could not be fetched: tried again later.
    Failed,
}

/// Newest history pages of `cid` until a message from before `known_until` shows up: the
/// messages after it (dedupe drops those seen live), and how far it got.
pub async fn backfill_one(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
    cid: &Cid,
    known_until: i64,
) -> (Vec<Message>, Reach) {
    let mut out = Vec::new();
    let mut cursor = FIRST_PAGE_CURSOR;
    for _ in 0..cfg.backfill_max_pages.max(1) {
        let page = match history_page(conn, cfg, uid, cid, cursor, cfg.history_page).await {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(%cid, error = %e, "backfill page failed");
                return (out, Reach::Failed);
            }
        };
        let mut reached_known = false;
        for e in page.entries {
            // Equal times are kept: two messages can share a millisecond.
            if e.message.time < known_until {
                reached_known = true;
            } else {
                out.push(e.message);
            }
        }
        match page.next_cursor {
            Some(next) if page.has_more && !reached_known && next != cursor => cursor = next,
            _ => return (out, Reach::Known),
        }
    }
    tracing::warn!(%cid, pages = cfg.backfill_max_pages, "backfill stopped at its page limit");
    (out, Reach::PageLimit)
}

/// The newest history page of `cid`, for a look before a resend.
pub async fn newest_history(conn: &Conn, uid: &Uid, cid: &Cid) -> Result<Vec<Message>, RpcFailure> {
    let body = wire::list_user_messages_body(cid, FIRST_PAGE_CURSOR, 20);
    let resp = conn.request(path::LIST_USER_MESSAGES, Some(body)).await?;
    let page = parse_history_page(&resp, cid, uid)?;
    Ok(page.entries.into_iter().map(|e| e.message).collect())
}

/// Resolves the peer when needed (getByCids), then sends.
pub async fn send_one(
    conn: &Conn,
    uid: &Uid,
    item: &Outgoing,
    peer: Option<Uid>,
) -> (Result<SendAck, SendError>, Option<Uid>) {
    let peer = match peer {
        Some(p) => p,
        None => match conn
            .request(
                path::GET_BY_CIDS,
                Some(wire::get_by_cids_body(std::slice::from_ref(&item.cid))),
            )
            .await
        {
            Ok(body) => {
                let found = parse_conversation_list(&body, uid)
                    .into_iter()
                    .find(|c| c.cid == item.cid)
                    .map(|c| c.peer)
                    .filter(|p| !p.is_empty());
                match found {
                    Some(p) => p,
                    None => return (Err(SendError::NoPeer), None),
                }
            }
            Err(e) => return (Err(SendError::Request(e)), None),
        },
    };
    let body = wire::send_body(&item.cid, &item.client_id, &item.content, &peer, uid);
    let result = conn
        .request(path::SEND, Some(body))
        .await
        .map(|b| wire::parse_send_response(&b))
        .map_err(SendError::Request);
    (result, Some(peer))
}

/// `/r/MessageStatus/read` then `/r/Conversation/clearRedPoint`; failures only logged.
pub async fn mark_read(conn: &Conn, cid: &Cid, ids: &[MessageId]) {
    if !ids.is_empty()
        && let Err(e) = conn.request(path::READ, Some(wire::read_body(ids))).await
    {
        tracing::info!(%cid, error = %e, "mark read failed");
    }
    let body = wire::clear_red_point_body(cid, ids.last());
    if let Err(e) = conn.request(path::CLEAR_RED_POINT, Some(body)).await {
        tracing::info!(%cid, error = %e, "clear red point failed");
    }
}

/// `/r/MessageManager/recallMessage` (§6.11): success, or the service's reason.
pub async fn recall(conn: &Conn, id: &MessageId) -> Result<(), RpcFailure> {
    conn.request(path::RECALL, Some(wire::recall_body(id)))
        .await
        .map(drop)
        .map_err(RpcFailure::from)
}

/// `/r/SingleChatConversation/create` (idempotent on the service: an existing pair
/// answers with its cid). The pair order is open (§12.9); `create_single_body` puts the
/// peer first like most clients. Creating often may be refused (§6.5), so callers look in
/// the conversation list first.
pub async fn open(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
    peer: &Uid,
    item_id: Option<&str>,
) -> Result<Cid, RpcFailure> {
    let body = wire::create_single_body(peer, uid, item_id);
    let resp = request_retrying(conn, cfg, path::CREATE_SINGLE, body).await?;
    wire::parse_create_response(&resp).ok_or(RpcFailure::NoConversation)
}
