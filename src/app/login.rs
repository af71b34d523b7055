//! The QR login inside the messenger: when the session needs a login, the runtime starts
//! one (`Effect::StartLogin`) and reports how it goes (`Input::Login`); the popup shows the
//! code. Once the new login is saved, the session takes it by itself and goes live, which
//! closes the popup.

use super::{AppState, Effect};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

/// How the login the runtime runs goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginUpdate {
    /// A code to scan (half blocks, light modules drawn).
    Code(String),
    Scanned,
    /// Confirmed and saved: the session connects with it shortly.
    Done,
    Failed(String),
}

/// The login popup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginView {
    pub qr: Option<String>,
    pub scanned: bool,
    pub done: bool,
    pub failed: Option<String>,
}

/// The session needs a login: one is started, once until the session is live again.
pub fn needed(state: &mut AppState, fx: &mut Vec<Effect>) {
    if !state.login_started {
        state.login_started = true;
        fx.push(Effect::StartLogin);
    }
}

/// The session is live: the popup and any login still running go.
pub fn not_needed(state: &mut AppState, fx: &mut Vec<Effect>) {
    state.login = None;
    if std::mem::take(&mut state.login_started) {
        fx.push(Effect::CancelLogin);
    }
}

pub fn on_update(state: &mut AppState, update: LoginUpdate) {
    if !state.login_started {
        // A late report of a login given up.
        return;
    }
    let view = state.login.get_or_insert(LoginView {
        qr: None,
        scanned: false,
        done: false,
        failed: None,
    });
    match update {
        LoginUpdate::Code(qr) => {
            view.qr = Some(qr);
            view.scanned = false;
            view.failed = None;
        }
        LoginUpdate::Scanned => view.scanned = true,
        LoginUpdate::Done => view.done = true,
        LoginUpdate::Failed(why) => view.failed = Some(why),
    }
    state.dirty = true;
}

/// Keys while the popup is open: Esc closes it (the status bar still says how to log in);
/// after a failure, `r` tries again.
pub fn on_key(state: &mut AppState, key: KeyEvent, fx: &mut Vec<Effect>) {
    let failed = state.login.as_ref().is_some_and(|v| v.failed.is_some());
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => {
            state.login = None;
            fx.push(Effect::CancelLogin);
        }
        KeyCode::Char('r' | 'R') if failed => {
            state.login = None;
            fx.push(Effect::CancelLogin);
            fx.push(Effect::StartLogin);
        }
        _ => {}
    }
}
