//! Request bodies of the IM RPCs (§6) as the client sends them, and their parsers for the
//! simulator. Bodies are the positional-argument arrays of a request frame.

use super::content::{content_to_json, content_type};
use super::history::{as_i64, custom_type};
use super::ids::{Cid, ClientId, MessageId, Uid};
use super::model::Content;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
#[cfg(feature = "sim")]
use {
    super::content::parse_content,
    super::history::{ParseError, base64_text},
};

// ---- sendByReceiverScope (§6.8) ------------------------------------------------------------

/// The body of `/r/MessageSend/sendByReceiverScope`: `[message, {"actualReceivers": [peer,
/// self]}]`, content as base64 of its JSON (§8).
pub fn send_body(
    cid: &Cid,
    client_id: &ClientId,
    content: &Content,
    peer: &Uid,
    self_uid: &Uid,
) -> Value {
    json!([
        {
            "uuid": client_id.as_str(),
            "cid": cid.im(),
            "conversationType": 1,
            "content": {
                "contentType": content_type::CUSTOM,
                "custom": {
                    "type": custom_type(content),
                    "data": STANDARD.encode(content_to_json(content)),
                },
            },
            "redPointPolicy": 0,
            "extension": {"extJson": "{}"},
            "ctx": {"appVersion": "1.0", "platform": "web"},
            "mtags": {},
            "msgReadStatusSetting": 1,
        },
        {"actualReceivers": [peer.im(), self_uid.im()]},
    ])
}

#[cfg(feature = "sim")]
/// A send request as the simulator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRequest {
    /// The client's `uuid` (empty when the client sent none).
    pub uuid: String,
    pub cid: Cid,
    pub content: Content,
    pub receivers: Vec<Uid>,
}

#[cfg(feature = "sim")]
const SEND: &str = "send request";

#[cfg(feature = "sim")]
/// Reads a send body; accepts the simple second argument and PY-C's rich one
/// (`receiverScope.actualReceivers`).
pub fn parse_send_request(body: &Value) -> Result<SendRequest, ParseError> {
    let msg = arg(body, 0).ok_or(ParseError::Missing {
        what: SEND,
        field: "message",
    })?;
    let cid = msg
        .get("cid")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(Cid::new)
        .ok_or(ParseError::Missing {
            what: SEND,
            field: "cid",
        })?;
    let content_obj = msg.get("content").ok_or(ParseError::Missing {
        what: SEND,
        field: "content",
    })?;
    let content = match content_obj.get("custom") {
        Some(custom) => {
            let data = custom
                .get("data")
                .and_then(Value::as_str)
                .ok_or(ParseError::Missing {
                    what: SEND,
                    field: "content.custom.data",
                })?;
            let json = base64_text(data).ok_or(ParseError::BadContent {
                what: SEND,
                field: "content.custom.data",
            })?;
            let summary = custom.get("summary").and_then(Value::as_str).unwrap_or("");
            parse_content(Some(&json), None, summary)
        }
        // Tolerated: the content JSON itself instead of the 101 wrapper.
        None => parse_content(Some(&content_obj.to_string()), None, ""),
    };
    let scope = arg(body, 1);
    let receivers = scope
        .and_then(|s| {
            s.get("actualReceivers")
                .or_else(|| s.pointer("/receiverScope/actualReceivers"))
        })
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(Uid::new).collect())
        .unwrap_or_default();
    Ok(SendRequest {
        uuid: msg
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        cid,
        content,
        receivers,
    })
}

/// What a successful send answer tells.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SendAck {
    pub message_id: Option<MessageId>,
    pub time: Option<i64>,
    pub uuid: Option<String>,
}

/// Reads a send answer body. §12.5 [U]: `messageId`/`uuid`/`createAt` (PY-C) or only
/// `server-timestamp` (TS); anything else gives an empty ack (the echo push confirms).
pub fn parse_send_response(body: &Value) -> SendAck {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    SendAck {
        message_id: text("messageId").map(MessageId::new),
        time: body
            .get("createAt")
            .and_then(as_i64)
            .or_else(|| body.get("server-timestamp").and_then(as_i64)),
        uuid: text("uuid"),
    }
}

