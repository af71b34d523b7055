//! The session's decisions (§9), without I/O: `SessionCore::handle(now, input)` takes a
//! command, a connection event, a job's result, a store answer or a timer tick, changes the
//! session's state and says what to do: events to emit, network jobs to run, store
//! operations, connections to close. `next_wake` says when it wants a `Tick`.
//!
//! Everything that decides lives here: the connection lifecycle and its backoff, token reuse
//! and rotation, kickout counting, parking on login and risk-control faults, the backfill
//! after a gap, dedupe, the outbox and its retries. The driver (`driver.rs`) only performs
//! the outputs, in order, and feeds back what happened; so every fault scenario is a test
//! that runs in microseconds with made-up times.

use super::SessionConfig;
use super::dedupe::{ResolvedUuids, SeenIds};
use super::gap::Gap;
use super::lifecycle::{Backoff, rotation_delay};
use super::login::{LoginDue, LoginKeeper};
use super::outbox::{OutState, Outbox, Outgoing, SendError, SendStep, find_delivered};
use crate::im::api::{
    ConnState, ImCommand, ImEvent, OPEN_CONVERSATION_FAILED, SendFailure, SendStage,
};
use crate::im::conn::RequestError;
use crate::im::mtop::{ImToken, MtopError};
use crate::im::renewal::RenewStep;
use crate::protocol::history::ParseError;
use crate::protocol::lwp::{Frame, RpcError, path};
use crate::protocol::send::SendAck;
use crate::protocol::sync::{decode_sync_body, decode_sync_push};
use crate::protocol::{
    Cid, ClientId, Content, Conversation, HistoryPage, ItemInfo, Message, MessageId, Profile,
    SyncEvent, Uid,
};
use crate::store::{OutboxItem, OutboxState, StoreError, WriteOp};
use foldhash::{HashMap, HashMapExt};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// Risk control is never checked again sooner than this (the service punishes retries).
const RISK_RECHECK_FLOOR: Duration = Duration::from_secs(120);
/// … nor later than this, when no parked retry is configured.
const RISK_RECHECK_CAP: Duration = Duration::from_secs(30 * 60);

/// The store's note of when a session was last live (ms), where a start's catch-up begins.
pub const LIVE_UNTIL_KEY: &str = "session_live_until_ms";
/// The store's note of when the login was last renewed (ms), for `doctor`.
pub const LOGIN_RENEWED_KEY: &str = "login_renewed_ms";

/// The time of an input: the monotonic clock for timers, the wall clock for message times.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: Instant,
    pub wall_ms: i64,
}

/// One connection attempt and, once registered, the connection it made.
pub type LinkId = u64;

/// What happens to the session.
#[derive(Debug)]
pub enum Input {
    /// The session starts: the stored outbox is read, then the first connection is made.
    Start,
    Command(ImCommand),
    /// Every command sender is gone: stop as on `Shutdown`.
    CommandsClosed,
    /// Nobody reads the events any more: stop.
    ConsumerGone,
    /// A time `next_wake` asked for has come (harmless at any other time).
    Tick,
    /// The attempt `link` got this far.
    Connecting {
        link: LinkId,
        step: ConnectStep,
    },
    /// The attempt `link` is registered, with this token.
    Connected {
        link: LinkId,
        token: ImToken,
    },
    ConnectFailed {
        link: LinkId,
        failure: ConnectFailure,
    },
    /// A push on connection `link` (already ACKed).
    Push {
        link: LinkId,
        frame: Frame,
    },
    /// The live connection's heartbeat went unanswered (`stalled`) or was answered again.
    Stalled {
        link: LinkId,
        stalled: bool,
    },
    /// Connection `link` ended.
    Closed {
        link: LinkId,
        reason: String,
    },
    Done(Done),
    Store(StoreDone),
}

#[derive(Debug)]
pub enum ConnectStep {
    /// Who we are and the device id to register with.
    Identity { uid: Uid, did: String },
    /// Socket open, `/reg` sent.
    Registering,
}

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectFailure {
    NeedsLogin(MtopError),
    RiskControl {
        url: String,
    },
    /// The service's connection limit (`/reg` answered so).
    SessionRemoved(String),
    /// Back off and try again, keeping `token` (None: get a fresh one).
    Retry {
        error: String,
        token: Option<ImToken>,
    },
}

/// Why an RPC job failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcFailure {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("unexpected answer: {0}")]
    Parse(#[from] ParseError),
    #[error("the answer carries no conversation id")]
    NoConversation,
}

/// Why a picture could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: not a JPEG, PNG, GIF or WebP picture")]
    NotAPicture { path: String },
    #[error("{path}: larger than {limit_mb} MB; make it smaller first")]
    TooLarge { path: String, limit_mb: u64 },
    #[error("upload failed: {0}")]
    Upload(MtopError),
    #[error("not connected: a picture goes out only while connected")]
    Offline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListPurpose {
    /// Asked for by the user.
    User,
    /// After a reconnect: what moved during the gap is fetched.
    Backfill,
}

/// Network work for the driver. Jobs that need the connection name it; when it is gone
/// the driver answers as a closed connection would.
#[derive(Debug)]
pub enum Job {
    /// §9.1 steps 1–9: uid, did, token, socket, `/reg`, getState → ackDiff, heartbeat.
    Connect {
        link: LinkId,
        uid: Option<Uid>,
        did: Option<String>,
        token: Option<ImToken>,
    },
    /// Every conversation page, not before `not_before` (§9.5: pause after `/reg`).
    List {
        link: LinkId,
        purpose: ListPurpose,
        not_before: Instant,
    },
    History {
        link: LinkId,
        cid: Cid,
        requested: Option<i64>,
    },
    /// Each target's newest pages down to its mark, one `BackfillStep` each, then
    /// `BackfillDone`.
    Backfill {
        link: LinkId,
        run: u64,
        targets: Vec<(Cid, i64)>,
        list: Vec<Conversation>,
        not_before: Instant,
    },
    /// Sends one outbox entry (finding its peer first when not known).
    Send {
        link: LinkId,
        item: Outgoing,
        peer: Option<Uid>,
    },
    /// The newest history of `cid`, to look for a send that may have arrived.
    Check {
        link: LinkId,
        client_id: ClientId,
        cid: Cid,
    },
    MarkRead {
        link: LinkId,
        cid: Cid,
        ids: Vec<MessageId>,
    },
    /// getState → ackDiff (GO's rule for `syncExtraType` 1 and 2, §4.5).
    SyncState {
        link: LinkId,
    },
    Open {
        link: LinkId,
        peer: Uid,
        item_id: Option<String>,
    },
    /// `/r/MessageManager/recallMessage` (§6.11).
    Recall {
        link: LinkId,
        cid: Cid,
        id: MessageId,
    },
    /// Reads and uploads a picture file.
    Upload {
        cid: Cid,
        client_id: ClientId,
        path: PathBuf,
    },
    Profile {
        cid: Cid,
        uid: Uid,
    },
    OwnProfile,
    Item {
        item_id: String,
    },
    /// Takes a login saved meanwhile (by `goofish-tui login`) if it is of `uid`.
    AdoptSavedLogin {
        uid: Option<Uid>,
    },
    /// `loginuser.get`: keeps the login cookies warm (the answer's `Set-Cookie` is saved)
    /// and says whether the login still holds.
    CheckLogin,
    /// The renewal chain (§5.4): `hasLogin.do`, then `silentHasLogin.do` when `silent`,
    /// each checked with `loginuser.get`.
    RenewLogin {
        silent: bool,
    },
}

