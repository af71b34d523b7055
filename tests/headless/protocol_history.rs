//! History and conversation-list parsing (`protocol::history`): the samples, the simulator's own
//! answers, and agreement with the push decoder.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use goofish_tui::protocol::encode::chat_message_item;
use goofish_tui::protocol::history::{
    ParseError, conversation_entry_json, conversation_page_json, history_message_json,
    history_page_json, parse_conversation_list, parse_conversation_page, parse_history_page,
};
use goofish_tui::protocol::sync::decode_item;
use goofish_tui::protocol::{
    Cid, Content, Conversation, HistoryEntry, Message, MessageId, SyncEvent, Uid,
};
use serde_json::{Value, json};
use std::path::PathBuf;

const SELF: &str = "2200000000401";
const PEER: &str = "1000000101";
const CID: &str = "40000000201";

use crate::samples as shared_samples;

fn sample(rel: &str) -> Option<Value> {
    shared_samples::json(rel)
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn me() -> Uid {
    Uid::new(SELF)
}

fn msg(id: &str, sender: &str, content: Content) -> Message {
    Message {
        id: MessageId::new(id),
        cid: Cid::new(CID),
        sender: Uid::new(sender),
        is_self: sender == SELF,
        time: 1_742_458_937_389,
        content,
        item_id: Some("900000000601".into()),
        sender_nick: Some(
            if sender == SELF {
                "卖家小店"
            } else {
                "买家小明"
            }
            .into(),
        ),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

#[test]
fn constructed_history_page() {
    let Some(frame) = sample("constructed/ws-listUserMessages-response.json") else {
        return;
    };
    let cid = Cid::new(CID);
    // The body and the whole response frame both work.
    let page = parse_history_page(&frame["body"], &cid, &me()).unwrap();
    assert_eq!(parse_history_page(&frame, &cid, &me()).unwrap(), page);
    assert!(page.has_more);
    assert_eq!(page.next_cursor, Some(1_742_458_877_389));
    assert_eq!(page.entries.len(), 2);

    let newest = &page.entries[0];
    assert!(!newest.read_by_peer);
    let m = &newest.message;
    assert_eq!(m.id, MessageId::new("3400000000304.PNM"));
    assert_eq!(m.sender, Uid::new(PEER));
    assert!(!m.is_self);
    assert_eq!(m.time, 1_742_458_937_389);
    // `custom.type` says 1 but the content JSON is an image: the inner type wins.
    assert_eq!(
        m.content,
        Content::Image {
            urls: vec![
                "https://img.alicdn.com/imgextra/i4/O1CN01EXAMPLE_!!0-fleamarket.jpg".into()
            ]
        }
    );
    assert_eq!(m.sender_nick.as_deref(), Some("买家小明"));
    assert_eq!(m.session_type, Some(1));

    let older = &page.entries[1];
    assert!(older.read_by_peer);
    assert!(older.message.is_self);
    assert_eq!(
        older.message.content,
        Content::Text {
            text: "在的，可以直接拍".into()
        }
    );
}

#[test]
fn real_partial_history_falls_back_to_reminder_content() {
    let Some(frame) = sample("real/listUserMessages-response-partial.json") else {
        return;
    };
    let cid = Cid::new("56100000055");
    let page = parse_history_page(&frame["body"], &cid, &me()).unwrap();
    assert_eq!(page.next_cursor, Some(1_767_411_360_356));
    assert!(
        page.has_more,
        "a cursor on a non-empty page without hasMore"
    );
    assert_eq!(page.entries.len(), 1);
    let e = &page.entries[0];
    assert!(e.read_by_peer);
    let m = &e.message;
    assert_eq!(m.id, MessageId::new("3900000000982.PNM"));
    assert_eq!(m.cid, cid);
    assert_eq!(m.time, 1_767_431_099_453);
    assert_eq!(m.sender, Uid::new("2200000000777"));
    assert!(!m.is_self);
    assert_eq!(
        m.content,
        Content::Text {
            text: "租赁套装包括手机……".into()
        }
    );
    assert_eq!(m.item_id.as_deref(), Some("960000000001"));
    assert_eq!(m.sender_nick.as_deref(), Some("光影小店"));
}

#[test]
fn unreadable_models_are_skipped_and_a_missing_list_is_an_error() {
    let good = history_message_json(&msg("3400000000304.PNM", PEER, text("hi")), false);
    let body = json!({
        "hasMore": false,
        "userMessageModels": [
            {"readStatus": 1, "message": {"cid": "40000000201@goofish"}},
            {"readStatus": 1, "message": {"messageId": "1.PNM", "content": {"contentType": 101,
                "custom": {"type": 1, "data": "%%%not base64%%%"}},
                "sender": {"uid": "1@goofish"}}},
            "garbage",
            good,
        ],
    });
    let page = parse_history_page(&body, &Cid::new(CID), &me()).unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].message.id.as_str(), "3400000000304.PNM");
    assert!(!page.has_more);

    let err = parse_history_page(&json!({"hasMore": 0}), &Cid::new(CID), &me()).unwrap_err();
    assert!(matches!(err, ParseError::Missing { .. }));
    assert_eq!(err.to_string(), "history body has no userMessageModels");
    assert!(parse_history_page(&json!({"userMessageModels": {}}), &Cid::new(CID), &me()).is_err());
}

fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

fn variety() -> Vec<Message> {
    let mut v = Vec::new();
    for sender in [PEER, SELF] {
        v.push(msg(
            "3400000000320.PNM",
            sender,
            text("包邮吗？😀 \"引号\""),
        ));
        v.push(msg(
            "3400000000321.PNM",
            sender,
            Content::Image {
                urls: vec!["https://img/a.jpg".into()],
            },
        ));
        let mut card = msg(
            "3400000000322.PNM",
            sender,
            Content::trade_card(
                "我已拍下，待付款".into(),
                Some("请双方沟通及时确认价格".into()),
                Some("2500000000000000501".into()),
            ),
        );
        card.red_reminder = Some("等待买家付款".into());
        v.push(card.clone());
        card.sender_nick = None;
        card.id = MessageId::new("3400000000323.PNM");
        v.push(card);
        let mut notice = msg(
            "3400000000324.PNM",
            sender,
            Content::Notice {
                text: "退款成功".into(),
            },
        );
        notice.need_push = false;
        notice.session_type = Some(3);
        notice.sender_nick = None;
        v.push(notice);
        let mut unknown = msg(
            "3400000000325.PNM",
            sender,
            Content::Unknown {
                content_type: 40,
                summary: "[AI消息]".into(),
            },
        );
        unknown.item_id = None;
        unknown.sender_nick = None;
        unknown.session_type = None;
        v.push(unknown);
    }
    v
}

#[test]
fn push_and_history_give_the_same_message() {
    for m in variety() {
        let receiver = Uid::new(if m.is_self { PEER } else { SELF });
        let pushed = match decode_item(&chat_message_item(&m, &receiver), Some(40000), &me()) {
            SyncEvent::Message(p) => p,
            other => panic!("{other:?}"),
        };
        let body = history_page_json(
            &[HistoryEntry {
                message: m.clone(),
                read_by_peer: true,
            }],
            false,
            None,
        );
        let page = parse_history_page(&body, &m.cid, &me()).unwrap();
        assert_eq!(page.entries.len(), 1);
        assert!(page.entries[0].read_by_peer);
        assert_eq!(page.entries[0].message, pushed, "{:?}", m.content);
        assert_eq!(pushed, m);
    }
}

#[test]
fn history_page_round_trip_keeps_order_cursor_and_client_id() {
    let mut entries: Vec<HistoryEntry> = variety()
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            m.id = MessageId::new(format!("34000000004{i:02}.PNM"));
            m.time -= i as i64 * 1000;
            HistoryEntry {
                message: m,
                read_by_peer: i % 2 == 0,
            }
        })
        .collect();
    entries[1].message.client_id = Some("-17424589073891".into());
    let body = history_page_json(&entries, true, Some(1_742_458_000_000));
    let page = parse_history_page(&body, &Cid::new(CID), &me()).unwrap();
    assert!(page.has_more);
    assert_eq!(page.next_cursor, Some(1_742_458_000_000));
    assert_eq!(page.entries, entries);
    // The shape follows the constructed sample.
    let model = &body["userMessageModels"][0];
    assert!(model["message"]["content"]["custom"]["data"].is_string());
    assert_eq!(model["message"]["content"]["contentType"], 101);
    assert_eq!(
        model["message"]["sender"]["uid"],
        json!(format!("{PEER}@goofish"))
    );
}

