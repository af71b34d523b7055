//! Push encoders (`protocol::encode`): byte-exact against the real capture, shape-exact against
//! the constructed samples, and round trips through the push decoder.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use goofish_tui::protocol::encode::{
    PushItem, card_update_item, chat_message_item, encode_item, order_status_item, plain_json_item,
    recall_item, receipt_item, sync_push_body, typing_item, write_old_spec,
};
use goofish_tui::protocol::sync::{decode_item, decode_sync_body, item_to_json};
use goofish_tui::protocol::{Cid, Content, Message, MessageId, SyncEvent, Uid};
use serde_json::{Value, json};
use std::path::PathBuf;

const SELF: &str = "2200000000401";
const PEER: &str = "1000000101";
const CID: &str = "40000000201";

use crate::samples as shared_samples;

fn samples() -> Option<PathBuf> {
    shared_samples::dir()
}

fn read(dir: &std::path::Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

/// Decodes a base64 msgpack item with rmpv and re-encodes it with `write_old_spec`.
fn reencode(b64: &str) -> String {
    let bytes = STANDARD.decode(b64.trim()).unwrap();
    let mut rd = bytes.as_slice();
    let value = rmpv::decode::read_value(&mut rd).unwrap();
    assert!(rd.is_empty(), "trailing bytes after the item");
    let mut out = Vec::new();
    write_old_spec(&value, &mut out);
    STANDARD.encode(out)
}

fn decode_msg(data: &str) -> Message {
    match decode_item(data, Some(40000), &Uid::new(SELF)) {
        SyncEvent::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn real_order_card_reencodes_byte_for_byte() {
    let Some(dir) = samples() else { return };
    let original = read(&dir, "real/order-card-item.b64");
    assert_eq!(reencode(&original), original.trim());
}

#[test]
fn every_constructed_msgpack_item_reencodes_byte_for_byte() {
    let Some(dir) = samples() else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("constructed")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("b64") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let bytes = STANDARD.decode(text.trim()).unwrap();
        if serde_json::from_slice::<Value>(&bytes).is_ok() {
            // A plain-JSON item: checked by `plain_json_item_matches_the_sample`.
            continue;
        }
        assert_eq!(reencode(&text), text.trim(), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} msgpack items found");
}

#[test]
fn plain_json_item_matches_the_sample() {
    let Some(dir) = samples() else { return };
    let sample = read(&dir, "constructed/plain-json-item.b64");
    let value: Value = serde_json::from_slice(&STANDARD.decode(sample.trim()).unwrap()).unwrap();
    let ours = plain_json_item(&value);
    assert_eq!(
        serde_json::from_slice::<Value>(&STANDARD.decode(&ours).unwrap()).unwrap(),
        value
    );
    match decode_item(&ours, None, &Uid::new(SELF)) {
        SyncEvent::System { kind, json } => {
            assert_eq!(kind, "chatType");
            assert_eq!(json, value);
        }
        other => panic!("{other:?}"),
    }
}

fn msg(id: &str, sender: &str, content: Content, nick: Option<&str>) -> Message {
    Message {
        id: MessageId::new(id),
        cid: Cid::new(CID),
        sender: Uid::new(sender),
        is_self: sender == SELF,
        time: 1_742_458_877_389,
        content,
        item_id: Some("900000000601".into()),
        sender_nick: nick.map(Into::into),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

fn receiver_of(m: &Message) -> Uid {
    Uid::new(if m.is_self { PEER } else { SELF })
}

#[test]
fn text_item_matches_the_constructed_layout() {
    let Some(dir) = samples() else { return };
    let sample = item_to_json(&read(&dir, "constructed/text-incoming-item.b64")).unwrap();
    let m = msg(
        "3400000000302.PNM",
        PEER,
        Content::Text {
            text: "你好，还在吗？".into(),
        },
        Some("买家小明"),
    );
    let ours = item_to_json(&chat_message_item(&m, &Uid::new(SELF))).unwrap();
    // Everything outside the extension block is the same, field for field, but for the
    // mention list the real capture of an app text has (§7.4) and the constructed sample lacks.
    for k in ["1", "2", "3", "4", "5", "7", "8", "9", "12"] {
        assert_eq!(ours["1"][k], sample["1"][k], "field 1.{k}");
    }
    for k in ["1", "2", "3", "4"] {
        assert_eq!(
            ours["1"]["6"]["3"][k], sample["1"]["6"]["3"][k],
            "field 1.6.3.{k}"
        );
    }
    assert_eq!(ours["1"]["6"]["1"], sample["1"]["6"]["1"]);
    let content = |v: &Value| -> Value { serde_json::from_str(v.as_str().unwrap()).unwrap() };
    let mut our_content = content(&ours["1"]["6"]["3"]["5"]);
    assert_eq!(our_content["atUsers"], json!([]));
    our_content.as_object_mut().unwrap().remove("atUsers");
    assert_eq!(our_content, content(&sample["1"]["6"]["3"]["5"]));
    assert_eq!(ours["3"], sample["3"]);
    // The constructed block `10` is illustrative where the real capture differs
    // (`reminderNotice`, the close/receiver flags): only the keys both agree on.
    for k in [
        "detailNotice",
        "reminderContent",
        "reminderTitle",
        "senderUserId",
        "senderUserType",
        "sessionType",
    ] {
        assert_eq!(ours["1"]["10"][k], sample["1"]["10"][k], "field 10.{k}");
    }
    let url = ours["1"]["10"]["reminderUrl"].as_str().unwrap();
    assert!(
        url.starts_with(
            "fleamarket://message_chat?itemId=900000000601&peerUserId=1000000101&peerUserNick=买***明&sid=40000000201&messageId="
        ),
        "{url}"
    );
    assert!(url.ends_with("&adv=no"));
}

/// The real order card, rebuilt from what the decoder makes of it, has the real key order
/// (message level and block `10`), the same wire types, and decodes to the same message.
#[test]
fn order_card_rebuilt_like_the_real_capture() {
    let Some(dir) = samples() else { return };
    let real = read(&dir, "real/order-card-item.b64");
    let decoded = decode_msg(real.trim());
    let ours = chat_message_item(&decoded, &Uid::new(SELF));
    assert_eq!(decode_msg(&ours), decoded);

    let value = |b64: &str| {
        let bytes = STANDARD.decode(b64.trim()).unwrap();
        rmpv::decode::read_value(&mut bytes.as_slice()).unwrap()
    };
    let keys = |v: &rmpv::Value| -> Vec<String> {
        v.as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect()
    };
    let (r, o) = (value(&real), value(&ours));
    assert_eq!(keys(&o), keys(&r));
    let first = |v: &rmpv::Value| v.as_map().unwrap()[0].1.clone();
    assert_eq!(keys(&first(&o)), keys(&first(&r)));
    let block = |v: &rmpv::Value| v.as_map().unwrap()[0].1.as_map().unwrap()[9].1.clone();
    assert_eq!(keys(&block(&o)), keys(&block(&r)));
    // Same markers where the real item has them: map16 for the 16-key block, uint64 time.
    let bytes = STANDARD.decode(&ours).unwrap();
    assert!(bytes.windows(3).any(|w| w == [0xde, 0x00, 0x10]));
    assert!(bytes.windows(2).any(|w| w == [0x05, 0xcf]));

    let o_json = item_to_json(&ours).unwrap();
    let r_json = item_to_json(&real).unwrap();
    for k in [
        "receiver",
        "redReminder",
        "redReminderStyle",
        "reminderContent",
        "senderUserId",
        "sessionType",
        "updateHead",
        "detailNotice",
    ] {
        assert_eq!(o_json["1"]["10"][k], r_json["1"]["10"][k], "10.{k}");
    }
    let ext: Value = serde_json::from_str(o_json["1"]["10"]["extJson"].as_str().unwrap()).unwrap();
    assert_eq!(
        ext["updateKey"],
        "40000000201:2500000000000000501:1_not_pay_seller"
    );
    assert_eq!(ext["msgArg1"], "MsgCard");
    assert_eq!(ext["contentType"], "26");
    assert_eq!(ext["messageId"].as_str().unwrap().len(), 32);
}

fn sample_messages() -> Vec<Message> {
    let card = Content::trade_card(
        "我已付款，等待你发货".into(),
        Some("请及时发货".into()),
        Some("2500000000000000501".into()),
    );
    let mut v = Vec::new();
    for sender in [PEER, SELF] {
        let nick = if sender == PEER {
            "买家小明"
        } else {
            "卖家小店"
        };
        v.push(msg(
            "3400000000310.PNM",
            sender,
            Content::Text {
                text: "包邮吗？😀 \"quoted\"\n第二行".into(),
            },
            Some(nick),
        ));
        v.push(msg(
            "3400000000311.PNM",
            sender,
            Content::Image {
                urls: vec!["https://img/1.jpg".into(), "https://img/2.jpg".into()],
            },
            Some(nick),
        ));
        let mut c = msg("3400000000312.PNM", sender, card.clone(), None);
        c.red_reminder = Some("等待卖家发货".into());
        v.push(c.clone());
        // A nickname on a card travels in `senderNick`.
        c.sender_nick = Some(nick.into());
        c.id = MessageId::new("3400000000313.PNM");
        v.push(c);
        let mut n = msg(
            "3400000000314.PNM",
            sender,
            Content::Notice {
                text: "退款成功".into(),
            },
            None,
        );
        n.need_push = false;
        n.session_type = Some(2);
        v.push(n);
        let mut u = msg(
            "3400000000315.PNM",
            sender,
            Content::Unknown {
                content_type: 3,
                summary: "[语音]".into(),
            },
            None,
        );
        u.item_id = None;
        u.session_type = None;
        v.push(u);
        // A long text (str16) without a nickname.
        v.push(msg(
            "3400000000316.PNM",
            sender,
            Content::Text {
                text: "很长的消息".repeat(40).into(),
            },
            None,
        ));
    }
    v
}

#[test]
fn chat_messages_round_trip_through_the_decoder() {
    for m in sample_messages() {
        let data = chat_message_item(&m, &receiver_of(&m));
        assert_eq!(decode_msg(&data), m, "{:?}", m.content);
    }
}

#[test]
fn client_id_is_carried_in_ext_json() {
    let mut m = sample_messages().remove(0);
    m.client_id = Some("-17424589073891".into());
    let json = item_to_json(&chat_message_item(&m, &receiver_of(&m))).unwrap();
    let ext: Value = serde_json::from_str(json["1"]["10"]["extJson"].as_str().unwrap()).unwrap();
    assert_eq!(ext["uuid"], "-17424589073891");
    // …and the decoder reads it back, so an echo is tied to its send.
    let me = receiver_of(&m);
    match decode_item(&chat_message_item(&m, &me), Some(40000), &m.sender) {
        SyncEvent::Message(back) => assert_eq!(back.client_id.as_deref(), Some("-17424589073891")),
        other => panic!("{other:?}"),
    }
    // The 32-hex notification id is stable for one PNM id and differs between messages.
    let again = item_to_json(&chat_message_item(&m, &receiver_of(&m))).unwrap();
    assert_eq!(json, again);
    let mut other = m.clone();
    other.id = MessageId::new("3400000000399.PNM");
    let other = item_to_json(&chat_message_item(&other, &receiver_of(&m))).unwrap();
    let hex = |j: &Value| {
        serde_json::from_str::<Value>(j["1"]["10"]["extJson"].as_str().unwrap()).unwrap()
            ["messageId"]
            .clone()
    };
    assert_ne!(hex(&json), hex(&other));
}

#[test]
fn receipt_item_equals_the_sample() {
    let cid = Cid::new(CID);
    let id = MessageId::new("3400000000303.PNM");
    let data = receipt_item(&cid, std::slice::from_ref(&id), 1_742_458_967_389);
    if let Some(dir) = samples() {
        assert_eq!(
            data,
            read(&dir, "constructed/read-receipt-40103-item.b64").trim()
        );
    }
    assert_eq!(
        decode_item(&data, Some(40103), &Uid::new(SELF)),
        SyncEvent::Receipt {
            cid: Some(cid.clone()),
            ids: vec![id],
            time: Some(1_742_458_967_389),
        }
    );
    let ids = vec![
        MessageId::new("3400000000303.PNM"),
        MessageId::new("3400000000305.PNM"),
    ];
    assert_eq!(
        decode_item(&receipt_item(&cid, &ids, 7), Some(40103), &Uid::new(SELF)),
        SyncEvent::Receipt {
            cid: Some(cid),
            ids,
            time: Some(7),
        }
    );
}

#[test]
fn typing_item_has_the_attested_shape() {
    let (uid, cid) = (Uid::new(PEER), Cid::new(CID));
    let data = typing_item(&uid, &cid, 1_742_458_967_389);
    let json = item_to_json(&data).unwrap();
    if let Some(dir) = samples() {
        let sample = item_to_json(&read(&dir, "constructed/typing-item.b64")).unwrap();
        assert_eq!(json["1"], sample["1"]);
        assert_eq!(json["2"], sample["2"]);
    }
    assert_eq!(
        decode_item(&data, Some(40006), &Uid::new(SELF)),
        SyncEvent::Typing {
            uid,
            cid: Some(cid)
        }
    );
}

#[test]
fn card_update_item_matches_the_sample_and_decodes() {
    let (cid, sender) = (Cid::new(CID), Uid::new(PEER));
    let key = "40000000201:2500000000000000501:2_paid_seller";
    let data = card_update_item(
        &cid,
        &sender,
        "[我已付款，等待你发货]",
        "等待卖家发货",
        key,
        1_742_459_017_389,
    );
    let json = item_to_json(&data).unwrap();
    if let Some(dir) = samples() {
        let sample = item_to_json(&read(&dir, "constructed/card-update-item.b64")).unwrap();
        for k in ["1", "2", "3", "5"] {
            assert_eq!(json[k], sample[k], "field {k}");
        }
        for k in ["reminderContent", "senderUserId", "redReminder"] {
            assert_eq!(json["4"][k], sample["4"][k], "field 4.{k}");
        }
    }
    assert_eq!(
        decode_item(&data, None, &Uid::new(SELF)),
        SyncEvent::CardUpdate {
            cid: Some(cid),
            text: "[我已付款，等待你发货]".into(),
            red_reminder: Some("等待卖家发货".into()),
            update_key: Some(key.into()),
            time: Some(1_742_459_017_389),
        }
    );
}

#[test]
fn order_status_item_has_the_captured_layout_and_decodes() {
    let cid = Cid::new(CID);
    let data = order_status_item(&cid, "等待卖家发货", 1_742_468_664_000);
    let json = item_to_json(&data).unwrap();
    assert_eq!(
        json,
        json!({"1": "40000000201@goofish", "2": 1,
            "3": {"redReminder": "等待卖家发货", "redReminderStyle": "1"}, "4": 1_742_468_664_000_u64})
    );
    // The time is a uint64, as in the capture.
    let bytes = STANDARD.decode(&data).unwrap();
    assert_eq!(bytes[bytes.len() - 9], 0xcf);
    assert_eq!(
        decode_item(&data, Some(40005), &Uid::new(SELF)),
        SyncEvent::CardUpdate {
            cid: Some(cid),
            text: "等待卖家发货".into(),
            red_reminder: Some("等待卖家发货".into()),
            update_key: None,
            time: Some(1_742_468_664_000),
        }
    );
}

#[test]
fn recall_item_decodes_and_is_not_a_receipt() {
    let (cid, id) = (Cid::new(CID), MessageId::new("3400000000303.PNM"));
    let data = recall_item(&cid, &id, 1_742_459_017_389);
    assert_eq!(
        decode_item(&data, Some(40104), &Uid::new(SELF)),
        SyncEvent::Recalled { cid: Some(cid), id }
    );
    assert!(!matches!(
        decode_item(&data, None, &Uid::new(SELF)),
        SyncEvent::Receipt { .. }
    ));
}

#[test]
fn push_body_has_the_sample_envelope_and_decodes_in_order() {
    let m = sample_messages().remove(0);
    let items = vec![
        PushItem {
            biz_type: 40000,
            data: chat_message_item(&m, &receiver_of(&m)),
        },
        PushItem {
            biz_type: 40103,
            data: receipt_item(&m.cid, std::slice::from_ref(&m.id), 5),
        },
    ];
    let body = sync_push_body(&items, 1_742_458_817_389_001, None);
    if let Some(dir) = samples() {
        let sample: Value =
            serde_json::from_str(&read(&dir, "constructed/ws-push-sync-multi.json")).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let sb = &sample["body"];
        assert_eq!(keys(&body), keys(sb));
        assert_eq!(keys(&body["syncPushPackage"]), keys(&sb["syncPushPackage"]));
        assert_eq!(
            keys(&body["syncPushPackage"]["data"][0]),
            keys(&sb["syncPushPackage"]["data"][0])
        );
        assert_eq!(body["syncExtensionModel"], sb["syncExtensionModel"]);
    }
    assert_eq!(
        body["syncPushPackage"]["maxPts"],
        json!(1_742_458_817_389_001i64)
    );
    assert_eq!(
        body["syncPushPackage"]["timestamp"],
        json!(1_742_458_817_389i64)
    );
    let decoded = decode_sync_body(&body, &Uid::new(SELF));
    assert_eq!(decoded.sync_extra_type, None);
    assert_eq!(decoded.events.len(), 2);
    assert_eq!(decoded.events[0], SyncEvent::Message(m.clone()));
    assert!(matches!(decoded.events[1], SyncEvent::Receipt { .. }));

    let extra = sync_push_body(&[], 1, Some(1));
    assert!(extra.get("syncPushPackage").is_none());
    assert_eq!(extra["syncExtraType"]["type"], 1);
    let decoded = decode_sync_body(&extra, &Uid::new(SELF));
    assert_eq!(decoded.sync_extra_type, Some(1));
    assert!(decoded.events.is_empty());
}

#[test]
fn encode_item_of_decoded_json_layout_is_stable() {
    // Negative numbers, nested arrays and binaries survive a decode of our own encoding.
    let v = rmpv::Value::Map(vec![
        (rmpv::Value::from(1), rmpv::Value::from(-70_000)),
        (
            rmpv::Value::from(2),
            rmpv::Value::Array(vec![rmpv::Value::Binary(b"abc".to_vec()), rmpv::Value::Nil]),
        ),
        (rmpv::Value::from(3), rmpv::Value::F64(1.25)),
    ]);
    let json = item_to_json(&encode_item(&v)).unwrap();
    assert_eq!(json, json!({"1": -70000, "2": ["abc", null], "3": 1.25}));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use rmpv::Value as Mp;

    /// Any msgpack value that old-spec mode can carry unchanged: no bin (it becomes str), no
    /// f32 (it becomes f64), valid UTF-8 strings.
    fn mp_value() -> impl Strategy<Value = Mp> {
        let leaf = prop_oneof![
            Just(Mp::Nil),
            any::<bool>().prop_map(Mp::Boolean),
            any::<i64>().prop_map(Mp::from),
            any::<u64>().prop_map(Mp::from),
            any::<f64>()
                .prop_filter("NaN never compares equal", |f| !f.is_nan())
                .prop_map(Mp::F64),
            ".{0,40}".prop_map(Mp::from),
            (0usize..70_000).prop_map(|n| Mp::from("x".repeat(n))),
            (any::<i8>(), prop::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(t, d)| Mp::Ext(t, d)),
        ];
        leaf.prop_recursive(3, 40, 20, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..20).prop_map(Mp::Array),
                prop::collection::vec((inner.clone(), inner), 0..20).prop_map(Mp::Map),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn write_old_spec_is_read_back_unchanged(v in mp_value()) {
            let mut out = Vec::new();
            write_old_spec(&v, &mut out);
            let mut rd = out.as_slice();
            let back = rmpv::decode::read_value(&mut rd).unwrap();
            prop_assert!(rd.is_empty());
            prop_assert_eq!(back, v);
            // Old-spec mode: never str8 / bin markers at the start of any string.
            prop_assert!(!matches!(out.first(), Some(0xd9 | 0xc4 | 0xc5 | 0xc6)));
        }

        #[test]
        fn any_text_message_round_trips(text in ".{0,300}", nick in proptest::option::of(".{1,12}"),
                                         time in 0i64..4_000_000_000_000) {
            let m = Message {
                id: MessageId::new("3400000000399.PNM"),
                cid: Cid::new(CID),
                sender: Uid::new(PEER),
                is_self: false,
                time,
                content: Content::Text { text: text.into() },
                item_id: Some("900000000601".into()),
                sender_nick: nick.map(Into::into),
                session_type: Some(1),
                need_push: true,
                red_reminder: None,
                client_id: None,
            };
            let data = chat_message_item(&m, &Uid::new(SELF));
            prop_assert_eq!(decode_msg(&data), m);
        }
    }
}
