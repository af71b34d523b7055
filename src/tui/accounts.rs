//! Several accounts in one messenger: each account not shown has a session beside the shown
//! one, in a state of its own that is never drawn (the same reducer counts its unread
//! messages and decides its notifications), and the switch key replaces the shown session
//! with the next account's, the account left then followed beside.

use super::Runtime;
use crate::app::{self, AccountBadge, AppState, Effect, Input, Msg, UiOptions};
use crate::im::api::ImEvent;
use crate::im::session::{MergedEvents, tagged_events};
use crate::notify::Notification;
use crate::protocol::Uid;
use crate::store::StoreHandle;
use futures_util::StreamExt;
use ratatui::backend::Backend;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

/// One account's session as the messenger uses it.
pub struct Session {
    pub commands: mpsc::Sender<crate::im::api::ImCommand>,
    pub events: mpsc::Receiver<ImEvent>,
    pub store: Option<StoreHandle>,
    pub store_problem: Option<String>,
}

/// The events of an account followed beside the shown one.
pub type BesideSession = (Uid, mpsc::Receiver<ImEvent>);

/// A switch done: the account's session, and the one that follows the account shown until
/// now beside it (`None`: not followed, its unread not counted).
pub struct Switched {
    pub session: Session,
    pub beside: Option<BesideSession>,
}

/// What opens another account's session: the shown one is ended first (a view shows one
/// account), and the account switched to is no longer followed beside.
pub trait Switch {
    fn open<'a>(
        &'a mut self,
        uid: &'a Uid,
    ) -> Pin<Box<dyn Future<Output = color_eyre::Result<Switched>> + 'a>>;
}

/// The accounts the messenger can show: every account, the one shown first, the sessions
/// of the others (none: not counted), and the switch.
pub struct Accounts<'a> {
    pub list: Vec<AccountBadge>,
    pub shown: Uid,
    pub beside: Vec<BesideSession>,
    pub switch: &'a mut dyn Switch,
}

/// An account followed beside the shown one, in a state of its own.
pub(super) struct Beside {
    /// Its place in the merged events.
    tag: usize,
    uid: Uid,
    state: AppState,
}

impl<B: Backend> Runtime<B> {
    /// The accounts of this data directory, `shown` the one this runtime shows.
    pub fn show_accounts(&mut self, list: Vec<AccountBadge>, shown: Uid) {
        self.state.accounts = list;
        self.state.account = Some(shown);
        self.state.dirty = true;
    }

    /// Follows the accounts of `sessions` beside the shown one. Their events are read by
    /// the event loop, or given to [`Runtime::beside_event`].
    pub fn watch_accounts(&mut self, sessions: Vec<BesideSession>) {
        for (uid, events) in sessions {
            self.follow(uid, events);
        }
    }

    fn follow(&mut self, uid: Uid, events: mpsc::Receiver<ImEvent>) {
        if self.state.account.as_ref() == Some(&uid) {
            // The shown state counts and notifies for it.
            return;
        }
        // It only counts and notifies: the language and the bell are all it needs.
        let options = UiOptions {
            lang: self.state.lang,
            bell: self.state.bell,
            ..UiOptions::default()
        };
        let (state, _) = AppState::new(&options, self.state.tz, (self.clock)());
        let tag = self.beside_tags;
        self.beside_tags += 1;
        self.beside.push(Beside { tag, uid, state });
        self.beside_events
            .get_or_insert_with(MergedEvents::new)
            .push(tagged_events(tag, events));
    }

    /// One event of the account beside tagged `tag` (`None`: its session ended).
    pub async fn beside_event(&mut self, tag: usize, event: Option<ImEvent>) {
        let Some(at) = self.beside.iter().position(|b| b.tag == tag) else {
            return;
        };
        let Some(event) = event else {
            let gone = self.beside.remove(at);
            tracing::info!(uid = %gone.uid, "an account beside the shown one is no longer followed");
            return;
        };
        let b = &mut self.beside[at];
        let effects = app::update(&mut b.state, Msg::new((self.clock)(), Input::Im(event)));
        // No count until its list has come: a 0 before it would be a guess.
        let counted = b.state.synced.then(|| b.state.unread_total());
        let uid = b.uid.clone();
        for effect in effects {
            // A buyer of another shop: notified as on the shown one.
            if let Effect::Notify { note, terminal } = effect {
                self.notify(note, terminal, Some(&uid));
            }
        }
        if let Some(unread) = counted {
            self.dispatch(Input::AccountUnread { uid, unread }).await;
        }
    }

    /// Takes the events of the accounts beside that are already waiting (the event loop
    /// does this by itself; a test that drives the runtime step by step calls it).
    pub async fn take_beside_events(&mut self) {
        use futures_util::FutureExt;
        while let Some(Some((tag, ev))) = self
            .beside_events
            .as_mut()
            .map(|e| e.next().now_or_never().flatten())
        {
            self.beside_event(tag, ev).await;
        }
    }

    /// Notifies of account `uid`'s buyer. With several accounts the shop is named first in
    /// the title, and what the notify command reads has an `account` field.
    pub(super) fn notify(&mut self, mut note: Notification, terminal: bool, uid: Option<&Uid>) {
        if let Some(uid) = uid.filter(|_| self.state.accounts.len() > 1) {
            let label = app::accounts::label_of(&self.state, uid);
            note.title = format!("{} · {}", crate::text::one_line(label), note.title);
            if let Some(json) = crate::notify::with_account(&note.json, uid) {
                note.json = json;
            }
        }
        if let Some(n) = self.notifier.as_mut() {
            n.notify(&note, terminal);
        }
    }

    /// The account the user switched to, once this one's view has ended for it.
    pub fn switch_to(&self) -> Option<&Uid> {
        self.state.switch_to.as_ref()
    }

    /// Shows `switched` in `state` (a fresh state of that account) from now on, and follows
    /// the account shown until now beside it: the terminal's side of the old state (size,
    /// focus, mouse) and the accounts go over to it. Returns the session's events, for the
    /// event loop.
    pub async fn show_session(
        &mut self,
        mut state: AppState,
        switched: Switched,
    ) -> mpsc::Receiver<ImEvent> {
        let Switched { session, beside } = switched;
        let old = &self.state;
        state.size = old.size;
        state.terminal_focused = old.terminal_focused;
        state.mouse_capture = old.mouse_capture;
        state.images = old.images;
        state.remote = old.remote;
        state.accounts = old.accounts.clone();
        state.account = old.switch_to.clone().or_else(|| old.account.clone());
        self.state = state;
        self.commands = session.commands;
        self.outgoing.clear();
        self.requested.clear();
        self.view_requested = None;
        self.thumbs.clear_view();
        self.links.clear();
        if let Some(task) = self.login_task.take() {
            task.abort();
        }
        // Counted by the shown state from now on.
        let shown = self.state.account.clone();
        self.beside.retain(|b| Some(&b.uid) != shown.as_ref());
        if let Some((uid, events)) = beside {
            self.follow(uid, events);
        }
        self.attach_store(session.store, session.store_problem)
            .await;
        let (width, height) = self.state.size;
        self.dispatch(Input::Resize { width, height }).await;
        session.events
    }
}

/// The next event of the accounts beside the shown one; never, when there are none.
pub(super) async fn next_beside(events: &mut Option<MergedEvents>) -> (usize, Option<ImEvent>) {
    if let Some(merged) = events.as_mut() {
        if let Some(next) = merged.next().await {
            return next;
        }
        *events = None;
    }
    std::future::pending().await
}