#[test]
fn constructed_conversation_page() {
    let Some(frame) = sample("constructed/ws-listNewestPagination-response.json") else {
        return;
    };
    let page = parse_conversation_page(&frame["body"], &me()).unwrap();
    assert!(page.has_more);
    assert_eq!(page.next_cursor, Some(1_742_372_417_389));
    assert_eq!(page.conversations.len(), 1);
    let c = &page.conversations[0];
    assert_eq!(c.cid, Cid::new(CID));
    assert_eq!(c.peer, Uid::new(PEER));
    assert_eq!(c.peer_nick.as_deref(), Some("买家小明"));
    assert_eq!(c.item_id.as_deref(), Some("900000000601"));
    assert_eq!(c.item_title.as_deref(), Some("九成新 机械键盘"));
    assert_eq!(
        c.item_pic.as_deref(),
        Some("https://img.alicdn.com/bao/uploaded/i1/EXAMPLE.jpg")
    );
    assert_eq!(c.modify_time, 1_742_458_937_389);
    assert_eq!(c.unread, 2);
    assert!(!c.pinned && !c.muted);
    assert_eq!(c.red_reminder, None);
    let last = c.last_message.as_ref().unwrap();
    assert_eq!(last.id, MessageId::new("3400000000304.PNM"));
    assert!(matches!(last.content, Content::Image { .. }));
    assert!(last.need_push);
}

