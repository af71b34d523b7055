//! Shared helpers for tests that talk to the simulator over real loopback sockets.
#![allow(dead_code, clippy::unwrap_used)]

#[allow(unused_imports)]
pub(crate) use crate::samples;

pub mod core_place;
use futures_util::{SinkExt, StreamExt};
use goofish_tui::protocol::lwp::{Frame, Kind, new_mid};
use goofish_tui::protocol::mtop::{MTOP_APP_KEY, sign};
use goofish_tui::sim::{self, Scenario, SimHandle, SimOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message as WsMessage};

pub async fn quiet_sim() -> SimHandle {
    sim::start(SimOptions {
        scenario: Scenario::Quiet,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

pub async fn sim_with(opts: SimOptions) -> SimHandle {
    sim::start(opts).await.unwrap()
}

/// POSTs JSON to the control API.
pub async fn control(sim: &SimHandle, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/{}", sim.control_url(), path))
        .json(&body)
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

pub async fn sim_state(sim: &SimHandle) -> Value {
    reqwest::get(format!("{}/state", sim.control_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A bare-bones mtop caller that keeps cookies by name, to check the gateway itself.
pub struct RawMtop {
    pub base: String,
    pub cookies: HashMap<String, String>,
    http: reqwest::Client,
}

pub struct RawResponse {
    pub json: Value,
    pub set_cookies: Vec<String>,
}

impl RawMtop {
    pub fn new(base: &str, cookie_header: &str) -> RawMtop {
        let mut cookies = HashMap::new();
        for pair in cookie_header.split(';') {
            if let Some((k, v)) = pair.split_once('=') {
                cookies.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        RawMtop {
            base: base.trim_end_matches('/').to_string(),
            cookies,
            http: reqwest::Client::new(),
        }
    }

    pub async fn call_signed_with(
        &mut self,
        api: &str,
        data: &str,
        sign_override: Option<&str>,
    ) -> RawResponse {
        let t = goofish_tui::time::now_ms().to_string();
        let token = self
            .cookies
            .get("_m_h5_tk")
            .map(|v| v.split('_').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let s = sign_override
            .map(str::to_string)
            .unwrap_or_else(|| sign(&token, &t, data));
        let version = if api.ends_with("user.query") {
            "4.0"
        } else {
            "1.0"
        };
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("jsv", "2.7.2"),
                ("appKey", MTOP_APP_KEY),
                ("t", &t),
                ("sign", &s),
                ("v", version),
                ("type", "originaljson"),
                ("dataType", "json"),
                ("api", api),
            ])
            .finish();
        let url = format!("{}/h5/{api}/{version}/?{query}", self.base);
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let resp = self
            .http
            .post(url)
            .header("cookie", cookie)
            .form(&[("data", data)])
            .send()
            .await
            .unwrap();
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap();
            if let Some((k, v)) = first.split_once('=') {
                self.cookies
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        RawResponse {
            json: resp.json().await.unwrap(),
            set_cookies,
        }
    }

    pub async fn call(&mut self, api: &str, data: &str) -> RawResponse {
        self.call_signed_with(api, data, None).await
    }

    /// Calls until the signing token is in place (the first call of a fresh jar fails).
    pub async fn call_ok(&mut self, api: &str, data: &str) -> Value {
        for _ in 0..3 {
            let r = self.call(api, data).await;
            let ret = r.json["ret"][0].as_str().unwrap_or("").to_string();
            if ret.starts_with("SUCCESS") {
                return r.json["data"].clone();
            }
            assert!(ret.contains("TOKEN"), "unexpected ret {ret}");
        }
        panic!("no success after 3 calls");
    }

    pub async fn im_token(&mut self, did: &str) -> String {
        let data =
            json!({"appKey": "444e9908a51d1cb236a27862abc769c9", "deviceId": did}).to_string();
        self.call_ok("mtop.taobao.idlemessage.pc.login.token", &data)
            .await["accessToken"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A raw LWP WebSocket client: sends frames, reads frames, ACKs on request.
pub struct RawWs {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawWs {
    pub async fn connect(url: &str) -> RawWs {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        RawWs { ws }
    }

    pub async fn send(&mut self, frame: &Frame) {
        self.ws
            .send(WsMessage::Text(frame.to_text().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame, or None after `timeout` or when closed.
    pub async fn next(&mut self, timeout: Duration) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout(timeout, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                WsMessage::Text(t) => return Frame::parse(t.as_str()).ok(),
                WsMessage::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Sends a request and returns its response, ACKing and collecting pushes meanwhile.
    pub async fn rpc(&mut self, path: &str, body: Option<Value>, pushes: &mut Vec<Frame>) -> Frame {
        let req = Frame::request(path, body, fresh_mid());
        let mid = req.mid_key().unwrap().to_string();
        self.send(&req).await;
        loop {
            let f = self
                .next(Duration::from_secs(5))
                .await
                .expect("no response");
            match f.kind() {
                Kind::Response if f.mid_key() == Some(mid.as_str()) => return f,
                Kind::Push => {
                    self.send(&Frame::ack_of(&f)).await;
                    pushes.push(f);
                }
                _ => {}
            }
        }
    }

    /// Waits for a push whose lwp is `path`, ACKing every push on the way.
    pub async fn push(&mut self, path: &str, timeout: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let f = self.next(left).await?;
            if f.kind() == Kind::Push {
                self.send(&Frame::ack_of(&f)).await;
                if f.lwp.as_deref() == Some(path) {
                    return Some(f);
                }
            }
        }
    }

    pub fn reg_frame(token: &str, did: &str) -> Frame {
        let mut f = Frame::request("/reg", None, fresh_mid());
        for (k, v) in [
            ("cache-header", "app-key token ua wv"),
            ("app-key", "444e9908a51d1cb236a27862abc769c9"),
            ("token", token),
            (
                "ua",
                "Mozilla/5.0 DingTalk(2.2.0) OS(Linux/x86_64) Browser(Chrome/141.0.0.0) DingWeb/2.2.0 IMPaaS DingWeb/2.2.0",
            ),
            ("dt", "j"),
            ("wv", "im:3,au:3,sy:6"),
            ("sync", "0,0;0;0;"),
            ("did", did),
        ] {
            f.headers.insert(k.into(), json!(v));
        }
        f
    }

    /// Registers with a fresh token; returns the `/reg` response.
    pub async fn register(sim: &SimHandle, did: &str) -> (RawWs, Frame) {
        let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
        let token = mtop.im_token(did).await;
        let mut ws = RawWs::connect(sim.ws_url()).await;
        let mut pushes = vec![];
        let reg = Self::reg_frame(&token, did);
        let mid = reg.mid_key().unwrap().to_string();
        ws.send(&reg).await;
        loop {
            let f = ws
                .next(Duration::from_secs(5))
                .await
                .expect("no /reg response");
            if f.kind() == Kind::Response && f.mid_key() == Some(mid.as_str()) {
                return (ws, f);
            }
            pushes.push(f);
        }
    }
}

/// A session configuration for tests against `sim`: short heartbeats, backoffs and pauses.
pub fn session_config(sim: &SimHandle) -> goofish_tui::im::session::SessionConfig {
    use goofish_tui::im::conn::ConnConfig;
    use goofish_tui::im::session::{DeviceSource, SessionConfig};
    let conn = ConnConfig {
        ws_url: sim.ws_url().to_string(),
        heartbeat_every: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_millis(1500),
        request_timeout: Duration::from_secs(5),
    };
    let did = goofish_tui::im::device::generate_device_id(&sim.self_uid);
    let mut cfg = SessionConfig::new(conn, DeviceSource::Fixed(did));
    cfg.backoff_min = Duration::from_millis(200);
    cfg.backoff_max = Duration::from_secs(1);
    cfg.settle_delay = Duration::from_millis(50);
    cfg.retry_step = Duration::from_millis(200);
    cfg.healthy_after = Duration::from_millis(500);
    cfg.parked_retry = None;
    cfg
}

/// The messages the simulator received from clients (`messages_received` of its state).
#[allow(dead_code)]
pub async fn sim_received(sim: &SimHandle) -> Vec<Value> {
    sim_state(sim).await["messages_received"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An mtop client logged in to `sim`.
pub fn sim_mtop(sim: &SimHandle) -> goofish_tui::im::mtop::MtopClient {
    use goofish_tui::im::cookies::CookieJar;
    use goofish_tui::im::mtop::{Endpoints, MtopClient};
    let base = url::Url::parse(sim.http_url()).unwrap();
    MtopClient::new(
        Endpoints::at(base),
        CookieJar::parse_header(sim.cookie()),
        None,
    )
    .unwrap()
}

/// A mid of the time now and a random number, as the client makes them.
pub fn fresh_mid() -> String {
    new_mid(goofish_tui::time::now_ms(), rand::random())
}
