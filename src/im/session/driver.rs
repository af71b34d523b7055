//! The async side of the session: it owns the connections, the mtop client and the store
//! handle, feeds the core what happens (commands, pushes, job results, store answers,
//! timer ticks) and performs what the core asks, in order. It decides nothing.
//!
//! Emits are awaited one after the other, so events keep their order; store writes are
//! handed to the store's owner before the event that shows them (it commits them in groups:
//! see the durability contract in `store::handle`); network jobs run as tasks and report
//! back, so the session keeps reading pushes and commands while a request is in flight.

use super::core::{
    ConnectStep, Done, Input, Job, LIVE_UNTIL_KEY, LinkId, Now, Output, RpcFailure, SessionCore,
    Startup, StoreDone, StoreOp, StoreOpKind,
};
use super::jobs::{self, ConnectPlan, Established, Reach};
use super::media;
use super::outbox::SendError;
use super::{SessionConfig, SessionHandle};
use crate::im::api::{ImCommand, ImEvent};
use crate::im::conn::{Conn, ConnEvent, ConnEvents, RequestError};
use crate::im::mtop::MtopClient;
use crate::protocol::Uid;
use crate::store::{StoreHandle, WriteFailure};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const COMMAND_CAPACITY: usize = 256;
const EVENT_CAPACITY: usize = 1024;

/// Starts the session. Endpoints come from `cfg.conn.ws_url` and the mtop client's own
/// configuration, so tests can point both at loopback.
pub fn spawn(cfg: SessionConfig, mtop: MtopClient) -> SessionHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let driver = Driver::new(cfg, mtop, cmd_rx, ev_tx);
    let task = tokio::spawn(driver.run());
    SessionHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

/// What a job tells the driver.
enum Report {
    Input(Input),
    /// A connection attempt registered; the driver keeps the connection.
    Established {
        link: LinkId,
        est: Box<Established>,
    },
}

enum Slot {
    Connecting(JoinHandle<()>),
    Up(Conn),
}

struct Driver {
    core: SessionCore,
    cfg: Arc<SessionConfig>,
    /// Shared by the jobs; it never holds a lock across a request.
    mtop: MtopClient,
    store: Option<StoreHandle>,
    commands: mpsc::Receiver<ImCommand>,
    events: mpsc::Sender<ImEvent>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
    store_failures_tx: mpsc::UnboundedSender<WriteFailure>,
    store_failures: mpsc::UnboundedReceiver<WriteFailure>,
    pending: VecDeque<Input>,
    uid: Option<Uid>,
    links: HashMap<LinkId, Slot>,
    /// The events of the newest registered connection.
    live: Option<(LinkId, ConnEvents)>,
    consumer_gone: bool,
}

fn now() -> Now {
    Now {
        at: tokio::time::Instant::now().into_std(),
        wall_ms: crate::time::now_ms(),
    }
}

impl Driver {
    fn new(
        cfg: SessionConfig,
        mtop: MtopClient,
        commands: mpsc::Receiver<ImCommand>,
        events: mpsc::Sender<ImEvent>,
    ) -> Driver {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let (store_failures_tx, store_failures) = mpsc::unbounded_channel();
        let store = cfg.store.clone();
        Driver {
            core: SessionCore::new(cfg.clone(), rand::random()),
            cfg: Arc::new(cfg),
            mtop,
            store,
            commands,
            events,
            reports_tx,
            reports,
            store_failures_tx,
            store_failures,
            pending: VecDeque::new(),
            uid: None,
            links: HashMap::new(),
            live: None,
            consumer_gone: false,
        }
    }

    async fn run(mut self) {
        self.pending.push_back(Input::Start);
        loop {
            while let Some(input) = self.pending.pop_front() {
                let outputs = self.core.handle(now(), input);
                self.perform(outputs).await;
            }
            if self.core.is_stopped() {
                break;
            }
            let input = self.next_input().await;
            self.pending.push_back(input);
        }
        for (_, slot) in self.links.drain() {
            match slot {
                Slot::Connecting(task) => task.abort(),
                Slot::Up(conn) => conn.close(),
            }
        }
    }

