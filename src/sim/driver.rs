//! Runs the scenario: the spontaneous buyer traffic of `demo` and the buyers' answers to what
//! the seller sends, turned into world changes (by `scenario::apply`) and pushes.

use super::scenario::{self, Action, Outcome};
use super::state::Sim;
use crate::protocol::encode::{
    PushItem, card_update_item, chat_message_item, receipt_item, typing_item,
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

/// The push item an outcome becomes, as the account's clients see it. `peer` is the buyer
/// of the outcome's conversation.
pub fn push_item(outcome: &Outcome, self_uid: &Uid, peer: Option<&Uid>) -> PushItem {
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
        Outcome::CardUpdate {
            cid,
            text,
            red_reminder,
            update_key,
            time,
        } => {
            // The sender of an order-state update is the buyer, like the order card itself.
            let sender = peer.unwrap_or(self_uid);
            PushItem {
                biz_type: 40000,
                data: card_update_item(cid, sender, text, red_reminder, update_key, *time),
            }
        }
    }
}

/// Applies one action to the world and pushes what came of it.
pub fn apply(sim: &Sim, action: &Action) {
    let now = crate::time::now_ms();
    let self_uid = sim.self_uid();
    let (outcomes, peer) = {
        let mut st = sim.state();
        let outcomes = scenario::apply(&mut st.world, action, now);
        let cid = outcomes.iter().find_map(|o| match o {
            Outcome::CardUpdate { cid, .. } => Some(cid.clone()),
            _ => None,
        });
        let peer = cid.and_then(|c| st.world.thread(&c).map(|t| t.conv.peer.clone()));
        (outcomes, peer)
    };
    sim.push_items(
        outcomes
            .iter()
            .map(|o| push_item(o, &self_uid, peer.as_ref()))
            .collect(),
    );
}
