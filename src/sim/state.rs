//! The simulator's shared state: the world, the account and its tokens, the open
//! connections, faults and counters. One lock, held only for short, non-async sections.

use super::SimOptions;
use super::faults::Faults;
use super::scenario::Director;
use super::world::{World, WorldConfig};
use crate::protocol::encode::PushItem;
use crate::protocol::{MessageId, Uid};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// What a connection's writer is asked to send.
pub enum Out {
    /// One or more sync items; consecutive ones are folded into one package.
    Item(PushItem),
    /// A control push (`/s/vulcan`, `/push/kickout`, …) with this body.
    Push {
        lwp: &'static str,
        body: serde_json::Value,
    },
    /// A frame sent as it is (responses, malformed text).
    Text(String),
    /// Close the socket.
    Close,
    /// Answered once everything queued before it was written.
    Flush(oneshot::Sender<()>),
}

/// Per-connection state shared by its reader and writer.
pub struct ConnShared {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Out>,
    /// Push mids written and not yet ACKed.
    pub unacked: Mutex<HashSet<String>>,
    /// While set and in the future, the connection neither reads nor writes.
    pub stalled_until: Mutex<Option<Instant>>,
    pub sid: String,
}

impl ConnShared {
    pub fn stall_deadline(&self) -> Option<Instant> {
        let until = *lock(&self.stalled_until);
        until.filter(|u| *u > Instant::now())
    }
}

pub struct ConnRec {
    pub shared: Arc<ConnShared>,
    /// Set once `/reg` succeeded.
    pub uid: Option<Uid>,
    pub token: Option<String>,
}

pub struct ImToken {
    pub did: String,
    pub expires_at_ms: i64,
}

/// A message a client sent, as recorded for `/__sim/state`.
#[derive(Clone, Debug, Serialize)]
pub struct Received {
    pub cid: String,
    pub text: String,
    pub uuid: String,
    pub message_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QrStatus {
    New,
    Scaned,
    Confirmed,
    Expired,
    Canceled,
}

pub struct Qr {
    pub t: i64,
    pub ck: String,
    pub status: QrStatus,
    pub created: Instant,
}

pub struct State {
    pub world: World,
    pub director: Director,
    /// The `cookie2` value of the live login session; changes on `expire-session` + login.
    pub session: String,
    pub tb_token: String,
    /// Signing tokens the gateway issued → their expiry (ms). `None`: the lifetime starts
    /// at the first call that presents the token, as for the pair in the browser cookie,
    /// which may be pasted into a client long after the simulator started.
    pub mtop_tokens: HashMap<String, Option<i64>>,
    /// The `_m_h5_tk` and `_m_h5_tk_enc` values of the browser cookie.
    pub browser_tk: (String, String),
    pub im_tokens: HashMap<String, ImToken>,
    pub conns: HashMap<u64, ConnRec>,
    pub faults: Faults,
    pub received: Vec<Received>,
    /// Sends are idempotent on the client's uuid: a resend gets the first message back.
    pub sent_by_uuid: HashMap<String, (MessageId, i64)>,
    pub qr: Option<Qr>,
    /// Pictures uploaded, served back at their URLs.
    pub uploaded: super::pictures::Uploaded,
    /// When the login session lapses (`--session-lifetime`), counted from its issue or its
    /// last renewal.
    pub session_expires: Option<Instant>,
}

impl State {
    /// Whether request cookies carry the live login session of `uid`.
    pub fn logged_in(&self, uid: &Uid, cookies: &HashMap<String, String>) -> bool {
        self.presents_session(uid, cookies) && !self.session_lapsed()
    }

    /// Whether request cookies name the current login session of `uid`, live or lapsed (not
    /// one ended by the `expire-session` fault or replaced by a new login).
    pub fn presents_session(&self, uid: &Uid, cookies: &HashMap<String, String>) -> bool {
        !self.faults.session_expired
            && cookies.get("unb").map(String::as_str) == Some(uid.as_str())
            && cookies.get("cookie2") == Some(&self.session)
    }

    /// Whether the login session outlived `--session-lifetime`.
    pub fn session_lapsed(&self) -> bool {
        self.session_expires.is_some_and(|at| at <= Instant::now())
    }

    /// The login session starts (again) now: issued or renewed.
    pub fn session_renewed(&mut self, lifetime: Option<std::time::Duration>) {
        self.session_expires = lifetime.map(|d| Instant::now() + d);
    }

    /// Queues items for every registered connection of the account (twice each while the
    /// `duplicate` fault is on). For callers that already hold the lock.
    pub fn queue_items(&self, items: &[PushItem]) {
        self.queue_items_except(items, None);
    }

    /// As `queue_items`, leaving out connection `except`.
    pub fn queue_items_except(&self, items: &[PushItem], except: Option<u64>) {
        let copies = if self.faults.duplicate { 2 } else { 1 };
        for (_, rec) in self
            .conns
            .iter()
            .filter(|(id, c)| c.uid.is_some() && Some(**id) != except)
        {
            for it in items {
                for _ in 0..copies {
                    let _ = rec.shared.tx.send(Out::Item(it.clone()));
                }
            }
        }
    }

    /// Conversations with buyers, newest first: every one but the platform assistant's.
    pub fn buyer_cids(&self) -> Vec<crate::protocol::Cid> {
        self.world
            .threads_newest_first()
            .into_iter()
            .filter(|t| t.conv.peer.as_str() != crate::protocol::model::SYSTEM_SENDER)
            .map(|t| t.conv.cid.clone())
            .collect()
    }
}

#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub registrations: AtomicU64,
    pub pushes_sent: AtomicU64,
    pub pushes_acked: AtomicU64,
    pub items_sent: AtomicU64,
    pub rpcs: AtomicU64,
    pub token_requests: AtomicU64,
    pub duplicate_sends: AtomicU64,
    pub malformed_from_clients: AtomicU64,
    pub packages: AtomicU64,
    pub uploads: AtomicU64,
    /// `hasLogin.do` and `silentHasLogin.do` requests, answered or refused.
    pub renewals: AtomicU64,
    pub silent_renewals: AtomicU64,
}