/// What a job produced.
#[derive(Debug)]
pub enum Done {
    Conversations {
        purpose: ListPurpose,
        result: Result<Vec<Conversation>, RpcFailure>,
    },
    History {
        cid: Cid,
        requested: Option<i64>,
        result: Result<HistoryPage, RpcFailure>,
    },
    BackfillStep {
        messages: Vec<Message>,
        done: usize,
        total: usize,
    },
    BackfillDone {
        run: u64,
        list: Vec<Conversation>,
        /// Could not be fetched: tried again later.
        failed: Vec<Cid>,
        /// Stopped at the page limit.
        cut: Vec<Cid>,
    },
    Sent {
        client_id: ClientId,
        result: Result<SendAck, SendError>,
        /// The peer, when the job had to find it.
        peer: Option<Uid>,
    },
    Checked {
        client_id: ClientId,
        result: Result<Vec<Message>, RpcFailure>,
    },
    Uploaded {
        cid: Cid,
        client_id: ClientId,
        result: Result<String, MediaError>,
    },
    OwnNick(String),
    Profile {
        asked: Uid,
        result: Result<Profile, MtopError>,
    },
    Item {
        item_id: String,
        result: Result<ItemInfo, MtopError>,
    },
    Opened {
        peer: Uid,
        item_id: Option<String>,
        result: Result<Cid, RpcFailure>,
    },
    Recalled {
        cid: Cid,
        id: MessageId,
        result: Result<(), RpcFailure>,
    },
    SavedLogin {
        adopted: bool,
    },
    LoginChecked {
        result: Result<(), MtopError>,
    },
    LoginRenewed {
        /// The step that renewed it, or why none did.
        result: Result<RenewStep, String>,
        silent_tried: bool,
    },
}

/// Work on the local history.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// What a start needs: answered with `StoreDone::Startup`.
    LoadStartup,
    /// Queued and committed with other writes; only a failure is answered.
    Write(WriteOp),
    /// Waits until every write before it is committed: what follows happens only once they
    /// are in the file (a send is reported done once its message is stored, so that a
    /// `search` run right after a `send` finds it).
    Committed,
}

/// A store operation as its failure names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOpKind {
    Startup,
    Messages,
    Conversations,
    OutboxAdd(ClientId),
    Outbox,
    Meta,
}

impl StoreOpKind {
    pub fn of(op: &WriteOp) -> StoreOpKind {
        match op {
            WriteOp::Messages(_) => StoreOpKind::Messages,
            WriteOp::Conversations(_) | WriteOp::NewConversations(_) => StoreOpKind::Conversations,
            WriteOp::OutboxAdd { client_id, .. } => StoreOpKind::OutboxAdd(client_id.clone()),
            WriteOp::OutboxState { .. } | WriteOp::OutboxRemove(_) => StoreOpKind::Outbox,
            WriteOp::Meta { .. } => StoreOpKind::Meta,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            StoreOpKind::Messages => "messages",
            StoreOpKind::Conversations => "conversations",
            StoreOpKind::Meta => "meta",
            StoreOpKind::Startup | StoreOpKind::OutboxAdd(_) | StoreOpKind::Outbox => "outbox",
        }
    }
}

/// What the store holds when the session starts.
#[derive(Debug, Default)]
pub struct Startup {
    /// Texts left unsent.
    pub outbox: Vec<OutboxItem>,
    /// Per stored conversation, the time of its newest stored message and the ids at it.
    pub newest: Vec<(Cid, i64, Vec<MessageId>)>,
    /// When a session of this store was last live, if one ever was.
    pub live_until_ms: Option<i64>,
}

/// What the store answered. Writes that succeed are not reported.
#[derive(Debug)]
pub enum StoreDone {
    Startup(Startup),
    Failed { op: StoreOpKind, error: StoreError },
}

/// What the driver is to do, in this order.
#[derive(Debug)]
pub enum Output {
    Emit(ImEvent),
    Run(Job),
    Store(StoreOp),
    /// Close connection `link` (or stop its attempt) and forget it.
    Close(LinkId),
}

#[derive(Debug)]
enum Link {
    /// Before the stored outbox is read.
    Starting,
    /// Waiting to try again.
    Waiting {
        at: Instant,
    },
    Connecting {
        link: LinkId,
    },
    /// The login expired while connecting; a renewal is out, then it connects again.
    Renewing,
    Live {
        link: LinkId,
        since: Instant,
        rotate_at: Option<Instant>,
    },
    /// Not retrying on its own (login needed, risk control, session removed) until
    /// `retry_at` or a `ListConversations` command. While a login is needed, the saved
    /// cookie jar is looked at every `LOGIN_RECHECK` (at `recheck_at`) for a new login.
    Parked {
        retry_at: Option<Instant>,
        recheck_at: Option<Instant>,
        /// An `AdoptSavedLogin` job is out.
        rechecking: bool,
    },
    Stopped,
}

/// Commands that wait for a connection.
#[derive(Debug, Default)]
struct Deferred {
    list: bool,
    history: Vec<(Cid, Option<i64>)>,
    reads: Vec<(Cid, Vec<MessageId>)>,
    opens: Vec<(Uid, Option<String>)>,
}

/// The session's state and decisions. See the module docs.
pub struct SessionCore {
    cfg: SessionConfig,
    rng: rand::rngs::SmallRng,
    out: Vec<Output>,
    uid: Option<Uid>,
    did: Option<String>,
    token: Option<ImToken>,
    link: Link,
    last_link: LinkId,
    backoff: Backoff,
    failures: u32,
    ever_live: bool,
    /// Messages may be missing since this drop; cleared once a backfill covered it.
    gap: Option<Gap>,
    /// The backfill run whose end counts (earlier runs died with their connection).
    backfill_run: u64,
    /// A backfill that failed is tried again at this time while live.
    backfill_retry_at: Option<Instant>,
    conversations: HashMap<Cid, Conversation>,
    latest_known: HashMap<Cid, i64>,
    seen: SeenIds,
    resolved: ResolvedUuids,
    outbox: Outbox,
    deferred: Deferred,
    profiles: HashMap<Uid, Profile>,
    items: HashMap<String, ItemInfo>,
    undecodable: u64,
    undecodable_reported: Option<Instant>,
    kickouts: u32,
    /// A store failure was already reported as an `ImEvent::Error`.
    store_reported: bool,
    login: LoginKeeper,
    /// Risk-control answers in a row (without a connection between).
    risk_checks: u32,
}

