//! Passport QR login (§5.1): the login page's form fields, a code for the Xianyu app to scan,
//! its state while the user confirms on the phone, and the login cookies that come with the
//! confirmation (taken into the jar by [`MtopClient::passport`]).

use crate::im::cookies::CookieJar;
use crate::im::mtop::{MtopClient, MtopError};
use crate::secret::Secret;
use serde_json::Value;

/// Query of the login page (§5.1 step 2), without its random `rnd`.
const LOGIN_PAGE_QUERY: [(&str, &str); 10] = [
    ("lang", "zh_cn"),
    ("appName", "xianyu"),
    ("appEntrance", "web"),
    ("styleType", "vertical"),
    ("bizParams", ""),
    ("notLoadSsoView", "false"),
    ("notKeepLogin", "false"),
    ("isMobile", "false"),
    ("qrCodeFirst", "false"),
    ("stie", "77"),
];

/// Fields the status query adds to the login form (§5.1 step 4).
const QUERY_EXTRA: [(&str, &str); 7] = [
    ("ua", ""),
    ("navlanguage", "zh-CN"),
    ("navUserAgent", "Mozilla/5.0"),
    ("navPlatform", "MacIntel"),
    ("isIframe", "true"),
    ("documentReferer", "https://www.goofish.com/"),
    ("defaultView", "qrcode"),
];

#[derive(Debug, thiserror::Error)]
pub enum PassportError {
    #[error(transparent)]
    Request(#[from] MtopError),
    #[error("the login service answered HTTP {0}")]
    Status(u16),
    #[error("unexpected answer from the login service: {0}")]
    BadResponse(String),
    #[error("the login service refused: {0}")]
    Refused(String),
}

/// A code to show as a QR code. Its content is a login link: whoever scans it can log in, so
/// it is shown only as the QR code and never logged.
pub struct QrCode {
    t: String,
    ck: Secret,
    content: Secret,
}

impl QrCode {
    /// What the QR code encodes.
    pub fn content(&self) -> &Secret {
        &self.content
    }
}

/// Where a code stands (`qrCodeStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrState {
    /// `NEW`: not scanned yet.
    Waiting,
    /// `SCANED`: scanned, waiting for the confirmation on the phone.
    Scanned,
    /// `CONFIRMED`: the login cookies came with this answer; some flows also give a token
    /// that must be exchanged (§5.1 step 5).
    Confirmed { token: Option<Secret> },
    /// `CONFIRMED` with `iframeRedirect`: the account must pass a face check first (§5.1
    /// step 6), which this client does not do.
    FaceCheck,
    /// `EXPIRED`: a new code is needed.
    Expired,
    /// `CANCELED` on the phone.
    Canceled,
    /// `ERROR` or a status this client does not know.
    Failed(String),
    /// `hasError`: a hiccup of the service; asking again usually works.
    Transient(String),
}

/// The `loginFormData` object of the login page's `window.viewData = {…};`, as form fields.
pub fn login_form(html: &str) -> Option<Vec<(String, String)>> {
    let (_, after) = html.split_once("window.viewData")?;
    let rest = after.split_once('=')?.1;
    let view: Value = serde_json::Deserializer::from_str(rest.trim_start())
        .into_iter::<Value>()
        .next()?
        .ok()?;
    let form = view.get("loginFormData")?.as_object()?;
    let fields = form
        .iter()
        .filter_map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
        .collect();
    Some(fields)
}

