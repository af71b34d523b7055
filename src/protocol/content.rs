//! Content JSON (§7.7, §8) and the string-keyed extension block shared by pushes (field `10`)
//! and history (`message.extension`).

use super::lenient::json_int;
use super::model::Content;
use compact_str::CompactString;
use serde::Deserialize;
use serde_json::Value;

/// Inner content types (§7.7).
pub mod content_type {
    pub const TEXT: i64 = 1;
    pub const IMAGE: i64 = 2;
    pub const NOTICE: i64 = 14;
    pub const TRADE_CARD: i64 = 26;
    /// Message-level "custom" wrapper.
    pub const CUSTOM: i64 = 101;
}

#[derive(Deserialize)]
struct RawContent {
    #[serde(rename = "contentType", default, deserialize_with = "lenient_i64")]
    content_type: Option<i64>,
    text: Option<RawText>,
    image: Option<RawImage>,
    #[serde(rename = "dxCard")]
    dx_card: Option<RawDxCard>,
    tip: Option<Value>,
}

/// Only the parts of a trade card the client shows; serde skips the rest without building a
/// tree (cards are ~1 KB of layout JSON).
#[derive(Deserialize)]
struct RawDxCard {
    item: Option<RawDxItem>,
}

#[derive(Deserialize)]
struct RawDxItem {
    main: Option<RawDxMain>,
}

#[derive(Deserialize)]
struct RawDxMain {
    #[serde(rename = "exContent")]
    ex_content: Option<RawExContent>,
    #[serde(rename = "targetUrl")]
    target_url: Option<String>,
}

#[derive(Deserialize)]
struct RawExContent {
    title: Option<String>,
    desc: Option<String>,
}

#[derive(Deserialize)]
struct RawText {
    text: Option<String>,
}

#[derive(Deserialize)]
struct RawImage {
    #[serde(default)]
    pics: Vec<RawPic>,
}

#[derive(Deserialize)]
struct RawPic {
    url: Option<String>,
}

/// Accepts a number or a numeric string (the service writes `"contentType":"26"` in places).
fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(json_int))
}

/// Makes a `Content` of a content JSON string. `type_hint` is the inner content type known
/// from elsewhere (`1.6.3.4`); `summary` the service's one-line text (`1.6.3.2`,
/// `custom.summary`, `reminderContent`), used when the JSON is missing or unreadable.
pub fn parse_content(json: Option<&str>, type_hint: Option<i64>, summary: &str) -> Content {
    if let Some(text) = json.and_then(plain_text) {
        return Content::Text { text: text.into() };
    }
    let raw = json
        .filter(|j| !j.trim().is_empty())
        .and_then(|j| serde_json::from_str::<RawContent>(j).ok());
    let ty = raw.as_ref().and_then(|r| r.content_type).or(type_hint);
    match (ty, raw) {
        (
            Some(content_type::TEXT),
            Some(RawContent {
                text: Some(RawText { text: Some(t) }),
                ..
            }),
        ) => Content::Text { text: t.into() },
        (Some(content_type::TEXT), _) if !summary.is_empty() => Content::Text {
            text: summary.into(),
        },
        (Some(content_type::IMAGE), raw) => {
            let urls = raw
                .and_then(|r| r.image)
                .map(|i| i.pics.into_iter().filter_map(|p| p.url).collect())
                .unwrap_or_default();
            Content::Image { urls }
        }
        (Some(content_type::TRADE_CARD), raw) => trade_card(raw.and_then(|r| r.dx_card), summary),
        (Some(content_type::NOTICE), raw) => {
            let text = raw
                .and_then(|r| r.tip)
                .as_ref()
                .and_then(|t| t.get("text").or_else(|| t.get("tips")))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| summary.to_string());
            Content::Notice { text }
        }
        (ty, _) => Content::Unknown {
            content_type: ty.unwrap_or(0),
            summary: summary.to_string(),
        },
    }
}