impl SessionCore {
    /// `seed` feeds the backoff jitter (tests pass a fixed one).
    pub fn new(cfg: SessionConfig, seed: u64) -> SessionCore {
        let backoff = Backoff {
            min: cfg.backoff_min,
            max: cfg.backoff_max.max(cfg.backoff_min),
        };
        let seen = SeenIds::new(cfg.dedupe_capacity);
        let login = LoginKeeper::new(cfg.login);
        SessionCore {
            cfg,
            rng: rand::rngs::SmallRng::seed_from_u64(seed),
            out: Vec::new(),
            uid: None,
            did: None,
            token: None,
            link: Link::Starting,
            last_link: 0,
            backoff,
            failures: 0,
            ever_live: false,
            gap: None,
            backfill_run: 0,
            backfill_retry_at: None,
            conversations: HashMap::new(),
            latest_known: HashMap::new(),
            seen,
            resolved: ResolvedUuids::default(),
            outbox: Outbox::default(),
            deferred: Deferred::default(),
            profiles: HashMap::new(),
            items: HashMap::new(),
            undecodable: 0,
            undecodable_reported: None,
            kickouts: 0,
            store_reported: false,
            login,
            risk_checks: 0,
        }
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, now: Now, input: Input) -> Vec<Output> {
        if !self.is_stopped() {
            match input {
                Input::Start => {
                    if matches!(self.link, Link::Starting) {
                        let jitter = self.rng.random_range(0.0..=1.0);
                        self.login.start(now.at, jitter);
                    }
                    self.start()
                }
                Input::Command(cmd) => self.on_command(now, cmd),
                Input::CommandsClosed | Input::ConsumerGone => self.stop(now),
                Input::Tick => self.on_tick(now),
                Input::Connecting { link, step } => self.on_connecting(link, step),
                Input::Connected { link, token } => self.on_connected(now, link, token),
                Input::ConnectFailed { link, failure } => {
                    self.on_connect_failed(now, link, failure)
                }
                Input::Push { link, frame } if self.live_link() == Some(link) => {
                    self.on_push(now, frame)
                }
                Input::Closed { link, reason } if self.live_link() == Some(link) => {
                    self.on_disconnect(now, reason, false)
                }
                Input::Stalled { link, stalled } if self.live_link() == Some(link) => {
                    self.set_state(if stalled {
                        ConnState::Stalled
                    } else {
                        ConnState::Live
                    });
                }
                // From a connection that is no longer the live one.
                Input::Push { .. } | Input::Closed { .. } | Input::Stalled { .. } => {}
                Input::Done(done) => self.on_done(now, done),
                Input::Store(done) => self.on_store(done),
            }
        }
        std::mem::take(&mut self.out)
    }

    /// When the next `Tick` is wanted (None: only inputs wake it).
    pub fn next_wake(&self) -> Option<Instant> {
        let link = match &self.link {
            Link::Waiting { at } => Some(*at),
            Link::Parked {
                retry_at,
                recheck_at,
                rechecking,
            } => [*retry_at, recheck_at.filter(|_| !rechecking)]
                .into_iter()
                .flatten()
                .min(),
            Link::Live { rotate_at, .. } => [*rotate_at, self.backfill_retry_at]
                .into_iter()
                .flatten()
                .min(),
            Link::Starting | Link::Connecting { .. } | Link::Renewing | Link::Stopped => None,
        };
        let outbox = self.outbox.next_due(self.is_live());
        let login = self.keeps_login().then(|| self.login.next_wake()).flatten();
        [link, outbox, login].into_iter().flatten().min()
    }

    /// Whether the login is kept alive now: while the session runs, not while it waits for
    /// the user (a login, a slider check, a removed session).
    fn keeps_login(&self) -> bool {
        !matches!(
            self.link,
            Link::Starting | Link::Parked { .. } | Link::Stopped
        )
    }

    pub fn is_stopped(&self) -> bool {
        matches!(self.link, Link::Stopped)
    }

    /// The state as the user sees it, for status reports.
    pub fn is_live(&self) -> bool {
        matches!(self.link, Link::Live { .. })
    }

    fn live_link(&self) -> Option<LinkId> {
        match self.link {
            Link::Live { link, .. } => Some(link),
            _ => None,
        }
    }

    fn live_since(&self) -> Option<(LinkId, Instant)> {
        match self.link {
            Link::Live { link, since, .. } => Some((link, since)),
            _ => None,
        }
    }

    fn emit(&mut self, ev: ImEvent) {
        self.out.push(Output::Emit(ev));
    }

    fn run(&mut self, job: Job) {
        self.out.push(Output::Run(job));
    }

    fn write(&mut self, op: WriteOp) {
        if self.cfg.store.is_some() {
            self.out.push(Output::Store(StoreOp::Write(op)));
        }
    }

    fn set_state(&mut self, state: ConnState) {
        self.emit(ImEvent::Connection(state));
    }

    // ---- connection lifecycle ----

    fn start(&mut self) {
        if !matches!(self.link, Link::Starting) {
            return;
        }
        if self.cfg.store.is_some() {
            self.out.push(Output::Store(StoreOp::LoadStartup));
        } else {
            self.start_connect();
        }
    }

    fn start_connect(&mut self) {
        self.set_state(ConnState::Connecting);
        self.connect_again();
    }

    /// A connection attempt, the state already shown as connecting.
    fn connect_again(&mut self) {
        self.last_link += 1;
        let link = self.last_link;
        let job = Job::Connect {
            link,
            uid: self.uid.clone(),
            did: self.did.clone(),
            token: self.token.take(),
        };
        self.run(job);
        self.link = Link::Connecting { link };
    }

    /// Leaves the current link (closing its connection or stopping its attempt); returns
    /// when the live connection began, if it was live.
    fn drop_link(&mut self) -> Option<Instant> {
        match std::mem::replace(&mut self.link, Link::Stopped) {
            Link::Live { link, since, .. } => {
                self.out.push(Output::Close(link));
                Some(since)
            }
            Link::Connecting { link } => {
                self.out.push(Output::Close(link));
                None
            }
            _ => None,
        }
    }

    /// The live connection is gone: from here on messages may be missed until a backfill.
    /// A gap not yet covered keeps its older marks.
    fn open_gap(&mut self, now: Now) {
        self.backfill_retry_at = None;
        if self.gap.is_none() {
            self.gap = Some(Gap::open(
                now.wall_ms,
                &self.latest_known,
                &self.conversations,
            ));
        }
    }

    fn schedule_reconnect(&mut self, now: Now, last_error: String) {
        self.failures = self.failures.saturating_add(1);
        let jitter = self.rng.random_range(0.0..=1.0);
        let delay = self.backoff.delay(self.failures, jitter);
        tracing::info!(attempt = self.failures, in_ms = delay.as_millis() as u64, %last_error, "reconnecting");
        self.link = Link::Waiting { at: now.at + delay };
        self.set_state(ConnState::Reconnecting {
            in_ms: delay.as_millis() as u64,
            attempt: self.failures,
            last_error,
        });
    }

