//! The simulator's world: one seller (self), buyers, items and the conversations between
//! them, with history. Pure data: no sockets, no clock — every call that needs the time is
//! given `now_ms`.
//!
//! Invariants the server can rely on:
//! * message times strictly increase inside a thread, and every new event gets a time
//!   later than anything already in the world (`max(now_ms, latest + 1)`), so cursors made
//!   of times never skip or repeat a message or a conversation;
//! * PNM ids are unique and increase with time across the whole world;
//! * `Conversation::last_message`, `modify_time`, `unread` and `red_reminder` are kept in
//!   sync with the thread's messages.

use crate::protocol::model::SYSTEM_SENDER;
use crate::protocol::{Cid, Content, Conversation, Message, MessageId, Uid};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Trade-card titles and their order-state labels (§7.7, §7.8).
pub mod card {
    pub const PLACED: &str = "我已拍下，待付款";
    pub const PLACED_RED: &str = "等待买家付款";
    pub const PAID: &str = "我已付款，等待你发货";
    pub const PAID_RED: &str = "等待卖家发货";
    pub const RECEIVED: &str = "我已确认收货，交易成功";
    /// Label after the buyer confirmed receipt. The spec lists no label for this state;
    /// this one is our choice.
    pub const RECEIVED_RED: &str = "交易成功";
    /// Label once the seller shipped (no card: the seller ships in the app).
    pub const SHIPPED_RED: &str = "等待买家收货";
}

/// How to build a world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldConfig {
    pub seed: u64,
    /// Number of conversations (one of them is with 闲小蜜 when there are 6 or more).
    pub conversations: usize,
    /// Messages per buyer conversation (exactly this many; the 闲小蜜 one has at most 8).
    pub history: usize,
    /// The present: all history lies before it.
    pub now_ms: i64,
    /// Scheme and authority of every picture URL (items, avatars, chat pictures): the real
    /// CDN by default, the simulator's own server when it serves the bytes.
    pub picture_host: String,
}

/// The CDN the service's picture URLs point at.
pub const CDN_HOST: &str = "https://img.alicdn.com";

impl WorldConfig {
    /// The demo defaults (12 conversations of 30 messages) at the given time.
    pub fn new(seed: u64, now_ms: i64) -> Self {
        Self {
            seed,
            conversations: 12,
            history: 30,
            now_ms,
            picture_host: CDN_HOST.to_string(),
        }
    }
}

impl Default for WorldConfig {
    /// Demo defaults at a fixed instant (2026-01-01 00:00 +08:00), so that default worlds
    /// are reproducible; pass the real time for a live demo.
    fn default() -> Self {
        Self::new(42, 1_767_196_800_000)
    }
}

/// Someone the seller talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buyer {
    pub uid: Uid,
    pub nick: String,
    pub avatar: String,
}

/// Something the seller has on sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// 12 digits.
    pub id: String,
    pub title: String,
    /// Yuan with two decimals, e.g. `"1299.00"`.
    pub price: String,
    pub pic: String,
    pub desc: String,
    /// What buyers call it in chat ("iPhone 13").
    pub short: String,
    /// Category key of the demo data (`phone`, `camera`, `bike`…).
    pub kind: String,
}

/// One conversation and its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub conv: Conversation,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// The peer has read our messages up to this time (ms; 0 = none).
    pub read_up_to_by_peer: i64,
    /// The order of this conversation, once the buyer placed one (19 digits).
    pub order_id: Option<String>,
}

/// What the peer just read: for a read receipt (40103).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub cid: Cid,
    /// Our messages that became read, oldest first.
    pub ids: Vec<MessageId>,
    pub time: i64,
}

/// The seller's whole inbox.
#[derive(Debug)]
pub struct World {
    pub self_uid: Uid,
    pub self_nick: String,
    /// Everyone the seller talks to, including 闲小蜜 (uid 1400). Read-only: add through
    /// [`World::open_conversation`].
    pub buyers: Vec<Buyer>,
    /// Read-only.
    pub items: Vec<Item>,
    /// Where picture URLs point ([`WorldConfig::picture_host`]).
    pub picture_host: String,
    threads: Vec<Thread>,
    by_cid: HashMap<Cid, usize>,
    by_pair: HashMap<(Uid, Option<String>), usize>,
    by_buyer: HashMap<Uid, usize>,
    by_item: HashMap<String, usize>,
    /// (modify_time, thread index): the conversation list order.
    order: BTreeSet<(i64, usize)>,
    /// (PNM number, thread index), ascending: finds a message's thread by id.
    id_index: Vec<(u64, u32)>,
    next_pnm: u64,
    /// The latest time handed out.
    clock: i64,
    rng: StdRng,
}

impl World {
    /// Builds a world; the same config gives the same world.
    pub fn generate(cfg: &WorldConfig) -> World {
        Generator::new(cfg).run()
    }

    /// As [`generate`](Self::generate), for another seller than the demo's: `uid`, `nick`.
    pub fn generate_as(cfg: &WorldConfig, uid: Uid, nick: String) -> World {
        let mut g = Generator::new(cfg);
        g.w.self_uid = uid;
        g.w.self_nick = nick;
        g.run()
    }

    /// All conversations, latest activity first (pinned ones are not treated specially).
    pub fn threads_newest_first(&self) -> Vec<&Thread> {
        self.order
            .iter()
            .rev()
            .map(|&(_, i)| &self.threads[i])
            .collect()
    }

    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    pub fn thread(&self, cid: &Cid) -> Option<&Thread> {
        self.by_cid.get(cid).map(|&i| &self.threads[i])
    }

    pub fn buyer(&self, uid: &Uid) -> Option<&Buyer> {
        self.by_buyer.get(uid).map(|&i| &self.buyers[i])
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.by_item.get(id).map(|&i| &self.items[i])
    }

    /// The item a conversation is about.
    pub fn item_of(&self, cid: &Cid) -> Option<&Item> {
        self.thread(cid)
            .and_then(|t| t.conv.item_id.as_deref())
            .and_then(|id| self.item(id))
    }

    /// A fresh PNM id, larger than every id handed out before.
    pub fn next_message_id(&mut self) -> MessageId {
        let n = self.next_pnm;
        self.next_pnm += 1;
        MessageId::new(format!("{n}.PNM"))
    }

    /// A buyer writes: appends the message (sender = peer), moves the conversation to the
    /// top and bumps its unread count. `None` for an unknown conversation.
    pub fn buyer_says(&mut self, cid: &Cid, content: Content, now_ms: i64) -> Option<Message> {
        let idx = *self.by_cid.get(cid)?;
        let peer = self.threads[idx].conv.peer.clone();
        let nick = self.buyer(&peer).map(|b| b.nick.clone());
        Some(self.append(idx, peer, false, content, nick, None, None, now_ms))
    }

    /// The seller sends: appends the message (sender = self) with its client uuid and moves
    /// the conversation to the top; unread is left alone.
    pub fn self_says(
        &mut self,
        cid: &Cid,
        content: Content,
        client_id: Option<String>,
        now_ms: i64,
    ) -> Option<Message> {
        let idx = *self.by_cid.get(cid)?;
        let me = self.self_uid.clone();
        let nick = Some(self.self_nick.clone());
        Some(self.append(idx, me, true, content, nick, None, client_id, now_ms))
    }

    /// An order event as a trade card (contentType 26). As in the real capture, the card's
    /// sender is the buyer and its notification title is an order prompt, so it carries no
    /// sender nickname. The conversation takes `red_reminder` as its order-state label; the
    /// card reuses the conversation's order id (a new one is made for the first card).
    pub fn trade_card(
        &mut self,
        cid: &Cid,
        title: &str,
        red_reminder: &str,
        now_ms: i64,
    ) -> Option<Message> {
        let idx = *self.by_cid.get(cid)?;
        let order_id = match &self.threads[idx].order_id {
            Some(o) => o.clone(),
            None => {
                let o = order_id(&mut self.rng);
                self.threads[idx].order_id = Some(o.clone());
                o
            }
        };
        let content = Content::trade_card(
            title.to_string(),
            card_desc(title).map(str::to_string),
            Some(order_id),
        );
        let peer = self.threads[idx].conv.peer.clone();
        let red = (!red_reminder.is_empty()).then(|| red_reminder.to_string());
        Some(self.append(idx, peer, false, content, None, red, None, now_ms))
    }

    /// The order of a conversation moved on without a card (the seller shipped it): the
    /// conversation takes `red_reminder` as its label. False for an unknown one.
    pub fn set_order_state(&mut self, cid: &Cid, red_reminder: &str) -> bool {
        match self.by_cid.get(cid) {
            Some(&i) => {
                self.threads[i].conv.red_reminder = Some(red_reminder.to_string());
                true
            }
            None => false,
        }
    }

