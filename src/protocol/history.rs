//! Message history (§6.6) and the conversation list (§6.2–§6.4), both directions: parsers for
//! the client, JSON builders for the simulator. One message seen as a push and in history
//! parses into the same `Message`.

use super::content::{Extension, content_type, parse_content};
use super::ids::{Cid, MessageId, Uid};
use super::lenient::json_int;
use super::model::{Content, Conversation, ConversationPage, HistoryEntry, HistoryPage, Message};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
#[cfg(feature = "sim")]
use {super::content::content_to_json, super::encode::extension_block, serde_json::json};

/// Why a response body (or request body, in the simulator) could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    #[error("{what} has no {field}")]
    Missing {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what}: {field} has an unexpected type")]
    WrongType {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what}: {field} is not base64 of a content JSON")]
    BadContent {
        what: &'static str,
        field: &'static str,
    },
}

// ---- lenient readers -----------------------------------------------------------------------

/// An integer sent as a number or a numeric string.
/// A fractional number is cut to its integer part.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    json_int(v).or_else(|| v.as_f64().map(|f| f as i64))
}

/// `0/1`, booleans, and their string forms.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.trim(), "1" | "true" | "True"),
        _ => false,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn owned_str(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Standard base64 → UTF-8, tolerant of whitespace, missing padding and the URL alphabet.
pub(crate) fn base64_text(data: &str) -> Option<String> {
    let cleaned: String = data
        .chars()
        .filter_map(|c| match c {
            '-' => Some('+'),
            '_' => Some('/'),
            c if c.is_ascii_alphanumeric() || c == '+' || c == '/' => Some(c),
            _ => None,
        })
        .collect();
    let padded = match cleaned.len() % 4 {
        2 => format!("{cleaned}=="),
        3 => format!("{cleaned}="),
        _ => cleaned,
    };
    let bytes = STANDARD.decode(padded).ok()?;
    String::from_utf8(bytes).ok()
}

/// A response body, or a whole response frame whose `body` holds it.
fn unwrap_body(v: &Value) -> &Value {
    match v.get("body") {
        Some(inner) if v.get("code").is_some() || v.get("headers").is_some() => inner,
        _ => v,
    }
}

fn has_more_and_cursor(body: &Value, items: usize) -> (bool, Option<i64>) {
    let next_cursor = body.get("nextCursor").and_then(as_i64);
    let has_more = match body.get("hasMore") {
        Some(v) => truthy(v),
        // [U] Absent in the trimmed real capture: take a cursor on a non-empty page to mean
        // "there is more"; an empty page never has more.
        None => items > 0 && next_cursor.is_some_and(|c| c > 0),
    };
    (has_more, next_cursor)
}

// ---- history messages (§6.6) ---------------------------------------------------------------

/// One history message object (`message` of a model or of a conversation's `lastMessage`).
/// `need_push` comes from the sibling `userExtension` block when there is one.
pub fn parse_message(
    m: &Value,
    fallback_cid: Option<&Cid>,
    self_uid: &Uid,
    need_push: Option<bool>,
) -> Result<Message, ParseError> {
    const WHAT: &str = "history message";
    if !m.is_object() {
        return Err(ParseError::WrongType {
            what: WHAT,
            field: "message",
        });
    }
    let id = str_of(m, "messageId").ok_or(ParseError::Missing {
        what: WHAT,
        field: "messageId",
    })?;
    let cid = str_of(m, "cid")
        .map(Cid::new)
        .or_else(|| fallback_cid.cloned())
        .ok_or(ParseError::Missing {
            what: WHAT,
            field: "cid",
        })?;
    let empty = Map::new();
    let ext_obj = m
        .get("extension")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let ext = Extension::from_json(ext_obj);
    let sender = m
        .pointer("/sender/uid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or(ext.sender_user_id.filter(|s| !s.is_empty()))
        .map(Uid::new)
        .ok_or(ParseError::Missing {
            what: WHAT,
            field: "sender",
        })?;
    let content = message_content(m, &ext)?;
    let ext_json: Option<Value> = ext.ext_json.and_then(|j| serde_json::from_str(j).ok());
    let client_id = str_of(m, "uuid")
        .map(str::to_string)
        .or_else(|| ext_json.as_ref().and_then(|j| owned_str(j, "uuid")));
    Ok(Message {
        id: MessageId::new(id),
        is_self: sender == *self_uid,
        time: m.get("createAt").and_then(as_i64).unwrap_or(0),
        item_id: ext.item_id(),
        sender_nick: ext.sender_nick(&content),
        session_type: ext.session_type(),
        need_push: need_push.unwrap_or(true),
        red_reminder: ext.red_reminder(),
        client_id,
        content,
        cid,
        sender,
    })
}

/// Content from `content.custom.data` (base64 JSON), with the summary fallbacks of §6.6.
/// Without any content JSON or type, a summary is taken as text (the real trimmed capture has
/// only `extension.reminderContent`).
fn message_content(m: &Value, ext: &Extension<'_>) -> Result<Content, ParseError> {
    let content = m.get("content");
    let custom = content.and_then(|c| c.get("custom"));
    let summary = custom
        .and_then(|c| str_of(c, "summary").or_else(|| str_of(c, "degrade")))
        .or(ext.reminder_content.filter(|s| !s.is_empty()))
        .or(ext.detail_notice.filter(|s| !s.is_empty()))
        .or_else(|| {
            m.pointer("/searchableContent/summary")
                .and_then(Value::as_str)
        })
        .unwrap_or("");
    let json: Option<String> = match (custom, content) {
        (Some(c), _) => match c.get("data") {
            Some(Value::String(d)) if !d.trim().is_empty() => {
                Some(base64_text(d).ok_or(ParseError::BadContent {
                    what: "history message",
                    field: "content.custom.data",
                })?)
            }
            _ => None,
        },
        // A bare content object that is not the 101 wrapper: the content JSON itself.
        (None, Some(c))
            if c.is_object()
                && c.get("contentType").and_then(as_i64) != Some(content_type::CUSTOM) =>
        {
            Some(c.to_string())
        }
        _ => None,
    };
    let hint = ext
        .ext_json
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|j| j.get("contentType").and_then(as_i64))
        .or(if json.is_none() && !summary.is_empty() {
            Some(content_type::TEXT)
        } else {
            None
        });
    Ok(parse_content(json.as_deref(), hint, summary))
}

fn need_push_of(v: &Value) -> Option<bool> {
    let np = v.pointer("/userExtension/needPush")?;
    Some(match np {
        Value::String(s) => s.trim() != "false",
        other => truthy(other),
    })
}

/// One page of `listUserMessages` (§6.6), newest first as sent. Models that cannot be read are
/// skipped with a warning.
pub fn parse_history_page(
    body: &Value,
    cid: &Cid,
    self_uid: &Uid,
) -> Result<HistoryPage, ParseError> {
    let body = unwrap_body(body);
    let models = body
        .get("userMessageModels")
        .ok_or(ParseError::Missing {
            what: "history body",
            field: "userMessageModels",
        })?
        .as_array()
        .ok_or(ParseError::WrongType {
            what: "history body",
            field: "userMessageModels",
        })?;
    let entries: Vec<HistoryEntry> = models
        .iter()
        .filter_map(|model| {
            let m = model.get("message").unwrap_or(model);
            let np = need_push_of(model).or_else(|| need_push_of(m));
            match parse_message(m, Some(cid), self_uid, np) {
                Ok(message) => Some(HistoryEntry {
                    message,
                    read_by_peer: model.get("readStatus").and_then(as_i64) == Some(2),
                }),
                Err(e) => {
                    tracing::warn!(cid = %cid, error = %e, "skipping unreadable history message");
                    None
                }
            }
        })
        .collect();
    let (has_more, next_cursor) = has_more_and_cursor(body, models.len());
    Ok(HistoryPage {
        cid: cid.clone(),
        entries,
        has_more,
        next_cursor,
    })
}

/// `custom.type`: 2 for images, 1 for everything else (§6.8).
pub(crate) fn custom_type(content: &Content) -> i64 {
    match content {
        Content::Image { .. } => 2,
        _ => 1,
    }
}

#[cfg(feature = "sim")]
/// The `message` object of a history model for `msg`.
fn message_object(msg: &Message) -> Value {
    let summary = msg.content.summary();
    let ext: Map<String, Value> = extension_block(msg, None)
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    let mut m = json!({
        "messageId": msg.id.as_str(),
        "cid": msg.cid.im(),
        "createAt": msg.time,
        "sender": {"uid": msg.sender.im(), "tag": 0},
        "content": {"contentType": content_type::CUSTOM, "custom": {
            "type": custom_type(&msg.content),
            "summary": summary,
            "title": "",
            "degrade": summary,
            "data": STANDARD.encode(content_to_json(&msg.content)),
        }},
        "extension": ext,
        "conversationType": 1,
        "unreadCount": 0,
        "receiverCount": 2,
        "msgReadStatusSetting": 1,
        "displayStyle": 0,
        "redPointPolicy": 0,
        "recordStatus": 0,
        "searchableContent": {"summary": summary},
        "mtags": {},
        "receivers": [],
    });
    if let (Some(uuid), Some(obj)) = (&msg.client_id, m.as_object_mut()) {
        obj.insert("uuid".into(), Value::String(uuid.clone()));
    }
    m
}

#[cfg(feature = "sim")]
fn need_push_block(msg: &Message) -> Value {
    // [U] Where history carries needPush is unknown; the conversation list has it in the
    // model's `userExtension`, and history models use the same place here.
    json!({"needPush": msg.need_push.to_string()})
}

#[cfg(feature = "sim")]
/// One `userMessageModels` entry for `msg`, as the simulator answers it.
pub fn history_message_json(msg: &Message, read_by_peer: bool) -> Value {
    json!({
        "readStatus": if read_by_peer { 2 } else { 1 },
        "userExtension": need_push_block(msg),
        "message": message_object(msg),
    })
}

#[cfg(feature = "sim")]
/// A `listUserMessages` response body. `entries` newest first.
pub fn history_page_json(
    entries: &[HistoryEntry],
    has_more: bool,
    next_cursor: Option<i64>,
) -> Value {
    let mut body = json!({
        "hasMore": i64::from(has_more),
        "userMessageModels": entries
            .iter()
            .map(|e| history_message_json(&e.message, e.read_by_peer))
            .collect::<Vec<_>>(),
    });
    if let (Some(c), Some(obj)) = (next_cursor, body.as_object_mut()) {
        obj.insert("nextCursor".into(), json!(c));
    }
    body
}

// ---- conversations (§6.2–§6.4) -------------------------------------------------------------

/// System sender uid (闲小蜜); its notification conversations are real contacts.
const SYSTEM_UID: &str = "1400";

/// One `userConvs` / list entry. `None` for entries that are not shown: group chats, hidden
/// conversations, notification-only shells, entries without a cid or a peer.
fn parse_entry(entry: &Value, self_uid: &Uid) -> Option<Conversation> {
    let uc = match entry.get("singleChatUserConversation") {
        Some(uc) => uc,
        // Tolerate a bare user conversation; skip groups and anything else.
        None if entry.get("singleChatConversation").is_some() => entry,
        None => {
            tracing::debug!("skipping a non single-chat conversation entry");
            return None;
        }
    };
    if uc.get("visible").is_some_and(|v| !truthy(v)) {
        return None;
    }
    let sc = uc.get("singleChatConversation")?;
    let cid = Cid::new(str_of(sc, "cid")?);
    let empty = Value::Object(Map::new());
    let ext = sc.get("extension").unwrap_or(&empty);
    let ext_user = owned_str(ext, "extUserId").map(Uid::new);
    let first = str_of(sc, "pairFirst").map(Uid::new);
    let second = str_of(sc, "pairSecond").map(Uid::new);
    // §6.2: pairSecond `0@goofish` is a notification-only shell unless it is the assistant's.
    let shell = second.as_ref().is_some_and(|p| p.as_str() == "0")
        && ext_user.as_ref().is_none_or(|u| u.as_str() != SYSTEM_UID);
    if shell {
        return None;
    }
    let peer = [first, second]
        .into_iter()
        .flatten()
        .find(|p| p != self_uid && p.as_str() != "0" && !p.is_empty())
        .or(ext_user)?;
    let last = uc.get("lastMessage").filter(|l| {
        l.get("message")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    });
    let last_message = last.and_then(|l| {
        let np = need_push_of(l);
        l.get("message")
            .and_then(|m| match parse_message(m, Some(&cid), self_uid, np) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(cid = %cid, error = %e, "unreadable last message");
                    None
                }
            })
    });
    let modify_time = uc
        .get("modifyTime")
        .and_then(as_i64)
        .or(last_message.as_ref().map(|m| m.time))
        .unwrap_or(0);
    Some(Conversation {
        peer_nick: owned_str(ext, &format!("squadName_{}", peer.as_str())),
        item_id: owned_str(ext, "itemId"),
        item_title: owned_str(ext, "itemTitle"),
        item_pic: owned_str(ext, "itemMainPic"),
        modify_time,
        unread: uc
            .get("redPoint")
            .and_then(as_i64)
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
            .unwrap_or(0),
        pinned: uc.get("topRank").and_then(as_i64).is_some_and(|r| r > 0),
        muted: uc.get("muteNotification").is_some_and(truthy),
        red_reminder: uc
            .pointer("/user_extension/redReminder")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        last_message,
        cid,
        peer,
    })
}

