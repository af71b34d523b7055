//! Search over the stored messages' text. Queries of three characters or more go through
//! the trigram index (so a Chinese substring matches anywhere in a sentence); shorter ones
//! cannot form a trigram and scan the text with `LIKE`, newest first, stopping at the limit.

use super::{StoreError, blob, chunk, read_chunk};
use crate::protocol::{Cid, Conversation, Message};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
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

pub(super) fn run(
    conn: &Connection,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, StoreError> {
    let query = query.trim();
    if query.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // Candidate chunks, newest last message first: through the trigram index (it knows which
    // chunks hold each trigram, not where: `detail=none`), or for a query too short for a
    // trigram by walking the (last_time, body) index. Either way each candidate's messages
    // are then checked one by one here.
    let (candidates, pattern) = if query.chars().count() >= TRIGRAM {
        (
            "SELECT c.seq, c.last_time FROM chunks_fts f
             JOIN chunks c INDEXED BY chunks_seq_time ON c.seq = f.rowid
             WHERE chunks_fts MATCH ?1
             ORDER BY c.last_time DESC, c.seq DESC",
            trigram_expression(query),
        )
    } else {
        (
            "SELECT seq, last_time FROM chunks INDEXED BY chunks_time_body
             WHERE body LIKE ?1 ESCAPE '\\'
             ORDER BY last_time DESC, seq DESC",
            format!("%{}%", escape_like(query)),
        )
    };
    let mut candidates = conn.prepare_cached(candidates)?;
    let mut rows = candidates.query(params![pattern])?;
    let mut load = conn.prepare_cached("SELECT cid, rows FROM chunks WHERE seq = ?1")?;
    let mut newest = chunk::Newest::new(limit);
    while let Some(r) = rows.next()? {
        if !newest.may_take(r.get(1)?) {
            break;
        }
        let mut chunk = load.query(params![r.get::<_, i64>(0)?])?;
        let Some(c) = chunk.next()? else {
            continue;
        };
        let cid = Cid::new(c.get::<_, String>(0)?);
        newest.take(
            read_chunk(&cid, blob(c, 1)?)
                .into_iter()
                .filter(|m| find_folded(&m.content.summary(), query).is_some()),
        );
    }
    let found = newest.into_sorted();
    let mut named = conn.prepare_cached("SELECT json FROM conversations WHERE cid = ?1")?;
    let mut conversations: HashMap<Cid, Option<Conversation>> = HashMap::new();
    let mut hits = Vec::with_capacity(found.len());
    for message in found {
        let conversation = match conversations.get(&message.cid) {
            Some(c) => c.clone(),
            None => {
                let json: Option<String> = named
                    .query_row(params![message.cid.as_str()], |r| r.get(0))
                    .optional()?;
                let c = json.and_then(|j| match serde_json::from_str(&j) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "stored conversation not readable");
                        None
                    }
                });
                conversations.insert(message.cid.clone(), c.clone());
                c
            }
        };
        let (snippet, highlight) = snippet(&message.content.summary(), query);
        hits.push(SearchHit {
            message,
            conversation,
            snippet,
            highlight,
        });
    }
    Ok(hits)
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