    /// The seller opened the conversation: unread goes to 0. False for an unknown one.
    pub fn mark_read_by_self(&mut self, cid: &Cid) -> bool {
        match self.by_cid.get(cid) {
            Some(&i) => {
                self.threads[i].conv.unread = 0;
                true
            }
            None => false,
        }
    }

    /// The peer read everything in the conversation. Returns the receipt for our messages
    /// that were unread until now, or `None` when there were none (or no such conversation).
    pub fn mark_read_by_peer(&mut self, cid: &Cid, now_ms: i64) -> Option<Receipt> {
        let idx = *self.by_cid.get(cid)?;
        let t = &mut self.threads[idx];
        let before = t.read_up_to_by_peer;
        let last = t.messages.last().map_or(before, |m| m.time);
        t.read_up_to_by_peer = before.max(last);
        let ids: Vec<MessageId> = t
            .messages
            .iter()
            .filter(|m| m.is_self && m.time > before)
            .map(|m| m.id.clone())
            .collect();
        (!ids.is_empty()).then(|| Receipt {
            cid: cid.clone(),
            ids,
            time: now_ms,
        })
    }

    /// The message with id `id`, when there is one.
    pub fn message(&self, id: &MessageId) -> Option<&Message> {
        let n = id.number()?;
        let pos = self.id_index.binary_search_by_key(&n, |&(k, _)| k).ok()?;
        let t = &self.threads[self.id_index[pos].1 as usize];
        let at = t
            .messages
            .binary_search_by_key(&n, |m| m.id.number().unwrap_or(0))
            .ok()?;
        t.messages.get(at)
    }

    /// Removes a message (any sender; the server decides who may recall what). Returns its
    /// conversation and id, or `None` when no such message exists.
    pub fn recall(&mut self, id: &MessageId) -> Option<(Cid, MessageId)> {
        let n = id.number()?;
        let pos = self.id_index.binary_search_by_key(&n, |&(k, _)| k).ok()?;
        let idx = self.id_index[pos].1 as usize;
        let t = &mut self.threads[idx];
        // Ids increase with time inside a thread, so the messages are sorted by id too.
        let at = t
            .messages
            .binary_search_by_key(&n, |m| m.id.number().unwrap_or(0))
            .ok()?;
        let removed = t.messages.remove(at);
        t.conv.last_message = t.messages.last().cloned();
        Some((removed.cid, removed.id))
    }

    /// A history page: messages strictly older than `cursor` (ms; the first page uses
    /// `FIRST_PAGE_CURSOR`), newest first, at most `limit` (at least 1). Returns the page,
    /// whether older messages remain, and the cursor for the next page (the time of the
    /// oldest message returned). Unknown conversation: an empty last page.
    pub fn history(
        &self,
        cid: &Cid,
        cursor: i64,
        limit: usize,
    ) -> (Vec<&Message>, bool, Option<i64>) {
        let Some(t) = self.thread(cid) else {
            return (Vec::new(), false, None);
        };
        let msgs = &t.messages;
        let end = msgs.partition_point(|m| m.time < cursor);
        let n = page_len(end, limit, |k| msgs[end - 1 - k].time);
        let page: Vec<&Message> = (0..n).map(|k| &msgs[end - 1 - k]).collect();
        let next = page.last().map(|m| m.time);
        (page, end > n, next)
    }

    /// A conversation-list page: conversations whose `modify_time` is before `cursor`,
    /// latest first, at most `limit` (at least 1). Returns the page, whether more remain,
    /// and the next cursor (the `modify_time` of the last one returned).
    pub fn conversations_page(
        &self,
        cursor: i64,
        limit: usize,
    ) -> (Vec<&Conversation>, bool, Option<i64>) {
        let limit = limit.max(1);
        let mut cands: Vec<(i64, usize)> = self
            .order
            .range(..(cursor, 0))
            .rev()
            .take(limit + 1)
            .copied()
            .collect();
        if cands.len() > limit && cands[0].0 == cands[limit].0 {
            // A whole page of equal times: the page takes the whole group.
            let t = cands[0].0;
            cands = self
                .order
                .range((t, 0)..=(t, usize::MAX))
                .rev()
                .chain(self.order.range(..(t, 0)).rev().take(1))
                .copied()
                .collect();
        }
        let n = page_len(cands.len(), limit, |k| cands[k].0);
        let page: Vec<&Conversation> = cands[..n]
            .iter()
            .map(|&(_, i)| &self.threads[i].conv)
            .collect();
        let next = page.last().map(|c| c.modify_time);
        (page, cands.len() > n, next)
    }

    /// The conversation between `peer` and the seller about `item_id`, created when it does
    /// not exist yet (idempotent for the same pair and item). An unknown peer becomes a
    /// buyer with a generated nickname.
    pub fn open_conversation(&mut self, peer: &Uid, item_id: Option<&str>, now_ms: i64) -> Cid {
        let key = (peer.clone(), item_id.map(str::to_string));
        if let Some(&i) = self.by_pair.get(&key) {
            return self.threads[i].conv.cid.clone();
        }
        if self.buyer(peer).is_none() {
            let nick = gen_nick(&mut self.rng, None);
            let avatar = avatar_url(&self.picture_host, &mut self.rng, peer);
            self.add_buyer(Buyer {
                uid: peer.clone(),
                nick,
                avatar,
            });
        }
        let cid = loop {
            let c = Cid::new(
                self.rng
                    .random_range(40_000_000_000u64..60_000_000_000)
                    .to_string(),
            );
            if !self.by_cid.contains_key(&c) {
                break c;
            }
        };
        let item = item_id.and_then(|id| self.item(id));
        let conv = Conversation {
            cid: cid.clone(),
            peer: peer.clone(),
            peer_nick: self.buyer(peer).map(|b| b.nick.clone()),
            item_id: item_id.map(str::to_string),
            item_title: item.map(|i| i.title.clone()),
            item_pic: item.map(|i| i.pic.clone()),
            modify_time: self.tick(now_ms),
            unread: 0,
            pinned: false,
            muted: false,
            red_reminder: None,
            last_message: None,
        };
        self.add_thread(Thread {
            conv,
            messages: Vec::new(),
            read_up_to_by_peer: 0,
            order_id: None,
        });
        cid
    }

    /// A conversation with a buyer who never wrote before (a new uid and nickname), about one
    /// of the seller's items when there are any.
    pub fn new_buyer_conversation(&mut self, now_ms: i64) -> Cid {
        let uid = loop {
            let u = Uid::new(
                self.rng
                    .random_range(1_000_000_000u64..4_300_000_000)
                    .to_string(),
            );
            if self.buyer(&u).is_none() && u.as_str() != SYSTEM_SENDER {
                break u;
            }
        };
        let item = (!self.items.is_empty()).then(|| {
            self.items[self.rng.random_range(0..self.items.len())]
                .id
                .clone()
        });
        self.open_conversation(&uid, item.as_deref(), now_ms)
    }

    /// Gives buyer `peer` a new nickname, in the buyer list and in every conversation with
    /// them (the control API's `nick`, e.g. to try hostile names). Whether `peer` is a buyer.
    pub fn rename_buyer(&mut self, peer: &Uid, nick: &str) -> bool {
        let Some(&i) = self.by_buyer.get(peer) else {
            return false;
        };
        if let Some(b) = self.buyers.get_mut(i) {
            b.nick = nick.to_string();
        }
        for t in self.threads.iter_mut().filter(|t| t.conv.peer == *peer) {
            t.conv.peer_nick = Some(nick.to_string());
        }
        true
    }

    /// A new item on sale with this title (the control API's `item_title`); returns its id.
    pub fn add_item(&mut self, title: &str) -> String {
        let id = loop {
            let id = self
                .rng
                .random_range(600_000_000_000u64..1_000_000_000_000)
                .to_string();
            if !self.by_item.contains_key(&id) {
                break id;
            }
        };
        let seller = self.self_uid.clone();
        let item = Item {
            id: id.clone(),
            title: title.to_string(),
            price: "1.00".to_string(),
            pic: item_pic_url(&self.picture_host, &mut self.rng, &seller),
            desc: String::new(),
            short: title.to_string(),
            kind: "other".to_string(),
        };
        self.by_item.insert(id.clone(), self.items.len());
        self.items.push(item);
        id
    }

    /// Some conversation, chosen by the caller's random number (modulo the count).
    pub fn any_cid(&self, rng_pick: usize) -> Option<Cid> {
        if self.threads.is_empty() {
            return None;
        }
        Some(self.threads[rng_pick % self.threads.len()].conv.cid.clone())
    }

    /// A time for a new event: `now_ms`, but always after everything already in the world.
    fn tick(&mut self, now_ms: i64) -> i64 {
        self.clock = now_ms.max(self.clock.saturating_add(1));
        self.clock
    }

