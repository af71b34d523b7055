//! The reducer: AppState, Msg, Effect, update().
//!
//! `update` is pure: it reads the time from the `Msg`, never from a clock, and asks for
//! everything it wants done (network commands, the terminal title, quitting) as `Effect`s.

pub mod accounts;
mod attach;
pub mod attention;
mod cursor;
mod help;
mod keymap;
pub mod layout;
mod login;
pub mod message_rows;
mod order;
pub mod quick;
mod search;
mod state;
mod store_io;
mod thread;
mod update;
mod viewer;

pub use crate::config::UiOptions;
pub use accounts::AccountBadge;
pub use attach::AttachView;
pub use cursor::{Confirm, RECALL_WINDOW_MS};
pub use keymap::{Action, KeySpec, Keymap, KeymapError};
pub use login::{LoginUpdate, LoginView};
pub use order::OrderTag;
pub use quick::QuickPick;
pub use search::SearchView;
pub use state::{AppState, BELL_GAP_MS, ConnView, DRAFT_SAVE_MS, Focus};
pub use store_io::{
    JUMP_CONTEXT, JUMP_NEWER_CAP, SEARCH_LIMIT, STORE_PAGE, StoreReply, StoreRequest,
};
pub use thread::{Delivery, Entry, EntryKey, Thread};

pub use update::update;
pub use viewer::{opener, over_ssh};

use crate::im::api::{ImCommand, ImEvent};
use ratatui::crossterm::event::{KeyEvent, MouseEvent};

/// One thing that happened, stamped with the wall-clock time it was seen at.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg {
    pub now_ms: i64,
    pub input: Input,
}

impl Msg {
    pub fn new(now_ms: i64, input: Input) -> Msg {
        Msg { now_ms, input }
    }
}

/// What happened.
// An `ImEvent` is large, but each is moved once and never stored: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// A bracketed paste, as one block.
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// The terminal window gained (true) or lost focus.
    Focus(bool),
    Im(ImEvent),
    /// A timer the state asked for (`AppState::next_tick_in`) went off.
    Tick,
    /// An answer from the local history.
    Store(StoreReply),
    /// The program is asked to end (hang-up, SIGTERM): save what is unsaved and quit.
    Terminate,
    /// The external editor (`Effect::Editor`) ended: the edited text, or why it failed.
    Edited(Result<String, String>),
    /// A picture in view was loaded, or could not be (`None`: forgotten, loaded again when
    /// next in view).
    Picture {
        url: String,
        view: Option<PictureView>,
    },
    /// How the QR login the runtime runs goes.
    Login(LoginUpdate),
    /// Another account's buyers' unread messages, as the runtime counted them.
    AccountUnread {
        uid: crate::protocol::Uid,
        unread: u64,
    },
}

/// What became of a picture's thumbnail; a picture not known yet is loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PictureView {
    Ready,
    /// Why it is not shown.
    Failed(String),
}

/// What the runtime does for the reducer.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Im(ImCommand),
    Store(StoreRequest),
    SetTitle(String),
    /// A buyer wrote where the user is not looking: the terminal's notification (a bell or
    /// a desktop notification, when `terminal`: `[ui] bell`) and the `[notify] command`.
    Notify {
        note: crate::notify::Notification,
        terminal: bool,
    },
    /// Start a QR login (the runtime reports it as `Input::Login`); nothing if one runs.
    StartLogin,
    /// Stop the QR login that runs, if any.
    CancelLogin,
    /// Put this text on the terminal's clipboard.
    Copy(String),
    /// Take the mouse (true), or leave it to the terminal, whose own selection then works.
    MouseCapture(bool),
    /// Open this web address with the desktop's opener (`xdg-open`, `open`).
    OpenUrl(String),
    /// Edit this draft in the external editor; `Input::Edited` brings it back.
    Editor(String),
    Quit,
}
