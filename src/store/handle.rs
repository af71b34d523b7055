//! The local history's one owner: a thread that holds the database connection and serves
//! everybody else (the session, the UI, the commands) through a queue. No one else touches
//! the connection, and no async task ever waits on a lock for it.
//!
//! **Group commit.** Writes are queued and do not wait: the owner takes every write that
//! is waiting when it wakes and commits them in one transaction, so a burst of pushes costs
//! a few commits, not one per message.
//!
//! **Priorities.** Live work (writes, and calls the session and the UI make) is always taken
//! first; background work (a retention prune, a long search on an in-memory store) runs only
//! when no live work waits, one piece at a time. Searches and history pages of a store on
//! disk run on a reader thread with a connection of its own, so they never hold up a write.
//!
//! **Durability.** A write is handed to the owner before its message is shown; it is on disk
//! (in the WAL, `synchronous = NORMAL`) once its transaction commits: at once when it comes
//! alone, within `COMMIT_WINDOW` (20 ms) of the previous commit during a burst. If the
//! process is killed in between, those messages are missing from the file, and the next start fetches every conversation's history down to what the file holds
//! (the session's start-up backfill), so nothing the service still holds is lost, and the
//! store keeps each message id once. If the machine itself dies, the commits since the last
//! checkpoint may be lost as well (the WAL is synced at checkpoints); the same backfill covers
//! them.

use super::{OutboxState, Store, StoreError};
use crate::protocol::{Cid, ClientId, Conversation, Message};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// At most this many writes in one transaction: a commit that takes too long would keep the
/// first of them waiting.
const MAX_BATCH: usize = 4096;
/// When writes come one by one right after a commit (a burst being received), the owner
/// waits up to this long for more before the next commit, so that one commit carries many:
/// a commit costs far more than a row. Only writes wait; nothing is shown later for it.
/// The full-text index writes what a transaction added as one segment at its commit, and
/// later merges segments: fewer, larger commits in a burst are less work per message.
const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);
/// A batch this large goes at once.
const FULL_BATCH: usize = 512;

/// A change to the local history, queued and committed with whatever else is waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Messages(Vec<Message>),
    Conversations(Vec<Conversation>),
    /// Conversations first seen in a message: stored unless already stored.
    NewConversations(Vec<Conversation>),
    OutboxAdd {
        cid: Cid,
        client_id: ClientId,
        text: String,
        at_ms: i64,
    },
    OutboxState {
        client_id: ClientId,
        state: OutboxState,
    },
    OutboxRemove(ClientId),
    Meta {
        key: &'static str,
        value: String,
    },
}

impl WriteOp {
    fn apply(&self, store: &mut Store) -> Result<(), StoreError> {
        match self {
            WriteOp::Messages(m) => store.save_messages(m).map(drop),
            WriteOp::Conversations(c) => store.save_conversations(c),
            WriteOp::NewConversations(c) => store.add_new_conversations(c),
            WriteOp::OutboxAdd {
                cid,
                client_id,
                text,
                at_ms,
            } => store.outbox_add(cid, client_id, text, *at_ms),
            WriteOp::OutboxState { client_id, state } => store.outbox_set_state(client_id, *state),
            WriteOp::OutboxRemove(client_id) => store.outbox_remove(client_id).map(drop),
            WriteOp::Meta { key, value } => store.meta_set(key, value),
        }
    }
}

/// A write that failed, sent back to whoever asked to hear of it.
#[derive(Debug)]
pub struct WriteFailure {
    pub op: WriteOp,
    pub error: StoreError,
}

type Call = Box<dyn FnOnce(&mut Store) + Send>;
type Read = Box<dyn FnOnce(&Store) + Send>;

