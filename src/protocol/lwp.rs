//! LWP frames (§4.2): JSON text frames over the WebSocket.
//!
//! Requests and pushes carry `lwp` (a path); responses and ACKs carry `code`. Both carry
//! `headers` with a `mid` that ties a response to its request.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient::json_int;
use super::push_body::{BodyParts, SyncPush};

/// The IM app key (`app-key` on `/reg`, `appKey` in `login.token`).
pub const IM_APP_KEY: &str = "444e9908a51d1cb236a27862abc769c9";

/// First-page cursor for history and the conversation list (JS `Number.MAX_SAFE_INTEGER`).
pub const FIRST_PAGE_CURSOR: i64 = 9_007_199_254_740_991;

/// Business code of IM flow control ("请求过于频繁").
pub const FLOW_CONTROL_CODE: &str = "400600001";

pub mod path {
    pub const REG: &str = "/reg";
    pub const HEARTBEAT: &str = "/!";
    pub const GET_STATE: &str = "/r/SyncStatus/getState";
    pub const ACK_DIFF: &str = "/r/SyncStatus/ackDiff";
    pub const LIST_NEWEST_PAGINATION: &str = "/r/Conversation/listNewestPagination";
    pub const LIST_NEWEST: &str = "/r/Conversation/listNewest";
    pub const GET_BY_CIDS: &str = "/r/Conversation/getByCids";
    pub const CREATE_SINGLE: &str = "/r/SingleChatConversation/create";
    pub const LIST_USER_MESSAGES: &str = "/r/MessageManager/listUserMessages";
    pub const SEND: &str = "/r/MessageSend/sendByReceiverScope";
    pub const READ: &str = "/r/MessageStatus/read";
    pub const CLEAR_RED_POINT: &str = "/r/Conversation/clearRedPoint";
    pub const RECALL: &str = "/r/MessageManager/recallMessage";
    pub const PUSH_SYNC: &str = "/s/sync";
    pub const PUSH_SYNC_FAILOVER: &str = "/s/sync_failover";
    pub const PUSH_PARA: &str = "/s/para";
    pub const PUSH_VULCAN: &str = "/s/vulcan";
    pub const PUSH_KICKOUT: &str = "/push/kickout";
    pub const PUSH_SESSION_REMOVE: &str = "/s/session/remove";
}

/// One frame as it travels. Which of `lwp` / `code` is present decides its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Frame {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lwp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The items of a sync push, read with the frame (`Frame::parse_push`) instead of
    /// `body`: no JSON tree is built for them.
    #[serde(skip)]
    pub sync: Option<SyncPush>,
}

/// A frame's fields in one pass, the body's package typed.
#[derive(Deserialize)]
struct WireFrame {
    #[serde(default)]
    lwp: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    headers: Option<Value>,
    #[serde(default)]
    body: Option<BodyParts>,
}

/// What a frame is, by the rule of GO and PY-C: `code` + `headers` is a response (or, seen
/// by a server, an ACK); `lwp` + `headers` is a push (or, seen by a server, a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Has `code` and `headers`: a response to the client, an ACK to the server.
    Response,
    /// Has `lwp` and `headers`: a push to the client, a request to the server.
    Push,
    /// Neither: ignored.
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

