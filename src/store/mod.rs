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

mod handle;
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
        let Some(newest) = self.messages(&c.cid, None, 1)?.pop() else {
            return Ok(false);
        };
        if newest.time <= known || c.last_message.as_ref().is_some_and(|m| m.id == newest.id) {
            return Ok(false);
        }
        let unread: u32 = if newest.is_self {
            0
        } else {
            let mut count = self.conn.prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE cid = ?1 AND time > ?2 AND sender <> ?3
                   AND time > COALESCE(
                       (SELECT MAX(time) FROM messages WHERE cid = ?1 AND sender = ?3), 0)",
            )?;
            let n: i64 = count
                .query_row(params![c.cid.as_str(), known, self.uid.as_str()], |r| {
                    r.get(0)
                })?;
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
        let added = insert_rows(&tx, messages)?;
        tx.commit()?;
        Ok(added)
    }

    /// As `save_messages`, inside the transaction the caller has open (`begin`), without a
    /// savepoint of its own: a savepoint makes the full-text index write out what it holds,
    /// and holding it until the commit is what makes a batch cheap.
    pub fn insert_messages<'a>(
        &mut self,
        batches: impl IntoIterator<Item = &'a [Message]>,
    ) -> Result<usize, StoreError> {
        let mut added = 0;
        for messages in batches {
            added += insert_rows(&self.conn, messages)?;
        }
        Ok(added)
    }

    /// Deletes a message (a recalled one: its text must not come back, nor be found).
    /// Returns whether it was stored.
    pub fn forget_message(&mut self, id: &MessageId) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM messages WHERE id = ?1", params![id.as_str()])?;
        Ok(n > 0)
    }

    /// Up to `limit` messages of `cid`, newest first, strictly older than `before`
    /// (time, id) when given: the last message of the previous page.
    pub fn messages(
        &self,
        cid: &Cid,
        before: Option<(i64, &MessageId)>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<Option<Message>> = match before {
            None => {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT {} FROM messages WHERE cid = ?1
                     ORDER BY time DESC, id DESC LIMIT ?2",
                    row::COLUMNS
                ))?;
                stmt.query_map(params![cid.as_str(), limit], |r| row::read(r, 0))?
                    .collect::<Result<_, _>>()?
            }
            Some((time, id)) => {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT {} FROM messages
                     WHERE cid = ?1 AND (time < ?2 OR (time = ?2 AND id < ?3))
                     ORDER BY time DESC, id DESC LIMIT ?4",
                    row::COLUMNS
                ))?;
                stmt.query_map(params![cid.as_str(), time, id.as_str(), limit], |r| {
                    row::read(r, 0)
                })?
                .collect::<Result<_, _>>()?
            }
        };
        Ok(rows.into_iter().flatten().collect())
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
        let cap = i64::try_from(newer_cap).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM messages
             WHERE cid = ?1 AND (time > ?2 OR (time = ?2 AND id >= ?3))
             ORDER BY time ASC, id ASC LIMIT ?4",
            row::COLUMNS
        ))?;
        let rows: Vec<Option<Message>> = stmt
            .query_map(params![cid.as_str(), time, id.as_str(), cap], |r| {
                row::read(r, 0)
            })?
            .collect::<Result<_, _>>()?;
        out.extend(rows.into_iter().flatten());
        Ok(out)
    }

    /// Per conversation with stored messages, the time of its newest one and the ids at
    /// that time (where a catch-up starts).
    pub fn newest_per_conversation(&self) -> Result<Vec<(Cid, i64, Vec<MessageId>)>, StoreError> {
        // The conversations come from the messages themselves (one that a push created may
        // have no row in `conversations` yet, and its messages still count as known), found
        // by seeking from one to the next in the (cid, time, id) index rather than reading
        // every stored message: this runs before every start's first connection.
        let mut cids = self.conn.prepare_cached(
            "WITH RECURSIVE c(cid) AS (
                 SELECT MIN(cid) FROM messages
                 UNION ALL
                 SELECT (SELECT MIN(cid) FROM messages WHERE cid > c.cid) FROM c
                 WHERE c.cid IS NOT NULL
             )
             SELECT cid FROM c WHERE cid IS NOT NULL",
        )?;
        let cids: Vec<String> = cids
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut newest = self.conn.prepare_cached(
            "SELECT time, id FROM messages WHERE cid = ?1
             AND time = (SELECT MAX(time) FROM messages WHERE cid = ?1)",
        )?;
        let mut out = Vec::with_capacity(cids.len());
        for cid in cids {
            let rows: Vec<(i64, String)> = newest
                .query_map(params![cid], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if let Some(&(time, _)) = rows.first() {
                let ids = rows.into_iter().map(|(_, id)| MessageId::new(id)).collect();
                out.push((Cid::new(cid), time, ids));
            }
        }
        Ok(out)
    }

    /// The time of the newest stored message of `cid`.
    pub fn latest_time(&self, cid: &Cid) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(time) FROM messages WHERE cid = ?1",
            params![cid.as_str()],
            |r| r.get(0),
        )?)
    }

    /// How many of `ids` are stored.
    pub fn stored_of(&self, ids: &[MessageId]) -> Result<usize, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?;
        let mut n = 0;
        for id in ids {
            if stmt.exists(params![id.as_str()])? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// How many messages are stored.
    pub fn message_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
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
            "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
             DROP TRIGGER messages_ad;
             DELETE FROM messages; DELETE FROM conversations; DELETE FROM outbox;
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
            .prepare_cached("SELECT DISTINCT cid FROM messages")?;
        let cids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(cids.into_iter().map(Cid::new).collect())
    }

    /// Keeps the newest `keep` messages of `cid`: one small step of a prune, so that live
    /// writes can go between conversations. Returns how many were deleted.
    pub fn prune_conversation(&mut self, cid: &Cid, keep: usize) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let n = self.conn.execute(
            "DELETE FROM messages WHERE seq IN (
                SELECT seq FROM messages WHERE cid = ?1
                ORDER BY time DESC, id DESC LIMIT -1 OFFSET ?2)",
            params![cid.as_str(), keep],
        )?;
        Ok(n)
    }

    /// Full-text search; see [`search`].
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        search::run(&self.conn, query, limit)
    }
}

/// Inserts `messages` (ones already stored are left) and indexes the new ones; how many
/// were new.
fn insert_rows(conn: &Connection, messages: &[Message]) -> Result<usize, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO messages (id, cid, time, sender, row, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut index =
        conn.prepare_cached("INSERT INTO messages_fts (rowid, body) VALUES (?1, ?2)")?;
    let mut added = 0;
    for m in messages {
        let body = m.content.summary();
        let n = insert.execute(params![
            m.id.as_str(),
            m.cid.as_str(),
            m.time,
            m.sender.as_str(),
            row::encode(m),
            body,
        ])?;
        // Only a new row is indexed: a duplicate must not be indexed twice.
        if n == 1 {
            index.execute(params![conn.last_insert_rowid(), body])?;
            added += 1;
        }
    }
    Ok(added)
}
