//! Who needs the seller: buyers waiting for an answer (and for how long), unread messages of
//! buyers counted apart from platform notices, and the key that goes to the next of them.

use super::state::AppState;
use super::thread::Thread;
use crate::protocol::model::SYSTEM_SENDER;
use crate::protocol::{Cid, Conversation, Message};

/// A conversation of the platform (the assistant 闲小蜜, uid 1400) or without a person on
/// the other side: its unread messages are notices, not buyers.
pub fn is_platform(c: &Conversation) -> bool {
    matches!(c.peer.as_str(), "" | "0" | SYSTEM_SENDER)
}

/// A message a buyer typed (or the seller's answer to one): not a notice, a trade card or
/// the assistant.
pub fn is_chat(m: &Message) -> bool {
    !m.is_system()
}

/// The total a conversation's unread messages count in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bucket {
    Buyers,
    Notices,
}

/// Where `c`'s unread messages count; muted conversations count nowhere.
pub(crate) fn bucket(c: &Conversation) -> Option<Bucket> {
    match (c.muted, is_platform(c)) {
        (true, _) => None,
        (false, true) => Some(Bucket::Notices),
        (false, false) => Some(Bucket::Buyers),
    }
}

/// Adds `delta` unread messages to the total of `bucket`.
pub(crate) fn count_unread(state: &mut AppState, bucket: Option<Bucket>, delta: i64) {
    let sum = match bucket {
        None => return,
        Some(Bucket::Buyers) => &mut state.unread_sum,
        Some(Bucket::Notices) => &mut state.notice_sum,
    };
    *sum = sum.saturating_add_signed(delta);
}

/// Whether the buyer of `cid` waits, and since when: `Some(t)` from `t`.
pub fn waiting_since(state: &AppState, cid: &Cid) -> Option<i64> {
    state.waiting.get(cid).copied()
}

/// What a message says about waiting, for the conversation it is in: a buyer's chat message
/// starts a wait (unless one runs already), an own message that reached the service ends it;
/// anything else changes nothing. Returns whether the state changed.
pub(crate) fn note_message(state: &mut AppState, m: &Message) -> bool {
    if !is_chat(m) || state.convs.get(&m.cid).is_some_and(|c| is_platform(c)) {
        return false;
    }
    if m.is_self {
        // A local send (no id yet) is no answer until the service has it.
        !m.id.as_str().is_empty() && state.waiting.remove(&m.cid).is_some()
    } else {
        match state.waiting.get(&m.cid) {
            Some(&t) if t <= m.time => false,
            _ => {
                state.waiting.insert(m.cid.clone(), m.time);
                true
            }
        }
    }
}

/// The wait as the loaded messages of `thread` tell it (see `Thread::waiting_since`); what
/// the thread cannot tell is left as it was. Returns whether the state changed.
pub(crate) fn note_thread(state: &mut AppState, cid: &Cid) -> bool {
    if state.convs.get(cid).is_some_and(|c| is_platform(c)) {
        return false;
    }
    let Some(told) = state.threads.get(cid).and_then(Thread::waiting_since) else {
        return false;
    };
    let before = state.waiting.get(cid).copied();
    match told {
        Some(t) => state.waiting.insert(cid.clone(), t),
        None => state.waiting.remove(cid),
    };
    before != told
}

/// The wait of a conversation from the list, which knows only its last message.
pub(crate) fn note_listed(state: &mut AppState, c: &Conversation) {
    if is_platform(c) {
        state.waiting.remove(&c.cid);
        return;
    }
    if let Some(m) = c.last_message.as_ref().filter(|m| is_chat(m)) {
        if m.is_self {
            state.waiting.remove(&c.cid);
        } else {
            let t = state.waiting.entry(c.cid.clone()).or_insert(m.time);
            *t = (*t).min(m.time);
        }
    }
}

/// The unit a wait of `ms` is shown in, in ms: minutes, then hours, then days.
fn unit_of(ms: i64) -> i64 {
    const MIN: i64 = 60_000;
    if ms < 60 * MIN {
        MIN
    } else if ms < 24 * 60 * MIN {
        60 * MIN
    } else {
        24 * 60 * MIN
    }
}

/// How long until the shown wait of a conversation waiting since `since` changes.
pub fn label_changes_in(since: i64, now: i64) -> i64 {
    let waited = now.saturating_sub(since).max(0);
    let unit = unit_of(waited);
    (unit - waited % unit).max(1)
}

/// The next conversation (after the selected one, wrapping) with a waiting buyer or unread
/// buyer messages. Platform conversations are skipped: they are not somebody waiting.
pub(crate) fn next(state: &AppState) -> Option<usize> {
    let visible = state.visible();
    let n = visible.len();
    let start = state.selected_index().map_or(0, |i| i + 1);
    (0..n).map(|k| (start + k) % n).find(|&i| {
        let cid = &visible[i];
        state.waiting.contains_key(cid)
            || state
                .convs
                .get(cid)
                .is_some_and(|c| c.unread > 0 && !is_platform(c))
    })
}
