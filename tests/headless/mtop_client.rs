//! The mtop client against a small in-test gateway on loopback that checks signatures the
//! way the real one does (§3): no `_m_h5_tk` → TOKEN_EMPTY plus fresh token cookies; a sign
//! made with another token → TOKEN_EXOIRED plus fresh cookies.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use goofish_tui::im::cookies::CookieJar;
use goofish_tui::im::mtop::{Endpoints, MtopClient, MtopError};
use goofish_tui::protocol::mtop::{self, Outcome, api, classify, envelope_json, parse_envelope};
use goofish_tui::protocol::{Cid, Uid};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

const SELF_UID: &str = "2200000000401";
const COOKIE2: &str = "c00k1e2-value-that-must-stay-private";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// How the gateway answers once the signature is good.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Normal,
    /// Says TOKEN_EXOIRED to everything (and keeps issuing new cookies).
    AlwaysExoired,
    SessionExpired,
    RiskControl,
    Html,
    Throttled,
    Business,
}

/// One request as the gateway saw it.
#[derive(Clone, Debug)]
struct Seen {
    api: String,
    version: String,
    query: HashMap<String, String>,
    data: String,
    cookie: String,
    referer: String,
    origin: String,
    user_agent: String,
    content_type: String,
}

struct Gateway {
    mode: Mode,
    /// The signing token the gateway issued last; a sign made with another is stale.
    token: Option<String>,
    issued: usize,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<Gateway>>;

fn cookie_value(cookie_header: &str, name: &str) -> Option<String> {
    cookie_header.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

fn json_response(body: Value, set_cookies: Vec<String>) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response();
    for c in set_cookies {
        resp.headers_mut()
            .append(header::SET_COOKIE, c.parse().unwrap());
    }
    resp
}

async fn handle(
    State(gw): State<Shared>,
    Path((api_name, version)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let h = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let seen = Seen {
        api: api_name.clone(),
        version: version.clone(),
        query: query.clone(),
        data: form.get("data").cloned().unwrap_or_default(),
        cookie: h(header::COOKIE),
        referer: h(header::REFERER),
        origin: h(header::ORIGIN),
        user_agent: h(header::USER_AGENT),
        content_type: h(header::CONTENT_TYPE),
    };
    let mut gw = gw.lock().unwrap();
    gw.seen.push(seen.clone());
    let fail = |ret: &str| envelope_json(&api_name, &version, &[ret], json!({}), rand::random());

    // Signature check, as the real gateway does it.
    let presented = cookie_value(&seen.cookie, "_m_h5_tk");
    let stale = match &presented {
        None => Some("FAIL_SYS_TOKEN_EMPTY::令牌为空"),
        Some(tk) => {
            let token = mtop::token_of(tk);
            let t = query.get("t").cloned().unwrap_or_default();
            let good = gw.token.as_deref() == Some(token)
                && query.get("sign") == Some(&mtop::sign(token, &t, &seen.data));
            (!good || gw.mode == Mode::AlwaysExoired).then_some("FAIL_SYS_TOKEN_EXOIRED::令牌过期")
        }
    };
    if let Some(ret) = stale {
        gw.issued += 1;
        let token = format!("{:032x}", 0xfeed_0000_u128 + gw.issued as u128);
        gw.token = Some(token.clone());
        let expiry = goofish_tui::time::now_ms() + 3_600_000;
        return json_response(
            fail(ret),
            vec![
                format!("_m_h5_tk={token}_{expiry}; Path=/; Domain=.goofish.com; Max-Age=86400"),
                format!(
                    "_m_h5_tk_enc={:032x}; Path=/; Domain=.goofish.com; Max-Age=86400",
                    gw.issued
                ),
            ],
        );
    }

    match gw.mode {
        Mode::SessionExpired => {
            return json_response(fail("FAIL_SYS_SESSION_EXPIRED::Session过期"), vec![]);
        }
        Mode::RiskControl => {
            // Risk-control answers may come without a JSON content type (§3.3).
            return (
                [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
                fixture("mtop_risk_control_html_typed.json"),
            )
                .into_response();
        }
        Mode::Html => {
            return (
                [(header::CONTENT_TYPE, "text/html;charset=UTF-8")],
                fixture("mtop_captcha_page.html"),
            )
                .into_response();
        }
        Mode::Throttled => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                fixture("mtop_traffic_limit.json"),
            )
                .into_response();
        }
        Mode::Business => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                fixture("mtop_business_error.json"),
            )
                .into_response();
        }
        Mode::Normal | Mode::AlwaysExoired => {}
    }

    let data: Value = serde_json::from_str(&seen.data).unwrap_or(Value::Null);
    let ok = |d: Value| {
        envelope_json(
            &api_name,
            &version,
            &["SUCCESS::调用成功"],
            d,
            rand::random(),
        )
    };
    let body = match api_name.as_str() {
        api::LOGIN_TOKEN => ok(json!({
            "accessToken": format!("im-token-for-{}", data["deviceId"].as_str().unwrap_or("")),
            "accessTokenExpiredTime": "86400000",
            "refreshToken": "refresh-1",
        })),
        api::LOGIN_USER => ok(json!({
            "userId": cookie_value(&seen.cookie, "unb").unwrap_or_default(),
            "mainUserId": SELF_UID,
        })),
        api::USER_QUERY => serde_json::from_str(&fixture("mtop_user_query_ok.json")).unwrap(),
        api::ITEM_DETAIL => serde_json::from_str(&fixture("mtop_item_detail_ok.json")).unwrap(),
        api::USER_HEAD => serde_json::from_str(&fixture("mtop_user_head_ok.json")).unwrap(),
        _ => fail("FAIL_SYS_API_NOT_FOUNDED::请求API不存在"),
    };
    json_response(body, vec![])
}

