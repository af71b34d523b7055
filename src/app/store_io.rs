//! What the reducer asks of the local history and what comes back. The runtime runs the
//! requests in order on the store and feeds each reply back as `Input::Store`.

use super::state::AppState;
use super::thread::Thread;
use super::{Effect, update};
use crate::protocol::{Cid, Conversation, Message, MessageId};
use crate::store::SearchHit;

/// Messages per page read from the store.
pub const STORE_PAGE: usize = 50;
/// Older messages shown above a search result when jumping to it.
pub const JUMP_CONTEXT: usize = 20;
/// At most this many newer messages are read below a search result.
pub const JUMP_NEWER_CAP: usize = 5_000;
/// Search results shown.
pub const SEARCH_LIMIT: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub enum StoreRequest {
    /// Up to `STORE_PAGE` messages of `cid` strictly older than `before` (the newest when
    /// `None`).
    Messages {
        cid: Cid,
        before: Option<(i64, MessageId)>,
    },
    /// The messages around a search result: some older ones and everything newer.
    Around {
        cid: Cid,
        time: i64,
        id: MessageId,
    },
    Search {
        query: String,
    },
    /// Keep the unsent text of a conversation; empty text deletes it.
    SaveDraft {
        cid: Cid,
        text: String,
    },
    /// A recalled message: it goes from the local history.
    Forget {
        id: MessageId,
    },
}

impl StoreRequest {
    /// The request's name, for logs (its content may be private text).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreRequest::Messages { .. } => "messages",
            StoreRequest::Around { .. } => "around",
            StoreRequest::Search { .. } => "search",
            StoreRequest::SaveDraft { .. } => "save_draft",
            StoreRequest::Forget { .. } => "forget",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoreReply {
    /// What the store holds at start-up, shown before the network answers.
    Startup {
        conversations: Vec<Conversation>,
        drafts: Vec<(Cid, String)>,
    },
    /// There is no local history this run (it could not be opened, or it failed).
    Unavailable { reason: String },
    Messages {
        cid: Cid,
        before: Option<(i64, MessageId)>,
        messages: Vec<Message>,
    },
    Around {
        cid: Cid,
        id: MessageId,
        messages: Vec<Message>,
    },
    Search {
        query: String,
        result: Result<Vec<SearchHit>, String>,
    },
    /// A request that answers nothing (a draft save) failed.
    Failed { reason: String },
}

/// Applies one reply from the store.
pub(crate) fn on_store(state: &mut AppState, reply: StoreReply, fx: &mut Vec<Effect>) {
    state.dirty = true;
    match reply {
        StoreReply::Startup {
            conversations,
            drafts,
        } => {
            state.has_store = true;
            for (cid, text) in drafts {
                state.drafts.entry(cid).or_insert(text);
            }
            // The session's own list may already be here; the cache never overrides it.
            if !state.synced && !conversations.is_empty() {
                update::show_conversations(state, conversations);
                state.cached = true;
            }
        }
        StoreReply::Unavailable { reason } => {
            state.has_store = false;
            state.store_problem = Some(reason);
        }
        StoreReply::Failed { reason } => {
            state.notice = Some(reason);
        }
        StoreReply::Messages {
            cid,
            before,
            messages,
        } => {
            let thread = state.threads.entry(cid.clone()).or_default();
            let full = messages.len() >= STORE_PAGE;
            let added = thread.add_stored(messages);
            if before.is_some() {
                thread.loading = false;
                thread.store_more = full && added > 0;
            } else if !full {
                // The newest page was all there is: nothing older in the store.
                thread.store_more = false;
            }
        }
        StoreReply::Around { cid, id, messages } => {
            let thread = state.threads.entry(cid.clone()).or_default();
            thread.add_stored(messages);
            if let Some(i) = thread.index_of(&id) {
                thread.set_anchor(i);
            }
            state.jumped_to = Some(id);
        }
        StoreReply::Search { query, result } => {
            super::search::on_result(state, query, result, fx);
        }
    }
}

/// Asks the store for the page before the oldest loaded message of `cid`, once.
pub(crate) fn load_older_from_store(thread: &mut Thread, cid: &Cid, fx: &mut Vec<Effect>) {
    if thread.loading || !thread.store_more {
        return;
    }
    thread.loading = true;
    fx.push(Effect::Store(StoreRequest::Messages {
        cid: cid.clone(),
        before: thread
            .entries()
            .first()
            .and_then(|e| Some((e.time, e.id()?.clone()))),
    }));
}

/// Writes the open conversation's draft to the store if it changed since it was last saved.
pub(crate) fn persist_draft(state: &mut AppState, fx: &mut Vec<Effect>) {
    if state.draft_changed_at.take().is_none() || !state.has_store {
        return;
    }
    if let Some(cid) = state.open.clone() {
        let text = state.compose.lines().join("\n");
        fx.push(Effect::Store(StoreRequest::SaveDraft { cid, text }));
    }
}
