//! What the screen shows, as data.

use super::keymap::Keymap;
use super::search::SearchView;
use super::thread::Thread;
use crate::im::api::ConnState;
use crate::protocol::{Cid, Conversation, ItemInfo, MessageId, Uid};
use crate::text::i18n::Lang;
use chrono::FixedOffset;
use ratatui_textarea::TextArea;
use std::collections::HashMap;

use crate::config::UiOptions;

/// Shortest time between two bells: a burst (a backfill after a reconnect) rings once.
pub const BELL_GAP_MS: i64 = 3_000;

/// How long typed text waits before it is saved as a draft (so a dropped SSH session keeps
/// it), without a write per key.
pub const DRAFT_SAVE_MS: i64 = 2_000;

/// Which pane has the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    List,
    Messages,
    Compose,
}

/// The connection as shown, with when it was reported (for the reconnect countdown).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnView {
    pub state: ConnState,
    pub since_ms: i64,
}

/// Whole UI state. Only `update` changes it.
pub struct AppState {
    pub lang: Lang,
    pub tz: FixedOffset,
    pub unread_first: bool,
    /// Waiting buyers first, the longest wait on top.
    pub waiting_first: bool,
    /// Buyers waiting for an answer: cid → since (ms), the time of their first message
    /// after the seller's last one.
    pub(crate) waiting: HashMap<Cid, i64>,
    /// The quick replies in use (templates).
    pub quick_replies: Vec<String>,
    /// The quick-reply picker, while open.
    pub quick: Option<super::quick::QuickPick>,
    /// A question waiting for y or n (recall a message?).
    pub confirm: Option<super::cursor::Confirm>,
    /// The draft is in the external editor; the terminal belongs to it.
    pub editing: bool,
    pub bell: bool,
    /// When the bell last rang.
    pub(crate) last_bell_ms: i64,
    pub keymap: Keymap,
    /// Time of the latest `Msg`.
    pub now_ms: i64,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub focus: Focus,
    pub terminal_focused: bool,
    pub help_open: bool,
    /// The program has the mouse; off, the terminal selects text as it does elsewhere.
    pub mouse_capture: bool,
    /// Pictures are shown as thumbnails (the terminal can draw them and `[ui] images` is not
    /// `off`); otherwise as a link.
    pub images: bool,
    /// The picture shown over the whole message pane, by its URL.
    pub viewer: Option<String>,
    /// The program runs over SSH: a link is offered (copied), not opened here.
    pub remote: bool,
    /// Thumbnails loaded or failed, by URL.
    pub pictures: HashMap<String, super::PictureView>,
    pub conn: ConnView,
    pub self_uid: Option<Uid>,
    pub self_nick: Option<String>,
    pub backfill: Option<(usize, usize)>,
    /// Last error or notice, shown in the status bar until the next key.
    pub notice: Option<String>,
    /// Boxed: the map's table has a slot per bucket, and a conversation is ~450 bytes.
    pub(crate) convs: HashMap<Cid, Box<Conversation>>,
    /// All conversations in display order.
    pub(crate) order: Vec<Cid>,
    /// The filtered view of `order`, while a filter is set.
    pub(crate) filtered: Option<Vec<Cid>>,
    /// Filter text; `Some` while the filter exists, `filter_editing` while typing it.
    pub filter: Option<String>,
    pub filter_editing: bool,
    /// Selected conversation (follows the cid, not the row).
    pub selected: Option<Cid>,
    /// First row of the list in view.
    pub list_offset: usize,
    /// The conversation in the message pane.
    pub open: Option<Cid>,
    pub(crate) threads: HashMap<Cid, Thread>,
    pub items: HashMap<String, ItemInfo>,
    pub(crate) drafts: HashMap<Cid, String>,
    pub compose: TextArea<'static>,
    /// When the compose text first changed since its draft was last saved to the store.
    pub(crate) draft_changed_at: Option<i64>,
    /// The local history answers `Effect::Store` requests.
    pub has_store: bool,
    /// Why the local history is not working, for the status bar.
    pub store_problem: Option<String>,
    /// The list shown came from the local history; the service has not answered yet.
    pub cached: bool,
    /// The service's conversation list has arrived at least once.
    pub(crate) synced: bool,
    /// The QR login popup, while open.
    pub login: Option<super::LoginView>,
    /// A QR login was asked of the runtime for this need of a login.
    pub(crate) login_started: bool,
    /// The risk-control popup, while open: the slider's URL.
    pub risk_popup: Option<String>,
    /// The risk-control URL whose popup was closed (not opened again for it).
    pub(crate) risk_dismissed: Option<String>,
    /// The search popup, while open.
    pub search: Option<SearchView>,
    /// The picture popup, while open.
    pub attach: Option<super::AttachView>,
    /// The message a search jumped to, highlighted until the next key.
    pub jumped_to: Option<MessageId>,
    /// Typing indicator: cid → shown until (ms).
    pub typing: HashMap<Cid, i64>,
    pub(crate) title: Option<String>,
    /// Sum of `unread` over conversations that are not muted, kept up to date by `update`
    /// (the status bar and title read it every frame; walking 10,000 conversations each
    /// time would cost more than the whole frame).
    pub(crate) unread_sum: u64,
    /// The same for platform conversations (notices), counted apart.
    pub(crate) notice_sum: u64,
    /// Something visible changed since the runtime last drew.
    pub(crate) dirty: bool,
    pub(crate) quit: bool,
    /// Every account of this data directory (none or one: nothing to show or switch to).
    pub accounts: Vec<super::AccountBadge>,
    /// The account shown.
    pub account: Option<Uid>,
    /// The account to show next: the view of this one ended for it.
    pub switch_to: Option<Uid>,
}

