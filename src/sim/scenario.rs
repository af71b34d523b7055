//! What the simulated buyers do: on their own (the `Demo` scenario) and in answer to the
//! seller. The [`Director`] only decides; [`apply`] carries an action out on the world and
//! says what the server should push.
//!
//! Pure: no sockets, no clock. Delays are returned for the server to wait out; the same seed,
//! world and call sequence give the same actions.

use super::world::{
    Receipt, World, card, chat_image_url, data, fill, offer_for, pick, price_yuan, round_price,
};
use crate::protocol::model::SYSTEM_SENDER;
use crate::protocol::{Cid, Content, Message, Uid};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// How lively the simulated buyers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Buyers write, bargain, order and pay on their own every 8–40 s, and answer the seller.
    Demo,
    /// Nothing happens on its own; answers to the seller are read receipts only (for tests).
    Quiet,
}

/// Something a buyer does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    BuyerText {
        cid: Cid,
        text: String,
    },
    BuyerImage {
        cid: Cid,
        url: String,
    },
    /// The buyer is typing (no change to the world).
    Typing {
        cid: Cid,
    },
    /// Trade card 我已拍下，待付款 with label 等待买家付款.
    PlaceOrder {
        cid: Cid,
    },
    /// Trade card 我已付款，等待你发货 with label 等待卖家发货, and an update of the order card.
    Pay {
        cid: Cid,
    },
    /// The seller shipped: only the order state changes (等待买家收货).
    Ship {
        cid: Cid,
    },
    /// The buyer read the seller's messages.
    ReadByPeer {
        cid: Cid,
    },
    /// Someone new writes about an item: the conversation is created first.
    NewBuyer {
        peer: Uid,
        item_id: String,
        text: String,
    },
}

/// What an applied action produced, for the server to push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new message in the world (bizType 40000).
    Message(Message),
    /// Typing status (40006).
    Typing { cid: Cid, uid: Uid },
    /// Read receipt for the seller's messages (40103).
    Read(Receipt),
    /// The conversation's order changed state (the order-status push of §7.5).
    OrderState {
        cid: Cid,
        /// The state's label, e.g. `等待卖家发货`.
        red_reminder: String,
        time: i64,
    },
}

/// Carries out an action. An action on a conversation that no longer exists does nothing.
pub fn apply(world: &mut World, action: &Action, now_ms: i64) -> Vec<Outcome> {
    match action {
        Action::BuyerText { cid, text } => world
            .buyer_says(cid, Content::Text { text: text.into() }, now_ms)
            .map(Outcome::Message)
            .into_iter()
            .collect(),
        Action::BuyerImage { cid, url } => world
            .buyer_says(
                cid,
                Content::Image {
                    urls: vec![url.clone()],
                },
                now_ms,
            )
            .map(Outcome::Message)
            .into_iter()
            .collect(),
        Action::Typing { cid } => world
            .thread(cid)
            .map(|t| Outcome::Typing {
                cid: cid.clone(),
                uid: t.conv.peer.clone(),
            })
            .into_iter()
            .collect(),
        Action::PlaceOrder { cid } => {
            order_card(world, cid, card::PLACED, card::PLACED_RED, now_ms)
        }
        Action::Pay { cid } => order_card(world, cid, card::PAID, card::PAID_RED, now_ms),
        Action::Ship { cid } => {
            if !world.set_order_state(cid, card::SHIPPED_RED) {
                return Vec::new();
            }
            vec![Outcome::OrderState {
                cid: cid.clone(),
                red_reminder: card::SHIPPED_RED.to_string(),
                time: now_ms,
            }]
        }
        Action::ReadByPeer { cid } => world
            .mark_read_by_peer(cid, now_ms)
            .map(Outcome::Read)
            .into_iter()
            .collect(),
        Action::NewBuyer {
            peer,
            item_id,
            text,
        } => {
            let cid = world.open_conversation(peer, Some(item_id), now_ms);
            world
                .buyer_says(&cid, Content::Text { text: text.into() }, now_ms)
                .map(Outcome::Message)
                .into_iter()
                .collect()
        }
    }
}

/// The buyer's trade card and the order-state push that goes with it: the card is a message
/// in the thread, the push updates the state shown for the conversation.
fn order_card(world: &mut World, cid: &Cid, title: &str, red: &str, now_ms: i64) -> Vec<Outcome> {
    let Some(msg) = world.trade_card(cid, title, red, now_ms) else {
        return Vec::new();
    };
    let state = Outcome::OrderState {
        cid: cid.clone(),
        red_reminder: red.to_string(),
        time: msg.time,
    };
    vec![Outcome::Message(msg), state]
}

/// Where a conversation's order stands, read from its label.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Talking,
    Placed,
    Paid,
    Done,
}

fn stage_of(world: &World, cid: &Cid) -> Stage {
    match world
        .thread(cid)
        .and_then(|t| t.conv.red_reminder.as_deref())
    {
        Some(card::PLACED_RED) => Stage::Placed,
        Some(card::PAID_RED) => Stage::Paid,
        Some(card::RECEIVED_RED) => Stage::Done,
        _ => Stage::Talking,
    }
}