/// A `listNewestPagination` response body (§6.2).
pub fn parse_conversation_page(
    body: &Value,
    self_uid: &Uid,
) -> Result<ConversationPage, ParseError> {
    let body = unwrap_body(body);
    let convs = body
        .get("userConvs")
        .ok_or(ParseError::Missing {
            what: "conversation page",
            field: "userConvs",
        })?
        .as_array()
        .ok_or(ParseError::WrongType {
            what: "conversation page",
            field: "userConvs",
        })?;
    let conversations = convs
        .iter()
        .filter_map(|e| parse_entry(e, self_uid))
        .collect();
    let (has_more, next_cursor) = has_more_and_cursor(body, convs.len());
    Ok(ConversationPage {
        conversations,
        has_more,
        next_cursor,
    })
}

/// The array answered by `listNewest` and `getByCids` (§6.3, §6.4). Also accepts a page object
/// (`userConvs`) and a response frame; anything else yields an empty list.
pub fn parse_conversation_list(body: &Value, self_uid: &Uid) -> Vec<Conversation> {
    let body = unwrap_body(body);
    let list = match body {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("userConvs").and_then(Value::as_array) {
            Some(a) => a,
            None => return parse_entry(body, self_uid).into_iter().collect(),
        },
        _ => return Vec::new(),
    };
    list.iter()
        .filter_map(|e| parse_entry(e, self_uid))
        .collect()
}