/// The text of `{"contentType":1,"text":{"text":"…"}}` (or the app's form with an empty
/// `"atUsers":[]` first, §7.4) when it is written exactly so and has nothing to unescape:
/// most chat messages, read without a JSON parser. Anything else (escapes, other keys or
/// order, spaces) goes through serde.
pub(crate) fn plain_text(json: &str) -> Option<&str> {
    let inner = json
        .strip_prefix(r#"{"atUsers":[],"contentType":1,"text":{"text":""#)
        .or_else(|| json.strip_prefix(r#"{"contentType":1,"text":{"text":""#))?
        .strip_suffix(r#""}}"#)?;
    // Quotes and backslashes need unescaping; raw control characters are not valid JSON.
    inner
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
        .then_some(inner)
}

fn trade_card(card: Option<RawDxCard>, summary: &str) -> Content {
    let main = card.and_then(|c| c.item).and_then(|i| i.main);
    let (ex, target_url) = match main {
        Some(m) => (m.ex_content, m.target_url),
        None => (None, None),
    };
    let (title, desc) = match ex {
        Some(e) => (e.title, e.desc),
        None => (None, None),
    };
    let title = title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| summary.trim_matches(['[', ']']).to_string());
    let order_id = target_url
        .as_deref()
        .and_then(|u| query_param(u, "id"))
        .map(str::to_string);
    Content::trade_card(title, desc.filter(|d| !d.is_empty()), order_id)
}

/// The JSON a client sends for a content (§8), compact with raw UTF-8.
pub fn content_to_json(content: &Content) -> String {
    let v = match content {
        Content::Text { text } => serde_json::json!({"contentType": 1, "text": {"text": text}}),
        Content::Image { urls } => serde_json::json!({"contentType": 2, "image": {"pics":
            urls.iter().map(|u| serde_json::json!({"height": 600, "type": 0, "url": u, "width": 800})).collect::<Vec<_>>()}}),
        Content::TradeCard(card) => {
            serde_json::json!({"contentType": 26, "dxCard": {"item": {"main": {
            "exContent": match &card.desc {
                Some(d) => serde_json::json!({"title": card.title, "desc": d}),
                None => serde_json::json!({"title": card.title}),
            },
            "targetUrl": format!("fleamarket://order_detail?id={}&role=seller", card.order_id.clone().unwrap_or_default())}}}})
        }
        Content::Notice { text } => serde_json::json!({"contentType": 14, "tip": {"text": text}}),
        Content::Unknown {
            content_type,
            summary,
        } => serde_json::json!({"contentType": content_type, "summary": summary}),
    };
    v.to_string()
}

#[cfg(feature = "sim")]
/// The inner content type of a content, as on the wire.
pub fn content_type_of(content: &Content) -> i64 {
    match content {
        Content::Text { .. } => content_type::TEXT,
        Content::Image { .. } => content_type::IMAGE,
        Content::TradeCard(_) => content_type::TRADE_CARD,
        Content::Notice { .. } => content_type::NOTICE,
        Content::Unknown { content_type, .. } => *content_type,
    }
}

/// `key=value` from a URL's query, without allocating. Values are not percent-decoded: the
/// ids looked up here are digits.
pub fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key && !v.is_empty()).then_some(v)
    })
}

/// The string-keyed extension block: field `10` of a push, `extension` of a history message.
/// Borrowed, so decoding a push allocates only what ends up in the `Message`.
#[derive(Default, Debug, Clone, Copy)]
pub struct Extension<'a> {
    pub reminder_title: Option<&'a str>,
    pub reminder_content: Option<&'a str>,
    pub reminder_url: Option<&'a str>,
    pub sender_user_id: Option<&'a str>,
    pub sender_nick: Option<&'a str>,
    pub session_type: Option<&'a str>,
    pub red_reminder: Option<&'a str>,
    pub ext_json: Option<&'a str>,
    pub biz_tag: Option<&'a str>,
    pub detail_notice: Option<&'a str>,
}

impl<'a> Extension<'a> {
    /// Records one key of the block; unknown keys are ignored.
    pub fn set(&mut self, key: &str, value: &'a str) {
        let slot = match key {
            "reminderTitle" => &mut self.reminder_title,
            "reminderContent" => &mut self.reminder_content,
            "reminderUrl" => &mut self.reminder_url,
            "senderUserId" => &mut self.sender_user_id,
            "senderNick" => &mut self.sender_nick,
            "sessionType" => &mut self.session_type,
            "redReminder" => &mut self.red_reminder,
            "extJson" => &mut self.ext_json,
            "bizTag" => &mut self.biz_tag,
            "detailNotice" => &mut self.detail_notice,
            _ => return,
        };
        *slot = Some(value);
    }

