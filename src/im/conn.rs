//! One LWP WebSocket (§4): request/response by mid, per-request timeouts, the `/!`
//! heartbeat, and the automatic ACK of every push.
//!
//! [`connect`] returns a cheap clonable [`Conn`] handle and its [`ConnEvents`].
//! Three tasks run per connection: a writer (owns the sink), a reader (owns the stream and
//! the event sender) and, once started, the heartbeat. Whatever ends the connection (a
//! close from either side, a read or write error, a heartbeat timeout, the last handle
//! being dropped), the reader emits exactly one [`ConnEvent::Closed`] and every pending
//! request fails with [`RequestError::Closed`].

use crate::protocol::Uid;
use crate::protocol::lwp::{self, Frame, IM_APP_KEY, Kind, RpcError, path};
use crate::secret::Secret;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A desktop Chrome user agent, sent on the handshake and inside the `/reg` `ua` header.
pub const BROWSER_UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";

/// The IMPaaS suffix the official web SDK appends to the browser UA (§4.3).
const IMPAAS_UA_SUFFIX: &str = "DingTalk(2.2.0) OS(Mac OS/10.15.7) Browser(Chrome/141.0.0.0) DingWeb/2.2.0 IMPaaS DingWeb/2.2.0";

const ORIGIN: &str = "https://www.goofish.com";

/// History pages are a few hundred KB; GO allows 8 MiB. Leave headroom.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Bytes of pushes the reader may be ahead of the connection's owner. Past them it waits,
/// and the ACKs of what it has not read wait with it: in a burst, for as long as the owner
/// takes to work through this much (milliseconds). Counted in bytes, not frames, because a
/// sync package holds one message or dozens; a shallow read-ahead keeps what waits in the
/// caches, where one of a whole burst grew the heap by the burst's size.
const READ_AHEAD_BYTES: u32 = 256 * 1024;

/// Events waiting at most, whatever their size.
const EVENT_CAPACITY: usize = 1024;

/// At most one warning per this long about frames that are not LWP.
const GARBAGE_WARN_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    pub ws_url: String,
    /// `/!` period.
    pub heartbeat_every: Duration,
    /// A heartbeat unanswered this long means the socket is dead (GO: 30 s).
    pub heartbeat_timeout: Duration,
    /// Per-request timeout; also bounds the handshake.
    pub request_timeout: Duration,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            ws_url: crate::config::defaults::WS_URL.to_string(),
            heartbeat_every: crate::config::defaults::HEARTBEAT,
            heartbeat_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// The connection's events, in order; [`connect`] returns them.
pub struct ConnEvents {
    rx: mpsc::Receiver<Queued>,
    read_ahead: Arc<Semaphore>,
}

impl ConnEvents {
    /// The next event; `None` after the connection's one [`ConnEvent::Closed`].
    pub async fn recv(&mut self) -> Option<ConnEvent> {
        let queued = self.rx.recv().await?;
        Some(self.taken(queued))
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<ConnEvent, mpsc::error::TryRecvError> {
        let queued = self.rx.try_recv()?;
        Ok(self.taken(queued))
    }

    /// Taken by the owner: the reader may read that much further.
    fn taken(&self, queued: Queued) -> ConnEvent {
        self.read_ahead.add_permits(queued.bytes as usize);
        queued.event
    }
}

/// An event and the bytes of read-ahead it holds.
struct Queued {
    event: ConnEvent,
    bytes: u32,
}

/// The sending side of [`ConnEvents`].
#[derive(Clone)]
struct EventSender {
    tx: mpsc::Sender<Queued>,
    read_ahead: Arc<Semaphore>,
}

impl EventSender {
    /// Queues `frame` (`bytes` of text), first waiting until the owner is no further behind
    /// than the read-ahead allows; dropped when nobody takes events any more.
    async fn push(&self, frame: Frame, bytes: usize) {
        let bytes = u32::try_from(bytes).map_or(READ_AHEAD_BYTES, |b| b.min(READ_AHEAD_BYTES));
        tokio::select! {
            permit = self.read_ahead.acquire_many(bytes) => match permit {
                Ok(permit) => permit.forget(),
                Err(_) => return,
            },
            () = self.tx.closed() => return,
        }
        let queued = Queued {
            event: ConnEvent::Push(frame),
            bytes,
        };
        let _ = super::handoff::send(&self.tx, queued).await;
    }

