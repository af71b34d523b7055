//! The simulator speaks the protocol: checked with bare HTTP and WebSocket clients, the way
//! an independent Goofish client would meet it.
#![allow(clippy::unwrap_used)]

mod common;

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
    // No signing token yet: TOKEN_EMPTY and a fresh _m_h5_tk / _m_h5_tk_enc.
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
    child.kill().unwrap();
    let _ = child.wait();
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}