    pub fn from_json(obj: &'a serde_json::Map<String, Value>) -> Extension<'a> {
        let mut ext = Extension::default();
        for (k, v) in obj {
            if let Value::String(s) = v {
                ext.set(k, s);
            }
        }
        ext
    }

    /// Item id: `reminderUrl` `itemId=`, else `extJson` / `bizTag` `itemId`.
    pub fn item_id(&self) -> Option<CompactString> {
        if let Some(id) = self.reminder_url.and_then(|u| query_param(u, "itemId")) {
            return Some(id.into());
        }
        [self.ext_json, self.biz_tag]
            .into_iter()
            .flatten()
            .find_map(|j| {
                let v: Value = serde_json::from_str(j).ok()?;
                match v.get("itemId")? {
                    Value::String(s) if !s.is_empty() => Some(s.as_str().into()),
                    Value::Number(n) => Some(n.to_string().into()),
                    _ => None,
                }
            })
    }

    /// The sender's nickname: `senderNick` when set (uncertain field, §7.4), else
    /// `reminderTitle`, which is the sender's name only for plain chat messages; for cards and
    /// notices it is an order prompt.
    pub fn sender_nick(&self, content: &Content) -> Option<CompactString> {
        if let Some(n) = self.sender_nick.filter(|n| !n.is_empty()) {
            return Some(n.into());
        }
        let plain = matches!(content, Content::Text { .. } | Content::Image { .. });
        let order_prompt = self.red_reminder.is_some_and(|r| !r.is_empty());
        self.reminder_title
            .filter(|t| plain && !order_prompt && !t.is_empty())
            .map(CompactString::from)
    }

    /// The send uuid, when a push carries it as `extJson.uuid`. No capture shows where the
    /// real service echoes it (§6.8 leaves it open); the simulator puts it there.
    pub fn client_uuid(&self) -> Option<String> {
        let json = self.ext_json.filter(|j| j.contains("\"uuid\""))?;
        let v: Value = serde_json::from_str(json).ok()?;
        v.get("uuid")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn session_type(&self) -> Option<i64> {
        self.session_type.and_then(|s| s.trim().parse().ok())
    }

    pub fn red_reminder(&self) -> Option<String> {
        self.red_reminder
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// Fallback summary when the content itself says nothing.
    pub fn summary(&self) -> &'a str {
        self.reminder_content.or(self.detail_notice).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_image_card_unknown() {
        assert_eq!(
            parse_content(
                Some(r#"{"contentType":1,"text":{"text":"你好"}}"#),
                None,
                ""
            ),
            Content::Text {
                text: "你好".into()
            }
        );
        let img = r#"{"contentType":2,"image":{"pics":[{"url":"https://x/a.jpg","width":1,"height":1,"type":0}]}}"#;
        assert_eq!(
            parse_content(Some(img), Some(2), "[图片]"),
            Content::Image {
                urls: vec!["https://x/a.jpg".into()]
            }
        );
        let card = r#"{"contentType":26,"dxCard":{"item":{"main":{"exContent":{"title":"我已拍下，待付款","desc":"d"},"targetUrl":"fleamarket://order_detail?id=25&role=seller"}}}}"#;
        assert_eq!(
            parse_content(Some(card), Some(26), "[我已拍下，待付款]"),
            Content::trade_card(
                "我已拍下，待付款".into(),
                Some("d".into()),
                Some("25".into())
            )
        );
        assert_eq!(
            parse_content(Some("{not json"), Some(3), "[语音]"),
            Content::Unknown {
                content_type: 3,
                summary: "[语音]".into()
            }
        );
        assert_eq!(
            parse_content(None, Some(1), "hi"),
            Content::Text { text: "hi".into() }
        );
    }

    #[test]
    fn plain_text_fast_path_agrees_with_the_parser() {
        for (json, want) in [
            (
                r#"{"contentType":1,"text":{"text":"包邮吗？😀"}}"#,
                "包邮吗？😀",
            ),
            (r#"{"contentType":1,"text":{"text":"a\"b"}}"#, "a\"b"),
            (
                r#"{"contentType":1,"text":{"text":"a\nb\u4f60"}}"#,
                "a\nb你",
            ),
            (r#"{"contentType":1,"text":{"text":""}}"#, ""),
            (r#"{"contentType": 1,"text":{"text":"x"}}"#, "x"),
            (
                r#"{"atUsers":[],"contentType":1,"text":{"text":"在吗"}}"#,
                "在吗",
            ),
            (
                r#"{"atUsers":["1000000101"],"contentType":1,"text":{"text":"@你"}}"#,
                "@你",
            ),
        ] {
            assert_eq!(
                parse_content(Some(json), None, "summary"),
                Content::Text { text: want.into() },
                "{json}"
            );
        }
        // The app's form takes the fast path too; a mention list does not.
        assert_eq!(
            plain_text(r#"{"atUsers":[],"contentType":1,"text":{"text":"在吗"}}"#),
            Some("在吗")
        );
        assert_eq!(
            plain_text(r#"{"atUsers":["1"],"contentType":1,"text":{"text":"在吗"}}"#),
            None
        );
        // A raw control character is not JSON: the summary stands in.
        assert_eq!(
            parse_content(
                Some("{\"contentType\":1,\"text\":{\"text\":\"a\u{1}b\"}}"),
                Some(1),
                "s"
            ),
            Content::Text { text: "s".into() }
        );
    }

    #[test]
    fn round_trips_through_json() {
        for c in [
            Content::Text {
                text: "包邮吗？😀".into(),
            },
            Content::Image {
                urls: vec!["https://img/1.jpg".into(), "https://img/2.jpg".into()],
            },
            Content::trade_card(
                "我已付款，等待你发货".into(),
                Some("d".into()),
                Some("9".into()),
            ),
            Content::Notice {
                text: "退款成功".into(),
            },
        ] {
            let json = content_to_json(&c);
            assert_eq!(parse_content(Some(&json), None, &c.summary()), c, "{json}");
        }
    }

    #[test]
    fn extension_fields() {
        let mut e = Extension::default();
        e.set(
            "reminderUrl",
            "fleamarket://message_chat?itemId=900000000601&peerUserId=1&sid=4",
        );
        e.set("reminderTitle", "买家小王");
        assert_eq!(e.item_id().as_deref(), Some("900000000601"));
        assert_eq!(
            e.sender_nick(&Content::Text { text: "x".into() })
                .as_deref(),
            Some("买家小王")
        );
        e.set("redReminder", "等待买家付款");
        assert_eq!(e.sender_nick(&Content::Text { text: "x".into() }), None);
    }
}
