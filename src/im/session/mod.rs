//! The IM session (§9): token → connect → `/reg` → sync → live, reconnecting forever with
//! backoff; backfill after reconnects; dedupe by PNM id; the outbox.
//!
//! The decisions are one pure state machine, [`SessionCore`] (`core.rs`), fed by a thin
//! async driver (`driver.rs`) that owns the sockets, the mtop client, the store handle and
//! the timers. The core's parts: the outbox (`outbox.rs`), what was seen (`dedupe.rs`), the
//! gap a lost connection leaves (`gap.rs`), backoff and token rotation (`lifecycle.rs`);
//! the network steps are in `jobs.rs`, pictures in `media.rs`.

mod core;
mod dedupe;
mod driver;
mod gap;
mod jobs;
mod lifecycle;
mod login;
mod media;
mod merged;
mod outbox;
// The scenarios feed the core pushes made with the simulator's encoders.
#[cfg(all(test, feature = "sim"))]
mod scenarios;

pub use self::core::{
    ConnectFailure, ConnectStep, Done, Input, Job, LOGIN_RENEWED_KEY, LinkId, ListPurpose,
    MediaError, Now, Output, RpcFailure, SessionCore, StoreDone, StoreOp, StoreOpKind,
};
pub use dedupe::{ResolvedUuids, SeenIds};
pub use driver::spawn;
pub use gap::Gap;
pub use lifecycle::Backoff;
pub use login::LoginTimes;
pub use media::MAX_IMAGE_BYTES;
pub use merged::{MergedEvents, merge as merge_events, tagged as tagged_events};
pub use outbox::{OutState, Outbox, Outgoing, SendError, SendStep, find_delivered};

use crate::im::api::{ImCommand, ImEvent};
use crate::im::conn::ConnConfig;
use crate::store::StoreHandle;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    /// A backfill that could not finish (list or history failed) is tried again this long
    /// later, for as long as the connection is live.
    pub backfill_retry: Duration,
    /// Retries of a send (and of bulk RPCs) on flow control or transient errors, spaced
    /// `retry_step`, 2×, 3× … apart (PY-B: 2/4/6 s).
    pub retry_limit: u32,
    pub retry_step: Duration,
    /// How long to wait for the echo of a send whose answer carried no message id.
    pub echo_wait: Duration,
    /// In `NeedsLogin` / `RiskControl`, try again on its own after this long (`None`: only
    /// on a `ListConversations` command). Retrying risk control too often makes it worse.
    pub parked_retry: Option<Duration>,
    /// After a risk-control answer, check again this long later (never under 2 minutes),
    /// doubling each time up to `parked_retry` (30 minutes without it).
    pub risk_recheck: Duration,
    /// Get a fresh token this long before the current one expires (GO: 10 min minimum).
    pub token_margin: Duration,
    /// Message ids remembered for dedupe.
    pub dedupe_capacity: usize,
    /// At the first connection, fetch what arrived since a session of the store was last
    /// live (the messenger and `watch`; a one-shot `send` does not need to).
    pub catch_up_at_start: bool,
    /// The login's keep-alive and renewal (§5.4).
    pub login: LoginTimes,
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
            backfill_max_pages: 25,
            backfill_retry: Duration::from_secs(30),
            retry_limit: 3,
            retry_step: Duration::from_secs(2),
            echo_wait: Duration::from_secs(10),
            parked_retry: Some(Duration::from_secs(30 * 60)),
            risk_recheck: Duration::from_secs(120),
            token_margin: Duration::from_secs(10 * 60),
            dedupe_capacity: 100_000,
            catch_up_at_start: true,
            login: LoginTimes {
                keepalive: Some(crate::config::defaults::LOGIN_KEEPALIVE),
                renew_every: Some(crate::config::defaults::LOGIN_RENEW),
                silent_window: crate::config::defaults::SILENT_RENEW_WINDOW,
                silent_spent: false,
            },
            store: None,
        }
    }
}

/// The running session: send it commands, read its events. Dropping `commands` (every
/// clone) shuts it down like `ImCommand::Shutdown`.
pub struct SessionHandle {
    pub commands: mpsc::Sender<ImCommand>,
    pub events: mpsc::Receiver<ImEvent>,
    pub task: JoinHandle<()>,
}

impl SessionHandle {
    /// Takes the event channel out, for a reader that merges several sessions
    /// ([`merge_events`]); the handle keeps a closed one.
    pub fn take_events(&mut self) -> mpsc::Receiver<ImEvent> {
        std::mem::replace(&mut self.events, mpsc::channel(1).1)
    }

    /// Asks for the conversation list, as a view does first.
    pub async fn ask_for_list(&self) -> Result<(), SessionStopped> {
        self.commands
            .send(ImCommand::ListConversations)
            .await
            .map_err(|_| SessionStopped)
    }
}

/// The session took no more commands: it had stopped.
#[derive(Debug, thiserror::Error)]
#[error("the session stopped at start")]
pub struct SessionStopped;
