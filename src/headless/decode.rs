//! `goofish-tui decode`: what the client makes of a sync push, offline. Input on stdin is
//! one item's base64 `data`, a sync item object (`{"bizType", "data"}`), a whole `/s/sync`
//! frame (`{"lwp", "body"}`) or a sync body (`{"syncPushPackage": …}`).

use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK};
use crate::protocol::lenient::json_int;
use crate::protocol::sync::{decode_item, decode_sync_body, item_to_json};
use crate::protocol::{SyncEvent, Uid};
use crate::safe_text::{clean, clean_line, escape_json};
use crate::text::i18n::Lang;
use serde_json::{Value, json};
use std::io::{Read, Write};

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Print one JSON document instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// The logged-in account's uid, so own messages are recognised as such.
    #[arg(long, value_name = "UID")]
    pub self_uid: Option<String>,
}

/// Largest input accepted; real frames are a few KiB.
pub const MAX_INPUT: usize = 16 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("no input: pipe a push item's base64, a /s/sync frame or a sync body into stdin")]
    Empty,
    #[error("the input is larger than {MAX_INPUT} bytes")]
    TooLarge,
    #[error("the input is not UTF-8 text (binary data?)")]
    NotText,
    #[error("cannot read stdin: {0}")]
    Read(String),
    #[error("the input looks like JSON but is not valid: {0}")]
    BadJson(String),
    #[error("the JSON is neither a /s/sync frame, a sync body nor a sync item (found keys: {0})")]
    UnknownJson(String),
    #[error("the frame is {0}, not a sync push")]
    NotSync(String),
}

/// One decoded item.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedItem {
    pub biz_type: Option<i64>,
    /// The generic view of the item, or why it could not be read.
    pub tree: Result<Value, String>,
    pub event: SyncEvent,
}

/// Everything found in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// What the input was taken for: `item`, `sync_item`, `frame` or `body`.
    pub input: &'static str,
    pub sync_extra_type: Option<i64>,
    pub items: Vec<DecodedItem>,
}

impl Decoded {
    /// Items the client could not turn into an event.
    pub fn failures(&self) -> Vec<String> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match &it.event {
                SyncEvent::Undecodable { reason, .. } => Some(format!("item {}: {reason}", i + 1)),
                _ => None,
            })
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|it| {
                let (decoded, error) = match &it.tree {
                    Ok(v) => (v.clone(), None),
                    Err(e) => (Value::Null, Some(e.clone())),
                };
                json!({
                    "biz_type": it.biz_type,
                    "decoded": decoded,
                    "decode_error": error,
                    "event": serde_json::to_value(&it.event).unwrap_or(Value::Null),
                })
            })
            .collect();
        json!({"v": 1, "input": self.input, "sync_extra_type": self.sync_extra_type, "items": items})
    }

    /// Readable text: per item the generic tree and a one-line summary of the event.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(t) = self.sync_extra_type {
            out.push_str(&format!(
                "syncExtraType {t}: the client runs getState + ackDiff\n"
            ));
        }
        if self.items.is_empty() {
            out.push_str("no items\n");
        }
        for (i, it) in self.items.iter().enumerate() {
            let biz = it
                .biz_type
                .map(|b| format!(" (bizType {b})"))
                .unwrap_or_default();
            out.push_str(&format!("== item {}{biz}\n", i + 1));
            match &it.tree {
                Ok(v) => {
                    // Escaped rather than dropped: what the item holds is the point here.
                    out.push_str(&escape_json(
                        serde_json::to_string_pretty(v).unwrap_or_default(),
                    ));
                    out.push('\n');
                }
                Err(e) => out.push_str(&format!("(cannot read the item: {e})\n")),
            }
            out.push_str(&format!("-> {}\n", clean_line(&summary(&it.event))));
        }
        out
    }
}

