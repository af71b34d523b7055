//! Runs the scenario: the spontaneous buyer traffic of `demo` and the buyers' answers to what
//! the seller sends, turned into world changes (by `scenario::apply`) and pushes.

use super::scenario::{self, Action, Outcome};
use super::state::Sim;
use crate::protocol::encode::{
    PushItem, chat_message_item, order_status_item, receipt_item, typing_item,
};
use crate::protocol::{Message, Uid};
use std::sync::Arc;
use std::time::Duration;

/// Runs the scenario's spontaneous traffic until the simulator stops.
pub fn spawn(sim: Arc<Sim>) {
    tokio::spawn(async move {
        let mut stop = sim.stop.clone();
        loop {
            let next = {
                let mut st = sim.state();
                let st = &mut *st;
                st.director.next_spontaneous(&st.world)
            };
            let Some((delay, action)) = next else { break };
            tokio::select! {
                _ = tokio::time::sleep(delay) => apply(&sim, &action),
                _ = stop.changed() => break,
            }
        }
    });
}

/// Runs each action after its delay (delays count from now, not from each other).
pub fn schedule(sim: Arc<Sim>, actions: Vec<(Duration, Action)>) {
    if actions.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut stop = sim.stop.clone();
        let start = tokio::time::Instant::now();
        for (delay, action) in actions {
            tokio::select! {
                _ = tokio::time::sleep_until(start + delay) => apply(&sim, &action),
                _ = stop.changed() => return,
            }
        }
    });
}

/// A chat message as a bizType 40000 push item addressed to `receiver`.
pub fn chat_push(msg: &Message, receiver: &Uid) -> PushItem {
    PushItem {
        biz_type: 40000,
        data: chat_message_item(msg, receiver),
    }
}

/// The bizType of the order-status push is not in the capture [U]; 40005 ("conversation
/// extension changed", §7.2) is the closest name: the state is part of the conversation.
const ORDER_STATUS_BIZ_TYPE: i64 = 40005;

/// The push item an outcome becomes, as the account's clients see it.
pub fn push_item(outcome: &Outcome, self_uid: &Uid) -> PushItem {
    match outcome {
        Outcome::Message(m) => chat_push(m, self_uid),
        Outcome::Typing { cid, uid } => PushItem {
            biz_type: 40006,
            data: typing_item(uid, cid, crate::time::now_ms()),
        },
        Outcome::Read(r) => PushItem {
            biz_type: 40103,
            data: receipt_item(&r.cid, &r.ids, r.time),
        },
        Outcome::OrderState {
            cid,
            red_reminder,
            time,
        } => PushItem {
            biz_type: ORDER_STATUS_BIZ_TYPE,
            data: order_status_item(cid, red_reminder, *time),
        },
    }
}

/// Applies one action to the world and pushes what came of it.
pub fn apply(sim: &Sim, action: &Action) {
    let now = crate::time::now_ms();
    let self_uid = sim.self_uid();
    let outcomes = scenario::apply(&mut sim.state().world, action, now);
    sim.push_items(outcomes.iter().map(|o| push_item(o, &self_uid)).collect());
}
