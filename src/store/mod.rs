//! Local history: one SQLite database per account (`store-<uid>.sqlite3` in the data dir)
//! with the conversation list, every message seen, the outbox of unsent texts, drafts and
//! search. The cache lets the screen fill before the network answers, keeps a message typed
//! offline across a crash, and answers searches without the service.
//!
//! The API is synchronous; `Store` owns its connection (the one writer). Async code goes
//! through [`StoreHandle`], which runs calls on the blocking pool.

// Everything here reads outside input: text is cut with `get`, never by a byte index that
// may fall inside a character, and nothing is indexed where a bad length would panic.
#![deny(clippy::string_slice, clippy::indexing_slicing)]

mod chunk;
mod handle;
mod ids;
mod row;
mod schema;
mod search;

pub use handle::{StoreHandle, WriteFailure, WriteOp};
pub use schema::CURRENT_VERSION;
pub use search::{SearchHit, escape_like};

use crate::protocol::{Cid, ClientId, Conversation, Message, MessageId, Uid};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `FROM chunks` limited to the conversation bound as `?1`. Written `cid = CAST(?1 AS TEXT)`,
/// not `cid = ?1`: SQLite (built with STAT4) compiles a statement again at every new value of
/// a bare parameter compared with an indexed column, which doubled the cost of these lookups
/// (the conversation list makes one for each conversation).
macro_rules! chunks_of_cid {
    () => {
        "FROM chunks WHERE cid = CAST(?1 AS TEXT)"
    };
}

/// How long a statement waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the local history database has version {found}, newer than this program supports ({supported}); update goofish-tui or remove it with --clear-cache"
    )]
    TooNew { found: i64, supported: i64 },
    #[error(
        "the local history database {path} is damaged ({detail}); remove it with --clear-cache"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("the local history database {path} is locked by another program")]
    Locked { path: PathBuf },
    #[error("the local history database {path} cannot be written ({detail})")]
    ReadOnly { path: PathBuf, detail: String },
    #[error("cannot use the data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("account id {0:?} cannot name a database file")]
    BadUid(String),
    #[error("local history: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("local history: stored data not readable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("local history: stored messages not readable: {0}")]
    Row(#[from] row::RowError),
    #[error("local history: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Names the file in errors that SQLite reports without it.
    fn at(self, path: &Path) -> StoreError {
        let StoreError::Sqlite(e) = &self else {
            return self;
        };
        let detail = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail,
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
                path: path.to_path_buf(),
            },
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                StoreError::ReadOnly {
                    path: path.to_path_buf(),
                    detail,
                }
            }
            _ => self,
        }
    }
}

/// Where an unsent text stands. Both are sent again at start-up with the same client id:
/// the service answers a repeated id with the first message, so a resend never duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    /// Not yet handed to the network.
    Queued,
    /// Handed to the network at least once; the answer never came.
    Sending,
}

impl OutboxState {
    fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
        }
    }

    fn parse(s: &str) -> OutboxState {
        // Unknown states (from a newer version) are treated as possibly sent.
        match s {
            "queued" => OutboxState::Queued,
            _ => OutboxState::Sending,
        }
    }
}

/// A text waiting in the persistent outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    pub client_id: ClientId,
    pub cid: Cid,
    pub text: String,
    /// When it was typed, ms since the epoch.
    pub created: i64,
    pub state: OutboxState,
}

/// The database file of account `uid` under `dir`.
pub fn db_path(dir: &Path, uid: &Uid) -> Result<PathBuf, StoreError> {
    let s = uid.as_str();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(StoreError::BadUid(s.to_string()));
    }
    Ok(dir.join(format!("store-{s}.sqlite3")))
}

/// Deletes the database of `uid` under `dir` with its WAL side files; returns the files
/// that existed and are gone now.
pub fn remove_db(dir: &Path, uid: &Uid) -> Result<Vec<PathBuf>, StoreError> {
    let main = db_path(dir, uid)?;
    let mut removed = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = main.clone().into_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path: p, source }),
        }
    }
    Ok(removed)
}