fn summary(ev: &SyncEvent) -> String {
    match ev {
        SyncEvent::Message(m) => {
            let who = if m.is_self {
                "own message".to_string()
            } else {
                format!("message from {}", m.sender)
            };
            let nick = m
                .sender_nick
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let item = m
                .item_id
                .as_ref()
                .map(|i| format!(", item {i}"))
                .unwrap_or_default();
            let system = if m.is_system() { ", system" } else { "" };
            format!(
                "{who}{nick} in {}, id {}{item}{system}, {}: {}",
                m.cid,
                m.id.as_str(),
                m.content.kind(),
                m.content.summary()
            )
        }
        SyncEvent::Receipt { cid, ids, .. } => format!(
            "read receipt in {}: {}",
            cid.as_ref().map(|c| c.to_string()).unwrap_or("?".into()),
            ids.iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SyncEvent::Typing { uid, cid } => format!(
            "{uid} is typing in {}",
            cid.as_ref().map(|c| c.to_string()).unwrap_or("?".into())
        ),
        SyncEvent::CardUpdate {
            cid,
            text,
            red_reminder,
            ..
        } => format!(
            "card update in {}: {text}{}",
            cid.as_ref().map(|c| c.to_string()).unwrap_or("?".into()),
            red_reminder
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        SyncEvent::Recalled { cid, id } => format!(
            "message {} recalled in {}",
            id.as_str(),
            cid.as_ref().map(|c| c.to_string()).unwrap_or("?".into())
        ),
        SyncEvent::System { kind, .. } => format!("system item: {kind}"),
        SyncEvent::Undecodable { reason, .. } => format!("undecodable: {reason}"),
    }
}

fn one_item(data: &str, biz_type: Option<i64>, self_uid: &Uid) -> DecodedItem {
    DecodedItem {
        biz_type,
        tree: item_to_json(data).map_err(|e| e.to_string()),
        event: decode_item(data, biz_type, self_uid),
    }
}

/// Decodes the text of the input. Never panics.
pub fn decode_input(text: &str, self_uid: &Uid) -> Result<Decoded, InputError> {
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(InputError::Empty);
    }
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Ok(Decoded {
            input: "item",
            sync_extra_type: None,
            items: vec![one_item(text, None, self_uid)],
        });
    }
    let v: Value = serde_json::from_str(text).map_err(|e| InputError::BadJson(e.to_string()))?;
    let Value::Object(obj) = &v else {
        return Err(InputError::UnknownJson("not an object".into()));
    };
    let (input, body) = if let Some(lwp) = obj.get("lwp") {
        let lwp = lwp.as_str().unwrap_or("?");
        match obj.get("body") {
            Some(b) if b.get("syncPushPackage").is_some() || b.get("syncExtraType").is_some() => {
                ("frame", b)
            }
            _ => return Err(InputError::NotSync(lwp.to_string())),
        }
    } else if obj.contains_key("syncPushPackage") || obj.contains_key("syncExtraType") {
        ("body", &v)
    } else if let Some(Value::String(data)) = obj.get("data") {
        let biz = obj
            .get("bizType")
            .and_then(json_int)
            .or_else(|| obj.get("objectType").and_then(json_int));
        return Ok(Decoded {
            input: "sync_item",
            sync_extra_type: None,
            items: vec![one_item(data, biz, self_uid)],
        });
    } else {
        let keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
        return Err(InputError::UnknownJson(keys.join(", ")));
    };
    let pushed = decode_sync_body(body, self_uid);
    let raw_items: Vec<Option<(&str, Option<i64>)>> =
        match body.get("syncPushPackage").and_then(|p| p.get("data")) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|it| {
                    let data = it.get("data").and_then(Value::as_str)?;
                    let biz = it
                        .get("bizType")
                        .and_then(json_int)
                        .or_else(|| it.get("objectType").and_then(json_int));
                    Some((data, biz))
                })
                .collect(),
            _ => Vec::new(),
        };
    let items = pushed
        .events
        .into_iter()
        .enumerate()
        .map(|(i, event)| match raw_items.get(i).copied().flatten() {
            Some((data, biz_type)) => DecodedItem {
                biz_type,
                tree: item_to_json(data).map_err(|e| e.to_string()),
                event,
            },
            None => DecodedItem {
                biz_type: None,
                tree: Err("the item has no data string".into()),
                event,
            },
        })
        .collect();
    Ok(Decoded {
        input,
        sync_extra_type: pushed.sync_extra_type,
        items,
    })
}