    async fn next_input(&mut self) -> Input {
        let wake = self.core.next_wake();
        loop {
            let Driver {
                commands,
                reports,
                live,
                store_failures,
                ..
            } = self;
            let conn_events = async {
                match live {
                    Some((link, events)) => (*link, events.recv().await),
                    None => std::future::pending().await,
                }
            };
            let timer = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            let report = tokio::select! {
                (link, ev) = conn_events => {
                    return match ev {
                        Some(ConnEvent::Push(frame)) => Input::Push { link, frame },
                        Some(ConnEvent::Stalled) => Input::Stalled { link, stalled: true },
                        Some(ConnEvent::Resumed) => Input::Stalled { link, stalled: false },
                        Some(ConnEvent::Closed { reason }) => {
                            self.live = None;
                            Input::Closed { link, reason }
                        }
                        None => {
                            self.live = None;
                            Input::Closed { link, reason: "connection ended".into() }
                        }
                    };
                }
                Some(report) = reports.recv() => report,
                Some(failure) = store_failures.recv() => {
                    return Input::Store(StoreDone::Failed {
                        op: StoreOpKind::of(&failure.op),
                        error: failure.error,
                    });
                }
                cmd = commands.recv() => {
                    return cmd.map_or(Input::CommandsClosed, Input::Command);
                }
                () = timer => return Input::Tick,
            };
            match report {
                Report::Input(input) => {
                    if let Input::Connecting {
                        step: ConnectStep::Identity { uid, .. },
                        ..
                    } = &input
                    {
                        self.uid = Some(uid.clone());
                    }
                    return input;
                }
                Report::Established { link, est } => {
                    let Established {
                        conn,
                        events,
                        token,
                    } = *est;
                    if !self.links.contains_key(&link) {
                        // Given up while it registered.
                        conn.close();
                        continue;
                    }
                    self.links.insert(link, Slot::Up(conn));
                    self.live = Some((link, events));
                    return Input::Connected { link, token };
                }
            }
        }
    }

