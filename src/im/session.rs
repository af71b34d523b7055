//! The IM session actor (§9): token → connect → `/reg` → sync → live, reconnecting forever
//! with backoff; backfill after reconnects; dedupe by PNM id; an in-memory outbox.
//!
//! One task owns all session state. Network work (the connection attempt, RPCs, mtop
//! calls) runs in short-lived tasks that report back on an internal channel, so the actor
//! keeps reading pushes and commands while a request is in flight.

use crate::im::api::{
    ConnState, ImCommand, ImEvent, OPEN_CONVERSATION_FAILED, SendFailure, SendStage,
};
use crate::im::conn::{self, Conn, ConnConfig, ConnEvent, Registration, RequestError};
use crate::im::device;
use crate::im::mtop::{ImToken, MtopClient, MtopError};
use crate::protocol::history::{
    parse_conversation_list, parse_conversation_page, parse_history_page,
};
use crate::protocol::lwp::{FIRST_PAGE_CURSOR, RpcError, path};
use crate::protocol::send::{self as wire, SendAck};
use crate::protocol::sync::decode_sync_body;
use crate::protocol::{
    Cid, ClientId, Content, Conversation, HistoryPage, ItemInfo, Message, MessageId, Profile,
    SyncEvent, Uid,
};
use crate::store::{OutboxState, Store, StoreError, StoreHandle};
use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the device id comes from. It must stay the same across runs: the service binds
/// each token to it (§4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSource {
    /// Kept in this file (created on first use), one did per account.
    File(PathBuf),
    /// Given as is (tests, or a did managed elsewhere).
    Fixed(String),
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub conn: ConnConfig,
    pub device: DeviceSource,
    /// Reconnect backoff: first delay ceiling and cap (§9.3).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection live this long counts as healthy: the backoff resets when it drops.
    /// A drop sooner than this after `/reg` also discards the token (§9.3, PY-B).
    pub healthy_after: Duration,
    /// Pause after `/reg` before bulk RPCs (list, backfill): flow control otherwise (§9.5).
    pub settle_delay: Duration,
    /// Messages per history page (GO clamps 1–100).
    pub history_page: u32,
    /// Conversations per `listNewestPagination` page.
    pub conversation_page: u32,
    /// At most this many conversation pages per refresh.
    pub max_conversation_pages: u32,
    /// At most this many history pages per conversation when backfilling.
    pub backfill_max_pages: u32,
    /// Retries of a send (and of bulk RPCs) on flow control or transient errors, spaced
    /// `retry_step`, 2×, 3× … apart (PY-B: 2/4/6 s).
    pub retry_limit: u32,
    pub retry_step: Duration,
    /// How long to wait for the echo of a send whose answer carried no message id.
    pub echo_wait: Duration,
    /// In `NeedsLogin` / `RiskControl`, try again on its own after this long (`None`: only
    /// on a `ListConversations` command). Retrying risk control too often makes it worse.
    pub parked_retry: Option<Duration>,
    /// Get a fresh token this long before the current one expires (GO: 10 min minimum).
    pub token_margin: Duration,
    /// Message ids remembered for dedupe.
    pub dedupe_capacity: usize,
    /// Local history: accepted messages and the conversation list are written here before
    /// they are emitted, and sends wait in its outbox until the server has them. `None`
    /// (or a failing store) only loses the cache, never the session.
    pub store: Option<StoreHandle>,
}

impl SessionConfig {
    /// Production defaults against `conn.ws_url`.
    pub fn new(conn: ConnConfig, device: DeviceSource) -> Self {
        SessionConfig {
            conn,
            device,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(15),
            settle_delay: Duration::from_secs(3),
            history_page: 20,
            conversation_page: 50,
            max_conversation_pages: 20,
            backfill_max_pages: 5,
            retry_limit: 3,
            retry_step: Duration::from_secs(2),
            echo_wait: Duration::from_secs(10),
            parked_retry: Some(Duration::from_secs(30 * 60)),
            token_margin: Duration::from_secs(10 * 60),
            dedupe_capacity: 100_000,
            store: None,
        }
    }
}

/// The running actor: send it commands, read its events. Dropping `commands` (every
/// clone) shuts it down like `ImCommand::Shutdown`.
pub struct SessionHandle {
    pub commands: mpsc::Sender<ImCommand>,
    pub events: mpsc::Receiver<ImEvent>,
    pub task: JoinHandle<()>,
}

const COMMAND_CAPACITY: usize = 256;
const EVENT_CAPACITY: usize = 1024;
/// An `ImEvent::Error` about undecodable pushes at most this often.
const UNDECODABLE_REPORT_EVERY: Duration = Duration::from_secs(300);
/// Kickouts in a row (without a healthy connection between) before telling the user that
/// another client probably uses the same device id.
const KICKOUT_WARN_AFTER: u32 = 3;
/// Local and server clocks may disagree; backfill looks this much further back (dedupe
/// drops what was already seen).
const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;
/// While a login is needed, how often the saved cookie jar is read for a new login (a
/// `goofish-tui login` in another terminal), so the running program resumes by itself.
const LOGIN_RECHECK: Duration = Duration::from_secs(3);

/// Starts the actor. Endpoints come from `cfg.conn.ws_url` and the mtop client's own
/// configuration, so tests can point both at loopback.
pub fn spawn(cfg: SessionConfig, mtop: MtopClient) -> SessionHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let actor = Actor::new(cfg, mtop, cmd_rx, ev_tx);
    let task = tokio::spawn(actor.run());
    SessionHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

// ---- pure parts ----------------------------------------------------------------------------

