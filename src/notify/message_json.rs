//! The `message` line of `watch --json` (schema v1), also what `[notify] command` reads.

use std::borrow::Cow;

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

impl MessageLine<'_> {
    /// The line as JSON text, written field by field (`watch`'s hot path): a string with
    /// nothing to escape, which is nearly every one, is copied whole. The same text as
    /// serde's form of the struct, which the tests compare it with.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let mut int = itoa::Buffer::new();
        out.push_str("{\"v\":");
        out.push_str(int.format(self.v));
        out.push_str(",\"type\":");
        push_str(&mut out, self.kind_of_line);
        for (key, value) in [
            (",\"cid\":", Some(self.cid)),
            (",\"id\":", Some(self.id)),
            (",\"sender\":", Some(self.sender)),
            (",\"sender_nick\":", self.sender_nick),
        ] {
            out.push_str(key);
            push_opt_str(&mut out, value);
        }
        out.push_str(",\"self\":");
        out.push_str(if self.is_self { "true" } else { "false" });
        out.push_str(",\"system\":");
        out.push_str(if self.system { "true" } else { "false" });
        for (key, value) in [
            (",\"item_id\":", self.item_id),
            (",\"item_title\":", self.item_title),
            (",\"kind\":", Some(self.kind)),
            (",\"text\":", Some(self.text)),
        ] {
            out.push_str(key);
            push_opt_str(&mut out, value);
        }
        out.push_str(",\"time\":");
        out.push_str(int.format(self.time));
        out.push_str(",\"time_iso\":");
        push_opt_str(&mut out, self.time_iso.as_deref());
        out.push('}');
        out
    }
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// `s` as a JSON string; what needs escaping is escaped by serde_json.
fn push_str(out: &mut String, s: &str) {
    if crate::protocol::push_scan::plain_in_json_string(s.as_bytes()) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Serialising a string cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// The `text` of a JSON line: newlines and control characters become spaces, keeping the
/// one-line summary the schema promises. A text without any (nearly every one) is
/// borrowed as it is.
pub fn json_text(s: &str) -> Cow<'_, str> {
    // Control characters are C0 (below 0x20), DEL and C1 (U+0080–U+009F, lead byte 0xC2).
    let plain = s.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != 0x7f) & (b != 0xc2)
    });
    if plain || !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// `ms` as RFC 3339 in UTC with milliseconds, `2026-12-04T03:32:23.123Z`. Four-digit years
/// are written digit by digit (chrono's general formatter is a noticeable part of a line);
/// any other year takes chrono's form.
fn iso_time(ms: i64) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(ms)?;
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999);
    let Some(year) = year else {
        return Some(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    };
    let mut out = String::with_capacity(24);
    push_digits(&mut out, year, 4);
    for (sep, n, width) in [
        ('-', t.month(), 2),
        ('-', t.day(), 2),
        ('T', t.hour(), 2),
        (':', t.minute(), 2),
        (':', t.second(), 2),
        ('.', t.timestamp_subsec_millis(), 3),
    ] {
        out.push(sep);
        push_digits(&mut out, n, width);
    }
    out.push('Z');
    Some(out)
}

/// The last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = n / 10u32.pow(place) % 10;
        out.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

/// `m` as a `message` line, with the names known for it.
pub fn message_json(
    m: &Message,
    sender_nick: Option<&str>,
    item_id: Option<&str>,
    item_title: Option<&str>,
) -> String {
    message_json_of(
        m,
        &m.content.summary_text(),
        sender_nick,
        item_id,
        item_title,
    )
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
    escape_json(line.to_json())
}

/// A JSON line with an `account` field naming whose it is (for a program that serves several
/// accounts); `None` when `line` is not a JSON object.
pub fn with_account(line: &str, uid: &crate::protocol::Uid) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.as_object_mut()?
        .insert("account".into(), serde_json::Value::from(uid.as_str()));
    Some(escape_json(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written line is byte for byte serde's form of it, whatever the strings hold.
    #[test]
    fn the_line_is_what_serde_writes() {
        let strange = [
            "",
            "plain 中文 text",
            "quote \" and \\ backslash",
            "new\nline\ttab\u{1b}[2J\u{7f}\u{85}",
            "emoji 😀 and U+2028 \u{2028}",
        ];
        for (i, s) in strange.iter().enumerate() {
            let line = MessageLine {
                v: SCHEMA_VERSION,
                kind_of_line: "message",
                cid: s,
                id: "3629623529494.PNM",
                sender: s,
                sender_nick: (i % 2 == 0).then_some(*s),
                is_self: i % 2 == 1,
                system: i % 3 == 0,
                item_id: (i % 2 == 1).then_some(*s),
                item_title: Some(s),
                kind: "text",
                text: s,
                time: -(i as i64) * 1_796_235_224_976,
                time_iso: (i % 2 == 0).then(|| s.to_string()),
            };
            assert_eq!(
                line.to_json(),
                serde_json::to_string(&line).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let times = [
            0,
            1,
            999,
            1_796_235_224_976,
            1_733_283_143_007,
            -1,
            -62_135_596_800_000,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
        ];
        for ms in times {
            let chrono = chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            assert_eq!(iso_time(ms), chrono, "{ms}");
        }
        assert_eq!(iso_time(i64::MAX), None);
    }

    #[test]
    fn a_text_loses_its_control_characters_only() {
        assert!(matches!(
            json_text("你好，在吗？…"),
            Cow::Borrowed("你好，在吗？…")
        ));
        assert_eq!(json_text("a\nb\u{85}c\u{7f}d\u{e9}"), "a b c d\u{e9}");
    }
}