/// Reads at most `MAX_INPUT` bytes of UTF-8 text.
pub fn read_input(r: &mut impl Read) -> Result<String, InputError> {
    let mut buf = Vec::new();
    r.take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| InputError::Read(e.to_string()))?;
    if buf.len() > MAX_INPUT {
        return Err(InputError::TooLarge);
    }
    String::from_utf8(buf).map_err(|_| InputError::NotText)
}

/// Runs `decode`, speaking `lang`; returns the exit code: 0 decoded, 1 undecodable, 2
/// unreadable input. It needs no settings: it reads nothing but stdin.
pub fn run(lang: Lang, args: &DecodeArgs) -> i32 {
    let self_uid = Uid::new(args.self_uid.as_deref().unwrap_or(""));
    let decoded =
        match read_input(&mut std::io::stdin().lock()).and_then(|t| decode_input(&t, &self_uid)) {
            Ok(d) => d,
            Err(
                e @ (InputError::Empty
                | InputError::TooLarge
                | InputError::NotText
                | InputError::Read(_)),
            ) => {
                super::complain(lang, "decode", &e.to_string());
                return EXIT_LOGIN;
            }
            Err(e) => {
                super::complain(lang, "decode", &e.to_string());
                return EXIT_FAILED;
            }
        };
    // The input is someone else's bytes: its texts are cleaned for the terminal, and the JSON
    // keeps them exact, escaped.
    let text = if args.json {
        escape_json(serde_json::to_string_pretty(&decoded.to_json()).unwrap_or_default())
    } else {
        clean(decoded.to_text().trim_end()).into_owned()
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|_| out.flush());
    }
    let failures = decoded.failures();
    if failures.is_empty() {
        EXIT_OK
    } else {
        for f in failures {
            super::complain(lang, "decode", &f.to_string());
        }
        EXIT_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_inputs_are_typed_errors_or_undecodable_items() {
        let me = Uid::new("2200000000401");
        assert_eq!(decode_input("  \n", &me), Err(InputError::Empty));
        assert!(matches!(
            decode_input("{\"lwp\":", &me),
            Err(InputError::BadJson(_))
        ));
        assert!(matches!(
            decode_input("{\"lwp\":\"/!\",\"body\":{}}", &me),
            Err(InputError::NotSync(_))
        ));
        assert!(matches!(
            decode_input("[1,2]", &me),
            Err(InputError::UnknownJson(_))
        ));
        for junk in ["!!!not base64!!!", "3q2+7w==", "gqFhwA==", "AAAA"] {
            let d = decode_input(junk, &me).unwrap();
            assert_eq!(d.items.len(), 1);
            assert!(
                !d.failures().is_empty() || matches!(d.items[0].event, SyncEvent::System { .. }),
                "{junk}: {:?}",
                d.items[0].event
            );
        }
        assert_eq!(read_input(&mut &[0xff_u8, 0][..]), Err(InputError::NotText));
    }

    #[test]
    fn body_with_extra_type_and_no_items_is_fine() {
        let d = decode_input(r#"{"syncExtraType":{"type":1}}"#, &Uid::new("1")).unwrap();
        assert_eq!(
            (d.input, d.sync_extra_type, d.items.len()),
            ("body", Some(1), 0)
        );
        assert!(d.to_text().contains("getState"));
    }
}
