//! The picture viewer: the selected message's picture over the whole message pane, with its
//! size and link. `o` opens a picture or a link with the desktop's opener when the program runs
//! on the user's own machine; over SSH the link is offered instead (copied, and clickable).

use super::cursor::selected;
use super::{Action, AppState, Effect};
use crate::protocol::Content;
use crate::text::{i18n, links};

/// The first picture of a message.
fn picture_of(content: &Content) -> Option<String> {
    match content {
        Content::Image { urls } => urls.first().cloned(),
        _ => None,
    }
}

/// The first picture, else the first link, of a message.
fn link_of(content: &Content) -> Option<String> {
    match content {
        Content::Text { text } => links::find(text)
            .first()
            .and_then(|r| text.get(r.clone()))
            .map(String::from),
        _ => picture_of(content),
    }
}

/// Shows the selected message's picture.
pub(crate) fn open(state: &mut AppState) {
    match selected(state).and_then(|(_, e)| picture_of(&e.content)) {
        Some(u) => state.viewer = Some(u),
        None => state.notice = Some(i18n::strings(state.lang).no_picture.into()),
    }
}

/// Opens the selected message's picture or link.
pub(crate) fn open_selected_link(state: &mut AppState, fx: &mut Vec<Effect>) {
    match selected(state).and_then(|(_, e)| link_of(&e.content)) {
        Some(url) => open_url(state, url, fx),
        None => state.notice = Some(i18n::strings(state.lang).no_link.into()),
    }
}

/// Opens `url` here, or offers it when the program runs over SSH (an opener would open it on
/// the remote machine, where nobody looks).
fn open_url(state: &mut AppState, url: String, fx: &mut Vec<Effect>) {
    let s = i18n::strings(state.lang);
    if state.remote {
        fx.push(Effect::Copy(url));
        state.notice = Some(s.link_offered.into());
    } else {
        fx.push(Effect::OpenUrl(url));
        state.notice = Some(s.opening.into());
    }
}

/// A key while the viewer is open.
pub(crate) fn on_key(state: &mut AppState, actions: &[Action], fx: &mut Vec<Effect>) {
    let Some(url) = state.viewer.clone() else {
        return;
    };
    for a in actions {
        match a {
            Action::Back | Action::Quit | Action::View => {
                state.viewer = None;
                return;
            }
            Action::OpenLink => {
                open_url(state, url, fx);
                return;
            }
            Action::Copy => {
                fx.push(Effect::Copy(url));
                state.notice = Some(i18n::strings(state.lang).copied.into());
                return;
            }
            _ => {}
        }
    }
}

/// Whether the program runs over SSH (`getenv` reads the environment), by the same variables
/// as the notifications.
pub fn over_ssh(getenv: impl Fn(&str) -> Option<String>) -> bool {
    crate::notify::is_ssh(&getenv)
}

/// The desktop's opener on this system.
pub fn opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}