#[test]
fn conversation_list_skips_hidden_shells_and_groups() {
    let body = fixture("history_conversations_mixed.json");
    let page = parse_conversation_page(&body, &me()).unwrap();
    let cids: Vec<&str> = page.conversations.iter().map(|c| c.cid.as_str()).collect();
    // hidden (visible 0), a notification shell (pairSecond 0) and a group are dropped; the
    // assistant's conversation, a chat without messages and a pair without self stay.
    assert_eq!(
        cids,
        ["40000000211", "40000000213", "40000000214", "40000000215"]
    );
    assert!(!page.has_more);
    let by = |cid: &str| {
        page.conversations
            .iter()
            .find(|c| c.cid.as_str() == cid)
            .unwrap()
    };
    assert_eq!(by("40000000211").peer, Uid::new("1400"));
    let fresh = by("40000000213");
    assert_eq!(fresh.peer, Uid::new("1000000103"));
    assert!(fresh.last_message.is_none());
    assert!(fresh.pinned && fresh.muted);
    assert_eq!(fresh.unread, 0);
    assert_eq!(fresh.red_reminder.as_deref(), Some("等待卖家发货"));
    assert_eq!(fresh.item_id.as_deref(), Some("900000000603"));
    // No pair at all: the peer comes from extUserId.
    assert_eq!(by("40000000214").peer, Uid::new("1000000104"));
    // An unreadable last message does not drop the conversation.
    let broken = by("40000000215");
    assert!(broken.last_message.is_none());
    assert_eq!(broken.unread, 3);

    let err = parse_conversation_page(&json!({"hasMore": 1}), &me()).unwrap_err();
    assert_eq!(err.to_string(), "conversation page has no userConvs");
}