    async fn perform(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Emit(ev) => {
                    if !self.consumer_gone
                        && crate::im::handoff::send(&self.events, ev).await.is_err()
                    {
                        tracing::info!("event receiver dropped; stopping the IM session");
                        self.consumer_gone = true;
                        self.pending.push_back(Input::ConsumerGone);
                    }
                }
                Output::Store(op) => self.store_op(op).await,
                Output::Run(job) => self.start(job),
                Output::Close(link) => {
                    match self.links.remove(&link) {
                        Some(Slot::Connecting(task)) => task.abort(),
                        Some(Slot::Up(conn)) => conn.close(),
                        None => {}
                    }
                    if self.live.as_ref().is_some_and(|(l, _)| *l == link) {
                        self.live = None;
                    }
                }
            }
        }
    }

    async fn store_op(&mut self, op: StoreOp) {
        let Some(store) = self.store.clone() else {
            if op == StoreOp::LoadStartup {
                self.pending
                    .push_back(Input::Store(StoreDone::Startup(Startup::default())));
            }
            return;
        };
        match op {
            // Queued, not awaited: the owner commits it with what else waits (see the
            // store's durability contract); a failure comes back on `store_failures`.
            StoreOp::Write(op) => store.write(op, Some(&self.store_failures_tx)),
            // A failed write is reported on `store_failures` as ever; the wait only orders.
            StoreOp::Committed => {
                if let Err(e) = store.call(|_| Ok(())).await {
                    tracing::warn!(error = %e, "could not wait for the local history's commit");
                }
            }
            StoreOp::LoadStartup => {
                let loaded = store
                    .read(|s| {
                        Ok(Startup {
                            outbox: s.outbox_pending()?,
                            newest: s.newest_per_conversation()?,
                            live_until_ms: s.meta_get(LIVE_UNTIL_KEY)?.and_then(|v| v.parse().ok()),
                        })
                    })
                    .await;
                let done = match loaded {
                    Ok(startup) => StoreDone::Startup(startup),
                    Err(error) => StoreDone::Failed {
                        op: StoreOpKind::Startup,
                        error,
                    },
                };
                self.pending.push_back(Input::Store(done));
            }
        }
    }

    /// The connection of `link`, when it is up.
    fn conn(&self, link: LinkId) -> Option<Conn> {
        match self.links.get(&link) {
            Some(Slot::Up(conn)) => Some(conn.clone()),
            _ => None,
        }
    }

    fn spawn_reporting<F>(&self, work: F)
    where
        F: Future<Output = Option<Input>> + Send + 'static,
    {
        let tx = self.reports_tx.clone();
        tokio::spawn(async move {
            if let Some(input) = work.await {
                let _ = tx.send(Report::Input(input));
            }
        });
    }

    fn start(&mut self, job: Job) {
        if let Job::Connect {
            link,
            uid,
            did,
            token,
        } = job
        {
            return self.start_connect(link, uid, did, token);
        }
        // Jobs on the connection: without it (or before we know who we are) they fail as a
        // closed connection does.
        let needs = match &job {
            Job::List { link, .. }
            | Job::History { link, .. }
            | Job::Backfill { link, .. }
            | Job::Send { link, .. }
            | Job::Check { link, .. }
            | Job::MarkRead { link, .. }
            | Job::SyncState { link }
            | Job::Open { link, .. }
            | Job::Recall { link, .. } => Some(*link),
            _ => None,
        };
        let conn = needs.and_then(|l| self.conn(l));
        let (conn, uid) = match (needs, conn, self.uid.clone()) {
            (None, _, uid) => (None, uid),
            (Some(_), Some(conn), Some(uid)) => (Some(conn), Some(uid)),
            (Some(_), _, _) => {
                if let Some(input) = closed_result(job) {
                    self.pending.push_back(input);
                }
                return;
            }
        };
        let cfg = self.cfg.clone();
        let mtop = self.mtop.clone();
        match job {
            Job::Connect { .. } => {}
            Job::List {
                purpose,
                not_before,
                ..
            } => {
                let (conn, uid) = (conn, uid);
                self.spawn_reporting(async move {
                    let (conn, uid) = (conn?, uid?);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(not_before)).await;
                    let result = jobs::list_all(&conn, &cfg, &uid).await;
                    Some(Input::Done(Done::Conversations { purpose, result }))
                });
            }
            Job::History { cid, requested, .. } => self.spawn_reporting(async move {
                let (conn, uid) = (conn?, uid?);
                let cursor = requested.unwrap_or(crate::protocol::lwp::FIRST_PAGE_CURSOR);
                let result =
                    jobs::history_page(&conn, &cfg, &uid, &cid, cursor, cfg.history_page).await;
                Some(Input::Done(Done::History {
                    cid,
                    requested,
                    result,
                }))
            }),
            Job::Backfill {
                run,
                targets,
                list,
                not_before,
                ..
            } => {
                let tx = self.reports_tx.clone();
                tokio::spawn(async move {
                    let (Some(conn), Some(uid)) = (conn, uid) else {
                        return;
                    };
                    tokio::time::sleep_until(tokio::time::Instant::from_std(not_before)).await;
                    let total = targets.len();
                    let (mut failed, mut cut) = (Vec::new(), Vec::new());
                    for (i, (cid, known_until)) in targets.into_iter().enumerate() {
                        let (messages, reach) =
                            jobs::backfill_one(&conn, &cfg, &uid, &cid, known_until).await;
                        match reach {
                            Reach::Known => {}
                            Reach::PageLimit => cut.push(cid),
                            Reach::Failed => failed.push(cid),
                        }
                        let step = Done::BackfillStep {
                            messages,
                            done: i + 1,
                            total,
                        };
                        if tx.send(Report::Input(Input::Done(step))).is_err() {
                            return;
                        }
                    }
                    let done = Done::BackfillDone {
                        run,
                        list,
                        failed,
                        cut,
                    };
                    let _ = tx.send(Report::Input(Input::Done(done)));
                });
            }
            Job::Send { item, peer, .. } => self.spawn_reporting(async move {
                let (conn, uid) = (conn?, uid?);
                let (result, peer) = jobs::send_one(&conn, &uid, &item, peer).await;
                Some(Input::Done(Done::Sent {
                    client_id: item.client_id,
                    result,
                    peer,
                }))
            }),
            Job::Check { client_id, cid, .. } => self.spawn_reporting(async move {
                let (conn, uid) = (conn?, uid?);
                let result = jobs::newest_history(&conn, &uid, &cid).await;
                Some(Input::Done(Done::Checked { client_id, result }))
            }),
            Job::MarkRead { cid, ids, .. } => self.spawn_reporting(async move {
                jobs::mark_read(&conn?, &cid, &ids).await;
                None
            }),
            Job::SyncState { .. } => self.spawn_reporting(async move {
                jobs::sync_state(&conn?).await;
                None
            }),
            Job::Open { peer, item_id, .. } => self.spawn_reporting(async move {
                let (conn, uid) = (conn?, uid?);
                let result = jobs::open(&conn, &cfg, &uid, &peer, item_id.as_deref()).await;
                Some(Input::Done(Done::Opened {
                    peer,
                    item_id,
                    result,
                }))
            }),
            Job::Recall { cid, id, .. } => self.spawn_reporting(async move {
                let result = jobs::recall(&conn?, &id).await;
                Some(Input::Done(Done::Recalled { cid, id, result }))
            }),
            Job::Upload {
                cid,
                client_id,
                path,
            } => self.spawn_reporting(async move {
                let result = media::upload_image(&mtop, &path).await;
                Some(Input::Done(Done::Uploaded {
                    cid,
                    client_id,
                    result,
                }))
            }),
            Job::Profile { cid, uid } => self.spawn_reporting(async move {
                let result = mtop.user_query(&cid).await;
                Some(Input::Done(Done::Profile { asked: uid, result }))
            }),
            Job::OwnProfile => self.spawn_reporting(async move {
                match mtop.own_profile().await {
                    Ok(p) => Some(Input::Done(Done::OwnNick(p.nick))),
                    Err(e) => {
                        tracing::info!(error = %e, "own profile unavailable");
                        None
                    }
                }
            }),
            Job::Item { item_id } => self.spawn_reporting(async move {
                let result = mtop.item_detail(&item_id).await;
                Some(Input::Done(Done::Item { item_id, result }))
            }),
            Job::AdoptSavedLogin { uid } => self.spawn_reporting(async move {
                let adopted = mtop.adopt_saved_login(uid.as_ref()).await;
                Some(Input::Done(Done::SavedLogin { adopted }))
            }),
            Job::CheckLogin => self.spawn_reporting(async move {
                let result = mtop.login_user().await.map(|_| ());
                Some(Input::Done(Done::LoginChecked { result }))
            }),
            Job::RenewLogin { silent } => self.spawn_reporting(async move {
                let (result, silent_tried) = crate::im::renewal::renew_login(&mtop, silent).await;
                Some(Input::Done(Done::LoginRenewed {
                    result,
                    silent_tried,
                }))
            }),
        }
    }

    fn start_connect(
        &mut self,
        link: LinkId,
        uid: Option<Uid>,
        did: Option<String>,
        token: Option<crate::im::mtop::ImToken>,
    ) {
        let tx = self.reports_tx.clone();
        let mtop = self.mtop.clone();
        let cfg = self.cfg.clone();
        let task = tokio::spawn(async move {
            let plan = ConnectPlan {
                mtop: &mtop,
                conn: &cfg.conn,
                device: &cfg.device,
                token_margin: cfg.token_margin,
                uid,
                did,
                token,
            };
            let progress = |step| {
                let _ = tx.send(Report::Input(Input::Connecting { link, step }));
            };
            let report = match jobs::establish(plan, progress).await {
                Ok(est) => Report::Established {
                    link,
                    est: Box::new(est),
                },
                Err(failure) => Report::Input(Input::ConnectFailed { link, failure }),
            };
            let _ = tx.send(report);
        });
        self.links.insert(link, Slot::Connecting(task));
    }
}

/// What a job on a connection that is gone answers.
fn closed_result(job: Job) -> Option<Input> {
    let closed = || RpcFailure::Request(RequestError::Closed);
    let done = match job {
        Job::List { purpose, .. } => Done::Conversations {
            purpose,
            result: Err(closed()),
        },
        Job::History { cid, requested, .. } => Done::History {
            cid,
            requested,
            result: Err(closed()),
        },
        Job::Backfill {
            run, targets, list, ..
        } => Done::BackfillDone {
            run,
            list,
            failed: targets.into_iter().map(|(cid, _)| cid).collect(),
            cut: Vec::new(),
        },
        Job::Send { item, .. } => Done::Sent {
            client_id: item.client_id,
            result: Err(SendError::Request(RequestError::Closed)),
            peer: None,
        },
        Job::Check { client_id, .. } => Done::Checked {
            client_id,
            result: Err(closed()),
        },
        Job::Open { peer, item_id, .. } => Done::Opened {
            peer,
            item_id,
            result: Err(closed()),
        },
        Job::Recall { cid, id, .. } => Done::Recalled {
            cid,
            id,
            result: Err(closed()),
        },
        _ => return None,
    };
    Some(Input::Done(done))
}