    async fn send(&self, event: ConnEvent) {
        let _ = self.tx.send(Queued { event, bytes: 0 }).await;
    }

    /// Queues `event` unless the queue is full (the heartbeat's notes, which must not wait).
    fn try_send(&self, event: ConnEvent) {
        let _ = self.tx.try_send(Queued { event, bytes: 0 });
    }
}

/// What the connection hands to its owner.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnEvent {
    /// A push (`/s/sync`, `/s/vulcan`, `/push/kickout` …), already ACKed.
    Push(Frame),
    /// A heartbeat has been unanswered for half the timeout: the socket may be dead (it is
    /// cut at the full timeout).
    Stalled,
    /// An answer came after `Stalled`: the socket is alive.
    Resumed,
    /// The connection is over; sent exactly once, and nothing follows it.
    Closed { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("invalid WebSocket URL: {0}")]
    BadUrl(String),
    #[error("WebSocket connect failed: {0}")]
    Connect(String),
    #[error("WebSocket connect timed out")]
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("request timed out")]
    Timeout,
    #[error("connection closed")]
    Closed,
}

/// What `/reg` tells us (header/body split is uncertain, §12.2: both are read).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Registration {
    /// `reg-uid`: the account the token belongs to.
    pub uid: Option<Uid>,
    /// `reg-sid` (else `sid`).
    pub sid: Option<String>,
}

/// A handle to one connection. Clones share it; when the last clone is dropped the
/// connection closes.
#[derive(Clone)]
pub struct Conn {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Owned by the `Conn` clones only (the tasks hold `Shared`), so dropping the last clone
/// can close the connection.
struct Handle {
    shared: Arc<Shared>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.heartbeat).take() {
            task.abort();
        }
        self.shared.shutdown("connection handle dropped".into());
    }
}

struct Shared {
    cfg: ConnConfig,
    out: mpsc::UnboundedSender<Message>,
    state: Mutex<State>,
    closed_tx: watch::Sender<bool>,
    garbage: AtomicU64,
    /// For the heartbeat's `Stalled` / `Resumed`; dropped when the connection ends, so that
    /// the channel ends after its one `Closed`.
    events: Mutex<Option<EventSender>>,
}

#[derive(Default)]
struct State {
    /// Why the connection ended; `Some` once and for all.
    closed: Option<String>,
    next_ticket: u64,
    /// Keyed by `mid_key`; the ticket tells a request's own entry from a later reuse.
    pending: HashMap<String, (u64, oneshot::Sender<Frame>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain inserts and
    // removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Ends the connection once: records the reason, fails every pending request (their
    /// senders are dropped) and wakes the tasks. Later calls do nothing.
    fn shutdown(&self, reason: String) {
        {
            let mut st = lock(&self.state);
            if st.closed.is_some() {
                return;
            }
            tracing::debug!(%reason, "LWP connection closing");
            st.closed = Some(reason);
            st.pending.clear();
        }
        self.closed_tx.send_replace(true);
    }

    fn close_reason(&self) -> String {
        lock(&self.state)
            .closed
            .clone()
            .unwrap_or_else(|| "connection closed".into())
    }

    fn resolve(&self, frame: Frame) {
        let Some(key) = frame.mid_key().map(str::to_string) else {
            tracing::debug!(code = ?frame.code, "response without mid dropped");
            return;
        };
        let waiter = lock(&self.state).pending.remove(&key);
        match waiter {
            // The requester may have given up (timeout, cancelled): nothing to do then.
            Some((_, tx)) => drop(tx.send(frame)),
            None => {
                tracing::debug!(mid = %key, code = ?frame.code, "response to unknown mid dropped")
            }
        }
    }

    /// Sends `frame` and waits up to `wait` for the response with the same mid.
    async fn call(&self, mut frame: Frame, wait: Duration) -> Result<Frame, RequestError> {
        let (tx, rx) = oneshot::channel();
        let (key, ticket) = {
            let mut st = lock(&self.state);
            if st.closed.is_some() {
                return Err(RequestError::Closed);
            }
            // Two requests in the same millisecond may draw the same mid (1 in 1000).
            let mut key = frame.mid_key().unwrap_or_default().to_string();
            while key.is_empty() || st.pending.contains_key(&key) {
                frame
                    .headers
                    .insert("mid".into(), Value::String(fresh_mid()));
                key = frame.mid_key().unwrap_or_default().to_string();
            }
            st.next_ticket += 1;
            let ticket = st.next_ticket;
            st.pending.insert(key.clone(), (ticket, tx));
            (key, ticket)
        };
        let guard = PendingGuard {
            shared: self,
            key,
            ticket,
        };
        if self.out.send(Message::text(frame.to_text())).is_err() {
            return Err(RequestError::Closed);
        }
        let result = match tokio::time::timeout(wait, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => Err(RequestError::Timeout),
        };
        drop(guard);
        result
    }
}

/// Removes a request's pending entry however its wait ends (answer, timeout, cancel).
struct PendingGuard<'a> {
    shared: &'a Shared,
    key: String,
    ticket: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        if st
            .pending
            .get(&self.key)
            .is_some_and(|(t, _)| *t == self.ticket)
        {
            st.pending.remove(&self.key);
        }
    }
}