impl Frame {
    /// Parses a text frame. Wrong types in known fields are tolerated: a frame that is JSON
    /// but not an object, or whose `headers` is not an object, becomes `Kind::Other`.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text)?;
        Ok(Frame::from_value(value))
    }

    /// As `parse`, but the body of a sync push (`/s/sync`, `/s/sync_failover`, `/s/para`)
    /// comes as its items in `sync`, read in the same pass as the frame. A push of the usual
    /// shape is read by [`push_scan`](super::push_scan); any other frame in one pass of
    /// serde, what [`push_body`](super::push_body) does not read as `parse` reads it.
    pub fn parse_push(text: &str) -> Result<Frame, FrameError> {
        match super::push_scan::sync_frame(text) {
            Some(frame) => Ok(frame),
            None => Frame::parse_general(text),
        }
    }

    /// `parse_push` for a frame of any shape.
    pub(super) fn parse_general(text: &str) -> Result<Frame, FrameError> {
        let Ok(wire) = serde_json::from_str::<WireFrame>(text) else {
            return Frame::parse(text);
        };
        let lwp = match wire.lwp {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let is_sync = matches!(
            lwp.as_deref(),
            Some(path::PUSH_SYNC | path::PUSH_SYNC_FAILOVER | path::PUSH_PARA)
        );
        let (headers, has_headers) = match wire.headers {
            Some(Value::Object(h)) => (h, true),
            _ => (Map::new(), false),
        };
        let code = wire.code.as_ref().and_then(json_int);
        let (body, sync) = match wire.body {
            Some(parts) if is_sync && code.is_none() && has_headers => {
                (None, Some(parts.into_sync()))
            }
            Some(parts) => match parts.into_tree() {
                Some(tree) => (Some(tree), None),
                // A package in a frame that is not a sync push: kept whole, as a tree.
                None => return Frame::parse(text),
            },
            None => (None, None),
        };
        Ok(Frame {
            lwp: if has_headers { lwp } else { None },
            code: if has_headers { code } else { None },
            headers,
            body,
            sync,
        })
    }

    pub fn from_value(value: Value) -> Frame {
        let Value::Object(mut obj) = value else {
            return Frame::default();
        };
        let lwp = match obj.remove("lwp") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let code = obj.remove("code").as_ref().and_then(json_int);
        let (headers, has_headers) = match obj.remove("headers") {
            Some(Value::Object(h)) => (h, true),
            _ => (Map::new(), false),
        };
        let body = obj.remove("body");
        // Without headers, or with neither marker, the frame is kept but ignored.
        Frame {
            lwp: if has_headers { lwp } else { None },
            code: if has_headers { code } else { None },
            headers,
            body,
            sync: None,
        }
    }

    pub fn kind(&self) -> Kind {
        if self.code.is_some() {
            Kind::Response
        } else if self.lwp.is_some() {
            Kind::Push
        } else {
            Kind::Other
        }
    }

    pub fn to_text(&self) -> String {
        // Serialising a Frame cannot fail: every field is plain JSON.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A request frame with `mid` (fresh, from [`new_mid`]).
    pub fn request(path: &str, body: Option<Value>, mid: String) -> Frame {
        let mut headers = Map::new();
        headers.insert("mid".into(), Value::String(mid));
        Frame {
            lwp: Some(path.to_string()),
            code: None,
            headers,
            body,
            sync: None,
        }
    }

    /// A response to `request`, echoing its `mid`.
    pub fn response_to(request: &Frame, code: i64, body: Option<Value>) -> Frame {
        let mut headers = Map::new();
        if let Some(mid) = request.headers.get("mid") {
            headers.insert("mid".into(), mid.clone());
        }
        Frame {
            lwp: None,
            code: Some(code),
            headers,
            body,
            sync: None,
        }
    }

    /// The ACK of a push: `code` 200 with the push's complete headers (GO/TS behaviour).
    pub fn ack_of(push: &Frame) -> Frame {
        Frame {
            lwp: None,
            code: Some(200),
            headers: push.headers.clone(),
            body: None,
            sync: None,
        }
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    pub fn mid(&self) -> Option<&str> {
        self.header_str("mid")
    }

    /// The correlation key: the part of `mid` before the space. GO and PY-C match on it,
    /// TS on the whole string; matching on the prefix accepts both kinds of server echo.
    pub fn mid_key(&self) -> Option<&str> {
        self.mid().map(mid_key)
    }

    /// For a response: `Ok(body)` on code 200, else the classified failure.
    pub fn into_result(self) -> Result<Value, RpcError> {
        let code = self.code.unwrap_or(0);
        let body = self.body.unwrap_or(Value::Null);
        if code == 200 && !body_is_rejection(&body) {
            Ok(body)
        } else {
            Err(RpcError::classify(code, &body))
        }
    }
}

/// `"1234567 0"` → `"1234567"`.
pub fn mid_key(mid: &str) -> &str {
    mid.split(' ').next().unwrap_or(mid)
}

/// A fresh mid: `"<0..999 random><13-digit ms timestamp> 0"`, of the time now and a random
/// number (only its remainder by 1000 is used).
pub fn new_mid(now_ms: i64, random: u32) -> String {
    format!("{}{now_ms} 0", random % 1000)
}

/// Some gateways answer a rejection with code 200 and a body carrying the reason (§12.5
/// leaves the outer code of business rejections open), so the body is checked too.
fn body_is_rejection(body: &Value) -> bool {
    let code_is_flow = body.get("code").and_then(Value::as_str) == Some(FLOW_CONTROL_CODE);
    let csi = body
        .get("moreInfo")
        .and_then(Value::as_str)
        .is_some_and(|m| m.contains("CSI_FORBID"));
    code_is_flow || csi
}

/// A failed RPC, classified by the rules of §4.2.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// 401 / invalid token: fetch a new token and reconnect.
    #[error("IM token rejected: {reason}")]
    InvalidToken { reason: String },
    /// The token was minted for another device id.
    #[error("device id does not match the token: {reason}")]
    DeviceMismatch { reason: String },
    /// Too many sessions on the account.
    #[error("session limit reached: {reason}")]
    ConnectLimit { reason: String },
    /// 400600001: slow down and retry.
    #[error("flow control (请求过于频繁)")]
    FlowControl,
    /// CSI_FORBID: the content was blocked; do not retry.
    #[error("blocked by content security: {reason}")]
    ContentBlocked { reason: String },
    /// Transient server trouble (`system is error`, 闲鱼走神了…).
    #[error("server error: {reason}")]
    Transient { reason: String },
    #[error("RPC failed with code {code}: {reason}")]
    Other { code: i64, reason: String },
}

impl RpcError {
    pub fn classify(code: i64, body: &Value) -> RpcError {
        let field = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let reason = field("reason");
        let more = field("moreInfo");
        let dev = field("developerMessage");
        let text = [&reason, &more, &dev].map(|s| s.to_lowercase()).join(" ");
        let reason_or = |fallback: &str| {
            if !reason.is_empty() {
                reason.clone()
            } else if !dev.is_empty() {
                dev.clone()
            } else {
                fallback.to_string()
            }
        };
        if body.get("code").and_then(Value::as_str) == Some(FLOW_CONTROL_CODE)
            || body.get("code").and_then(Value::as_i64) == Some(400_600_001)
        {
            return RpcError::FlowControl;
        }
        if more.contains("CSI_FORBID") || reason.contains("CSI_FORBID") {
            let why = if reason.is_empty() || reason.contains("CSI_FORBID") {
                more.split("||").nth(1).unwrap_or("安全拦截").to_string()
            } else {
                reason.clone()
            };
            return RpcError::ContentBlocked { reason: why };
        }
        if text.contains("device id or appkey is not equal") {
            return RpcError::DeviceMismatch {
                reason: reason_or("device id mismatch"),
            };
        }
        if text.contains("connect limit")
            || text.contains("too many")
            || text.contains("session remove")
        {
            return RpcError::ConnectLimit {
                reason: reason_or("connect limit"),
            };
        }
        if code == 401
            || text.contains("invalid token")
            || text.contains("token invalid")
            || text.contains("not auth")
            || text.contains("token is not found")
        {
            return RpcError::InvalidToken {
                reason: reason_or("invalid token"),
            };
        }
        if text.contains("system is error") || reason.contains("走神") || code >= 500 {
            return RpcError::Transient {
                reason: reason_or("server error"),
            };
        }
        RpcError::Other {
            code,
            reason: reason_or("unknown error"),
        }
    }

    /// Worth sending again later, unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RpcError::FlowControl | RpcError::Transient { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_by_markers() {
        let resp = Frame::parse(r#"{"code":200,"headers":{"mid":"5 0"},"body":{}}"#).unwrap();
        assert_eq!(resp.kind(), Kind::Response);
        let push = Frame::parse(r#"{"lwp":"/s/sync","headers":{"mid":"1"},"body":{}}"#).unwrap();
        assert_eq!(push.kind(), Kind::Push);
        for other in [
            r#"{"lwp":"/s/sync"}"#,
            r#"[1,2]"#,
            r#""x""#,
            r#"{"headers":{}}"#,
        ] {
            assert_eq!(Frame::parse(other).unwrap().kind(), Kind::Other, "{other}");
        }
        assert!(Frame::parse("not json").is_err());
    }

    /// `parse_push` reads in one pass what `parse` reads as a tree: other frames come out
    /// the same, and a sync push's items decode to what its tree decodes to.
    #[test]
    fn a_push_read_in_one_pass_is_what_its_tree_says() {
        use crate::protocol::sync::{decode_sync_body, decode_sync_push};
        let me = crate::protocol::Uid::new("1");
        let frames = [
            r#"{"code":200,"headers":{"mid":"5 0"},"body":{"a":[1,{"b":null}]}}"#,
            r#"{"code":200,"headers":{"mid":"5 0"},"body":{"syncPushPackage":{"data":[]}}}"#,
            r#"{"lwp":"/s/vulcan","headers":{"mid":"1"},"body":"x"}"#,
            r#"{"lwp":"/s/sync","body":{"syncPushPackage":{"data":[]}}}"#,
            r#"{"lwp":"/s/sync","headers":{"mid":"1"},"body":[1]}"#,
            r#"{"lwp":"/s/sync","headers":{"mid":"1"},"body":null}"#,
            r#"{"body":{"syncPushPackage":{"data":[{"bizType":40000,"data":"gqF\/wA=="}]},
                "syncExtraType":{"type":"2"}},"headers":{"mid":"1"},"lwp":"/s/sync"}"#,
            r#"{"lwp":"/s/para","headers":{"mid":"1"},
                "body":{"syncPushPackage":{"data":[{"objectType":"40006","data":"AA=="}]}}}"#,
            r#"{"lwp":"/s/sync","headers":{"mid":"1"},
                "body":{"syncPushPackage":{"data":[{"bizType":40000,"data":5}]}}}"#,
            "[1,2]",
        ];
        for text in frames {
            let tree = Frame::parse(text).unwrap();
            let one_pass = Frame::parse_push(text).unwrap();
            match &one_pass.sync {
                Some(push) => {
                    assert!(one_pass.body.is_none(), "{text}");
                    let body = tree.body.clone().unwrap_or(Value::Null);
                    assert_eq!(
                        decode_sync_push(push, &me),
                        decode_sync_body(&body, &me),
                        "{text}"
                    );
                    let headers_only = Frame {
                        body: None,
                        sync: None,
                        ..one_pass.clone()
                    };
                    assert_eq!(headers_only, Frame { body: None, ..tree }, "{text}");
                }
                // A null body reads as none.
                None => {
                    let body = tree.body.clone().filter(|b| !b.is_null());
                    assert_eq!(one_pass, Frame { body, ..tree }, "{text}");
                }
            }
        }
        assert!(Frame::parse_push("not json").is_err());
    }

    #[test]
    fn mid_shape_and_key() {
        let mid = new_mid(1_742_458_877_389, 4_000_123);
        assert_eq!(mid, "1231742458877389 0");
        assert_eq!(new_mid(1_742_458_877_389, 7), "71742458877389 0");
        assert_eq!(mid_key("1234567 0"), "1234567");
    }

    #[test]
    fn ack_echoes_every_header() {
        let push = Frame::parse(
            r#"{"lwp":"/s/sync","headers":{"mid":"1 0","sid":"s","app-key":"k","x":"y"},"body":{}}"#,
        )
        .unwrap();
        let ack = Frame::ack_of(&push);
        assert_eq!(ack.code, Some(200));
        assert_eq!(ack.headers, push.headers);
        assert!(ack.body.is_none() && ack.lwp.is_none());
    }

    #[test]
    fn rejections_are_typed() {
        let flow = json!({"code": FLOW_CONTROL_CODE, "reason": "请求过于频繁"});
        assert_eq!(RpcError::classify(400, &flow), RpcError::FlowControl);
        let csi = json!({"reason": "含有违规内容", "moreInfo": "CSI_FORBID||安全拦截"});
        assert_eq!(
            RpcError::classify(400, &csi),
            RpcError::ContentBlocked {
                reason: "含有违规内容".into()
            }
        );
        let tok = json!({"reason": "token is not found"});
        assert!(matches!(
            RpcError::classify(401, &tok),
            RpcError::InvalidToken { .. }
        ));
        let dev = json!({"reason": "device id or appkey is not equal"});
        assert!(matches!(
            RpcError::classify(401, &dev),
            RpcError::DeviceMismatch { .. }
        ));
        // A 200 whose body is a rejection is still a failure.
        let f = Frame {
            code: Some(200),
            body: Some(flow),
            ..Frame::default()
        };
        assert_eq!(f.into_result(), Err(RpcError::FlowControl));
    }
}
