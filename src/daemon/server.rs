//! The core's side of the socket: binding it (alone, by a lock), accepting only the same
//! user, and the loop that joins the session, the hub and the views. The decisions are the
//! hub's; this moves lines.

use super::Place;
use super::hub::{Hub, ViewId};
use super::wire::{self, AccountStatus, CoreLine, CoreStatus, MAX_LINE, PROTOCOL, ViewLine};
use crate::im::api::{ImCommand, ImEvent};
use crate::run::Connection;
use futures_util::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// Lines waiting for one view. A view this far behind is dropped with a notice: the core
/// never buffers without bound for a view that does not read.
pub const VIEW_QUEUE: usize = 8192;
/// A view must say hello this soon after connecting.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Commands taken from the views but not yet by the session; the views are not read further
/// while this many wait.
const COMMAND_BACKLOG: usize = 1024;
/// How often the core looks whether its socket is still its own.
const CHECK_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("a core already runs for this data directory")]
    AlreadyRunning,
    #[error("cannot use {path}: {error}")]
    Io { path: String, error: io::Error },
}

fn io_at(path: &std::path::Path) -> impl FnOnce(io::Error) -> BindError + '_ {
    move |error| BindError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The socket, bound, with the lock that says this process is the core.
pub struct Bound {
    listener: UnixListener,
    /// Held for the life of the core; the kernel lets it go when the process ends, even on
    /// a kill -9, so a socket file left behind is known to be stale.
    _lock: File,
    place: Place,
    inode: u64,
}

/// The lock that makes this process the core of its data directory, before the socket.
pub struct Locked {
    lock: File,
    place: Place,
}

/// Takes the lock (in a folder made 0700). `AlreadyRunning` when another core holds it.
pub fn lock(place: &Place) -> Result<Locked, BindError> {
    crate::private_fs::create_dir(&place.dir).map_err(io_at(&place.dir))?;
    crate::private_fs::restrict(&place.dir, 0o700).map_err(io_at(&place.dir))?;
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&place.lock)
        .map_err(io_at(&place.lock))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(BindError::AlreadyRunning),
        Err(std::fs::TryLockError::Error(e)) => return Err(io_at(&place.lock)(e)),
    }
    Ok(Locked {
        lock,
        place: place.clone(),
    })
}

impl Locked {
    /// Binds the socket (mode 0600). A socket file left by a core that died is removed
    /// first: holding the lock proves nobody serves it.
    pub fn listen(self) -> Result<Bound, BindError> {
        let place = self.place;
        match std::fs::remove_file(&place.socket) {
            Ok(()) => tracing::info!(socket = ?place.socket, "removed a stale socket file"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&place.socket)(e)),
        }
        let listener = UnixListener::bind(&place.socket).map_err(io_at(&place.socket))?;
        std::fs::set_permissions(&place.socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io_at(&place.socket))?;
        let inode = std::fs::metadata(&place.socket)
            .map_err(io_at(&place.socket))?
            .ino();
        Ok(Bound {
            listener,
            _lock: self.lock,
            place,
            inode,
        })
    }
}

impl Bound {
    /// Whether the socket file is still the one bound here: removed or replaced, nobody can
    /// reach this core any more, and it ends.
    fn still_ours(&self) -> bool {
        std::fs::metadata(&self.place.socket).is_ok_and(|m| m.ino() == self.inode)
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        if self.still_ours() {
            let _ = std::fs::remove_file(&self.place.socket);
        }
    }
}

/// What the views' tasks tell the loop.
enum FromView {
    Hello {
        id: ViewId,
        view: String,
        pid: Option<u32>,
        account: Option<crate::protocol::Uid>,
    },
    Command {
        id: ViewId,
        command: ImCommand,
    },
    Status {
        id: ViewId,
    },
    Awaiting {
        id: ViewId,
        client_ids: Vec<crate::protocol::ClientId>,
    },
    Stop,
    /// A line that is not of the protocol: the view gets an error line and is disconnected.
    Garbage {
        id: ViewId,
        message: String,
    },
    Gone {
        id: ViewId,
    },
}

/// The loop's handle on one connected view.
struct Sink {
    lines: mpsc::Sender<CoreLine>,
    kick: Option<oneshot::Sender<String>>,
    reader: tokio::task::AbortHandle,
}

