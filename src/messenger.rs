//! The messenger's sessions: the shown account's, and, when the data directory has several
//! accounts and a background core serves them, a view of each account beside it (for the
//! unread counts and notifications of the others). The switch key ends the shown session and
//! opens the next account's.

use crate::accounts;
use crate::config::Settings;
use crate::daemon::upgrade::Ask;
use crate::im::api::ImCommand;
use crate::protocol::Uid;
use crate::run::{self, Connection};
use crate::tui::{Session, Switch};
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
    beside: Vec<Connection>,
}

impl<'a> Sessions<'a> {
    /// `first`: the session of the account shown at start (already open: opening it may
    /// have asked a question or logged in).
    pub fn new(settings: &'a Settings, ask: &'a dyn Ask, first: Connection) -> Sessions<'a> {
        Sessions {
            settings,
            ask,
            shown: Some(first),
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

    /// The accounts the messenger can switch between, with a view beside the shown one for
    /// each when they are the core's; `None` with one account (or in the demo).
    pub async fn accounts(&mut self) -> Option<(Vec<crate::app::AccountBadge>, Uid, Vec<Beside>)> {
        if self.settings.demo || self.settings.cookie.is_some() {
            return None;
        }
        let list = accounts::list(&self.settings.paths.data_dir);
        if list.len() < 2 {
            return None;
        }
        let shown = run::login_account(self.settings).ok()?.account.uid;
        let attached = self.shown.as_ref().is_some_and(|c| c.attached);
        let mut beside = Vec::new();
        if attached {
            for account in &list {
                let settings = for_account(self.settings, &account.uid);
                match crate::daemon::attach(&settings, BESIDE_VIEW, false, self.ask).await {
                    Ok(mut conn) => {
                        if conn
                            .session
                            .commands
                            .send(ImCommand::ListConversations)
                            .await
                            .is_ok()
                        {
                            beside.push((account.uid.clone(), conn.session.take_events()));
                            self.beside.push(conn);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(uid = %account.uid, "no unread count for an account: {e:#}")
                    }
                }
            }
        }
        let badges = list
            .into_iter()
            .map(|a| crate::app::AccountBadge::new(a.uid, a.nick))
            .collect();
        Some((badges, shown, beside))
    }

    /// Ends every session.
    pub async fn close(mut self) {
        if let Some(conn) = self.shown.take() {
            conn.shutdown().await;
        }
        for conn in self.beside.drain(..) {
            conn.shutdown().await;
        }
    }
}

/// A session beside the shown one: its account and its events.
pub type Beside = (Uid, tokio::sync::mpsc::Receiver<crate::im::api::ImEvent>);

impl Switch for Sessions<'_> {
    fn open<'b>(&'b mut self, uid: &'b Uid) -> Pin<Box<dyn Future<Output = Result<Session>> + 'b>> {
        Box::pin(async move {
            if let Some(conn) = self.shown.take() {
                conn.shutdown().await;
            }
            let settings = for_account(self.settings, uid);
            let conn = run::open_session(&settings, true, "tui", true, self.ask).await?;
            conn.session
                .commands
                .send(ImCommand::ListConversations)
                .await
                .map_err(|_| eyre!("the session stopped at start"))?;
            Ok(session_of(self.shown.insert(conn)))
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
