//! Server-side encoders: sync push items exactly as the real service writes them (§7.3, §7.4,
//! `samples/README.md`), and the `/s/sync` push body (§7.1). Used by the simulator and by
//! round-trip tests of the decoder.

use super::content::{content_to_json, content_type, content_type_of};
use super::ids::{Cid, MessageId, Uid};
use super::model::{Content, Message};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use rmpv::Value;
use std::collections::BTreeMap;

/// Writes `value` as msgpack in the server's "old-spec raw string" mode: strings and binaries
/// as fixstr / str16 / str32 (never str8, never bin), containers in their smallest form,
/// integers in their smallest form (the ms timestamp thus becomes uint64 like in the real
/// capture), floats as float64.
pub fn write_old_spec(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => write_uint(u, out),
            (None, Some(n)) => write_nint(n, out),
            // rmpv integers are always u64 or i64; nothing else can reach here.
            (None, None) => out.push(0xc0),
        },
        Value::F32(f) => write_f64(f64::from(*f), out),
        Value::F64(f) => write_f64(*f, out),
        Value::String(s) => write_raw(s.as_bytes(), out),
        Value::Binary(b) => write_raw(b, out),
        Value::Array(items) => {
            write_len(items.len(), 0x90, 0xdc, 0xdd, out);
            for v in items {
                write_old_spec(v, out);
            }
        }
        Value::Map(entries) => {
            write_len(entries.len(), 0x80, 0xde, 0xdf, out);
            for (k, v) in entries {
                write_old_spec(k, out);
                write_old_spec(v, out);
            }
        }
        Value::Ext(ty, data) => write_ext(*ty, data, out),
    }
}

/// Encodes one value the way the server does and returns the base64 `data` string of an item.
pub fn encode_item(value: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_old_spec(value, &mut out);
    STANDARD.encode(out)
}