impl Sink {
    /// Ends the connection with `line` as the last the view reads (queued behind what it
    /// still has to read).
    fn close_with(self, line: CoreLine) {
        let _ = self.lines.try_send(line);
        self.reader.abort();
    }

    /// Ends the connection, telling the view `reason` when it still reads.
    fn drop_with(mut self, reason: String) {
        if let Some(k) = self.kick.take() {
            let _ = k.send(reason);
        }
        self.reader.abort();
    }
}

/// One account the core serves: its session's commands, its hub (its views) and where its
/// files are.
struct Served {
    account: crate::accounts::Account,
    commands: mpsc::Sender<ImCommand>,
    hub: Hub,
    /// Its session ended: its views were told, and no new view is given to it.
    ended: bool,
}

impl Served {
    /// `account`, served by the session of `conn`, with no views yet.
    fn new(account: crate::accounts::Account, conn: &Connection) -> Served {
        Served {
            account,
            commands: conn.session.commands.clone(),
            hub: Hub::new(),
            ended: false,
        }
    }
}

/// How the core starts the session of an account logged in after it started, when a view
/// asks for it: the account and its session, or why there is none.
pub type Join = std::sync::Arc<
    dyn Fn(
            crate::protocol::Uid,
        ) -> futures_util::future::BoxFuture<
            'static,
            Result<(crate::accounts::Account, Connection), String>,
        > + Send
        + Sync,
>;

/// What a `Join` ended with, for the account it was for.
type Joined = (
    crate::protocol::Uid,
    Result<(crate::accounts::Account, Connection), String>,
);

/// A view waiting for its account's session to start.
struct Waiting {
    id: ViewId,
    view: String,
    pid: Option<u32>,
}