    fn set_modify_time(&mut self, idx: usize, time: i64) {
        let old = self.threads[idx].conv.modify_time;
        self.order.remove(&(old, idx));
        self.order.insert((time, idx));
        self.threads[idx].conv.modify_time = time;
    }

    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        idx: usize,
        sender: Uid,
        is_self: bool,
        content: Content,
        sender_nick: Option<String>,
        red_reminder: Option<String>,
        client_id: Option<String>,
        now_ms: i64,
    ) -> Message {
        let time = self.tick(now_ms);
        let id = self.next_message_id();
        if let Some(n) = id.number() {
            self.id_index.push((n, idx as u32));
        }
        let t = &self.threads[idx];
        let msg = Message {
            id,
            cid: t.conv.cid.clone(),
            sender,
            is_self,
            time,
            content,
            item_id: t.conv.item_id.as_deref().map(Into::into),
            sender_nick: sender_nick.map(Into::into),
            session_type: Some(1),
            need_push: true,
            red_reminder,
            client_id,
        };
        self.set_modify_time(idx, time);
        let t = &mut self.threads[idx];
        if !is_self {
            t.conv.unread = t.conv.unread.saturating_add(1);
        }
        if msg.red_reminder.is_some() {
            t.conv.red_reminder = msg.red_reminder.clone();
        }
        t.conv.last_message = Some(msg.clone());
        t.messages.push(msg.clone());
        msg
    }

    fn add_buyer(&mut self, b: Buyer) {
        self.by_buyer.insert(b.uid.clone(), self.buyers.len());
        self.buyers.push(b);
    }

    fn add_thread(&mut self, t: Thread) {
        let i = self.threads.len();
        self.by_cid.insert(t.conv.cid.clone(), i);
        self.by_pair
            .insert((t.conv.peer.clone(), t.conv.item_id.clone()), i);
        self.order.insert((t.conv.modify_time, i));
        self.threads.push(t);
    }
}

/// How many of `available` candidates (newest first; `time_at(k)` is the k-th one's time) go
/// on a page of `limit`. A page never ends inside a group of equal times, because the next
/// page starts strictly before the last time returned: the group moves to the next page, or,
/// if it fills the whole page, the page takes all of it.
fn page_len(available: usize, limit: usize, time_at: impl Fn(usize) -> i64) -> usize {
    let limit = limit.max(1);
    if available <= limit {
        return available;
    }
    let last = time_at(limit - 1);
    if time_at(limit) != last {
        return limit;
    }
    let mut k = limit - 1;
    while k > 0 && time_at(k - 1) == last {
        k -= 1;
    }
    if k > 0 {
        return k;
    }
    let mut k = limit;
    while k < available && time_at(k) == last {
        k += 1;
    }
    k
}

fn card_desc(title: &str) -> Option<&'static str> {
    match title {
        card::PLACED => Some("请双方沟通及时确认价格"),
        card::PAID => Some("请包装好商品，并按我在闲鱼上提供的地址发货"),
        card::RECEIVED => Some("交易成功，期待下次愉快交易"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Demo data (assets/demo_world.toml) and small helpers shared with the scenario.

#[derive(Deserialize)]
pub(crate) struct Data {
    pub seller: SellerData,
    pub nicks: NickData,
    pub items: Vec<ItemData>,
    pub lines: Lines,
}

#[derive(Deserialize)]
pub(crate) struct SellerData {
    pub uid: String,
    pub nick: String,
}

#[derive(Deserialize)]
pub(crate) struct NickData {
    pub full: Vec<String>,
    pub prefix: Vec<String>,
    pub core: Vec<String>,
    pub tail: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct ItemData {
    pub kind: String,
    pub short: String,
    pub title: String,
    pub price: String,
    pub desc: String,
}

#[derive(Deserialize)]
pub(crate) struct Lines {
    pub buyer_open: Vec<String>,
    pub seller_available: Vec<String>,
    pub buyer_nudge: Vec<String>,
    pub buyer_bargain_ask: Vec<String>,
    pub buyer_offer: Vec<String>,
    pub seller_counter: Vec<String>,
    pub seller_refuse: Vec<String>,
    pub buyer_accept: Vec<String>,
    pub buyer_accept_full: Vec<String>,
    pub buyer_decline: Vec<String>,
    pub buyer_meet_middle: Vec<String>,
    pub buyer_order: Vec<String>,
    pub seller_after_order: Vec<String>,
    pub buyer_paid: Vec<String>,
    pub seller_after_pay: Vec<String>,
    pub buyer_ask_ship_time: Vec<String>,
    pub seller_shipped: Vec<String>,
    pub buyer_received: Vec<String>,
    pub seller_thanks: Vec<String>,
    pub buyer_ask_pics: Vec<String>,
    pub seller_send_pics: Vec<String>,
    pub image_qa: Vec<(String, String)>,
    pub buyer_after_available: Vec<String>,
    pub buyer_answer: Vec<String>,
    pub buyer_ack: Vec<String>,
    pub buyer_ship_reply: Vec<String>,
    pub buyer_thanks_reply: Vec<String>,
    pub buyer_greeting: Vec<String>,
    pub buyer_already_paid: Vec<String>,
    pub buyer_photo_reply: Vec<String>,
    pub buyer_shipped_reply: Vec<String>,
    pub general_qa: Vec<(String, String)>,
    pub kind_qa: HashMap<String, Vec<(String, String)>>,
    pub assistant: AssistantData,
}

#[derive(Deserialize)]
pub(crate) struct AssistantData {
    pub nick: String,
    pub notices: Vec<String>,
}

const DATA_TOML: &str = include_str!("../../assets/demo_world.toml");

fn parse_data() -> Result<Data, toml::de::Error> {
    toml::from_str(DATA_TOML)
}

/// The embedded demo data, parsed once.
pub(crate) fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        // The file is compiled in and checked by a unit test; failing here is a build defect.
        parse_data().expect("assets/demo_world.toml is valid")
    })
}

/// A random line of a list ("" for an empty list).
pub(crate) fn pick<'a>(rng: &mut StdRng, list: &'a [String]) -> &'a str {
    list.choose(rng).map_or("", String::as_str)
}

/// Fills `{name}` placeholders; unknown ones are left as they are.
pub(crate) fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whole yuan of a price string like `"1299.00"`.
pub(crate) fn price_yuan(price: &str) -> Option<u64> {
    let whole = price.trim().split('.').next()?;
    whole.parse().ok()
}

/// Rounds a price the way people haggle: to 50 above 1000 yuan, to 10 above 200, to 5
/// above 50, else to 1.
pub(crate) fn round_price(yuan: u64) -> u64 {
    let step = match yuan {
        1000.. => 50,
        200.. => 10,
        50.. => 5,
        _ => 1,
    };
    (((yuan + step / 2) / step) * step).max(1)
}

/// A buyer's offer: 85–95 % of the price, rounded, and below the price when possible.
pub(crate) fn offer_for(rng: &mut StdRng, price: u64) -> u64 {
    let pct = rng.random_range(85..=95u64);
    let o = round_price(price * pct / 100);
    if o >= price && price > 1 {
        price - 1
    } else {
        o
    }
}

/// A counter offer between the buyer's offer and the price.
pub(crate) fn counter_for(rng: &mut StdRng, offer: u64, price: u64) -> u64 {
    if price <= offer {
        return price;
    }
    let share = rng.random_range(35..=70u64);
    let c = round_price(offer + (price - offer) * share / 100);
    if c <= offer || c > price { price } else { c }
}

fn alnum(rng: &mut StdRng, n: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect()
}

fn cdn_url(host: &str, rng: &mut StdRng, dir: &str, uid: &str, suffix: &str) -> String {
    let shard = rng.random_range(1..=4);
    let token = alnum(rng, 20);
    format!("{host}/{dir}/i{shard}/O1CN01{token}_!!{uid}-0-{suffix}")
}

fn avatar_url(host: &str, rng: &mut StdRng, uid: &Uid) -> String {
    cdn_url(host, rng, "bao/uploaded", uid.as_str(), "mtopupload.jpg")
}

fn item_pic_url(host: &str, rng: &mut StdRng, seller: &Uid) -> String {
    cdn_url(host, rng, "bao/uploaded", seller.as_str(), "fleamarket.jpg")
}

/// A picture someone sent in chat.
pub(crate) fn chat_image_url(host: &str, rng: &mut StdRng, sender: &Uid) -> String {
    cdn_url(host, rng, "imgextra", sender.as_str(), "xy_chat.jpg")
}

fn order_id(rng: &mut StdRng) -> String {
    rng.random_range(2_000_000_000_000_000_000u64..5_000_000_000_000_000_000)
        .to_string()
}