fn write_uint(u: u64, out: &mut Vec<u8>) {
    if u < 0x80 {
        out.push(u as u8);
    } else if let Ok(b) = u8::try_from(u) {
        out.extend_from_slice(&[0xcc, b]);
    } else if let Ok(s) = u16::try_from(u) {
        out.push(0xcd);
        out.extend_from_slice(&s.to_be_bytes());
    } else if let Ok(w) = u32::try_from(u) {
        out.push(0xce);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// Negative integers only.
fn write_nint(n: i64, out: &mut Vec<u8>) {
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if let Ok(b) = i8::try_from(n) {
        out.extend_from_slice(&[0xd0, b as u8]);
    } else if let Ok(s) = i16::try_from(n) {
        out.push(0xd1);
        out.extend_from_slice(&s.to_be_bytes());
    } else if let Ok(w) = i32::try_from(n) {
        out.push(0xd2);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_f64(f: f64, out: &mut Vec<u8>) {
    out.push(0xcb);
    out.extend_from_slice(&f.to_be_bytes());
}

/// Old-spec raw: the real capture has 32..=255-byte strings as str16, not str8.
fn write_raw(bytes: &[u8], out: &mut Vec<u8>) {
    let n = bytes.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if let Ok(s) = u16::try_from(n) {
        out.push(0xda);
        out.extend_from_slice(&s.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&len32(n).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

fn write_len(n: usize, fix: u8, m16: u8, m32: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if let Ok(s) = u16::try_from(n) {
        out.push(m16);
        out.extend_from_slice(&s.to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&len32(n).to_be_bytes());
    }
}

fn write_ext(ty: i8, data: &[u8], out: &mut Vec<u8>) {
    let fixed = match data.len() {
        1 => Some(0xd4),
        2 => Some(0xd5),
        4 => Some(0xd6),
        8 => Some(0xd7),
        16 => Some(0xd8),
        _ => None,
    };
    if let Some(marker) = fixed {
        out.push(marker);
    } else if let Ok(b) = u8::try_from(data.len()) {
        out.extend_from_slice(&[0xc7, b]);
    } else if let Ok(s) = u16::try_from(data.len()) {
        out.push(0xc8);
        out.extend_from_slice(&s.to_be_bytes());
    } else {
        out.push(0xc9);
        out.extend_from_slice(&len32(data.len()).to_be_bytes());
    }
    out.push(ty as u8);
    out.extend_from_slice(data);
}

/// msgpack cannot express lengths beyond u32; nothing the simulator builds comes close.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---- small value helpers -------------------------------------------------------------------

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into().into())
}

fn int(n: i64) -> Value {
    Value::from(n)
}

fn imap(entries: Vec<(i64, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
}

fn smap(entries: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (s(k), s(v))).collect())
}

// ---- chat message items (§7.4) -------------------------------------------------------------

/// The 32-hex notification id of a message, derived from its PNM id so the same message always
/// gets the same one (the real service's ids are random-looking; only their shape matters).
pub fn notification_id(id: &MessageId) -> String {
    hex32(id.as_str())
}

fn hex32(seed: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(32);
    for b in Md5::digest(seed.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A masked nickname as in `reminderUrl` (`买***a`): first and last character. Without a
/// nickname the uid is masked the same way.
pub fn masked_nick(nick: Option<&str>, uid: &Uid) -> String {
    let src = nick.filter(|n| !n.is_empty()).unwrap_or(uid.as_str());
    let mut chars = src.chars();
    match (chars.next(), chars.next_back()) {
        (Some(a), Some(b)) => format!("{a}***{b}"),
        (Some(a), None) => format!("{a}***"),
        _ => "***".to_string(),
    }
}

/// The order-state part of a card's `updateKey` (`<cid>:<order>:<state>`), named after the
/// label the way the real capture does (`1_not_pay_seller` for 等待买家付款).
fn card_state(red_reminder: Option<&str>) -> &'static str {
    match red_reminder {
        Some("等待买家付款") => "1_not_pay_seller",
        Some("等待卖家发货") => "2_paid_seller",
        Some("等待买家收货") => "3_shipped_seller",
        Some("交易成功") => "4_success_seller",
        Some("交易关闭") => "5_closed_seller",
        Some("有新交易评价") => "6_rated_seller",
        _ => "0_card",
    }
}

/// The notification phrase of a chat message (`10.reminderNotice`): the same words whatever
/// the text says (§7.4, the real text capture).
pub const NEW_MESSAGE_NOTICE: &str = "发来一条新消息";

/// Whether `msg` is a plain chat message from a buyer, who writes from the Xianyu app: its
/// block `10` then has exactly the key set of the real capture of such a message (§7.4).
fn from_app_sender(msg: &Message) -> bool {
    // A client uuid marks a message sent by a web client like this one.
    !msg.is_self
        && msg.client_id.is_none()
        && matches!(msg.content, Content::Text { .. } | Content::Image { .. })
        && msg.red_reminder.as_deref().is_none_or(str::is_empty)
}

/// Block `10` of a buyer's text (or picture) as the real capture of a message from an Android
/// sender has it: no `closePushReceiver` / `closeUnreadNumber` / `receiver` / `updateHead`,
/// `_platform` instead. [U] for pictures: only a text was captured; its key set is reused.
fn app_extension_block(msg: &Message, hex: String) -> BTreeMap<&'static str, String> {
    let summary = msg.content.summary();
    let mut b = BTreeMap::new();
    // [U] the value: the capture names the key and an Android sender, not what it held.
    b.insert("_platform", "android".to_string());
    b.insert(
        "bizTag",
        serde_json::json!({"sourceId": "S:1", "messageId": hex}).to_string(),
    );
    b.insert("detailNotice", summary.clone());
    // The capture's extJson keys; the `tag` value is the constructed sample's [U].
    let mut ext_json = serde_json::Map::new();
    ext_json.insert("quickReply".into(), "1".into());
    ext_json.insert("messageId".into(), hex.clone().into());
    ext_json.insert("tag".into(), "u".into());
    b.insert("extJson", serde_json::Value::Object(ext_json).to_string());
    b.insert("reminderContent", summary);
    b.insert("reminderNotice", NEW_MESSAGE_NOTICE.to_string());
    b.insert(
        "reminderTitle",
        msg.sender_nick.as_deref().unwrap_or_default().to_string(),
    );
    b.insert("reminderUrl", reminder_url(msg, &hex));
    b.insert("senderUserId", msg.sender.as_str().to_string());
    b.insert("senderUserType", "0".to_string());
    if let Some(t) = msg.session_type {
        b.insert("sessionType", t.to_string());
    }
    b
}

fn reminder_url(msg: &Message, hex: &str) -> String {
    format!(
        "fleamarket://message_chat?itemId={}&peerUserId={}&peerUserNick={}&sid={}&messageId={}&adv=no",
        msg.item_id.as_deref().unwrap_or(""),
        msg.sender,
        masked_nick(msg.sender_nick.as_deref(), &msg.sender),
        msg.cid,
        hex
    )
}

/// The string-keyed extension block of a message: field `10` of a push, `extension` of a
/// history message. Sorted by key like the real capture. `receiver` is left out when unknown
/// (history answers have no single receiver).
pub fn extension_block(msg: &Message, receiver: Option<&Uid>) -> BTreeMap<&'static str, String> {
    let hex = notification_id(&msg.id);
    if from_app_sender(msg) {
        return app_extension_block(msg, hex);
    }
    let summary = msg.content.summary();
    let is_card = matches!(msg.content, Content::TradeCard(_));
    let is_text = matches!(msg.content, Content::Text { .. });
    let plain = matches!(msg.content, Content::Text { .. } | Content::Image { .. });
    let red = msg.red_reminder.as_deref().filter(|r| !r.is_empty());

    let mut ext_json = serde_json::Map::new();
    ext_json.insert("quickReply".into(), "1".into());
    ext_json.insert("messageId".into(), hex.clone().into());
    ext_json.insert(
        "contentType".into(),
        content_type_of(&msg.content).to_string().into(),
    );
    if let Content::TradeCard(card) = &msg.content {
        let order_id = &card.order_id;
        ext_json.insert("msgArg1".into(), "MsgCard".into());
        ext_json.insert(
            "updateKey".into(),
            format!(
                "{}:{}:{}",
                msg.cid,
                order_id.as_deref().unwrap_or(""),
                card_state(red)
            )
            .into(),
        );
    }
    if let Some(uuid) = &msg.client_id {
        // Simulator-chosen [U]: the real service's place for the sender's uuid on a push is
        // unknown (§12.5); it is carried as `extJson.uuid`.
        ext_json.insert("uuid".into(), uuid.clone().into());
    }

    // The notification title is the sender's name for plain chat, an order prompt otherwise.
    let prompt = match &msg.content {
        Content::TradeCard(card) => card.title.clone(),
        _ => summary.clone(),
    };
    let title = if plain && red.is_none() {
        msg.sender_nick.as_deref().unwrap_or_default().to_string()
    } else {
        prompt.clone()
    };

    let mut b = BTreeMap::new();
    let biz_tag = if is_card {
        serde_json::json!({"sourceId": "C2C:card", "messageId": hex})
    } else {
        serde_json::json!({"sourceId": "S:1", "messageId": hex})
    };
    b.insert("bizTag", biz_tag.to_string());
    b.insert("closePushReceiver", "false".to_string());
    b.insert("closeUnreadNumber", "false".to_string());
    b.insert("detailNotice", summary.clone());
    b.insert("extJson", serde_json::Value::Object(ext_json).to_string());
    if let Some(r) = receiver {
        b.insert("receiver", r.as_str().to_string());
    }
    if let Some(r) = red {
        b.insert("redReminder", r.to_string());
        b.insert("redReminderStyle", "1".to_string());
    }
    b.insert("reminderContent", summary.clone());
    let notice = if is_text {
        NEW_MESSAGE_NOTICE.to_string()
    } else if plain {
        summary
    } else {
        prompt
    };
    b.insert("reminderNotice", notice);
    b.insert("reminderTitle", title);
    b.insert("reminderUrl", reminder_url(msg, &hex));
    // `reminderTitle` only names the sender for plain chat; otherwise the nickname needs its
    // own key (`senderNick`, seen occasionally on the real service).
    if msg.sender_nick.is_some() && !(plain && red.is_none()) {
        b.insert(
            "senderNick",
            msg.sender_nick.as_deref().unwrap_or_default().to_string(),
        );
    }
    b.insert("senderUserId", msg.sender.as_str().to_string());
    b.insert("senderUserType", "0".to_string());
    if let Some(t) = msg.session_type {
        b.insert("sessionType", t.to_string());
    }
    b.insert("updateHead", (is_card).to_string());
    b
}

/// A bizType 40000 item for `msg`, delivered to `receiver`, in the full layout of the real
/// capture (§7.4).
pub fn chat_message_item(msg: &Message, receiver: &Uid) -> String {
    encode_item(&chat_message_value(msg, receiver))
}

/// The msgpack value behind [`chat_message_item`].
pub fn chat_message_value(msg: &Message, receiver: &Uid) -> Value {
    let ext = extension_block(msg, Some(receiver));
    let content = match &msg.content {
        // The app writes an empty mention list first (§7.4, the real text capture).
        Content::Text { text } if from_app_sender(msg) => {
            serde_json::json!({"atUsers": [], "contentType": content_type::TEXT, "text": {"text": text}})
                .to_string()
        }
        other => content_to_json(other),
    };
    let inner = imap(vec![
        (1, s("")),
        (2, s(msg.content.summary())),
        (3, s("")),
        (4, int(content_type_of(&msg.content))),
        (5, s(content)),
    ]);
    let body = imap(vec![
        (1, imap(vec![(1, s(msg.sender.im()))])),
        (2, s(msg.cid.im())),
        (3, s(msg.id.as_str())),
        (4, int(0)),
        (5, int(msg.time)),
        (6, imap(vec![(1, int(content_type::CUSTOM)), (3, inner)])),
        // Fields 7, 8, 9, 12: meaning unknown (§12.7); values as in the real capture.
        (7, int(1)),
        (8, int(1)),
        (9, int(0)),
        (10, smap(ext.into_iter().map(|(k, v)| (k.to_string(), v)))),
        (12, int(1)),
    ]);
    Value::Map(vec![
        (int(1), body),
        (
            int(3),
            smap([("needPush".to_string(), msg.need_push.to_string())]),
        ),
    ])
}

// ---- other item layouts (§7.5) -------------------------------------------------------------

/// A read receipt (bizType 40103): `{1: id, 2: 2, 3: 0, 4: cid, 5: 1, 6: time}`. Several ids
/// go as an array in `1` (the array form of §7.5); the cid stays in `4` either way.
pub fn receipt_item(cid: &Cid, ids: &[MessageId], time: i64) -> String {
    let first = match ids {
        [one] => s(one.as_str()),
        many => Value::Array(many.iter().map(|id| s(id.as_str())).collect()),
    };
    encode_item(&imap(vec![
        (1, first),
        (2, int(2)),
        (3, int(0)),
        (4, s(cid.im())),
        (5, int(1)),
        (6, int(time)),
    ]))
}

/// A typing indicator (bizType 40006): `{1: [{1: uid}], 2: cid, 3: time}`. Only the `1`
/// part is attested (§7.5); `2` and `3` are simulator-chosen [U].
pub fn typing_item(uid: &Uid, cid: &Cid, time: i64) -> String {
    encode_item(&imap(vec![
        (1, Value::Array(vec![imap(vec![(1, s(uid.im()))])])),
        (2, s(cid.im())),
        (3, int(time)),
    ]))
}

/// An order-state card update, in the reconstructed layout of §7.5 [U]:
/// `{1: sender, 2: cid, 3: {redReminder}, 4: {reminder block}, 5: time}`.
pub fn card_update_item(
    cid: &Cid,
    sender: &Uid,
    text: &str,
    red_reminder: &str,
    update_key: &str,
    time: i64,
) -> String {
    let ext_json = serde_json::json!({
        "updateKey": update_key,
        "contentType": content_type::TRADE_CARD.to_string(),
        "messageId": hex32(update_key),
    });
    let block = vec![
        ("reminderContent".to_string(), text.to_string()),
        ("reminderTitle".to_string(), red_reminder.to_string()),
        (
            "reminderUrl".to_string(),
            format!(
                "fleamarket://message_chat?peerUserId={}&sid={}&adv=no",
                sender, cid
            ),
        ),
        ("senderUserId".to_string(), sender.as_str().to_string()),
        ("redReminder".to_string(), red_reminder.to_string()),
        ("extJson".to_string(), ext_json.to_string()),
    ];
    encode_item(&imap(vec![
        (1, s(sender.im())),
        (2, s(cid.im())),
        (
            3,
            smap([("redReminder".to_string(), red_reminder.to_string())]),
        ),
        (4, smap(block)),
        (5, int(time)),
    ]))
}

/// An order-state change in the captured layout of §7.5:
/// `{1: "<cid>@goofish", 2: 1, 3: {redReminder, redReminderStyle}, 4: <ms as uint64>}`.
/// The meaning of `2` and of `redReminderStyle` is unknown; the capture's values are used.
pub fn order_status_item(cid: &Cid, red_reminder: &str, time: i64) -> String {
    encode_item(&imap(vec![
        (1, s(cid.im())),
        (2, int(1)),
        (
            3,
            smap([
                ("redReminder".to_string(), red_reminder.to_string()),
                ("redReminderStyle".to_string(), "1".to_string()),
            ]),
        ),
        (4, int(time)),
    ]))
}

/// A recall (bizType 40104). Layout simulator-chosen [U] (never published): modelled on the
/// read receipt, `{1: id, 2: 3 (recalled), 3: 0, 4: cid, 5: 1, 6: time}`; the `2` value keeps
/// it from being mistaken for a receipt by a decoder that ignores bizType.
pub fn recall_item(cid: &Cid, id: &MessageId, time: i64) -> String {
    encode_item(&imap(vec![
        (1, s(id.as_str())),
        (2, int(3)),
        (3, int(0)),
        (4, s(cid.im())),
        (5, int(1)),
        (6, int(time)),
    ]))
}

/// A plain-JSON item (§7.6): base64 of the compact JSON.
pub fn plain_json_item(value: &serde_json::Value) -> String {
    STANDARD.encode(value.to_string())
}

// ---- the push body (§7.1) ------------------------------------------------------------------

/// One entry of `syncPushPackage.data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushItem {
    pub biz_type: i64,
    /// Base64 item, as made by the builders above.
    pub data: String,
}

/// The body of an `/s/sync` push. `pts` is the sync position (microsecond scale); the package
/// times are derived from it. With no items only the extension model (and the extra type)
/// are sent, like a bare "please resync" push.
pub fn sync_push_body(items: &[PushItem], pts: i64, extra_type: Option<i64>) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    if !items.is_empty() {
        let ms = pts / 1000;
        let data: Vec<serde_json::Value> = items
            .iter()
            .map(|it| {
                serde_json::json!({
                    "bizType": it.biz_type,
                    "objectType": it.biz_type,
                    "streamId": "",
                    "data": it.data,
                })
            })
            .collect();
        body.insert(
            "syncPushPackage".into(),
            serde_json::json!({
                "data": data,
                "maxHighPts": 0,
                "maxPts": pts,
                "startSeq": 0,
                "endSeq": 0,
                "minCreateTime": ms,
                "hasMore": 0,
                "timestamp": ms,
            }),
        );
    }
    body.insert(
        "syncExtensionModel".into(),
        serde_json::json!({"reconnectType": 0, "failover": 0, "fingerprint": 0}),
    );
    if let Some(t) = extra_type {
        body.insert("syncExtraType".into(), serde_json::json!({ "type": t }));
    }
    serde_json::Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_old_spec(v, &mut out);
        out
    }

    #[test]
    fn smallest_forms_and_old_spec_strings() {
        assert_eq!(enc(&int(5)), [5]);
        assert_eq!(enc(&int(200)), [0xcc, 200]);
        assert_eq!(enc(&int(40000)), [0xcd, 0x9c, 0x40]);
        assert_eq!(enc(&int(1 << 20))[0], 0xce);
        assert_eq!(enc(&int(1_742_458_817_389))[0], 0xcf);
        assert_eq!(enc(&int(-1)), [0xff]);
        assert_eq!(enc(&int(-100)), [0xd0, (-100i8) as u8]);
        assert_eq!(enc(&int(-1000))[0], 0xd1);
        assert_eq!(enc(&Value::F32(1.5))[0], 0xcb);
        assert_eq!(enc(&s("a".repeat(31)))[0], 0xbf);
        // 32..=255 bytes: str16, never str8.
        assert_eq!(enc(&s("a".repeat(32)))[..3], [0xda, 0, 32]);
        assert_eq!(enc(&s("a".repeat(70_000)))[0], 0xdb);
        assert_eq!(enc(&Value::Binary(vec![1, 2]))[..3], [0xa2, 1, 2]);
        let m16 = Value::Map((0..16).map(|i| (int(i), Value::Nil)).collect());
        assert_eq!(enc(&m16)[..3], [0xde, 0, 16]);
        assert_eq!(enc(&Value::Array(vec![Value::Boolean(true)])), [0x91, 0xc3]);
    }

    #[test]
    fn masks_nicknames() {
        let uid = Uid::new("1000000101");
        assert_eq!(masked_nick(Some("买家小a"), &uid), "买***a");
        assert_eq!(masked_nick(None, &uid), "1***1");
        assert_eq!(masked_nick(Some("x"), &uid), "x***");
    }
}
