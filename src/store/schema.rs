//! Versioned schema. `PRAGMA user_version` holds the version; each step upgrades by one
//! inside a transaction, so an interrupted upgrade leaves the previous version intact.

use super::StoreError;
use crate::protocol::Message;
use rusqlite::{Connection, params};

/// The version this binary writes. A database with a higher number is refused.
pub const CURRENT_VERSION: i64 = 7;

/// Version 1: plain tables. Kept verbatim: it is what older databases contain.
pub const V1: &str = "
CREATE TABLE conversations (
    cid         TEXT PRIMARY KEY,
    peer        TEXT NOT NULL,
    peer_nick   TEXT,
    item_id     TEXT,
    item_title  TEXT,
    modify_time INTEGER NOT NULL,
    pinned      INTEGER NOT NULL DEFAULT 0,
    json        TEXT NOT NULL
);
CREATE TABLE messages (
    seq    INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    cid    TEXT NOT NULL,
    time   INTEGER NOT NULL,
    sender TEXT NOT NULL,
    json   TEXT NOT NULL
);
CREATE INDEX messages_cid_time ON messages (cid, time, id);
CREATE TABLE outbox (
    client_id TEXT PRIMARY KEY,
    cid       TEXT NOT NULL,
    text      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    state     TEXT NOT NULL DEFAULT 'queued'
);
CREATE TABLE drafts (
    cid     TEXT PRIMARY KEY,
    text    TEXT NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Version 2: the searchable text of each message (`Content::summary`) and a trigram
/// full-text index over it, kept in sync by triggers.
/// Version 3: inserts are indexed by the insert path instead of a trigger (an FTS5 write
/// inside a trigger flushes a segment per row: several times slower). Deletes keep theirs.
/// A small (seq, time) index lets search order its hits by time without reading each
/// full row; a (time, body) index lets a short query scan only the text, newest first.
const V2_COLUMNS: &str = "
ALTER TABLE messages ADD COLUMN body TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_time ON messages (time, id);
";
const V2_INDEX: &str = "
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content='messages', content_rowid='seq', tokenize='trigram'
);
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER messages_au AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.seq, new.body);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
";
const V3: &str = "
DROP TRIGGER IF EXISTS messages_ai;
CREATE INDEX messages_seq_time ON messages (seq, time);
DROP INDEX IF EXISTS messages_time;
CREATE INDEX messages_time_body ON messages (time, body);
";

/// Version 5: the full-text index keeps which rows hold each trigram, not where in them
/// (`detail=none`): a third of the work per stored message and a smaller file. A substring
/// query is a `LIKE` the index answers with candidates that SQLite then checks against the
/// text, so results are exactly as before.
const V5: &str = "
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content='messages', content_rowid='seq', tokenize='trigram', detail=none
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
";

/// Version 6: no per-row length table in the full-text index (`columnsize=0`): it serves only
/// ranking, which search does not do, and writing it was about a fifth of the index's work
/// per stored message.
const V6: &str = "
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content='messages', content_rowid='seq', tokenize='trigram', detail=none,
    columnsize=0
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
";

/// Version 7: messages kept in chunks (see `chunk`), one row and one full-text document per
/// conversation per commit, and each id once (see `ids`: which chunk holds it). The
/// (cid, last_time, first_time) index finds a conversation's chunks newest first and which
/// of them reach back before a given time without reading them; (seq, last_time) orders
/// full-text candidates by time without reading whole chunks; (last_time, body) lets a short
/// query scan only the text, newest first.
const V7: &str = "
CREATE TABLE chunks (
    seq        INTEGER PRIMARY KEY,
    cid        TEXT NOT NULL,
    first_time INTEGER NOT NULL,
    last_time  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    body       TEXT NOT NULL,
    rows       BLOB NOT NULL
);
CREATE INDEX chunks_cid_time ON chunks (cid, last_time, first_time);
CREATE INDEX chunks_seq_time ON chunks (seq, last_time);
CREATE INDEX chunks_time_body ON chunks (last_time, body);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    body, content='chunks', content_rowid='seq', tokenize='trigram', detail=none,
    columnsize=0
);
CREATE TRIGGER chunks_au AFTER UPDATE OF body ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO chunks_fts (rowid, body) VALUES (new.seq, new.body);
END;
";