/// Exponential backoff with partial ("equal") jitter: attempt n waits between half and all
/// of `min·2^(n-1)`, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The upper bound for attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.min
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay before attempt `attempt`; `jitter` in [0, 1] picks within the upper half.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// The last `capacity` message ids seen, for dedupe across pushes, echoes, history and
/// backfill. Ids are kept as 8-byte keys (the PNM number, else a hash) to bound memory.
#[derive(Debug)]
pub struct SeenIds {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl SeenIds {
    pub fn new(capacity: usize) -> Self {
        SeenIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn key(id: &MessageId) -> u64 {
        match id.number() {
            Some(n) => n,
            None => {
                let mut h = DefaultHasher::new();
                id.as_str().hash(&mut h);
                h.finish()
            }
        }
    }

    /// Records `id`; true when it was not seen before.
    pub fn insert(&mut self, id: &MessageId) -> bool {
        let key = Self::key(id);
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    pub fn contains(&self, id: &MessageId) -> bool {
        self.set.contains(&Self::key(id))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Where one outgoing text stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutState {
    /// Waiting for a live connection.
    Queued,
    /// Request on the wire.
    Sending,
    /// Flow control or a transient error: send again at this time.
    RetryAt(Instant),
    /// The server accepted it without saying its id: wait for the echo until this time.
    AwaitingEcho { until: Instant, time: Option<i64> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub cid: Cid,
    pub client_id: ClientId,
    /// A text, or a picture already uploaded.
    pub content: Content,
    pub state: OutState,
    /// Retries so far (flow control, transient errors, timeouts).
    pub retries: u32,
}

/// What became of a send after its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendStep {
    /// Not in the outbox any more (already resolved, e.g. by its echo): ignore.
    Unknown,
    /// Accepted with this id: done.
    Sent {
        item: Outgoing,
        ack: SendAck,
        id: MessageId,
    },
    /// Failed for good.
    Failed {
        item: Outgoing,
        failure: SendFailure,
    },
    /// Scheduled again.
    Retry { at: Instant },
    /// Back in the queue until the next registration (connection lost; same uuid).
    Requeued,
    /// Accepted; the echo will tell the id.
    AwaitEcho,
}

/// Why a send attempt failed before or at the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    Request(RequestError),
    /// The conversation's peer could not be found (needed for `actualReceivers`).
    NoPeer,
}

/// The in-memory outbox. Each entry leaves it exactly once, which is what makes exactly
/// one `SendResult` per client id.
#[derive(Debug, Default)]
pub struct Outbox {
    items: Vec<Outgoing>,
}

impl Outbox {
    /// Adds a send; false when the client id is already in the outbox.
    pub fn push(&mut self, cid: Cid, client_id: ClientId, content: Content) -> bool {
        if self.items.iter().any(|i| i.client_id == client_id) {
            return false;
        }
        self.items.push(Outgoing {
            cid,
            client_id,
            content,
            state: OutState::Queued,
            retries: 0,
        });
        true
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, client_id: &ClientId) -> Option<&Outgoing> {
        self.items.iter().find(|i| &i.client_id == client_id)
    }

    /// Entries to put on the wire now (queued ones, and retries that are due); they become
    /// `Sending`.
    pub fn take_sendable(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for item in &mut self.items {
            let due = match item.state {
                OutState::Queued => true,
                OutState::RetryAt(at) => at <= now,
                OutState::Sending | OutState::AwaitingEcho { .. } => false,
            };
            if due {
                item.state = OutState::Sending;
                out.push(item.clone());
            }
        }
        out
    }

    /// The connection is gone: whatever was on the wire goes back to the queue.
    pub fn requeue_in_flight(&mut self) {
        for item in &mut self.items {
            if item.state == OutState::Sending {
                item.state = OutState::Queued;
            }
        }
    }

    /// Applies the answer to a send request.
    pub fn on_result(
        &mut self,
        client_id: &ClientId,
        result: Result<SendAck, SendError>,
        now: Instant,
        retry_limit: u32,
        retry_step: Duration,
        echo_wait: Duration,
    ) -> SendStep {
        let Some(pos) = self
            .items
            .iter()
            .position(|i| &i.client_id == client_id && i.state == OutState::Sending)
        else {
            return SendStep::Unknown;
        };
        let fail = |items: &mut Vec<Outgoing>, reason: String, retryable: bool| {
            let item = items.remove(pos);
            SendStep::Failed {
                item,
                failure: SendFailure { reason, retryable },
            }
        };
        match result {
            Ok(ack) => match ack.message_id.clone() {
                Some(id) => SendStep::Sent {
                    item: self.items.remove(pos),
                    ack,
                    id,
                },
                None => {
                    self.items[pos].state = OutState::AwaitingEcho {
                        until: now + echo_wait,
                        time: ack.time,
                    };
                    SendStep::AwaitEcho
                }
            },
            Err(SendError::NoPeer) => fail(
                &mut self.items,
                "conversation not found (no peer to send to)".into(),
                false,
            ),
            Err(SendError::Request(RequestError::Rpc(RpcError::ContentBlocked { reason }))) => {
                fail(&mut self.items, format!("blocked: {reason}"), false)
            }
            // The connection dropped, or the token died with it: resend after the next /reg.
            Err(SendError::Request(
                RequestError::Closed | RequestError::Rpc(RpcError::InvalidToken { .. }),
            )) => {
                self.items[pos].state = OutState::Queued;
                SendStep::Requeued
            }
            Err(SendError::Request(e)) => {
                // A timed-out send may have been delivered; resending with the same uuid
                // risks a duplicate, which the echo dedupe cannot undo on the server.
                let retryable = matches!(e, RequestError::Timeout)
                    || matches!(&e, RequestError::Rpc(r) if r.is_retryable());
                let item = &mut self.items[pos];
                if retryable && item.retries < retry_limit {
                    item.retries += 1;
                    let at = now + retry_step * item.retries;
                    item.state = OutState::RetryAt(at);
                    SendStep::Retry { at }
                } else {
                    fail(&mut self.items, e.to_string(), true)
                }
            }
        }
    }

    /// An own message seen as a push or in history: the outbox entry it confirms, if any.
    /// Matched by uuid; without one, by conversation and text among entries already sent.
    pub fn match_echo(&mut self, msg: &Message) -> Option<Outgoing> {
        if !msg.is_self {
            return None;
        }
        let by_uuid = msg
            .client_id
            .as_deref()
            .and_then(|u| self.items.iter().position(|i| i.client_id.as_str() == u));
        let pos = by_uuid.or_else(|| {
            self.items.iter().position(|i| {
                i.cid == msg.cid && i.content == msg.content && !matches!(i.state, OutState::Queued)
            })
        })?;
        Some(self.items.remove(pos))
    }

    /// Entries whose echo never came: accepted, so they count as sent.
    pub fn expire_awaiting(&mut self, now: Instant) -> Vec<Outgoing> {
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|i| matches!(i.state, OutState::AwaitingEcho { until, .. } if until <= now));
        self.items = keep;
        done
    }

    /// The earliest echo deadline, and retry time when `live` (offline, retries wait for
    /// the next registration anyway).
    pub fn next_due(&self, live: bool) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|i| match i.state {
                OutState::RetryAt(at) if live => Some(at),
                OutState::AwaitingEcho { until, .. } => Some(until),
                _ => None,
            })
            .min()
    }

    pub fn drain(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.items)
    }
}

/// Whether a token can still be used at `now_ms` (unknown expiry: yes).
fn token_usable(token: &ImToken, now_ms: i64, margin: Duration) -> bool {
    token
        .expires_at_ms
        .is_none_or(|exp| exp - margin.as_millis() as i64 > now_ms)
}

/// How long to use a token with `left_ms` to live before rotating it: until `margin`
/// before expiry, but at least half its remaining life and 30 s, so a short-lived token
/// cannot make the session reconnect in a loop. None when the server's clock says it has
/// already expired: the server's own 401 decides then.
fn rotation_delay(left_ms: i64, margin: Duration) -> Option<Duration> {
    if left_ms <= 0 {
        return None;
    }
    let left = Duration::from_millis(left_ms as u64);
    let wait = left.saturating_sub(margin).max(left / 2);
    Some(wait.max(Duration::from_secs(30)))
}

/// Conversations whose history must be fetched after a gap, each with the time up to
/// which its messages are already known: the later of its `modifyTime` in the previous
/// list and its newest message seen since; for a conversation not in the previous list,
/// `gap_start_ms` (local clock, so the caller subtracts some slack for clock skew).
fn backfill_targets(
    list: &[Conversation],
    previous: &HashMap<Cid, i64>,
    latest_known: &HashMap<Cid, i64>,
    gap_start_ms: i64,
) -> Vec<(Cid, i64)> {
    list.iter()
        .filter_map(|c| {
            let floor = previous.get(&c.cid).copied().unwrap_or(gap_start_ms);
            let since = latest_known
                .get(&c.cid)
                .map_or(floor, |&newest| newest.max(floor));
            (c.modify_time > since).then(|| (c.cid.clone(), since))
        })
        .collect()
}

// ---- the actor -----------------------------------------------------------------------------

/// What the connection attempt produced.
struct Established {
    conn: Conn,
    events: mpsc::Receiver<ConnEvent>,
    token: ImToken,
}

