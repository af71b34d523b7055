//! Passport QR login (§5.1): `mini_login.htm`, `qrcode/generate.do`, `qrcode/query.do`.
//! NEW → SCANED → CONFIRMED / EXPIRED / CANCELED, driven by `/__sim/qr` or by
//! `--qr-auto-confirm`.

use super::mtop_gateway::{json_response, request_cookies};
use super::state::{Qr, QrStatus, Sim, State, login_cookie_pairs, random_hex};
use crate::sim::shards::Shard;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::HeaderMap;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// A QR code nobody answers expires after this long.
const QR_LIFETIME: Duration = Duration::from_secs(300);

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new()
        .route("/mini_login.htm", get(mini_login))
        .route("/newlogin/qrcode/generate.do", get(generate).post(generate))
        .route("/newlogin/qrcode/query.do", get(query).post(query))
        .route("/newlogin/hasLogin.do", post(has_login))
        .route("/newlogin/silentHasLogin.do", post(silent_has_login))
}

fn envelope(data: Value) -> Value {
    json!({"content": {"data": data, "status": 0, "success": true}, "hasError": false})
}

async fn mini_login() -> Response {
    let form = json!({"appName": "xianyu", "appEntrance": "web", "fromSite": "77", "lang": "zh_CN",
        "isMobile": "false", "mainPage": "false", "umidTag": "SERVER", "bizParams": "taobaoBizLoginFrom=web",
        "_csrf_token": random_hex(20), "hsiz": "", "deviceId": ""});
    let csrf = form["_csrf_token"].as_str().unwrap_or_default().to_string();
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>闲鱼登录</title></head><body>\
         <script>window.viewData = {};</script></body></html>",
        json!({"loginFormData": form, "title": "闲鱼"})
    );
    let mut resp = Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("XSRF-TOKEN={csrf}; Path=/")) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn generate(Shard(sim): Shard) -> Response {
    let t = crate::time::now_ms();
    let ck = random_hex(48);
    let lg = random_hex(32);
    sim.state().qr = Some(Qr {
        t,
        ck: ck.clone(),
        status: QrStatus::New,
        created: Instant::now(),
    });
    json_response(
        envelope(
            json!({"t": t, "ck": ck, "resultCode": 100, "processFinished": false,
            "codeContent": format!("https://passport.goofish.com/qrcodeCheck.htm?lgToken={lg}&tbScanOpenType=Notification")}),
        ),
        &[],
    )
}

/// Moves the QR code along by the clock: auto-confirm and expiry.
fn advance(sim: &Sim, qr: &mut Qr) {
    if qr.status != QrStatus::New && qr.status != QrStatus::Scaned {
        return;
    }
    let age = qr.created.elapsed();
    if let Some(after) = sim.opts.qr_auto_confirm {
        if age >= after {
            qr.status = QrStatus::Confirmed;
        } else if age >= after / 2 {
            qr.status = QrStatus::Scaned;
        }
    }
    if qr.status == QrStatus::New && age >= QR_LIFETIME {
        qr.status = QrStatus::Expired;
    }
}

/// A confirmed login starts a new session and lifts a session-expired fault.
fn login(st: &mut State, lifetime: Option<Duration>) {
    st.session = random_hex(32);
    st.faults.session_expired = false;
    st.session_renewed(lifetime);
}

/// What a renewal answers, refused: passport's envelope with `success: false`.
fn refused(why: &str) -> Response {
    json_response(
        json!({"content": {"data": {"titleMsg": why}, "status": -1, "success": false}, "hasError": false}),
        &[],
    )
}

/// A renewal granted: the session lives another lifetime from now, and the login cookies
/// come again (§5.4: `sgcookie`, `tracknick`, `csg`, `unb` …).
fn renewed(sim: &Sim, st: &mut State) -> Response {
    st.session_renewed(sim.opts.session_lifetime);
    let self_uid = sim.self_uid();
    let set: Vec<String> = login_cookie_pairs(&self_uid, st)
        .into_iter()
        .chain([("csg", random_hex(8))])
        .map(|(k, v)| format!("{k}={v}; Path=/; Max-Age=2592000"))
        .collect();
    json_response(envelope(json!({"resultCode": 100})), &set)
}

/// §5.4 step 1: extends a login that is still alive.
async fn has_login(Shard(sim): Shard, headers: HeaderMap) -> Response {
    sim.counters.renewals.fetch_add(1, Ordering::Relaxed);
    let cookies = request_cookies(&headers);
    let mut st = sim.state();
    if st.faults.refuse_renewal {
        return refused("请重新登录");
    }
    if !st.logged_in(&sim.self_uid(), &cookies) {
        return refused("未登录");
    }
    renewed(&sim, &mut st)
}

/// §5.4 step 2: new short-login cookies from the long login, also for a session that has
/// lapsed by its lifetime (not for one ended otherwise).
async fn silent_has_login(Shard(sim): Shard, headers: HeaderMap) -> Response {
    sim.counters.silent_renewals.fetch_add(1, Ordering::Relaxed);
    let cookies = request_cookies(&headers);
    let mut st = sim.state();
    if st.faults.refuse_renewal || !st.presents_session(&sim.self_uid(), &cookies) {
        return refused("请重新登录");
    }
    renewed(&sim, &mut st)
}

async fn query(
    Shard(sim): Shard,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut form: HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    form.extend(q);
    let self_uid = sim.self_uid();
    let mut st = sim.state();
    let ck = form.get("ck").cloned().unwrap_or_default();
    let t = form.get("t").and_then(|t| t.parse::<i64>().ok());
    let mut qr = st.qr.take();
    let matches = qr
        .as_ref()
        .is_some_and(|q| q.ck == ck && t.is_none_or(|t| t == q.t));
    let result = match qr.as_mut() {
        Some(q) if matches => {
            advance(&sim, q);
            Some(q.status)
        }
        _ => None,
    };
    st.qr = qr;
    let Some(status) = result else {
        return json_response(
            json!({"content": {"data": {"titleMsg": "二维码无效"}, "status": -1, "success": false}, "hasError": true}),
            &[],
        );
    };
    let mut set = Vec::new();
    let mut data = json!({"qrCodeStatus": status, "resultCode": 100});
    if status == QrStatus::Confirmed {
        login(&mut st, sim.opts.session_lifetime);
        data["iframeRedirect"] = json!(false);
        set = login_cookie_pairs(&self_uid, &st)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}; Path=/; Max-Age=2592000"))
            .collect();
        // One login per code.
        st.qr = None;
    }
    json_response(envelope(data), &set)
}

/// Sets the status of the current QR code (control API). False if there is none.
pub fn set_status(sim: &Sim, status: QrStatus) -> bool {
    let mut st = sim.state();
    match st.qr.as_mut() {
        Some(q) => {
            q.status = status;
            true
        }
        None => false,
    }
}