/// Re-created around bulk deletes (see `Store::clear`).
pub const DELETE_TRIGGER: &str = "
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
";

pub fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the database to `CURRENT_VERSION`, or refuses one written by a newer binary.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for from in found..CURRENT_VERSION {
        let tx = conn.transaction()?;
        match from {
            0 => tx.execute_batch(V1)?,
            1 => {
                // Bodies first, then the index is built from them in one pass: an
                // external-content index must never be told to delete what it never held.
                tx.execute_batch(V2_COLUMNS)?;
                fill_bodies(&tx)?;
                tx.execute_batch(V2_INDEX)?;
            }
            2 => tx.execute_batch(V3)?,
            3 => {
                // Each message's JSON becomes a row of the store's own type; the JSON
                // column goes.
                tx.execute_batch("ALTER TABLE messages ADD COLUMN row BLOB NOT NULL DEFAULT x''")?;
                json_to_rows(&tx)?;
                tx.execute_batch("ALTER TABLE messages DROP COLUMN json")?;
            }
            4 => tx.execute_batch(V5)?,
            5 => tx.execute_batch(V6)?,
            6 => {
                tx.execute_batch(V7)?;
                tx.execute_batch(super::ids::TABLES)?;
                tx.execute_batch(DELETE_TRIGGER)?;
                rows_to_chunks(&tx)?;
                tx.execute_batch("DROP TABLE messages_fts; DROP TABLE messages;")?;
            }
            _ => {}
        }
        tx.pragma_update(None, "user_version", from + 1)?;
        tx.commit()?;
        tracing::info!(version = from + 1, "local history upgraded");
    }
    Ok(())
}

/// Version 4: messages kept as `row::encode` rows (a type of the store's own) instead of the
/// serde JSON of the protocol's model.
fn json_to_rows(conn: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn.prepare("SELECT seq, json FROM messages")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut update = conn.prepare("UPDATE messages SET row = ?1 WHERE seq = ?2")?;
    for (seq, json) in rows {
        // A row this version cannot read stays empty: skipped when read, not lost silently.
        match serde_json::from_str::<Message>(&json) {
            Ok(m) => {
                update.execute(params![super::row::encode(&m), seq])?;
            }
            Err(e) => tracing::warn!(seq, error = %e, "stored message not readable"),
        }
    }
    Ok(())
}

/// Version 7: the messages of each conversation, oldest first, are stored again as new ones
/// are (in chunks of up to `chunk::MAX_MESSAGES`).
fn rows_to_chunks(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM messages ORDER BY cid, time, id",
        super::row::COLUMNS
    ))?;
    let mut rows = stmt.query([])?;
    // One conversation at a time, so that memory holds one conversation's messages at most.
    let mut pending: Vec<Message> = Vec::new();
    let mut moved = 0;
    while let Some(r) = rows.next()? {
        // A row this version cannot read was logged by `read` and stays out: it could not
        // be shown before either.
        let Some(m) = super::row::read(r, 0)? else {
            continue;
        };
        if pending.first().is_some_and(|p| p.cid != m.cid) {
            moved += super::insert_rows(conn, pending.iter())?;
            pending.clear();
        }
        pending.push(m);
    }
    moved += super::insert_rows(conn, pending.iter())?;
    tracing::info!(messages = moved, "local history regrouped into chunks");
    Ok(())
}

/// Computes `body` for rows written before it existed.
fn fill_bodies(conn: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn.prepare("SELECT seq, json FROM messages")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut update = conn.prepare("UPDATE messages SET body = ?1 WHERE seq = ?2")?;
    for (seq, json) in rows {
        // A row this version cannot read keeps an empty body: unsearchable, not lost.
        match serde_json::from_str::<Message>(&json) {
            Ok(m) => {
                update.execute(params![m.content.summary(), seq])?;
            }
            Err(e) => tracing::warn!(seq, error = %e, "stored message not readable"),
        }
    }
    Ok(())
}