/// Opens the WebSocket with browser-like handshake headers (§4.1) and starts the reader
/// and writer. `/reg` and the heartbeat are up to the caller.
pub async fn connect(cfg: &ConnConfig) -> Result<(Conn, ConnEvents), ConnError> {
    let mut request = cfg
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnError::BadUrl(e.to_string()))?;
    let headers = request.headers_mut();
    headers.insert("Origin", HeaderValue::from_static(ORIGIN));
    headers.insert("User-Agent", HeaderValue::from_static(BROWSER_UA));
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    // `wss://` trusts what HTTPS trusts (`tls`); `ws://` (the simulator) needs no TLS at all.
    let connector = if request.uri().scheme_str() == Some("wss") {
        let tls = super::tls::client_config().map_err(|e| ConnError::Connect(e.to_string()))?;
        Some(Connector::Rustls(tls))
    } else {
        None
    };
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config), true, connector);
    let (ws, _response) = tokio::time::timeout(cfg.request_timeout, connecting)
        .await
        .map_err(|_| ConnError::Timeout)?
        .map_err(|e| ConnError::Connect(e.to_string()))?;
    let (sink, stream) = ws.split();

    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (tx, rx) = mpsc::channel(EVENT_CAPACITY);
    let read_ahead = Arc::new(Semaphore::new(READ_AHEAD_BYTES as usize));
    let events_tx = EventSender {
        tx,
        read_ahead: read_ahead.clone(),
    };
    let events_rx = ConnEvents { rx, read_ahead };
    let (closed_tx, closed_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        out: out_tx,
        state: Mutex::new(State::default()),
        closed_tx,
        garbage: AtomicU64::new(0),
        events: Mutex::new(Some(events_tx.clone())),
    });
    tokio::spawn(write_loop(shared.clone(), sink, out_rx, closed_rx.clone()));
    tokio::spawn(read_loop(shared.clone(), stream, events_tx, closed_rx));
    let conn = Conn {
        handle: Arc::new(Handle {
            shared,
            heartbeat: Mutex::new(None),
        }),
    };
    Ok((conn, events_rx))
}

impl Conn {
    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// One RPC: a request frame with a fresh mid, the response classified by
    /// `Frame::into_result`.
    pub async fn request(&self, path: &str, body: Option<Value>) -> Result<Value, RequestError> {
        let frame = Frame::request(path, body, fresh_mid());
        let resp = self
            .shared()
            .call(frame, self.shared().cfg.request_timeout)
            .await?;
        Ok(resp.into_result()?)
    }

    /// `/reg` with the §4.3 headers, no body. `did` must be the device id the token was
    /// minted for.
    pub async fn register(&self, token: &Secret, did: &str) -> Result<Registration, RequestError> {
        let frame = reg_frame(token, did);
        let resp = self
            .shared()
            .call(frame, self.shared().cfg.request_timeout)
            .await?;
        let header = |name: &str| resp.header_str(name).map(str::to_string);
        let body_str = |name: &str| {
            resp.body
                .as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let uid = header("reg-uid")
            .or_else(|| body_str("reg-uid"))
            .filter(|s| !s.trim().is_empty())
            .map(Uid::new);
        let sid = header("reg-sid")
            .or_else(|| header("sid"))
            .or_else(|| body_str("reg-sid"));
        resp.into_result()?;
        Ok(Registration { uid, sid })
    }

    /// Sends `/!` every `heartbeat_every`, the first one at once. Any heartbeat left
    /// unanswered for `heartbeat_timeout` ends the connection. Calling it again restarts it.
    pub fn start_heartbeat(&self) {
        let shared = self.handle.shared.clone();
        let task = tokio::spawn(heartbeat_loop(shared));
        if let Some(old) = lock(&self.handle.heartbeat).replace(task) {
            old.abort();
        }
    }

    /// Closes the connection; the owner still receives the one `Closed` event.
    pub fn close(&self) {
        self.shared().shutdown("closed by client".into());
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.shared().state).closed.is_some()
    }