/// A buyer nickname; avoids the ones in `used` for a few tries.
fn gen_nick(rng: &mut StdRng, mut used: Option<&mut HashSet<String>>) -> String {
    let d = &data().nicks;
    let mut nick = String::new();
    for _ in 0..6 {
        let r = rng.random_range(0..100);
        nick = if r < 35 {
            pick(rng, &d.full).to_string()
        } else if r < 40 {
            format!("tb{}", rng.random_range(100_000_000u64..10_000_000_000))
        } else {
            let mut s = String::with_capacity(24);
            s.push_str(pick(rng, &d.prefix));
            s.push_str(pick(rng, &d.core));
            s.push_str(pick(rng, &d.tail));
            s
        };
        match used.as_deref_mut() {
            Some(u) if u.contains(&nick) => continue,
            Some(u) => {
                u.insert(nick.clone());
                break;
            }
            None => break,
        }
    }
    nick
}

// ---------------------------------------------------------------------------------------
// Generation.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Buyer,
    Seller,
}

/// One message of a generated history, before it has a time and an id.
struct Step {
    who: Who,
    content: Content,
    red: Option<&'static str>,
    /// Typical pause before this step, in ms: (min, max).
    pause: (i64, i64),
}

const CHAT_PAUSE: (i64, i64) = (8 * SEC, 4 * MIN);
const SITTING_PAUSE: (i64, i64) = (2 * HOUR, 20 * HOUR);

struct Generator<'c> {
    cfg: &'c WorldConfig,
    rng: StdRng,
    w: World,
}

impl<'c> Generator<'c> {
    fn new(cfg: &'c WorldConfig) -> Self {
        let d = data();
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let next_pnm = 3_400_000_000_000 + rng.random_range(0..50_000_000u64) * 100;
        let w = World {
            self_uid: Uid::new(&d.seller.uid),
            self_nick: d.seller.nick.clone(),
            buyers: Vec::new(),
            items: Vec::new(),
            picture_host: cfg.picture_host.clone(),
            threads: Vec::new(),
            by_cid: HashMap::new(),
            by_pair: HashMap::new(),
            by_buyer: HashMap::new(),
            by_item: HashMap::new(),
            order: BTreeSet::new(),
            id_index: Vec::new(),
            next_pnm,
            clock: cfg.now_ms.saturating_sub(DAY * 400),
            rng: StdRng::seed_from_u64(cfg.seed ^ 0x5EED_F00D),
        };
        Self { cfg, rng, w }
    }

    fn run(mut self) -> World {
        self.make_items();
        let n = self.cfg.conversations;
        let times = self.last_times(n);
        let assistant_at = (n >= 6).then(|| self.rng.random_range(1..n.div_ceil(3).max(2)));
        let mut nicks_used = HashSet::new();
        let mut cids = HashSet::with_capacity(n);
        for (i, &last) in times.iter().enumerate() {
            let cid = loop {
                let c = self.rng.random_range(40_000_000_000u64..60_000_000_000);
                if cids.insert(c) {
                    break Cid::new(c.to_string());
                }
            };
            let thread = if Some(i) == assistant_at {
                self.assistant_thread(cid, last)
            } else {
                self.buyer_thread(cid, last, &mut nicks_used)
            };
            self.w.add_thread(thread);
        }
        self.assign_ids();
        self.w.clock = self.w.clock.max(times.first().copied().unwrap_or(i64::MIN));
        // Messages made from now on take ids from the clock, as the real ones grow with time:
        // a world made again (each `--demo` run) must not hand out an id it gave a message
        // of an earlier run, which a kept local history would then take for a duplicate.
        let from_clock = 3_450_000_000_000 + (self.cfg.now_ms.max(0) as u64 / 10) % 500_000_000_000;
        self.w.next_pnm = self.w.next_pnm.max(from_clock);
        self.w
    }

    fn make_items(&mut self) {
        let d = data();
        let seller = self.w.self_uid.clone();
        let mut order: Vec<usize> = (0..d.items.len()).collect();
        order.shuffle(&mut self.rng);
        let want = (self.cfg.conversations * 2 / 3).max(6).min(order.len());
        let mut ids = HashSet::new();
        for &k in &order[..want] {
            let src = &d.items[k];
            let id = loop {
                let id = self.rng.random_range(600_000_000_000u64..1_000_000_000_000);
                if ids.insert(id) {
                    break id.to_string();
                }
            };
            let item = Item {
                id,
                title: src.title.clone(),
                price: src.price.clone(),
                pic: item_pic_url(&self.w.picture_host, &mut self.rng, &seller),
                desc: src.desc.clone(),
                short: src.short.clone(),
                kind: src.kind.clone(),
            };
            self.w.by_item.insert(item.id.clone(), self.w.items.len());
            self.w.items.push(item);
        }
    }

    /// Distinct last-activity times, newest first: some today, some yesterday, some last
    /// week, the rest over the past two months.
    fn last_times(&mut self, n: usize) -> Vec<i64> {
        let now = self.cfg.now_ms;
        let mut t: Vec<i64> = (0..n)
            .map(|i| {
                let age = if i == 0 {
                    self.rng.random_range(MIN..10 * MIN)
                } else {
                    match self.rng.random_range(0..100) {
                        0..25 => self.rng.random_range(2 * MIN..10 * HOUR),
                        25..45 => self.rng.random_range(10 * HOUR..40 * HOUR),
                        45..75 => self.rng.random_range(40 * HOUR..7 * DAY),
                        _ => self.rng.random_range(7 * DAY..60 * DAY),
                    }
                };
                now - age
            })
            .collect();
        t.sort_unstable_by(|a, b| b.cmp(a));
        for k in 1..t.len() {
            if t[k] >= t[k - 1] {
                t[k] = t[k - 1] - 1;
            }
        }
        t
    }

    fn new_buyer(&mut self, nicks_used: &mut HashSet<String>) -> usize {
        let uid = loop {
            let u = Uid::new(
                self.rng
                    .random_range(1_000_000_000u64..4_300_000_000)
                    .to_string(),
            );
            if self.w.buyer(&u).is_none() && u.as_str() != SYSTEM_SENDER {
                break u;
            }
        };
        let nick = gen_nick(&mut self.rng, Some(nicks_used));
        let avatar = avatar_url(&self.w.picture_host, &mut self.rng, &uid);
        self.w.add_buyer(Buyer { uid, nick, avatar });
        self.w.buyers.len() - 1
    }

    fn buyer_thread(&mut self, cid: Cid, last: i64, nicks_used: &mut HashSet<String>) -> Thread {
        let item_idx = self.rng.random_range(0..self.w.items.len());
        let item_id = self.w.items[item_idx].id.clone();
        // Now and then a returning buyer asks about another item.
        let mut b = None;
        if !self.w.buyers.is_empty() && self.rng.random_bool(0.12) {
            let k = self.rng.random_range(0..self.w.buyers.len());
            let key = (self.w.buyers[k].uid.clone(), Some(item_id.clone()));
            if self.w.buyers[k].uid.as_str() != SYSTEM_SENDER && !self.w.by_pair.contains_key(&key)
            {
                b = Some(k);
            }
        }
        let b = match b {
            Some(k) => k,
            None => self.new_buyer(nicks_used),
        };
        let buyer = self.w.buyers[b].clone();
        let item = self.w.items[item_idx].clone();
        let seller = self.w.self_uid.clone();
        let steps = Script::new(&mut self.rng, &item, &seller, &buyer.uid, self.cfg.history)
            .pictures_at(&self.cfg.picture_host)
            .build();
        let times = step_times(&mut self.rng, &steps, last);
        let item_opt = Some(item.id.clone());
        let mut order_id_v: Option<String> = None;
        let mut messages = Vec::with_capacity(steps.len());
        for (step, time) in steps.into_iter().zip(times) {
            let content = match step.content {
                Content::TradeCard(mut card) => {
                    let o = order_id_v
                        .get_or_insert_with(|| order_id(&mut self.rng))
                        .clone();
                    card.order_id = Some(o);
                    Content::TradeCard(card)
                }
                c => c,
            };
            // History models carry no client uuid (§6.6), so generated messages have none.
            let (sender, is_self, nick) = match step.who {
                Who::Seller => (
                    self.w.self_uid.clone(),
                    true,
                    Some(self.w.self_nick.clone()),
                ),
                Who::Buyer => {
                    let card = matches!(content, Content::TradeCard(_));
                    (
                        buyer.uid.clone(),
                        false,
                        (!card).then(|| buyer.nick.clone()),
                    )
                }
            };
            messages.push(Message {
                id: MessageId::default(),
                cid: cid.clone(),
                sender,
                is_self,
                time,
                content,
                item_id: item_opt.as_deref().map(Into::into),
                sender_nick: nick.map(Into::into),
                session_type: Some(1),
                need_push: true,
                red_reminder: step.red.map(str::to_string),
                client_id: None,
            });
        }
        let conv = Conversation {
            cid,
            peer: buyer.uid.clone(),
            peer_nick: Some(buyer.nick.clone()),
            item_id: item_opt,
            item_title: Some(item.title.clone()),
            item_pic: Some(item.pic.clone()),
            modify_time: messages.last().map_or(last, |m| m.time),
            unread: 0,
            pinned: self.rng.random_bool(1.0 / 15.0),
            muted: self.rng.random_bool(1.0 / 25.0),
            red_reminder: messages.iter().rev().find_map(|m| m.red_reminder.clone()),
            last_message: None,
        };
        self.finish_thread(conv, messages, order_id_v)
    }