enum ConnectFailure {
    NeedsLogin(String),
    RiskControl(String),
    SessionRemoved(String),
    /// Back off and try again, keeping `token` (None: get a fresh one).
    Retry {
        error: String,
        token: Option<ImToken>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListPurpose {
    User,
    Backfill,
}

enum Internal {
    State(ConnState),
    Identity {
        uid: Uid,
        did: String,
    },
    Connected {
        attempt: u64,
        est: Box<Established>,
    },
    ConnectFailed {
        attempt: u64,
        failure: ConnectFailure,
    },
    Conversations {
        purpose: ListPurpose,
        result: Result<Vec<Conversation>, String>,
    },
    History {
        cid: Cid,
        requested: Option<i64>,
        result: Result<HistoryPage, String>,
    },
    BackfillStep {
        messages: Vec<Message>,
        done: usize,
        total: usize,
    },
    Sent {
        client_id: ClientId,
        result: Result<SendAck, SendError>,
        peer: Option<Uid>,
    },
    /// A picture of `SendImage` is uploaded (the CDN URL), or could not be.
    Uploaded {
        cid: Cid,
        client_id: ClientId,
        result: Result<String, String>,
    },
    OwnNick(String),
    Profile {
        asked: Uid,
        result: Result<Profile, String>,
    },
    Item {
        item_id: String,
        result: Result<ItemInfo, String>,
    },
    Opened {
        peer: Uid,
        item_id: Option<String>,
        result: Result<Cid, String>,
    },
}

enum Link {
    /// Waiting to try again.
    Waiting {
        at: Instant,
    },
    Connecting {
        attempt: u64,
        task: JoinHandle<()>,
    },
    Live {
        conn: Conn,
        events: mpsc::Receiver<ConnEvent>,
        since: Instant,
        rotate_at: Option<Instant>,
    },
    /// Not retrying on its own (login needed, risk control, session removed) until
    /// `retry_at` or a `ListConversations` command. While a login is needed, the saved
    /// cookie jar is looked at every `LOGIN_RECHECK` (at `recheck_at`) for a new login.
    Parked {
        retry_at: Option<Instant>,
        recheck_at: Option<Instant>,
    },
    Stopped,
}

enum Input {
    Command(Option<ImCommand>),
    Conn(Option<ConnEvent>),
    Internal(Internal),
    Timer,
}

#[derive(Default)]
struct Deferred {
    list: bool,
    history: Vec<(Cid, Option<i64>)>,
    reads: Vec<(Cid, Vec<MessageId>)>,
    opens: Vec<(Uid, Option<String>)>,
}

struct Actor {
    cfg: SessionConfig,
    mtop: Arc<Mutex<MtopClient>>,
    commands: mpsc::Receiver<ImCommand>,
    events: mpsc::Sender<ImEvent>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    uid: Option<Uid>,
    did: Option<String>,
    token: Option<ImToken>,
    link: Link,
    attempt_seq: u64,
    backoff: Backoff,
    failures: u32,
    ever_live: bool,
    /// Wall-clock ms when the last live connection ended (start of the gap to backfill).
    gap_start_ms: i64,
    conversations: HashMap<Cid, Conversation>,
    latest_known: HashMap<Cid, i64>,
    seen: SeenIds,
    /// Client ids resolved without a PNM id: a late echo of them is not shown again.
    resolved_uuids: VecDeque<String>,
    outbox: Outbox,
    deferred: Deferred,
    profiles: HashMap<Uid, Profile>,
    items: HashMap<String, ItemInfo>,
    undecodable: u64,
    undecodable_reported: Option<Instant>,
    kickouts: u32,
    consumer_gone: bool,
    /// A store failure was already reported as an `ImEvent::Error`.
    store_reported: bool,
}

impl Actor {
    fn new(
        cfg: SessionConfig,
        mtop: MtopClient,
        commands: mpsc::Receiver<ImCommand>,
        events: mpsc::Sender<ImEvent>,
    ) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let backoff = Backoff {
            min: cfg.backoff_min,
            max: cfg.backoff_max.max(cfg.backoff_min),
        };
        let seen = SeenIds::new(cfg.dedupe_capacity);
        Actor {
            cfg,
            mtop: Arc::new(Mutex::new(mtop)),
            commands,
            events,
            internal_tx,
            internal_rx,
            uid: None,
            did: None,
            token: None,
            link: Link::Waiting { at: Instant::now() },
            attempt_seq: 0,
            backoff,
            failures: 0,
            ever_live: false,
            gap_start_ms: crate::time::now_ms(),
            conversations: HashMap::new(),
            latest_known: HashMap::new(),
            seen,
            resolved_uuids: VecDeque::new(),
            outbox: Outbox::default(),
            deferred: Deferred::default(),
            profiles: HashMap::new(),
            items: HashMap::new(),
            undecodable: 0,
            undecodable_reported: None,
            kickouts: 0,
            consumer_gone: false,
            store_reported: false,
        }
    }

    async fn run(mut self) {
        self.restore_outbox().await;
        self.start_connect().await;
        while !matches!(self.link, Link::Stopped) {
            match self.next_input().await {
                Input::Command(None) => self.stop().await,
                Input::Command(Some(cmd)) => self.on_command(cmd).await,
                Input::Conn(Some(ev)) => self.on_conn_event(ev).await,
                Input::Conn(None) => self.on_disconnect("connection ended".into(), false).await,
                Input::Internal(msg) => self.on_internal(msg).await,
                Input::Timer => self.on_timer().await,
            }
            if self.consumer_gone && !matches!(self.link, Link::Stopped) {
                tracing::info!("event receiver dropped; stopping the IM session");
                self.stop().await;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let link = match &self.link {
            Link::Waiting { at } => Some(*at),
            Link::Parked {
                retry_at,
                recheck_at,
            } => [*retry_at, *recheck_at].into_iter().flatten().min(),
            Link::Live { rotate_at, .. } => *rotate_at,
            Link::Connecting { .. } | Link::Stopped => None,
        };
        let outbox = self.outbox.next_due(self.is_live());
        [link, outbox].into_iter().flatten().min()
    }

    async fn next_input(&mut self) -> Input {
        let deadline = self.next_deadline();
        let Actor {
            commands,
            internal_rx,
            link,
            ..
        } = self;
        let conn_events = async {
            match link {
                Link::Live { events, .. } => events.recv().await,
                _ => std::future::pending().await,
            }
        };
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = conn_events => Input::Conn(ev),
            Some(msg) = internal_rx.recv() => Input::Internal(msg),
            cmd = commands.recv() => Input::Command(cmd),
            () = timer => Input::Timer,
        }
    }

    async fn emit(&mut self, ev: ImEvent) {
        if self.events.send(ev).await.is_err() {
            self.consumer_gone = true;
        }
    }

    async fn set_state(&mut self, state: ConnState) {
        self.emit(ImEvent::Connection(state)).await;
    }

    fn is_live(&self) -> bool {
        matches!(self.link, Link::Live { .. })
    }

    fn live_conn(&self) -> Option<(Conn, Instant)> {
        match &self.link {
            Link::Live { conn, since, .. } => Some((conn.clone(), *since)),
            _ => None,
        }
    }

    // ---- connection lifecycle ----

    async fn start_connect(&mut self) {
        self.attempt_seq += 1;
        let attempt = self.attempt_seq;
        self.set_state(ConnState::Connecting).await;
        let ctx = ConnectCtx {
            mtop: self.mtop.clone(),
            conn: self.cfg.conn.clone(),
            device: self.cfg.device.clone(),
            token_margin: self.cfg.token_margin,
            uid: self.uid.clone(),
            did: self.did.clone(),
            token: self.token.take(),
            tx: self.internal_tx.clone(),
        };
        let tx = self.internal_tx.clone();
        let task = tokio::spawn(async move {
            let msg = match establish(ctx).await {
                Ok(est) => Internal::Connected {
                    attempt,
                    est: Box::new(est),
                },
                Err(failure) => Internal::ConnectFailed { attempt, failure },
            };
            let _ = tx.send(msg);
        });
        self.link = Link::Connecting { attempt, task };
    }

    /// Leaves the live state (if live), closing the socket.
    fn drop_link(&mut self) -> Option<Instant> {
        let old = std::mem::replace(&mut self.link, Link::Stopped);
        match old {
            Link::Live { conn, since, .. } => {
                conn.close();
                Some(since)
            }
            Link::Connecting { task, .. } => {
                task.abort();
                None
            }
            _ => None,
        }
    }

    async fn schedule_reconnect(&mut self, last_error: String) {
        self.failures = self.failures.saturating_add(1);
        let delay = self
            .backoff
            .delay(self.failures, rand::random_range(0.0..=1.0));
        tracing::info!(attempt = self.failures, in_ms = delay.as_millis() as u64, %last_error, "reconnecting");
        self.link = Link::Waiting {
            at: Instant::now() + delay,
        };
        self.set_state(ConnState::Reconnecting {
            in_ms: delay.as_millis() as u64,
            attempt: self.failures,
            last_error,
        })
        .await;
    }

    /// The live connection ended (closed, kicked out, token rotation …).
    async fn on_disconnect(&mut self, reason: String, discard_token: bool) {
        let since = self.drop_link();
        if let Some(since) = since {
            self.gap_start_ms = crate::time::now_ms();
            if since.elapsed() >= self.cfg.healthy_after {
                self.failures = 0;
                self.kickouts = 0;
            } else {
                // §9.3: a drop soon after /reg hints at a bad token.
                self.token = None;
            }
        }
        if discard_token {
            self.token = None;
        }
        self.outbox.requeue_in_flight();
        self.schedule_reconnect(reason).await;
    }

    async fn park(&mut self, state: ConnState, retry: bool) {
        self.drop_link();
        let retry_at = if retry {
            self.cfg.parked_retry.map(|d| Instant::now() + d)
        } else {
            None
        };
        let recheck_at =
            matches!(state, ConnState::NeedsLogin { .. }).then(|| Instant::now() + LOGIN_RECHECK);
        self.link = Link::Parked {
            retry_at,
            recheck_at,
        };
        // Requests that wait for a connection would wait indefinitely: answer them now.
        for (cid, requested) in std::mem::take(&mut self.deferred.history) {
            self.emit(ImEvent::HistoryFailed {
                cid,
                requested,
                reason: "not connected".into(),
            })
            .await;
        }
        for (peer, _) in std::mem::take(&mut self.deferred.opens) {
            self.emit(ImEvent::Error(format!(
                "{OPEN_CONVERSATION_FAILED} with {peer}: not connected"
            )))
            .await;
        }
        self.set_state(state).await;
    }

    async fn on_connected(&mut self, est: Established) {
        let Established {
            conn,
            events,
            token,
        } = est;
        let rotate_at = token
            .expires_at_ms
            .and_then(|exp| rotation_delay(exp - crate::time::now_ms(), self.cfg.token_margin))
            .map(|d| Instant::now() + d);
        self.token = Some(token);
        let since = Instant::now();
        self.link = Link::Live {
            conn: conn.clone(),
            events,
            since,
            rotate_at,
        };
        let is_reconnect = self.ever_live;
        self.ever_live = true;
        self.set_state(ConnState::Live).await;

        self.flush_outbox().await;
        if is_reconnect {
            self.deferred.list = false;
            self.spawn_list(ListPurpose::Backfill, conn.clone(), since);
        } else if std::mem::take(&mut self.deferred.list) {
            self.spawn_list(ListPurpose::User, conn.clone(), since);
        }
        for (cid, requested) in std::mem::take(&mut self.deferred.history) {
            self.spawn_history(conn.clone(), cid, requested);
        }
        for (cid, ids) in std::mem::take(&mut self.deferred.reads) {
            spawn_mark_read(conn.clone(), cid, ids);
        }
        for (peer, item_id) in std::mem::take(&mut self.deferred.opens) {
            self.spawn_open(conn.clone(), peer, item_id);
        }
    }

    async fn on_connect_failed(&mut self, failure: ConnectFailure) {
        match failure {
            ConnectFailure::NeedsLogin(reason) => {
                self.park(ConnState::NeedsLogin { reason }, true).await
            }
            ConnectFailure::RiskControl(url) => {
                self.park(ConnState::RiskControl { url }, true).await
            }
            ConnectFailure::SessionRemoved(reason) => self.session_removed(reason).await,
            ConnectFailure::Retry { error, token } => {
                self.token = token;
                self.link = Link::Stopped;
                self.schedule_reconnect(error).await;
            }
        }
    }

    async fn session_removed(&mut self, reason: String) {
        tracing::warn!(%reason, "IM session removed by the service");
        self.park(ConnState::SessionRemoved { reason }, false).await;
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        match &self.link {
            Link::Waiting { at } if *at <= now => self.start_connect().await,
            Link::Parked {
                retry_at: Some(at), ..
            } if *at <= now => self.start_connect().await,
            Link::Parked {
                recheck_at: Some(at),
                retry_at,
            } if *at <= now => {
                let retry_at = *retry_at;
                let uid = self.uid.clone();
                if self.mtop.lock().await.adopt_saved_login(uid.as_ref()).await {
                    tracing::info!("a new login was saved; connecting with it");
                    self.start_connect().await;
                } else {
                    self.link = Link::Parked {
                        retry_at,
                        recheck_at: Some(now + LOGIN_RECHECK),
                    };
                }
            }
            Link::Live {
                rotate_at: Some(at),
                ..
            } if *at <= now => {
                tracing::info!("IM token close to expiry; reconnecting with a fresh one");
                self.drop_link();
                self.token = None;
                self.outbox.requeue_in_flight();
                self.gap_start_ms = crate::time::now_ms();
                self.start_connect().await;
            }
            _ => {}
        }
        for item in self.outbox.expire_awaiting(now) {
            let time = match item.state {
                OutState::AwaitingEcho { time, .. } => time,
                _ => None,
            };
            // Accepted by the server but the id is unknown: the uuid stands in for it. Not
            // stored under that stand-in: history brings it back with its real id.
            let id = MessageId::new(item.client_id.as_str());
            self.remember_uuid(item.client_id.as_str());
            self.outbox_done(&item.client_id).await;
            let msg = self.own_message(&item, id, time);
            self.emit(ImEvent::SendResult {
                client_id: item.client_id,
                cid: item.cid,
                result: Ok(msg),
            })
            .await;
        }
        if self.is_live() {
            self.flush_outbox().await;
        }
    }

    // ---- commands ----

    async fn on_command(&mut self, cmd: ImCommand) {
        match cmd {
            ImCommand::ListConversations => match self.live_conn() {
                Some((conn, since)) => self.spawn_list(ListPurpose::User, conn, since),
                None => {
                    self.deferred.list = true;
                    if matches!(self.link, Link::Parked { .. }) {
                        // The explicit retry after a login or a slider check.
                        self.start_connect().await;
                    }
                }
            },
            ImCommand::LoadHistory { cid, cursor } => match self.live_conn() {
                Some((conn, _)) => self.spawn_history(conn, cid, cursor),
                None if matches!(self.link, Link::Parked { .. }) => {
                    self.emit(ImEvent::HistoryFailed {
                        cid,
                        requested: cursor,
                        reason: "not connected".into(),
                    })
                    .await
                }
                None => {
                    if !self.deferred.history.contains(&(cid.clone(), cursor)) {
                        self.deferred.history.push((cid, cursor));
                    }
                }
            },
            ImCommand::SendText {
                cid,
                client_id,
                text,
            } => {
                let content = Content::Text {
                    text: text.as_str().into(),
                };
                if !self.outbox.push(cid.clone(), client_id.clone(), content) {
                    tracing::warn!(%client_id, "duplicate send ignored");
                    return;
                }
                // On disk before it reaches the network: a crash now resends it at start-up.
                let id = client_id.clone();
                self.with_store("outbox", move |s| {
                    s.outbox_add(&cid, &id, &text, crate::time::now_ms())
                })
                .await;
                self.flush_or_queue(client_id).await;
            }
            ImCommand::SendImage {
                cid,
                client_id,
                path,
            } => {
                if !self.is_live() {
                    let reason = "not connected: a picture goes out only while connected".into();
                    self.image_failed(cid, client_id, reason).await;
                    return;
                }
                self.emit(ImEvent::SendProgress {
                    client_id: client_id.clone(),
                    stage: SendStage::Sending,
                })
                .await;
                let mtop = self.mtop.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let result = upload_image(&mtop, &path).await;
                    let _ = tx.send(Internal::Uploaded {
                        cid,
                        client_id,
                        result,
                    });
                });
            }
            ImCommand::MarkRead { cid, ids } => match self.live_conn() {
                Some((conn, _)) => spawn_mark_read(conn, cid, ids),
                None => match self.deferred.reads.iter_mut().find(|(c, _)| *c == cid) {
                    Some((_, pending)) => {
                        for id in ids {
                            if !pending.contains(&id) {
                                pending.push(id);
                            }
                        }
                    }
                    None => self.deferred.reads.push((cid, ids)),
                },
            },
            ImCommand::FetchProfile { cid, uid } => {
                if let Some(p) = self.profiles.get(&uid).cloned() {
                    self.emit(ImEvent::Profile(p)).await;
                    return;
                }
                let mtop = self.mtop.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let result = mtop.lock().await.user_query(&cid).await;
                    let result = result.map_err(|e| e.to_string());
                    let _ = tx.send(Internal::Profile { asked: uid, result });
                });
            }
            ImCommand::FetchItem { item_id } => {
                if let Some(i) = self.items.get(&item_id).cloned() {
                    self.emit(ImEvent::Item(i)).await;
                    return;
                }
                let mtop = self.mtop.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let result = mtop.lock().await.item_detail(&item_id).await;
                    let result = result.map_err(|e| e.to_string());
                    let _ = tx.send(Internal::Item { item_id, result });
                });
            }
            ImCommand::OpenConversation { peer, item_id } => match self.live_conn() {
                Some((conn, _)) => self.spawn_open(conn, peer, item_id),
                None if matches!(self.link, Link::Parked { .. }) => {
                    self.emit(ImEvent::Error(format!(
                        "{OPEN_CONVERSATION_FAILED} with {peer}: not connected"
                    )))
                    .await
                }
                None => {
                    if !self
                        .deferred
                        .opens
                        .contains(&(peer.clone(), item_id.clone()))
                    {
                        self.deferred.opens.push((peer, item_id));
                    }
                }
            },
            ImCommand::Recall { cid, id } => match self.live_conn() {
                Some((conn, _)) => spawn_recall(conn, self.events.clone(), cid, id),
                None => {
                    let result = Err("not connected".to_string());
                    self.emit(ImEvent::RecallResult { cid, id, result }).await
                }
            },
            ImCommand::Shutdown => self.stop().await,
        }
    }

    async fn stop(&mut self) {
        self.drop_link();
        for item in self.outbox.drain() {
            self.emit(ImEvent::SendResult {
                client_id: item.client_id,
                cid: item.cid,
                result: Err(SendFailure {
                    reason: "the IM session stopped before the message was sent".into(),
                    retryable: true,
                }),
            })
            .await;
        }
        self.emit(ImEvent::Connection(ConnState::Stopped)).await;
        self.link = Link::Stopped;
    }

    // ---- the connection's events ----

    async fn on_conn_event(&mut self, ev: ConnEvent) {
        let frame = match ev {
            ConnEvent::Closed { reason } => return self.on_disconnect(reason, false).await,
            ConnEvent::Push(frame) => frame,
        };
        let push_path = frame.lwp.clone().unwrap_or_default();
        match push_path.as_str() {
            // /s/para carries typing status per PY-C [U]; decoding it like /s/sync is
            // harmless when it holds something else.
            path::PUSH_SYNC | path::PUSH_SYNC_FAILOVER | path::PUSH_PARA => {
                let Some(uid) = self.uid.clone() else { return };
                let body = frame.body.unwrap_or(Value::Null);
                let decoded = decode_sync_body(&body, &uid);
                if matches!(decoded.sync_extra_type, Some(1 | 2))
                    && let Some((conn, _)) = self.live_conn()
                {
                    // GO's rule (§4.5); the ACK already went out.
                    tokio::spawn(async move { sync_state(&conn).await });
                }
                for event in decoded.events {
                    self.on_sync_event(event).await;
                }
            }
            path::PUSH_VULCAN => tracing::debug!("vulcan push"),
            path::PUSH_KICKOUT => {
                self.kickouts += 1;
                tracing::warn!(count = self.kickouts, "kicked out by the service");
                if self.kickouts == KICKOUT_WARN_AFTER {
                    self.emit(ImEvent::Error(
                        "kicked out repeatedly: another client may be using the same device id"
                            .into(),
                    ))
                    .await;
                }
                self.on_disconnect("kicked out by the service".into(), true)
                    .await;
            }
            path::PUSH_SESSION_REMOVE => {
                let reason = frame
                    .body
                    .as_ref()
                    .and_then(|b| b.get("reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("session removed by the service (connection limit)")
                    .to_string();
                self.session_removed(reason).await;
            }
            other => tracing::debug!(path = other, "unhandled push"),
        }
    }

    async fn on_sync_event(&mut self, event: SyncEvent) {
        match event {
            SyncEvent::Message(m) => self.on_message(m, false).await,
            SyncEvent::Receipt { cid, ids, .. } => self.emit(ImEvent::Receipt { cid, ids }).await,
            SyncEvent::Typing { uid, cid } => self.emit(ImEvent::Typing { cid, uid }).await,
            SyncEvent::CardUpdate {
                cid,
                text,
                red_reminder,
                ..
            } => {
                self.emit(ImEvent::CardUpdate {
                    cid,
                    text,
                    red_reminder,
                })
                .await
            }
            SyncEvent::Recalled { cid, id } => self.emit(ImEvent::Recalled { cid, id }).await,
            SyncEvent::System { kind, .. } => tracing::debug!(%kind, "system item"),
            SyncEvent::Undecodable { reason, raw } => {
                self.undecodable += 1;
                tracing::debug!(%reason, raw_len = raw.len(), "undecodable push item");
                let due = self
                    .undecodable_reported
                    .is_none_or(|t| t.elapsed() >= UNDECODABLE_REPORT_EVERY);
                if due {
                    tracing::warn!(total = self.undecodable, %reason, "push items could not be decoded");
                    self.undecodable_reported = Some(Instant::now());
                    self.emit(ImEvent::Error(format!(
                        "{} incoming item(s) could not be decoded (last: {reason})",
                        self.undecodable
                    )))
                    .await;
                }
            }
        }
    }

    /// A message from a push or from backfill: deduped, stored (unless the caller did),
    /// and matched against the outbox.
    async fn on_message(&mut self, m: Message, stored: bool) {
        let newest = self.latest_known.entry(m.cid.clone()).or_insert(m.time);
        *newest = (*newest).max(m.time);
        if !self.seen.insert(&m.id) {
            return;
        }
        if !stored {
            self.store_messages(vec![m.clone()]).await;
        }
        if m.is_self {
            if let Some(item) = self.outbox.match_echo(&m) {
                self.outbox_done(&item.client_id).await;
                self.emit(ImEvent::SendResult {
                    client_id: item.client_id,
                    cid: item.cid,
                    result: Ok(m),
                })
                .await;
                return;
            }
            if m.client_id
                .as_ref()
                .is_some_and(|u| self.resolved_uuids.contains(u))
            {
                return;
            }
        }
        self.emit(ImEvent::Message(m)).await;
    }

    fn remember_uuid(&mut self, uuid: &str) {
        self.resolved_uuids.push_back(uuid.to_string());
        while self.resolved_uuids.len() > 1000 {
            self.resolved_uuids.pop_front();
        }
    }

    // ---- results of background work ----

    async fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::State(state) => {
                if matches!(self.link, Link::Connecting { .. }) {
                    self.set_state(state).await;
                }
            }
            Internal::Identity { uid, did } => {
                let first = self.uid.as_ref() != Some(&uid);
                self.uid = Some(uid.clone());
                self.did = Some(did);
                if first {
                    self.emit(ImEvent::SelfInfo {
                        uid: uid.clone(),
                        nick: None,
                    })
                    .await;
                    let mtop = self.mtop.clone();
                    let tx = self.internal_tx.clone();
                    tokio::spawn(async move {
                        match mtop.lock().await.own_profile().await {
                            Ok(p) => drop(tx.send(Internal::OwnNick(p.nick))),
                            Err(e) => tracing::info!(error = %e, "own profile unavailable"),
                        }
                    });
                }
            }
            Internal::OwnNick(nick) => {
                if let Some(uid) = self.uid.clone() {
                    self.emit(ImEvent::SelfInfo {
                        uid,
                        nick: Some(nick),
                    })
                    .await;
                }
            }
            Internal::Connected { attempt, est } => match &self.link {
                Link::Connecting { attempt: a, .. } if *a == attempt => {
                    self.on_connected(*est).await
                }
                // A stale attempt (stopped or superseded): its connection closes on drop.
                _ => est.conn.close(),
            },
            Internal::ConnectFailed { attempt, failure } => match &self.link {
                Link::Connecting { attempt: a, .. } if *a == attempt => {
                    self.on_connect_failed(failure).await
                }
                _ => {}
            },
            Internal::Conversations { purpose, result } => {
                self.on_conversations(purpose, result).await
            }
            Internal::History {
                cid,
                requested,
                result,
            } => match result {
                Ok(page) => {
                    let messages = page.entries.iter().map(|e| e.message.clone()).collect();
                    self.store_messages(messages).await;
                    for e in &page.entries {
                        self.seen.insert(&e.message.id);
                        let newest = self.latest_known.entry(cid.clone()).or_insert(0);
                        *newest = (*newest).max(e.message.time);
                    }
                    self.emit(ImEvent::History { page, requested }).await;
                }
                Err(reason) => {
                    self.emit(ImEvent::HistoryFailed {
                        cid,
                        requested,
                        reason,
                    })
                    .await
                }
            },
            Internal::BackfillStep {
                mut messages,
                done,
                total,
            } => {
                messages.sort_by_key(|m| m.time);
                // One transaction for the whole step.
                self.store_messages(messages.clone()).await;
                for m in messages {
                    self.on_message(m, true).await;
                }
                self.emit(ImEvent::Backfill { done, total }).await;
            }
            Internal::Uploaded {
                cid,
                client_id,
                result,
            } => match result {
                Err(reason) => self.image_failed(cid, client_id, reason).await,
                Ok(url) => {
                    let content = Content::Image { urls: vec![url] };
                    if self.outbox.push(cid.clone(), client_id.clone(), content) {
                        // Connection lost during the upload: it goes out after the next
                        // registration, like a text (but not after a restart).
                        self.flush_or_queue(client_id).await;
                    } else {
                        tracing::warn!(%client_id, "duplicate send ignored");
                    }
                }
            },
            Internal::Sent {
                client_id,
                result,
                peer,
            } => self.on_sent(client_id, result, peer).await,
            Internal::Profile { asked, result } => match result {
                Ok(p) => {
                    self.profiles.insert(asked, p.clone());
                    self.profiles.insert(p.uid.clone(), p.clone());
                    self.emit(ImEvent::Profile(p)).await;
                }
                Err(e) => tracing::info!(uid = %asked, error = %e, "profile lookup failed"),
            },
            Internal::Item { item_id, result } => match result {
                Ok(i) => {
                    self.items.insert(item_id, i.clone());
                    self.emit(ImEvent::Item(i)).await;
                }
                Err(e) => tracing::info!(%item_id, error = %e, "item lookup failed"),
            },
            Internal::Opened {
                peer,
                item_id,
                result,
            } => self.on_opened(peer, item_id, result).await,
        }
    }

    /// A created (or found) conversation joins the known list, which goes out again: the
    /// create answer carries no nick or title, those come with the next list refresh.
    async fn on_opened(&mut self, peer: Uid, item_id: Option<String>, result: Result<Cid, String>) {
        let cid = match result {
            Ok(cid) => cid,
            Err(e) => {
                self.emit(ImEvent::Error(format!(
                    "{OPEN_CONVERSATION_FAILED} with {peer}: {e}"
                )))
                .await;
                return;
            }
        };
        self.conversations
            .entry(cid.clone())
            .or_insert_with(|| Conversation {
                cid,
                peer,
                item_id,
                modify_time: crate::time::now_ms(),
                ..Default::default()
            });
        let mut list: Vec<Conversation> = self.conversations.values().cloned().collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.modify_time));
        self.emit(ImEvent::Conversations(list)).await;
    }

    async fn on_conversations(
        &mut self,
        purpose: ListPurpose,
        result: Result<Vec<Conversation>, String>,
    ) {
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                self.emit(ImEvent::Error(format!(
                    "could not load the conversation list: {e}"
                )))
                .await;
                if purpose == ListPurpose::Backfill {
                    self.emit(ImEvent::Backfill { done: 0, total: 0 }).await;
                }
                return;
            }
        };
        let previous: HashMap<Cid, i64> = self
            .conversations
            .iter()
            .map(|(cid, c)| (cid.clone(), c.modify_time))
            .collect();
        self.conversations = list.iter().map(|c| (c.cid.clone(), c.clone())).collect();
        let stored = list.clone();
        self.with_store("conversations", move |s| s.save_conversations(&stored))
            .await;
        let gap_start = self.gap_start_ms - CLOCK_SLACK_MS;
        let targets = backfill_targets(&list, &previous, &self.latest_known, gap_start);
        self.emit(ImEvent::Conversations(list)).await;
        if purpose != ListPurpose::Backfill {
            return;
        }
        let total = targets.len();
        self.emit(ImEvent::Backfill { done: 0, total }).await;
        let (Some((conn, since)), Some(uid)) = (self.live_conn(), self.uid.clone()) else {
            return;
        };
        let tx = self.internal_tx.clone();
        let cfg = self.cfg.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(since + cfg.settle_delay).await;
            for (i, (cid, known_until)) in targets.into_iter().enumerate() {
                let messages = backfill_one(&conn, &cfg, &uid, &cid, known_until).await;
                let step = Internal::BackfillStep {
                    messages,
                    done: i + 1,
                    total,
                };
                if tx.send(step).is_err() {
                    return;
                }
            }
        });
    }

    // ---- local history ----

    /// Runs a call on the store, if there is one. A failure is logged and reported once;
    /// the session goes on without the cache.
    async fn with_store<R, F>(&mut self, what: &'static str, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.cfg.store.clone()?;
        match store.call(f).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, what, "local history call failed");
                if !self.store_reported {
                    self.store_reported = true;
                    self.emit(ImEvent::Error(format!(
                        "local history unavailable, going on without it: {e}"
                    )))
                    .await;
                }
                None
            }
        }
    }

    async fn store_messages(&mut self, messages: Vec<Message>) {
        if !messages.is_empty() {
            self.with_store("messages", move |s| s.save_messages(&messages))
                .await;
        }
    }

    async fn outbox_done(&mut self, client_id: &ClientId) {
        let id = client_id.clone();
        self.with_store("outbox", move |s| s.outbox_remove(&id))
            .await;
    }

    /// Texts left unsent by an earlier run go out again, once, with their own client ids
    /// (the service answers a repeated id with the first message).
    async fn restore_outbox(&mut self) {
        let Some(pending) = self.with_store("outbox", |s| s.outbox_pending()).await else {
            return;
        };
        for item in pending {
            tracing::info!(client_id = %item.client_id, "resending a text from the last run");
            let content = Content::Text {
                text: item.text.into(),
            };
            self.outbox.push(item.cid, item.client_id, content);
        }
    }

    // ---- sending ----

    async fn flush_outbox(&mut self) {
        let Some((conn, _)) = self.live_conn() else {
            return;
        };
        let Some(uid) = self.uid.clone() else { return };
        for item in self.outbox.take_sendable(Instant::now()) {
            let id = item.client_id.clone();
            self.with_store("outbox", move |s| {
                s.outbox_set_state(&id, OutboxState::Sending)
            })
            .await;
            self.emit(ImEvent::SendProgress {
                client_id: item.client_id.clone(),
                stage: SendStage::Sending,
            })
            .await;
            let peer = self.conversations.get(&item.cid).map(|c| c.peer.clone());
            let tx = self.internal_tx.clone();
            let conn = conn.clone();
            let uid = uid.clone();
            tokio::spawn(async move {
                let (result, peer) = send_one(&conn, &uid, &item, peer).await;
                let _ = tx.send(Internal::Sent {
                    client_id: item.client_id,
                    result,
                    peer,
                });
            });
        }
    }

    async fn on_sent(
        &mut self,
        client_id: ClientId,
        result: Result<SendAck, SendError>,
        peer: Option<Uid>,
    ) {
        let token_rejected = matches!(
            result,
            Err(SendError::Request(RequestError::Rpc(
                RpcError::InvalidToken { .. }
            )))
        );
        if let (Some(peer), Some(item)) = (peer, self.outbox.get(&client_id))
            && let Some(conv) = self.conversations.get_mut(&item.cid)
        {
            conv.peer = peer;
        }
        let step = self.outbox.on_result(
            &client_id,
            result,
            Instant::now(),
            self.cfg.retry_limit,
            self.cfg.retry_step,
            self.cfg.echo_wait,
        );
        match step {
            SendStep::Sent { item, ack, id } => {
                self.seen.insert(&id);
                let msg = self.own_message(&item, id, ack.time);
                self.store_messages(vec![msg.clone()]).await;
                self.outbox_done(&item.client_id).await;
                let newest = self.latest_known.entry(msg.cid.clone()).or_insert(msg.time);
                *newest = (*newest).max(msg.time);
                self.emit(ImEvent::SendResult {
                    client_id: item.client_id,
                    cid: item.cid,
                    result: Ok(msg),
                })
                .await;
            }
            SendStep::Failed { item, failure } => {
                // A retryable failure stays in the stored outbox and goes out again at the
                // next start; a refusal (content security, no such conversation) does not.
                if !failure.retryable {
                    self.outbox_done(&item.client_id).await;
                }
                self.emit(ImEvent::SendResult {
                    client_id: item.client_id,
                    cid: item.cid,
                    result: Err(failure),
                })
                .await;
            }
            SendStep::Requeued => {
                if token_rejected && self.is_live() {
                    self.on_disconnect("IM token rejected".into(), true).await;
                } else {
                    // Lost with an older connection; this one may be up.
                    self.flush_or_queue(client_id).await;
                }
            }
            SendStep::Retry { .. } | SendStep::AwaitEcho | SendStep::Unknown => {}
        }
    }

    /// Sends what the outbox holds when connected; otherwise says that `client_id` waits.
    async fn flush_or_queue(&mut self, client_id: ClientId) {
        if self.is_live() {
            self.flush_outbox().await;
        } else {
            self.emit(ImEvent::SendProgress {
                client_id,
                stage: SendStage::Queued,
            })
            .await;
        }
    }

    /// The one `SendResult` of a picture that never reached the outbox.
    async fn image_failed(&mut self, cid: Cid, client_id: ClientId, reason: String) {
        self.emit(ImEvent::SendResult {
            client_id,
            cid,
            result: Err(SendFailure {
                reason,
                retryable: true,
            }),
        })
        .await;
    }

    /// Our own message as the send answer describes it.
    fn own_message(&self, item: &Outgoing, id: MessageId, time: Option<i64>) -> Message {
        let item_id = self
            .conversations
            .get(&item.cid)
            .and_then(|c| c.item_id.as_deref().map(Into::into));
        Message {
            id,
            cid: item.cid.clone(),
            sender: self.uid.clone().unwrap_or_default(),
            is_self: true,
            time: time.unwrap_or_else(crate::time::now_ms),
            content: item.content.clone(),
            item_id,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: Some(item.client_id.as_str().to_string()),
        }
    }

    // ---- reads ----

    fn spawn_list(&self, purpose: ListPurpose, conn: Conn, since: Instant) {
        let Some(uid) = self.uid.clone() else { return };
        let tx = self.internal_tx.clone();
        let cfg = self.cfg.clone();
        tokio::spawn(async move {
            // A backfill (or the first list after connecting) waits out the settle time.
            tokio::time::sleep_until(since + cfg.settle_delay).await;
            let result = list_all(&conn, &cfg, &uid).await;
            let _ = tx.send(Internal::Conversations { purpose, result });
        });
    }

    /// `/r/SingleChatConversation/create` (idempotent on the service: an existing pair
    /// answers with its cid). The pair order is open (§12.9); `create_single_body` puts the
    /// peer first like most clients. Creating often may be refused (§6.5), so callers look in
    /// the conversation list first.
    fn spawn_open(&self, conn: Conn, peer: Uid, item_id: Option<String>) {
        let Some(uid) = self.uid.clone() else { return };
        let tx = self.internal_tx.clone();
        let cfg = self.cfg.clone();
        tokio::spawn(async move {
            let body = wire::create_single_body(&peer, &uid, item_id.as_deref());
            let result = match request_retrying(&conn, &cfg, path::CREATE_SINGLE, body).await {
                Ok(resp) => wire::parse_create_response(&resp)
                    .ok_or_else(|| "the answer carries no conversation id".to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(Internal::Opened {
                peer,
                item_id,
                result,
            });
        });
    }

    fn spawn_history(&self, conn: Conn, cid: Cid, requested: Option<i64>) {
        let Some(uid) = self.uid.clone() else { return };
        let tx = self.internal_tx.clone();
        let cfg = self.cfg.clone();
        tokio::spawn(async move {
            let cursor = requested.unwrap_or(FIRST_PAGE_CURSOR);
            let result = history_page(&conn, &cfg, &uid, &cid, cursor, cfg.history_page).await;
            let _ = tx.send(Internal::History {
                cid,
                requested,
                result,
            });
        });
    }
}

// ---- network steps (run in tasks) ----------------------------------------------------------

/// Largest picture sent. Clients recompress to ≤ 5 MB (§3.5); this one sends the file as it is
/// and refuses a larger one with a clear reason rather than risk a silent rejection.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// Reads a picture file and uploads it; the CDN URL, or why not (worded for the user).
async fn upload_image(mtop: &Mutex<MtopClient>, path: &std::path::Path) -> Result<String, String> {
    // `~/` as a shell would read it: paths are typed by hand in the TUI.
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let expanded = match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    };
    let path = expanded.as_path();
    let shown = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image.jpg".into());
    let owned = path.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || read_image(&owned))
        .await
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .map_err(|e| format!("{shown}: {e}"))?;
    mtop.lock()
        .await
        .upload_image(&name, bytes)
        .await
        .map_err(|e| format!("upload failed: {e}"))
}