    /// Frames received so far that were not LWP frames (not JSON, binary, or neither a
    /// response nor a push).
    pub fn garbage_frames(&self) -> u64 {
        self.shared().garbage.load(Ordering::Relaxed)
    }
}

/// A mid of the time now and a random number.
fn fresh_mid() -> String {
    lwp::new_mid(crate::time::now_ms(), rand::random())
}

/// The `/reg` request (§4.3). The token is sent as received from `login.token` (the Python
/// clients' choice; GO URL-decodes it first, which only matters if it holds `%`) [L].
fn reg_frame(token: &Secret, did: &str) -> Frame {
    let mut frame = Frame::request(path::REG, None, fresh_mid());
    let h = &mut frame.headers;
    let mut put = |k: &str, v: String| {
        h.insert(k.to_string(), Value::String(v));
    };
    put("cache-header", "app-key token ua wv".into());
    put("app-key", IM_APP_KEY.into());
    put("token", token.expose().to_string());
    put("ua", format!("{BROWSER_UA} {IMPAAS_UA_SUFFIX}"));
    put("dt", "j".into());
    put("wv", "im:3,au:3,sy:6".into());
    put("sync", "0,0;0;0;".into());
    put("did", did.to_string());
    frame
}

/// Resolves once the connection is marked closed.
async fn closed_signal(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means closed.
    let _ = rx.wait_for(|c| *c).await;
}

async fn write_loop<S>(
    shared: Arc<Shared>,
    mut sink: S,
    mut out: mpsc::UnboundedReceiver<Message>,
    mut closed: watch::Receiver<bool>,
) where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    loop {
        tokio::select! {
            biased;
            _ = closed_signal(&mut closed) => break,
            msg = out.recv() => {
                let Some(msg) = msg else { break };
                if let Err(e) = write_queued(&mut sink, msg, &mut out).await {
                    shared.shutdown(format!("write error: {e}"));
                    break;
                }
            }
        }
    }
    // Best effort: the peer may already be gone.
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

/// Writes `first` and whatever queued behind it (the ACKs of a burst) with one flush: one
/// write to the socket, not one per frame.
async fn write_queued<S>(
    sink: &mut S,
    first: Message,
    out: &mut mpsc::UnboundedReceiver<Message>,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    sink.feed(first).await?;
    while let Ok(next) = out.try_recv() {
        sink.feed(next).await?;
    }
    sink.flush().await
}

/// Counts frames that are not LWP and warns about them at most every
/// `GARBAGE_WARN_EVERY`, with a running total; the connection stays up.
struct GarbageLog {
    last_warn: Option<Instant>,
    since_warn: u64,
}

impl GarbageLog {
    fn record(&mut self, shared: &Shared, what: &str) {
        let total = shared.garbage.fetch_add(1, Ordering::Relaxed) + 1;
        self.since_warn += 1;
        let due = self
            .last_warn
            .is_none_or(|t| t.elapsed() >= GARBAGE_WARN_EVERY);
        if due {
            tracing::warn!(
                what,
                total,
                since_last_warning = self.since_warn,
                "ignoring frames that are not LWP"
            );
            self.last_warn = Some(Instant::now());
            self.since_warn = 0;
        }
    }
}