/// The common passport fields (§5), for when the login page gave none.
pub fn common_form() -> Vec<(String, String)> {
    [
        ("appName", "xianyu"),
        ("fromSite", "77"),
        ("appEntrance", "web"),
        ("lang", "zh_CN"),
        ("isMobile", "false"),
        ("mainPage", "false"),
        ("umidTag", "SERVER"),
        ("bizParams", "taobaoBizLoginFrom=web"),
        ("umidToken", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Fills what the form must carry from the jar (CSRF token, session, device), keeping what
/// the page already set.
fn complete_form(form: &mut Vec<(String, String)>, jar: &CookieJar) {
    let from_jar = [
        ("_csrf_token", "XSRF-TOKEN"),
        ("hsiz", "cookie2"),
        ("deviceId", "cna"),
    ];
    for (field, cookie) in from_jar {
        let Some(value) = jar.get(cookie) else {
            continue;
        };
        match form.iter_mut().find(|(k, _)| k == field) {
            Some((_, v)) if v.is_empty() => *v = value.expose().to_string(),
            Some(_) => {}
            None => form.push((field.to_string(), value.expose().to_string())),
        }
    }
    if !form.iter().any(|(k, _)| k == "umidTag") {
        form.push(("umidTag".into(), "SERVER".into()));
    }
}

/// `content.data` of a passport answer, or why there is none.
fn content_data(body: &[u8]) -> Result<Value, PassportError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| PassportError::BadResponse(format!("not JSON ({e})")))?;
    let data = v.pointer("/content/data").cloned().unwrap_or(Value::Null);
    if v.get("hasError").and_then(Value::as_bool) == Some(true) {
        let why = data
            .get("titleMsg")
            .and_then(Value::as_str)
            .unwrap_or("hasError")
            .to_string();
        return Err(PassportError::Refused(why));
    }
    Ok(data)
}

/// A string or number field as text.
fn text_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The answer of `qrcode/generate.do`.
pub fn parse_generate(body: &[u8]) -> Result<QrCode, PassportError> {
    let data = content_data(body)?;
    let field = |k: &str| {
        text_of(&data, k)
            .ok_or_else(|| PassportError::BadResponse(format!("the new QR code has no `{k}`")))
    };
    Ok(QrCode {
        t: field("t")?,
        ck: Secret::new(field("ck")?),
        content: Secret::new(field("codeContent")?),
    })
}

/// The answer of `qrcode/query.do`.
pub fn parse_query(body: &[u8]) -> Result<QrState, PassportError> {
    let data = match content_data(body) {
        Ok(d) => d,
        Err(PassportError::Refused(why)) => return Ok(QrState::Transient(why)),
        Err(e) => return Err(e),
    };
    let status = data
        .get("qrCodeStatus")
        .and_then(Value::as_str)
        .ok_or_else(|| PassportError::BadResponse("no qrCodeStatus".into()))?;
    Ok(match status {
        "NEW" => QrState::Waiting,
        "SCANED" | "SCANNED" => QrState::Scanned,
        "CONFIRMED" if data.get("iframeRedirect").and_then(Value::as_bool) == Some(true) => {
            QrState::FaceCheck
        }
        "CONFIRMED" => QrState::Confirmed {
            token: login_token(&data).map(Secret::new),
        },
        "EXPIRED" => QrState::Expired,
        "CANCELED" | "CANCELLED" => QrState::Canceled,
        other => QrState::Failed(other.to_string()),
    })
}

/// The login token some confirmations carry: `token`, `lgToken`, or the `token=` of
/// `feedbackPayload.dynamicUrl.dialogConfirmLoginUrl`.
fn login_token(data: &Value) -> Option<String> {
    text_of(data, "token")
        .or_else(|| text_of(data, "lgToken"))
        .or_else(|| {
            let url = data
                .pointer("/feedbackPayload/dynamicUrl/dialogConfirmLoginUrl")?
                .as_str()?;
            let url = url::Url::parse(url).ok()?;
            url.query_pairs()
                .find(|(k, v)| k == "token" && !v.is_empty())
                .map(|(_, v)| v.into_owned())
        })
}

/// One QR login on an mtop client (whose jar collects the cookies).
pub struct QrLogin<'a> {
    mtop: &'a mut MtopClient,
    form: Vec<(String, String)>,
}

