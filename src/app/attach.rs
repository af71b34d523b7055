//! The picture popup (Ctrl-O): a file path, typed or pasted (dropping a file on most
//! terminals pastes its path); Enter sends the picture to the open conversation.

use super::keymap::Action;
use super::state::{AppState, Focus};
use super::{Effect, update};
use crate::protocol::Content;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The popup's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachView {
    pub path: String,
}

/// Opens the popup for the open conversation (or says that one must be open).
pub(crate) fn open(state: &mut AppState) {
    if state.open.is_none() {
        state.notice = Some(
            crate::text::i18n::strings(state.lang)
                .attach_needs_chat
                .into(),
        );
        return;
    }
    state.attach.get_or_insert_with(AttachView::default);
}

/// A key while the popup is open.
pub(crate) fn on_key(
    state: &mut AppState,
    key: KeyEvent,
    actions: &[Action],
    fx: &mut Vec<Effect>,
) {
    if actions.contains(&Action::ForceQuit) {
        state.attach = None;
        return;
    }
    let Some(view) = state.attach.as_mut() else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => state.attach = None,
        KeyCode::Enter => send(state, fx),
        KeyCode::Backspace => {
            view.path.pop();
        }
        KeyCode::Char('u') if ctrl => view.path.clear(),
        KeyCode::Char(c) if !ctrl => view.path.push(c),
        _ => {}
    }
}

/// A paste while the popup is open: the path of a dropped file, perhaps quoted.
pub(crate) fn on_paste(state: &mut AppState, text: &str) {
    if let Some(view) = state.attach.as_mut() {
        view.path.push_str(&crate::text::one_line(text));
    }
}

/// The path as typed: trimmed, without the quotes a terminal puts around a dropped file with
/// spaces in its name.
fn clean(path: &str) -> &str {
    let p = path.trim();
    ['\'', '"']
        .iter()
        .find_map(|q| p.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
        .unwrap_or(p)
}

/// Sends the picture: shown at once as a local entry (keeping its path), uploaded and sent
/// by the session.
fn send(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(view) = state.attach.take() else {
        return;
    };
    let Some(cid) = state.open.clone() else {
        return;
    };
    let path = clean(&view.path).to_string();
    if path.is_empty() {
        return;
    }
    state.focus = Focus::Messages;
    update::send_local(state, cid, Content::Image { urls: vec![path] }, fx);
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn dropped_paths_lose_their_quotes() {
        assert_eq!(clean("  '/tmp/my photo.jpg' "), "/tmp/my photo.jpg");
        assert_eq!(clean("\"/tmp/a b.png\""), "/tmp/a b.png");
        assert_eq!(clean("/tmp/it's.jpg"), "/tmp/it's.jpg");
    }
}
