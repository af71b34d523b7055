//! The mtop gateway: `POST /h5/<api>/<version>/`, signed like the real service (§3).

use super::state::{Sim, State, random_hex};
use crate::protocol::mtop::{MTOP_APP_KEY, envelope_json, sign};
use crate::protocol::{Cid, Uid};
use crate::sim::shards::Shard;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new().route("/h5/{api}/{version}/", post(handle).get(handle))
}

/// Cookie name → value, from a `Cookie:` header (last one wins).
pub fn request_cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for h in headers.get_all(header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.split_once('=') {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// JSON with the given Set-Cookie headers.
pub fn json_response(body: Value, set_cookies: &[String]) -> Response {
    let mut resp = axum::Json(body).into_response();
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn fresh_signing_cookies(sim: &Sim, st: &mut State) -> Vec<String> {
    let token = random_hex(32);
    let expiry = crate::time::now_ms() + sim.opts.m_h5_tk_lifetime.as_millis() as i64;
    st.mtop_tokens.insert(token.clone(), Some(expiry));
    // Host-only cookies, so that any client on loopback keeps them.
    vec![
        format!("_m_h5_tk={token}_{expiry}; Path=/; Max-Age=86400"),
        format!("_m_h5_tk_enc={}; Path=/; Max-Age=86400", random_hex(32)),
    ]
}

async fn handle(
    Shard(sim): Shard,
    Path((api, version)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let data = form
        .get("data")
        .or_else(|| query.get("data"))
        .cloned()
        .unwrap_or_default();
    let cookies = request_cookies(&headers);
    let envelope =
        |ret: &str, data: Value| envelope_json(&api, &version, &[ret], data, rand::random());

    let mut st = sim.state();
    // 1. The signing token, checked before anything else as the gateway does.
    let Some(tk) = cookies.get("_m_h5_tk") else {
        let set = fresh_signing_cookies(&sim, &mut st);
        return json_response(envelope("FAIL_SYS_TOKEN_EMPTY::令牌为空", json!({})), &set);
    };
    let token = tk.split('_').next().unwrap_or("");
    let now = crate::time::now_ms();
    let lifetime = sim.opts.m_h5_tk_lifetime.as_millis() as i64;
    let known = st
        .mtop_tokens
        .get_mut(token)
        .map(|exp| *exp.get_or_insert(now + lifetime));
    if known.is_none_or(|exp| exp <= now) {
        let set = fresh_signing_cookies(&sim, &mut st);
        return json_response(
            envelope("FAIL_SYS_TOKEN_EXOIRED::令牌过期", json!({})),
            &set,
        );
    }
    let t = query.get("t").map(String::as_str).unwrap_or("");
    let app_key = query
        .get("appKey")
        .map(String::as_str)
        .unwrap_or(MTOP_APP_KEY);
    let expected = sign(token, t, &data);
    if app_key != MTOP_APP_KEY || query.get("sign").map(String::as_str) != Some(expected.as_str()) {
        let set = fresh_signing_cookies(&sim, &mut st);
        return json_response(
            envelope("FAIL_SYS_TOKEN_ILLEGAL::非法令牌", json!({})),
            &set,
        );
    }

    // 2. The login session.
    let self_uid = sim.self_uid();
    if !st.logged_in(&self_uid, &cookies) {
        return json_response(
            envelope("FAIL_SYS_SESSION_EXPIRED::Session过期", json!({})),
            &[],
        );
    }

    let args: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
    let result = match api.as_str() {
        "mtop.taobao.idlemessage.pc.login.token" => login_token(&sim, &mut st, &args),
        "mtop.taobao.idlemessage.pc.loginuser.get" => {
            Ok(json!({"userId": self_uid.as_str(), "mainUserId": self_uid.as_str()}))
        }
        "mtop.taobao.idlemessage.pc.user.query" => user_query(&st, &self_uid, &args),
        "mtop.idle.web.user.page.head" => page_head(&st, &self_uid, &args),
        "mtop.idle.web.user.page.nav" => Ok(json!({"module": {"base": {
            "displayName": st.world.self_nick, "avatar": format!("{}/avatar/{self_uid}.jpg", st.world.picture_host),
            "soldCount": 128, "purchaseCount": 12, "followers": 56, "following": 9}}})),
        "mtop.taobao.idle.pc.detail" => item_detail(&st, &args),
        "mtop.taobao.mtop.common.getTimestamp" => Ok(json!({"t": now.to_string()})),
        _ => Err((
            "FAIL_SYS_API_NOT_FOUNDED::请求API不存在".to_string(),
            json!({}),
        )),
    };
    drop(st);
    match result {
        Ok(data) => json_response(envelope("SUCCESS::调用成功", data), &[]),
        Err((ret, data)) => json_response(envelope(&ret, data), &[]),
    }
}

type ApiResult = Result<Value, (String, Value)>;

fn login_token(sim: &Sim, st: &mut State, args: &Value) -> ApiResult {
    sim.counters.token_requests.fetch_add(1, Ordering::Relaxed);
    if st.faults.risk_control {
        // The real shape: two ret entries and the punish URL (samples/real).
        return Err((
            "FAIL_SYS_USER_VALIDATE".to_string(),
            json!({"url": "https://h5api.m.goofish.com:443//h5/mtop.taobao.idlemessage.pc.login.token/1.0/_____tmd_____/punish?x5secdata=simulated&x5step=2&action=captcha&pureCaptcha="}),
        ));
    }
    let did = args.get("deviceId").and_then(Value::as_str).unwrap_or("");
    if did.is_empty() {
        return Err(("FAIL_BIZ_PARAM_ERROR::deviceId 为空".to_string(), json!({})));
    }
    let token = format!("{}{}", random_hex(40), random_hex(24));
    let lifetime = sim.opts.im_token_lifetime.as_millis() as i64;
    st.im_tokens.insert(
        token.clone(),
        super::state::ImToken {
            did: did.to_string(),
            expires_at_ms: crate::time::now_ms() + lifetime,
        },
    );
    Ok(
        json!({"accessToken": token, "accessTokenExpiredTime": lifetime.to_string(), "refreshToken": random_hex(32)}),
    )
}

fn masked(nick: &str) -> String {
    let chars: Vec<char> = nick.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [one] => format!("{one}***"),
        [first, .., last] => format!("{first}***{last}"),
    }
}

fn user_query(st: &State, self_uid: &Uid, args: &Value) -> ApiResult {
    let sid = match args.get("sessionId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let owner = args
        .get("isOwner")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let thread = st.world.thread(&Cid::new(&sid));
    let (uid, nick, avatar) = match (thread, owner) {
        (Some(_), true) | (None, true) => {
            (self_uid.clone(), st.world.self_nick.clone(), String::new())
        }
        (Some(t), false) => match st.world.buyer(&t.conv.peer) {
            Some(b) => (b.uid.clone(), b.nick.clone(), b.avatar.clone()),
            None => (t.conv.peer.clone(), t.conv.peer.to_string(), String::new()),
        },
        (None, false) => {
            return Err((
                "FAIL_BIZ_SESSION_NOT_EXIST::会话不存在".to_string(),
                json!({}),
            ));
        }
    };
    Ok(
        json!({"needDecryptKeys": [], "needDecryptKeysV2": [], "userInfo": {
        "ext": {"userMedal": ""}, "fishNick": nick, "logo": avatar, "nick": masked(&nick), "type": 1,
        "userId": uid.as_str()}}),
    )
}

fn page_head(st: &State, self_uid: &Uid, args: &Value) -> ApiResult {
    let is_self = args.get("self").and_then(Value::as_bool).unwrap_or(false);
    let uid = if is_self {
        self_uid.clone()
    } else {
        Uid::new(args.get("userId").and_then(Value::as_str).unwrap_or(""))
    };
    let (nick, avatar) = if is_self {
        (
            st.world.self_nick.clone(),
            format!("{}/avatar/{uid}.jpg", st.world.picture_host),
        )
    } else {
        match st.world.buyer(&uid) {
            Some(b) => (b.nick.clone(), b.avatar.clone()),
            None => return Err(("FAIL_BIZ_USER_NOT_EXIST::用户不存在".to_string(), json!({}))),
        }
    };
    Ok(
        json!({"baseInfo": {"kcUserId": uid.as_str(), "encryptedUserId": random_hex(16), "self": is_self},
        "module": {"base": {"displayName": nick, "avatar": {"avatar": avatar}, "ipLocation": "浙江", "introduction": ""}}}),
    )
}

fn item_detail(st: &State, args: &Value) -> ApiResult {
    let id = match args.get("itemId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let Some(item) = st.world.item(&id) else {
        return Err(("FAIL_BIZ_ITEM_NOT_EXIST::宝贝不存在".to_string(), json!({})));
    };
    Ok(
        json!({"itemDO": {"itemId": item.id, "title": item.title, "soldPrice": item.price, "desc": item.desc,
        "imageInfos": [{"url": item.pic}], "picInfo": {"picUrl": item.pic}},
        "sellerDO": {"sellerId": st.world.self_uid.as_str(), "nick": st.world.self_nick}}),
    )
}