    /// The live connection ended (closed, kicked out …).
    fn on_disconnect(&mut self, now: Now, reason: String, discard_token: bool) {
        if let Some(since) = self.drop_link() {
            self.open_gap(now);
            if now.at.saturating_duration_since(since) >= self.cfg.healthy_after {
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
        self.schedule_reconnect(now, reason);
    }

    fn park(&mut self, now: Now, state: ConnState, retry: bool) {
        self.drop_link();
        self.login.pause();
        let retry_at = if retry {
            self.cfg.parked_retry.map(|d| now.at + d)
        } else {
            None
        };
        let recheck_at =
            matches!(state, ConnState::NeedsLogin { .. }).then(|| now.at + LOGIN_RECHECK);
        self.link = Link::Parked {
            retry_at,
            recheck_at,
            rechecking: false,
        };
        // Requests that wait for a connection would wait indefinitely: answer them now.
        for (cid, requested) in std::mem::take(&mut self.deferred.history) {
            self.emit(ImEvent::HistoryFailed {
                cid,
                requested,
                reason: "not connected".into(),
            });
        }
        for (peer, _) in std::mem::take(&mut self.deferred.opens) {
            self.emit(ImEvent::Error(format!(
                "{OPEN_CONVERSATION_FAILED} with {peer}: not connected"
            )));
        }
        self.set_state(state);
    }

    fn on_connecting(&mut self, link: LinkId, step: ConnectStep) {
        if !matches!(self.link, Link::Connecting { link: l } if l == link) {
            return;
        }
        match step {
            ConnectStep::Registering => self.set_state(ConnState::Registering),
            ConnectStep::Identity { uid, did } => {
                let first = self.uid.as_ref() != Some(&uid);
                self.uid = Some(uid.clone());
                self.did = Some(did);
                if first {
                    self.emit(ImEvent::SelfInfo { uid, nick: None });
                    self.run(Job::OwnProfile);
                }
            }
        }
    }

    fn on_connected(&mut self, now: Now, link: LinkId, token: ImToken) {
        if !matches!(self.link, Link::Connecting { link: l } if l == link) {
            // A stale attempt (stopped or superseded).
            self.out.push(Output::Close(link));
            return;
        }
        let rotate_at = token
            .expires_at_ms
            .and_then(|exp| rotation_delay(exp - now.wall_ms, self.cfg.token_margin))
            .map(|d| now.at + d);
        self.token = Some(token);
        self.link = Link::Live {
            link,
            since: now.at,
            rotate_at,
        };
        self.login.login_works();
        self.risk_checks = 0;
        if self.login.is_paused() {
            let jitter = self.rng.random_range(0.0..=1.0);
            self.login.start(now.at, jitter);
        }
        // After a drop, or at start with a gap since the last run: catch up first.
        let is_reconnect = self.ever_live || self.gap.is_some();
        self.ever_live = true;
        self.write(WriteOp::Meta {
            key: LIVE_UNTIL_KEY,
            value: now.wall_ms.to_string(),
        });
        self.set_state(ConnState::Live);

        self.flush_outbox(now);
        let not_before = now.at + self.cfg.settle_delay;
        if is_reconnect {
            self.deferred.list = false;
            self.run(Job::List {
                link,
                purpose: ListPurpose::Backfill,
                not_before,
            });
        } else if std::mem::take(&mut self.deferred.list) {
            self.run(Job::List {
                link,
                purpose: ListPurpose::User,
                not_before,
            });
        }
        for (cid, requested) in std::mem::take(&mut self.deferred.history) {
            self.run(Job::History {
                link,
                cid,
                requested,
            });
        }
        for (cid, ids) in std::mem::take(&mut self.deferred.reads) {
            self.run(Job::MarkRead { link, cid, ids });
        }
        for (peer, item_id) in std::mem::take(&mut self.deferred.opens) {
            self.run(Job::Open {
                link,
                peer,
                item_id,
            });
        }
    }

    fn on_connect_failed(&mut self, now: Now, link: LinkId, failure: ConnectFailure) {
        if !matches!(self.link, Link::Connecting { link: l } if l == link) {
            return;
        }
        match failure {
            ConnectFailure::NeedsLogin(MtopError::SessionExpired)
                if self.renew_expired_login(now) =>
            {
                self.link = Link::Renewing;
            }
            ConnectFailure::NeedsLogin(e) => {
                let reason = e.to_string();
                self.park(now, ConnState::NeedsLogin { reason }, true)
            }
            ConnectFailure::RiskControl { url } => {
                // Checked again by itself, ever less often: retrying soon makes it worse.
                self.risk_checks = self.risk_checks.saturating_add(1);
                let wait = self.risk_recheck_delay();
                tracing::warn!(in_s = wait.as_secs(), "risk control; checking again later");
                self.park(now, ConnState::RiskControl { url }, false);
                if let Link::Parked { retry_at, .. } = &mut self.link {
                    *retry_at = Some(now.at + wait);
                }
            }
            ConnectFailure::SessionRemoved(reason) => self.session_removed(now, reason),
            ConnectFailure::Retry { error, token } => {
                self.token = token;
                self.link = Link::Stopped;
                self.schedule_reconnect(now, error);
            }
        }
    }

    /// How long after the `risk_checks`-th risk-control answer to look again: from
    /// `risk_recheck` (at least 2 minutes), doubling, up to 30 minutes.
    fn risk_recheck_delay(&self) -> Duration {
        let min = self.cfg.risk_recheck.max(RISK_RECHECK_FLOOR);
        let max = self.cfg.parked_retry.unwrap_or(RISK_RECHECK_CAP).max(min);
        Backoff { min, max }.ceiling(self.risk_checks)
    }

    fn session_removed(&mut self, now: Now, reason: String) {
        tracing::warn!(%reason, "IM session removed by the service");
        self.park(now, ConnState::SessionRemoved { reason }, false);
    }

    fn on_tick(&mut self, now: Now) {
        // As the link was before this tick: a reconnect from a park starts no keep-alive.
        let keeps_login = self.keeps_login();
        enum Due {
            Connect,
            Recheck,
            Backfill(LinkId),
            Rotate,
            Nothing,
        }
        let due = match &self.link {
            Link::Waiting { at } if *at <= now.at => Due::Connect,
            Link::Parked {
                retry_at: Some(at), ..
            } if *at <= now.at => Due::Connect,
            Link::Parked {
                recheck_at: Some(at),
                rechecking: false,
                ..
            } if *at <= now.at => Due::Recheck,
            Link::Live { link, .. } if self.backfill_retry_at.is_some_and(|at| at <= now.at) => {
                Due::Backfill(*link)
            }
            Link::Live {
                rotate_at: Some(at),
                ..
            } if *at <= now.at => Due::Rotate,
            _ => Due::Nothing,
        };
        match due {
            Due::Connect => self.start_connect(),
            Due::Recheck => {
                if let Link::Parked { rechecking, .. } = &mut self.link {
                    *rechecking = true;
                }
                let uid = self.uid.clone();
                self.run(Job::AdoptSavedLogin { uid });
            }
            Due::Backfill(link) => {
                self.backfill_retry_at = None;
                tracing::info!("trying the backfill again");
                self.run(Job::List {
                    link,
                    purpose: ListPurpose::Backfill,
                    not_before: now.at,
                });
            }
            Due::Rotate => {
                tracing::info!("IM token close to expiry; reconnecting with a fresh one");
                self.drop_link();
                self.token = None;
                self.outbox.requeue_in_flight();
                self.open_gap(now);
                self.start_connect();
            }
            Due::Nothing => {}
        }
        if keeps_login && self.keeps_login() {
            match self.login.due(now.at) {
                Some(LoginDue::Check) => self.run(Job::CheckLogin),
                Some(LoginDue::Renew { silent }) => {
                    tracing::info!(silent, "renewing the login ahead of time");
                    self.run(Job::RenewLogin { silent });
                }
                None => {}
            }
        }
        for item in self.outbox.expire_awaiting(now.at) {
            let time = match item.state {
                OutState::AwaitingEcho { time, .. } => time,
                _ => None,
            };
            // Accepted by the server but the id is unknown: the uuid stands in for it. Not
            // stored under that stand-in: history brings it back with its real id.
            let id = MessageId::new(item.client_id.as_str());
            self.resolved.remember(item.client_id.as_str());
            self.write(WriteOp::OutboxRemove(item.client_id.clone()));
            let msg = self.own_message(now, &item, id, time);
            self.finish(item, Ok(msg));
        }
        if self.is_live() {
            self.flush_outbox(now);
        }
    }

    fn on_saved_login(&mut self, adopted: bool, now: Now) {
        let Link::Parked {
            retry_at,
            rechecking: true,
            ..
        } = self.link
        else {
            return;
        };
        if adopted {
            tracing::info!("a new login was saved; connecting with it");
            self.login.login_works();
            self.start_connect();
        } else {
            self.link = Link::Parked {
                retry_at,
                recheck_at: Some(now.at + LOGIN_RECHECK),
                rechecking: false,
            };
        }
    }

    /// The service said `SESSION_EXPIRED`: renew before asking the user. Whether a renewal
    /// is under way for it (false: one after an expiry already failed; ask the user).
    fn renew_expired_login(&mut self, now: Now) -> bool {
        if self.login.has_given_up() {
            return false;
        }
        if let Some(silent) = self.login.expired(now.at) {
            tracing::info!(silent, "the login expired; renewing it");
            self.run(Job::RenewLogin { silent });
        }
        true
    }

    fn on_login_checked(&mut self, now: Now, result: Result<(), MtopError>) {
        let jitter = self.rng.random_range(0.0..=1.0);
        self.login.checked(now.at, jitter);
        match result {
            Ok(()) => tracing::debug!("login keep-alive: the login holds"),
            Err(MtopError::SessionExpired) => {
                tracing::warn!("login keep-alive: the login expired");
                if self.keeps_login() && !self.renew_expired_login(now) {
                    self.login_lost(now, "the login expired".into());
                }
            }
            // The network or the gateway, not the login: the next keep-alive tries again.
            Err(e) => tracing::warn!(error = %e, "login keep-alive failed"),
        }
    }

    fn on_login_renewed(
        &mut self,
        now: Now,
        result: Result<RenewStep, String>,
        silent_tried: bool,
    ) {
        let ok = result.is_ok();
        let answered_expiry = self.login.renewed(now.at, ok, silent_tried);
        match result {
            Ok(step) => {
                tracing::info!(via = step.name(), "login renewed");
                self.write(WriteOp::Meta {
                    key: LOGIN_RENEWED_KEY,
                    value: now.wall_ms.to_string(),
                });
                if matches!(self.link, Link::Renewing) {
                    self.connect_again();
                }
            }
            Err(why) => {
                tracing::warn!(%why, expired = answered_expiry, "login renewal failed");
                let running = !matches!(self.link, Link::Parked { .. } | Link::Stopped);
                if answered_expiry && running {
                    self.login_lost(
                        now,
                        format!("the login expired and could not be renewed ({why})"),
                    );
                }
            }
        }
    }

    /// The login is gone for good: ask the user for a new one.
    fn login_lost(&mut self, now: Now, reason: String) {
        if self.is_live() {
            self.open_gap(now);
        }
        self.outbox.requeue_in_flight();
        self.park(now, ConnState::NeedsLogin { reason }, true);
    }

    fn stop(&mut self, now: Now) {
        if self.is_live() {
            // The next start catches up from here.
            self.write(WriteOp::Meta {
                key: LIVE_UNTIL_KEY,
                value: now.wall_ms.to_string(),
            });
        }
        self.drop_link();
        for item in self.outbox.drain() {
            let failure = SendFailure {
                reason: "the IM session stopped before the message was sent".into(),
                retryable: true,
            };
            self.finish(item, Err(failure));
        }
        self.emit(ImEvent::Connection(ConnState::Stopped));
        self.link = Link::Stopped;
    }

    // ---- commands ----

    fn on_command(&mut self, now: Now, cmd: ImCommand) {
        let live = self.live_link();
        match cmd {
            ImCommand::ListConversations => match self.live_since() {
                Some((link, since)) => self.run(Job::List {
                    link,
                    purpose: ListPurpose::User,
                    not_before: since + self.cfg.settle_delay,
                }),
                None => {
                    self.deferred.list = true;
                    if matches!(self.link, Link::Parked { .. }) {
                        // The explicit retry after a login or a slider check.
                        self.start_connect();
                    }
                }
            },
            ImCommand::LoadHistory { cid, cursor } => match live {
                Some(link) => self.run(Job::History {
                    link,
                    cid,
                    requested: cursor,
                }),
                None if matches!(self.link, Link::Parked { .. }) => {
                    self.emit(ImEvent::HistoryFailed {
                        cid,
                        requested: cursor,
                        reason: "not connected".into(),
                    })
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
                if !self
                    .outbox
                    .push(cid.clone(), client_id.clone(), content.clone())
                {
                    return self.duplicate_send(cid, client_id, &content);
                }
                // On disk before it reaches the network: a crash now resends it at start-up.
                self.write(WriteOp::OutboxAdd {
                    cid,
                    client_id: client_id.clone(),
                    text,
                    at_ms: now.wall_ms,
                });
                self.flush_or_queue(now, client_id);
            }
            ImCommand::SendImage {
                cid,
                client_id,
                path,
            } => {
                if !self.is_live() {
                    let result = Err(MediaError::Offline);
                    return self.on_uploaded(now, cid, client_id, result);
                }
                self.emit(ImEvent::SendProgress {
                    client_id: client_id.clone(),
                    stage: SendStage::Sending,
                });
                self.run(Job::Upload {
                    cid,
                    client_id,
                    path,
                });
            }
            ImCommand::MarkRead { cid, ids } => match live {
                Some(link) => self.run(Job::MarkRead { link, cid, ids }),
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
            ImCommand::FetchProfile { cid, uid } => match self.profiles.get(&uid).cloned() {
                Some(p) => self.emit(ImEvent::Profile(p)),
                None => self.run(Job::Profile { cid, uid }),
            },
            ImCommand::FetchItem { item_id } => match self.items.get(&item_id).cloned() {
                Some(i) => self.emit(ImEvent::Item(i)),
                None => self.run(Job::Item { item_id }),
            },
            ImCommand::OpenConversation { peer, item_id } => match live {
                Some(link) => self.run(Job::Open {
                    link,
                    peer,
                    item_id,
                }),
                None if matches!(self.link, Link::Parked { .. }) => self.emit(ImEvent::Error(
                    format!("{OPEN_CONVERSATION_FAILED} with {peer}: not connected"),
                )),
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
            // Never kept for later: the service allows it only shortly after sending.
            ImCommand::Recall { cid, id } => match live {
                Some(link) => self.run(Job::Recall { link, cid, id }),
                None => self.emit(ImEvent::RecallResult {
                    cid,
                    id,
                    result: Err("not connected".into()),
                }),
            },
            ImCommand::ReconnectNow => match self.link {
                Link::Waiting { .. } | Link::Parked { .. } => {
                    tracing::info!("reconnecting now, as asked");
                    self.start_connect();
                }
                _ => {}
            },
            ImCommand::Shutdown => self.stop(now),
        }
    }

    // ---- the connection's pushes ----

    fn on_push(&mut self, now: Now, frame: Frame) {
        let push_path = frame.lwp.clone().unwrap_or_default();
        match push_path.as_str() {
            // /s/para carries typing status per PY-C [U]; decoding it like /s/sync is
            // harmless when it holds something else.
            path::PUSH_SYNC | path::PUSH_SYNC_FAILOVER | path::PUSH_PARA => {
                let Some(uid) = self.uid.clone() else { return };
                let decoded = match (&frame.sync, &frame.body) {
                    (Some(push), _) => decode_sync_push(push, &uid),
                    (None, Some(body)) => decode_sync_body(body, &uid),
                    (None, None) => decode_sync_body(&Value::Null, &uid),
                };
                if matches!(decoded.sync_extra_type, Some(1 | 2))
                    && let Some(link) = self.live_link()
                {
                    // GO's rule (§4.5); the ACK already went out.
                    self.run(Job::SyncState { link });
                }
                // The package's new messages go to the store as one write.
                let new: Vec<Message> = decoded
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        SyncEvent::Message(m) if !self.seen.contains(&m.id) => Some(m.clone()),
                        _ => None,
                    })
                    .collect();
                if !new.is_empty() {
                    self.write(WriteOp::Messages(new));
                }
                for event in decoded.events {
                    self.on_sync_event(now, event);
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
                    ));
                }
                self.on_disconnect(now, "kicked out by the service".into(), true);
            }
            path::PUSH_SESSION_REMOVE => {
                let reason = frame
                    .body
                    .as_ref()
                    .and_then(|b| b.get("reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("session removed by the service (connection limit)")
                    .to_string();
                self.session_removed(now, reason);
            }
            other => tracing::debug!(path = other, "unhandled push"),
        }
    }

    fn on_sync_event(&mut self, now: Now, event: SyncEvent) {
        match event {
            // Written with its package (`on_push`).
            SyncEvent::Message(m) => self.on_message(now, m, true),
            SyncEvent::Receipt { cid, ids, .. } => self.emit(ImEvent::Receipt { cid, ids }),
            SyncEvent::Typing { uid, cid } => self.emit(ImEvent::Typing { cid, uid }),
            SyncEvent::CardUpdate {
                cid,
                text,
                red_reminder,
                ..
            } => self.emit(ImEvent::CardUpdate {
                cid,
                text,
                red_reminder,
            }),
            SyncEvent::Recalled { cid, id } => self.emit(ImEvent::Recalled { cid, id }),
            SyncEvent::System { kind, .. } => tracing::debug!(%kind, "system item"),
            SyncEvent::Undecodable { reason, raw } => {
                self.undecodable += 1;
                tracing::debug!(%reason, raw_len = raw.len(), "undecodable push item");
                let due = self.undecodable_reported.is_none_or(|t| {
                    now.at.saturating_duration_since(t) >= UNDECODABLE_REPORT_EVERY
                });
                if due {
                    tracing::warn!(total = self.undecodable, %reason, "push items could not be decoded");
                    self.undecodable_reported = Some(now.at);
                    self.emit(ImEvent::Error(format!(
                        "{} incoming item(s) could not be decoded (last: {reason})",
                        self.undecodable
                    )));
                }
            }
        }
    }

    fn note_known(&mut self, cid: &Cid, time: i64) {
        let newest = self.latest_known.entry(cid.clone()).or_insert(time);
        *newest = (*newest).max(time);
    }

    /// A buyer's message in a conversation no list has given yet (a new buyer writing first):
    /// the conversation is stored as the message tells it, so that the local history names it
    /// (search, an offline start) before the next list refresh fills in the rest.
    fn learn_conversation(&mut self, m: &Message) {
        if m.is_self || self.conversations.contains_key(&m.cid) {
            return;
        }
        let conv = Conversation {
            cid: m.cid.clone(),
            peer: m.sender.clone(),
            peer_nick: m.sender_nick.as_deref().map(str::to_string),
            item_id: m.item_id.as_deref().map(str::to_string),
            modify_time: m.time,
            ..Default::default()
        };
        self.conversations.insert(m.cid.clone(), conv.clone());
        self.write(WriteOp::NewConversations(vec![conv]));
    }

    /// A message from a push or from backfill: deduped, stored (unless the caller did),
    /// and matched against the outbox.
    fn on_message(&mut self, now: Now, m: Message, stored: bool) {
        self.note_known(&m.cid, m.time);
        if !self.seen.insert(&m.id) {
            return;
        }
        if !stored {
            self.write(WriteOp::Messages(vec![m.clone()]));
        }
        self.learn_conversation(&m);
        if m.is_self {
            if let Some(item) = self.outbox.match_echo(&m) {
                self.write(WriteOp::OutboxRemove(item.client_id.clone()));
                self.finish(item, Ok(m));
                if self.is_live() {
                    self.flush_outbox(now);
                }
                return;
            }
            if m.client_id
                .as_deref()
                .is_some_and(|u| self.resolved.contains(u))
            {
                return;
            }
        }
        self.emit(ImEvent::Message(m));
    }

    // ---- results of jobs ----

    fn on_done(&mut self, now: Now, done: Done) {
        match done {
            Done::OwnNick(nick) => {
                if let Some(uid) = self.uid.clone() {
                    self.emit(ImEvent::SelfInfo {
                        uid,
                        nick: Some(nick),
                    });
                }
            }
            Done::Conversations { purpose, result } => self.on_conversations(now, purpose, result),
            Done::History {
                cid,
                requested,
                result,
            } => match result {
                Ok(page) => {
                    let messages = page.entries.iter().map(|e| e.message.clone()).collect();
                    self.write(WriteOp::Messages(messages));
                    for e in &page.entries {
                        self.seen.insert(&e.message.id);
                        self.note_known(&cid, e.message.time);
                    }
                    self.emit(ImEvent::History { page, requested });
                }
                Err(e) => self.emit(ImEvent::HistoryFailed {
                    cid,
                    requested,
                    reason: e.to_string(),
                }),
            },
            Done::BackfillStep {
                mut messages,
                done,
                total,
            } => {
                messages.sort_by_key(|m| m.time);
                // One transaction for the whole step.
                self.write(WriteOp::Messages(messages.clone()));
                for m in messages {
                    self.on_message(now, m, true);
                }
                self.emit(ImEvent::Backfill { done, total });
            }
            Done::BackfillDone {
                run,
                list,
                failed,
                cut,
            } => self.on_backfill_done(now, run, &list, &failed, &cut),
            Done::Uploaded {
                cid,
                client_id,
                result,
            } => self.on_uploaded(now, cid, client_id, result),
            Done::Sent {
                client_id,
                result,
                peer,
            } => self.on_sent(now, client_id, result, peer),
            Done::Checked { client_id, result } => self.on_checked(now, client_id, result),
            Done::Profile { asked, result } => match result {
                Ok(p) => {
                    self.profiles.insert(asked, p.clone());
                    self.profiles.insert(p.uid.clone(), p.clone());
                    self.emit(ImEvent::Profile(p));
                }
                Err(e) => tracing::info!(uid = %asked, error = %e, "profile lookup failed"),
            },
            Done::Item { item_id, result } => match result {
                Ok(i) => {
                    self.items.insert(item_id, i.clone());
                    self.emit(ImEvent::Item(i));
                }
                Err(e) => tracing::info!(%item_id, error = %e, "item lookup failed"),
            },
            Done::Opened {
                peer,
                item_id,
                result,
            } => self.on_opened(now, peer, item_id, result),
            Done::Recalled { cid, id, result } => {
                if let Err(e) = &result {
                    tracing::info!(%cid, %id, error = %e, "recall failed");
                }
                let result = result.map_err(|e| e.to_string());
                self.emit(ImEvent::RecallResult { cid, id, result });
            }
            Done::SavedLogin { adopted } => self.on_saved_login(adopted, now),
            Done::LoginChecked { result } => self.on_login_checked(now, result),
            Done::LoginRenewed {
                result,
                silent_tried,
            } => self.on_login_renewed(now, result, silent_tried),
        }
    }

    /// A created (or found) conversation joins the known list, which goes out again: the
    /// create answer carries no nick or title, those come with the next list refresh.
    fn on_opened(
        &mut self,
        now: Now,
        peer: Uid,
        item_id: Option<String>,
        result: Result<Cid, RpcFailure>,
    ) {
        let cid = match result {
            Ok(cid) => cid,
            Err(e) => {
                return self.emit(ImEvent::Error(format!(
                    "{OPEN_CONVERSATION_FAILED} with {peer}: {e}"
                )));
            }
        };
        self.conversations
            .entry(cid.clone())
            .or_insert_with(|| Conversation {
                cid,
                peer,
                item_id,
                modify_time: now.wall_ms,
                ..Default::default()
            });
        let mut list: Vec<Conversation> = self.conversations.values().cloned().collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.modify_time));
        self.emit(ImEvent::Conversations(list));
    }

    fn on_conversations(
        &mut self,
        now: Now,
        purpose: ListPurpose,
        result: Result<Vec<Conversation>, RpcFailure>,
    ) {
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                self.emit(ImEvent::Error(format!(
                    "could not load the conversation list: {e}"
                )));
                if purpose == ListPurpose::Backfill {
                    self.emit(ImEvent::Backfill { done: 0, total: 0 });
                    self.schedule_backfill_retry(now);
                }
                return;
            }
        };
        self.conversations = list.iter().map(|c| (c.cid.clone(), c.clone())).collect();
        self.write(WriteOp::Conversations(list.clone()));
        self.emit(ImEvent::Conversations(list.clone()));
        if purpose != ListPurpose::Backfill {
            return;
        }
        let targets = match &self.gap {
            Some(gap) => gap.targets(&list, CLOCK_SLACK_MS),
            None => Vec::new(),
        };
        let total = targets.len();
        self.emit(ImEvent::Backfill { done: 0, total });
        let Some((link, since)) = self.live_since() else {
            return;
        };
        self.backfill_run += 1;
        let run = self.backfill_run;
        self.run(Job::Backfill {
            link,
            run,
            targets,
            list,
            not_before: since + self.cfg.settle_delay,
        });
    }

    fn on_backfill_done(
        &mut self,
        now: Now,
        run: u64,
        list: &[Conversation],
        failed: &[Cid],
        cut: &[Cid],
    ) {
        if run != self.backfill_run {
            return;
        }
        if !cut.is_empty() {
            let pages = self.cfg.backfill_max_pages * self.cfg.history_page;
            self.emit(ImEvent::Error(format!(
                "more than {pages} messages arrived while offline in {} conversation(s); \
                 the older ones are in their history",
                cut.len()
            )));
        }
        self.gap = self
            .gap
            .as_ref()
            .and_then(|g| g.after_backfill(list, failed));
        if self.gap.is_some() {
            tracing::info!(
                failed = failed.len(),
                "backfill incomplete; trying again later"
            );
            self.schedule_backfill_retry(now);
        }
    }

    fn schedule_backfill_retry(&mut self, now: Now) {
        if self.gap.is_some() && self.is_live() {
            self.backfill_retry_at = Some(now.at + self.cfg.backfill_retry);
        }
    }

    // ---- local history ----

    fn on_store(&mut self, done: StoreDone) {
        match done {
            StoreDone::Startup(startup) => {
                self.restore_outbox(startup.outbox);
                self.catch_up_from(startup.newest, startup.live_until_ms);
                if matches!(self.link, Link::Starting) {
                    self.start_connect();
                }
            }
            StoreDone::Failed { op, error } => {
                tracing::warn!(%error, what = op.what(), "local history call failed");
                if !self.store_reported {
                    self.store_reported = true;
                    self.emit(ImEvent::Error(format!(
                        "local history unavailable, going on without it: {error}"
                    )));
                }
                match op {
                    StoreOpKind::OutboxAdd(client_id) => {
                        self.emit(ImEvent::SendNotSaved {
                            client_id,
                            reason: error.to_string(),
                        });
                    }
                    StoreOpKind::Startup if matches!(self.link, Link::Starting) => {
                        self.start_connect()
                    }
                    _ => {}
                }
            }
        }
    }

    /// What arrived while no session of this store ran is fetched after the first
    /// connection, down to what the store holds: the gap begins when the last one was live.
    /// The newest stored messages count as seen, so they are not shown again.
    fn catch_up_from(&mut self, newest: Vec<(Cid, i64, Vec<MessageId>)>, live_until: Option<i64>) {
        let Some(start_ms) = live_until.filter(|_| self.cfg.catch_up_at_start) else {
            return;
        };
        let mut known = HashMap::new();
        for (cid, time, ids) in newest {
            for id in &ids {
                self.seen.insert(id);
            }
            self.note_known(&cid, time);
            known.insert(cid, time);
        }
        self.gap = Some(Gap { start_ms, known });
    }

    /// Texts left unsent by an earlier run go out again, once, with their own client ids
    /// (the service answers a repeated id with the first message).
    fn restore_outbox(&mut self, pending: Vec<OutboxItem>) {
        for item in pending {
            tracing::info!(client_id = %item.client_id, "resending a text from the last run");
            let content = Content::Text {
                text: item.text.into(),
            };
            let id = item.client_id.clone();
            self.outbox.push(item.cid, item.client_id, content);
            // It was on the wire when the last run ended: it may be there already.
            if item.state == OutboxState::Sending {
                self.outbox.mark_maybe_delivered(&id);
            }
        }
    }

    // ---- sending ----

    fn flush_outbox(&mut self, now: Now) {
        let Some(link) = self.live_link() else {
            return;
        };
        if self.uid.is_none() {
            return;
        }
        for item in self.outbox.take_sendable(now.at) {
            self.write(WriteOp::OutboxState {
                client_id: item.client_id.clone(),
                state: OutboxState::Sending,
            });
            self.emit(ImEvent::SendProgress {
                client_id: item.client_id.clone(),
                stage: SendStage::Sending,
            });
            if item.maybe_delivered {
                self.run(Job::Check {
                    link,
                    client_id: item.client_id,
                    cid: item.cid,
                });
                continue;
            }
            let peer = self.conversations.get(&item.cid).map(|c| c.peer.clone());
            self.run(Job::Send { link, item, peer });
        }
    }

    fn on_sent(
        &mut self,
        now: Now,
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
            now.at,
            self.cfg.retry_limit,
            self.cfg.retry_step,
            self.cfg.echo_wait,
        );
        match step {
            SendStep::AwaitEcho => {}
            SendStep::Sent { item, ack, id } => {
                self.seen.insert(&id);
                let msg = self.own_message(now, &item, id, ack.time);
                self.write(WriteOp::Messages(vec![msg.clone()]));
                self.write(WriteOp::OutboxRemove(item.client_id.clone()));
                self.note_known(&msg.cid, msg.time);
                self.finish(item, Ok(msg));
            }
            SendStep::Failed { item, failure } => {
                // A retryable failure stays in the stored outbox and goes out again at the
                // next start; a refusal (content security, no such conversation) does not.
                if !failure.retryable {
                    self.write(WriteOp::OutboxRemove(item.client_id.clone()));
                }
                self.finish(item, Err(failure));
            }
            SendStep::Requeued => {
                if token_rejected && self.is_live() {
                    return self.on_disconnect(now, "IM token rejected".into(), true);
                }
                // Lost with an older connection; this one may be up.
                self.flush_or_queue(now, client_id);
            }
            SendStep::Retry { .. } | SendStep::Unknown => {}
        }
        // The next text of the conversation may go now.
        if self.is_live() {
            self.flush_outbox(now);
        }
    }

    /// The look before a resend: delivered already, or it goes out now.
    fn on_checked(
        &mut self,
        now: Now,
        client_id: ClientId,
        result: Result<Vec<Message>, RpcFailure>,
    ) {
        let page = match result {
            Ok(page) => page,
            Err(e) => {
                // Not knowing is not sending: retried like a failed send.
                tracing::info!(%client_id, error = %e, "could not look for a possibly delivered send");
                let failed = match e {
                    RpcFailure::Request(r) => r,
                    RpcFailure::Parse(_) | RpcFailure::NoConversation => RequestError::Timeout,
                };
                return self.on_sent(now, client_id, Err(SendError::Request(failed)), None);
            }
        };
        let found = self
            .outbox
            .get(&client_id)
            .and_then(|item| find_delivered(item, &page, &self.seen))
            .cloned();
        match found.and_then(|m| Some((self.outbox.take_delivered(&client_id)?, m))) {
            Some((item, m)) => {
                tracing::info!(%client_id, id = %m.id, "a send thought lost was delivered; not sent again");
                self.seen.insert(&m.id);
                self.write(WriteOp::Messages(vec![m.clone()]));
                self.write(WriteOp::OutboxRemove(item.client_id.clone()));
                self.note_known(&m.cid, m.time);
                self.finish(item, Ok(m));
            }
            None => self.outbox.not_delivered(&client_id),
        }
        if self.is_live() {
            self.flush_outbox(now);
        }
    }

    fn on_uploaded(
        &mut self,
        now: Now,
        cid: Cid,
        client_id: ClientId,
        result: Result<String, MediaError>,
    ) {
        match result {
            // The one `SendResult` of a picture that never reached the outbox.
            Err(e) => self.emit(ImEvent::SendResult {
                client_id,
                cid,
                result: Err(SendFailure {
                    reason: e.to_string(),
                    retryable: !matches!(
                        e,
                        MediaError::NotAPicture { .. } | MediaError::TooLarge { .. }
                    ),
                }),
            }),
            Ok(url) => {
                let content = Content::Image { urls: vec![url] };
                if self
                    .outbox
                    .push(cid.clone(), client_id.clone(), content.clone())
                {
                    // Connection lost during the upload: it goes out after the next
                    // registration, like a text (but not after a restart).
                    self.flush_or_queue(now, client_id);
                } else {
                    self.duplicate_send(cid, client_id, &content);
                }
            }
        }
    }

    /// Sends what the outbox holds when connected; otherwise says that `client_id` waits.
    fn flush_or_queue(&mut self, now: Now, client_id: ClientId) {
        if self.is_live() {
            self.flush_outbox(now);
        } else {
            self.emit(ImEvent::SendProgress {
                client_id,
                stage: SendStage::Queued,
            });
        }
    }

    /// The `SendResult` of an outbox entry: one for each time it was asked for.
    fn finish(&mut self, item: Outgoing, result: Result<Message, SendFailure>) {
        if result.is_ok() && self.cfg.store.is_some() {
            self.out.push(Output::Store(StoreOp::Committed));
        }
        for _ in 0..item.repeats {
            self.emit(ImEvent::SendResult {
                client_id: item.client_id.clone(),
                cid: item.cid.clone(),
                result: result.clone(),
            });
        }
        self.emit(ImEvent::SendResult {
            client_id: item.client_id,
            cid: item.cid,
            result,
        });
    }

    /// A send asked for with a client id already in the outbox: the same text again (a
    /// repeated command) is answered with that entry's result; other content under the same
    /// id is refused, never sent in its place.
    fn duplicate_send(&mut self, cid: Cid, client_id: ClientId, content: &Content) {
        if self.outbox.repeat(&cid, &client_id, content) {
            tracing::info!(%client_id, "a send asked for twice; one result for each");
            return;
        }
        tracing::warn!(%client_id, "another message under a client id that is being sent");
        self.emit(ImEvent::SendResult {
            client_id,
            cid,
            result: Err(SendFailure {
                reason: "another message with the same client id is being sent".into(),
                retryable: true,
            }),
        });
    }

    /// Our own message as the send answer describes it.
    fn own_message(&self, now: Now, item: &Outgoing, id: MessageId, time: Option<i64>) -> Message {
        let item_id = self
            .conversations
            .get(&item.cid)
            .and_then(|c| c.item_id.as_deref().map(Into::into));
        Message {
            id,
            cid: item.cid.clone(),
            sender: self.uid.clone().unwrap_or_default(),
            is_self: true,
            time: time.unwrap_or(now.wall_ms),
            content: item.content.clone(),
            item_id,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: Some(item.client_id.as_str().to_string()),
        }
    }
}
