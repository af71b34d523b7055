//! The mtop HTTP gateway's wire format (§3): request signing, query parameters, the
//! response envelope and the meaning of its `ret` codes. Pure: no sockets, no clock.

use md5::{Digest, Md5};
use serde_json::Value;
#[cfg(feature = "sim")]
use serde_json::json;
use std::fmt::Write as _;

/// The mtop app key (§3.1); not the IM app key.
pub const MTOP_APP_KEY: &str = "34839810";

/// The cookie that carries the signing token, `<32 hex>_<expiry ms>` (§2).
pub const TOKEN_COOKIE: &str = "_m_h5_tk";
/// Its companion, always issued together with it.
pub const TOKEN_ENC_COOKIE: &str = "_m_h5_tk_enc";
/// Cookies dropped after the token refresh gave up (§3.3).
pub const TOKEN_COOKIES: [&str; 3] = ["_m_h5_c", TOKEN_COOKIE, TOKEN_ENC_COOKIE];

/// API names and versions of §3.4 that the client uses.
pub mod api {
    pub const LOGIN_TOKEN: &str = "mtop.taobao.idlemessage.pc.login.token";
    pub const LOGIN_TOKEN_V: &str = "1.0";
    pub const LOGIN_USER: &str = "mtop.taobao.idlemessage.pc.loginuser.get";
    pub const LOGIN_USER_V: &str = "1.0";
    pub const USER_QUERY: &str = "mtop.taobao.idlemessage.pc.user.query";
    pub const USER_QUERY_V: &str = "4.0";
    pub const ITEM_DETAIL: &str = "mtop.taobao.idle.pc.detail";
    pub const ITEM_DETAIL_V: &str = "1.0";
    pub const USER_HEAD: &str = "mtop.idle.web.user.page.head";
    pub const USER_HEAD_V: &str = "1.0";
}

/// `lowercase_hex(MD5(token & t & appKey & data))` (§3.2). `data` must be byte-identical to
/// the JSON sent in the form body.
pub fn sign(token: &str, t: &str, data: &str) -> String {
    let mut md5 = Md5::new();
    for (i, part) in [token, t, MTOP_APP_KEY, data].into_iter().enumerate() {
        if i > 0 {
            md5.update(b"&");
        }
        md5.update(part.as_bytes());
    }
    let digest = md5.finalize();
    let mut hex = String::with_capacity(32);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The signing token inside a `_m_h5_tk` value: the part before the first `_`.
pub fn token_of(m_h5_tk: &str) -> &str {
    m_h5_tk.split('_').next().unwrap_or("")
}

/// The query string of an mtop POST (§3.1). `spm_pre` and `log_id` are tracking values the
/// service does not check; they are sent empty.
pub fn query_params(api: &str, version: &str, t: &str, sign: &str) -> Vec<(&'static str, String)> {
    vec![
        ("jsv", "2.7.2".to_string()),
        ("appKey", MTOP_APP_KEY.to_string()),
        ("t", t.to_string()),
        ("sign", sign.to_string()),
        ("v", version.to_string()),
        ("type", "originaljson".to_string()),
        ("dataType", "json".to_string()),
        ("timeout", "20000".to_string()),
        ("api", api.to_string()),
        ("accountSite", "xianyu".to_string()),
        ("sessionOption", "AutoLoginOnly".to_string()),
        ("spm_cnt", "a21ybx.im.0.0".to_string()),
        ("spm_pre", String::new()),
        ("log_id", String::new()),
    ]
}

/// One mtop response (§3.3).
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub api: String,
    pub v: String,
    pub ret: Vec<String>,
    pub data: Value,
}

/// Why a body is not an mtop envelope. Never carries the body itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtopParseError {
    #[error("the service sent an empty response")]
    Empty,
    #[error(
        "the service sent a web page ({len} bytes{}) instead of data; it may be a login or captcha page",
        title.as_ref().map(|t| format!(", titled \"{t}\"")).unwrap_or_default()
    )]
    Html { len: usize, title: Option<String> },
    #[error("the response is not valid JSON ({len} bytes): {reason}")]
    NotJson { len: usize, reason: String },
    #[error("the response is JSON but not an mtop envelope: it has no `ret` list")]
    NoRet,
}