/// Serves the views until `daemon --stop`, SIGTERM / SIGINT, the end of every session or
/// the loss of the socket file. Each account has a session of its own and a hub of its own;
/// a view is attached to the one its hello names. A view asking for an account the core does
/// not serve (logged in since it started, or refused at its start) waits while `join` starts
/// that account's session. The sessions are shut down at the end (their outboxes stay in
/// their stores).
pub async fn serve(bound: Bound, conns: Vec<(crate::accounts::Account, Connection)>, join: Join) {
    let uid_self = nix::unistd::getuid().as_raw();
    let (from_tx, mut from_views) = mpsc::channel::<FromView>(256);
    let mut served: Vec<Served> = Vec::new();
    let mut sessions = Vec::new();
    let mut receivers = Vec::new();
    for (account, mut conn) in conns {
        receivers.push(conn.session.take_events());
        served.push(Served::new(account, &conn));
        sessions.push(conn);
    }
    // Every session's events, tagged with its account's place in `served`; `None`: it ended.
    let mut events = crate::im::session::merge_events(receivers);
    let mut sinks: HashMap<ViewId, Sink> = HashMap::new();
    // Which account each attached view is for.
    let mut view_account: HashMap<ViewId, usize> = HashMap::new();
    let mut next_id: ViewId = 0;
    // Accounts whose sessions are starting, and the views waiting for each.
    let mut joining: HashMap<crate::protocol::Uid, Vec<Waiting>> = HashMap::new();
    let (joined_tx, mut joined) = mpsc::channel::<Joined>(4);
    let mut backlog: VecDeque<(usize, ImCommand)> = VecDeque::new();
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut signals = crate::signals::Signals::new();
    // A hang-up of the terminal that started it is no reason to end.
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let version = super::upgrade::core_version();
    tracing::info!(socket = ?bound.place.socket, accounts = served.len(), version, "core serving");
    loop {
        // The session the oldest waiting command is for.
        let next_for = backlog
            .front()
            .and_then(|(i, _)| served.get(*i))
            .map(|s| s.commands.clone());
        tokio::select! {
            ev = events.next() => {
                let Some((i, ev)) = ev else {
                    tracing::warn!("every session ended; the core ends");
                    break;
                };
                let Some(slot) = served.get_mut(i) else { continue };
                let Some(ev) = ev else {
                    tracing::warn!(account = %slot.account.uid, "a session ended");
                    slot.ended = true;
                    for v in slot.hub.views() {
                        if let Some(sink) = sinks.remove(&v.id) {
                            sink.close_with(CoreLine::Stopping);
                        }
                        view_account.remove(&v.id);
                        slot.hub.detach(v.id);
                    }
                    if served.iter().all(|s| s.ended) {
                        tracing::warn!("every session ended; the core ends");
                        break;
                    }
                    continue;
                };
                if let ImEvent::SelfInfo { nick: Some(nick), .. } = &ev
                    && slot.hub.nick() != Some(nick.as_str())
                {
                    note_nick(&slot.account, nick);
                }
                for (id, ev) in slot.hub.event(ev) {
                    deliver(&mut slot.hub, &mut sinks, id, CoreLine::Event { event: ev });
                }
            }
            accepted = bound.listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let same_user = stream.peer_cred().is_ok_and(|c| c.uid() == uid_self);
                    if !same_user {
                        tracing::warn!("refused a connection from another user");
                        continue;
                    }
                    next_id += 1;
                    let sink = open_view(next_id, stream, from_tx.clone(), serving(&served), &version);
                    sinks.insert(next_id, sink);
                }
                Err(e) => {
                    tracing::warn!("accepting a view failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            msg = from_views.recv(), if backlog.len() < COMMAND_BACKLOG => {
                let Some(msg) = msg else { continue };
                match msg {
                    FromView::Hello { id, view, pid, account } => {
                        let found = match &account {
                            None => served.iter().position(|s| !s.ended),
                            Some(uid) => served.iter().position(|s| !s.ended && &s.account.uid == uid),
                        };
                        let w = Waiting { id, view, pid };
                        match (found, account) {
                            (Some(i), _) => attach_view(&mut served[i], i, w, &mut sinks, &mut view_account),
                            (None, Some(uid)) => wait_for_join(&mut joining, uid, w, &join, &joined_tx),
                            (None, None) => {
                                let message = "this core serves no account now".to_string();
                                if let Some(sink) = sinks.remove(&id) {
                                    sink.close_with(CoreLine::Error { message });
                                }
                            }
                        }
                    }
                    FromView::Command { id, command } => {
                        let Some(&i) = view_account.get(&id) else { continue };
                        if !sinks.contains_key(&id) {
                            continue;
                        }
                        let hub = &mut served[i].hub;
                        let (command, others) = hub.command(id, command);
                        for (v, ev) in others {
                            deliver(hub, &mut sinks, v, CoreLine::Event { event: ev });
                        }
                        match command {
                            Some(c) => backlog.push_back((i, c)),
                            None => {
                                hub.detach(id);
                                sinks.remove(&id);
                                view_account.remove(&id);
                            }
                        }
                    }
                    FromView::Status { id } => {
                        let status = status_of(&served, id, &version);
                        if let Some(&i) = view_account.get(&id) {
                            deliver(&mut served[i].hub, &mut sinks, id, CoreLine::Status(status));
                        } else if let Some(sink) = sinks.get(&id) {
                            // Not attached to an account (a `daemon --status` of its own).
                            let _ = sink.lines.try_send(CoreLine::Status(status));
                        }
                    }
                    FromView::Awaiting { id, client_ids } => {
                        let Some(&i) = view_account.get(&id) else { continue };
                        let hub = &mut served[i].hub;
                        for ev in hub.awaiting(id, client_ids) {
                            deliver(hub, &mut sinks, id, CoreLine::Event { event: ev });
                        }
                    }
                    FromView::Stop => {
                        tracing::info!("asked to stop");
                        break;
                    }
                    FromView::Garbage { id, message } => {
                        tracing::warn!(id, "a view sent a line that is not of the protocol: {message}");
                        if let Some(sink) = sinks.remove(&id) {
                            sink.close_with(CoreLine::Error { message });
                        }
                        if let Some(i) = view_account.remove(&id) {
                            served[i].hub.detach(id);
                        }
                    }
                    FromView::Gone { id } => {
                        if sinks.remove(&id).is_some() {
                            tracing::info!(id, "view detached");
                        }
                        if let Some(i) = view_account.remove(&id) {
                            served[i].hub.detach(id);
                        }
                    }
                }
            }
            Some((uid, result)) = joined.recv() => {
                let waiting = joining.remove(&uid).unwrap_or_default();
                match result {
                    Ok((account, mut conn)) => {
                        let i = served.len();
                        tracing::info!(%uid, "the account's session started; serving it");
                        events.push(crate::im::session::tagged_events(i, conn.session.take_events()));
                        served.push(Served::new(account, &conn));
                        sessions.push(conn);
                        for w in waiting {
                            // Gone while it waited.
                            if sinks.contains_key(&w.id) {
                                attach_view(&mut served[i], i, w, &mut sinks, &mut view_account);
                            }
                        }
                    }
                    Err(why) => {
                        tracing::warn!(%uid, "cannot serve the account: {why}");
                        let message = format!("this core cannot serve account {uid}: {why}");
                        for w in waiting {
                            if let Some(sink) = sinks.remove(&w.id) {
                                sink.close_with(CoreLine::Error { message: message.clone() });
                            }
                        }
                    }
                }
            }
            permit = async { match &next_for { Some(tx) => tx.reserve().await, None => std::future::pending().await } }, if next_for.is_some() => match permit {
                Ok(permit) => {
                    if let Some((_, c)) = backlog.pop_front() {
                        permit.send(c);
                    }
                }
                Err(_) => {
                    // That session is gone: what waited for it goes nowhere.
                    if let Some((i, _)) = backlog.pop_front() {
                        tracing::warn!(account = %served[i].account.uid, "a command for an ended session was dropped");
                    }
                }
            },
            _ = check.tick() => {
                if !bound.still_ours() {
                    tracing::warn!("the socket file was removed or replaced; the core ends");
                    break;
                }
                if !bound.place.data.is_dir() {
                    tracing::warn!("the data directory was removed; the core ends");
                    break;
                }
            }
            _ = async { match hangups.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => {
                tracing::info!("hang-up ignored");
            }
            () = signals.recv() => {
                tracing::info!("signal: the core ends");
                break;
            }
        }
        // Views that a full queue dropped are gone from their hub; forget their account.
        view_account.retain(|id, _| sinks.contains_key(id));
    }
    for (_, sink) in sinks.drain() {
        sink.close_with(CoreLine::Stopping);
    }
    // The sessions end (their last writes stored, their sockets closed) before the lock is
    // let go: a core started after this one, as a restart starts one, never runs beside it
    // on the same accounts and the same local history.
    futures_util::future::join_all(sessions.into_iter().map(Connection::shutdown)).await;
    drop(bound);
    // Let the writers put out the last lines.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Attaches view `w` to `slot` (the account at `i`) and sends it what brings it up to date.
fn attach_view(
    slot: &mut Served,
    i: usize,
    w: Waiting,
    sinks: &mut HashMap<ViewId, Sink>,
    view_account: &mut HashMap<ViewId, usize>,
) {
    let Waiting { id, view, pid } = w;
    tracing::info!(id, view, ?pid, account = %slot.account.uid, "view attached");
    view_account.insert(id, i);
    for ev in slot.hub.attach(id, &view, pid) {
        deliver(&mut slot.hub, sinks, id, CoreLine::Event { event: ev });
    }
}

/// View `w` asks for `uid`, which the core does not serve: it waits, and the first view to
/// ask starts the account's session (the result comes back on `joined`).
fn wait_for_join(
    joining: &mut HashMap<crate::protocol::Uid, Vec<Waiting>>,
    uid: crate::protocol::Uid,
    w: Waiting,
    join: &Join,
    joined: &mpsc::Sender<Joined>,
) {
    let waiting = joining.entry(uid.clone()).or_default();
    if waiting.is_empty() {
        tracing::info!(%uid, "a view asks for an account not served yet; starting its session");
        let (join, done) = (join.clone(), joined.clone());
        tokio::spawn(async move {
            let result = join(uid.clone()).await;
            let _ = done.send((uid, result)).await;
        });
    }
    waiting.push(w);
}

/// The accounts whose sessions still run, in order.
fn serving(served: &[Served]) -> Vec<crate::protocol::Uid> {
    served
        .iter()
        .filter(|s| !s.ended)
        .map(|s| s.account.uid.clone())
        .collect()
}

/// What `daemon --status` shows: every account, the first one's also at the top (as a core
/// of one account said it). The asking view is left out.
fn status_of(served: &[Served], asking: ViewId, version: &str) -> CoreStatus {
    let accounts: Vec<AccountStatus> = served
        .iter()
        .filter(|s| !s.ended)
        .map(|s| {
            let mut views = s.hub.views();
            views.retain(|v| v.id != asking);
            AccountStatus {
                account: s.account.uid.clone(),
                nick: s.hub.nick().map(str::to_string).or(s.account.nick.clone()),
                connection: s.hub.connection().cloned(),
                views,
            }
        })
        .collect();
    let first = accounts.first();
    CoreStatus {
        version: version.to_string(),
        pid: std::process::id(),
        account: first.map(|a| a.account.clone()),
        nick: first.and_then(|a| a.nick.clone()),
        connection: first.and_then(|a| a.connection.clone()),
        views: accounts.iter().flat_map(|a| a.views.clone()).collect(),
        accounts,
    }
}

/// Remembers the nick the service gave the account, for `accounts` (off the loop: a file).
fn note_nick(account: &crate::accounts::Account, nick: &str) {
    let dir = account.dir.clone();
    let nick = nick.to_string();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::accounts::note(&dir, Some(&nick)) {
            tracing::warn!("cannot note the account's nick in {}: {e}", dir.display());
        }
    });
}

