//! The search popup (Ctrl-F): a query typed as in a text field, results from the store as
//! they come, Enter jumps to the message in its conversation.

use super::keymap::Action;
use super::state::{AppState, Focus};
use super::store_io::StoreRequest;
use super::{Effect, update};
use crate::protocol::{Conversation, Uid};
use crate::store::SearchHit;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The popup's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchView {
    pub query: String,
    pub hits: Vec<SearchHit>,
    /// The query `hits` answer.
    pub answered: String,
    pub selected: usize,
    /// A query is at the store; the next one waits for its answer.
    pub in_flight: bool,
    pub error: Option<String>,
}

impl SearchView {
    /// Whether the hits shown are for an older query than the one typed.
    pub fn stale(&self) -> bool {
        self.answered != self.query.trim()
    }
}

/// Opens the popup (or says why it cannot).
pub(crate) fn open(state: &mut AppState) {
    if !state.has_store {
        state.notice = Some(
            crate::text::i18n::strings(state.lang)
                .search_unavailable
                .into(),
        );
        return;
    }
    if state.search.is_none() {
        state.search = Some(SearchView::default());
    }
}

/// A key while the popup is open.
pub(crate) fn on_key(
    state: &mut AppState,
    key: KeyEvent,
    actions: &[Action],
    fx: &mut Vec<Effect>,
) {
    let Some(view) = state.search.as_mut() else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let move_by = |view: &mut SearchView, d: isize| {
        let last = view.hits.len().saturating_sub(1);
        view.selected = view.selected.saturating_add_signed(d).min(last);
    };
    match key.code {
        KeyCode::Esc => {
            state.search = None;
            return;
        }
        KeyCode::Enter => {
            jump(state, fx);
            return;
        }
        KeyCode::Up => move_by(view, -1),
        KeyCode::Down => move_by(view, 1),
        KeyCode::PageUp => move_by(view, -10),
        KeyCode::PageDown => move_by(view, 10),
        KeyCode::Char('p') if ctrl => move_by(view, -1),
        KeyCode::Char('n') if ctrl => move_by(view, 1),
        KeyCode::Char('u') if ctrl => view.query.clear(),
        KeyCode::Backspace => {
            view.query.pop();
        }
        KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
            view.query.push(c)
        }
        _ => {
            if actions.contains(&Action::ForceQuit) {
                state.search = None;
            }
            return;
        }
    }
    ask(state, fx);
}

/// Text pasted while the popup is open joins the query.
pub(crate) fn on_paste(state: &mut AppState, text: &str, fx: &mut Vec<Effect>) {
    if let Some(view) = state.search.as_mut() {
        view.query.push_str(&crate::text::one_line(text));
        ask(state, fx);
    }
}

/// Sends the typed query unless one is already out (its answer triggers the next) or the
/// shown results already answer it.
fn ask(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(view) = state.search.as_mut() else {
        return;
    };
    let query = view.query.trim().to_string();
    if view.in_flight || !view.stale() {
        return;
    }
    if query.is_empty() {
        view.hits.clear();
        view.answered.clear();
        view.selected = 0;
        view.error = None;
        return;
    }
    view.in_flight = true;
    fx.push(Effect::Store(StoreRequest::Search { query }));
}

pub(crate) fn on_result(
    state: &mut AppState,
    query: String,
    result: Result<Vec<SearchHit>, String>,
    fx: &mut Vec<Effect>,
) {
    let Some(view) = state.search.as_mut() else {
        return;
    };
    view.in_flight = false;
    match result {
        Ok(hits) => {
            view.hits = hits;
            view.error = None;
        }
        Err(e) => {
            view.hits.clear();
            view.error = Some(e);
        }
    }
    view.answered = query;
    view.selected = 0;
    // The user typed on while this one ran.
    ask(state, fx);
}

/// Opens the selected result's conversation with the message in view.
fn jump(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(view) = state.search.take() else {
        return;
    };
    let Some(hit) = view.hits.get(view.selected) else {
        // Nothing to jump to: keep the popup.
        state.search = Some(view);
        return;
    };
    let m = &hit.message;
    let cid = m.cid.clone();
    if !state.convs.contains_key(&cid) {
        // Older than the pages of the list the service gave: back from the store (or made of
        // what the message tells), so the header names the peer and a reply knows where to go.
        let mut conv = hit
            .conversation
            .clone()
            .filter(|c| c.cid == cid)
            .unwrap_or_else(|| Conversation {
                cid: cid.clone(),
                peer: if m.is_self {
                    Uid::default()
                } else {
                    m.sender.clone()
                },
                peer_nick: (!m.is_self)
                    .then(|| m.sender_nick.as_deref().map(str::to_string))
                    .flatten(),
                item_id: m.item_id.as_deref().map(str::to_string),
                modify_time: m.time,
                ..Default::default()
            });
        conv.unread = 0;
        state.convs.insert(cid.clone(), Box::new(conv));
        state.recount_unread();
        update::reposition(state, &cid);
    }
    if state.filter.is_some() && !state.visible().contains(&cid) {
        state.filter = None;
        update::refilter(state);
    }
    update::open(state, cid.clone(), fx);
    state.focus = Focus::Messages;
    let thread = state.threads.entry(cid.clone()).or_default();
    match thread.index_of(&m.id) {
        Some(i) => {
            thread.set_anchor(i);
            state.jumped_to = Some(m.id.clone());
        }
        None => fx.push(Effect::Store(StoreRequest::Around {
            cid,
            time: m.time,
            id: m.id.clone(),
        })),
    }
}