/// Reads an envelope leniently: risk-control answers may come without a JSON content type or
/// wrapped as JSONP (§3.3 [L]), `ret` may be a single string, and `api`/`v`/`data` may be
/// missing.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, MtopParseError> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(MtopParseError::Empty);
    }
    if text.starts_with('<') {
        return Err(MtopParseError::Html {
            len: body.len(),
            title: html_title(text),
        });
    }
    let json_text = unwrap_jsonp(text);
    let value: Value = serde_json::from_str(json_text).map_err(|e| MtopParseError::NotJson {
        len: body.len(),
        // serde_json's message names a line/column and the expected token, not the input.
        reason: e.to_string(),
    })?;
    let Value::Object(obj) = value else {
        return Err(MtopParseError::NoRet);
    };
    let ret = match obj.get("ret") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => return Err(MtopParseError::NoRet),
    };
    let str_field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Envelope {
        api: str_field("api"),
        v: str_field("v"),
        ret,
        data: obj.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// `callback({...})` → `{...}`; anything else unchanged.
fn unwrap_jsonp(text: &str) -> &str {
    if text.starts_with('{') || text.starts_with('[') {
        return text;
    }
    let Some((name, inner)) = text
        .split_once('(')
        .and_then(|(name, rest)| Some((name, rest.rsplit_once(')')?.0)))
    else {
        return text;
    };
    let is_callback = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.');
    if is_callback { inner.trim() } else { text }
}

/// The `<title>` of an HTML page, shortened, for an error message.
fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower.get(start..)?.find('>')? + 1;
    let close = open_end + lower.get(open_end..)?.find("</title")?;
    let title: String = html.get(open_end..close)?.trim().chars().take(60).collect();
    (!title.is_empty()).then_some(title)
}

/// What a response means for the caller (§3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The signing token is missing or stale: absorb `Set-Cookie`, re-sign, retry.
    TokenStale {
        code: String,
    },
    /// The login cookies are dead: a new login is needed.
    SessionExpired,
    /// A slider captcha blocks the account; `url` is the punish page to open in a browser.
    RiskControl {
        url: Option<String>,
    },
    /// The gateway asks to slow down.
    Throttled {
        code: String,
    },
    /// An error of the API itself (`FAIL_BIZ_*` and anything not recognised).
    Business {
        code: String,
        message: String,
    },
}

/// Splits `CODE::message` (the message may be absent).
fn split_ret(ret: &str) -> (&str, &str) {
    match ret.split_once("::") {
        Some((code, message)) => (code.trim(), message.trim()),
        None => (ret.trim(), ""),
    }
}

/// Classifies an envelope. Risk control is checked first because its answer carries two
/// `ret` entries (`FAIL_SYS_USER_VALIDATE` and `RGV587_ERROR::…`).
pub fn classify(env: &Envelope) -> Outcome {
    let codes: Vec<(&str, &str)> = env.ret.iter().map(|r| split_ret(r)).collect();
    // `SUCCESS::调用成功` is the usual form; a bare `SUCCESS` is accepted too.
    if codes.iter().any(|(code, _)| *code == "SUCCESS") {
        return Outcome::Success;
    }
    if codes
        .iter()
        .any(|(code, _)| code.contains("USER_VALIDATE") || code.starts_with("RGV587"))
    {
        let url = env
            .data
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        return Outcome::RiskControl { url };
    }
    for (code, _) in &codes {
        // Compared without the `FAIL_SYS_` prefix so that a variant spelling still matches;
        // `EXOIRED` is the service's own typo, `EXPIRED` is what some code checks for.
        let name = code.strip_prefix("FAIL_SYS_").unwrap_or(code);
        match name {
            "TOKEN_EMPTY" | "TOKEN_EXOIRED" | "TOKEN_EXPIRED" | "TOKEN_ILLEGAL" => {
                return Outcome::TokenStale {
                    code: code.to_string(),
                };
            }
            "SESSION_EXPIRED" => return Outcome::SessionExpired,
            "TRAFFIC_LIMIT" | "USER_LIMIT" => {
                return Outcome::Throttled {
                    code: code.to_string(),
                };
            }
            _ => {}
        }
    }
    match codes.first() {
        Some((code, message)) => Outcome::Business {
            code: code.to_string(),
            message: message.to_string(),
        },
        None => Outcome::Business {
            code: "EMPTY_RET".to_string(),
            message: "the service answered without a result code".to_string(),
        },
    }
}

