//! The simulator speaks the protocol: checked with bare HTTP and WebSocket clients, the way
//! an independent Goofish client would meet it.
// Against the embedded simulator: needs the `sim` feature (on by default).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{RawMtop, RawWs, control, quiet_sim, sim_state, sim_with};
use goofish_tui::protocol::lwp::{Frame, Kind};
use goofish_tui::protocol::sync::decode_sync_body;
use goofish_tui::protocol::{Content, SyncEvent, Uid};
use goofish_tui::sim::{Scenario, SimOptions};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const DID: &str = "ED4CBA2C-5DA0-4154-A902-BF5CB52409E2-2200000000401";

#[tokio::test]
async fn mtop_gateway_signs_like_the_real_one() {
    let sim = quiet_sim().await;
    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    mtop.cookies.remove("_m_h5_tk");
    mtop.cookies.remove("_m_h5_tk_enc");
    // No signing token: TOKEN_EMPTY and a fresh _m_h5_tk / _m_h5_tk_enc.
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_TOKEN_EMPTY::令牌为空");
    assert!(r.set_cookies.iter().any(|c| c.starts_with("_m_h5_tk=")));
    assert!(r.set_cookies.iter().any(|c| c.starts_with("_m_h5_tk_enc=")));
    let tk = mtop.cookies["_m_h5_tk"].clone();
    let (token, expiry) = tk.split_once('_').unwrap();
    assert_eq!(token.len(), 32);
    assert!(expiry.parse::<i64>().unwrap() > goofish_tui::time::now_ms());
    // Signed with it: success, and the envelope of the real service.
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "SUCCESS::调用成功");
    assert_eq!(r.json["api"], "mtop.taobao.idlemessage.pc.loginuser.get");
    assert_eq!(r.json["data"]["userId"], sim.self_uid.as_str());
    // A wrong sign is refused.
    let r = mtop
        .call_signed_with(
            "mtop.taobao.idlemessage.pc.loginuser.get",
            "{}",
            Some("0123"),
        )
        .await;
    assert!(
        r.json["ret"][0]
            .as_str()
            .unwrap()
            .starts_with("FAIL_SYS_TOKEN_ILLEGAL")
    );
    // A token the gateway never issued is stale.
    mtop.cookies.insert(
        "_m_h5_tk".into(),
        "0000000000000000000000000000000a_1".into(),
    );
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_TOKEN_EXOIRED::令牌过期");
    assert!(!r.set_cookies.is_empty());
    sim.shutdown().await;
}

/// The cookie handed out is a browser tab's: it holds a signing pair the gateway takes on the
/// very first call, however long after the simulator started the client comes (a client that
/// never retries on TOKEN_EXOIRED must work); from then on it ages like any token.
#[tokio::test]
async fn the_browser_cookie_signs_the_first_call() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        m_h5_tk_lifetime: Duration::from_millis(400),
        ..SimOptions::default()
    })
    .await;
    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    let tk = mtop.cookies["_m_h5_tk"].clone();
    let (token, expiry) = tk.split_once('_').unwrap();
    assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(expiry.parse::<i64>().is_ok());
    let enc = &mtop.cookies["_m_h5_tk_enc"];
    assert!(enc.len() == 32 && enc.chars().all(|c| c.is_ascii_hexdigit()));
    // Pasted a while after the simulator started: still good.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "SUCCESS::调用成功");
    assert!(r.set_cookies.is_empty(), "rotated: {:?}", r.set_cookies);
    assert_eq!(mtop.cookies["_m_h5_tk"], tk);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_TOKEN_EXOIRED::令牌过期");
    sim.shutdown().await;
}

#[tokio::test]
async fn signing_token_rotates_on_schedule() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        m_h5_tk_lifetime: Duration::from_millis(300),
        ..SimOptions::default()
    })
    .await;
    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    mtop.call_ok("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_TOKEN_EXOIRED::令牌过期");
    sim.shutdown().await;
}