impl<'a> QrLogin<'a> {
    /// Opens the login page for its form fields and CSRF cookie. A page without a readable
    /// form is not fatal: the common fields are used.
    pub async fn start(mtop: &'a mut MtopClient) -> Result<QrLogin<'a>, PassportError> {
        let rnd = format!("{}", rand::random::<f64>());
        let mut query: Vec<(&str, &str)> = LOGIN_PAGE_QUERY.to_vec();
        query.push(("rnd", &rnd));
        let (status, body) = mtop.passport("mini_login.htm", &query, None).await?;
        if !status.is_success() {
            return Err(PassportError::Status(status.as_u16()));
        }
        let mut form = login_form(&String::from_utf8_lossy(&body)).unwrap_or_else(|| {
            tracing::warn!("the login page has no readable form; using the usual fields");
            common_form()
        });
        complete_form(&mut form, &mtop.jar());
        Ok(QrLogin { mtop, form })
    }

    /// The login form's fields, borrowed apart from the client that sends them.
    fn parts(&mut self) -> (&mut MtopClient, Vec<(&str, &str)>) {
        let fields = self.form.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        (self.mtop, fields.collect())
    }

    /// A new code to scan.
    pub async fn new_code(&mut self) -> Result<QrCode, PassportError> {
        let (mtop, query) = self.parts();
        let (status, body) = mtop
            .passport("newlogin/qrcode/generate.do", &query, None)
            .await?;
        if !status.is_success() {
            return Err(PassportError::Status(status.as_u16()));
        }
        parse_generate(&body)
    }

    /// Where `code` stands now.
    pub async fn poll(&mut self, code: &QrCode) -> Result<QrState, PassportError> {
        let (mtop, mut form) = self.parts();
        form.push(("t", &code.t));
        form.push(("ck", code.ck.expose()));
        form.extend(QUERY_EXTRA);
        let (status, body) = mtop
            .passport(
                "newlogin/qrcode/query.do",
                &[("appName", "xianyu"), ("fromSite", "77")],
                Some(&form),
            )
            .await?;
        if status.is_server_error() {
            return Ok(QrState::Transient(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(PassportError::Status(status.as_u16()));
        }
        parse_query(&body)
    }

    /// Exchanges the token of a confirmation for the login cookies (§5.1 step 5).
    pub async fn redeem(&mut self, token: &Secret) -> Result<(), PassportError> {
        let device = self
            .mtop
            .jar()
            .get("cna")
            .map(|c| c.expose().to_string())
            .unwrap_or_default();
        let (status, body) = self
            .mtop
            .passport(
                "login_token/login.do",
                &[
                    ("token", token.expose()),
                    ("subFlow", "DIALOG_CHECK_LOGIN_RPC"),
                    ("nextCode", "0018"),
                    ("bizScene", "qrcode"),
                    ("confirm", "true"),
                ],
                Some(&[("deviceId", device.as_str())]),
            )
            .await?;
        if !status.is_success() {
            return Err(PassportError::Status(status.as_u16()));
        }
        // The cookies are what counts; the body is only checked for an outright refusal.
        if let Err(PassportError::Refused(why)) = content_data(&body) {
            return Err(PassportError::Refused(why));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_page_form_is_read_from_view_data() {
        let html = r#"<script>var x = 1; window.viewData = {"loginFormData":{"appName":"xianyu","fromSite":77,"isMobile":false,"_csrf_token":"abc","nested":{"x":1}},"title":"闲鱼"};</script>"#;
        let form = login_form(html).unwrap();
        assert!(form.contains(&("appName".into(), "xianyu".into())));
        assert!(form.contains(&("fromSite".into(), "77".into())));
        assert!(form.contains(&("isMobile".into(), "false".into())));
        assert!(!form.iter().any(|(k, _)| k == "nested"));
        assert_eq!(login_form("<html>no view data</html>"), None);
        assert_eq!(login_form("window.viewData = {broken"), None);
    }

    #[test]
    fn the_jar_fills_the_form_without_overriding_the_page() {
        let jar = CookieJar::parse_header("XSRF-TOKEN=jar-csrf; cookie2=sess; cna=dev");
        let mut form = vec![
            ("_csrf_token".to_string(), "page-csrf".to_string()),
            ("hsiz".to_string(), String::new()),
        ];
        complete_form(&mut form, &jar);
        let get = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("_csrf_token"), Some("page-csrf"));
        assert_eq!(get("hsiz"), Some("sess"));
        assert_eq!(get("deviceId"), Some("dev"));
        assert_eq!(get("umidTag"), Some("SERVER"));
    }

    fn answer(data: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "content": {"data": data, "status": 0, "success": true}, "hasError": false
        }))
        .unwrap()
    }

    #[test]
    fn query_states_are_read_as_documented() {
        use serde_json::json;
        let state = |d: Value| parse_query(&answer(d)).unwrap();
        assert_eq!(state(json!({"qrCodeStatus": "NEW"})), QrState::Waiting);
        assert_eq!(state(json!({"qrCodeStatus": "SCANED"})), QrState::Scanned);
        assert_eq!(state(json!({"qrCodeStatus": "EXPIRED"})), QrState::Expired);
        assert_eq!(
            state(json!({"qrCodeStatus": "CANCELED"})),
            QrState::Canceled
        );
        assert_eq!(
            state(json!({"qrCodeStatus": "ERROR"})),
            QrState::Failed("ERROR".into())
        );
        assert_eq!(
            state(
                json!({"qrCodeStatus": "CONFIRMED", "iframeRedirect": true, "iframeRedirectUrl": "https://x"})
            ),
            QrState::FaceCheck
        );
        assert_eq!(
            state(json!({"qrCodeStatus": "CONFIRMED", "iframeRedirect": false})),
            QrState::Confirmed { token: None }
        );
        let via_url = state(
            json!({"qrCodeStatus": "CONFIRMED", "feedbackPayload": {"dynamicUrl":
            {"dialogConfirmLoginUrl": "https://passport.goofish.com/x?token=tok123&a=b"}}}),
        );
        let QrState::Confirmed { token: Some(t) } = via_url else {
            panic!("no token: {via_url:?}");
        };
        assert_eq!(t.expose(), "tok123");
        let transient =
            r#"{"content":{"data":{"titleMsg":"系统繁忙"},"success":false},"hasError":true}"#;
        assert_eq!(
            parse_query(transient.as_bytes()).unwrap(),
            QrState::Transient("系统繁忙".into())
        );
        assert!(parse_query(b"<html>").is_err());
        assert!(parse_query(&answer(json!({}))).is_err());
    }

    #[test]
    fn a_new_code_needs_its_fields() {
        let code = parse_generate(&answer(serde_json::json!({
            "t": 1742458877389u64, "ck": "c", "codeContent": "https://passport.goofish.com/qrcodeCheck.htm?lgToken=x"
        })))
        .unwrap();
        assert_eq!(code.t, "1742458877389");
        assert!(code.content().expose().starts_with("https://"));
        assert!(parse_generate(&answer(serde_json::json!({"t": 1, "ck": "c"}))).is_err());
    }
}
