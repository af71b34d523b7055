//! Search over the stored messages' text. Queries of three characters or more go through
//! the trigram index (so a Chinese substring matches anywhere in a sentence); shorter ones
//! cannot form a trigram and scan the text with `LIKE`, newest first, stopping at the limit.

use super::{StoreError, row};
use crate::protocol::{Conversation, Message};
use rusqlite::{Connection, params};
use std::ops::Range;

/// Characters of context kept on each side of the match in a snippet.
const CONTEXT_CHARS: usize = 16;
/// Shortest query the trigram index can answer.
const TRIGRAM: usize = 3;

/// One found message with what a result list shows next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    pub message: Message,
    /// The message's conversation, when it is stored: names for the result list, and what
    /// opening the result shows when the conversation is no longer in the list.
    pub conversation: Option<Conversation>,
    /// The message text around the first match, on one line, `…` where cut.
    pub snippet: String,
    /// Byte range of the match inside `snippet` (for highlighting).
    pub highlight: Option<Range<usize>>,
}

impl SearchHit {
    pub fn peer_nick(&self) -> Option<&str> {
        self.conversation.as_ref()?.peer_nick.as_deref()
    }

    pub fn item_title(&self) -> Option<&str> {
        self.conversation.as_ref()?.item_title.as_deref()
    }
}

/// Escapes `\`, `%` and `_` for `LIKE … ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A query whose `hits` (a `(seq, time)` select, newest first) are then read in full with
/// their conversation's names: only the few hit rows are ever read whole.
macro_rules! read_hits {
    ($hits:literal) => {
        concat!(
            "WITH hits AS (",
            $hits,
            ")
             SELECT m.id, m.cid, m.time, m.sender, m.row, c.json, m.body
             FROM hits
             JOIN messages m ON m.seq = hits.seq
             LEFT JOIN conversations c ON c.cid = m.cid
             ORDER BY hits.time DESC, hits.seq DESC"
        )
    };
}

pub(super) fn run(
    conn: &Connection,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, StoreError> {
    let query = query.trim();
    if query.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    type Row = (Option<Message>, Option<String>, String);
    let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
        Ok((row::read(r, 0)?, r.get(5)?, r.get(6)?))
    };
    let rows: Vec<Row> = if query.chars().count() >= TRIGRAM {
        indexed(conn, query, limit, map)?
    } else {
        let pattern = format!("%{}%", escape_like(query));
        // Walks the (time, body) index newest first, reading full rows only for hits.
        let mut stmt = conn.prepare_cached(read_hits!(
            "SELECT seq, time FROM messages INDEXED BY messages_time_body
             WHERE body LIKE ?1 ESCAPE '\\'
             ORDER BY time DESC, seq DESC LIMIT ?2"
        ))?;
        stmt.query_map(params![pattern, limit], map)?
            .collect::<Result<_, _>>()?
    };
    let mut hits = Vec::with_capacity(rows.len());
    for (message, conv_json, body) in rows {
        let Some(message) = message else {
            continue;
        };
        let conversation = conv_json.and_then(|j| match serde_json::from_str(&j) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "stored conversation not readable");
                None
            }
        });
        let (snippet, highlight) = snippet(&body, query);
        hits.push(SearchHit {
            message,
            conversation,
            snippet,
            highlight,
        });
    }
    Ok(hits)
}