impl AppState {
    /// A fresh state. `lang` should be resolved (`Lang::resolve`); `tz` is the zone times
    /// are shown in.
    pub fn new(options: &UiOptions, tz: FixedOffset, now_ms: i64) -> (AppState, Vec<String>) {
        let (keymap, errors) = Keymap::with_overrides(&options.keymap);
        let lang = options.lang.resolve();
        let state = AppState {
            lang,
            tz,
            unread_first: options.unread_first,
            waiting_first: options.waiting_first,
            waiting: HashMap::new(),
            quick_replies: super::quick::resolve(options.quick_replies.as_deref(), lang),
            quick: None,
            confirm: None,
            editing: false,
            bell: options.bell,
            last_bell_ms: i64::MIN,
            keymap,
            now_ms,
            size: (80, 24),
            focus: Focus::List,
            terminal_focused: true,
            help_open: false,
            mouse_capture: true,
            images: false,
            viewer: None,
            remote: false,
            pictures: HashMap::new(),
            risk_popup: None,
            login: None,
            login_started: false,
            risk_dismissed: None,
            conn: ConnView {
                state: ConnState::Connecting,
                since_ms: now_ms,
            },
            self_uid: None,
            self_nick: None,
            backfill: None,
            notice: None,
            convs: HashMap::new(),
            order: Vec::new(),
            filtered: None,
            filter: None,
            filter_editing: false,
            selected: None,
            list_offset: 0,
            open: None,
            threads: HashMap::new(),
            items: HashMap::new(),
            drafts: HashMap::new(),
            compose: new_compose(""),
            draft_changed_at: None,
            has_store: false,
            store_problem: None,
            cached: false,
            synced: false,
            search: None,
            attach: None,
            jumped_to: None,
            typing: HashMap::new(),
            title: None,
            unread_sum: 0,
            notice_sum: 0,
            dirty: true,
            quit: false,
            accounts: Vec::new(),
            account: None,
            switch_to: None,
        };
        (state, errors.into_iter().map(|e| e.to_string()).collect())
    }

    pub fn conversation(&self, cid: &Cid) -> Option<&Conversation> {
        self.convs.get(cid).map(|c| &**c)
    }

    /// Conversations in display order after the filter.
    pub fn visible(&self) -> &[Cid] {
        self.filtered.as_deref().unwrap_or(&self.order)
    }

    pub fn thread(&self, cid: &Cid) -> Option<&Thread> {
        self.threads.get(cid)
    }

    pub fn selected_index(&self) -> Option<usize> {
        let sel = self.selected.as_ref()?;
        self.visible().iter().position(|c| c == sel)
    }

    /// Unread messages of buyers, over all conversations that are not muted.
    pub fn unread_total(&self) -> u64 {
        self.unread_sum
    }