pub struct Sim {
    pub opts: SimOptions,
    state: Mutex<State>,
    pub counters: Counters,
    next_conn: AtomicU64,
    self_uid: Uid,
    pub stop: watch::Receiver<bool>,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock must not take the whole simulator down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Sim {
    /// `picture_host`: where the world's picture URLs point (the simulator's own server).
    /// `seller`: which of the simulator's sellers this is (0: the demo's; each further one
    /// has a uid, a nick, a world and tokens of its own).
    pub fn new(
        opts: SimOptions,
        picture_host: String,
        stop: watch::Receiver<bool>,
        seller: usize,
    ) -> Sim {
        let now = crate::time::now_ms();
        let cfg = WorldConfig {
            seed: opts.seed.wrapping_add(seller as u64 * 7919),
            conversations: opts.conversations,
            history: opts.history,
            now_ms: now,
            picture_host,
        };
        let world = match seller {
            0 => World::generate(&cfg),
            n => {
                let (uid, nick) = other_seller(n);
                World::generate_as(&cfg, uid, nick)
            }
        };
        let self_uid = world.self_uid.clone();
        let director = Director::new(opts.seed, opts.scenario);
        // A browser tab always holds a signing pair (§11): the cookie handed out carries one
        // the gateway accepts on the first call.
        let token = random_hex(32);
        let shown_expiry = now + opts.m_h5_tk_lifetime.as_millis() as i64;
        let browser_tk = (format!("{token}_{shown_expiry}"), random_hex(32));
        let state = State {
            world,
            director,
            session: random_hex(32),
            tb_token: random_hex(13),
            mtop_tokens: HashMap::from([(token, None)]),
            browser_tk,
            im_tokens: HashMap::new(),
            conns: HashMap::new(),
            faults: Faults::default(),
            received: Vec::new(),
            sent_by_uuid: HashMap::new(),
            qr: None,
            uploaded: Default::default(),
            session_expires: opts.session_lifetime.map(|d| Instant::now() + d),
        };
        Sim {
            opts,
            state: Mutex::new(state),
            counters: Counters::default(),
            next_conn: AtomicU64::new(1),
            self_uid,
            stop,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn self_uid(&self) -> Uid {
        self.self_uid.clone()
    }

    /// The cookie of a logged-in browser tab, as a `Cookie:` header value: the login
    /// cookies and a valid `_m_h5_tk` / `_m_h5_tk_enc` pair.
    pub fn login_cookie(&self) -> String {
        let st = self.state();
        let (tk, enc) = st.browser_tk.clone();
        login_cookie_pairs(&self.self_uid, &st)
            .into_iter()
            .chain([("_m_h5_tk", tk), ("_m_h5_tk_enc", enc)])
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues items for every registered connection of the account.
    pub fn push_items(&self, items: Vec<PushItem>) {
        self.state().queue_items(&items);
    }

    /// Sends something to every connection (registered or not).
    pub fn to_all(&self, make: impl Fn() -> Out) {
        let st = self.state();
        for rec in st.conns.values() {
            let _ = rec.shared.tx.send(make());
        }
    }

    /// Waits until every connection wrote what was queued before this call.
    pub async fn flush_all(&self) {
        let waits: Vec<_> = {
            let st = self.state();
            st.conns
                .values()
                .filter_map(|c| {
                    let (tx, rx) = oneshot::channel();
                    c.shared.tx.send(Out::Flush(tx)).ok().map(|_| rx)
                })
                .collect()
        };
        for w in waits {
            let _ = w.await;
        }
    }

    pub fn registered_connections(&self) -> usize {
        self.state()
            .conns
            .values()
            .filter(|c| c.uid.is_some())
            .count()
    }

    /// Invalidates every IM token and closes every socket.
    pub fn expire_im_tokens(&self) {
        let mut st = self.state();
        st.im_tokens.clear();
        for rec in st.conns.values() {
            let _ = rec.shared.tx.send(Out::Close);
        }
    }
}

/// The cookies a logged-in browser holds for the account (values never logged).
pub fn login_cookie_pairs(uid: &Uid, st: &State) -> Vec<(&'static str, String)> {
    vec![
        ("unb", uid.to_string()),
        ("cookie2", st.session.clone()),
        ("_tb_token_", st.tb_token.clone()),
        (
            "sgcookie",
            format!("E100{}", &st.session[..16.min(st.session.len())]),
        ),
        ("tracknick", tracknick(&st.world.self_nick)),
    ]
}

/// The uid and nick of the simulator's `n`th further seller.
fn other_seller(n: usize) -> (Uid, String) {
    const NICKS: [&str; 4] = [
        "小林的二手书店",
        "南山数码回收",
        "橘子家居好物",
        "老周的相机铺",
    ];
    let nick = NICKS
        .get((n - 1) % NICKS.len())
        .copied()
        .unwrap_or("另一家店");
    (
        Uid::new(format!("22000000{:05}", 500 + n)),
        nick.to_string(),
    )
}

/// `tracknick` as a browser holds it: the nick, percent-encoded.
fn tracknick(nick: &str) -> String {
    url::form_urlencoded::byte_serialize(nick.as_bytes()).collect()
}