enum Work {
    Write {
        op: WriteOp,
        failures: Option<mpsc::UnboundedSender<WriteFailure>>,
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    Call(Call),
}

#[derive(Default)]
struct Queue {
    live: VecDeque<Work>,
    background: VecDeque<Work>,
    /// The owner is gathering a burst's writes until the window ends or the batch is full:
    /// a further write need not wake it.
    gathering: bool,
    /// Every handle is gone: finish what waits, then stop.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A cheap, clonable way to the owner. The owner ends when the last handle is dropped,
/// after it has committed what was queued.
#[derive(Clone)]
pub struct StoreHandle {
    owner: Arc<Owner>,
}

struct Owner {
    shared: Arc<Shared>,
    /// Reads with a connection of their own (None: in memory, reads go to the owner).
    reader: Option<std::sync::mpsc::Sender<Read>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.ready.notify_all();
    }
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    /// Starts the owner thread with `store` (and, for a store on disk, a reader).
    pub fn new(store: Store) -> StoreHandle {
        let reader = store
            .path()
            .and_then(|p| match Store::open_reader(p, store.uid()) {
                Ok(r) => Some(spawn_reader(r)),
                Err(e) => {
                    tracing::warn!(error = %e, "no reader connection; reads share the writer");
                    None
                }
            });
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let owned = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || serve(store, &owned));
        if let Err(e) = spawned {
            // Nothing will serve the queue: every call fails at once instead of waiting.
            tracing::error!(error = %e, "cannot start the local history's thread");
            lock(&shared.queue).closed = true;
        }
        StoreHandle {
            owner: Arc::new(Owner { shared, reader }),
        }
    }

    fn push(&self, work: Work, background: bool) -> Result<(), StoreError> {
        let mut q = lock(&self.owner.shared.queue);
        if q.closed {
            return Err(StoreError::Unavailable(
                "the local history has stopped".into(),
            ));
        }
        // While the owner gathers, only a call or a full batch ends its wait.
        let wake =
            !q.gathering || !matches!(work, Work::Write { .. }) || q.live.len() + 1 >= FULL_BATCH;
        if background {
            q.background.push_back(work);
        } else {
            q.live.push_back(work);
        }
        drop(q);
        if wake {
            self.owner.shared.ready.notify_one();
        }
        Ok(())
    }

    /// Queues a write without waiting; a failure goes to `failures` when given (and is
    /// logged either way).
    pub fn write(&self, op: WriteOp, failures: Option<&mpsc::UnboundedSender<WriteFailure>>) {
        let work = Work::Write {
            op,
            failures: failures.cloned(),
            done: None,
        };
        if let Err(e) = self.push(work, false) {
            tracing::warn!(error = %e, "a write to the local history was refused");
        }
    }

    /// Queues a write and waits until it is committed.
    pub async fn write_committed(&self, op: WriteOp) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.push(
            Work::Write {
                op,
                failures: None,
                done: Some(tx),
            },
            false,
        )?;
        match rx.await {
            Ok(r) => r.map_err(StoreError::Unavailable),
            Err(_) => Err(StoreError::Unavailable(
                "the local history has stopped".into(),
            )),
        }
    }

    async fn run_on_owner<R, F>(&self, f: F, background: bool) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.push(Work::Call(call), background)?;
        rx.await
            .map_err(|_| StoreError::Unavailable("a local history call did not finish".into()))?
    }

    /// Runs `f` on the owner, before any background work, after the writes queued before it.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        self.run_on_owner(f, false).await
    }

    /// Runs `f` on the owner when no live work waits (a prune, a rebuild).
    pub async fn background<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        self.run_on_owner(f, true).await
    }

    /// Runs a read on the reader connection (it sees what is committed), so that it never
    /// holds up a write; in memory, as background work on the owner.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
    {
        let Some(reader) = &self.owner.reader else {
            return self.run_on_owner(move |s| f(s), true).await;
        };
        let (tx, rx) = oneshot::channel();
        let read: Read = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        reader
            .send(read)
            .map_err(|_| StoreError::Unavailable("the local history's reader stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("a local history read did not finish".into()))?
    }

    /// Runs `f` on the owner and waits for it on this thread (synchronous callers, off the
    /// async runtime).
    pub fn blocking<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let call: Call = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.push(Work::Call(call), false)?;
        rx.recv()
            .map_err(|_| StoreError::Unavailable("a local history call did not finish".into()))?
    }
}

