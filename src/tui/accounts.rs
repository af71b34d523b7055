//! Several accounts in one messenger: the other accounts' sessions run beside the shown one,
//! each in a state of its own that is never drawn (the same reducer counts its unread
//! messages and decides its notifications), and the switch key replaces the shown session
//! with the next account's.

use super::Runtime;
use crate::app::{self, AccountBadge, AppState, Effect, Input, Msg, UiOptions};
use crate::im::api::ImEvent;
use crate::im::session::{MergedEvents, merge_events};
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

/// What opens another account's session: the shown one is ended first (a data directory's
/// account has one session in a view).
pub trait Switch {
    fn open<'a>(
        &'a mut self,
        uid: &'a Uid,
    ) -> Pin<Box<dyn Future<Output = color_eyre::Result<Session>> + 'a>>;
}

/// The accounts the messenger can show: every account, the one shown first, the sessions
/// that run beside it for the unread counts (none: not counted), and the switch.
pub struct Accounts<'a> {
    pub list: Vec<AccountBadge>,
    pub shown: Uid,
    pub beside: Vec<(Uid, mpsc::Receiver<ImEvent>)>,
    pub switch: &'a mut dyn Switch,
}

/// Another account's session, in a state of its own.
pub(super) struct Beside {
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

    /// The sessions of accounts beside the shown one (the shown one's may be among them: its
    /// count and notifications come from the shown state while it is shown). Their events
    /// are read by the event loop, or given to [`Runtime::beside_event`].
    pub fn watch_accounts(
        &mut self,
        options: &UiOptions,
        sessions: Vec<(Uid, mpsc::Receiver<ImEvent>)>,
    ) {
        let now = (self.clock)();
        let (receivers, beside): (Vec<_>, Vec<_>) = sessions
            .into_iter()
            .map(|(uid, rx)| {
                let (state, _) = AppState::new(options, self.state.tz, now);
                (rx, Beside { uid, state })
            })
            .unzip();
        self.beside = beside;
        self.beside_events = Some(merge_events(receivers));
    }

    /// One event of the session beside at `index` (`None`: it ended).
    pub async fn beside_event(&mut self, index: usize, event: Option<ImEvent>) {
        let shown = self.state.account.clone();
        let Some(b) = self.beside.get_mut(index) else {
            return;
        };
        let Some(event) = event else {
            tracing::info!(uid = %b.uid, "the session of an account beside the shown one ended");
            return;
        };
        let effects = app::update(&mut b.state, Msg::new((self.clock)(), Input::Im(event)));
        if shown.as_ref() == Some(&b.uid) {
            return;
        }
        let (uid, unread) = (b.uid.clone(), b.state.unread_total());
        let label = self
            .state
            .accounts
            .iter()
            .find(|a| a.uid == uid)
            .map_or_else(|| uid.to_string(), |a| a.label().to_string());
        for effect in effects {
            // A buyer of another shop: notified as on the shown one, the shop named.
            if let Effect::Notify { mut note, terminal } = effect {
                note.title = format!("{label} · {}", note.title);
                self.execute(Effect::Notify { note, terminal }).await;
            }
        }
        self.dispatch(Input::AccountUnread { uid, unread }).await;
    }

    /// Takes the events of the sessions beside that are already waiting (the event loop
    /// does this by itself; a test that drives the runtime step by step calls it).
    pub async fn take_beside_events(&mut self) {
        use futures_util::FutureExt;
        while let Some(Some((i, ev))) = self
            .beside_events
            .as_mut()
            .map(|e| e.next().now_or_never().flatten())
        {
            self.beside_event(i, ev).await;
        }
    }

    /// The account the user switched to, once this one's view has ended for it.
    pub fn switch_to(&self) -> Option<&Uid> {
        self.state.switch_to.as_ref()
    }

    /// Shows `session` in `state` (a fresh state of that account) from now on: the terminal's
    /// side of the old state (size, focus, mouse) and the accounts go over to it.
    /// Returns the session's events, for the event loop.
    pub async fn show_session(
        &mut self,
        mut state: AppState,
        session: Session,
    ) -> mpsc::Receiver<ImEvent> {
        let Session {
            commands,
            events,
            store,
            store_problem,
        } = session;
        let old = &self.state;
        state.size = old.size;
        state.terminal_focused = old.terminal_focused;
        state.mouse_capture = old.mouse_capture;
        state.images = old.images;
        state.remote = old.remote;
        state.accounts = old.accounts.clone();
        state.account = old.switch_to.clone().or_else(|| old.account.clone());
        self.state = state;
        self.commands = commands;
        self.outgoing.clear();
        self.requested.clear();
        self.view_requested = None;
        self.thumbs.clear_view();
        self.links.clear();
        if let Some(task) = self.login_task.take() {
            task.abort();
        }
        // The counts kept beside for the account shown until now are shown again.
        let counts: Vec<_> = self
            .beside
            .iter()
            .map(|b| (b.uid.clone(), b.state.unread_total()))
            .collect();
        for (uid, unread) in counts {
            self.dispatch(Input::AccountUnread { uid, unread }).await;
        }
        self.attach_store(store, store_problem).await;
        let (width, height) = self.state.size;
        self.dispatch(Input::Resize { width, height }).await;
        events
    }
}

/// The next event of the sessions beside the shown one; never, when there are none.
pub(super) async fn next_beside(events: &mut Option<MergedEvents>) -> (usize, Option<ImEvent>) {
    if let Some(merged) = events.as_mut() {
        if let Some(next) = merged.next().await {
            return next;
        }
        *events = None;
    }
    std::future::pending().await
}
