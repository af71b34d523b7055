//! Push decoding (§7) against the shared protocol samples, own fixtures, and random input.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use goofish_tui::protocol::sync::{
    DecodeError, MAX_RAW_LEN, biz_type, decode_base64, decode_item, decode_sync_body, item_to_json,
};
use goofish_tui::protocol::{Cid, Content, Message, MessageId, SyncEvent, Uid};
use proptest::prelude::*;
use serde_json::{Value, json};

const SELF_UID: &str = "2200000000401";

use crate::samples as shared_samples;

fn samples_dir() -> Option<PathBuf> {
    shared_samples::dir()
}

fn sample(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .to_string()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn me() -> Uid {
    Uid::new(SELF_UID)
}

fn message(ev: SyncEvent) -> Message {
    match ev {
        SyncEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared samples

#[test]
fn every_sample_item_matches_its_decoded_json() {
    let Some(dir) = samples_dir() else { return };
    let mut seen = 0;
    for sub in ["real", "constructed"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".b64") else {
                continue;
            };
            let data = std::fs::read_to_string(&path).unwrap();
            let want: Value = serde_json::from_str(
                &std::fs::read_to_string(path.with_file_name(format!("{stem}.decoded.json")))
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(item_to_json(&data).unwrap(), want, "{sub}/{name}");
            let ev = decode_item(&data, None, &me());
            assert!(
                !matches!(ev, SyncEvent::Undecodable { .. }),
                "{sub}/{name}: {ev:?}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} samples found");
}

#[test]
fn real_order_card() {
    let Some(dir) = samples_dir() else { return };
    let data = sample(&dir, "real/order-card-item.b64");
    let m = message(decode_item(&data, Some(biz_type::MESSAGE), &me()));
    assert_eq!(
        m.content,
        Content::trade_card(
            "我已拍下，待付款".into(),
            Some("请双方沟通及时确认价格".into()),
            Some("2500000000000000501".into()),
        )
    );
    assert_eq!(m.item_id.as_deref(), Some("900000000601"));
    assert_eq!(m.sender, Uid::new("1000000101"));
    assert_eq!(m.cid, Cid::new("40000000201"));
    assert_eq!(m.id, MessageId::new("3400000000301.PNM"));
    assert_eq!(m.time, 1742458817389);
    assert!(!m.is_self);
    // reminderTitle is an order prompt there, not a nickname.
    assert_eq!(m.sender_nick, None);
    assert_eq!(m.red_reminder.as_deref(), Some("等待买家付款"));
    assert_eq!(m.session_type, Some(1));
    assert!(m.need_push);
    assert!(m.is_system());
}

#[test]
fn text_incoming_carries_nick_and_text() {
    let Some(dir) = samples_dir() else { return };
    let m = message(decode_item(
        &sample(&dir, "constructed/text-incoming-item.b64"),
        Some(biz_type::MESSAGE),
        &me(),
    ));
    assert_eq!(
        m.content,
        Content::Text {
            text: "你好，还在吗？".into()
        }
    );
    assert_eq!(m.sender_nick.as_deref(), Some("买家小明"));
    assert_eq!(m.sender, Uid::new("1000000101"));
    assert_eq!(m.id.as_str(), "3400000000302.PNM");
    assert_eq!(m.time, 1742458877389);
    assert!(!m.is_self);
    assert!(!m.is_system());
}

#[test]
fn self_echo_is_self() {
    let Some(dir) = samples_dir() else { return };
    let m = message(decode_item(
        &sample(&dir, "constructed/text-self-echo-item.b64"),
        Some(biz_type::MESSAGE),
        &me(),
    ));
    assert!(m.is_self);
    assert_eq!(m.sender, me());
    assert_eq!(
        m.content,
        Content::Text {
            text: "在的，可以直接拍".into()
        }
    );
    // Seen by the peer's account, the same item is not its own.
    let peer = message(decode_item(
        &sample(&dir, "constructed/text-self-echo-item.b64"),
        None,
        &Uid::new("1000000101"),
    ));
    assert!(!peer.is_self);
}

#[test]
fn image_has_its_url() {
    let Some(dir) = samples_dir() else { return };
    let m = message(decode_item(
        &sample(&dir, "constructed/image-incoming-item.b64"),
        None,
        &me(),
    ));
    assert_eq!(
        m.content,
        Content::Image {
            urls: vec![
                "https://img.alicdn.com/imgextra/i4/O1CN01EXAMPLE_!!0-fleamarket.jpg".into()
            ]
        }
    );
    assert_eq!(m.content.summary(), "[图片]");
}

#[test]
fn receipt_typing_card_update_and_plain_json() {
    let Some(dir) = samples_dir() else { return };
    let ev = |name: &str, biz: Option<i64>| {
        decode_item(&sample(&dir, &format!("constructed/{name}")), biz, &me())
    };
    let receipt = SyncEvent::Receipt {
        cid: Some(Cid::new("40000000201")),
        ids: vec![MessageId::new("3400000000303.PNM")],
        time: Some(1742458967389),
    };
    assert_eq!(ev("read-receipt-40103-item.b64", None), receipt);
    assert_eq!(
        ev("read-receipt-40103-item.b64", Some(biz_type::READ_BY_PEER)),
        receipt
    );
    assert_eq!(
        ev("typing-item.b64", Some(biz_type::TYPING)),
        SyncEvent::Typing {
            uid: Uid::new("1000000101"),
            cid: Some(Cid::new("40000000201")),
        }
    );
    assert_eq!(
        ev("card-update-item.b64", None),
        SyncEvent::CardUpdate {
            cid: Some(Cid::new("40000000201")),
            text: "[我已付款，等待你发货]".into(),
            red_reminder: Some("等待卖家发货".into()),
            update_key: Some("40000000201:2500000000000000501:2_paid_seller".into()),
            time: Some(1742459017389),
        }
    );
    match ev("plain-json-item.b64", None) {
        SyncEvent::System { kind, json } => {
            assert_eq!(kind, "chatType");
            assert_eq!(json["sessionId"], "40000000201");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn push_frames_decode_through_the_body() {
    let Some(dir) = samples_dir() else { return };
    let frame = |name: &str| -> Value {
        serde_json::from_str(&sample(&dir, &format!("constructed/{name}"))).unwrap()
    };

    let text = decode_sync_body(&frame("ws-push-sync-text.json")["body"], &me());
    assert_eq!(text.sync_extra_type, None);
    assert_eq!(text.events.len(), 1);
    assert_eq!(
        message(text.events[0].clone()).id.as_str(),
        "3400000000302.PNM"
    );

    let multi = decode_sync_body(&frame("ws-push-sync-multi.json")["body"], &me());
    assert_eq!(multi.events.len(), 3);
    assert!(message(multi.events[0].clone()).is_self);
    assert!(
        matches!(&multi.events[1], SyncEvent::Receipt { ids, .. } if ids[0].as_str() == "3400000000303.PNM")
    );
    assert!(matches!(
        &message(multi.events[2].clone()).content,
        Content::TradeCard(_)
    ));

    let extra = decode_sync_body(&frame("ws-push-sync-extra.json")["body"], &me());
    assert_eq!(extra.sync_extra_type, Some(1));
    assert!(extra.events.is_empty());
}

#[test]
fn a_bad_item_does_not_spoil_the_package() {
    let Some(dir) = samples_dir() else { return };
    let good = sample(&dir, "constructed/text-incoming-item.b64");
    let body = json!({
        "syncPushPackage": {"data": [
            {"bizType": 40000, "data": "!!!not base64 at all"},
            {"bizType": "40000", "objectType": 40000, "data": good},
            {"bizType": 40000},
            {"bizType": 40000, "data": 42},
            "a string item",
            {"bizType": 40000, "data": good},
        ]},
        "syncExtraType": {"type": "2"},
    });
    let push = decode_sync_body(&body, &me());
    assert_eq!(push.sync_extra_type, Some(2));
    let kinds: Vec<bool> = push
        .events
        .iter()
        .map(|e| matches!(e, SyncEvent::Message(_)))
        .collect();
    assert_eq!(kinds, [false, true, false, false, false, true]);
    for e in &push.events {
        if let SyncEvent::Undecodable { reason, .. } = e {
            assert!(!reason.is_empty());
        }
    }
}

#[test]
fn mutations_of_the_real_sample_never_panic() {
    let Some(dir) = samples_dir() else { return };
    let data = sample(&dir, "real/order-card-item.b64");
    let bytes = decode_base64(&data).unwrap();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    // Every truncation.
    for n in 0..bytes.len() {
        let d = b64(&bytes[..n]);
        let _ = decode_item(&d, Some(biz_type::MESSAGE), &me());
        let _ = item_to_json(&d);
    }
    // Every single bit flip, in the bytes and in the base64 text.
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut m = bytes.clone();
            m[i] ^= 1 << bit;
            let d = b64(&m);
            let _ = decode_item(&d, None, &me());
            let _ = item_to_json(&d);
        }
    }
    for i in 0..data.len() {
        let mut m = data.clone().into_bytes();
        m[i] ^= 0x20;
        let d = String::from_utf8_lossy(&m);
        let _ = decode_item(&d, Some(biz_type::RECALL), &me());
    }
}

// ---------------------------------------------------------------------------------------------
// Own fixtures (tests/fixtures/sync_*, made by sync_make.py)

const PEER: &str = "1000000777";
const MINE: &str = "2200000000777";

#[test]
fn fixtures_match_their_decoded_json() {
    for name in [
        "text_item",
        "types_item",
        "no_sender_item",
        "wrong_types_item",
        "no_cid_item",
        "legacy_content_item",
        "receipt_array_item",
        "recall_item",
        "order_status_item",
        "json_pricing_item",
        "json_tips_item",
    ] {
        let got = item_to_json(&fixture(&format!("sync_{name}.b64"))).unwrap();
        assert_eq!(
            got,
            fixture_json(&format!("sync_{name}.decoded.json")),
            "{name}"
        );
    }
}

#[test]
fn url_safe_unpadded_wrapped_base64_decodes_the_same() {
    let clean = fixture("sync_text_item.b64");
    let dirty = fixture("sync_text_urlsafe.b64");
    assert!(dirty.contains('-') || dirty.contains('_'));
    assert!(dirty.contains('\n') && !dirty.contains('='));
    assert_eq!(
        decode_base64(&dirty).unwrap(),
        decode_base64(&clean).unwrap()
    );
    let a = decode_item(&dirty, None, &Uid::new(MINE));
    assert_eq!(a, decode_item(&clean, None, &Uid::new(MINE)));
    let m = message(a);
    assert_eq!(
        m.content,
        Content::Text {
            text: "这个还能便宜点吗？包邮到上海".into()
        }
    );
    assert_eq!(m.sender_nick.as_deref(), Some("买家阿花"));
    assert_eq!(m.item_id.as_deref(), Some("900000000888"));
}

#[test]
fn every_msgpack_type_is_accepted() {
    let m = message(decode_item(
        &fixture("sync_types_item.b64"),
        None,
        &Uid::new(MINE),
    ));
    assert_eq!(m.id.as_str(), "3400000000902.PNM");
    assert_eq!(m.cid.as_str(), "40000000999");
    assert_eq!(m.sender.as_str(), PEER);
    assert_eq!(m.time, 1742460000456);
    assert_eq!(
        m.content,
        Content::Text {
            text: "str8 and bin 😀".into()
        }
    );
    assert_eq!(m.sender_nick.as_deref(), Some("买家阿花"));
    assert_eq!(m.session_type, Some(1));
    assert_eq!(m.item_id.as_deref(), Some("900000000888"));
    // needPush was bin "false".
    assert!(!m.need_push);
}

#[test]
fn echo_without_sender_user_id_falls_back_to_1_1_1() {
    let m = message(decode_item(
        &fixture("sync_no_sender_item.b64"),
        None,
        &Uid::new(MINE),
    ));
    assert_eq!(m.sender.as_str(), MINE);
    assert!(m.is_self);
}

#[test]
fn wrong_types_are_read_leniently() {
    let m = message(decode_item(
        &fixture("sync_wrong_types_item.b64"),
        None,
        &Uid::new(MINE),
    ));
    assert_eq!(m.time, 1742460001000);
    assert_eq!(m.sender.as_str(), PEER);
    assert_eq!(m.session_type, Some(1));
    // The content JSON was a number: the summary stands in for the text.
    assert_eq!(
        m.content,
        Content::Text {
            text: "可以小刀吗".into()
        }
    );
    assert_eq!(m.red_reminder, None);
    assert!(!m.need_push);
}

#[test]
fn message_without_cid_is_undecodable_with_a_reason() {
    let data = fixture("sync_no_cid_item.b64");
    match decode_item(&data, Some(biz_type::MESSAGE), &Uid::new(MINE)) {
        SyncEvent::Undecodable { reason, raw } => {
            assert!(reason.contains("1.2"), "{reason}");
            assert_eq!(raw, data);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn legacy_base64_content_slot() {
    let m = message(decode_item(
        &fixture("sync_legacy_content_item.b64"),
        None,
        &Uid::new(MINE),
    ));
    assert_eq!(
        m.content,
        Content::Text {
            text: "旧版内容（legacy）".into()
        }
    );
}

#[test]
fn receipt_in_array_form() {
    let want = SyncEvent::Receipt {
        cid: Some(Cid::new("40000000999")),
        ids: vec![
            MessageId::new("3400000000901.PNM"),
            MessageId::new("3400000000902.PNM"),
        ],
        time: Some(1742460004000),
    };
    let data = fixture("sync_receipt_array_item.b64");
    assert_eq!(decode_item(&data, None, &Uid::new(MINE)), want);
    assert_eq!(
        decode_item(&data, Some(biz_type::READ), &Uid::new(MINE)),
        want
    );
}

#[test]
fn recall_needs_its_biz_type() {
    let data = fixture("sync_recall_item.b64");
    assert_eq!(
        decode_item(&data, Some(biz_type::RECALL), &Uid::new(MINE)),
        SyncEvent::Recalled {
            cid: Some(Cid::new("40000000999")),
            id: MessageId::new("3400000000903.PNM"),
        }
    );
    // Without the bizType the layout means nothing known.
    assert!(matches!(
        decode_item(&data, None, &Uid::new(MINE)),
        SyncEvent::Undecodable { .. }
    ));
    // A recall carrying the chat-message layout.
    let msg = fixture("sync_text_item.b64");
    assert_eq!(
        decode_item(&msg, Some(biz_type::RECALL), &Uid::new(MINE)),
        SyncEvent::Recalled {
            cid: Some(Cid::new("40000000999")),
            id: MessageId::new("3400000000901.PNM"),
        }
    );
}

#[test]
fn order_status_push_names_its_conversation_in_field_one() {
    // The captured layout (§7.5): `1` the conversation, `4` the time; whatever the bizType.
    let data = fixture("sync_order_status_item.b64");
    for biz in [None, Some(40000), Some(40005)] {
        assert_eq!(
            decode_item(&data, biz, &Uid::new(MINE)),
            SyncEvent::CardUpdate {
                cid: Some(Cid::new("40000000999")),
                text: "等待买家付款".into(),
                red_reminder: Some("等待买家付款".into()),
                update_key: None,
                time: Some(1742468664000),
            },
            "{biz:?}"
        );
    }
}

#[test]
fn plain_json_kinds() {
    let kind = |name: &str| match decode_item(&fixture(name), None, &Uid::new(MINE)) {
        SyncEvent::System { kind, .. } => kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(kind("sync_json_pricing_item.b64"), "IDLE_SPACE_PRICING");
    assert_eq!(kind("sync_json_tips_item.b64"), "MsgTips");
    let other = base64_of(br#"  {"hello": [1, 2]}"#);
    assert!(matches!(
        decode_item(&other, None, &Uid::new(MINE)),
        SyncEvent::System { kind, .. } if kind == "json"
    ));
    // A JSON receipt (whether receipts come as JSON is open) reads like the msgpack one.
    let r = base64_of(br#"{"1":"3400000000901.PNM","2":2,"3":0,"4":"40000000999@goofish","6":5}"#);
    assert_eq!(
        decode_item(&r, None, &Uid::new(MINE)),
        SyncEvent::Receipt {
            cid: Some(Cid::new("40000000999")),
            ids: vec![MessageId::new("3400000000901.PNM")],
            time: Some(5),
        }
    );
}

#[test]
fn garbage_is_undecodable_with_truncated_raw() {
    let me = Uid::new(MINE);
    for (data, needle) in [
        ("", "empty"),
        ("QUJDR", "base64"),
        ("wA==", "nil"),      // msgpack nil
        ("kQE=", "an array"), // [1]: not a map
        ("gQEB", "field 1 is an integer"),
        ("gAA=", "no field 1"),
        ("3f////8=", "truncated"),
        ("e30x", "an integer"), // "{}1": bad JSON, then msgpack fixint 123
    ] {
        match decode_item(data, None, &me) {
            SyncEvent::Undecodable { reason, raw } => {
                assert!(reason.contains(needle), "{data}: {reason}");
                assert_eq!(raw, data);
            }
            other => panic!("{data}: {other:?}"),
        }
    }
    let huge = "A".repeat(100_003);
    match decode_item(&huge, None, &me) {
        SyncEvent::Undecodable { raw, .. } => assert!(raw.len() <= MAX_RAW_LEN + 3),
        other => panic!("{other:?}"),
    }
    assert!(matches!(item_to_json("QUJDR"), Err(DecodeError::Base64(_))));
    assert_eq!(item_to_json(""), Err(DecodeError::Empty));
}

#[test]
fn body_without_package_or_with_wrong_types() {
    let me = Uid::new(MINE);
    assert_eq!(decode_sync_body(&json!({}), &me).events, vec![]);
    assert_eq!(decode_sync_body(&json!(null), &me).events, vec![]);
    let p = decode_sync_body(&json!({"syncPushPackage": {"data": "x"}}), &me);
    assert!(matches!(&p.events[..], [SyncEvent::Undecodable { .. }]));
    let p = decode_sync_body(&json!({"syncExtraType": {"type": "x"}}), &me);
    assert_eq!(p.sync_extra_type, None);
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---------------------------------------------------------------------------------------------
// Properties

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".*".prop_map(Value::from),
        "[A-Za-z0-9+/=]{0,80}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("data".to_string()),
                        Just("bizType".to_string()),
                        Just("syncPushPackage".to_string()),
                        Just("syncExtraType".to_string()),
                        Just("type".to_string()),
                        ".{0,8}".prop_map(String::from),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in ".*", biz in prop::option::of(40000i64..40110)) {
        let _ = decode_item(&s, biz, &Uid::new(MINE));
        let _ = item_to_json(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512), biz in prop::option::of(40000i64..40110)) {
        let d = base64_of(&b);
        let _ = decode_item(&d, biz, &Uid::new(MINE));
        let _ = item_to_json(&d);
    }

    #[test]
    fn msgpack_like_bytes_never_panic(b in prop::collection::vec(prop_oneof![0x80u8..=0x9f, 0xc0u8..=0xdf, 0u8..=0x10, any::<u8>()], 0..256)) {
        let d = base64_of(&b);
        let _ = decode_item(&d, Some(biz_type::RECALL), &Uid::new(MINE));
        let _ = item_to_json(&d);
    }

    #[test]
    fn arbitrary_bodies_never_panic(v in arb_json()) {
        let _ = decode_sync_body(&v, &Uid::new(MINE));
        let _ = decode_sync_body(&json!({"syncPushPackage": {"data": [v.clone()]}}), &Uid::new(MINE));
        let _ = decode_sync_body(&json!({"syncPushPackage": {"data": [{"bizType": 40000, "data": v}]}}), &Uid::new(MINE));
    }

    #[test]
    fn mutated_fixture_never_panics(i in 0usize..2000, mask in 1u8..=255, cut in 0usize..2000) {
        let mut b = decode_base64(&fixture("sync_types_item.b64")).unwrap();
        let n = b.len();
        b[i % n] ^= mask;
        b.truncate(cut.max(1) % (n + 1));
        let d = base64_of(&b);
        let _ = decode_item(&d, None, &Uid::new(MINE));
        let _ = item_to_json(&d);
    }

    #[test]
    fn base64_round_trips_in_any_dress(b in prop::collection::vec(any::<u8>(), 0..200), url in any::<bool>(), pad in any::<bool>(), ws in 0usize..5) {
        let mut s = base64_of(&b);
        if url { s = s.replace('+', "-").replace('/', "_"); }
        if !pad { s = s.trim_end_matches('=').to_string(); }
        if ws > 0 {
            s = s.chars().enumerate().flat_map(|(i, c)| {
                if i % (ws * 7) == 0 { vec!['\n', ' ', c] } else { vec![c] }
            }).collect();
        }
        prop_assert_eq!(decode_base64(&s).unwrap(), b);
    }
}