#[tokio::test]
async fn dead_login_cookies_and_risk_control() {
    let sim = quiet_sim().await;
    let mut stranger = RawMtop::new(sim.http_url(), "unb=1234567890; cookie2=nope");
    let r = stranger.call("x", "{}").await; // fetch a signing token first
    assert!(r.json["ret"][0].as_str().unwrap().contains("TOKEN_EMPTY"));
    let r = stranger
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_SESSION_EXPIRED::Session过期");

    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    mtop.call_ok("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    control(&sim, "fault", json!({"kind": "risk-control"})).await;
    let data = json!({"appKey": "444e9908a51d1cb236a27862abc769c9", "deviceId": DID}).to_string();
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.login.token", &data)
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_USER_VALIDATE");
    assert!(
        r.json["data"]["url"]
            .as_str()
            .unwrap()
            .contains("punish?x5secdata=")
    );
    control(&sim, "fault", json!({"kind": "clear"})).await;
    assert!(!mtop.im_token(DID).await.is_empty());

    control(&sim, "fault", json!({"kind": "expire-session"})).await;
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "FAIL_SYS_SESSION_EXPIRED::Session过期");
    sim.shutdown().await;
}

#[tokio::test]
async fn profile_and_item_apis() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let mut pushes = vec![];
    let page = ws
        .rpc(
            "/r/Conversation/listNewestPagination",
            Some(json!([9007199254740991i64, 5])),
            &mut pushes,
        )
        .await;
    let conv = &page.body.as_ref().unwrap()["userConvs"][0]["singleChatUserConversation"];
    let cid = conv["singleChatConversation"]["cid"]
        .as_str()
        .unwrap()
        .trim_end_matches("@goofish")
        .to_string();
    let item = conv["singleChatConversation"]["extension"]["itemId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    let q = json!({"type": 0, "sessionType": 1, "sessionId": cid, "isOwner": false}).to_string();
    let user = mtop
        .call_ok("mtop.taobao.idlemessage.pc.user.query", &q)
        .await;
    let nick = user["userInfo"]["fishNick"].as_str().unwrap();
    assert!(!nick.is_empty());
    assert!(user["userInfo"]["nick"].as_str().unwrap().contains("***"));
    let detail = mtop
        .call_ok(
            "mtop.taobao.idle.pc.detail",
            &json!({"itemId": item}).to_string(),
        )
        .await;
    assert!(!detail["itemDO"]["title"].as_str().unwrap().is_empty());
    assert!(detail["itemDO"]["soldPrice"].as_str().is_some());
    let head = mtop
        .call_ok("mtop.idle.web.user.page.head", r#"{"self":true}"#)
        .await;
    assert_eq!(head["baseInfo"]["kcUserId"], sim.self_uid.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn qr_login_state_machine() {
    let sim = quiet_sim().await;
    let http = reqwest::Client::new();
    let base = sim.http_url().to_string();
    let page = http
        .get(format!("{base}/mini_login.htm"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("window.viewData"));
    let generated: Value = http
        .get(format!("{base}/newlogin/qrcode/generate.do"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = generated["content"]["data"]["t"]
        .as_i64()
        .unwrap()
        .to_string();
    let ck = generated["content"]["data"]["ck"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        generated["content"]["data"]["codeContent"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let query = || async {
        let resp = http
            .post(format!(
                "{base}/newlogin/qrcode/query.do?appName=xianyu&fromSite=77"
            ))
            .form(&[("t", t.as_str()), ("ck", ck.as_str())])
            .send()
            .await
            .unwrap();
        let cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let body: Value = resp.json().await.unwrap();
        (
            body["content"]["data"]["qrCodeStatus"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            cookies,
        )
    };
    assert_eq!(query().await.0, "NEW");
    control(&sim, "qr", json!({"status": "SCANED"})).await;
    assert_eq!(query().await.0, "SCANED");
    control(&sim, "qr", json!({"status": "CONFIRMED"})).await;
    let (status, cookies) = query().await;
    assert_eq!(status, "CONFIRMED");
    let jar: String = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(jar.contains(&format!("unb={}", sim.self_uid)));
    // The cookies of the confirmed login work.
    let mut mtop = RawMtop::new(&base, &jar);
    mtop.call_ok("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn reg_validates_token_and_device() {
    let sim = quiet_sim().await;
    let mut ws = RawWs::connect(sim.ws_url()).await;
    let mut pushes = vec![];
    let early = ws
        .rpc(
            "/r/SyncStatus/getState",
            Some(json!([{"topic": "sync"}])),
            &mut pushes,
        )
        .await;
    assert_eq!(early.code, Some(401));
    let bad = ws.rpc("/reg", None, &mut pushes).await;
    assert_eq!(bad.code, Some(401));
    assert_eq!(bad.body.unwrap()["reason"], "token is not found");

    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    let token = mtop.im_token(DID).await;
    let mut other_did = RawWs::reg_frame(&token, "00000000-0000-4000-8000-000000000000-1");
    other_did.headers.insert("mid".into(), json!("1 0"));
    ws.send(&other_did).await;
    let resp = ws.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(resp.code, Some(401));
    assert_eq!(
        resp.body.unwrap()["reason"],
        "device id or appkey is not equal"
    );

    let (mut ws, reg) = RawWs::register(&sim, DID).await;
    assert_eq!(reg.code, Some(200));
    assert_eq!(reg.header_str("reg-uid"), Some(sim.self_uid.im().as_str()));
    assert!(ws.push("/s/vulcan", Duration::from_secs(5)).await.is_some());
    let hb = ws.rpc("/!", None, &mut pushes).await;
    assert_eq!(hb.code, Some(200));
    assert!(hb.body.is_none());
    let state = ws
        .rpc(
            "/r/SyncStatus/getState",
            Some(json!([{"topic": "sync"}])),
            &mut pushes,
        )
        .await;
    let state_body = state.body.unwrap();
    assert!(state_body["pts"].as_i64().unwrap() > 0);
    let ack = ws
        .rpc(
            "/r/SyncStatus/ackDiff",
            Some(json!([state_body])),
            &mut pushes,
        )
        .await;
    assert_eq!(ack.code, Some(200));
    sim.shutdown().await;
}

#[tokio::test]
async fn conversation_and_history_paging_cover_everything_once() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        conversations: 23,
        history: 17,
        ..SimOptions::default()
    })
    .await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let mut pushes = vec![];
    let mut cursor = 9007199254740991i64;
    let mut cids = vec![];
    let mut last_modify = i64::MAX;
    for _ in 0..10 {
        let r = ws
            .rpc(
                "/r/Conversation/listNewestPagination",
                Some(json!([cursor, 5])),
                &mut pushes,
            )
            .await;
        let body = r.body.unwrap();
        for c in body["userConvs"].as_array().unwrap() {
            let u = &c["singleChatUserConversation"];
            let m = u["modifyTime"].as_i64().unwrap();
            assert!(m <= last_modify, "newest first");
            last_modify = m;
            cids.push(
                u["singleChatConversation"]["cid"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        if body["hasMore"] == json!(0) || body["hasMore"] == json!(false) {
            break;
        }
        cursor = body["nextCursor"].as_i64().unwrap();
    }
    assert_eq!(cids.len(), 23);
    assert_eq!(cids.iter().collect::<HashSet<_>>().len(), 23);

    let cid = &cids[0];
    let mut ids = vec![];
    let mut cursor = 9007199254740991i64;
    let mut last_time = i64::MAX;
    for _ in 0..20 {
        let r = ws
            .rpc(
                "/r/MessageManager/listUserMessages",
                Some(json!([cid, false, cursor, 4, false])),
                &mut pushes,
            )
            .await;
        let body = r.body.unwrap();
        for m in body["userMessageModels"].as_array().unwrap() {
            let t = m["message"]["createAt"].as_i64().unwrap();
            assert!(t <= last_time, "newest first");
            last_time = t;
            ids.push(m["message"]["messageId"].as_str().unwrap().to_string());
        }
        if body["hasMore"] == json!(0) || body["hasMore"] == json!(false) {
            break;
        }
        cursor = body["nextCursor"].as_i64().unwrap();
    }
    assert!(ids.len() >= 17, "history of a conversation: {}", ids.len());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    sim.shutdown().await;
}

fn sync_messages(pushes: &[Frame], me: &Uid) -> Vec<goofish_tui::protocol::Message> {
    pushes
        .iter()
        .filter(|p| p.lwp.as_deref() == Some("/s/sync"))
        .flat_map(|p| decode_sync_body(p.body.as_ref().unwrap(), me).events)
        .filter_map(|e| match e {
            SyncEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn send_is_answered_echoed_recorded_and_acked() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let mut pushes = vec![];
    let page = ws
        .rpc(
            "/r/Conversation/listNewestPagination",
            Some(json!([9007199254740991i64, 1])),
            &mut pushes,
        )
        .await;
    let sc =
        page.body.unwrap()["userConvs"][0]["singleChatUserConversation"]["singleChatConversation"]
            .clone();
    let cid = sc["cid"].as_str().unwrap().to_string();
    let peer = sc["pairFirst"].as_str().unwrap().to_string();
    let content = base64_json(&json!({"contentType": 1, "text": {"text": "在的，可以小刀 🙂"}}));
    let body = json!([{"uuid": "-17424589073891", "cid": cid, "conversationType": 1,
        "content": {"contentType": 101, "custom": {"type": 1, "data": content}},
        "redPointPolicy": 0, "extension": {"extJson": "{}"}, "ctx": {"appVersion": "1.0", "platform": "web"},
        "mtags": {}, "msgReadStatusSetting": 1},
        {"actualReceivers": [peer, sim.self_uid.im()]}]);
    let resp = ws
        .rpc(
            "/r/MessageSend/sendByReceiverScope",
            Some(body.clone()),
            &mut pushes,
        )
        .await;
    assert_eq!(resp.code, Some(200));
    let id = resp.body.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.ends_with(".PNM"));
    // The echo arrives as a sync push, from self, with the same id.
    let echo = ws.push("/s/sync", Duration::from_secs(5)).await.unwrap();
    pushes.push(echo);
    let msgs = sync_messages(&pushes, &sim.self_uid);
    let m = msgs
        .iter()
        .find(|m| m.id.as_str() == id)
        .expect("echo with the PNM id");
    assert!(m.is_self);
    assert_eq!(
        m.content,
        Content::Text {
            text: "在的，可以小刀 🙂".into()
        }
    );
    // A resend with the same uuid is not stored twice.
    let again = ws
        .rpc(
            "/r/MessageSend/sendByReceiverScope",
            Some(body),
            &mut pushes,
        )
        .await;
    assert_eq!(again.body.unwrap()["messageId"], id.as_str());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let st = sim_state(&sim).await;
    let received = st["messages_received"].as_array().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["text"], "在的，可以小刀 🙂");
    assert_eq!(received[0]["uuid"], "-17424589073891");
    assert_eq!(received[0]["message_id"], id.as_str());
    assert!(st["pushes_acked"].as_u64().unwrap() >= 2, "{st}");
    sim.shutdown().await;
}

#[tokio::test]
async fn only_own_fresh_messages_can_be_recalled_and_a_recall_is_pushed() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    ws.push("/s/vulcan", Duration::from_secs(5)).await.unwrap();
    let mut pushes = vec![];
    // A buyer's message is not ours to recall.
    let buyer = control(&sim, "incoming", json!({"text": "在吗"})).await;
    let cid = buyer["cid"].as_str().unwrap().to_string();
    let refused = ws
        .rpc(
            "/r/MessageManager/recallMessage",
            Some(json!([buyer["message_id"]])),
            &mut pushes,
        )
        .await;
    assert_ne!(refused.code, Some(200));
    assert!(
        refused.body.unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("own")
    );
    // An own message just sent can be.
    let content = base64_json(&json!({"contentType": 1, "text": {"text": "发错了"}}));
    let sent = ws
        .rpc(
            "/r/MessageSend/sendByReceiverScope",
            Some(
                json!([{"uuid": "-1", "cid": format!("{cid}@goofish"), "conversationType": 1,
                "content": {"contentType": 101, "custom": {"type": 1, "data": content}}},
                {"actualReceivers": [sim.self_uid.im()]}]),
            ),
            &mut pushes,
        )
        .await;
    let id = sent.body.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = ws
        .rpc(
            "/r/MessageManager/recallMessage",
            Some(json!([id])),
            &mut pushes,
        )
        .await;
    assert_eq!(ok.code, Some(200));
    // Every client of the account hears of it (40104).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let recalled = loop {
        let found = pushes
            .iter()
            .filter(|p| p.lwp.as_deref() == Some("/s/sync"))
            .flat_map(|p| decode_sync_body(p.body.as_ref().unwrap(), &sim.self_uid).events)
            .find_map(|e| match e {
                SyncEvent::Recalled { id, .. } => Some(id),
                _ => None,
            });
        if let Some(f) = found {
            break f;
        }
        assert!(tokio::time::Instant::now() < deadline, "no recall push");
        if let Some(p) = ws.push("/s/sync", Duration::from_secs(1)).await {
            pushes.push(p);
        }
    };
    assert_eq!(recalled.as_str(), id);
    // Gone: a second recall finds nothing.
    let again = ws
        .rpc(
            "/r/MessageManager/recallMessage",
            Some(json!([id])),
            &mut pushes,
        )
        .await;
    assert_ne!(again.code, Some(200));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_order_step_pushes_the_card_and_the_order_state() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    ws.push("/s/vulcan", Duration::from_secs(5)).await.unwrap();
    let buyer = control(&sim, "incoming", json!({"text": "我拍了"})).await;
    let cid = buyer["cid"].as_str().unwrap().to_string();
    ws.push("/s/sync", Duration::from_secs(5)).await.unwrap();
    control(&sim, "order", json!({"cid": cid, "step": "pay"})).await;
    let mut events = vec![];
    while let Some(p) = ws.push("/s/sync", Duration::from_secs(2)).await {
        let body = p.body.unwrap();
        for item in body["syncPushPackage"]["data"].as_array().unwrap() {
            let raw = item["data"].as_str().unwrap();
            if item["bizType"] != 40000 {
                // The order state in the captured 4-key layout.
                let json = goofish_tui::protocol::sync::item_to_json(raw).unwrap();
                assert_eq!(json["1"], format!("{cid}@goofish"));
                assert_eq!(json["2"], 1);
                assert_eq!(json["3"]["redReminder"], "等待卖家发货");
                assert!(json["4"].is_u64());
                assert_eq!(json.as_object().unwrap().len(), 4);
            }
        }
        events.extend(decode_sync_body(&body, &sim.self_uid).events);
        if events.len() >= 2 {
            break;
        }
    }
    assert!(
        events.iter().any(
            |e| matches!(e, SyncEvent::Message(m) if matches!(m.content, Content::TradeCard(_)))
        )
    );
    assert!(events.iter().any(|e| matches!(e,
        SyncEvent::CardUpdate { cid: Some(c), red_reminder: Some(r), time: Some(_), .. }
            if c.as_str() == cid && r == "等待卖家发货")));
    sim.shutdown().await;
}

#[tokio::test]
async fn incoming_message_is_pushed_in_the_real_layout() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    ws.push("/s/vulcan", Duration::from_secs(5)).await.unwrap();
    let r = control(&sim, "incoming", json!({"text": "还在吗？包邮吗"})).await;
    let push = ws.push("/s/sync", Duration::from_secs(5)).await.unwrap();
    let item = &push.body.as_ref().unwrap()["syncPushPackage"]["data"][0];
    assert_eq!(item["bizType"], 40000);
    let msgs = sync_messages(&[push], &sim.self_uid);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].id.as_str(), r["message_id"].as_str().unwrap());
    assert_eq!(msgs[0].cid.as_str(), r["cid"].as_str().unwrap());
    assert!(!msgs[0].is_self);
    assert!(msgs[0].sender_nick.is_some());
    assert!(msgs[0].item_id.is_some());
    sim.shutdown().await;
}

/// The words between backticks in `s`.
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// What §7.4 of the protocol document records of the real capture of a text sent from the
/// Android app (a capture kept by another client, not a sample file): the keys of block `10`,
/// the keys of its `extJson`, and the `reminderNotice` phrase.
fn captured_app_text(spec: &str) -> (Vec<String>, Vec<String>, String) {
    let row = spec
        .lines()
        .find(|l| l.contains("its `10` block is exactly:"))
        .expect("§7.4 no longer lists the captured text's block 10: update this test");
    let list = row.split_once("exactly:").unwrap().1;
    let list = list.split_once("; and").map_or(list, |(l, _)| l);
    let ext = list.split_once("`extJson` (").unwrap().1;
    let ext = backticked(ext.split_once(')').unwrap().0);
    let notice = list.split_once("`reminderNotice` = `").unwrap().1;
    let notice = notice.split_once('`').unwrap().0.to_string();
    // One key per comma-separated entry, once the remarks in parentheses are gone.
    let mut bare = String::new();
    let mut depth = 0;
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    let keys = bare
        .split(',')
        .filter_map(|entry| backticked(entry).into_iter().next())
        .collect();
    (keys, ext, notice)
}

/// A buyer's text as the simulator pushes it has block `10` of the real capture of a text from
/// the app: the same keys (no `closePushReceiver`, `closeUnreadNumber`, `receiver`,
/// `updateHead`), the same `extJson` keys, the fixed `reminderNotice`, the mention list first
/// in the content, and strings only, sorted by key, like the real order card.
#[tokio::test]
async fn buyer_text_push_has_the_key_set_of_the_real_capture() {
    let Some(spec) = common::samples::spec() else {
        return;
    };
    let Some(card) = common::samples::text("real/order-card-item.b64") else {
        return;
    };
    let (keys, ext_keys, notice) = captured_app_text(&spec);
    assert!(
        keys.len() >= 10 && keys.contains(&"senderUserId".to_string()),
        "{keys:?}"
    );
    assert_eq!(notice, "发来一条新消息");

    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    ws.push("/s/vulcan", Duration::from_secs(5)).await.unwrap();
    control(&sim, "incoming", json!({"text": "还在吗？包邮吗"})).await;
    let push = ws.push("/s/sync", Duration::from_secs(5)).await.unwrap();
    let data = push.body.as_ref().unwrap()["syncPushPackage"]["data"][0]["data"]
        .as_str()
        .unwrap()
        .to_string();
    let item = goofish_tui::protocol::sync::item_to_json(&data).unwrap();
    let block = item["1"]["10"].as_object().unwrap();
    let mut ours: Vec<String> = block.keys().cloned().collect();
    let mut want = keys.clone();
    ours.sort();
    want.sort();
    assert_eq!(ours, want);
    assert!(block.values().all(Value::is_string), "{block:?}");
    assert_eq!(block["reminderNotice"], notice.as_str());
    assert_eq!(block["reminderContent"], "还在吗？包邮吗");
    assert_eq!(block["detailNotice"], "还在吗？包邮吗");
    let ext: Value = serde_json::from_str(block["extJson"].as_str().unwrap()).unwrap();
    let mut ours_ext: Vec<String> = ext.as_object().unwrap().keys().cloned().collect();
    let mut want_ext = ext_keys.clone();
    ours_ext.sort();
    want_ext.sort();
    assert_eq!(ours_ext, want_ext);
    let content = item["1"]["6"]["3"]["5"].as_str().unwrap();
    assert!(
        content.starts_with(r#"{"atUsers":[],"contentType":1,"#),
        "{content}"
    );

    // The wire order of the keys is sorted, as in the real capture's block.
    let wire_keys = |b64: &str| -> Vec<String> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        let v = rmpv::decode::read_value(&mut bytes.as_slice()).unwrap();
        let msg = &v.as_map().unwrap()[0].1;
        let block = msg
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_i64() == Some(10))
            .unwrap()
            .1
            .clone();
        block
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect()
    };
    let real_order = wire_keys(&card);
    assert!(real_order.is_sorted(), "{real_order:?}");
    assert!(wire_keys(&data).is_sorted());
    // …and it still decodes to the buyer's message, with nickname and item.
    let msgs = sync_messages(&[push], &sim.self_uid);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].content,
        Content::Text {
            text: "还在吗？包邮吗".into()
        }
    );
    assert!(msgs[0].sender_nick.is_some() && msgs[0].item_id.is_some());
    sim.shutdown().await;
}

/// A burst over more conversations than the world has brings in new buyers, so the answer's
/// `conversations` is what was really used and the conversation list then holds them all.
#[tokio::test]
async fn burst_over_more_conversations_than_the_world_has_brings_in_new_buyers() {
    use goofish_tui::protocol::history::parse_conversation_page;
    let sim = quiet_sim().await; // 12 conversations: 11 buyers and 闲小蜜
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let r = control(&sim, "burst", json!({"count": 100, "conversations": 50})).await;
    assert_eq!(r["count"], 100, "{r}");
    assert_eq!(r["conversations"], 50, "{r}");
    assert_eq!(r["created_conversations"], 39, "{r}");
    // Fewer messages than conversations asked for: one conversation per message, no more.
    let r = control(&sim, "burst", json!({"count": 7, "conversations": 50})).await;
    assert_eq!(
        (r["count"].clone(), r["conversations"].clone()),
        (json!(7), json!(7))
    );
    assert_eq!(r["created_conversations"], 0, "{r}");

    let mut pushes = vec![];
    let mut convs = vec![];
    let mut cursor = 9007199254740991i64;
    for _ in 0..20 {
        let r = ws
            .rpc(
                "/r/Conversation/listNewestPagination",
                Some(json!([cursor, 20])),
                &mut pushes,
            )
            .await;
        let page = parse_conversation_page(r.body.as_ref().unwrap(), &sim.self_uid).unwrap();
        convs.extend(page.conversations);
        match page.next_cursor {
            Some(c) if page.has_more => cursor = c,
            _ => break,
        }
    }
    assert_eq!(convs.len(), 12 + 39);
    // The 50 latest are the burst's, each with a buyer who has a name and an item.
    for c in &convs[..50] {
        let last = c.last_message.as_ref().unwrap();
        assert!(last.content.summary().ends_with("还在吗？"), "{last:?}");
        assert!(!last.is_self);
        assert!(
            c.peer_nick.as_deref().is_some_and(|n| !n.is_empty()),
            "{c:?}"
        );
        assert!(c.item_id.is_some(), "{c:?}");
    }
    let peers: HashSet<_> = convs.iter().map(|c| c.peer.clone()).collect();
    assert!(peers.len() >= 50);
    // A bad request names the limit instead of building a world without end.
    let resp = reqwest::Client::new()
        .post(format!("{}/burst", sim.control_url()))
        .json(&json!({"count": 1_000_000, "conversations": 1_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("100000"));
    sim.shutdown().await;
}

#[tokio::test]
async fn silent_connection_is_kicked_out() {
    let sim = sim_with(SimOptions {
        scenario: Scenario::Quiet,
        heartbeat_kick_after: Duration::from_millis(600),
        ..SimOptions::default()
    })
    .await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let kick = ws.push("/push/kickout", Duration::from_secs(5)).await;
    assert!(kick.is_some());
    // …and the socket is closed after it.
    let mut closed = false;
    for _ in 0..5 {
        match ws.next(Duration::from_secs(2)).await {
            None => {
                closed = true;
                break;
            }
            Some(f) if f.kind() == Kind::Push => {}
            Some(_) => {}
        }
    }
    assert!(closed);
    sim.shutdown().await;
}

#[tokio::test]
async fn sim_command_prints_one_json_line() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_goofish-tui"))
        .args(["sim", "--scenario", "quiet", "--conversations", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    for key in ["http", "ws", "cookie", "self_uid", "control"] {
        assert!(
            info[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} in {line}"
        );
    }
    let st: Value = reqwest::get(format!("{}/state", info["control"].as_str().unwrap()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["self_uid"], info["self_uid"]);
    // The printed cookie signs a first call that succeeds, with no token rotation.
    let mut mtop = RawMtop::new(
        info["http"].as_str().unwrap(),
        info["cookie"].as_str().unwrap(),
    );
    let r = mtop
        .call("mtop.taobao.idlemessage.pc.loginuser.get", "{}")
        .await;
    assert_eq!(r.json["ret"][0], "SUCCESS::调用成功", "{}", r.json);
    assert_eq!(r.json["data"]["userId"], info["self_uid"]);
    assert!(r.set_cookies.is_empty(), "rotated: {:?}", r.set_cookies);
    child.kill().unwrap();
    let _ = child.wait();
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}