    fn assistant_thread(&mut self, cid: Cid, last: i64) -> Thread {
        let d = data();
        let uid = Uid::new(SYSTEM_SENDER);
        if self.w.buyer(&uid).is_none() {
            let avatar = avatar_url(&self.w.picture_host, &mut self.rng, &uid);
            self.w.add_buyer(Buyer {
                uid: uid.clone(),
                nick: d.lines.assistant.nick.clone(),
                avatar,
            });
        }
        let count = self.cfg.history.min(8).min(d.lines.assistant.notices.len());
        let mut which: Vec<usize> = (0..d.lines.assistant.notices.len()).collect();
        which.shuffle(&mut self.rng);
        let mut time = last;
        let mut messages: Vec<Message> = Vec::with_capacity(count);
        for &k in which[..count].iter() {
            let item = &self.w.items[self.rng.random_range(0..self.w.items.len())];
            let text = fill(&d.lines.assistant.notices[k], &[("short", &item.short)]);
            messages.push(Message {
                id: MessageId::default(),
                cid: cid.clone(),
                sender: uid.clone(),
                is_self: false,
                time,
                content: Content::Notice { text },
                item_id: None,
                sender_nick: Some(d.lines.assistant.nick.as_str().into()),
                session_type: Some(1),
                need_push: true,
                red_reminder: None,
                client_id: None,
            });
            time -= self.rng.random_range(DAY..4 * DAY);
        }
        messages.reverse();
        let conv = Conversation {
            cid,
            peer: uid,
            peer_nick: Some(d.lines.assistant.nick.clone()),
            modify_time: last,
            muted: self.rng.random_bool(0.3),
            ..Default::default()
        };
        self.finish_thread(conv, messages, None)
    }

    /// Unread count, the peer's read mark and `last_message` of a generated thread.
    fn finish_thread(
        &mut self,
        mut conv: Conversation,
        messages: Vec<Message>,
        order_id: Option<String>,
    ) -> Thread {
        let now = self.cfg.now_ms;
        let trailing = messages.iter().rev().take_while(|m| !m.is_self).count();
        let last_time = messages.last().map_or(0, |m| m.time);
        conv.unread = if trailing > 0 && now - last_time < 3 * DAY {
            trailing as u32
        } else {
            0
        };
        let last_self = messages
            .iter()
            .rev()
            .find(|m| m.is_self)
            .map_or(0, |m| m.time);
        let read_up_to_by_peer =
            if trailing > 0 || now - last_time > HOUR || self.rng.random_bool(0.5) {
                // The peer wrote after our last message, or has had time to read it.
                last_time.max(last_self)
            } else {
                messages
                    .iter()
                    .rev()
                    .find(|m| !m.is_self)
                    .map_or(0, |m| m.time)
            };
        Thread {
            conv,
            messages,
            read_up_to_by_peer,
            order_id,
        }
    }

    /// Gives every generated message its PNM id, in time order across the world.
    fn assign_ids(&mut self) {
        let mut all: Vec<(i64, u32, u32)> =
            Vec::with_capacity(self.w.threads.iter().map(|t| t.messages.len()).sum());
        for (ti, t) in self.w.threads.iter().enumerate() {
            for (mi, m) in t.messages.iter().enumerate() {
                all.push((m.time, ti as u32, mi as u32));
            }
        }
        all.sort_unstable();
        self.w.id_index.reserve(all.len());
        for (_, ti, mi) in all {
            let id = self.w.next_message_id();
            if let Some(n) = id.number() {
                self.w.id_index.push((n, ti));
            }
            let t = &mut self.w.threads[ti as usize];
            t.messages[mi as usize].id = id;
        }
        for t in &mut self.w.threads {
            t.conv.last_message = t.messages.last().cloned();
        }
    }
}

/// Times for a thread's steps, ending at `last`, strictly increasing.
fn step_times(rng: &mut StdRng, steps: &[Step], last: i64) -> Vec<i64> {
    let mut times = vec![0i64; steps.len()];
    let mut t = last;
    for k in (0..steps.len()).rev() {
        times[k] = t;
        let (lo, hi) = steps[k].pause;
        t -= rng.random_range(lo.max(SEC)..hi.max(lo.max(SEC) + 1));
    }
    times
}

/// Writes one conversation's history: an opening, questions and answers, and a deal that
/// goes somewhere (or not). Stops at exactly `cap` messages.
struct Script<'a> {
    rng: &'a mut StdRng,
    picture_host: &'a str,
    item: &'a Item,
    seller: &'a Uid,
    buyer: &'a Uid,
    cap: usize,
    price: u64,
    price_s: String,
}

impl<'a> Script<'a> {
    fn new(
        rng: &'a mut StdRng,
        item: &'a Item,
        seller: &'a Uid,
        buyer: &'a Uid,
        cap: usize,
    ) -> Self {
        let price = price_yuan(&item.price).unwrap_or(100);
        Self {
            rng,
            picture_host: CDN_HOST,
            item,
            seller,
            buyer,
            cap,
            price,
            price_s: price.to_string(),
        }
    }

    fn pictures_at(mut self, host: &'a str) -> Self {
        self.picture_host = host;
        self
    }

    fn line(&mut self, list: &[String], extra: &[(&str, &str)]) -> String {
        let t = pick(self.rng, list);
        if !t.contains('{') {
            return t.to_string();
        }
        let mut vars = [("", ""); 6];
        vars[0] = ("short", &self.item.short);
        vars[1] = ("title", &self.item.title);
        vars[2] = ("price", &self.price_s);
        let n = 3 + extra.len().min(3);
        vars[3..n].copy_from_slice(&extra[..n - 3]);
        fill(t, &vars[..n])
    }

    fn text(
        &mut self,
        who: Who,
        list: &[String],
        extra: &[(&str, &str)],
        pause: (i64, i64),
    ) -> Step {
        Step {
            who,
            content: Content::Text {
                text: self.line(list, extra).into(),
            },
            red: None,
            pause,
        }
    }

    fn card(title: &str, red: &'static str, pause: (i64, i64)) -> Step {
        Step {
            who: Who::Buyer,
            content: Content::trade_card(
                title.to_string(),
                card_desc(title).map(str::to_string),
                None,
            ),
            red: Some(red),
            pause,
        }
    }

    fn build(mut self) -> Vec<Step> {
        let l = &data().lines;
        let mut head = vec![
            self.text(Who::Buyer, &l.buyer_open, &[], SITTING_PAUSE),
            self.text(Who::Seller, &l.seller_available, &[], (30 * SEC, 3 * HOUR)),
        ];
        let tail = self.deal();
        let budget = self.cap.saturating_sub(head.len() + tail.len());
        let middle = self.questions(budget);
        head.extend(middle);
        head.extend(tail);
        head.truncate(self.cap);
        head
    }

    /// Where the talk ends up: bargaining, an order at some stage, or nothing.
    fn deal(&mut self) -> Vec<Step> {
        let l = &data().lines;
        let mut s = Vec::new();
        let offer = offer_for(self.rng, self.price);
        let counter = counter_for(self.rng, offer, self.price);
        let (o, c) = (offer.to_string(), counter.to_string());
        let vars = [("offer", o.as_str()), ("counter", c.as_str())];
        let r = self.rng.random_range(0..100);
        let ordered = match r {
            // Bargain, agree, order.
            0..40 => {
                s.push(self.text(Who::Buyer, &l.buyer_offer, &vars, CHAT_PAUSE));
                s.push(self.text(Who::Seller, &l.seller_counter, &vars, CHAT_PAUSE));
                s.push(self.text(Who::Buyer, &l.buyer_accept, &vars, CHAT_PAUSE));
                true
            }
            // Bargain refused, buyer walks away.
            40..55 => {
                s.push(self.text(Who::Buyer, &l.buyer_bargain_ask, &vars, CHAT_PAUSE));
                s.push(self.text(Who::Seller, &l.seller_refuse, &vars, CHAT_PAUSE));
                s.push(self.text(Who::Buyer, &l.buyer_decline, &vars, CHAT_PAUSE));
                false
            }
            // Straight to the order.
            55..70 => {
                s.push(self.text(Who::Buyer, &l.buyer_accept_full, &vars, CHAT_PAUSE));
                true
            }
            // An offer still waiting for the seller.
            70..85 => {
                s.push(self.text(Who::Buyer, &l.buyer_offer, &vars, SITTING_PAUSE));
                false
            }
            _ => false,
        };
        if ordered {
            s.push(Self::card(
                card::PLACED,
                card::PLACED_RED,
                (20 * SEC, 5 * MIN),
            ));
            s.push(self.text(Who::Seller, &l.seller_after_order, &vars, CHAT_PAUSE));
            // How far the order got.
            let stage = self.rng.random_range(0..100);
            if stage >= 20 {
                s.push(Self::card(card::PAID, card::PAID_RED, (MIN, 20 * MIN)));
                s.push(self.text(Who::Seller, &l.seller_after_pay, &vars, CHAT_PAUSE));
            }
            if stage >= 45 {
                s.push(self.text(Who::Seller, &l.seller_shipped, &vars, SITTING_PAUSE));
            }
            if stage >= 65 {
                s.push(self.text(Who::Buyer, &l.buyer_received, &vars, (DAY, 3 * DAY)));
                s.push(Self::card(
                    card::RECEIVED,
                    card::RECEIVED_RED,
                    (5 * SEC, 2 * MIN),
                ));
                s.push(self.text(Who::Seller, &l.seller_thanks, &vars, CHAT_PAUSE));
            }
        }
        s
    }