/// Puts `line` in view `id`'s queue; a full queue drops the view with a notice.
fn deliver(hub: &mut Hub, sinks: &mut HashMap<ViewId, Sink>, id: ViewId, line: CoreLine) {
    let Some(sink) = sinks.get(&id) else { return };
    match sink.lines.try_send(line) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(id, "a view is too slow to read its events; dropped");
            if let Some(sink) = sinks.remove(&id) {
                sink.drop_with(format!(
                    "this view fell {VIEW_QUEUE} lines behind the core and was disconnected"
                ));
            }
            hub.detach(id);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            sinks.remove(&id);
            hub.detach(id);
        }
    }
}

/// Starts the reader and the writer of one connection; the core's hello goes first.
fn open_view(
    id: ViewId,
    stream: UnixStream,
    to_loop: mpsc::Sender<FromView>,
    accounts: Vec<crate::protocol::Uid>,
    version: &str,
) -> Sink {
    let (rd, wr) = stream.into_split();
    let (lines_tx, lines_rx) = mpsc::channel(VIEW_QUEUE);
    let (kick_tx, kick_rx) = oneshot::channel();
    let _ = lines_tx.try_send(CoreLine::Hello {
        protocol: PROTOCOL,
        version: version.to_string(),
        account: accounts.first().cloned(),
        pid: std::process::id(),
        accounts,
    });
    tokio::spawn(write_lines(wr, lines_rx, kick_rx));
    let reader = tokio::spawn(read_lines(id, rd, to_loop)).abort_handle();
    Sink {
        lines: lines_tx,
        kick: Some(kick_tx),
        reader,
    }
}