/// The newest `limit` messages holding `query`, through the trigram index. The index knows
/// which rows hold each trigram but not where (`detail=none`), so a row holding all of the
/// query's trigrams is a candidate, and candidates are checked against the text here, newest
/// first, a page at a time. A query of exactly three characters is one trigram: its
/// candidates are its hits.
fn indexed<T>(
    conn: &Connection,
    query: &str,
    limit: i64,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(Option<Message>, T, String)>,
) -> Result<Vec<(Option<Message>, T, String)>, StoreError> {
    // The newest candidates are picked from the small (seq, time) index first; only those
    // few rows are then read in full. Ties in time go to the later stored.
    let mut stmt = conn.prepare_cached(read_hits!(
        "SELECT m.seq, m.time FROM messages_fts f
         JOIN messages m INDEXED BY messages_seq_time ON m.seq = f.rowid
         WHERE messages_fts MATCH ?1
         ORDER BY m.time DESC, m.seq DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let expression = trigram_expression(query);
    let exact = query.chars().count() == TRIGRAM;
    let mut out = Vec::new();
    let mut offset = 0i64;
    let mut page = limit;
    loop {
        let rows: Vec<_> = stmt
            .query_map(params![expression, page, offset], &map)?
            .collect::<Result<_, _>>()?;
        let fetched = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        out.extend(
            rows.into_iter()
                .filter(|(_, _, body)| exact || find_folded(body, query).is_some()),
        );
        if fetched < page || i64::try_from(out.len()).unwrap_or(i64::MAX) >= limit {
            break;
        }
        offset += fetched;
        // Candidates that were not hits: look further at once.
        page = page.saturating_mul(2);
    }
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
}

/// `"abc" AND "bcd" AND …`: every trigram of `query`, each a quoted string (so operators and
/// quotes in the query are only text).
fn trigram_expression(query: &str) -> String {
    let chars: Vec<char> = query.chars().collect();
    let mut seen = std::collections::HashSet::new();
    let mut terms = Vec::new();
    for w in chars.windows(TRIGRAM) {
        // The tokenizer folds case itself (folding here could change the length).
        let t: String = w.iter().collect();
        if seen.insert(t.clone()) {
            terms.push(format!("\"{}\"", t.replace('"', "\"\"")));
        }
    }
    terms.join(" AND ")
}

fn same_char(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Byte range of the first case-insensitive occurrence of `needle` in `hay`.
fn find_folded(hay: &str, needle: &str) -> Option<Range<usize>> {
    let n = needle.chars().count();
    for (start, _) in hay.char_indices() {
        let Some(rest) = hay.get(start..) else {
            continue;
        };
        let mut hay_chars = rest.char_indices();
        let mut matched = 0;
        let mut end = start;
        for nc in needle.chars() {
            match hay_chars.next() {
                Some((i, hc)) if same_char(hc, nc) => {
                    matched += 1;
                    end = start + i + hc.len_utf8();
                }
                _ => break,
            }
        }
        if matched == n {
            return Some(start..end);
        }
    }
    None
}

/// The text around the first match, newlines flattened, with the match's byte range.
pub(crate) fn snippet(body: &str, query: &str) -> (String, Option<Range<usize>>) {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let Some(m) = find_folded(&flat, query) else {
        let cut: String = flat.chars().take(CONTEXT_CHARS * 2).collect();
        let more = flat.chars().count() > CONTEXT_CHARS * 2;
        return (if more { format!("{cut}…") } else { cut }, None);
    };
    let (Some(before), Some(hit), Some(after)) =
        (flat.get(..m.start), flat.get(m.clone()), flat.get(m.end..))
    else {
        return (flat, None);
    };
    let skip = before.chars().count().saturating_sub(CONTEXT_CHARS);
    let mut out = String::new();
    if skip > 0 {
        out.push('…');
    }
    out.extend(before.chars().skip(skip));
    let start = out.len();
    out.push_str(hit);
    let end = out.len();
    out.extend(after.chars().take(CONTEXT_CHARS));
    if after.chars().nth(CONTEXT_CHARS).is_some() {
        out.push('…');
    }
    (out, Some(start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("100%_off\\"), "100\\%\\_off\\\\");
    }

    #[test]
    fn snippet_cuts_around_the_match_on_char_boundaries() {
        let body = format!(
            "{}能便宜点吗？{}",
            "很长的开头".repeat(10),
            "\n结尾".repeat(10)
        );
        let (s, h) = snippet(&body, "能便宜");
        let h = h.unwrap();
        assert_eq!(s.get(h.clone()), Some("能便宜"));
        assert!(s.starts_with('…') && s.ends_with('…'));
        assert!(!s.contains('\n'));
        assert_eq!(
            s.get(..h.start).map(|b| b.chars().count()),
            Some(CONTEXT_CHARS + 1)
        );
    }

    #[test]
    fn snippet_matches_case_insensitively() {
        let (s, h) = snippet("new IPHONE 15", "iphone");
        assert_eq!(s.get(h.unwrap()), Some("IPHONE"));
    }
}