async fn read_loop<S>(
    shared: Arc<Shared>,
    mut stream: S,
    events: EventSender,
    mut closed: watch::Receiver<bool>,
) where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut garbage = GarbageLog {
        last_warn: None,
        since_warn: 0,
    };
    loop {
        let next = tokio::select! {
            biased;
            _ = closed_signal(&mut closed) => break,
            next = stream.next() => next,
        };
        let text = match next {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                garbage.record(&shared, "binary frame");
                continue;
            }
            // tungstenite answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                let reason = match frame {
                    Some(f) if !f.reason.is_empty() => {
                        format!("server closed the connection ({}: {})", f.code, f.reason)
                    }
                    Some(f) => format!("server closed the connection ({})", f.code),
                    None => "server closed the connection".to_string(),
                };
                shared.shutdown(reason);
                break;
            }
            Some(Err(e)) => {
                shared.shutdown(format!("read error: {e}"));
                break;
            }
            None => {
                shared.shutdown("connection ended".into());
                break;
            }
        };
        let frame = match Frame::parse_push(text.as_str()) {
            Ok(f) => f,
            Err(_) => {
                garbage.record(&shared, "not JSON");
                continue;
            }
        };
        match frame.kind() {
            Kind::Response => shared.resolve(frame),
            Kind::Push => {
                // ACK first (complete headers, GO/TS) so a slow consumer never delays it.
                let ack = Frame::ack_of(&frame);
                if shared.out.send(Message::text(ack.to_text())).is_err() {
                    shared.shutdown("writer stopped".into());
                    break;
                }
                tracing::trace!(path = frame.lwp.as_deref().unwrap_or(""), "push");
                // Nobody listening is not a reason to drop the connection.
                events.push(frame, text.len()).await;
            }
            Kind::Other => garbage.record(&shared, "neither response nor push"),
        }
    }
    // Covers the exit through `closed` as well: shutdown is idempotent.
    shared.shutdown("connection closed".into());
    lock(&shared.events).take();
    let reason = shared.close_reason();
    events.send(ConnEvent::Closed { reason }).await;
}

async fn heartbeat_loop(shared: Arc<Shared>) {
    let every = shared.cfg.heartbeat_every.max(Duration::from_millis(10));
    let timeout = shared.cfg.heartbeat_timeout;
    let mut closed = shared.closed_tx.subscribe();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // GO fires on schedule regardless of outstanding heartbeats, so several may be in flight.
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    // Half the timeout without an answer shows as stalled before the cut (GO cuts at 30 s).
    let stall_after = timeout / 2;
    // When the oldest heartbeat still unanswered went out.
    let mut waiting_since: Option<tokio::time::Instant> = None;
    let mut stalled = false;
    let Some(events) = lock(&shared.events).clone() else {
        return;
    };
    loop {
        let stall_at = waiting_since.filter(|_| !stalled).map(|t| t + stall_after);
        let stall = async move {
            match stall_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = closed_signal(&mut closed) => return,
            () = stall => {
                stalled = true;
                tracing::warn!(after_ms = stall_after.as_millis() as u64, "heartbeat unanswered; connection stalled");
                events.try_send(ConnEvent::Stalled);
            }
            Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                if matches!(result, Ok(_) | Err(RequestError::Rpc(_))) {
                    waiting_since = None;
                    if std::mem::take(&mut stalled) {
                        tracing::info!("heartbeat answered again");
                        events.try_send(ConnEvent::Resumed);
                    }
                }
                match result {
                    Err(RequestError::Timeout) => {
                        shared.shutdown(format!(
                            "heartbeat unanswered for {} ms",
                            timeout.as_millis()
                        ));
                        return;
                    }
                    Err(RequestError::Closed) => return,
                    // Any answer, even an error code, proves the socket is alive.
                    Ok(_) | Err(RequestError::Rpc(_)) => {}
                }
            }
            _ = ticker.tick() => {
                waiting_since.get_or_insert_with(tokio::time::Instant::now);
                let shared = shared.clone();
                in_flight.push(async move {
                    shared.call(Frame::request(path::HEARTBEAT, None, fresh_mid()), timeout).await
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_frame_has_the_impaas_headers() {
        let f = reg_frame(&Secret::new("tok"), "DID-1");
        assert_eq!(f.lwp.as_deref(), Some("/reg"));
        assert!(f.body.is_none());
        for (k, v) in [
            ("cache-header", "app-key token ua wv"),
            ("app-key", IM_APP_KEY),
            ("token", "tok"),
            ("dt", "j"),
            ("wv", "im:3,au:3,sy:6"),
            ("sync", "0,0;0;0;"),
            ("did", "DID-1"),
        ] {
            assert_eq!(f.header_str(k), Some(v), "{k}");
        }
        let ua = f.header_str("ua").unwrap();
        assert!(ua.starts_with("Mozilla/5.0") && ua.ends_with("IMPaaS DingWeb/2.2.0"));
        assert!(f.mid().is_some());
    }
}