struct Harness {
    gw: Shared,
    endpoints: Endpoints,
    _server: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(mode: Mode) -> Self {
        let gw: Shared = Arc::new(Mutex::new(Gateway {
            mode,
            token: None,
            issued: 0,
            seen: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/h5/{api}/{version}/", post(handle))
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such path") })
            .with_state(gw.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let base = url::Url::parse(&format!("http://{addr}/")).unwrap();
        Harness {
            gw,
            endpoints: Endpoints::at(base),
            _server: server,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.gw.lock().unwrap().seen.clone()
    }

    fn requests(&self) -> usize {
        self.gw.lock().unwrap().seen.len()
    }

    fn client(&self, jar_path: Option<std::path::PathBuf>) -> MtopClient {
        let jar = CookieJar::parse_header(&format!("unb={SELF_UID}; cookie2={COOKIE2}"));
        MtopClient::new(self.endpoints.clone(), jar, jar_path).unwrap()
    }
}

/// No error, however it is printed, shows a cookie value.
fn assert_private(err: &MtopError) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(COOKIE2), "{text}");
        assert!(!text.contains("feed"), "{text}");
    }
}

#[tokio::test]
async fn fresh_jar_gets_the_token_and_succeeds_on_the_second_attempt() {
    let h = Harness::start(Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let jar_path = dir.path().join("cookies.json");
    let client = h.client(Some(jar_path.clone()));

    let token = client
        .login_token("ED4CBA2C-5DA0-4154-A902-BF5CB52409E2-2200000000401")
        .await
        .unwrap();
    assert_eq!(
        token.access_token.expose(),
        "im-token-for-ED4CBA2C-5DA0-4154-A902-BF5CB52409E2-2200000000401"
    );
    assert_eq!(token.refresh_token.as_ref().unwrap().expose(), "refresh-1");
    let expires = token.expires_at_ms.unwrap();
    let in_24h = goofish_tui::time::now_ms() + 86_400_000;
    assert!((in_24h - 60_000..=in_24h).contains(&expires), "{expires}");

    let seen = h.seen();
    assert_eq!(seen.len(), 2, "TOKEN_EMPTY, then success");
    assert!(!seen[0].cookie.contains("_m_h5_tk"));
    assert!(seen[1].cookie.contains("_m_h5_tk="));
    assert!(seen[1].cookie.contains(&format!("cookie2={COOKIE2}")));
    // The exact string that was signed is the one sent, compact.
    assert_eq!(
        seen[1].data,
        r#"{"appKey":"444e9908a51d1cb236a27862abc769c9","deviceId":"ED4CBA2C-5DA0-4154-A902-BF5CB52409E2-2200000000401"}"#
    );
    let q = &seen[1].query;
    assert_eq!(q["api"], api::LOGIN_TOKEN);
    assert_eq!(q["appKey"], mtop::MTOP_APP_KEY);
    assert_eq!(q["v"], "1.0");
    assert_eq!(q["type"], "originaljson");
    assert_eq!(seen[1].api, api::LOGIN_TOKEN);
    assert_eq!(seen[1].origin, "https://www.goofish.com");
    assert!(seen[1].referer.starts_with("https://www.goofish.com/"));
    assert!(seen[1].user_agent.contains("Chrome/"));
    assert!(
        seen[1]
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    );

    // The jar file: private from the start, one `_m_h5_tk`, the login cookies kept.
    let mode = std::fs::metadata(&jar_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&jar_path).unwrap();
    assert_eq!(text.matches("\"_m_h5_tk\"").count(), 1, "{text}");
    let saved = CookieJar::load(&jar_path).unwrap();
    assert_eq!(saved, client.jar());
    assert!(saved.get("_m_h5_tk_enc").is_some());
    assert_eq!(saved.uid(), Some(Uid::new(SELF_UID)));

    // The token is reused: the next call is one request.
    assert_eq!(client.login_user().await.unwrap(), Uid::new(SELF_UID));
    assert_eq!(h.requests(), 3);
}

#[tokio::test]
async fn a_gateway_that_always_says_exoired_gets_exactly_five_requests() {
    let h = Harness::start(Mode::AlwaysExoired).await;
    let dir = tempfile::tempdir().unwrap();
    let jar_path = dir.path().join("cookies.json");
    let client = h.client(Some(jar_path.clone()));
    let err = client.login_user().await.unwrap_err();
    assert!(matches!(err, MtopError::TokenRefreshFailed), "{err:?}");
    assert_private(&err);
    assert_eq!(h.requests(), 5);
    // §3.3: the signing cookies are dropped afterwards, in memory and on disk.
    for jar in [client.jar().clone(), CookieJar::load(&jar_path).unwrap()] {
        assert!(jar.get("_m_h5_tk").is_none());
        assert!(jar.get("_m_h5_tk_enc").is_none());
        assert_eq!(jar.get("cookie2").unwrap().expose(), COOKIE2);
    }
}

#[tokio::test]
async fn session_expired_is_one_request_and_a_typed_error() {
    let h = Harness::start(Mode::Normal).await;
    let client = h.client(None);
    // Get the signing token first so the one request counted is the answered one.
    client.login_user().await.unwrap();
    h.gw.lock().unwrap().mode = Mode::SessionExpired;
    let before = h.requests();
    let err = client.login_token("did").await.unwrap_err();
    assert!(matches!(err, MtopError::SessionExpired), "{err:?}");
    assert!(err.to_string().contains("log in again"));
    assert_private(&err);
    assert_eq!(h.requests() - before, 1);
}

#[tokio::test]
async fn risk_control_returns_the_punish_url_after_one_request() {
    let h = Harness::start(Mode::Normal).await;
    let client = h.client(None);
    client.login_user().await.unwrap();
    h.gw.lock().unwrap().mode = Mode::RiskControl;
    let before = h.requests();
    let err = client.login_token("did").await.unwrap_err();
    match &err {
        MtopError::RiskControl { url: Some(url) } => {
            assert!(
                url.contains("_____tmd_____/punish?x5secdata=xgFIXTURE"),
                "{url}"
            );
        }
        other => panic!("expected risk control, got {other:?}"),
    }
    assert!(err.to_string().contains("punish"));
    assert_private(&err);
    assert_eq!(h.requests() - before, 1);
}

#[tokio::test]
async fn an_html_page_is_a_bad_response() {
    let h = Harness::start(Mode::Normal).await;
    let client = h.client(None);
    client.login_user().await.unwrap();
    h.gw.lock().unwrap().mode = Mode::Html;
    let before = h.requests();
    let err = client.item_detail("900000000601").await.unwrap_err();
    let MtopError::BadResponse(msg) = &err else {
        panic!("expected BadResponse, got {err:?}");
    };
    assert!(msg.contains("web page"), "{msg}");
    assert!(
        !msg.contains("FIXTURE-NOT-A-REAL-TOKEN"),
        "the page leaked: {msg}"
    );
    assert_eq!(h.requests() - before, 1);
}

#[tokio::test]
async fn throttling_and_business_errors_are_returned_at_once() {
    let h = Harness::start(Mode::Normal).await;
    let client = h.client(None);
    client.login_user().await.unwrap();

    h.gw.lock().unwrap().mode = Mode::Throttled;
    let before = h.requests();
    let err = client.item_detail("1").await.unwrap_err();
    assert!(
        matches!(&err, MtopError::Throttled { code } if code == "FAIL_SYS_TRAFFIC_LIMIT"),
        "{err:?}"
    );
    assert_eq!(h.requests() - before, 1);

    h.gw.lock().unwrap().mode = Mode::Business;
    let before = h.requests();
    let err = client.item_detail("1").await.unwrap_err();
    match &err {
        MtopError::Business { api, code, message } => {
            assert_eq!(api, api::ITEM_DETAIL);
            assert_eq!(code, "FAIL_BIZ_ITEM_NOT_EXIST");
            assert_eq!(message, "宝贝不存在");
        }
        other => panic!("expected a business error, got {other:?}"),
    }
    assert_eq!(h.requests() - before, 1);
}

#[tokio::test]
async fn lookups_send_the_documented_data_and_read_the_answers() {
    let h = Harness::start(Mode::Normal).await;
    let client = h.client(None);

    let peer = client
        .user_query(&Cid::new("40000000201@goofish"))
        .await
        .unwrap();
    assert_eq!(peer.nick, "买家小明", "fishNick wins over the masked nick");
    assert_eq!(peer.uid, Uid::new("1000000101"));
    assert_eq!(
        peer.avatar.as_deref(),
        Some("https://img.alicdn.com/bao/uploaded/i4/EXAMPLE-avatar.jpg")
    );
    let last = h.seen().pop().unwrap();
    assert_eq!(last.api, api::USER_QUERY);
    assert_eq!(last.version, "4.0");
    let data: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(
        data,
        json!({"type": 0, "sessionType": 1, "sessionId": "40000000201", "isOwner": false})
    );

    let item = client.item_detail("900000000601").await.unwrap();
    assert_eq!(item.item_id, "900000000601");
    assert_eq!(item.title, "九成新 富士 X100V 相机");
    assert_eq!(item.price.as_deref(), Some("5800.00"));
    assert_eq!(
        item.pic.as_deref(),
        Some("https://img.alicdn.com/bao/uploaded/i1/EXAMPLE-item-1.jpg")
    );
    assert_eq!(h.seen().pop().unwrap().data, r#"{"itemId":"900000000601"}"#);

    let me = client.own_profile().await.unwrap();
    assert_eq!(me.uid, Uid::new(SELF_UID));
    assert_eq!(me.nick, "终端卖家🐟");
    assert_eq!(
        me.avatar.as_deref(),
        Some("https://img.alicdn.com/bao/uploaded/EXAMPLE-self.jpg")
    );
    assert_eq!(h.seen().pop().unwrap().data, r#"{"self":true}"#);
    // One token exchange for all three.
    assert_eq!(h.requests(), 4);
}

#[tokio::test]
async fn without_a_login_cookie_nothing_is_sent() {
    let h = Harness::start(Mode::Normal).await;
    let client = MtopClient::new(
        h.endpoints.clone(),
        CookieJar::parse_header("cna=abc"),
        None,
    )
    .unwrap();
    assert_eq!(client.uid(), None);
    assert!(matches!(
        client.login_token("did").await,
        Err(MtopError::NoCookie)
    ));
    assert!(matches!(
        client.login_user().await,
        Err(MtopError::NoCookie)
    ));
    assert_eq!(h.requests(), 0);
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_network_error() {
    // Bind then drop a listener: the port is (almost certainly) closed afterwards.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let jar = CookieJar::parse_header(&format!("unb={SELF_UID}; cookie2={COOKIE2}"));
    let client = MtopClient::new(Endpoints::at(base), jar, None).unwrap();
    let err = client.login_user().await.unwrap_err();
    assert!(matches!(err, MtopError::Http(_)), "{err:?}");
    assert!(err.to_string().starts_with("network error"));
    assert_private(&err);
}

/// The session actor runs calls inside spawned tasks: the futures must be `Send`.
#[test]
fn call_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = MtopClient::new(
        Endpoints::at(url::Url::parse("http://127.0.0.1:9/").unwrap()),
        CookieJar::new(),
        None,
    )
    .unwrap();
    let data = json!({});
    assert_send(&client.call("a", "1.0", &data));
    assert_send(&client.login_token("did"));
    assert_send(&client.user_query(&Cid::new("1")));
}

#[test]
fn own_fixtures_classify_as_intended() {
    let classify_fixture =
        |name: &str| classify(&parse_envelope(fixture(name).as_bytes()).unwrap());
    assert!(matches!(
        classify_fixture("mtop_risk_control_html_typed.json"),
        Outcome::RiskControl { url: Some(_) }
    ));
    assert!(matches!(
        classify_fixture("mtop_traffic_limit.json"),
        Outcome::Throttled { .. }
    ));
    assert!(matches!(
        classify_fixture("mtop_business_error.json"),
        Outcome::Business { .. }
    ));
    for ok in [
        "mtop_item_detail_ok.json",
        "mtop_user_head_ok.json",
        "mtop_user_query_ok.json",
    ] {
        assert_eq!(classify_fixture(ok), Outcome::Success, "{ok}");
    }
    assert!(parse_envelope(fixture("mtop_captcha_page.html").as_bytes()).is_err());
}