#[cfg(feature = "sim")]
/// The simulator's send answer. It takes PY-C's side of §12.5 (the richer one), so a client
/// learns the PNM id without waiting for the echo.
pub fn send_response_json(id: &MessageId, uuid: &str, time: i64) -> Value {
    json!({"messageId": id.as_str(), "uuid": uuid, "createAt": time})
}

// ---- history and conversation list ---------------------------------------------------------

/// `listUserMessages` (§6.6): `[cid@goofish, false, cursor, limit, false]`. Arguments 2 and 5
/// are sent as every client does; their meaning is open (§12.4).
pub fn list_user_messages_body(cid: &Cid, cursor: i64, limit: u32) -> Value {
    json!([cid.im(), false, cursor, limit, false])
}

#[cfg(feature = "sim")]
pub fn parse_list_user_messages(body: &Value) -> Result<(Cid, i64, u32), ParseError> {
    const W: &str = "listUserMessages request";
    let cid = arg(body, 0)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(Cid::new)
        .ok_or(ParseError::Missing {
            what: W,
            field: "cid",
        })?;
    let cursor = arg(body, 2).and_then(as_i64).ok_or(ParseError::Missing {
        what: W,
        field: "cursor",
    })?;
    let limit = limit_of(arg(body, 3), W)?;
    Ok((cid, cursor, limit))
}

/// `listNewestPagination` (§6.2): `[cursor, limit]`.
pub fn list_newest_pagination_body(cursor: i64, limit: u32) -> Value {
    json!([cursor, limit])
}

#[cfg(feature = "sim")]
/// Also accepts the `[{startTimeStamp, limitNum}]` form of TS's documentation.
pub fn parse_list_newest_pagination(body: &Value) -> Result<(i64, u32), ParseError> {
    const W: &str = "listNewestPagination request";
    if let Some(obj) = arg(body, 0).filter(|v| v.is_object()) {
        let cursor = obj
            .get("startTimeStamp")
            .and_then(as_i64)
            .ok_or(ParseError::Missing {
                what: W,
                field: "startTimeStamp",
            })?;
        return Ok((cursor, limit_of(obj.get("limitNum"), W)?));
    }
    let cursor = arg(body, 0).and_then(as_i64).ok_or(ParseError::Missing {
        what: W,
        field: "cursor",
    })?;
    Ok((cursor, limit_of(arg(body, 1), W)?))
}

#[cfg(feature = "sim")]
fn limit_of(v: Option<&Value>, what: &'static str) -> Result<u32, ParseError> {
    let n = v.and_then(as_i64).ok_or(ParseError::Missing {
        what,
        field: "limit",
    })?;
    u32::try_from(n).map_err(|_| ParseError::WrongType {
        what,
        field: "limit",
    })
}

// ---- read / clearRedPoint / recall ---------------------------------------------------------

/// `MessageStatus/read` (§6.9): `[[PNM ids…]]`.
pub fn read_body(ids: &[MessageId]) -> Value {
    json!([ids.iter().map(MessageId::as_str).collect::<Vec<_>>()])
}

#[cfg(feature = "sim")]
/// Both shapes of §6.9 [U]: a list of PNM ids, or a single cid string (then the ids are empty
/// and the cid is returned).
pub fn parse_read_body(body: &Value) -> (Vec<MessageId>, Option<Cid>) {
    match arg(body, 0) {
        Some(Value::Array(ids)) => (
            ids.iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(MessageId::new)
                .collect(),
            None,
        ),
        Some(Value::String(s)) if s.ends_with(".PNM") => (vec![MessageId::new(s.as_str())], None),
        Some(Value::String(s)) if !s.trim().is_empty() => (Vec::new(), Some(Cid::new(s))),
        _ => (Vec::new(), None),
    }
}

