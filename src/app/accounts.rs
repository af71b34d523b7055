//! The accounts of this data directory as the status bar shows them, and the key that
//! switches to the next one. The reducer only decides: it ends the view of this account
//! with `switch_to` set, and the runtime opens that account's session.

use super::{AppState, Effect};
use crate::protocol::Uid;

/// One account of this data directory and its buyers' unread messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountBadge {
    pub uid: Uid,
    pub nick: Option<String>,
    /// As last counted by the runtime (the shown account's comes from the state itself);
    /// `None` while nothing counts it (no session of it runs beside the shown one).
    pub unread: Option<u64>,
}

impl AccountBadge {
    pub fn new(uid: Uid, nick: Option<String>) -> AccountBadge {
        AccountBadge {
            uid,
            nick,
            unread: None,
        }
    }

    /// The nick, else the uid.
    pub fn label(&self) -> &str {
        self.nick.as_deref().unwrap_or(self.uid.as_str())
    }
}

/// How the state names account `uid`: its nick, else the uid.
pub fn label_of<'a>(state: &'a AppState, uid: &'a Uid) -> &'a str {
    state
        .accounts
        .iter()
        .find(|a| &a.uid == uid)
        .map_or(uid.as_str(), AccountBadge::label)
}

/// The account after the shown one, in the order of the list (around at the end).
pub fn next(state: &AppState) -> Option<&AccountBadge> {
    let list = &state.accounts;
    if list.len() < 2 {
        return None;
    }
    let shown = state.account.as_ref()?;
    let at = list.iter().position(|a| &a.uid == shown)?;
    list.get((at + 1) % list.len())
}

/// The switch key: ends this account's view for the next one, its draft saved as on quit.
pub(super) fn switch(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(to) = next(state).cloned() else {
        state.notice = Some(crate::text::accounts::only_one(state.lang).into());
        return;
    };
    state.notice = Some(crate::text::accounts::switching(state.lang, to.label()));
    state.switch_to = Some(to.uid);
    super::update::quit(state, fx);
}

/// Another account's unread count changed.
pub(super) fn set_unread(state: &mut AppState, uid: &Uid, unread: u64) {
    if let Some(badge) = state.accounts.iter_mut().find(|a| &a.uid == uid)
        && badge.unread != Some(unread)
    {
        badge.unread = Some(unread);
        state.dirty = true;
    }
}