#[cfg(feature = "sim")]
/// One conversation entry as the simulator answers it. The pair is peer first, self second, as
/// in the samples.
pub fn conversation_entry_json(conv: &Conversation, self_uid: &Uid) -> Value {
    let mut ext = json!({
        "ownerUserId": self_uid.as_str(),
        "ownerUserType": "0",
        "extUserId": conv.peer.as_str(),
        "extUserType": "0",
    });
    if let Some(obj) = ext.as_object_mut() {
        for (k, v) in [
            ("itemId", &conv.item_id),
            ("itemTitle", &conv.item_title),
            ("itemMainPic", &conv.item_pic),
        ] {
            if let Some(v) = v {
                obj.insert(k.into(), json!(v));
            }
        }
        if conv.item_id.is_some() {
            obj.insert("itemSellerId".into(), json!(self_uid.as_str()));
        }
        if let Some(n) = &conv.peer_nick {
            obj.insert(format!("squadName_{}", conv.peer.as_str()), json!(n));
        }
    }
    let mut uc = json!({
        "visible": 1,
        "modifyTime": conv.modify_time,
        "redPoint": conv.unread,
        "joinTime": conv.modify_time,
        "topRank": i64::from(conv.pinned),
        "muteNotification": i64::from(conv.muted),
        "user_extension": {
            "redReminder": conv.red_reminder.clone().unwrap_or_default(),
            "redReminderStyle": if conv.red_reminder.is_some() { "1" } else { "" },
        },
        "singleChatConversation": {
            "cid": conv.cid.im(),
            "pairFirst": conv.peer.im(),
            "pairSecond": self_uid.im(),
            "bizType": "1",
            "msgReadStatusSetting": 1,
            "createAt": conv.modify_time,
            "extension": ext,
        },
    });
    if let (Some(m), Some(obj)) = (&conv.last_message, uc.as_object_mut()) {
        obj.insert(
            "lastMessage".into(),
            json!({
                "readStatus": 1,
                "msgStatus": 0,
                "userExtension": need_push_block(m),
                "recallFeature": {"showRecallStatusSetting": 1},
                "message": message_object(m),
            }),
        );
    }
    json!({"type": 1, "singleChatUserConversation": uc})
}

#[cfg(feature = "sim")]
/// A `listNewestPagination` response body.
pub fn conversation_page_json(
    convs: &[Conversation],
    self_uid: &Uid,
    has_more: bool,
    next_cursor: Option<i64>,
) -> Value {
    let mut body = json!({
        "hasMore": i64::from(has_more),
        "userConvs": convs
            .iter()
            .map(|c| conversation_entry_json(c, self_uid))
            .collect::<Vec<_>>(),
    });
    if let (Some(c), Some(obj)) = (next_cursor, body.as_object_mut()) {
        obj.insert("nextCursor".into(), json!(c));
    }
    body
}
