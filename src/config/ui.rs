//! The terminal UI's settings: the `[ui]` table of the config file, read with the rest of it.

use crate::text::i18n::Lang;
use serde::Deserialize;
use std::collections::BTreeMap;

/// UI settings (the `[ui]` table of the config file).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UiOptions {
    /// `auto` (locale), `zh` or `en`.
    pub lang: Lang,
    /// Conversations with unread messages above the others (after pinned ones).
    pub unread_first: bool,
    /// Ring the terminal bell when a buyer writes and the conversation is not in view (tmux
    /// and most terminals mark the window; an SSH session in the background is noticed).
    pub bell: bool,
    /// Conversations whose buyer waits for an answer first, the longest wait on top (the
    /// `waiting_first` key toggles it).
    pub waiting_first: bool,
    /// Answers for the quick-reply picker, with `{nick}`, `{item}` and `{price}` filled in;
    /// unset: built-in ones in the UI language.
    pub quick_replies: Option<Vec<String>>,
    /// Action name → key spec(s), e.g. `next_unread = "ctrl-n"`; see `app::Action::as_str`.
    pub keymap: BTreeMap<String, String>,
    /// Links in messages and the item title are links the terminal opens (OSC 8), unless the
    /// terminal is the Linux console or dumb.
    pub hyperlinks: bool,
    /// How pictures are drawn: `auto` (from the terminal; half blocks inside tmux), `kitty`,
    /// `sixel`, `iterm2`, `halfblocks` or `off` (a link only).
    pub images: ImagesMode,
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            lang: Lang::default(),
            unread_first: false,
            bell: true,
            waiting_first: false,
            quick_replies: None,
            keymap: BTreeMap::new(),
            hyperlinks: true,
            images: ImagesMode::Auto,
        }
    }
}

/// The `[ui] images` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImagesMode {
    /// From the terminal: the environment, then a query.
    #[default]
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    Halfblocks,
    /// No pictures: a link line instead.
    Off,
}