/// The accounts that have a database under `dir` (for commands run without a cookie).
pub fn accounts_in(dir: &Path) -> Vec<Uid> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut uids: Vec<Uid> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let uid = name.strip_prefix("store-")?.strip_suffix(".sqlite3")?;
            Some(Uid::new(uid))
        })
        .collect();
    uids.sort();
    uids
}

pub struct Store {
    conn: Connection,
    uid: Uid,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("uid", &self.uid)
            .field("path", &self.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating when missing) the database of `uid` under `dir`, upgrading it.
    pub fn open(dir: &Path, uid: &Uid) -> Result<Store, StoreError> {
        let path = db_path(dir, uid)?;
        crate::private_fs::create_dir(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        // Messages are private: the file is made 0600 before SQLite opens it, and SQLite gives
        // its `-wal` and `-shm` the mode of the database file. Files of an older version that
        // were readable by others are restricted.
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            let made = if suffix.is_empty() {
                crate::private_fs::create_file(&p)
            } else {
                crate::private_fs::restrict(&p, 0o600)
            };
            made.map_err(|source| match source.kind() {
                std::io::ErrorKind::PermissionDenied => StoreError::ReadOnly {
                    detail: source.to_string(),
                    path: p,
                },
                _ => StoreError::Io { path: p, source },
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| StoreError::from(e).at(&path))?;
        Store::setup(conn, uid, Some(path.clone())).map_err(|e| e.at(&path))
    }

    /// A second connection to the database at `path`, for reads only: it sees what the
    /// owner has committed, and never holds up its writes (WAL).
    pub fn open_reader(path: &Path, uid: &Uid) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| StoreError::from(e).at(path))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "cache_size", -16_384)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(Store {
            conn,
            uid: uid.clone(),
            path: Some(path.to_path_buf()),
        })
    }

    /// Starts a transaction that the writes until `commit` share (group commit). Each write
    /// keeps a savepoint of its own inside it.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it so the next works.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }

    /// A database in memory: same behaviour, nothing kept.
    pub fn open_in_memory(uid: &Uid) -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?, uid, None)
    }

    fn setup(mut conn: Connection, uid: &Uid, path: Option<PathBuf>) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The first statement reads the header: a file that is not a database fails here.
        // A newer database is refused before anything (even the journal mode) is changed.
        let found = schema::version(&conn)?;
        if found > CURRENT_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: CURRENT_VERSION,
            });
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if path.is_some() && !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "local history not in WAL mode");
        }
        // WAL + NORMAL: a crash loses at most the last commits, never the file's integrity.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 16 MB of page cache (default 2 MB): batch inserts touch four indexes and the
        // full-text index; sorts of search hits stay in memory.
        conn.pragma_update(None, "cache_size", -16_384)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint every ~40 MB of WAL instead of 4 MB: each checkpoint syncs the file,
        // which dominated bulk inserts. The WAL is cut back to 64 MB after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn,
            uid: uid.clone(),
            path,
        })
    }

    pub fn uid(&self) -> &Uid {
        &self.uid
    }

    /// The file, or None in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    // ---- conversations ----

    /// Inserts or replaces these conversations (others are kept).
    pub fn save_conversations(&mut self, list: &[Conversation]) -> Result<(), StoreError> {
        self.write_conversations(
            list,
            "DO UPDATE SET
                peer = excluded.peer, peer_nick = excluded.peer_nick,
                item_id = excluded.item_id, item_title = excluded.item_title,
                modify_time = excluded.modify_time, pinned = excluded.pinned,
                json = excluded.json",
        )
    }

    /// Inserts those of these conversations that are not stored yet: one first seen in a
    /// message knows less than the stored copy a list gave, and must not replace it.
    pub fn add_new_conversations(&mut self, list: &[Conversation]) -> Result<(), StoreError> {
        self.write_conversations(list, "DO NOTHING")
    }

    fn write_conversations(
        &mut self,
        list: &[Conversation],
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.savepoint()?;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO conversations
                    (cid, peer, peer_nick, item_id, item_title, modify_time, pinned, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (cid) {on_conflict}"
            ))?;
            for c in list {
                stmt.execute(params![
                    c.cid.as_str(),
                    c.peer.as_str(),
                    c.peer_nick,
                    c.item_id,
                    c.item_title,
                    c.modify_time,
                    c.pinned,
                    serde_json::to_string(c)?,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored conversation, newest activity first. Rows this version cannot read
    /// are skipped (and logged).
    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        // One read transaction for the list and the look at each conversation's newest
        // message: a statement outside one takes and drops the file's locks (system calls),
        // which for thousands of conversations was most of the time.
        let _read = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT json FROM conversations ORDER BY modify_time DESC, cid")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            match serde_json::from_str(&json?) {
                Ok(c) => out.push(c),
                Err(e) => tracing::warn!(error = %e, "stored conversation not readable"),
            }
        }
        let mut moved = false;
        for c in &mut out {
            moved |= self.bring_up_to_date(c)?;
        }
        if moved {
            out.sort_by(|a, b| b.modify_time.cmp(&a.modify_time).then(a.cid.cmp(&b.cid)));
        }
        Ok(out)
    }

    /// Brings a stored conversation up to its newest stored message: what arrived after the
    /// list was last fetched (while no view was open, the background core kept storing) is its
    /// last words, and the peer's messages since our last one are unread. True when it changed.
    fn bring_up_to_date(&self, c: &mut Conversation) -> Result<bool, StoreError> {
        let known = c.last_message.as_ref().map_or(c.modify_time, |m| m.time);
        // What is stored after `known`: nothing (the usual case) is answered by the index,
        // without a chunk read.
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT rows ",
            chunks_of_cid!(),
            " AND last_time > ?2"
        ))?;
        let mut rows = stmt.query(params![c.cid.as_str(), known])?;
        let mut since: Vec<Message> = Vec::new();
        while let Some(r) = rows.next()? {
            since.extend(
                read_chunk(&c.cid, blob(r, 0)?)
                    .into_iter()
                    .filter(|m| m.time > known),
            );
        }
        let Some(newest) = since
            .iter()
            .min_by(|a, b| chunk::newest_first(a, b))
            .cloned()
        else {
            return Ok(false);
        };
        if c.last_message.as_ref().is_some_and(|m| m.id == newest.id) {
            return Ok(false);
        }
        // The peer's messages after `known` and after our own last one.
        let unread: u32 = if newest.is_self {
            0
        } else {
            let mine = |m: &&Message| m.sender == self.uid;
            let ours = since.iter().filter(mine).map(|m| m.time).max();
            let n = since
                .iter()
                .filter(|m| !mine(m) && ours.is_none_or(|t| m.time > t))
                .count();
            c.unread
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX))
        };
        c.unread = unread;
        c.modify_time = c.modify_time.max(newest.time);
        c.last_message = Some(newest);
        Ok(true)
    }

    // ---- messages ----

    /// Stores messages in one transaction; ones already stored (same id) are left as they
    /// are. Returns how many were new.
    pub fn save_messages(&mut self, messages: &[Message]) -> Result<usize, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.savepoint()?;
        let added = insert_rows(&tx, messages.iter())?;
        tx.commit()?;
        Ok(added)
    }

    /// As `save_messages`, inside the transaction the caller has open (`begin`), without a
    /// savepoint of its own: a savepoint makes the full-text index write out what it holds,
    /// and holding it until the commit is what makes a batch cheap. The messages of each
    /// conversation across all `batches` become one chunk.
    pub fn insert_messages<'a>(
        &mut self,
        batches: impl IntoIterator<Item = &'a [Message]>,
    ) -> Result<usize, StoreError> {
        insert_rows(&self.conn, batches.into_iter().flatten())
    }

    /// Deletes a message (a recalled one: its text must not come back, nor be found).
    /// Returns whether it was stored.
    pub fn forget_message(&mut self, id: &MessageId) -> Result<bool, StoreError> {
        let tx = self.conn.savepoint()?;
        let Some(seq) = ids::chunk_of(&tx, id)? else {
            return Ok(false);
        };
        let found: Option<(String, Vec<u8>)> = tx
            .query_row(
                "SELECT cid, rows FROM chunks WHERE seq = ?1",
                params![seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((cid, blob)) = found {
            // A chunk that cannot be read cannot be rewritten without its text: refused, so
            // that the recall is not reported done while the text stays.
            let mut kept = chunk::decode(&Cid::new(cid), &blob)?;
            kept.retain(|m| &m.id != id);
            rewrite_chunk(&tx, seq, &kept)?;
        }
        ids::forget(&tx, id)?;
        tx.commit()?;
        Ok(true)
    }

    /// Up to `limit` messages of `cid`, newest first, strictly older than `before`
    /// (time, id) when given: the last message of the previous page.
    pub fn messages(
        &self,
        cid: &Cid,
        before: Option<(i64, &MessageId)>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let older = |m: &Message| {
            before.is_none_or(|(time, id)| m.time < time || (m.time == time && &m.id < id))
        };
        // Chunks newest first by their last message; those that start after `before` hold
        // nothing older and are passed over in the index.
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT last_time, rows ",
            chunks_of_cid!(),
            " AND first_time <= ?2 ORDER BY last_time DESC, first_time DESC"
        ))?;
        let mut rows = stmt.query(params![
            cid.as_str(),
            before.map_or(i64::MAX, |(time, _)| time)
        ])?;
        let mut newest = chunk::Newest::new(limit);
        while let Some(r) = rows.next()? {
            if !newest.may_take(r.get(0)?) {
                break;
            }
            newest.take(read_chunk(cid, blob(r, 1)?).into_iter().filter(older));
        }
        Ok(newest.into_sorted())
    }

    /// The messages of `cid` around one of them (for a search result): up to `older` before
    /// it, then it and up to `newer_cap` after it, oldest first.
    pub fn messages_around(
        &self,
        cid: &Cid,
        at: (i64, &MessageId),
        older: usize,
        newer_cap: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let (time, id) = at;
        let mut out = self.messages(cid, Some(at), older)?;
        out.reverse();
        if newer_cap == 0 {
            return Ok(out);
        }
        let newer = |m: &Message| m.time > time || (m.time == time && &m.id >= id);
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT first_time, rows ",
            chunks_of_cid!(),
            " AND last_time >= ?2 ORDER BY last_time ASC"
        ))?;
        let mut rows = stmt.query(params![cid.as_str(), time])?;
        let mut after: Vec<Message> = Vec::new();
        while let Some(r) = rows.next()? {
            let first: i64 = r.get(0)?;
            if after.len() >= newer_cap {
                after.sort_by(chunk::oldest_first);
                after.truncate(newer_cap);
                // A chunk that starts after the newest message kept has nothing to add.
                if after.last().is_some_and(|m| first > m.time) {
                    continue;
                }
            }
            after.extend(read_chunk(cid, blob(r, 1)?).into_iter().filter(newer));
        }
        after.sort_by(chunk::oldest_first);
        after.truncate(newer_cap);
        out.extend(after);
        Ok(out)
    }

    /// Per conversation with stored messages, the time of its newest one and the ids at
    /// that time (where a catch-up starts).
    pub fn newest_per_conversation(&self) -> Result<Vec<(Cid, i64, Vec<MessageId>)>, StoreError> {
        // The conversations come from the messages themselves (one that a push created may
        // have no row in `conversations` yet, and its messages still count as known), found
        // by seeking from one to the next in the (cid, …) index rather than reading every
        // chunk: this runs before every start's first connection.
        let mut cids = self.conn.prepare_cached(
            "WITH RECURSIVE c(cid) AS (
                 SELECT MIN(cid) FROM chunks
                 UNION ALL
                 SELECT (SELECT MIN(cid) FROM chunks WHERE cid > c.cid) FROM c
                 WHERE c.cid IS NOT NULL
             )
             SELECT cid FROM c WHERE cid IS NOT NULL",
        )?;
        let cids: Vec<String> = cids
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut newest = self.conn.prepare_cached(concat!(
            "SELECT last_time, rows ",
            chunks_of_cid!(),
            " AND last_time = (SELECT MAX(last_time) ",
            chunks_of_cid!(),
            ")"
        ))?;
        let mut out = Vec::with_capacity(cids.len());
        for cid in cids {
            let cid = Cid::new(cid);
            let mut time = None;
            let mut ids = Vec::new();
            let mut rows = newest.query(params![cid.as_str()])?;
            while let Some(r) = rows.next()? {
                let last: i64 = r.get(0)?;
                time = Some(last);
                ids.extend(
                    read_chunk(&cid, blob(r, 1)?)
                        .into_iter()
                        .filter(|m| m.time == last)
                        .map(|m| m.id),
                );
            }
            if let Some(time) = time {
                ids.sort();
                ids.dedup();
                out.push((cid, time, ids));
            }
        }
        Ok(out)
    }

    /// The time of the newest stored message of `cid`.
    pub fn latest_time(&self, cid: &Cid) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(concat!("SELECT MAX(last_time) ", chunks_of_cid!()))?
            .query_row(params![cid.as_str()], |r| r.get(0))?)
    }

    /// How many of `ids` are stored.
    pub fn stored_of(&self, ids: &[MessageId]) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in ids {
            if ids::chunk_of(&self.conn, id)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// How many messages are stored.
    pub fn message_count(&self) -> Result<u64, StoreError> {
        ids::count(&self.conn)
    }

    // ---- outbox ----

    /// Records a text before it goes to the network. Adding the same client id again
    /// keeps the first entry.
    pub fn outbox_add(
        &mut self,
        cid: &Cid,
        client_id: &ClientId,
        text: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (client_id, cid, text, created, state)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                client_id.as_str(),
                cid.as_str(),
                text,
                now_ms,
                OutboxState::Queued.as_str()
            ],
        )?;
        Ok(())
    }

    pub fn outbox_set_state(
        &mut self,
        client_id: &ClientId,
        state: OutboxState,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET state = ?2 WHERE client_id = ?1",
            params![client_id.as_str(), state.as_str()],
        )?;
        Ok(())
    }

    /// The text was delivered (or refused for good); true when it was in the outbox.
    pub fn outbox_remove(&mut self, client_id: &ClientId) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM outbox WHERE client_id = ?1",
            params![client_id.as_str()],
        )?;
        Ok(n > 0)
    }

    /// Texts still to be sent, oldest first.
    pub fn outbox_pending(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT client_id, cid, text, created, state FROM outbox
             ORDER BY created, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OutboxItem {
                client_id: ClientId::new(r.get::<_, String>(0)?),
                cid: Cid::new(r.get::<_, String>(1)?),
                text: r.get(2)?,
                created: r.get(3)?,
                state: OutboxState::parse(&r.get::<_, String>(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- drafts ----

    /// Keeps the unsent text of a conversation; empty (or blank) text deletes it.
    pub fn set_draft(&mut self, cid: &Cid, text: &str) -> Result<(), StoreError> {
        if text.trim().is_empty() {
            self.conn
                .execute("DELETE FROM drafts WHERE cid = ?1", params![cid.as_str()])?;
        } else {
            self.conn.execute(
                "INSERT INTO drafts (cid, text, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cid) DO UPDATE SET text = excluded.text, updated = excluded.updated",
                params![cid.as_str(), text, crate::time::now_ms()],
            )?;
        }
        Ok(())
    }

    pub fn draft(&self, cid: &Cid) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT text FROM drafts WHERE cid = ?1",
                params![cid.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every draft, most recently edited first.
    pub fn drafts(&self) -> Result<Vec<(Cid, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT cid, text FROM drafts ORDER BY updated DESC, cid")?;
        let rows = stmt.query_map([], |r| {
            Ok((Cid::new(r.get::<_, String>(0)?), r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- sync bookkeeping ----

    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    // ---- upkeep ----

    /// Empties every table (the file and its schema stay).
    pub fn clear(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.savepoint()?;
        // Emptied wholesale: the per-row delete trigger would take minutes on a big store.
        tx.execute_batch(
            "INSERT INTO chunks_fts (chunks_fts) VALUES ('delete-all');
             DROP TRIGGER chunks_ad;
             DELETE FROM chunks; DELETE FROM message_ids; DELETE FROM message_text_ids;
             DELETE FROM conversations; DELETE FROM outbox;
             DELETE FROM drafts; DELETE FROM meta;",
        )?;
        tx.execute_batch(schema::DELETE_TRIGGER)?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps only the newest `keep_per_conversation` messages of each conversation
    /// (`None`: no limit, nothing deleted). Returns how many were deleted.
    pub fn prune(&mut self, keep_per_conversation: Option<usize>) -> Result<usize, StoreError> {
        let Some(keep) = keep_per_conversation else {
            return Ok(0);
        };
        let mut removed = 0;
        for cid in self.message_cids()? {
            removed += self.prune_conversation(&cid, keep)?;
        }
        Ok(removed)
    }

    /// The conversations that have stored messages.
    pub fn message_cids(&self) -> Result<Vec<Cid>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT cid FROM chunks")?;
        let cids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(cids.into_iter().map(Cid::new).collect())
    }

    /// Keeps the newest `keep` messages of `cid`: one small step of a prune, so that live
    /// writes can go between conversations. Returns how many were deleted.
    pub fn prune_conversation(&mut self, cid: &Cid, keep: usize) -> Result<usize, StoreError> {
        let stored: i64 = self.conn.query_row(
            concat!("SELECT COALESCE(SUM(count), 0) ", chunks_of_cid!()),
            params![cid.as_str()],
            |r| r.get(0),
        )?;
        if usize::try_from(stored).unwrap_or(0) <= keep {
            return Ok(0);
        }
        let tx = self.conn.savepoint()?;
        let mut all: Vec<(i64, Message)> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(concat!("SELECT seq, rows ", chunks_of_cid!()))?;
            let mut rows = stmt.query(params![cid.as_str()])?;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                // A chunk that cannot be read is left whole: nothing is deleted unseen.
                match chunk::decode(cid, blob(r, 1)?) {
                    Ok(ms) => all.extend(ms.into_iter().map(|m| (seq, m))),
                    Err(e) => tracing::warn!(seq, error = %e, "stored chunk not readable"),
                }
            }
        }
        all.sort_by(|(_, a), (_, b)| chunk::newest_first(a, b));
        if all.len() <= keep {
            return Ok(0);
        }
        let gone = all.split_off(keep);
        // Each chunk that loses messages keeps those of its messages that stay.
        let mut touched: std::collections::BTreeMap<i64, Vec<Message>> =
            gone.iter().map(|(seq, _)| (*seq, Vec::new())).collect();
        for (seq, m) in all {
            if let Some(kept) = touched.get_mut(&seq) {
                kept.push(m);
            }
        }
        for (seq, kept) in &mut touched {
            kept.reverse();
            rewrite_chunk(&tx, *seq, kept)?;
        }
        for (_, m) in &gone {
            ids::forget(&tx, &m.id)?;
        }
        tx.commit()?;
        Ok(gone.len())
    }

    /// Full-text search; see [`search`].
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        search::run(&self.conn, query, limit)
    }
}

/// Inserts `messages` (ones already stored are left): the new ones of each conversation as
/// chunks of their own. How many were new.
pub(super) fn insert_rows<'a>(
    conn: &Connection,
    messages: impl IntoIterator<Item = &'a Message>,
) -> Result<usize, StoreError> {
    let mut next: i64 =
        conn.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM chunks", [], |r| {
            r.get(0)
        })?;
    let mut claims = ids::Claims::new(conn)?;
    // The chunk each conversation is filling: its seq and messages.
    let mut open: Vec<(&Cid, i64, Vec<&Message>)> = Vec::new();
    let mut added = 0;
    for m in messages {
        let at = match open.iter().position(|(cid, _, _)| *cid == &m.cid) {
            Some(at) => at,
            None => {
                open.push((&m.cid, next, Vec::new()));
                next += 1;
                open.len() - 1
            }
        };
        let Some((_, seq, pending)) = open.get_mut(at) else {
            continue;
        };
        if pending.len() >= chunk::MAX_MESSAGES {
            insert_chunk(conn, *seq, pending)?;
            pending.clear();
            *seq = next;
            next += 1;
        }
        // An id is claimed for the chunk it goes into; one already stored (or earlier in
        // this batch) is not claimed again and stays out.
        if claims.claim(&m.id, *seq)? {
            pending.push(m);
            added += 1;
        }
    }
    for (_, seq, mut pending) in open {
        insert_chunk(conn, seq, &mut pending)?;
    }
    Ok(added)
}

/// Writes `messages` (all of one conversation, their ids claimed for `seq`) as chunk `seq`,
/// oldest first, and indexes its text; nothing when there are none.
fn insert_chunk(conn: &Connection, seq: i64, messages: &mut [&Message]) -> Result<(), StoreError> {
    messages.sort_by(|a, b| chunk::oldest_first(a, b));
    let Some(first) = messages.first() else {
        return Ok(());
    };
    let (from, to) = chunk::span(messages);
    let body = chunk::document(messages);
    conn.prepare_cached(
        "INSERT INTO chunks (seq, cid, first_time, last_time, count, body, rows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        first.cid.as_str(),
        from,
        to,
        i64::try_from(messages.len()).unwrap_or(i64::MAX),
        body,
        chunk::encode(messages),
    ])?;
    conn.prepare_cached("INSERT INTO chunks_fts (rowid, body) VALUES (?1, ?2)")?
        .execute(params![seq, body])?;
    Ok(())
}

/// Replaces the messages of chunk `seq` with `kept` (oldest first), or deletes it when none
/// are left; the full-text index follows through the triggers.
fn rewrite_chunk(conn: &Connection, seq: i64, kept: &[Message]) -> Result<(), StoreError> {
    if kept.is_empty() {
        conn.execute("DELETE FROM chunks WHERE seq = ?1", params![seq])?;
        return Ok(());
    }
    let refs: Vec<&Message> = kept.iter().collect();
    let (from, to) = chunk::span(&refs);
    conn.execute(
        "UPDATE chunks SET first_time = ?2, last_time = ?3, count = ?4, body = ?5, rows = ?6
         WHERE seq = ?1",
        params![
            seq,
            from,
            to,
            i64::try_from(refs.len()).unwrap_or(i64::MAX),
            chunk::document(&refs),
            chunk::encode(&refs),
        ],
    )?;
    Ok(())
}

/// The chunk row of column `at`, borrowed from the statement.
pub(super) fn blob<'r>(r: &'r rusqlite::Row<'_>, at: usize) -> Result<&'r [u8], StoreError> {
    r.get_ref(at)?.as_blob().map_err(|e| {
        StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Blob,
            Box::new(e),
        ))
    })
}

/// The messages of a chunk of `cid`; one this version cannot read is logged and gives none,
/// never an error that hides the others.
pub(super) fn read_chunk(cid: &Cid, blob: &[u8]) -> Vec<Message> {
    chunk::decode(cid, blob).unwrap_or_else(|e| {
        tracing::warn!(%cid, error = %e, "stored messages not readable");
        Vec::new()
    })
}