    /// Unread platform notices (the assistant and system sessions), not muted.
    pub fn notices_total(&self) -> u64 {
        self.notice_sum
    }

    /// Recounts the unread totals from scratch.
    pub(crate) fn recount_unread(&mut self) {
        let (mut buyers, mut notices) = (0, 0);
        for c in self.convs.values().filter(|c| !c.muted) {
            if super::attention::is_platform(c) {
                notices += u64::from(c.unread);
            } else {
                buyers += u64::from(c.unread);
            }
        }
        self.unread_sum = buyers;
        self.notice_sum = notices;
    }

    /// Since when the buyer of `cid` waits for an answer, if they do.
    pub fn waiting_since(&self, cid: &Cid) -> Option<i64> {
        self.waiting.get(cid).copied()
    }

    /// Where the panes are for the current size and compose text.
    pub fn areas(&self) -> super::layout::Areas {
        super::layout::with_compose(self.size.0, self.size.1, &self.compose)
    }

    pub fn is_live(&self) -> bool {
        self.conn.state == ConnState::Live
    }

    /// The draft text of a conversation (the compose box for the open one).
    pub fn draft(&self, cid: &Cid) -> String {
        if self.open.as_ref() == Some(cid) {
            self.compose.lines().join("\n")
        } else {
            self.drafts.get(cid).cloned().unwrap_or_default()
        }
    }

    /// Whether the runtime must wake up later with a `Tick`, and when (ms from now).
    pub fn next_tick_in(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        if let ConnState::Reconnecting { in_ms, .. } = &self.conn.state {
            let left = (self.conn.since_ms + *in_ms as i64) - self.now_ms;
            if left > 0 {
                // Wake when the shown whole second changes.
                let step = (left % 1000) as u64;
                next = Some(if step == 0 { 1000 } else { step });
            }
        }
        if let Some(at) = self.draft_changed_at.filter(|_| self.has_store) {
            let left = (at + DRAFT_SAVE_MS - self.now_ms).max(1) as u64;
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        for until in self.typing.values() {
            let left = until - self.now_ms;
            if left > 0 {
                next = Some(next.map_or(left as u64, |n| n.min(left as u64)));
            }
        }
        // The waits shown go up by the minute (then the hour).
        for since in self.waits_shown() {
            let left = super::attention::label_changes_in(since, self.now_ms) as u64;
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        next
    }

    /// Since when the buyers whose waits are on screen wait: the list rows in view and the
    /// open conversation's header.
    pub(crate) fn waits_shown(&self) -> impl Iterator<Item = i64> + '_ {
        let page = usize::from(self.areas().list_rows(self.filter.is_some()).height)
            / usize::from(super::layout::CONV_ROWS)
            + 1;
        self.visible()
            .iter()
            .skip(self.list_offset)
            .take(page)
            .chain(self.open.as_ref())
            .filter_map(|cid| self.waiting.get(cid).copied())
    }

    /// Seconds until the next reconnect attempt, rounded up.
    pub fn reconnect_in_secs(&self) -> u64 {
        match &self.conn.state {
            ConnState::Reconnecting { in_ms, .. } => {
                let left = (self.conn.since_ms + *in_ms as i64 - self.now_ms).max(0) as u64;
                left.div_ceil(1000)
            }
            _ => 0,
        }
    }

    /// Whether the message pane of `cid` is what the user is looking at.
    pub fn is_viewing(&self, cid: &Cid) -> bool {
        self.open.as_ref() == Some(cid) && self.terminal_focused
    }

    /// The runtime takes this after `update` to decide whether to draw.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }
}

/// The compose box with its look; the text is `text`.
pub(crate) fn new_compose(text: &str) -> TextArea<'static> {
    use ratatui::style::{Modifier, Style};
    let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut ta = TextArea::new(lines);
    ta.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    ta.set_cursor_line_style(Style::default());
    // The real terminal cursor marks the caret (so input methods follow); no fake one.
    ta.set_cursor_style(Style::default());
    ta.set_placeholder_style(Style::default().add_modifier(Modifier::DIM));
    ta.move_cursor(ratatui_textarea::CursorMove::Bottom);
    ta.move_cursor(ratatui_textarea::CursorMove::End);
    ta
}
