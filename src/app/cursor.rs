//! What can be done with the message under the cursor of the message pane (the one at the
//! bottom of the view, highlighted): recall an own message, copy it, put a failed one back
//! into the compose box, or discard it.

use super::state::{AppState, Focus, new_compose};
use super::store_io::StoreRequest;
use super::thread::{Delivery, Entry, EntryKey};
use super::{Effect, update};
use crate::im::api::ImCommand;
use crate::protocol::{Cid, Content, MessageId};
use crate::text::i18n;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

/// How long after sending an own message may be recalled (§6.11 [L]: a client offers it for
/// 2 minutes, taken as the service's rule; the service has the last word).
pub const RECALL_WINDOW_MS: i64 = 2 * 60 * 1000;

/// A question the user answers with y or n.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    Recall { cid: Cid, id: MessageId },
}

/// The open conversation and the entry under the cursor.
pub(crate) fn selected(state: &AppState) -> Option<(Cid, &Entry)> {
    let cid = state.open.clone()?;
    let thread = state.thread(&cid)?;
    let e = thread.entries().get(thread.anchor_index()?)?;
    Some((cid, e))
}

fn say(state: &mut AppState, text: impl Into<String>) {
    state.notice = Some(text.into());
}

/// Whether `e` may be recalled at `now`; the reason why not otherwise.
fn recallable(e: &Entry, now: i64, s: &i18n::Strings) -> Result<MessageId, &'static str> {
    if !e.is_self || e.recalled {
        return Err(s.recall_own_only);
    }
    let Some(id) = e.id() else {
        return Err(s.recall_not_sent);
    };
    if now.saturating_sub(e.time) > RECALL_WINDOW_MS {
        return Err(s.recall_too_late);
    }
    Ok(id.clone())
}

/// Asks to confirm recalling the selected message (or says why it cannot be).
pub(crate) fn recall(state: &mut AppState) {
    let s = i18n::strings(state.lang);
    let Some((cid, e)) = selected(state) else {
        return;
    };
    match recallable(e, state.now_ms, s) {
        Ok(id) => state.confirm = Some(Confirm::Recall { cid, id }),
        Err(why) => say(state, why),
    }
}

/// A key while a question is open: y or Enter does it, anything else leaves it.
pub(crate) fn on_confirm_key(state: &mut AppState, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(q) = state.confirm.take() else {
        return;
    };
    if !matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter) {
        return;
    }
    let s = i18n::strings(state.lang);
    match q {
        Confirm::Recall { cid, id } => {
            // The window may have closed while the question was open.
            let still = state
                .thread(&cid)
                .and_then(|t| t.index_of(&id).map(|i| &t.entries()[i]))
                .map(|e| recallable(e, state.now_ms, s));
            match still {
                Some(Ok(_)) => {
                    say(state, s.recalling);
                    fx.push(Effect::Im(ImCommand::Recall { cid, id }));
                }
                Some(Err(why)) => say(state, why),
                None => {}
            }
        }
    }
}

/// The answer to a recall this program asked for.
pub(crate) fn on_recall_result(
    state: &mut AppState,
    cid: Cid,
    id: MessageId,
    result: Result<(), String>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(()) => {
            state.notice = None;
            recalled(state, Some(cid), &id, fx);
        }
        Err(reason) => {
            let s = i18n::strings(state.lang);
            let detail = i18n::detail(state.lang, &reason);
            say(state, format!("{}: {detail}", s.recall_failed));
        }
    }
}

/// A message was recalled (by us, or the buyer's 40104 push): its text goes, in the pane, the
/// list's preview and the local history (a recalled text must not come back after a
/// restart, nor be found by search).
pub(crate) fn recalled(
    state: &mut AppState,
    cid: Option<Cid>,
    id: &MessageId,
    fx: &mut Vec<Effect>,
) {
    let found = match cid.as_ref().and_then(|c| state.threads.get_mut(c)) {
        Some(t) => t.recall(id).then(|| cid.clone()).flatten(),
        None => state
            .threads
            .iter_mut()
            .find_map(|(c, t)| t.recall(id).then(|| c.clone())),
    };
    let cid = found.or(cid);
    let s = i18n::strings(state.lang);
    if let Some(c) = cid.as_ref().and_then(|c| state.convs.get_mut(c))
        && let Some(last) = c.last_message.as_mut().filter(|m| &m.id == id)
    {
        let text = if last.is_self {
            s.recalled_self
        } else {
            s.recalled_peer
        };
        last.content = Content::Notice { text: text.into() };
    }
    if let Some(cid) = &cid {
        super::attention::note_thread(state, cid);
        update::reposition(state, cid);
    }
    if state.has_store {
        fx.push(Effect::Store(StoreRequest::Forget { id: id.clone() }));
    }
}

/// Copies the selected message's text to the terminal's clipboard.
pub(crate) fn copy(state: &mut AppState, fx: &mut Vec<Effect>) {
    let s = i18n::strings(state.lang);
    let Some(text) = selected(state).and_then(|(_, e)| e.copy_text()) else {
        say(state, s.copy_nothing);
        return;
    };
    fx.push(Effect::Copy(text));
    say(state, s.copied);
}

/// The selected failed send, taken out of its thread, with its conversation.
fn take_failed(state: &mut AppState) -> Option<(Cid, Entry)> {
    let s = i18n::strings(state.lang);
    let (cid, e) = selected(state)?;
    let key = match (&e.key, &e.delivery) {
        (EntryKey::Local(c), Delivery::Failed(_)) => c.clone(),
        _ => {
            say(state, s.not_failed);
            return None;
        }
    };
    let entry = state.threads.get_mut(&cid)?.take_local(&key)?;
    restore_preview(state, &cid);
    Some((cid, entry))
}

/// After a local entry went away, the list shows the thread's newest message again.
fn restore_preview(state: &mut AppState, cid: &Cid) {
    let last = state
        .threads
        .get(cid)
        .and_then(|t| t.entries().last())
        .map(|e| e.to_message(cid));
    if let Some(c) = state.convs.get_mut(cid) {
        c.last_message = last;
    }
}

/// Puts the selected failed send back into the compose box (a picture: back into the picture
/// popup), so it can be changed and sent again. A draft already there is kept below it.
pub(crate) fn edit(state: &mut AppState) {
    let Some((cid, entry)) = take_failed(state) else {
        return;
    };
    match entry.content {
        Content::Text { text } => {
            let draft = state.draft(&cid);
            let joined = if draft.trim().is_empty() {
                text.to_string()
            } else {
                format!("{text}\n{draft}")
            };
            state.compose = new_compose(&joined);
            update::draft_changed(state);
            state.focus = Focus::Compose;
        }
        Content::Image { urls } => {
            state.attach = Some(super::AttachView {
                path: urls.into_iter().next().unwrap_or_default(),
            });
        }
        _ => {}
    }
}

/// Drops the selected failed send.
pub(crate) fn discard(state: &mut AppState) {
    if take_failed(state).is_some() {
        say(state, i18n::strings(state.lang).discarded);
    }
}