fn conversations() -> Vec<Conversation> {
    let mut last = msg("3400000000330.PNM", PEER, text("还在吗"));
    last.cid = Cid::new("40000000230");
    vec![
        Conversation {
            cid: Cid::new("40000000230"),
            peer: Uid::new(PEER),
            peer_nick: Some("买家小明".into()),
            item_id: Some("900000000601".into()),
            item_title: Some("九成新 机械键盘".into()),
            item_pic: Some("https://img/k.jpg".into()),
            modify_time: 1_742_458_937_389,
            unread: 2,
            pinned: true,
            muted: false,
            red_reminder: Some("等待买家付款".into()),
            last_message: Some(last),
        },
        Conversation {
            cid: Cid::new("40000000231"),
            peer: Uid::new("1000000105"),
            peer_nick: None,
            item_id: None,
            item_title: None,
            item_pic: None,
            modify_time: 1_742_000_000_000,
            unread: 0,
            pinned: false,
            muted: true,
            red_reminder: None,
            last_message: None,
        },
    ]
}

#[test]
fn conversation_page_round_trip() {
    let convs = conversations();
    let body = conversation_page_json(&convs, &me(), true, Some(1_742_000_000_000));
    let page = parse_conversation_page(&body, &me()).unwrap();
    assert_eq!(page.conversations, convs);
    assert!(page.has_more);
    assert_eq!(page.next_cursor, Some(1_742_000_000_000));
    let last = conversation_page_json(&convs, &me(), false, None);
    let page = parse_conversation_page(&last, &me()).unwrap();
    assert!(!page.has_more);
    assert_eq!(page.next_cursor, None);
}

#[test]
fn conversation_list_array_form() {
    let convs = conversations();
    let body = Value::Array(
        convs
            .iter()
            .map(|c| conversation_entry_json(c, &me()))
            .collect(),
    );
    assert_eq!(parse_conversation_list(&body, &me()), convs);
    // The same entries inside a response frame, and nonsense.
    let frame = json!({"code": 200, "headers": {"mid": "1 0"}, "body": body});
    assert_eq!(parse_conversation_list(&frame, &me()), convs);
    assert!(parse_conversation_list(&json!("x"), &me()).is_empty());
    assert!(parse_conversation_list(&json!([1, null, {}]), &me()).is_empty());
}

mod robustness {
    use super::*;
    use goofish_tui::protocol::send;
    use proptest::prelude::*;

    /// Arbitrary JSON, biased towards the keys the parsers look at.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "body",
            "userMessageModels",
            "userConvs",
            "message",
            "messageId",
            "cid",
            "createAt",
            "sender",
            "uid",
            "content",
            "custom",
            "data",
            "extension",
            "extJson",
            "reminderUrl",
            "singleChatUserConversation",
            "singleChatConversation",
            "pairFirst",
            "pairSecond",
            "lastMessage",
            "redPoint",
            "hasMore",
            "nextCursor",
            "visible",
            "actualReceivers",
            "x",
        ])
        .prop_map(str::to_string);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "[a-zA-Z0-9+/=@.%]{0,24}".prop_map(Value::String),
            Just(json!("1000000101@goofish")),
            Just(json!("eyJjb250ZW50VHlwZSI6MX0=")),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(v in json_value()) {
            let cid = Cid::new(CID);
            let _ = parse_history_page(&v, &cid, &me());
            let _ = parse_conversation_page(&v, &me());
            let _ = parse_conversation_list(&v, &me());
            let _ = send::parse_send_request(&v);
            let _ = send::parse_send_response(&v);
            let _ = send::parse_list_user_messages(&v);
            let _ = send::parse_list_newest_pagination(&v);
            let _ = send::parse_read_body(&v);
            let _ = send::parse_clear_red_point(&v);
            let _ = send::parse_create_single(&v);
            let _ = send::parse_create_response(&v);
            let _ = send::parse_get_by_cids(&v);
            let _ = send::parse_recall(&v);
            // Wrapped where the parsers look for them.
            let _ = parse_history_page(&json!({"userMessageModels": [v.clone()]}), &cid, &me());
            let _ = parse_conversation_list(&json!([{"singleChatUserConversation": v}]), &me());
        }
    }
}
