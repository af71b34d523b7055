//! A chunk: the messages of one conversation that one commit stored, kept as one row and one
//! full-text document. A burst stores each conversation's new messages together, so the
//! table, its indexes and the full-text index are written once per conversation per commit
//! instead of once per message; only the id index (which keeps every id once) grows per
//! message.
//!
//! The row holds, after a version byte, the messages as MessagePack: for each its id, time,
//! sender and the fields of `row`. The document is their search texts, one per line.

use super::row::{self, RowError, RowV1, RowV1Out};
use crate::protocol::{Cid, Message};
use serde::{Deserialize, Serialize};

/// The version written now. Older versions stay readable; a newer one is refused by the
/// schema version before any chunk is read.
pub const VERSION: u8 = 1;

/// At most this many messages in one chunk: reading a page of a conversation decodes whole
/// chunks, and a recall rewrites one.
pub const MAX_MESSAGES: usize = 64;

/// Between two messages' texts in a chunk's document. A query never spans it (search checks
/// each message's own text), and no trigram of one message's text reaches into the next.
pub const SEPARATOR: char = '\n';

#[derive(Serialize)]
struct EntryOut<'a>(&'a str, i64, &'a str, RowV1Out<'a>);

#[derive(Deserialize)]
struct Entry(String, i64, String, RowV1);

/// The row of `messages`, all of one conversation, in the order given.
pub fn encode(messages: &[&Message]) -> Vec<u8> {
    let entries: Vec<EntryOut<'_>> = messages
        .iter()
        .map(|m| EntryOut(m.id.as_str(), m.time, m.sender.as_str(), row::fields_of(m)))
        .collect();
    let mut out = Vec::with_capacity(64 + 96 * messages.len());
    out.push(VERSION);
    // Writing plain data into a Vec cannot fail.
    let _ = rmp_serde::encode::write(&mut out, &entries);
    out
}

/// The messages of the row of a chunk of `cid`.
pub fn decode(cid: &Cid, blob: &[u8]) -> Result<Vec<Message>, RowError> {
    let (&version, rest) = blob.split_first().ok_or(RowError::Empty)?;
    if version != VERSION {
        return Err(RowError::UnknownVersion(version));
    }
    let entries: Vec<Entry> = rmp_serde::from_slice(rest)?;
    Ok(entries
        .into_iter()
        .map(|Entry(id, time, sender, r)| row::message_of(id, cid.clone(), time, sender, r))
        .collect())
}

/// The full-text document of `messages`.
pub fn document(messages: &[&Message]) -> String {
    // Most chat texts are a few dozen bytes: one allocation for the whole chunk, mostly.
    let mut out = String::with_capacity(messages.len() * 32);
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        m.content.push_summary(&mut out);
    }
    out
}

/// The earliest and latest time in `messages` (not empty).
pub fn span(messages: &[&Message]) -> (i64, i64) {
    messages.iter().fold((i64::MAX, i64::MIN), |(lo, hi), m| {
        (lo.min(m.time), hi.max(m.time))
    })
}

/// Newest first, then by id: the order of a conversation's history read backwards.
pub fn newest_first(a: &Message, b: &Message) -> std::cmp::Ordering {
    b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id))
}

/// Oldest first, then by id: the order inside a chunk and on screen.
pub fn oldest_first(a: &Message, b: &Message) -> std::cmp::Ordering {
    newest_first(b, a)
}

/// The `limit` newest of the messages met while walking chunks by their newest message,
/// newest first. Chunks may overlap in time, so a chunk can hold messages newer than one
/// before it; but once `limit` are kept, a chunk that ends before the oldest of them has
/// nothing to add, and neither has any after it.
pub struct Newest {
    limit: usize,
    kept: Vec<Message>,
}

impl Newest {
    pub fn new(limit: usize) -> Self {
        Newest {
            limit,
            kept: Vec::new(),
        }
    }

    /// Whether a chunk whose newest message is at `last` may still add to what is kept
    /// (false: the walk can stop).
    pub fn may_take(&mut self, last: i64) -> bool {
        if self.kept.len() < self.limit {
            return true;
        }
        self.trim();
        self.kept.last().is_none_or(|m| last >= m.time)
    }

    pub fn take(&mut self, messages: impl IntoIterator<Item = Message>) {
        self.kept.extend(messages);
    }

    /// What is kept, newest first.
    pub fn into_sorted(mut self) -> Vec<Message> {
        self.trim();
        self.kept
    }

    fn trim(&mut self) {
        self.kept.sort_by(newest_first);
        self.kept.truncate(self.limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Content, MessageId, Uid};

    fn message(i: i64, content: Content) -> Message {
        Message {
            id: MessageId::new(format!("34000000003{i:02}.PNM")),
            cid: Cid::new("40000000201"),
            sender: Uid::new("1000000101"),
            is_self: i % 2 == 0,
            time: 1_742_458_937_389 + i,
            content,
            item_id: Some("900000000601".into()),
            sender_nick: Some("买家小明😀".into()),
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: None,
        }
    }

    #[test]
    fn a_chunk_gives_back_its_messages_in_order() {
        let ms = [
            message(
                1,
                Content::Text {
                    text: "能便宜点吗？".into(),
                },
            ),
            message(
                2,
                Content::Image {
                    urls: vec!["https://img.alicdn.com/a.jpg".into()],
                },
            ),
            message(
                3,
                Content::trade_card("我已付款".into(), None, Some("1".into())),
            ),
        ];
        let refs: Vec<&Message> = ms.iter().collect();
        let blob = encode(&refs);
        assert_eq!(blob.first(), Some(&VERSION));
        assert_eq!(decode(&ms[0].cid, &blob).unwrap(), ms.to_vec());
        assert_eq!(document(&refs), "能便宜点吗？\n[图片]\n[我已付款]");
        assert_eq!(span(&refs), (ms[0].time, ms[2].time));
    }

    #[test]
    fn the_newest_are_kept_across_overlapping_chunks_and_the_walk_stops_when_none_can_come() {
        let text = |i: i64| message(i, Content::Text { text: "x".into() });
        let mut newest = Newest::new(2);
        // Chunks by their newest message: [5, 9], then [1, 8] (overlapping), then [2, 3].
        assert!(newest.may_take(text(9).time));
        newest.take([text(5), text(9)]);
        assert!(
            newest.may_take(text(8).time),
            "8 is newer than the oldest kept (5)"
        );
        newest.take([text(1), text(8)]);
        assert!(
            !newest.may_take(text(3).time),
            "a chunk ending at 3 cannot beat 8 and 9"
        );
        assert_eq!(newest.into_sorted(), [text(9), text(8)]);
    }

    #[test]
    fn a_broken_chunk_is_an_error_not_a_panic() {
        let cid = Cid::new("1");
        assert!(matches!(decode(&cid, &[]), Err(RowError::Empty)));
        assert!(matches!(
            decode(&cid, &[7, 1]),
            Err(RowError::UnknownVersion(7))
        ));
        let m = message(1, Content::Text { text: "x".into() });
        let good = encode(&[&m]);
        for cut in 0..good.len() {
            let _ = decode(&cid, &good[..cut]);
        }
    }
}