/// `Conversation/clearRedPoint` (§6.10 [U]): with the last read message
/// `[[{"cid", "messageId"}]]` (sent along with `read`), otherwise PY-C's `[[cid]]`.
pub fn clear_red_point_body(cid: &Cid, last: Option<&MessageId>) -> Value {
    match last {
        Some(id) => json!([[{"cid": cid.im(), "messageId": id.as_str()}]]),
        None => json!([[cid.im()]]),
    }
}

#[cfg(feature = "sim")]
/// The cids of either shape of §6.10.
pub fn parse_clear_red_point(body: &Value) -> Vec<Cid> {
    let cid_of = |v: &Value| -> Option<Cid> {
        match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("cid").and_then(Value::as_str),
            _ => None,
        }
        .filter(|s| !s.trim().is_empty())
        .map(Cid::new)
    };
    match arg(body, 0) {
        Some(Value::Array(items)) => items.iter().filter_map(cid_of).collect(),
        Some(single) => cid_of(single).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `MessageManager/recallMessage` (§6.11): `[PNM id]`.
pub fn recall_body(id: &MessageId) -> Value {
    json!([id.as_str()])
}

#[cfg(feature = "sim")]
pub fn parse_recall(body: &Value) -> Option<MessageId> {
    let first = arg(body, 0)?;
    let id = match first {
        Value::Array(a) => a.first()?.as_str()?,
        other => other.as_str()?,
    };
    (!id.trim().is_empty()).then(|| MessageId::new(id))
}

// ---- conversations -------------------------------------------------------------------------

/// `SingleChatConversation/create` (§6.5). Peer first, self second: the PY side of §12.9
/// (TS sorts the pair numerically instead; the service accepts both).
pub fn create_single_body(peer: &Uid, self_uid: &Uid, item_id: Option<&str>) -> Value {
    json!([{
        "pairFirst": peer.im(),
        "pairSecond": self_uid.im(),
        "bizType": "1",
        "extension": {"itemId": item_id.unwrap_or(""), "orderId": "", "source": ""},
        "ctx": {"appVersion": "1.0", "platform": "web"},
    }])
}

#[cfg(feature = "sim")]
/// `(pairFirst, pairSecond, itemId)` of a create request.
pub fn parse_create_single(body: &Value) -> Result<(Uid, Uid, Option<String>), ParseError> {
    const W: &str = "create request";
    let req = arg(body, 0).ok_or(ParseError::Missing {
        what: W,
        field: "argument",
    })?;
    let uid = |k: &'static str| {
        req.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(Uid::new)
            .ok_or(ParseError::Missing { what: W, field: k })
    };
    let item = match req.pointer("/extension/itemId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok((uid("pairFirst")?, uid("pairSecond")?, item))
}

/// The cid of a create answer, whatever its shape (§6.5): `singleChatConversation`,
/// `singleChatUserConversation`, `data`, a bare `cid`, or any of these in a 1-element array.
pub fn parse_create_response(body: &Value) -> Option<Cid> {
    fn find(v: &Value, depth: usize) -> Option<Cid> {
        if depth > 4 {
            return None;
        }
        match v {
            Value::Array(a) => a.first().and_then(|x| find(x, depth + 1)),
            Value::Object(o) => {
                if let Some(c) = o
                    .get("cid")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    return Some(Cid::new(c));
                }
                [
                    "singleChatConversation",
                    "singleChatUserConversation",
                    "data",
                    "body",
                ]
                .iter()
                .find_map(|k| o.get(*k).and_then(|x| find(x, depth + 1)))
            }
            _ => None,
        }
    }
    find(body, 0)
}

/// `Conversation/getByCids` (§6.4): `[[cids…]]`.
pub fn get_by_cids_body(cids: &[Cid]) -> Value {
    json!([cids.iter().map(Cid::im).collect::<Vec<_>>()])
}

