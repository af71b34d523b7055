//! The `message` line of `watch --json` (schema v1), also what `[notify] command` reads.

use crate::protocol::Message;
use crate::safe_text::escape_json;

/// Schema version of the JSON lines.
pub const SCHEMA_VERSION: u32 = 1;

/// A `message` line; a struct rather than a `json!` tree: it is `watch`'s hot path.
#[derive(serde::Serialize)]
pub struct MessageLine<'a> {
    pub v: u32,
    #[serde(rename = "type")]
    pub kind_of_line: &'static str,
    pub cid: &'a str,
    pub id: &'a str,
    pub sender: &'a str,
    pub sender_nick: Option<&'a str>,
    #[serde(rename = "self")]
    pub is_self: bool,
    pub system: bool,
    pub item_id: Option<&'a str>,
    pub item_title: Option<&'a str>,
    pub kind: &'static str,
    pub text: &'a str,
    pub time: i64,
    pub time_iso: Option<String>,
}

/// The `text` of a JSON line: newlines and control characters become spaces, keeping the
/// one-line summary the schema promises.
pub fn json_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn iso_time(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// `m` as a `message` line, with the names known for it.
pub fn message_json(
    m: &Message,
    sender_nick: Option<&str>,
    item_id: Option<&str>,
    item_title: Option<&str>,
) -> String {
    message_json_of(m, &m.content.summary(), sender_nick, item_id, item_title)
}

/// As `message_json`, with `m.content.summary()` already at hand (`watch` needs it for more
/// than the line).
pub fn message_json_of(
    m: &Message,
    summary: &str,
    sender_nick: Option<&str>,
    item_id: Option<&str>,
    item_title: Option<&str>,
) -> String {
    let text = json_text(summary);
    let line = MessageLine {
        v: SCHEMA_VERSION,
        kind_of_line: "message",
        cid: m.cid.as_str(),
        id: m.id.as_str(),
        sender: m.sender.as_str(),
        sender_nick,
        is_self: m.is_self,
        system: m.is_system(),
        item_id,
        item_title,
        kind: m.content.kind(),
        text: &text,
        time: m.time,
        time_iso: iso_time(m.time),
    };
    escape_json(serde_json::to_string(&line).unwrap_or_default())
}

/// A JSON line with an `account` field naming whose it is (for a program that serves several
/// accounts); `None` when `line` is not a JSON object.
pub fn with_account(line: &str, uid: &crate::protocol::Uid) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.as_object_mut()?
        .insert("account".into(), serde_json::Value::from(uid.as_str()));
    Some(escape_json(v.to_string()))
}
