//! Which chunk holds each stored message id: the store's dedupe. An id of the service's usual
//! form, `<digits>.PNM`, is kept as its number (an integer key is the cheapest row SQLite
//! has, and one is written per message); any other form is kept as its text, so no id is
//! ever mistaken for another.

use super::StoreError;
use crate::protocol::MessageId;
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};

/// Tables of the two forms (schema version 7).
pub const TABLES: &str = "
CREATE TABLE message_ids (
    key   INTEGER PRIMARY KEY,
    chunk INTEGER NOT NULL
);
CREATE TABLE message_text_ids (
    id    TEXT PRIMARY KEY,
    chunk INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The rows `id` is kept under.
enum Key<'a> {
    Number(i64),
    Text(&'a str),
}

/// The number of a `<digits>.PNM` id written without leading zeros (so that the number gives
/// back the very same text), else its text.
fn key(id: &MessageId) -> Key<'_> {
    let s = id.as_str();
    let number = s
        .strip_suffix(".PNM")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .filter(|d| d.len() == 1 || !d.starts_with('0'))
        .and_then(|d| d.parse::<i64>().ok());
    match number {
        Some(n) => Key::Number(n),
        None => Key::Text(s),
    }
}

/// Records ids, with its statements prepared once for a whole batch (the cache lookup of a
/// prepared statement is a noticeable part of a row this small).
pub struct Claims<'c> {
    conn: &'c Connection,
    number: CachedStatement<'c>,
    text: Option<CachedStatement<'c>>,
}

impl<'c> Claims<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Claims {
            conn,
            number: conn
                .prepare_cached("INSERT OR IGNORE INTO message_ids (key, chunk) VALUES (?1, ?2)")?,
            text: None,
        })
    }

    /// Records that chunk `seq` holds `id`; false when the id is stored already.
    pub fn claim(&mut self, id: &MessageId, seq: i64) -> Result<bool, StoreError> {
        let n = match key(id) {
            Key::Number(n) => self.number.execute(params![n, seq])?,
            Key::Text(s) => {
                let stmt = match &mut self.text {
                    Some(stmt) => stmt,
                    None => self.text.insert(self.conn.prepare_cached(
                        "INSERT OR IGNORE INTO message_text_ids (id, chunk) VALUES (?1, ?2)",
                    )?),
                };
                stmt.execute(params![s, seq])?
            }
        };
        Ok(n == 1)
    }
}

/// The chunk that holds `id`, when it is stored.
pub fn chunk_of(conn: &Connection, id: &MessageId) -> Result<Option<i64>, StoreError> {
    let found = match key(id) {
        Key::Number(n) => conn
            .prepare_cached("SELECT chunk FROM message_ids WHERE key = ?1")?
            .query_row(params![n], |r| r.get(0))
            .optional()?,
        Key::Text(s) => conn
            .prepare_cached("SELECT chunk FROM message_text_ids WHERE id = ?1")?
            .query_row(params![s], |r| r.get(0))
            .optional()?,
    };
    Ok(found)
}

/// How many ids are kept: one per stored message. Counted in these small tables rather than
/// by adding up the chunks, which would read every chunk.
pub fn count(conn: &Connection) -> Result<u64, StoreError> {
    let mut n: u64 = 0;
    for sql in [
        "SELECT COUNT(*) FROM message_ids",
        "SELECT COUNT(*) FROM message_text_ids",
    ] {
        let c: i64 = conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?;
        n += u64::try_from(c).unwrap_or(0);
    }
    Ok(n)
}

/// Forgets `id` (its message was deleted).
pub fn forget(conn: &Connection, id: &MessageId) -> Result<(), StoreError> {
    match key(id) {
        Key::Number(n) => conn
            .prepare_cached("DELETE FROM message_ids WHERE key = ?1")?
            .execute(params![n])?,
        Key::Text(s) => conn
            .prepare_cached("DELETE FROM message_text_ids WHERE id = ?1")?
            .execute(params![s])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(TABLES).unwrap();
        c
    }

    #[test]
    fn every_form_of_id_is_kept_apart_from_every_other() {
        let c = conn();
        let ids = [
            "3400000000304.PNM",
            "03400000000304.PNM",
            "3400000000304",
            "0.PNM",
            "00.PNM",
            ".PNM",
            "99999999999999999999.PNM",
            "-1.PNM",
            "abc",
        ];
        for (seq, id) in ids.iter().enumerate() {
            let id = MessageId::new(*id);
            assert!(
                Claims::new(&c).unwrap().claim(&id, seq as i64).unwrap(),
                "{id:?}"
            );
        }
        for (seq, id) in ids.iter().enumerate() {
            let id = MessageId::new(*id);
            assert!(
                !Claims::new(&c).unwrap().claim(&id, 99).unwrap(),
                "{id:?} claimed twice"
            );
            assert_eq!(chunk_of(&c, &id).unwrap(), Some(seq as i64));
        }
        let first = MessageId::new(ids[0]);
        forget(&c, &first).unwrap();
        assert_eq!(chunk_of(&c, &first).unwrap(), None);
        assert_eq!(chunk_of(&c, &MessageId::new(ids[1])).unwrap(), Some(1));
    }
}
