//! The messenger's sessions: the shown account's, and, when the data directory has several
//! accounts and a background core serves them, a view of each other account beside it (for
//! their unread counts and notifications). The switch key ends the shown session and opens
//! the next account's; the account left is then followed beside.

use crate::accounts;
use crate::app::AccountBadge;
use crate::config::Settings;
use crate::daemon::upgrade::Ask;
use crate::protocol::Uid;
use crate::run::{self, Connection};
use crate::tui::{BesideSession, Session, Switch, Switched};
use color_eyre::eyre::{Result, eyre};
use std::future::Future;
use std::pin::Pin;

/// The name the views beside the shown one have in `daemon --status`.
pub const BESIDE_VIEW: &str = "tui (unread)";

/// Opens the sessions of the messenger and ends them.
pub struct Sessions<'a> {
    settings: &'a Settings,
    ask: &'a dyn Ask,
    shown: Option<Connection>,
    /// Whose `shown` is (or was, until a switch that failed).
    shown_uid: Option<Uid>,
    /// The views of the accounts not shown, when the core serves them.
    beside: Vec<(Uid, Connection)>,
}

impl<'a> Sessions<'a> {
    /// `first`: the session of the account shown at start (already open: opening it may
    /// have asked a question or logged in).
    pub fn new(settings: &'a Settings, ask: &'a dyn Ask, first: Connection) -> Sessions<'a> {
        let shown_uid = run::login_account(settings).ok().map(|l| l.account.uid);
        Sessions {
            settings,
            ask,
            shown: Some(first),
            shown_uid,
            beside: Vec::new(),
        }
    }

    /// The first session as the messenger takes it.
    pub fn first(&mut self) -> Result<Session> {
        let conn = self
            .shown
            .as_mut()
            .ok_or_else(|| eyre!("no session is open"))?;
        Ok(session_of(conn))
    }

    /// The accounts the messenger can switch between, with a view of each one not shown
    /// when they are the core's; `None` with one account (or in the demo, or with a given
    /// cookie).
    pub async fn accounts(&mut self) -> Option<(Vec<AccountBadge>, Uid, Vec<BesideSession>)> {
        if self.settings.demo || self.settings.cookie.is_some() {
            return None;
        }
        let list = accounts::list(&self.settings.paths.data_dir);
        if list.len() < 2 {
            return None;
        }
        let shown = self.shown_uid.clone()?;
        // Only what the core serves now: one it would have to connect first (a login of
        // its own to check) waits until the user switches to it.
        let served: Vec<Uid> = match crate::daemon::status(self.settings).await {
            Ok(Some(status)) => status.accounts.into_iter().map(|a| a.account).collect(),
            _ => Vec::new(),
        };
        let mut beside = Vec::new();
        for account in list
            .iter()
            .filter(|a| a.uid != shown && served.contains(&a.uid))
        {
            beside.extend(self.follow(&account.uid).await);
        }
        let badges = list
            .into_iter()
            .map(|a| AccountBadge::new(a.uid, a.nick))
            .collect();
        Some((badges, shown, beside))
    }

    /// A view of `uid` beside the shown one, when the shown one is the core's (without the
    /// core, it would be a connection of its own).
    async fn follow(&mut self, uid: &Uid) -> Option<BesideSession> {
        if !self.shown.as_ref().is_some_and(|c| c.attached) {
            return None;
        }
        let settings = for_account(self.settings, uid);
        let mut conn = match crate::daemon::attach(&settings, BESIDE_VIEW, false, self.ask).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(%uid, "the unread of an account is not counted: {e:#}");
                return None;
            }
        };
        conn.session.ask_for_list().await.ok()?;
        let events = conn.session.take_events();
        self.beside.push((uid.clone(), conn));
        Some((uid.clone(), events))
    }

    /// Ends every session.
    pub async fn close(mut self) {
        if let Some(conn) = self.shown.take() {
            conn.shutdown().await;
        }
        for (_, conn) in self.beside.drain(..) {
            conn.shutdown().await;
        }
    }
}

impl Switch for Sessions<'_> {
    /// The shown session ends; `uid`'s opens (on failure the others are as they were, and
    /// nothing is shown); `uid` is no longer followed beside, the account left is.
    fn open<'b>(
        &'b mut self,
        uid: &'b Uid,
    ) -> Pin<Box<dyn Future<Output = Result<Switched>> + 'b>> {
        Box::pin(async move {
            if let Some(conn) = self.shown.take() {
                conn.shutdown().await;
            }
            let settings = for_account(self.settings, uid);
            let conn = run::open_session(&settings, true, "tui", true, self.ask).await?;
            conn.session.ask_for_list().await?;
            let session = session_of(self.shown.insert(conn));
            if let Some(at) = self.beside.iter().position(|(u, _)| u == uid) {
                self.beside.remove(at).1.shutdown().await;
            }
            // Followed when the new session is the core's too (`follow` looks).
            let beside = match self.shown_uid.replace(uid.clone()) {
                Some(left) if &left != uid => self.follow(&left).await,
                _ => None,
            };
            Ok(Switched { session, beside })
        })
    }
}

/// The settings of a view of `uid` (the data directory's account of that uid).
fn for_account(settings: &Settings, uid: &Uid) -> Settings {
    let mut s = settings.clone();
    s.account = Some(uid.to_string());
    s
}

fn session_of(conn: &mut Connection) -> Session {
    Session {
        commands: conn.session.commands.clone(),
        events: conn.session.take_events(),
        store: conn.store.clone(),
        store_problem: conn.store_problem.clone(),
    }
}