/// The bytes of a picture file: at most [`MAX_IMAGE_BYTES`], and a JPEG, PNG, GIF or WebP by
/// its first bytes.
fn read_image(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(format!(
            "larger than {} MB; make it smaller first",
            MAX_IMAGE_BYTES / (1024 * 1024)
        ));
    }
    let picture = bytes.starts_with(&[0xff, 0xd8, 0xff])
        || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"GIF8")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"));
    if !picture {
        return Err("not a JPEG, PNG, GIF or WebP picture".into());
    }
    Ok(bytes)
}

struct ConnectCtx {
    mtop: Arc<Mutex<MtopClient>>,
    conn: ConnConfig,
    device: DeviceSource,
    token_margin: Duration,
    uid: Option<Uid>,
    did: Option<String>,
    token: Option<ImToken>,
    tx: mpsc::UnboundedSender<Internal>,
}

fn login_failure(e: MtopError) -> ConnectFailure {
    match e {
        MtopError::NoCookie | MtopError::SessionExpired => {
            ConnectFailure::NeedsLogin(e.to_string())
        }
        MtopError::RiskControl { url } => ConnectFailure::RiskControl(
            url.unwrap_or_else(|| "https://www.goofish.com/im".to_string()),
        ),
        other => ConnectFailure::Retry {
            error: other.to_string(),
            token: None,
        },
    }
}