#[cfg(feature = "sim")]
/// An envelope as the service writes it, for the simulator and tests; `trace` is a random
/// number for its `traceId`.
pub fn envelope_json(api: &str, v: &str, ret: &[&str], data: Value, trace: u128) -> Value {
    json!({
        "api": api,
        "data": data,
        "ret": ret,
        "traceId": format!("{:030x}", trace & ((1u128 << 120) - 1)),
        "v": v,
    })
}

/// Millisecond lifetimes above this are read as durations no more (about 11.6 days).
const DURATION_MS_MAX: i64 = 1_000_000_000;
/// Values below this are read as a duration in seconds (a lifetime under ~17 minutes in ms
/// would be useless, while a lifetime of days in seconds lands here).
const DURATION_S_MAX: i64 = 1_000_000;
/// 2020-01-01 in ms: an epoch before that is not an expiry time.
const PLAUSIBLE_EPOCH_MS: i64 = 1_577_836_800_000;

/// Reads `accessTokenExpiredTime` into an absolute expiry in ms.
///
/// §12.11 leaves open whether it is a duration or an absolute time (seen `"86400000"`). The
/// side taken: a number (or numeric string) of at least 10^12 is an epoch in ms; one from
/// 10^9 that lands after 2020 as seconds is an epoch in s; 10^6 up to 10^9 is a duration in ms
/// (so `86400000` = 24 h); below 10^6 a duration in s. RFC 3339 strings are accepted too.
/// Zero, negative or unreadable values give `None`.
pub fn interpret_expiry(raw: &Value, now_ms: i64) -> Option<i64> {
    let n = match raw {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?,
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    return chrono::DateTime::parse_from_rfc3339(s)
                        .ok()
                        .map(|d| d.timestamp_millis());
                }
            }
        }
        _ => return None,
    };
    if n <= 0 {
        return None;
    }
    if n >= DURATION_MS_MAX * 1000 {
        return Some(n);
    }
    if n >= DURATION_MS_MAX && n.saturating_mul(1000) >= PLAUSIBLE_EPOCH_MS {
        return Some(n * 1000);
    }
    if n >= DURATION_S_MAX {
        return Some(now_ms.saturating_add(n));
    }
    Some(now_ms.saturating_add(n.saturating_mul(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    #[test]
    fn sign_matches_the_golden_vector() {
        assert_eq!(
            sign("abc_token", "1700000000000", r#"{"appKey":"x"}"#),
            "497ff18ef9c6d4792ba5aeef0e99929a"
        );
        // The token is part of the signed text: another token gives another sign.
        assert_ne!(
            sign("other", "1700000000000", r#"{"appKey":"x"}"#),
            "497ff18ef9c6d4792ba5aeef0e99929a"
        );
        assert_eq!(sign("", "1", "{}").len(), 32);
    }

    #[test]
    fn token_is_the_part_before_the_first_underscore() {
        assert_eq!(
            token_of("0123456789abcdef0123456789abcdef_1700000000000"),
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(token_of("abc"), "abc");
        assert_eq!(token_of(""), "");
        assert_eq!(token_of("_1700"), "");
    }

    #[test]
    fn query_has_every_parameter_of_3_1() {
        let q = query_params(api::USER_QUERY, "4.0", "1700000000000", "s1gn");
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("missing {k}"))
        };
        assert_eq!(get("jsv"), "2.7.2");
        assert_eq!(get("appKey"), "34839810");
        assert_eq!(get("t"), "1700000000000");
        assert_eq!(get("sign"), "s1gn");
        assert_eq!(get("v"), "4.0");
        assert_eq!(get("type"), "originaljson");
        assert_eq!(get("dataType"), "json");
        assert_eq!(get("timeout"), "20000");
        assert_eq!(get("api"), api::USER_QUERY);
        assert_eq!(get("accountSite"), "xianyu");
        assert_eq!(get("sessionOption"), "AutoLoginOnly");
        for k in ["spm_cnt", "spm_pre", "log_id"] {
            get(k);
        }
        assert_eq!(q.len(), 14);
    }

    fn env(ret: &[&str], data: Value) -> Envelope {
        Envelope {
            api: "a".into(),
            v: "1.0".into(),
            ret: ret.iter().map(|s| s.to_string()).collect(),
            data,
        }
    }

    #[test]
    fn classifies_every_ret_family() {
        assert_eq!(
            classify(&env(&["SUCCESS::调用成功"], json!({}))),
            Outcome::Success
        );
        for code in [
            "FAIL_SYS_TOKEN_EMPTY::令牌为空",
            "FAIL_SYS_TOKEN_EXOIRED::令牌过期",
            "FAIL_SYS_TOKEN_EXPIRED::令牌过期",
            "FAIL_SYS_TOKEN_ILLEGAL",
        ] {
            assert!(
                matches!(
                    classify(&env(&[code], json!({}))),
                    Outcome::TokenStale { .. }
                ),
                "{code}"
            );
        }
        assert_eq!(
            classify(&env(&["FAIL_SYS_SESSION_EXPIRED::Session过期"], json!({}))),
            Outcome::SessionExpired
        );
        assert_eq!(
            classify(&env(&["FAIL_SYS_TRAFFIC_LIMIT::哎哟"], json!({}))),
            Outcome::Throttled {
                code: "FAIL_SYS_TRAFFIC_LIMIT".into()
            }
        );
        assert!(matches!(
            classify(&env(&["FAIL_SYS_USER_LIMIT"], json!({}))),
            Outcome::Throttled { .. }
        ));
        assert_eq!(
            classify(&env(&["RGV587_ERROR::SM::x"], json!({"url": "https://p"}))),
            Outcome::RiskControl {
                url: Some("https://p".into())
            }
        );
        assert_eq!(
            classify(&env(&["FAIL_BIZ_ITEM_NOT_FOUND::宝贝不存在"], json!({}))),
            Outcome::Business {
                code: "FAIL_BIZ_ITEM_NOT_FOUND".into(),
                message: "宝贝不存在".into()
            }
        );
        assert!(matches!(
            classify(&env(&[], Value::Null)),
            Outcome::Business { .. }
        ));
    }

    #[test]
    fn lenient_parsing() {
        let e = parse_envelope(br#"{"ret":"SUCCESS::ok"}"#).unwrap();
        assert_eq!(e.ret, vec!["SUCCESS::ok"]);
        assert_eq!(e.data, Value::Null);
        let e = parse_envelope(
            b"\xef\xbb\xbf mtopjsonp3({\"ret\":[\"SUCCESS::ok\"],\"data\":{\"a\":1}})",
        )
        .unwrap();
        assert_eq!(e.data["a"], 1);
        assert_eq!(parse_envelope(b"  \n").unwrap_err(), MtopParseError::Empty);
        assert_eq!(parse_envelope(b"{}").unwrap_err(), MtopParseError::NoRet);
        assert_eq!(parse_envelope(b"[1]").unwrap_err(), MtopParseError::NoRet);
        assert!(matches!(
            parse_envelope(b"{\"ret\": [").unwrap_err(),
            MtopParseError::NotJson { .. }
        ));
    }

    #[test]
    fn html_is_an_error_that_does_not_carry_the_page() {
        let page = format!(
            "<!DOCTYPE html><html><head><title>验证码拦截</title></head><body>{}</body></html>",
            "secret-looking-content ".repeat(200)
        );
        let err = parse_envelope(page.as_bytes()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("web page"), "{msg}");
        assert!(msg.contains("验证码拦截"), "{msg}");
        assert!(!msg.contains("secret-looking-content"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    #[cfg(feature = "sim")]
    fn envelope_json_round_trips() {
        let v = envelope_json(
            api::LOGIN_USER,
            "1.0",
            &["SUCCESS::调用成功"],
            json!({"userId": "1"}),
            u128::MAX,
        );
        assert_eq!(v["traceId"].as_str().map(str::len), Some(30));
        let e = parse_envelope(v.to_string().as_bytes()).unwrap();
        assert_eq!(e.api, api::LOGIN_USER);
        assert_eq!(e.v, "1.0");
        assert_eq!(classify(&e), Outcome::Success);
        assert_eq!(e.data["userId"], "1");
    }

    #[test]
    fn expiry_interpretation() {
        let now = 1_700_000_000_000;
        // The reported value: a duration of 24 h in ms.
        assert_eq!(
            interpret_expiry(&json!("86400000"), now),
            Some(now + 86_400_000)
        );
        assert_eq!(
            interpret_expiry(&json!(86400000), now),
            Some(now + 86_400_000)
        );
        // Seconds.
        assert_eq!(interpret_expiry(&json!(86400), now), Some(now + 86_400_000));
        // Absolute epochs in ms and s.
        assert_eq!(
            interpret_expiry(&json!(1_700_086_400_000i64), now),
            Some(1_700_086_400_000)
        );
        assert_eq!(
            interpret_expiry(&json!("1700086400"), now),
            Some(1_700_086_400_000)
        );
        assert_eq!(
            interpret_expiry(&json!("2023-11-15T22:13:20Z"), now),
            Some(1_700_086_400_000)
        );
        for bad in [json!(0), json!(-5), json!("soon"), json!(null), json!({})] {
            assert_eq!(interpret_expiry(&bad, now), None, "{bad}");
        }
    }

    fn samples() -> Option<PathBuf> {
        crate::test_samples::dir()
    }

    #[test]
    fn constructed_samples_classify_as_documented() {
        let Some(dir) = samples() else { return };
        let read = |name: &str| {
            let bytes = std::fs::read(dir.join("constructed").join(name)).unwrap();
            parse_envelope(&bytes).unwrap()
        };
        let ok = read("mtop-login-token-response-ok.json");
        assert_eq!(classify(&ok), Outcome::Success);
        assert_eq!(ok.api, api::LOGIN_TOKEN);
        assert!(ok.data["accessToken"].is_string());
        assert!(interpret_expiry(&ok.data["accessTokenExpiredTime"], 0).is_some());
        assert_eq!(
            classify(&read("mtop-loginuser-get-response.json")),
            Outcome::Success
        );
        let uq = read("mtop-user-query-response.json");
        assert_eq!(classify(&uq), Outcome::Success);
        assert_eq!(uq.v, "4.0");
        assert_eq!(
            classify(&read("mtop-session-expired-response.json")),
            Outcome::SessionExpired
        );
        assert_eq!(
            classify(&read("mtop-token-empty-response.json")),
            Outcome::TokenStale {
                code: "FAIL_SYS_TOKEN_EMPTY".into()
            }
        );
        assert_eq!(
            classify(&read("mtop-token-expired-response.json")),
            Outcome::TokenStale {
                code: "FAIL_SYS_TOKEN_EXOIRED".into()
            }
        );
    }

    #[test]
    fn real_risk_control_sample_gives_the_punish_url() {
        let Some(dir) = samples() else { return };
        let bytes = std::fs::read(dir.join("real/mtop-risk-control-response.json")).unwrap();
        let env = parse_envelope(&bytes).unwrap();
        // No `api`/`v` in the captured answer: parsing must not require them.
        assert_eq!(env.api, "");
        match classify(&env) {
            Outcome::RiskControl { url: Some(url) } => {
                assert!(url.contains("_____tmd_____/punish?x5secdata="), "{url}");
                assert!(url.contains("action=captcha"), "{url}");
            }
            other => panic!("expected risk control, got {other:?}"),
        }
    }
}