#[cfg(feature = "sim")]
pub fn parse_get_by_cids(body: &Value) -> Vec<Cid> {
    let strs = match arg(body, 0) {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        // Tolerated: the cids as direct arguments.
        Some(Value::String(_)) => body
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    strs.into_iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(Cid::new)
        .collect()
}

// ---- sync state (§4.5) ---------------------------------------------------------------------

pub fn get_state_body() -> Value {
    json!([{"topic": "sync"}])
}

/// ackDiff with the state `getState` answered, sent back verbatim.
pub fn ack_diff_body(state: &Value) -> Value {
    json!([state])
}

/// ackDiff synthesised the PY way: "caught up as of now".
pub fn ack_diff_now_body(now_ms: i64) -> Value {
    json!([{
        "pipeline": "sync",
        "tooLong2Tag": "PNM,1",
        "channel": "sync",
        "topic": "sync",
        "highPts": 0,
        "pts": now_ms.saturating_mul(1000),
        "seq": 0,
        "timestamp": now_ms,
    }])
}

#[cfg(feature = "sim")]
fn arg(body: &Value, i: usize) -> Option<&Value> {
    body.as_array()?.get(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sim")]
    const SELF: &str = "2200000000401";
    #[cfg(feature = "sim")]
    const PEER: &str = "1000000101";
    #[cfg(feature = "sim")]
    const CID: &str = "40000000201";

    /// A constructed sample frame; `None` (with a notice) without samples.
    fn sample_frame(name: &str) -> Option<Value> {
        crate::test_samples::json(&format!("constructed/{name}"))
    }

    /// The `body` of a constructed sample.
    fn sample_body(name: &str) -> Option<Value> {
        sample_frame(name).map(|f| f["body"].clone())
    }

    #[cfg(feature = "sim")]
    fn cid() -> Cid {
        Cid::new(CID)
    }

    #[test]
    #[cfg(feature = "sim")]
    fn send_text_body_matches_the_sample() {
        let content = Content::Text {
            text: "在的，可以直接拍".into(),
        };
        let ours = send_body(
            &cid(),
            &ClientId::new("-17424589073891"),
            &content,
            &Uid::new(PEER),
            &Uid::new(SELF),
        );
        let parsed = parse_send_request(&ours).unwrap();
        assert_eq!(
            parsed,
            SendRequest {
                uuid: "-17424589073891".into(),
                cid: cid(),
                content: content.clone(),
                receivers: vec![Uid::new(PEER), Uid::new(SELF)],
            }
        );
        let Some(sample) = sample_body("ws-send-text-request.json") else {
            return;
        };
        // Identical apart from the base64 (the sample was made with `", "` separators).
        let mut a = ours.clone();
        let mut b = sample.clone();
        a[0]["content"]["custom"]["data"] = Value::Null;
        b[0]["content"]["custom"]["data"] = Value::Null;
        assert_eq!(a, b);
        assert_eq!(parse_send_request(&sample).unwrap(), parsed);
    }

    #[test]
    #[cfg(feature = "sim")]
    fn send_image_body_matches_the_sample() {
        let url = "https://img.alicdn.com/imgextra/i4/O1CN01EXAMPLE_!!0-fleamarket.jpg";
        let content = Content::Image {
            urls: vec![url.into()],
        };
        let ours = send_body(
            &cid(),
            &ClientId::new("-17424589123891"),
            &content,
            &Uid::new(PEER),
            &Uid::new(SELF),
        );
        assert_eq!(ours[0]["content"]["custom"]["type"], 2);
        assert_eq!(parse_send_request(&ours).unwrap().content, content);
        let Some(sample) = sample_body("ws-send-image-request.json") else {
            return;
        };
        let mut a = ours.clone();
        let mut b = sample.clone();
        a[0]["content"]["custom"]["data"] = Value::Null;
        b[0]["content"]["custom"]["data"] = Value::Null;
        assert_eq!(a, b);
        assert_eq!(parse_send_request(&sample).unwrap().content, content);
    }

    #[test]
    #[cfg(feature = "sim")]
    fn send_request_accepts_the_rich_scope_and_rejects_garbage() {
        let mut body = send_body(
            &cid(),
            &ClientId::new("-1"),
            &Content::Text { text: "x".into() },
            &Uid::new(PEER),
            &Uid::new(SELF),
        );
        body[1] = json!({
            "createSingleChatCoversation": {"cid": "40000000201@goofish"},
            "receiverScope": {"actualReceivers": ["1000000101@goofish", "2200000000401@goofish"],
                              "isShare": false, "excludeReceivers": []},
        });
        assert_eq!(
            parse_send_request(&body).unwrap().receivers,
            vec![Uid::new(PEER), Uid::new(SELF)]
        );
        assert!(parse_send_request(&json!([])).is_err());
        assert!(parse_send_request(&json!({"cid": "x"})).is_err());
        let no_cid = json!([{"content": {"contentType": 101, "custom": {"data": "e30="}}}]);
        assert_eq!(
            parse_send_request(&no_cid).unwrap_err().to_string(),
            "send request has no cid"
        );
        let bad = json!([{"cid": "1@goofish", "content": {"contentType": 101,
            "custom": {"type": 1, "data": "////"}}}]);
        assert!(matches!(
            parse_send_request(&bad),
            Err(ParseError::BadContent { .. })
        ));
    }

    #[test]
    #[cfg(feature = "sim")]
    fn send_responses_of_both_families() {
        let id = MessageId::new("3400000000303.PNM");
        let ours = send_response_json(&id, "-17424589073891", 1_742_458_907_389);
        let ack = parse_send_response(&ours);
        assert_eq!(
            ack,
            SendAck {
                message_id: Some(id),
                time: Some(1_742_458_907_389),
                uuid: Some("-17424589073891".into()),
            }
        );
        if let Some(body) = sample_body("ws-send-response-ok.json") {
            assert_eq!(parse_send_response(&body), ack);
        }
        assert_eq!(
            parse_send_response(&json!({"server-timestamp": "1742458907389"})),
            SendAck {
                message_id: None,
                time: Some(1_742_458_907_389),
                uuid: None
            }
        );
        assert_eq!(parse_send_response(&json!(null)), SendAck::default());
        assert_eq!(parse_send_response(&json!([1, 2])), SendAck::default());
    }

    #[test]
    #[cfg(feature = "sim")]
    fn history_and_list_requests() {
        let ours = list_user_messages_body(&cid(), 9_007_199_254_740_991, 20);
        assert_eq!(
            parse_list_user_messages(&ours).unwrap(),
            (cid(), 9_007_199_254_740_991, 20)
        );
        assert!(parse_list_user_messages(&json!(["x@goofish", false])).is_err());
        assert!(parse_list_user_messages(&json!(["x@goofish", false, 1, -5, false])).is_err());
        let list = list_newest_pagination_body(9_007_199_254_740_991, 20);
        assert_eq!(
            parse_list_newest_pagination(&list).unwrap(),
            (9_007_199_254_740_991, 20)
        );
        assert_eq!(
            parse_list_newest_pagination(&json!([{"startTimeStamp": 5, "limitNum": 7}])).unwrap(),
            (5, 7)
        );
        assert!(parse_list_newest_pagination(&json!({})).is_err());
        if let Some(s) = sample_body("ws-listUserMessages-request.json") {
            assert_eq!(ours, s);
            assert_eq!(
                parse_list_user_messages(&s).unwrap(),
                (cid(), 9_007_199_254_740_991, 20)
            );
        }
        if let Some(s) = sample_body("ws-listNewestPagination-request.json") {
            assert_eq!(list, s);
            assert_eq!(
                parse_list_newest_pagination(&s).unwrap(),
                (9_007_199_254_740_991, 20)
            );
        }
    }

    #[test]
    #[cfg(feature = "sim")]
    fn read_and_clear_red_point_in_both_shapes() {
        let ids = vec![
            MessageId::new("3400000000302.PNM"),
            MessageId::new("3400000000304.PNM"),
        ];
        let read = read_body(&ids);
        assert_eq!(parse_read_body(&read), (ids.clone(), None));
        assert_eq!(
            parse_read_body(&json!(["40000000201@goofish"])),
            (Vec::new(), Some(cid()))
        );
        assert_eq!(parse_read_body(&json!({})), (Vec::new(), None));
        if let Some(s) = sample_body("ws-read-request.json") {
            assert_eq!(read, s);
            assert_eq!(parse_read_body(&s), (ids.clone(), None));
        }

        let with_last = clear_red_point_body(&cid(), Some(&ids[1]));
        assert_eq!(parse_clear_red_point(&with_last), vec![cid()]);
        let plain = clear_red_point_body(&cid(), None);
        assert_eq!(plain, json!([["40000000201@goofish"]]));
        assert_eq!(parse_clear_red_point(&plain), vec![cid()]);
        assert!(parse_clear_red_point(&json!(7)).is_empty());
        if let Some(s) = sample_body("ws-clearRedPoint-request.json") {
            assert_eq!(with_last, s);
            assert_eq!(parse_clear_red_point(&s), vec![cid()]);
        }
    }

    #[test]
    #[cfg(feature = "sim")]
    fn create_get_by_cids_and_recall() {
        let body = create_single_body(&Uid::new(PEER), &Uid::new(SELF), Some("900000000601"));
        let expect = (
            Uid::new(PEER),
            Uid::new(SELF),
            Some("900000000601".to_string()),
        );
        assert_eq!(parse_create_single(&body).unwrap(), expect);
        let no_item = create_single_body(&Uid::new(PEER), &Uid::new(SELF), None);
        assert_eq!(parse_create_single(&no_item).unwrap().2, None);
        assert!(parse_create_single(&json!([{"pairFirst": "1@goofish"}])).is_err());
        if let Some(s) = sample_body("ws-createSingle-request.json") {
            assert_eq!(body, s);
            assert_eq!(parse_create_single(&s).unwrap(), expect);
        }
        let conv = json!({"cid": "40000000201@goofish", "pairFirst": "1000000101@goofish"});
        for shape in [
            json!({"singleChatConversation": conv}),
            json!({"singleChatUserConversation": {"singleChatConversation": conv}}),
            json!({"data": {"singleChatConversation": conv}}),
            json!({"cid": "40000000201@goofish"}),
            json!([{"singleChatConversation": conv}]),
        ] {
            assert_eq!(parse_create_response(&shape), Some(cid()), "{shape}");
        }
        assert_eq!(parse_create_response(&json!({"x": 1})), None);
        if let Some(body) = sample_body("ws-createSingle-response.json") {
            assert_eq!(parse_create_response(&body), Some(cid()));
        }

        let cids = vec![cid(), Cid::new("40000000202")];
        let by = get_by_cids_body(&cids);
        assert_eq!(parse_get_by_cids(&by), cids);
        if let Some(s) = sample_body("ws-getByCids-request.json") {
            assert_eq!(get_by_cids_body(&[cid()]), s);
            assert_eq!(parse_get_by_cids(&s), vec![cid()]);
        }

        let id = MessageId::new("3400000000303.PNM");
        assert_eq!(parse_recall(&recall_body(&id)), Some(id.clone()));
        assert_eq!(parse_recall(&json!([])), None);
        if let Some(s) = sample_body("ws-recall-request.json") {
            assert_eq!(recall_body(&id), s);
            assert_eq!(parse_recall(&s), Some(id));
        }
    }

    #[test]
    fn sync_state_bodies() {
        let now = 1_742_458_817_389;
        let synth = ack_diff_now_body(now);
        assert_eq!(synth[0]["pts"], json!(now * 1000));
        if let Some(s) = sample_body("ws-getState-request.json") {
            assert_eq!(get_state_body(), s);
        }
        if let Some(s) = sample_body("ws-ackDiff-request.json") {
            // The sample's state is the one getState answered; the synthesised one equals it.
            assert_eq!(ack_diff_body(&s[0]), s);
            assert_eq!(synth, s);
        }
    }
}