async fn write_lines(
    wr: OwnedWriteHalf,
    mut lines: mpsc::Receiver<CoreLine>,
    mut kick: oneshot::Receiver<String>,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, wr);
    // The loop letting go of its handle without a kick is no kick: what is queued (an error
    // line, say) still goes out before the end.
    let mut kick_open = true;
    loop {
        tokio::select! {
            biased;
            reason = &mut kick, if kick_open => {
                kick_open = false;
                if let Ok(reason) = reason {
                    let line = wire::encode(&CoreLine::Dropped { reason });
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        out.write_all(line.as_bytes()).await?;
                        out.write_all(b"\n").await?;
                        out.flush().await
                    })
                    .await;
                    break;
                }
            }
            line = lines.recv() => {
                let Some(line) = line else { break };
                let mut text = wire::encode(&line);
                text.push('\n');
                let flush = lines.is_empty();
                let written = async {
                    out.write_all(text.as_bytes()).await?;
                    if flush {
                        out.flush().await?;
                    }
                    io::Result::Ok(())
                };
                // A view that stopped reading blocks here; a kick still ends it.
                tokio::select! {
                    biased;
                    r = &mut kick, if kick_open => {
                        kick_open = false;
                        if r.is_ok() {
                            break;
                        }
                    }
                    r = written => if r.is_err() { break },
                }
            }
        }
    }
    let _ = out.flush().await;
    let _ = out.into_inner().shutdown().await;
}