    /// About `budget` messages of questions, answers and pictures.
    fn questions(&mut self, budget: usize) -> Vec<Step> {
        let l = &data().lines;
        let mut pool: Vec<&(String, String)> = l.general_qa.iter().collect();
        if let Some(k) = l.kind_qa.get(&self.item.kind) {
            pool.extend(k.iter());
        }
        pool.shuffle(self.rng);
        let mut next_q = 0usize;
        let mut s: Vec<Step> = Vec::with_capacity(budget);
        while s.len() < budget {
            let left = budget - s.len();
            let r = self.rng.random_range(0..100);
            if left >= 3 && r < 12 {
                // The buyer asks for pictures; the seller sends some.
                s.push(self.text(Who::Buyer, &l.buyer_ask_pics, &[], CHAT_PAUSE));
                s.push(self.text(Who::Seller, &l.seller_send_pics, &[], CHAT_PAUSE));
                let n = self.rng.random_range(1..=3);
                let mut urls = vec![self.item.pic.clone()];
                urls.extend(
                    (1..n).map(|_| chat_image_url(self.picture_host, self.rng, self.seller)),
                );
                s.push(Step {
                    who: Who::Seller,
                    content: Content::Image { urls },
                    red: None,
                    pause: (5 * SEC, 40 * SEC),
                });
            } else if left >= 3 && r < 18 {
                // The buyer sends a picture and asks about it.
                let (q, a) = l.image_qa.choose(self.rng).map_or(
                    ("这个正常吗".to_string(), "正常的".to_string()),
                    |p| p.clone(),
                );
                s.push(Step {
                    who: Who::Buyer,
                    content: Content::Text { text: q.into() },
                    red: None,
                    pause: CHAT_PAUSE,
                });
                s.push(Step {
                    who: Who::Buyer,
                    content: Content::Image {
                        urls: vec![chat_image_url(self.picture_host, self.rng, self.buyer)],
                    },
                    red: None,
                    pause: (2 * SEC, 20 * SEC),
                });
                s.push(Step {
                    who: Who::Seller,
                    content: Content::Text { text: a.into() },
                    red: None,
                    pause: CHAT_PAUSE,
                });
            } else if left >= 2 {
                let (q, a) = match pool.get(next_q) {
                    Some(p) => (p.0.clone(), p.1.clone()),
                    None => {
                        let p = pool.choose(self.rng).map(|p| (p.0.clone(), p.1.clone()));
                        p.unwrap_or_else(|| ("还在吗？".into(), "在的".into()))
                    }
                };
                next_q += 1;
                let pause = if self.rng.random_bool(0.1) {
                    SITTING_PAUSE
                } else {
                    CHAT_PAUSE
                };
                s.push(Step {
                    who: Who::Buyer,
                    content: Content::Text { text: q.into() },
                    red: None,
                    pause,
                });
                s.push(Step {
                    who: Who::Seller,
                    content: Content::Text { text: a.into() },
                    red: None,
                    pause: CHAT_PAUSE,
                });
            } else {
                s.push(self.text(Who::Buyer, &l.buyer_ack, &[], CHAT_PAUSE));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::lwp::FIRST_PAGE_CURSOR;

    const NOW: i64 = 1_764_230_400_000;

    fn world(conversations: usize, history: usize, seed: u64) -> World {
        World::generate(&WorldConfig {
            seed,
            conversations,
            history,
            now_ms: NOW,
            picture_host: CDN_HOST.to_string(),
        })
    }

    fn all_messages(w: &World) -> Vec<&Message> {
        w.threads_newest_first()
            .into_iter()
            .flat_map(|t| t.messages.iter())
            .collect()
    }

    fn is_digits(s: &str, n: usize) -> bool {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn demo_data_parses_and_is_complete() {
        let d = parse_data().expect("demo data parses");
        assert!(d.items.len() >= 30);
        assert!(d.nicks.full.len() >= 40);
        for item in &d.items {
            assert!(
                price_yuan(&item.price).is_some_and(|p| p > 0),
                "{}",
                item.price
            );
            assert!(d.lines.kind_qa.contains_key(&item.kind), "{}", item.kind);
        }
        let l = &d.lines;
        for list in [
            &l.buyer_open,
            &l.seller_available,
            &l.buyer_offer,
            &l.seller_counter,
            &l.buyer_accept,
            &l.buyer_paid,
            &l.buyer_answer,
            &l.assistant.notices,
        ] {
            assert!(!list.is_empty());
        }
        assert!(!l.image_qa.is_empty() && !l.general_qa.is_empty());
    }

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        let a = world(40, 20, 7);
        let b = world(40, 20, 7);
        let c = world(40, 20, 8);
        assert_eq!(a.threads_newest_first(), b.threads_newest_first());
        assert_eq!(a.buyers, b.buyers);
        assert_eq!(a.items, b.items);
        assert_ne!(a.threads_newest_first(), c.threads_newest_first());
    }

    #[test]
    fn ids_are_well_formed_unique_and_follow_time() {
        let w = world(300, 25, 1);
        let mut cids = HashSet::new();
        for t in w.threads_newest_first() {
            assert!(is_digits(t.conv.cid.as_str(), 11), "{}", t.conv.cid);
            assert!(cids.insert(t.conv.cid.clone()));
        }
        for b in &w.buyers {
            assert!(b.uid.as_str() == SYSTEM_SENDER || is_digits(b.uid.as_str(), 10));
            assert!(!b.nick.is_empty() && !b.nick.contains('*'));
            assert!(b.avatar.starts_with("https://img.alicdn.com/"));
        }
        assert_eq!(
            w.buyers
                .iter()
                .map(|b| &b.uid)
                .collect::<HashSet<_>>()
                .len(),
            w.buyers.len()
        );
        for i in &w.items {
            assert!(is_digits(&i.id, 12));
            assert!(i.pic.starts_with("https://img.alicdn.com/") && i.pic.ends_with(".jpg"));
            assert!(i.price.ends_with(".00"));
        }
        let mut msgs = all_messages(&w);
        let ids: HashSet<&str> = msgs.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), msgs.len());
        for m in &msgs {
            let n = m.id.as_str().strip_suffix(".PNM").expect("PNM id");
            assert!(is_digits(n, 13), "{}", m.id);
        }
        msgs.sort_by_key(|m| (m.time, m.id.number()));
        assert!(msgs.windows(2).all(|p| p[0].id.number() < p[1].id.number()));
    }

    #[test]
    fn a_world_made_again_later_hands_out_new_ids() {
        let mut first = World::generate(&WorldConfig::new(7, NOW));
        let last_of_first = (0..50).map(|_| first.next_message_id()).last().unwrap();
        let mut again = World::generate(&WorldConfig::new(7, NOW + 60_000));
        assert!(again.next_message_id().number() > last_of_first.number());
        // Still after every message of its own history.
        let newest = all_messages(&again)
            .iter()
            .map(|m| m.id.number())
            .max()
            .unwrap();
        assert!(again.next_message_id().number() > newest);
    }

    #[test]
    fn default_world_looks_like_a_sellers_inbox() {
        let w = World::generate(&WorldConfig::new(3, NOW));
        let threads = w.threads_newest_first();
        assert_eq!(threads.len(), 12);
        assert_eq!(w.self_uid.as_str(), "2200000000401");
        let mut today = 0;
        let mut older = 0;
        for t in &threads {
            let msgs = &t.messages;
            assert!(msgs.windows(2).all(|p| p[0].time < p[1].time));
            assert!(msgs.iter().all(|m| m.time < NOW && m.cid == t.conv.cid));
            assert_eq!(t.conv.last_message.as_ref(), msgs.last());
            assert_eq!(Some(t.conv.modify_time), msgs.last().map(|m| m.time));
            if t.conv.peer.as_str() == SYSTEM_SENDER {
                assert!(
                    msgs.iter()
                        .all(|m| matches!(m.content, Content::Notice { .. }))
                );
                continue;
            }
            assert_eq!(msgs.len(), 30);
            assert!(msgs.iter().any(|m| m.is_self) && msgs.iter().any(|m| !m.is_self));
            assert!(t.conv.peer_nick.is_some() && t.conv.item_title.is_some());
            for m in msgs {
                assert_eq!(m.is_self, m.sender == w.self_uid);
                assert!(m.is_self || m.sender == t.conv.peer);
                assert_eq!(m.item_id.as_deref(), t.conv.item_id.as_deref());
            }
            if NOW - t.conv.modify_time < 12 * HOUR {
                today += 1;
            }
            if NOW - t.conv.modify_time > 2 * DAY {
                older += 1;
            }
        }
        assert!(today >= 1 && older >= 1, "today {today}, older {older}");
        assert!(
            threads
                .iter()
                .any(|t| t.conv.peer.as_str() == SYSTEM_SENDER)
        );
    }

    #[test]
    fn trade_cards_come_from_the_buyer_with_an_order_label() {
        let w = world(200, 30, 5);
        let mut labels = HashSet::new();
        let mut images = 0;
        for t in w.threads_newest_first() {
            let mut order = None;
            for m in &t.messages {
                if let Content::TradeCard(card) = &m.content {
                    let order_id = &card.order_id;
                    assert_eq!(m.sender, t.conv.peer);
                    assert!(!m.is_self && m.sender_nick.is_none());
                    let o = order_id.clone().expect("order id");
                    assert!(is_digits(&o, 19));
                    assert_eq!(order.get_or_insert(o.clone()), &o, "one order per thread");
                    labels.insert(m.red_reminder.clone().expect("label"));
                }
                if let Content::Image { urls } = &m.content {
                    images += 1;
                    assert!(
                        urls.iter()
                            .all(|u| u.starts_with("https://img.alicdn.com/"))
                    );
                }
            }
            let last_label = t.messages.iter().rev().find_map(|m| m.red_reminder.clone());
            assert_eq!(t.conv.red_reminder, last_label);
        }
        assert!(labels.contains(card::PLACED_RED) && labels.contains(card::PAID_RED));
        assert!(images > 0);
    }

    #[test]
    fn history_pages_cover_each_thread_once_newest_first() {
        let w = world(12, 30, 9);
        for limit in [1, 7, 20, 100] {
            for t in w.threads_newest_first() {
                let mut seen: Vec<&Message> = Vec::new();
                let mut cursor = FIRST_PAGE_CURSOR;
                loop {
                    let (page, more, next) = w.history(&t.conv.cid, cursor, limit);
                    assert!(page.len() <= limit);
                    assert!(page.windows(2).all(|p| p[0].time > p[1].time));
                    assert!(page.iter().all(|m| m.time < cursor));
                    seen.extend(&page);
                    if !more {
                        break;
                    }
                    assert!(!page.is_empty());
                    cursor = next.expect("cursor with more pages");
                }
                let want: Vec<&Message> = t.messages.iter().rev().collect();
                assert_eq!(seen, want, "limit {limit}");
            }
        }
        let (page, more, next) = w.history(&Cid::new("123"), FIRST_PAGE_CURSOR, 20);
        assert!(page.is_empty() && !more && next.is_none());
    }

    #[test]
    fn conversation_pages_cover_the_list_once() {
        let mut w = world(50, 5, 11);
        // Live activity reorders the list; pages still cover it exactly.
        for (k, t) in [3usize, 40, 17].into_iter().enumerate() {
            let cid = w.any_cid(t).expect("cid");
            w.buyer_says(
                &cid,
                Content::Text {
                    text: "在吗".into(),
                },
                NOW + k as i64,
            )
            .expect("known cid");
        }
        for limit in [1, 7, 50, 60] {
            let mut seen = Vec::new();
            let mut cursor = FIRST_PAGE_CURSOR;
            loop {
                let (page, more, next) = w.conversations_page(cursor, limit);
                assert!(page.len() <= limit);
                seen.extend(page.iter().map(|c| (c.modify_time, c.cid.clone())));
                if !more {
                    break;
                }
                cursor = next.expect("cursor");
            }
            let want: Vec<(i64, Cid)> = w
                .threads_newest_first()
                .iter()
                .map(|t| (t.conv.modify_time, t.conv.cid.clone()))
                .collect();
            assert_eq!(seen, want, "limit {limit}");
            assert!(seen.windows(2).all(|p| p[0].0 > p[1].0));
        }
    }

    #[test]
    fn pages_never_split_equal_times() {
        let times = [9, 5, 5, 5, 4, 3];
        let at = |k: usize| times[k];
        // The boundary falls inside the group of 5s: the group moves to the next page.
        assert_eq!(page_len(times.len(), 3, at), 1);
        // The group fills the whole page: the page takes all of it.
        let rest = &times[1..];
        assert_eq!(page_len(rest.len(), 2, |k| rest[k]), 3);
        assert_eq!(page_len(times.len(), 5, at), 5);
        assert_eq!(page_len(2, 0, |k| [2, 1][k]), 1);
    }

    #[test]
    fn open_conversation_is_idempotent_and_names_new_buyers() {
        let mut w = world(12, 10, 2);
        let item = w.items[0].id.clone();
        let other = w.items[1].id.clone();
        let n = w.thread_count();
        let peer = Uid::new("1234567890");
        let a = w.open_conversation(&peer, Some(&item), NOW);
        let b = w.open_conversation(&peer, Some(&item), NOW + 5);
        assert_eq!(a, b);
        assert_eq!(w.thread_count(), n + 1);
        let c = w.open_conversation(&peer, Some(&other), NOW + 6);
        assert_ne!(a, c);
        assert_eq!(w.thread_count(), n + 2);
        let nick = w.buyer(&peer).expect("new buyer").nick.clone();
        assert!(!nick.is_empty());
        let t = w.thread(&a).expect("thread");
        assert_eq!(t.conv.peer_nick.as_deref(), Some(nick.as_str()));
        assert_eq!(t.conv.item_title.as_ref(), Some(&w.items[0].title));
        assert!(t.messages.is_empty() && t.conv.last_message.is_none());
        // An existing buyer keeps their name and gets a new thread for a new item.
        let known = w.threads_newest_first()[3].conv.clone();
        let before = w.buyer(&known.peer).expect("buyer").nick.clone();
        let same = w.open_conversation(&known.peer, known.item_id.as_deref(), NOW + 7);
        assert_eq!(same, known.cid);
        assert_eq!(w.buyer(&known.peer).expect("buyer").nick, before);
    }

    #[test]
    fn new_buyer_conversations_are_new_people_about_the_sellers_items() {
        let mut w = world(12, 3, 5);
        let (buyers, threads) = (w.buyers.len(), w.thread_count());
        let cids: Vec<Cid> = (0..40).map(|i| w.new_buyer_conversation(NOW + i)).collect();
        assert_eq!(w.thread_count(), threads + 40);
        assert_eq!(w.buyers.len(), buyers + 40);
        assert_eq!(cids.iter().collect::<HashSet<_>>().len(), 40);
        for cid in &cids {
            let t = w.thread(cid).expect("thread");
            assert!(t.messages.is_empty());
            assert!(t.conv.peer_nick.as_deref().is_some_and(|n| !n.is_empty()));
            let item = t.conv.item_id.as_deref().expect("item");
            assert!(w.item(item).is_some());
        }
    }

    #[test]
    fn buyer_says_moves_the_conversation_to_the_top_and_bumps_unread() {
        let mut w = world(12, 30, 4);
        let oldest = w
            .threads_newest_first()
            .last()
            .expect("thread")
            .conv
            .clone();
        let nick = w.buyer(&oldest.peer).expect("buyer").nick.clone();
        let m = w
            .buyer_says(
                &oldest.cid,
                Content::Text {
                    text: "还在吗？".into(),
                },
                NOW,
            )
            .expect("message");
        assert_eq!(m.sender, oldest.peer);
        assert!(!m.is_self);
        assert_eq!(m.sender_nick.as_deref(), Some(nick.as_str()));
        assert_eq!(m.item_id.as_deref(), oldest.item_id.as_deref());
        assert_eq!((m.session_type, m.need_push, m.time), (Some(1), true, NOW));
        let top = w.threads_newest_first()[0];
        assert_eq!(top.conv.cid, oldest.cid);
        assert_eq!(top.conv.unread, oldest.unread + 1);
        assert_eq!(top.conv.modify_time, NOW);
        assert_eq!(top.conv.last_message.as_ref(), Some(&m));
        let (page, _, _) = w.conversations_page(FIRST_PAGE_CURSOR, 1);
        assert_eq!(page[0].cid, oldest.cid);
        let (hist, _, _) = w.history(&oldest.cid, FIRST_PAGE_CURSOR, 1);
        assert_eq!(hist, vec![&m]);
        assert!(
            w.buyer_says(&Cid::new("1"), Content::Text { text: "x".into() }, NOW)
                .is_none()
        );
    }

    #[test]
    fn self_says_keeps_unread_and_client_id_then_reading_clears_it() {
        let mut w = world(12, 30, 4);
        let cid = w.threads_newest_first()[5].conv.cid.clone();
        w.buyer_says(
            &cid,
            Content::Text {
                text: "包邮吗".into(),
            },
            NOW,
        )
        .expect("m");
        let unread = w.thread(&cid).expect("t").conv.unread;
        assert!(unread >= 1);
        let m = w
            .self_says(
                &cid,
                Content::Text {
                    text: "包邮的".into(),
                },
                Some("-17".into()),
                NOW,
            )
            .expect("m");
        assert!(m.is_self && m.sender == w.self_uid);
        assert_eq!(m.client_id.as_deref(), Some("-17"));
        assert_eq!(m.sender_nick.as_deref(), Some(w.self_nick.as_str()));
        let t = w.thread(&cid).expect("t");
        assert_eq!(t.conv.unread, unread);
        assert!(
            m.time > t.messages[t.messages.len() - 2].time,
            "same now, later time"
        );
        assert!(w.mark_read_by_self(&cid));
        assert_eq!(w.thread(&cid).expect("t").conv.unread, 0);
        assert!(!w.mark_read_by_self(&Cid::new("1")));
    }

    #[test]
    fn times_and_ids_keep_increasing_when_now_repeats_or_goes_back() {
        let mut w = world(12, 30, 6);
        let cid = w.any_cid(0).expect("cid");
        let a = w
            .buyer_says(&cid, Content::Text { text: "1".into() }, NOW)
            .expect("m");
        let b = w
            .buyer_says(&cid, Content::Text { text: "2".into() }, NOW)
            .expect("m");
        let c = w
            .buyer_says(&cid, Content::Text { text: "3".into() }, NOW - DAY)
            .expect("m");
        assert!(a.time < b.time && b.time < c.time);
        assert!(a.id.number() < b.id.number() && b.id.number() < c.id.number());
        let n = w.next_message_id();
        assert!(n.number() > c.id.number());
    }

    #[test]
    fn peer_reads_report_only_newly_read_messages() {
        let mut w = world(12, 30, 6);
        let cid = w.any_cid(4).expect("cid");
        w.mark_read_by_peer(&cid, NOW);
        let a = w
            .self_says(
                &cid,
                Content::Text {
                    text: "在的".into(),
                },
                None,
                NOW,
            )
            .expect("m");
        let b = w
            .self_says(
                &cid,
                Content::Text {
                    text: "九成新".into(),
                },
                None,
                NOW,
            )
            .expect("m");
        let r = w.mark_read_by_peer(&cid, NOW + 2_000).expect("receipt");
        assert_eq!(r.ids, vec![a.id, b.id]);
        assert_eq!((r.cid, r.time), (cid.clone(), NOW + 2_000));
        assert_eq!(w.thread(&cid).expect("t").read_up_to_by_peer, b.time);
        assert!(w.mark_read_by_peer(&cid, NOW + 3_000).is_none());
    }

    #[test]
    fn recall_removes_the_message_and_fixes_the_preview() {
        let mut w = world(12, 30, 8);
        let cid = w.any_cid(2).expect("cid");
        let before = w.thread(&cid).expect("t").messages.last().cloned();
        let m = w
            .self_says(
                &cid,
                Content::Text {
                    text: "发错了".into(),
                },
                None,
                NOW,
            )
            .expect("m");
        assert_eq!(w.recall(&m.id), Some((cid.clone(), m.id.clone())));
        let t = w.thread(&cid).expect("t");
        assert!(t.messages.iter().all(|x| x.id != m.id));
        assert_eq!(t.conv.last_message, before);
        assert_eq!(w.recall(&m.id), None);
        assert_eq!(w.recall(&MessageId::new("garbage")), None);
        // A generated message deep in another thread.
        let other = w.threads_newest_first()[7].messages[3].clone();
        assert_eq!(
            w.recall(&other.id),
            Some((other.cid.clone(), other.id.clone()))
        );
        assert_eq!(w.thread(&other.cid).expect("t").messages.len(), 29);
    }

    #[test]
    fn trade_cards_share_the_order_and_update_the_label() {
        let mut w = world(12, 30, 10);
        let item = w.items[0].id.clone();
        let cid = w.open_conversation(&Uid::new("1999999999"), Some(&item), NOW);
        let placed = w
            .trade_card(&cid, card::PLACED, card::PLACED_RED, NOW)
            .expect("card");
        assert_eq!(
            w.thread(&cid).expect("t").conv.red_reminder.as_deref(),
            Some(card::PLACED_RED)
        );
        let paid = w
            .trade_card(&cid, card::PAID, card::PAID_RED, NOW + 1)
            .expect("card");
        let order = |m: &Message| match &m.content {
            Content::TradeCard(card) => {
                assert!(card.desc.is_some() && !card.title.is_empty());
                card.order_id.clone()
            }
            _ => None,
        };
        assert!(order(&placed).is_some());
        assert_eq!(order(&placed), order(&paid));
        let t = w.thread(&cid).expect("t");
        assert_eq!(t.order_id, order(&paid));
        assert_eq!(t.conv.red_reminder.as_deref(), Some(card::PAID_RED));
        assert_eq!(t.conv.unread, 2);
        assert!(placed.is_system() && placed.sender_nick.is_none() && placed.sender == t.conv.peer);
    }

    #[test]
    fn large_world_of_ten_thousand_conversations() {
        let w = world(10_000, 20, 12);
        assert_eq!(w.thread_count(), 10_000);
        let msgs = all_messages(&w);
        assert!(msgs.len() >= 10_000 * 20 - 20, "{}", msgs.len());
        let ids: HashSet<u64> = msgs.iter().filter_map(|m| m.id.number()).collect();
        assert_eq!(ids.len(), msgs.len());
        let (page, more, _) = w.conversations_page(FIRST_PAGE_CURSOR, 50);
        assert_eq!(page.len(), 50);
        assert!(more);
        let nicks: HashSet<&str> = w.buyers.iter().map(|b| b.nick.as_str()).collect();
        assert!(nicks.len() > w.buyers.len() / 2, "nicknames are varied");
    }

    #[test]
    fn offers_are_85_to_95_percent_and_rounded() {
        let mut rng = StdRng::seed_from_u64(1);
        for price in [2650u64, 899, 520, 45, 9200, 160, 38] {
            for _ in 0..200 {
                let o = offer_for(&mut rng, price);
                let step = match o {
                    1000.. => 50,
                    200.. => 10,
                    50.. => 5,
                    _ => 1,
                };
                assert_eq!(o % step, 0, "{o}");
                assert!(
                    o < price && o * 100 >= price * 85 - step * 100,
                    "{price} -> {o}"
                );
                assert!(o * 100 <= price * 95 + step * 100, "{price} -> {o}");
                let c = counter_for(&mut rng, o, price);
                assert!(c > o && c <= price, "{o} < {c} <= {price}");
            }
        }
    }

    #[test]
    fn tiny_and_empty_worlds_work() {
        for (conversations, history) in [(0, 0), (1, 0), (1, 1), (3, 2), (6, 1)] {
            let mut w = world(conversations, history, 13);
            assert_eq!(w.thread_count(), conversations);
            let (page, more, _) = w.conversations_page(FIRST_PAGE_CURSOR, 20);
            assert_eq!((page.len(), more), (conversations, false));
            for t in w.threads_newest_first() {
                assert!(t.messages.len() <= history.max(1));
            }
            let cid = w.open_conversation(&Uid::new("1212121212"), None, NOW);
            assert!(
                w.buyer_says(
                    &cid,
                    Content::Text {
                        text: "在吗".into()
                    },
                    NOW
                )
                .is_some()
            );
        }
    }

    #[test]
    fn fill_replaces_known_placeholders_only() {
        let v = [("short", "Switch"), ("offer", "1600")];
        assert_eq!(fill("{short}还在吗", &v), "Switch还在吗");
        assert_eq!(fill("{offer}出吗？{offer}", &v), "1600出吗？1600");
        assert_eq!(fill("{nope} {", &v), "{nope} {");
        assert_eq!(fill("在的", &v), "在的");
        assert_eq!(price_yuan("1299.00"), Some(1299));
        assert_eq!(price_yuan("abc"), None);
    }
}