fn spawn_reader(store: Store) -> std::sync::mpsc::Sender<Read> {
    let (tx, rx) = std::sync::mpsc::channel::<Read>();
    let spawned = std::thread::Builder::new()
        .name("store-reader".into())
        .spawn(move || {
            while let Ok(read) = rx.recv() {
                read(&store);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the local history's reader");
    }
    tx
}

/// The owner's loop: live work first, writes committed together, background work between.
fn serve(mut store: Store, shared: &Shared) {
    let mut last_commit: Option<std::time::Instant> = None;
    loop {
        let (batch, background) = {
            let mut q = lock(&shared.queue);
            loop {
                if !q.live.is_empty() {
                    // Right after a commit, a short wait gathers the burst's next writes.
                    let busy = last_commit.is_some_and(|t| t.elapsed() < COMMIT_WINDOW);
                    if busy && !q.closed && q.live.len() < FULL_BATCH && only_writes(&q.live) {
                        let deadline = std::time::Instant::now() + COMMIT_WINDOW;
                        q.gathering = true;
                        while q.live.len() < FULL_BATCH && !q.closed && only_writes(&q.live) {
                            let left =
                                deadline.saturating_duration_since(std::time::Instant::now());
                            if left.is_zero() {
                                break;
                            }
                            q = shared
                                .ready
                                .wait_timeout(q, left)
                                .map(|(g, _)| g)
                                .unwrap_or_else(|e| e.into_inner().0);
                        }
                        q.gathering = false;
                    }
                    let n = q.live.len().min(MAX_BATCH);
                    break (q.live.drain(..n).collect::<Vec<_>>(), None);
                }
                if let Some(work) = q.background.pop_front() {
                    break (Vec::new(), Some(work));
                }
                if q.closed {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        };
        if batch.iter().any(|w| matches!(w, Work::Write { .. })) {
            run_batch(&mut store, batch);
            last_commit = Some(std::time::Instant::now());
        } else {
            run_batch(&mut store, batch);
        }
        if let Some(work) = background {
            run_batch(&mut store, vec![work]);
        }
    }
}

/// Whether every waiting piece of work is a write (a call is answered without the wait).
fn only_writes(queue: &VecDeque<Work>) -> bool {
    queue.iter().all(|w| matches!(w, Work::Write { .. }))
}

/// Runs `batch` in order; consecutive writes share one transaction.
fn run_batch(store: &mut Store, batch: Vec<Work>) {
    let mut writes: Vec<(WriteOp, Outcome)> = Vec::new();
    for work in batch {
        match work {
            Work::Write { op, failures, done } => writes.push((op, Outcome { failures, done })),
            Work::Call(call) => {
                commit(store, std::mem::take(&mut writes));
                call(store);
            }
        }
    }
    commit(store, writes);
}

/// Who hears how a write went.
struct Outcome {
    failures: Option<mpsc::UnboundedSender<WriteFailure>>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

impl Outcome {
    fn report(self, op: WriteOp, result: Result<(), StoreError>) {
        if let Some(done) = self.done {
            let _ = done.send(result.as_ref().map(drop).map_err(|e| e.to_string()));
        }
        if let Err(error) = result {
            tracing::warn!(%error, "a local history write failed");
            if let Some(failures) = self.failures {
                let _ = failures.send(WriteFailure { op, error });
            }
        }
    }
}

/// One transaction for `writes`. Each write but the messages runs in a savepoint of its own,
/// so that one that fails leaves the others in; the messages of the whole batch are inserted
/// last, together, without a savepoint (a savepoint would make the full-text index write
/// out what it holds, row by row).
fn commit(store: &mut Store, writes: Vec<(WriteOp, Outcome)>) {
    if writes.is_empty() {
        return;
    }
    let begun = store.begin();
    let not_begun = |e: &StoreError| StoreError::Unavailable(e.to_string());
    let (messages, others): (Vec<_>, Vec<_>) = writes
        .into_iter()
        .partition(|(op, _)| matches!(op, WriteOp::Messages(_)));
    let mut results = Vec::with_capacity(messages.len() + others.len());
    for (op, outcome) in others {
        let result = match &begun {
            Ok(()) => op.apply(store),
            Err(e) => Err(not_begun(e)),
        };
        results.push((op, outcome, result));
    }
    let inserted = match &begun {
        Ok(()) => store
            .insert_messages(messages.iter().filter_map(|(op, _)| match op {
                WriteOp::Messages(m) => Some(m.as_slice()),
                _ => None,
            }))
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    for (op, outcome) in messages {
        let result = inserted.clone().map_err(StoreError::Unavailable);
        results.push((op, outcome, result));
    }
    let committed = match begun {
        Ok(()) => store.commit(),
        Err(e) => Err(e),
    };
    let failed_commit = committed.err().map(|e| e.to_string());
    for (op, outcome, result) in results {
        let result = match (&failed_commit, result) {
            (Some(why), Ok(())) => Err(StoreError::Unavailable(format!("not committed: {why}"))),
            (_, r) => r,
        };
        outcome.report(op, result);
    }
}