/// §9.1 steps 1–9: uid, did, token, socket, `/reg`, getState → ackDiff, heartbeat.
async fn establish(mut ctx: ConnectCtx) -> Result<Established, ConnectFailure> {
    let uid = match ctx.uid.take() {
        Some(uid) => uid,
        None => {
            let mut mtop = ctx.mtop.lock().await;
            match mtop.uid() {
                Some(uid) => uid,
                None => mtop.login_user().await.map_err(login_failure)?,
            }
        }
    };
    let did = match ctx.did.take() {
        Some(did) => did,
        None => resolve_did(&ctx.device, &uid).await,
    };
    let _ = ctx.tx.send(Internal::Identity {
        uid: uid.clone(),
        did: did.clone(),
    });

    let mut token = ctx
        .token
        .take()
        .filter(|t| token_usable(t, crate::time::now_ms(), ctx.token_margin));
    // Two rounds at most: a reused token the server rejects is replaced by a fresh one.
    for round in 0..2 {
        let reused = token.is_some();
        let tok = match token.take() {
            Some(t) => t,
            None => ctx
                .mtop
                .lock()
                .await
                .login_token(&did)
                .await
                .map_err(login_failure)?,
        };
        let (conn, events) = match conn::connect(&ctx.conn).await {
            Ok(c) => c,
            Err(e) => {
                return Err(ConnectFailure::Retry {
                    error: e.to_string(),
                    token: Some(tok),
                });
            }
        };
        let _ = ctx.tx.send(Internal::State(ConnState::Registering));
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
async fn sync_state(conn: &Conn) {
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
async fn request_retrying(
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

async fn list_all(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
) -> Result<Vec<Conversation>, String> {
    let mut all: Vec<Conversation> = Vec::new();
    let mut cursor = FIRST_PAGE_CURSOR;
    for _ in 0..cfg.max_conversation_pages.max(1) {
        let body = wire::list_newest_pagination_body(cursor, cfg.conversation_page);
        let resp = request_retrying(conn, cfg, path::LIST_NEWEST_PAGINATION, body)
            .await
            .map_err(|e| e.to_string())?;
        let page = parse_conversation_page(&resp, uid).map_err(|e| e.to_string())?;
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

async fn history_page(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
    cid: &Cid,
    cursor: i64,
    limit: u32,
) -> Result<HistoryPage, String> {
    let body = wire::list_user_messages_body(cid, cursor, limit);
    let resp = request_retrying(conn, cfg, path::LIST_USER_MESSAGES, body)
        .await
        .map_err(|e| e.to_string())?;
    parse_history_page(&resp, cid, uid).map_err(|e| e.to_string())
}

/// Newest history pages of `cid` until a message from before `known_until` shows up.
async fn backfill_one(
    conn: &Conn,
    cfg: &SessionConfig,
    uid: &Uid,
    cid: &Cid,
    known_until: i64,
) -> Vec<Message> {
    let mut out = Vec::new();
    let mut cursor = FIRST_PAGE_CURSOR;
    for _ in 0..cfg.backfill_max_pages.max(1) {
        let page = match history_page(conn, cfg, uid, cid, cursor, cfg.history_page).await {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(%cid, error = %e, "backfill page failed");
                break;
            }
        };
        let mut reached_known = false;
        for e in page.entries {
            if e.message.time <= known_until {
                reached_known = true;
            } else {
                out.push(e.message);
            }
        }
        match page.next_cursor {
            Some(next) if page.has_more && !reached_known && next != cursor => cursor = next,
            _ => break,
        }
    }
    out
}

/// Resolves the peer when needed (getByCids), then sends.
async fn send_one(
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

/// `/r/MessageManager/recallMessage` (§6.11); its answer goes straight to the consumer.
fn spawn_recall(conn: Conn, events: mpsc::Sender<ImEvent>, cid: Cid, id: MessageId) {
    tokio::spawn(async move {
        let result = conn
            .request(path::RECALL, Some(wire::recall_body(&id)))
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::info!(%cid, %id, error = %e, "recall failed");
        }
        let _ = events.send(ImEvent::RecallResult { cid, id, result }).await;
    });
}

/// `/r/MessageStatus/read` then `/r/Conversation/clearRedPoint`; failures only logged.
fn spawn_mark_read(conn: Conn, cid: Cid, ids: Vec<MessageId>) {
    tokio::spawn(async move {
        if !ids.is_empty()
            && let Err(e) = conn.request(path::READ, Some(wire::read_body(&ids))).await
        {
            tracing::info!(%cid, error = %e, "mark read failed");
        }
        let body = wire::clear_red_point_body(&cid, ids.last());
        if let Err(e) = conn.request(path::CLEAR_RED_POINT, Some(body)).await {
            tracing::info!(%cid, error = %e, "clear red point failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pictures_up_to_the_limit_are_read_for_sending() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let gif = write("a.gif", b"GIF89a....");
        assert_eq!(read_image(&gif).unwrap(), b"GIF89a....");
        let webp = write("a.webp", b"RIFF\0\0\0\0WEBPVP8 ");
        assert!(read_image(&webp).is_ok());
        let text = write("a.jpg", b"just text");
        assert!(read_image(&text).unwrap_err().contains("not a JPEG"));
        let mut big = vec![0xff, 0xd8, 0xff];
        big.resize(MAX_IMAGE_BYTES as usize + 1, 0);
        let big = write("big.jpg", &big);
        assert!(read_image(&big).unwrap_err().contains("larger than 5 MB"));
        assert!(read_image(&dir.path().join("absent.png")).is_err());
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=9).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
        for n in 1..=12 {
            let c = b.ceiling(n);
            assert_eq!(b.delay(n, 0.0), c / 2);
            assert_eq!(b.delay(n, 1.0), c);
            let mid = b.delay(n, 0.5);
            assert!(mid >= c / 2 && mid <= c);
        }
        // Out-of-range jitter is clamped, never beyond the cap.
        assert_eq!(b.delay(20, 7.0), Duration::from_secs(60));
    }

    #[test]
    fn seen_ids_dedupe_and_forget_the_oldest() {
        let mut s = SeenIds::new(3);
        let id = |n: u32| MessageId::new(format!("{n}.PNM"));
        assert!(s.insert(&id(1)));
        assert!(!s.insert(&id(1)));
        assert!(s.insert(&MessageId::new("odd-id")));
        assert!(!s.insert(&MessageId::new("odd-id")));
        assert!(s.insert(&id(2)));
        assert!(s.insert(&id(3))); // evicts 1
        assert_eq!(s.len(), 3);
        assert!(!s.contains(&id(1)));
        assert!(s.contains(&id(3)));
        assert!(s.insert(&id(1)));
    }

    fn ack(id: Option<&str>) -> SendAck {
        SendAck {
            message_id: id.map(MessageId::new),
            time: Some(1_700_000_000_000),
            uuid: None,
        }
    }

    const STEP: Duration = Duration::from_secs(2);
    const WAIT: Duration = Duration::from_secs(10);

    fn outbox_with(body: &str) -> (Outbox, ClientId, Instant) {
        let mut o = Outbox::default();
        let id = ClientId::new("-17000000000001");
        let text = |t: &str| Content::Text { text: t.into() };
        assert!(o.push(Cid::new("1@goofish"), id.clone(), text(body)));
        assert!(!o.push(Cid::new("1"), id.clone(), text("again")));
        (o, id, Instant::now())
    }

    #[test]
    fn outbox_sends_once_and_finishes_on_ack() {
        let (mut o, id, now) = outbox_with("hi");
        let sent = o.take_sendable(now);
        assert_eq!(sent.len(), 1);
        assert!(o.take_sendable(now).is_empty(), "not sent twice");
        let step = o.on_result(&id, Ok(ack(Some("5.PNM"))), now, 3, STEP, WAIT);
        assert!(matches!(step, SendStep::Sent { ref id, .. } if id.as_str() == "5.PNM"));
        assert!(o.is_empty());
        // A late second answer finds nothing.
        let again = o.on_result(&id, Ok(ack(Some("5.PNM"))), now, 3, STEP, WAIT);
        assert_eq!(again, SendStep::Unknown);
    }

    #[test]
    fn outbox_retries_flow_control_with_growing_pauses_then_fails() {
        let (mut o, id, now) = outbox_with("hi");
        let flow = || Err(SendError::Request(RequestError::Rpc(RpcError::FlowControl)));
        let mut t = now;
        for n in 1..=3u32 {
            assert_eq!(o.take_sendable(t).len(), 1);
            let step = o.on_result(&id, flow(), t, 3, STEP, WAIT);
            assert_eq!(step, SendStep::Retry { at: t + STEP * n });
            assert_eq!(o.next_due(true), Some(t + STEP * n));
            assert_eq!(o.next_due(false), None);
            assert!(o.take_sendable(t).is_empty(), "not before its time");
            t += STEP * n;
        }
        assert_eq!(o.take_sendable(t).len(), 1);
        match o.on_result(&id, flow(), t, 3, STEP, WAIT) {
            SendStep::Failed { failure, .. } => assert!(failure.retryable),
            other => panic!("{other:?}"),
        }
        assert!(o.is_empty());
    }

    #[test]
    fn outbox_content_block_fails_at_once() {
        let (mut o, id, now) = outbox_with("加我微信");
        o.take_sendable(now);
        let blocked = RpcError::ContentBlocked {
            reason: "安全拦截".into(),
        };
        let step = o.on_result(
            &id,
            Err(SendError::Request(RequestError::Rpc(blocked))),
            now,
            3,
            STEP,
            WAIT,
        );
        match step {
            SendStep::Failed { failure, .. } => {
                assert!(!failure.retryable);
                assert!(failure.reason.contains("安全拦截"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outbox_requeues_on_connection_loss_with_the_same_uuid() {
        let (mut o, id, now) = outbox_with("hi");
        o.take_sendable(now);
        let step = o.on_result(
            &id,
            Err(SendError::Request(RequestError::Closed)),
            now,
            3,
            STEP,
            WAIT,
        );
        assert_eq!(step, SendStep::Requeued);
        let again = o.take_sendable(now);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].client_id, id);
        // In flight when the connection drops: back to the queue.
        o.requeue_in_flight();
        assert_eq!(o.get(&id).map(|i| &i.state), Some(&OutState::Queued));
    }

    fn echo(text: &str, uuid: Option<&str>) -> Message {
        Message {
            id: MessageId::new("9.PNM"),
            cid: Cid::new("1"),
            sender: Uid::new("2"),
            is_self: true,
            time: 1,
            content: Content::Text { text: text.into() },
            item_id: None,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: uuid.map(str::to_string),
        }
    }

    #[test]
    fn echo_before_answer_resolves_the_send() {
        let (mut o, id, now) = outbox_with("hi");
        // Not yet on the wire: a same-text echo is someone else's (another device).
        assert!(o.match_echo(&echo("hi", None)).is_none());
        o.take_sendable(now);
        assert!(o.match_echo(&echo("other", None)).is_none());
        assert_eq!(
            o.match_echo(&echo("hi", None)).map(|i| i.client_id),
            Some(id.clone())
        );
        // The answer that follows is ignored.
        let step = o.on_result(&id, Ok(ack(Some("9.PNM"))), now, 3, STEP, WAIT);
        assert_eq!(step, SendStep::Unknown);
    }

    #[test]
    fn echo_with_uuid_matches_even_a_queued_send() {
        let (mut o, id, _) = outbox_with("hi");
        let m = echo("hi", Some(id.as_str()));
        assert_eq!(o.match_echo(&m).map(|i| i.client_id), Some(id));
    }

    #[test]
    fn answer_without_id_waits_for_the_echo_then_counts_as_sent() {
        let (mut o, id, now) = outbox_with("hi");
        o.take_sendable(now);
        assert_eq!(
            o.on_result(&id, Ok(ack(None)), now, 3, STEP, WAIT),
            SendStep::AwaitEcho
        );
        assert!(o.expire_awaiting(now).is_empty());
        assert_eq!(o.next_due(false), Some(now + WAIT));
        let done = o.expire_awaiting(now + WAIT);
        assert_eq!(done.len(), 1);
        assert!(o.is_empty());
    }

    fn conv(cid: &str, modify: i64) -> Conversation {
        Conversation {
            cid: Cid::new(cid),
            peer: Uid::new("7"),
            modify_time: modify,
            ..Default::default()
        }
    }

    #[test]
    fn backfill_targets_only_conversations_that_moved() {
        let list = [
            conv("1", 500),
            conv("2", 300),
            conv("3", 900),
            conv("4", 100),
            conv("5", 700),
        ];
        let previous = HashMap::from([
            (Cid::new("1"), 400),
            (Cid::new("2"), 300),
            (Cid::new("5"), 400),
        ]);
        let latest = HashMap::from([(Cid::new("1"), 350), (Cid::new("5"), 700)]);
        let t = backfill_targets(&list, &previous, &latest, 800);
        // 1 moved since the last list; 2 did not; 3 is new since the gap; 4 is older than
        // the gap; 5 moved but its newest message was already pushed to us.
        assert_eq!(t, vec![(Cid::new("1"), 400), (Cid::new("3"), 800)]);
    }

    #[test]
    fn tokens_are_reused_only_well_before_expiry() {
        let tok = |exp| ImToken {
            access_token: crate::secret::Secret::new("t"),
            expires_at_ms: exp,
            refresh_token: None,
        };
        let margin = Duration::from_secs(600);
        assert!(token_usable(&tok(None), 0, margin));
        assert!(token_usable(&tok(Some(1_000_000)), 0, margin));
        assert!(!token_usable(&tok(Some(500_000)), 0, margin));
    }

    #[test]
    fn rotation_waits_until_the_margin_but_never_loops() {
        let margin = Duration::from_secs(600);
        let day = 86_400_000;
        assert_eq!(
            rotation_delay(day, margin),
            Some(Duration::from_millis(day as u64) - margin)
        );
        // A 5-minute token: half its life, not "now".
        assert_eq!(
            rotation_delay(300_000, margin),
            Some(Duration::from_secs(150))
        );
        assert_eq!(rotation_delay(1_000, margin), Some(Duration::from_secs(30)));
        assert_eq!(rotation_delay(-5, margin), None);
    }
}