/// What the buyer remembers of a conversation.
#[derive(Clone, Debug, Default)]
struct Talk {
    /// The buyer's standing offer, yuan.
    offer: Option<u64>,
    /// Bargaining rounds so far.
    rounds: u8,
    /// Questions asked so far (index into the item's question list).
    asked: usize,
}

/// What the seller's message is about, by keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Shipped,
    PayPrompt,
    Price(u64),
    Refuse,
    Bargainable,
    Photo,
    Shipping,
    Thanks,
    Question,
    Agree,
    Available,
    Greeting,
    Other,
}

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// The first number in `text` that is not a time, count or percentage ("3点", "2天", "90%").
fn first_amount(text: &str) -> Option<u64> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            // Skip decimals ("99.00" is still 99).
            let mut j = i;
            if j + 1 < chars.len() && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let unit = chars.get(j).copied();
            let not_money = matches!(
                unit,
                Some(
                    '点' | '天'
                        | '号'
                        | '小'
                        | '分'
                        | '个'
                        | '年'
                        | '月'
                        | '%'
                        | '次'
                        | '寸'
                        | '码'
                        | 'G'
                        | 'g'
                        | '斤'
                        | '岁'
                        | '本'
                        | '件'
                        | '成'
                        | '折'
                        | '万'
                )
            );
            if !not_money && let Ok(n) = digits.parse::<u64>() {
                return Some(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

fn classify(text: &str, price: u64, bargaining: bool) -> Intent {
    let t = text.trim().to_lowercase();
    if has_any(
        &t,
        &[
            "已发货",
            "发货了",
            "已发出",
            "寄出",
            "单号",
            "已寄",
            "发出了",
        ],
    ) {
        return Intent::Shipped;
    }
    if has_any(
        &t,
        &[
            "付款",
            "改好价",
            "改价",
            "改好了",
            "可以付",
            "去付",
            "拍下付",
        ],
    ) {
        return Intent::PayPrompt;
    }
    let price_words = [
        "元", "块", "价", "出", "最低", "最多", "少", "便宜", "给你", "吧", "刀", "¥", "￥", "包邮",
    ];
    if let Some(n) = first_amount(&t).filter(|&n| n > 0) {
        // A bare number ("1300") is a price too, when it is in the item's range.
        let words = t
            .chars()
            .filter(|c| !c.is_ascii_digit() && *c != '.')
            .count();
        let plausible = words <= 2
            && n.saturating_mul(10) >= price.saturating_mul(3)
            && n <= price.saturating_mul(3) / 2;
        if bargaining || has_any(&t, &price_words) || plausible {
            return Intent::Price(n);
        }
    }
    if has_any(
        &t,
        &[
            "不议价",
            "不讲价",
            "不刀",
            "不小刀",
            "最低了",
            "没法再",
            "不能再",
            "不能少",
            "少不了",
            "实价",
            "一口价",
            "很便宜",
            "不还价",
            "不砍价",
            "不了",
        ],
    ) {
        return Intent::Refuse;
    }
    if has_any(
        &t,
        &[
            "小刀",
            "可以刀",
            "便宜",
            "可以少",
            "优惠",
            "砍",
            "还价",
            "议价",
        ],
    ) {
        return Intent::Bargainable;
    }
    if has_any(&t, &["图", "照片", "实拍", "视频"]) {
        return Intent::Photo;
    }
    if has_any(
        &t,
        &[
            "快递", "顺丰", "中通", "圆通", "韵达", "申通", "京东", "邮费", "运费", "发货", "寄",
            "自提", "包邮",
        ],
    ) {
        return Intent::Shipping;
    }
    if has_any(&t, &["谢谢", "感谢", "多谢", "thx", "thanks"]) {
        return Intent::Thanks;
    }
    if t.ends_with('?') || t.ends_with('？') || has_any(&t, &["吗", "多少", "什么", "哪", "几"])
    {
        return Intent::Question;
    }
    if has_any(
        &t,
        &[
            "可以",
            "行",
            "好的",
            "没问题",
            "ok",
            "成交",
            "拍吧",
            "拍下",
            "直接拍",
            "同意",
            "好滴",
            "好嘞",
            "👌",
            "嗯",
            "好",
        ],
    ) {
        return Intent::Agree;
    }
    if has_any(&t, &["在的", "在呢", "还在", "在滴", "有的", "还有"])
        || (t.contains('在') && t.chars().count() <= 6)
    {
        return Intent::Available;
    }
    if has_any(&t, &["你好", "您好", "hi", "hello", "哈喽", "亲"]) {
        return Intent::Greeting;
    }
    Intent::Other
}

/// What the buyer will do next in an answer, before delays are added.
enum Beat {
    Say(String),
    Order,
    Pay,
}

/// Decides what simulated buyers do.
#[derive(Debug)]
pub struct Director {
    rng: StdRng,
    scenario: Scenario,
    talks: HashMap<Cid, Talk>,
    /// Follow-ups of a spontaneous action (typing, then the text).
    pending: VecDeque<(Duration, Action)>,
}

impl Director {
    pub fn new(seed: u64, scenario: Scenario) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            scenario,
            talks: HashMap::new(),
            pending: VecDeque::new(),
        }
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The next thing a buyer does on their own, and how long to wait before it. `Quiet`:
    /// never anything. `Demo`: every 8–40 s a new buyer asks about an item, someone
    /// bargains, asks a question, orders or pays; a text comes right after a typing status.
    pub fn next_spontaneous(&mut self, world: &World) -> Option<(Duration, Action)> {
        if self.scenario == Scenario::Quiet {
            return None;
        }
        if let Some(p) = self.pending.pop_front() {
            return Some(p);
        }
        let delay = Duration::from_millis(self.rng.random_range(8_000..=40_000));
        let recent: Vec<Cid> = world
            .threads_newest_first()
            .into_iter()
            .filter(|t| t.conv.peer.as_str() != SYSTEM_SENDER && t.conv.item_id.is_some())
            .take(30)
            .map(|t| t.conv.cid.clone())
            .collect();
        let new_buyer = recent.is_empty() || self.rng.random_range(0..100) < 25;
        if new_buyer {
            return self.new_buyer(world).map(|a| (delay, a));
        }
        // Newer conversations are livelier: the smaller of two picks.
        let a = self.rng.random_range(0..recent.len());
        let b = self.rng.random_range(0..recent.len());
        let cid = recent[a.min(b)].clone();
        let action = match stage_of(world, &cid) {
            Stage::Placed => {
                let text = self.line(world, &cid, &data().lines.buyer_paid, &[]);
                self.later(Action::BuyerText {
                    cid: cid.clone(),
                    text,
                });
                Action::Pay { cid }
            }
            Stage::Paid => {
                let text = self.line(world, &cid, &data().lines.buyer_ask_ship_time, &[]);
                self.typed(cid, text)
            }
            Stage::Done => return self.new_buyer(world).map(|a| (delay, a)),
            Stage::Talking => self.spontaneous_talk(world, cid),
        };
        Some((delay, action))
    }

    /// How the buyer reacts to the seller's `text` in `cid`: a read receipt after 1–3 s,
    /// then (Demo) typing and an answer that fits — a counter offer to a price, a question
    /// about the item to "在的", an order to an agreement, a payment once the price is
    /// changed… Each delay is counted from now, and they increase. The 闲小蜜 conversation
    /// and unknown conversations get no answer.
    pub fn answer(&mut self, world: &World, cid: &Cid, text: &str) -> Vec<(Duration, Action)> {
        let Some(thread) = world.thread(cid) else {
            return Vec::new();
        };
        if thread.conv.peer.as_str() == SYSTEM_SENDER {
            return Vec::new();
        }
        let mut at = self.rng.random_range(1_000..=3_000u64);
        let mut out = vec![(
            Duration::from_millis(at),
            Action::ReadByPeer { cid: cid.clone() },
        )];
        if self.scenario == Scenario::Quiet {
            return out;
        }
        let beats = self.decide(world, cid, text);
        for beat in beats {
            match beat {
                Beat::Say(text) => {
                    at += self.rng.random_range(800..=2_500);
                    out.push((
                        Duration::from_millis(at),
                        Action::Typing { cid: cid.clone() },
                    ));
                    let per_char = 180 * text.chars().count() as u64;
                    at += self.rng.random_range(1_500..=3_500) + per_char.min(6_000);
                    out.push((
                        Duration::from_millis(at),
                        Action::BuyerText {
                            cid: cid.clone(),
                            text,
                        },
                    ));
                }
                Beat::Order => {
                    at += self.rng.random_range(5_000..=15_000);
                    out.push((
                        Duration::from_millis(at),
                        Action::PlaceOrder { cid: cid.clone() },
                    ));
                }
                Beat::Pay => {
                    at += self.rng.random_range(8_000..=25_000);
                    out.push((Duration::from_millis(at), Action::Pay { cid: cid.clone() }));
                }
            }
        }
        out
    }

    /// The buyer's reply to the seller, as beats.
    fn decide(&mut self, world: &World, cid: &Cid, text: &str) -> Vec<Beat> {
        let l = &data().lines;
        let price = self.price(world, cid);
        let stage = stage_of(world, cid);
        let talk = self.talks.entry(cid.clone()).or_default().clone();
        let intent = classify(text, price, talk.offer.is_some());
        let mut beats = Vec::new();
        let say = |d: &mut Self, list: &[String], vars: &[(&str, &str)]| {
            Beat::Say(d.line(world, cid, list, vars))
        };
        match (intent, stage) {
            (Intent::Shipped, _) => beats.push(say(self, &l.buyer_shipped_reply, &[])),
            (Intent::PayPrompt, Stage::Placed) | (Intent::Agree, Stage::Placed) => {
                beats.push(say(self, &l.buyer_ack, &[]));
                beats.push(Beat::Pay);
                beats.push(say(self, &l.buyer_paid, &[]));
            }
            (Intent::PayPrompt, Stage::Talking) => {
                beats.push(Beat::Order);
                beats.push(say(self, &l.buyer_order, &[]));
            }
            (Intent::PayPrompt, _) => beats.push(say(self, &l.buyer_already_paid, &[])),
            (Intent::Price(n), Stage::Talking) => self.on_price(world, cid, n, price, &mut beats),
            (Intent::Refuse, Stage::Talking) => {
                let r = self.rng.random_range(0..100);
                let rounds = self.talk(cid).rounds;
                if r < 45 {
                    beats.push(say(self, &l.buyer_accept_full, &[]));
                    beats.push(Beat::Order);
                } else if r < 80 || rounds >= 1 {
                    beats.push(say(self, &l.buyer_decline, &[]));
                    self.talk(cid).offer = None;
                } else {
                    // One more try, a little higher.
                    let offer = round_price(price * self.rng.random_range(93..=97u64) / 100);
                    let offer = offer.min(price.saturating_sub(1)).max(1);
                    let o = offer.to_string();
                    beats.push(say(self, &l.buyer_meet_middle, &[("offer", &o)]));
                    let t = self.talk(cid);
                    t.offer = Some(offer);
                    t.rounds += 1;
                }
            }
            (Intent::Bargainable, Stage::Talking) => {
                let offer = offer_for(&mut self.rng, price);
                let o = offer.to_string();
                beats.push(say(self, &l.buyer_offer, &[("offer", &o)]));
                self.talk(cid).offer = Some(offer);
            }
            (Intent::Photo, _) => beats.push(say(self, &l.buyer_photo_reply, &[])),
            (Intent::Shipping, Stage::Paid) => {
                beats.push(say(self, &l.buyer_ship_reply, &[]));
            }
            (Intent::Shipping, Stage::Talking) => {
                if self.rng.random_bool(0.5) {
                    beats.push(say(self, &l.buyer_ack, &[]));
                    beats.push(self.next_question(world, cid));
                } else {
                    beats.push(say(self, &l.buyer_accept_full, &[]));
                    beats.push(Beat::Order);
                }
            }
            (Intent::Thanks, _) => beats.push(say(self, &l.buyer_thanks_reply, &[])),
            (Intent::Question, _) => beats.push(say(self, &l.buyer_answer, &[])),
            (Intent::Agree, Stage::Talking) => {
                if let Some(offer) = talk.offer {
                    let c = offer.to_string();
                    beats.push(say(self, &l.buyer_accept, &[("counter", &c)]));
                    beats.push(Beat::Order);
                } else if self.rng.random_bool(0.5) {
                    beats.push(say(self, &l.buyer_accept_full, &[]));
                    beats.push(Beat::Order);
                } else {
                    beats.push(self.next_question(world, cid));
                }
            }
            (Intent::Available, Stage::Talking) => {
                beats.push(self.next_question(world, cid));
                if self.rng.random_bool(0.3) {
                    beats.push(say(self, &l.buyer_bargain_ask, &[]));
                }
            }
            (Intent::Greeting, Stage::Talking) => beats.push(say(self, &l.buyer_greeting, &[])),
            (Intent::Other, Stage::Talking) => match self.rng.random_range(0..100) {
                0..40 => beats.push(self.next_question(world, cid)),
                40..70 => beats.push(say(self, &l.buyer_ack, &[])),
                _ => beats.push(say(self, &l.buyer_bargain_ask, &[])),
            },
            (_, Stage::Paid) => beats.push(say(self, &l.buyer_ask_ship_time, &[])),
            (_, _) => beats.push(say(self, &l.buyer_ack, &[])),
        }
        beats
    }

    /// The seller named a price `n`.
    fn on_price(&mut self, world: &World, cid: &Cid, n: u64, price: u64, beats: &mut Vec<Beat>) {
        let l = &data().lines;
        let talk = self.talk(cid).clone();
        let accept = |d: &mut Self, at: u64, beats: &mut Vec<Beat>| {
            let c = at.to_string();
            beats.push(Beat::Say(d.line(
                world,
                cid,
                &l.buyer_accept,
                &[("counter", &c)],
            )));
            beats.push(Beat::Order);
            d.talk(cid).offer = None;
        };
        if n >= price {
            // The seller holds the asking price.
            if self.rng.random_bool(0.5) {
                beats.push(Beat::Say(self.line(world, cid, &l.buyer_accept_full, &[])));
                beats.push(Beat::Order);
            } else {
                beats.push(Beat::Say(self.line(world, cid, &l.buyer_decline, &[])));
            }
            return;
        }
        match talk.offer {
            Some(o) if n <= o * 103 / 100 => accept(self, n, beats),
            Some(o) => {
                if talk.rounds >= 2 || self.rng.random_bool(0.5) {
                    accept(self, n, beats);
                } else {
                    let mid = round_price((o + n) / 2);
                    let mid = if mid <= o || mid >= n {
                        (o + n) / 2
                    } else {
                        mid
                    };
                    let m = mid.to_string();
                    beats.push(Beat::Say(self.line(
                        world,
                        cid,
                        &l.buyer_meet_middle,
                        &[("offer", &m)],
                    )));
                    let t = self.talk(cid);
                    t.offer = Some(mid);
                    t.rounds += 1;
                }
            }
            None => {
                if self.rng.random_bool(0.6) {
                    accept(self, n, beats);
                } else {
                    let offer = offer_for(&mut self.rng, n);
                    let o = offer.to_string();
                    beats.push(Beat::Say(self.line(
                        world,
                        cid,
                        &l.buyer_offer,
                        &[("offer", &o)],
                    )));
                    let t = self.talk(cid);
                    t.offer = Some(offer);
                    t.rounds += 1;
                }
            }
        }
    }

    /// A Demo action in a conversation that has no order yet.
    fn spontaneous_talk(&mut self, world: &World, cid: Cid) -> Action {
        let l = &data().lines;
        let waiting = world
            .thread(&cid)
            .and_then(|t| t.messages.last())
            .is_some_and(|m| !m.is_self);
        let r = self.rng.random_range(0..100);
        if waiting && r < 40 {
            let text = self.line(world, &cid, &l.buyer_nudge, &[]);
            return self.typed(cid, text);
        }
        match r {
            0..35 => {
                let price = self.price(world, &cid);
                let text = if self.rng.random_bool(0.5) {
                    self.line(world, &cid, &l.buyer_bargain_ask, &[])
                } else {
                    let offer = offer_for(&mut self.rng, price);
                    self.talk(&cid).offer = Some(offer);
                    let o = offer.to_string();
                    self.line(world, &cid, &l.buyer_offer, &[("offer", &o)])
                };
                self.typed(cid, text)
            }
            35..70 => match self.next_question(world, &cid) {
                Beat::Say(text) => self.typed(cid, text),
                _ => Action::Typing { cid },
            },
            70..82 => {
                let buyer = world
                    .thread(&cid)
                    .map(|t| t.conv.peer.clone())
                    .unwrap_or_default();
                let url = chat_image_url(&world.picture_host, &mut self.rng, &buyer);
                let text = l
                    .image_qa
                    .choose(&mut self.rng)
                    .map_or_else(|| "这个正常吗".to_string(), |(q, _)| q.clone());
                self.later(Action::BuyerImage {
                    cid: cid.clone(),
                    url,
                });
                Action::BuyerText { cid, text }
            }
            _ => {
                let text = self.line(world, &cid, &l.buyer_order, &[]);
                self.later(Action::BuyerText {
                    cid: cid.clone(),
                    text,
                });
                Action::PlaceOrder { cid }
            }
        }
    }

    /// Someone new asks whether an item is still there.
    fn new_buyer(&mut self, world: &World) -> Option<Action> {
        if world.items.is_empty() {
            return None;
        }
        let item = &world.items[self.rng.random_range(0..world.items.len())];
        let peer = loop {
            let u = Uid::new(
                self.rng
                    .random_range(1_000_000_000u64..4_300_000_000)
                    .to_string(),
            );
            if world.buyer(&u).is_none() {
                break u;
            }
        };
        let price = price_yuan(&item.price).unwrap_or(0).to_string();
        let t = pick(&mut self.rng, &data().lines.buyer_open);
        let text = fill(
            t,
            &[
                ("short", &item.short),
                ("title", &item.title),
                ("price", &price),
            ],
        );
        Some(Action::NewBuyer {
            peer,
            item_id: item.id.clone(),
            text,
        })
    }

    /// Typing now, the text a moment later.
    fn typed(&mut self, cid: Cid, text: String) -> Action {
        self.later(Action::BuyerText {
            cid: cid.clone(),
            text,
        });
        Action::Typing { cid }
    }

    /// Queues a follow-up a few seconds after the previous spontaneous action.
    fn later(&mut self, action: Action) {
        let pause = self.short_pause();
        self.pending.push_back((pause, action));
    }

    fn short_pause(&mut self) -> Duration {
        Duration::from_millis(self.rng.random_range(2_000..=6_000))
    }

    fn talk(&mut self, cid: &Cid) -> &mut Talk {
        self.talks.entry(cid.clone()).or_default()
    }

    fn price(&self, world: &World, cid: &Cid) -> u64 {
        world
            .item_of(cid)
            .and_then(|i| price_yuan(&i.price))
            .unwrap_or(100)
            .max(1)
    }

    /// A line with the conversation's item filled in.
    fn line(
        &mut self,
        world: &World,
        cid: &Cid,
        list: &[String],
        extra: &[(&str, &str)],
    ) -> String {
        let t = pick(&mut self.rng, list);
        let item = world.item_of(cid);
        let price = item
            .and_then(|i| price_yuan(&i.price))
            .map(|p| p.to_string())
            .unwrap_or_default();
        let short = item.map_or("这个", |i| i.short.as_str());
        let title = item.map_or("这个", |i| i.title.as_str());
        let mut vars: Vec<(&str, &str)> =
            vec![("short", short), ("title", title), ("price", &price)];
        vars.extend_from_slice(extra);
        fill(t, &vars)
    }

    /// The next question about the item this buyer has not asked yet.
    fn next_question(&mut self, world: &World, cid: &Cid) -> Beat {
        let l = &data().lines;
        let kind = world.item_of(cid).map(|i| i.kind.as_str()).unwrap_or("");
        let mut qs: Vec<&str> = l
            .kind_qa
            .get(kind)
            .map(|v| v.iter().map(|(q, _)| q.as_str()).collect())
            .unwrap_or_default();
        qs.extend(l.buyer_after_available.iter().map(String::as_str));
        qs.extend(l.general_qa.iter().map(|(q, _)| q.as_str()));
        let talk = self.talk(cid);
        let k = talk.asked;
        talk.asked += 1;
        let q = match qs.get(k) {
            Some(q) => q,
            None => {
                let r = self.rng.random_range(0..qs.len().max(1));
                qs.get(r).copied().unwrap_or("还在吗？")
            }
        };
        Beat::Say(q.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::WorldConfig;

    const NOW: i64 = 1_764_230_400_000;

    fn world(seed: u64) -> World {
        World::generate(&WorldConfig::new(seed, NOW))
    }

    /// A fresh conversation about the world's first item; returns it and the item's price.
    fn fresh(w: &mut World, peer: &str) -> (Cid, u64) {
        let item = w.items[0].clone();
        let cid = w.open_conversation(&Uid::new(peer), Some(&item.id), NOW);
        (cid, price_yuan(&item.price).expect("price"))
    }

    fn texts(actions: &[(Duration, Action)]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|(_, a)| match a {
                Action::BuyerText { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn has(actions: &[(Duration, Action)], f: impl Fn(&Action) -> bool) -> bool {
        actions.iter().any(|(_, a)| f(a))
    }

    /// Runs the demo for `steps` spontaneous actions, with the seller answering every
    /// buyer text; returns everything the director decided.
    fn run_demo(seed: u64, steps: usize) -> (World, Vec<(Duration, Action)>) {
        let mut w = world(seed);
        let mut d = Director::new(seed, Scenario::Demo);
        let mut log = Vec::new();
        let mut now = NOW;
        let replies = [
            "在的",
            "可以小刀",
            "最低{p}",
            "好的",
            "包邮的",
            "改好价了，可以付款了",
        ];
        for k in 0..steps {
            let (delay, action) = d.next_spontaneous(&w).expect("demo always acts");
            now += delay.as_millis() as i64;
            log.push((delay, action.clone()));
            let out = apply(&mut w, &action, now);
            if let Some(Outcome::Message(m)) = out.first()
                && matches!(m.content, Content::Text { .. })
            {
                let p = w
                    .item_of(&m.cid)
                    .and_then(|i| price_yuan(&i.price))
                    .unwrap_or(100);
                let reply = replies[k % replies.len()].replace("{p}", &(p * 97 / 100).to_string());
                w.self_says(
                    &m.cid,
                    Content::Text {
                        text: reply.as_str().into(),
                    },
                    None,
                    now,
                );
                for (dl, a) in d.answer(&w, &m.cid, &reply) {
                    apply(&mut w, &a, now + dl.as_millis() as i64);
                    log.push((dl, a));
                }
            }
        }
        (w, log)
    }

    #[test]
    fn same_seed_same_actions() {
        let (wa, a) = run_demo(21, 80);
        let (wb, b) = run_demo(21, 80);
        let (_, c) = run_demo(22, 80);
        assert_eq!(a, b);
        assert_eq!(wa.threads_newest_first(), wb.threads_newest_first());
        assert_ne!(a, c);
    }

    #[test]
    fn demo_keeps_the_inbox_busy_with_valid_actions() {
        let mut w = world(31);
        let mut d = Director::new(31, Scenario::Demo);
        let mut now = NOW;
        let (mut new, mut orders, mut pays, mut typing, mut images) = (0, 0, 0, 0, 0);
        for _ in 0..300 {
            let (delay, action) = d.next_spontaneous(&w).expect("action");
            let ms = delay.as_millis();
            assert!((2_000..=40_000).contains(&ms), "{ms}");
            now += ms as i64;
            let before = w.thread_count();
            let out = apply(&mut w, &action, now);
            assert!(!out.is_empty(), "{action:?} did nothing");
            match &action {
                Action::NewBuyer { peer, .. } => {
                    new += 1;
                    assert_eq!(w.thread_count(), before + 1);
                    assert!(w.buyer(peer).is_some());
                    let Some(Outcome::Message(m)) = out.first() else {
                        panic!("new buyer writes");
                    };
                    assert_eq!(w.threads_newest_first()[0].conv.cid, m.cid);
                }
                Action::PlaceOrder { .. } => orders += 1,
                Action::Pay { .. } => {
                    pays += 1;
                    assert!(out.iter().any(|o| matches!(o, Outcome::OrderState { .. })));
                }
                Action::Typing { .. } => typing += 1,
                Action::BuyerImage { .. } => images += 1,
                _ => {}
            }
        }
        assert!(new > 20 && orders > 0 && pays > 0 && typing > 20 && images > 0);
        // Nothing happens in the 闲小蜜 conversation.
        let sys = w
            .threads_newest_first()
            .into_iter()
            .find(|t| t.conv.peer.as_str() == SYSTEM_SENDER);
        assert!(sys.is_some_and(|t| t.messages.iter().all(|m| m.time < NOW)));
    }

    #[test]
    fn quiet_acts_only_as_a_read_receipt() {
        let mut w = world(1);
        let mut d = Director::new(1, Scenario::Quiet);
        assert_eq!(d.next_spontaneous(&w), None);
        let (cid, _) = fresh(&mut w, "1111111111");
        w.self_says(
            &cid,
            Content::Text {
                text: "在的".into(),
            },
            None,
            NOW,
        );
        let a = d.answer(&w, &cid, "在的");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].1, Action::ReadByPeer { cid: cid.clone() });
        assert!((1_000..=3_000).contains(&a[0].0.as_millis()));
        let out = apply(&mut w, &a[0].1, NOW + 2_000);
        assert!(matches!(&out[..], [Outcome::Read(r)] if r.ids.len() == 1));
    }

    #[test]
    fn answers_read_first_then_type_then_speak() {
        let mut w = world(2);
        let (cid, _) = fresh(&mut w, "1111111112");
        let mut d = Director::new(2, Scenario::Demo);
        let a = d.answer(&w, &cid, "在的");
        assert_eq!(a[0].1, Action::ReadByPeer { cid: cid.clone() });
        assert!(a.windows(2).all(|p| p[0].0 < p[1].0), "delays increase");
        let first_text = a
            .iter()
            .position(|(_, x)| matches!(x, Action::BuyerText { .. }));
        let k = first_text.expect("a text");
        assert_eq!(a[k - 1].1, Action::Typing { cid: cid.clone() });
        // "在的" is answered with a question about the item.
        let q = texts(&a)[0];
        assert!(
            q.contains('？')
                || q.contains('吗')
                || q.contains('?')
                || q.contains('呀')
                || q.contains("多少"),
            "{q}"
        );
    }

    #[test]
    fn bargaining_offers_85_to_95_percent() {
        for seed in 0..20 {
            let mut w = world(3);
            let (cid, price) = fresh(&mut w, "1111111113");
            let mut d = Director::new(seed, Scenario::Demo);
            let a = d.answer(&w, &cid, "可以小刀");
            let offer = texts(&a)
                .iter()
                .find_map(|t| first_amount(t))
                .expect("an offer");
            assert!(
                offer * 100 >= price * 85 - 5_000 && offer * 100 <= price * 95 + 5_000,
                "{price} -> {offer}"
            );
            assert!(offer < price);
            // Agreeing to the offer makes the buyer order.
            let b = d.answer(&w, &cid, "好的");
            assert!(has(&b, |x| matches!(x, Action::PlaceOrder { .. })), "{b:?}");
        }
    }

    #[test]
    fn a_price_from_the_seller_gets_a_counter_offer_or_an_order() {
        let (mut counters, mut orders) = (0, 0);
        for seed in 0..30 {
            let mut w = world(4);
            let (cid, price) = fresh(&mut w, "1111111114");
            let mut d = Director::new(seed, Scenario::Demo);
            let ask = price * 95 / 100;
            let a = d.answer(&w, &cid, &format!("{ask}吧，最低了"));
            if has(&a, |x| matches!(x, Action::PlaceOrder { .. })) {
                orders += 1;
            } else {
                let o = texts(&a)
                    .iter()
                    .find_map(|t| first_amount(t))
                    .expect("counter");
                assert!(o < ask, "{o} < {ask}");
                counters += 1;
            }
        }
        assert!(counters > 0 && orders > 0);
    }

    #[test]
    fn order_then_payment_prompt_makes_the_buyer_pay() {
        let mut w = world(5);
        let (cid, _) = fresh(&mut w, "1111111115");
        let mut d = Director::new(5, Scenario::Demo);
        let out = apply(
            &mut w,
            &Action::PlaceOrder { cid: cid.clone() },
            NOW + 1_000,
        );
        assert!(matches!(
            &out[..],
            [Outcome::Message(m), Outcome::OrderState { red_reminder, .. }]
                if m.red_reminder.as_deref() == Some(card::PLACED_RED) && red_reminder == card::PLACED_RED
        ));
        let a = d.answer(&w, &cid, "改好价了，可以付款了");
        assert!(has(&a, |x| matches!(x, Action::Pay { .. })), "{a:?}");
        let out = apply(&mut w, &Action::Pay { cid: cid.clone() }, NOW + 30_000);
        match &out[..] {
            [
                Outcome::Message(m),
                Outcome::OrderState {
                    cid: c,
                    red_reminder,
                    time,
                },
            ] => {
                assert!(matches!(&m.content, Content::TradeCard(c) if c.title == card::PAID));
                assert_eq!(c, &cid);
                assert_eq!(red_reminder, card::PAID_RED);
                assert_eq!(*time, m.time);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            w.thread(&cid).expect("t").conv.red_reminder.as_deref(),
            Some(card::PAID_RED)
        );
        // Once paid, talk of shipping gets a shipping reply, not another payment.
        let b = d.answer(&w, &cid, "好的，今天发顺丰");
        assert!(!has(&b, |x| matches!(
            x,
            Action::Pay { .. } | Action::PlaceOrder { .. }
        )));
        assert!(!texts(&b).is_empty());
    }

    #[test]
    fn refusal_ends_in_an_order_or_a_polite_no() {
        let l = &data().lines;
        for seed in 0..20 {
            let mut w = world(6);
            let (cid, _) = fresh(&mut w, "1111111116");
            let mut d = Director::new(seed, Scenario::Demo);
            let a = d.answer(&w, &cid, "不好意思，不议价");
            let t = texts(&a);
            let ordered = has(&a, |x| matches!(x, Action::PlaceOrder { .. }));
            let declined = t.iter().any(|x| l.buyer_decline.iter().any(|y| y == x));
            let retried = t.iter().any(|x| first_amount(x).is_some());
            assert!(ordered || declined || retried, "{t:?}");
        }
    }

    #[test]
    fn no_answers_in_the_assistant_or_an_unknown_conversation() {
        let w = world(7);
        let mut d = Director::new(7, Scenario::Demo);
        let sys = w
            .threads_newest_first()
            .into_iter()
            .find(|t| t.conv.peer.as_str() == SYSTEM_SENDER)
            .expect("闲小蜜")
            .conv
            .cid
            .clone();
        assert!(d.answer(&w, &sys, "你好").is_empty());
        assert!(d.answer(&w, &Cid::new("5"), "你好").is_empty());
        let mut w2 = world(7);
        assert!(
            apply(
                &mut w2,
                &Action::BuyerText {
                    cid: Cid::new("5"),
                    text: "x".into()
                },
                NOW
            )
            .is_empty()
        );
        assert!(apply(&mut w2, &Action::Pay { cid: Cid::new("5") }, NOW).is_empty());
    }

    #[test]
    fn odd_seller_text_never_panics() {
        let mut w = world(8);
        let (cid, _) = fresh(&mut w, "1111111117");
        let mut d = Director::new(8, Scenario::Demo);
        for text in [
            "",
            "18446744073709551615",
            "99999999999999999999999元",
            "0",
            "0吧",
            "1.",
            ".5",
            "🙂🙂🙂",
            "\u{0}\n\t",
            "最低1",
        ] {
            let a = d.answer(&w, &cid, text);
            assert!(
                matches!(a.first(), Some((_, Action::ReadByPeer { .. }))),
                "{text:?}"
            );
            for (dl, act) in a {
                apply(&mut w, &act, NOW + dl.as_millis() as i64);
            }
        }
    }

    #[test]
    fn seller_messages_are_understood() {
        assert_eq!(classify("在的", 100, false), Intent::Available);
        assert_eq!(classify("在的，可以小刀", 100, false), Intent::Bargainable);
        assert_eq!(classify("2400吧，最低了", 2650, false), Intent::Price(2400));
        assert_eq!(classify("不议价哦", 2650, false), Intent::Refuse);
        assert_eq!(classify("改好价了，付款吧", 2650, false), Intent::PayPrompt);
        assert_eq!(classify("已经发货了", 2650, false), Intent::Shipped);
        assert_eq!(classify("包邮，发中通", 2650, false), Intent::Shipping);
        assert_eq!(classify("好的", 2650, false), Intent::Agree);
        assert_eq!(classify("什么时候要？", 2650, false), Intent::Question);
        assert_eq!(classify("谢谢", 2650, false), Intent::Thanks);
        assert_eq!(classify("等下给你拍图", 2650, false), Intent::Photo);
        assert_eq!(classify("🙂", 2650, false), Intent::Other);
        assert_eq!(classify("2500", 2650, false), Intent::Price(2500));
        assert_ne!(classify("我175穿刚好", 420, false), Intent::Price(175));
        assert_eq!(first_amount("3点前付款今天发，99.00包邮"), Some(99));
        assert_eq!(first_amount("电池90%"), None);
        assert_eq!(first_amount(""), None);
    }
}