/// One line of at most `MAX_LINE` bytes, without its newline; `None` at the end.
pub(super) async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Result<String, String>>> {
    buf.clear();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        return Ok(Some(Err(format!("a line is longer than {MAX_LINE} bytes"))));
    }
    Ok(Some(
        String::from_utf8(std::mem::take(buf)).map_err(|_| "a line is not UTF-8".to_string()),
    ))
}

async fn read_lines(id: ViewId, rd: OwnedReadHalf, to_loop: mpsc::Sender<FromView>) {
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::new();
    let garbage = |message: String| FromView::Garbage { id, message };
    // The view's hello first.
    let first = tokio::time::timeout(HELLO_WITHIN, read_line(&mut rd, &mut buf)).await;
    let hello = match first {
        Err(_) => Err("no hello: the first line must be a hello".to_string()),
        Ok(Err(_) | Ok(None)) => {
            let _ = to_loop.send(FromView::Gone { id }).await;
            return;
        }
        Ok(Ok(Some(line))) => line.and_then(|l| wire::parse_view(&l)),
    };
    match hello {
        Ok(ViewLine::Hello {
            protocol,
            view,
            pid,
            account,
        }) if protocol == PROTOCOL => {
            if to_loop
                .send(FromView::Hello {
                    id,
                    view,
                    pid,
                    account,
                })
                .await
                .is_err()
            {
                return;
            }
        }
        Ok(ViewLine::Hello { protocol, .. }) => {
            let msg = format!("this core speaks protocol {PROTOCOL}, not {protocol}");
            let _ = to_loop.send(garbage(msg)).await;
            return;
        }
        Ok(_) => {
            let _ = to_loop
                .send(garbage("the first line must be a hello".into()))
                .await;
            return;
        }
        Err(e) => {
            let _ = to_loop.send(garbage(e)).await;
            return;
        }
    }
    loop {
        let line = match read_line(&mut rd, &mut buf).await {
            Ok(Some(l)) => l,
            Ok(None) | Err(_) => break,
        };
        let msg = match line.and_then(|l| wire::parse_view(&l)) {
            Ok(ViewLine::Command { command }) => FromView::Command { id, command },
            Ok(ViewLine::Status) => FromView::Status { id },
            Ok(ViewLine::Awaiting { client_ids }) => FromView::Awaiting { id, client_ids },
            Ok(ViewLine::Stop) => FromView::Stop,
            Ok(ViewLine::Hello { .. }) => garbage("a second hello".into()),
            Err(e) => garbage(e),
        };
        let end = matches!(msg, FromView::Garbage { .. });
        if to_loop.send(msg).await.is_err() || end {
            return;
        }
    }
    let _ = to_loop.send(FromView::Gone { id }).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im::api::ImEvent;

    #[tokio::test]
    async fn a_view_that_does_not_keep_up_is_dropped_with_a_notice() {
        let mut hub = Hub::new();
        hub.attach(1, "slow", None);
        hub.attach(2, "fast", None);
        let mut sinks = HashMap::new();
        let mut kicks = Vec::new();
        let mut queues = Vec::new();
        for id in [1, 2] {
            let (lines, rx) = mpsc::channel(2);
            let (kick, kicked) = oneshot::channel();
            let reader = tokio::spawn(std::future::pending::<()>()).abort_handle();
            sinks.insert(
                id,
                Sink {
                    lines,
                    kick: Some(kick),
                    reader,
                },
            );
            kicks.push(kicked);
            queues.push(rx);
        }
        let line = || CoreLine::Event {
            event: ImEvent::Error("x".into()),
        };
        for _ in 0..2 {
            deliver(&mut hub, &mut sinks, 1, line());
            deliver(&mut hub, &mut sinks, 2, line());
        }
        // The fast view reads; the slow one does not.
        queues[1].recv().await;
        deliver(&mut hub, &mut sinks, 1, line());
        deliver(&mut hub, &mut sinks, 2, line());
        assert!(!sinks.contains_key(&1));
        assert!(sinks.contains_key(&2));
        assert_eq!(hub.views().len(), 1);
        let reason = kicks.remove(0).await.unwrap();
        assert!(reason.contains("behind"), "{reason}");
        // Nothing more is queued for it: the core holds at most a queue's worth.
        assert_eq!(queues[0].len(), 2);
    }
}
