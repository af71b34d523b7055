//! `update`: one `Msg` in, the state changed, effects out.

use super::keymap::Action;
use super::layout::{CONV_ROWS, Pane};
use super::state::{AppState, DRAFT_SAVE_MS, Focus, new_compose};
use super::store_io::{self, StoreRequest};
use super::thread::{Delivery, Thread};
use super::{Effect, Input, Msg};
use super::{attach, attention, cursor, quick, search};
use crate::im::api::{ImCommand, ImEvent, SendStage};
use crate::protocol::{Cid, ClientId, Content, Conversation, Message, MessageId};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use std::cmp::Reverse;

/// How long a typing indicator stays without news.
const TYPING_MS: i64 = 5_000;

/// Applies `msg` to `state` and returns what the runtime must do.
pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    let before_secs = state.reconnect_in_secs();
    let before_ms = state.now_ms;
    state.now_ms = msg.now_ms;
    match msg.input {
        Input::Key(key) => on_key(state, key, &mut fx),
        Input::Mouse(m) => on_mouse(state, m, &mut fx),
        Input::Paste(text) => on_paste(state, &text, &mut fx),
        Input::Resize { width, height } => {
            state.size = (width, height);
            keep_selection_in_view(state);
            state.dirty = true;
        }
        Input::Focus(focused) => {
            state.terminal_focused = focused;
            if focused {
                mark_open_read(state, &mut fx);
            }
            state.dirty = true;
        }
        Input::Im(ev) => on_im(state, ev, &mut fx),
        Input::Store(reply) => store_io::on_store(state, reply, &mut fx),
        Input::Edited(result) => on_edited(state, result),
        Input::Picture { url, view } => {
            match view {
                Some(v) => state.pictures.insert(url, v),
                None => state.pictures.remove(&url),
            };
            state.dirty = true;
        }
        Input::Login(update) => super::login::on_update(state, update),
        Input::AccountUnread { uid, unread } => super::accounts::set_unread(state, &uid, unread),
        Input::Terminate => quit(state, &mut fx),
        Input::Tick => {
            if state
                .draft_changed_at
                .is_some_and(|at| at + DRAFT_SAVE_MS <= state.now_ms)
            {
                store_io::persist_draft(state, &mut fx);
            }
            let now = state.now_ms;
            let n = state.typing.len();
            state.typing.retain(|_, until| *until > now);
            if n != state.typing.len()
                || before_secs != state.reconnect_in_secs()
                || state.waits_shown().any(|since| {
                    attention::label_changes_in(since, before_ms) <= now.saturating_sub(before_ms)
                })
            {
                state.dirty = true;
            }
        }
    }
    if state.focus != Focus::Compose && state.draft_changed_at.is_some() {
        store_io::persist_draft(state, &mut fx);
    }
    let title = crate::text::i18n::title(state.lang, state.unread_total());
    if state.title.as_ref() != Some(&title) {
        state.title = Some(title.clone());
        fx.push(Effect::SetTitle(title));
    }
    fx
}

// ---------------------------------------------------------------- conversation list

/// Replaces the conversation list (from the service or, at start-up, the local history).
pub(crate) fn show_conversations(state: &mut AppState, list: Vec<Conversation>) {
    let mut old = std::mem::take(&mut state.convs);
    let list_newest = list.iter().map(|c| c.modify_time).max().unwrap_or(i64::MIN);
    for mut c in list {
        if let Some(prev) = old.remove(&c.cid) {
            if c.peer_nick.is_none() {
                c.peer_nick = prev.peer_nick;
            }
            if c.item_title.is_none() {
                c.item_title = prev.item_title;
            }
        }
        if state.is_viewing(&c.cid) {
            c.unread = 0;
        }
        attention::note_listed(state, &c);
        state.convs.insert(c.cid.clone(), Box::new(c));
    }
    // A conversation the list lacks stays when it is open or newer than the list (a
    // push that arrived after the list was made); otherwise the list is the truth.
    for (cid, c) in old {
        if state.open.as_ref() == Some(&cid) || c.modify_time > list_newest {
            state.convs.insert(cid, c);
        }
    }
    let convs = &state.convs;
    state.waiting.retain(|cid, _| convs.contains_key(cid));
    // What the loaded messages tell is more than the list's last message.
    let loaded: Vec<Cid> = state.threads.keys().cloned().collect();
    for cid in loaded {
        attention::note_thread(state, &cid);
    }
    state.recount_unread();
    resort(state);
    if state
        .selected
        .as_ref()
        .is_none_or(|s| !state.convs.contains_key(s))
    {
        state.selected = state.visible().first().cloned();
        state.list_offset = 0;
    }
    keep_selection_in_view(state);
}

pub(crate) fn resort(state: &mut AppState) {
    let sorting = Sorting::of(state);
    let mut keyed: Vec<_> = state
        .convs
        .values()
        .map(|c| order_key(&sorting, c))
        .collect();
    keyed.sort();
    state.order = keyed.into_iter().map(|k| k.5).collect();
    refilter(state);
}

/// Moves one conversation to its place after its activity or badge changed.
pub(crate) fn reposition(state: &mut AppState, cid: &Cid) {
    reposition_from(state, cid, None);
}

/// As `reposition`; `old` is the conversation's sort key before the change, which finds its
/// current row by binary search instead of a scan.
fn reposition_from(state: &mut AppState, cid: &Cid, old: Option<OrderKey>) {
    let convs = &state.convs;
    let sorting = Sorting::of(state);
    let found = old.and_then(|old| {
        let i = state
            .order
            .partition_point(|c| convs.get(c).is_some_and(|o| order_key(&sorting, o) < old));
        (state.order.get(i) == Some(cid)).then_some(i)
    });
    if let Some(i) = found.or_else(|| state.order.iter().position(|c| c == cid)) {
        state.order.remove(i);
    }
    let Some(conv) = state.convs.get(cid) else {
        refilter(state);
        return;
    };
    let sorting = Sorting::of(state);
    let key = order_key(&sorting, conv);
    let convs = &state.convs;
    let at = state.order.partition_point(|c| {
        convs
            .get(c)
            .is_some_and(|other| order_key(&sorting, other) < key)
    });
    state.order.insert(at, cid.clone());
    refilter(state);
}

/// Not waiting (or not sorting by it), since when, not pinned, no unread (when sorting by
/// it), newest activity first, cid.
type OrderKey = (bool, i64, bool, bool, Reverse<i64>, Cid);

/// What the list's order depends on besides the conversations themselves.
struct Sorting<'a> {
    unread_first: bool,
    waiting: Option<&'a std::collections::HashMap<Cid, i64>>,
}

impl<'a> Sorting<'a> {
    fn of(state: &'a AppState) -> Sorting<'a> {
        Sorting {
            unread_first: state.unread_first,
            waiting: state.waiting_first.then_some(&state.waiting),
        }
    }
}

fn order_key(s: &Sorting<'_>, c: &Conversation) -> OrderKey {
    let since = s.waiting.and_then(|w| w.get(&c.cid).copied());
    (
        since.is_none(),
        since.unwrap_or(0),
        !c.pinned,
        s.unread_first && c.unread == 0,
        Reverse(c.modify_time),
        c.cid.clone(),
    )
}

/// The sort key of `cid` as it is now, to find its row again after a change.
fn key_of(state: &AppState, cid: &Cid) -> Option<OrderKey> {
    let sorting = Sorting::of(state);
    state.convs.get(cid).map(|c| order_key(&sorting, c))
}

fn matches_filter(c: &Conversation, needle: &str) -> bool {
    let hit = |s: Option<&str>| s.is_some_and(|s| s.to_lowercase().contains(needle));
    // The order state by its tag in either language (待发货, "to ship") or its label.
    let tag = c.red_reminder.as_deref().and_then(super::OrderTag::of);
    if tag.is_some_and(|t| {
        [crate::text::i18n::Lang::Zh, crate::text::i18n::Lang::En]
            .into_iter()
            .any(|l| hit(Some(t.label(l))))
    }) || hit(c.red_reminder.as_deref())
    {
        return true;
    }
    hit(c.peer_nick.as_deref())
        || hit(Some(c.peer.as_str()))
        || hit(c.item_title.as_deref())
        || hit(c
            .last_message
            .as_ref()
            .map(|m| m.content.summary())
            .as_deref())
}

pub(crate) fn refilter(state: &mut AppState) {
    match state
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        None => state.filtered = None,
        Some(f) => {
            let needle = f.to_lowercase();
            state.filtered = Some(
                state
                    .order
                    .iter()
                    .filter(|c| {
                        state
                            .convs
                            .get(*c)
                            .is_some_and(|c| matches_filter(c, &needle))
                    })
                    .cloned()
                    .collect(),
            );
        }
    }
    // Without a filter every conversation is listed; only a filter can hide the selection.
    let selected_hidden = match (&state.selected, &state.filtered) {
        (None, _) => true,
        (Some(s), Some(f)) => !f.contains(s),
        (Some(_), None) => false,
    };
    if selected_hidden {
        state.selected = state.visible().first().cloned();
        state.list_offset = 0;
    }
    keep_selection_in_view(state);
}

fn list_page(state: &AppState) -> usize {
    let a = state.areas();
    usize::from((a.list_rows(state.filter.is_some()).height / CONV_ROWS).max(1))
}

fn keep_selection_in_view(state: &mut AppState) {
    let page = list_page(state);
    let max_offset = state.visible().len().saturating_sub(page);
    if let Some(i) = state.selected_index() {
        if i < state.list_offset {
            state.list_offset = i;
        } else if i >= state.list_offset + page {
            state.list_offset = i + 1 - page;
        }
    }
    state.list_offset = state.list_offset.min(max_offset);
}

fn move_selection(state: &mut AppState, delta: isize) {
    if state.visible().is_empty() {
        return;
    }
    let last = state.visible().len() - 1;
    let cur = state.selected_index().unwrap_or(0);
    let next = cur.saturating_add_signed(delta).min(last);
    state.selected = state.visible().get(next).cloned();
    keep_selection_in_view(state);
    state.dirty = true;
}

/// Selects the next conversation with a waiting buyer or unread buyer messages.
fn next_unread(state: &mut AppState) {
    if let Some(i) = attention::next(state) {
        state.selected = state.visible().get(i).cloned();
        keep_selection_in_view(state);
        state.dirty = true;
    }
}

// ---------------------------------------------------------------- opening and reading

pub(crate) fn open(state: &mut AppState, cid: Cid, fx: &mut Vec<Effect>) {
    if state.open.as_ref() != Some(&cid) {
        store_io::persist_draft(state, fx);
        if let Some(old) = state.open.take() {
            let text = state.compose.lines().join("\n");
            if text.is_empty() {
                state.drafts.remove(&old);
            } else {
                state.drafts.insert(old, text);
            }
        }
        let draft = state.drafts.remove(&cid).unwrap_or_default();
        state.compose = new_compose(&draft);
        state.open = Some(cid.clone());
        let thread = state.threads.entry(cid.clone()).or_default();
        thread.follow_newest();
        if let Some(conv) = state.convs.get(&cid) {
            if conv.peer_nick.is_none() && !conv.peer.is_empty() {
                fx.push(Effect::Im(ImCommand::FetchProfile {
                    cid: cid.clone(),
                    uid: conv.peer.clone(),
                }));
            }
            if let Some(item) = &conv.item_id
                && !state.items.contains_key(item)
            {
                fx.push(Effect::Im(ImCommand::FetchItem {
                    item_id: item.clone(),
                }));
            }
        }
    }
    // Also on re-opening after the first page failed to load.
    let thread = state.threads.entry(cid.clone()).or_default();
    if state.has_store && !thread.store_read {
        // What this machine saw before shows at once; the service's page merges into it.
        thread.store_read = true;
        thread.store_more = true;
        fx.push(Effect::Store(StoreRequest::Messages {
            cid: cid.clone(),
            before: None,
        }));
    }
    if !thread.loaded && !thread.loading {
        thread.loading = true;
        fx.push(Effect::Im(ImCommand::LoadHistory {
            cid: cid.clone(),
            cursor: None,
        }));
    }
    state.selected = Some(cid);
    keep_selection_in_view(state);
    mark_open_read(state, fx);
    state.dirty = true;
}

/// Marks the open conversation's incoming messages read and clears its badge, when the user
/// can see it.
fn mark_open_read(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(cid) = state.open.clone() else {
        return;
    };
    if !state.terminal_focused {
        return;
    }
    let mut ids = state
        .threads
        .get_mut(&cid)
        .map(Thread::take_unmarked_incoming)
        .unwrap_or_default();
    let Some(conv) = state.convs.get_mut(&cid) else {
        if !ids.is_empty() {
            fx.push(Effect::Im(ImCommand::MarkRead { cid, ids }));
        }
        return;
    };
    if conv.unread == 0 && ids.is_empty() {
        return;
    }
    if ids.is_empty()
        && let Some(last) = conv.last_message.as_ref().filter(|m| !m.is_self)
        && !last.id.as_str().is_empty()
    {
        // History not here yet: the list's last message stands for the rest.
        ids.push(last.id.clone());
    }
    let (bucket, n) = (attention::bucket(conv), conv.unread);
    conv.unread = 0;
    attention::count_unread(state, bucket, -i64::from(n));
    fx.push(Effect::Im(ImCommand::MarkRead {
        cid: cid.clone(),
        ids,
    }));
    if state.unread_first {
        reposition(state, &cid);
    }
}

// ---------------------------------------------------------------- message pane scrolling

fn msg_page(state: &AppState) -> usize {
    let a = state.areas();
    // About three rows per message: half a pane of them.
    usize::from((a.messages.height / 6).max(1))
}

fn scroll_messages(state: &mut AppState, delta: isize, fx: &mut Vec<Effect>) {
    let Some(cid) = state.open.clone() else {
        return;
    };
    let Some(thread) = state.threads.get_mut(&cid) else {
        return;
    };
    let live = state.conn.state == crate::im::api::ConnState::Live;
    let Some(cur) = thread.anchor_index() else {
        load_older(thread, &cid, live, fx);
        return;
    };
    state.dirty = true;
    if delta.abs() == 1 {
        // One step inside a message taller than the pane moves through it by most of a pane.
        let a = state.areas();
        let pane = usize::from(a.messages.height);
        let rows = super::message_rows::count(state, &cid, cur, a.messages.width);
        let Some(thread) = state.threads.get_mut(&cid) else {
            return;
        };
        let step = pane.saturating_sub(2).max(1);
        let hidden_above = rows.saturating_sub(pane + thread.anchor_rows);
        if delta < 0 && hidden_above > 0 {
            let shown = thread.anchor_rows + step.min(hidden_above);
            thread.anchor_within(cur, shown);
            return;
        }
        if delta > 0 && thread.anchor_rows > 0 {
            let shown = thread.anchor_rows.saturating_sub(step);
            thread.anchor_within(cur, shown);
            return;
        }
    }
    let Some(thread) = state.threads.get_mut(&cid) else {
        return;
    };
    let next = cur.saturating_add_signed(delta).min(thread.len() - 1);
    thread.set_anchor(next);
    if delta < 0 && next == 0 {
        load_older(thread, &cid, live, fx);
    }
}

/// Asks for the page before the oldest loaded one, once: from the service while it is
/// reachable and has more, otherwise from the local history.
fn load_older(thread: &mut Thread, cid: &Cid, live: bool, fx: &mut Vec<Effect>) {
    if thread.loading {
        return;
    }
    let service = thread.has_more && thread.next_cursor.is_some();
    if !service || (!live && thread.store_more) {
        store_io::load_older_from_store(thread, cid, fx);
        return;
    }
    thread.loading = true;
    fx.push(Effect::Im(ImCommand::LoadHistory {
        cid: cid.clone(),
        cursor: thread.next_cursor,
    }));
}

// ---------------------------------------------------------------- sending

fn send(state: &mut AppState, fx: &mut Vec<Effect>) {
    let Some(cid) = state.open.clone() else {
        return;
    };
    let raw = state.compose.lines().join("\n");
    let text = raw.trim();
    if text.is_empty() {
        return;
    }
    let content = Content::Text { text: text.into() };
    state.compose = new_compose("");
    state.drafts.remove(&cid);
    state.draft_changed_at = None;
    if state.has_store {
        fx.push(Effect::Store(StoreRequest::SaveDraft {
            cid: cid.clone(),
            text: String::new(),
        }));
    }
    send_local(state, cid, content, fx);
}

/// The command that sends `content`: a text, or a picture by the path a local entry keeps.
fn send_command(cid: Cid, client_id: ClientId, content: &Content) -> Option<ImCommand> {
    match content {
        Content::Text { text } => Some(ImCommand::SendText {
            cid,
            client_id,
            text: text.to_string(),
        }),
        Content::Image { urls } if urls.len() == 1 => Some(ImCommand::SendImage {
            cid,
            client_id,
            path: urls[0].clone().into(),
        }),
        _ => None,
    }
}

/// Shows `content` at once as a local entry of `cid` (after everything already there) and
/// asks the session to send it.
pub(crate) fn send_local(state: &mut AppState, cid: Cid, content: Content, fx: &mut Vec<Effect>) {
    let client_id = ClientId::generate(state.now_ms, rand::random());
    let Some(command) = send_command(cid.clone(), client_id.clone(), &content) else {
        return;
    };
    let mut message = local_message(state, &cid, &client_id, content);
    message.time = local_time(state, &cid);
    let delivery = if state.is_live() {
        Delivery::Sending
    } else {
        Delivery::Queued
    };
    let thread = state.threads.entry(cid).or_default();
    thread.add_local(message.clone(), client_id, delivery);
    thread.follow_newest();
    touch_conv(state, &message);
    fx.push(Effect::Im(command));
    state.dirty = true;
}

/// The time a new local send is shown at: now, but after everything already in the thread,
/// so sends keep the order they were typed in even within one millisecond.
fn local_time(state: &AppState, cid: &Cid) -> i64 {
    let last = state
        .threads
        .get(cid)
        .and_then(|t| t.entries().last())
        .map_or(i64::MIN, |e| e.time + 1);
    state.now_ms.max(last)
}

fn local_message(state: &AppState, cid: &Cid, client_id: &ClientId, content: Content) -> Message {
    Message {
        id: MessageId::default(),
        cid: cid.clone(),
        sender: state.self_uid.clone().unwrap_or_default(),
        is_self: true,
        time: state.now_ms,
        content,
        item_id: state
            .convs
            .get(cid)
            .and_then(|c| c.item_id.as_deref().map(Into::into)),
        sender_nick: state.self_nick.as_deref().map(Into::into),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: Some(client_id.as_str().to_string()),
    }
}

/// Re-sends a failed message with a new client id.
fn retry(state: &mut AppState, pick_anchor: bool, fx: &mut Vec<Effect>) {
    let Some(cid) = state.open.clone() else {
        return;
    };
    let live = state.is_live();
    let now = state.now_ms;
    let Some(thread) = state.threads.get_mut(&cid) else {
        return;
    };
    let anchored = thread
        .anchor_index()
        .and_then(|i| thread.entries().get(i))
        .filter(|e| pick_anchor && matches!(e.delivery, Delivery::Failed(_)));
    let Some(target) = anchored.or_else(|| thread.last_failed()) else {
        return;
    };
    let super::EntryKey::Local(old_id) = target.key.clone() else {
        return;
    };
    let client_id = ClientId::generate(now, rand::random());
    let Some(command) = send_command(cid, client_id.clone(), &target.content) else {
        return;
    };
    let Some(mut entry) = thread.take_local(&old_id) else {
        return;
    };
    let time = now.max(thread.entries().last().map_or(now, |e| e.time + 1));
    entry.delivery = if live {
        Delivery::Sending
    } else {
        Delivery::Queued
    };
    thread.readd_local(entry, client_id.clone(), time);
    thread.follow_newest();
    fx.push(Effect::Im(command));
    state.dirty = true;
}

/// Asks the session to connect now, when it is not connected.
fn reconnect_now(state: &mut AppState, fx: &mut Vec<Effect>) {
    if state.is_live() {
        return;
    }
    fx.push(Effect::Im(ImCommand::ReconnectNow));
    state.notice = Some(
        crate::text::i18n::strings(state.lang)
            .reconnecting_now
            .into(),
    );
}

/// Keys of the risk-control popup: copy the URL, check again now, close.
fn on_risk_key(state: &mut AppState, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(url) = state.risk_popup.clone() else {
        return;
    };
    let actions = state.keymap.actions(&key);
    if actions.contains(&Action::ForceQuit) {
        quit(state, fx);
        return;
    }
    let s = crate::text::i18n::strings(state.lang);
    match key.code {
        KeyCode::Char('y') => {
            fx.push(Effect::Copy(url));
            state.notice = Some(s.copied.into());
        }
        KeyCode::Char('r' | 'R') | KeyCode::Enter => {
            state.risk_popup = None;
            reconnect_now(state, fx);
        }
        KeyCode::Esc | KeyCode::Char('q') => {
            state.risk_popup = None;
            state.risk_dismissed = Some(url);
        }
        _ => {}
    }
}

/// A conversation saw `m`: newer activity moves it up.
fn touch_conv(state: &mut AppState, m: &Message) {
    let old_key = key_of(state, &m.cid);
    let conv = state.convs.entry(m.cid.clone()).or_insert_with(|| {
        Box::new(Conversation {
            cid: m.cid.clone(),
            peer: if m.is_self {
                Default::default()
            } else {
                m.sender.clone()
            },
            item_id: m.item_id.as_deref().map(Into::into),
            modify_time: m.time,
            ..Default::default()
        })
    });
    if conv.peer.is_empty() && !m.is_self {
        // The peer makes it a buyer's conversation: its unread count moves along.
        let (before, n) = (attention::bucket(conv), i64::from(conv.unread));
        conv.peer = m.sender.clone();
        let after = attention::bucket(conv);
        if before != after {
            attention::count_unread(state, before, -n);
            attention::count_unread(state, after, n);
        }
    }
    let Some(conv) = state.convs.get_mut(&m.cid) else {
        return;
    };
    if !m.is_self && conv.peer_nick.is_none() && m.sender == conv.peer {
        conv.peer_nick = m.sender_nick.as_deref().map(Into::into);
    }
    if m.red_reminder.is_some() {
        conv.red_reminder.clone_from(&m.red_reminder);
    }
    if conv.last_message.as_ref().is_none_or(|l| l.time <= m.time) {
        conv.modify_time = conv.modify_time.max(m.time);
        conv.last_message = Some(m.clone());
    }
    attention::note_message(state, m);
    let cid = m.cid.clone();
    reposition_from(state, &cid, old_key);
}

// ---------------------------------------------------------------- network events

fn on_im(state: &mut AppState, ev: ImEvent, fx: &mut Vec<Effect>) {
    state.dirty = true;
    match ev {
        ImEvent::Connection(c) => {
            // Risk control opens its popup (the whole URL), once per URL; anything else
            // closes it.
            match &c {
                crate::im::ConnState::NeedsLogin { .. } => super::login::needed(state, fx),
                crate::im::ConnState::Live => super::login::not_needed(state, fx),
                _ => {}
            }
            match &c {
                crate::im::ConnState::RiskControl { url } => {
                    if state.risk_dismissed.as_deref() != Some(url.as_str()) {
                        state.risk_popup = Some(url.clone());
                    }
                }
                // A re-check on its way keeps it up.
                crate::im::ConnState::Connecting | crate::im::ConnState::Registering => {}
                _ => {
                    let asked = crate::text::i18n::strings(state.lang).reconnecting_now;
                    if state.notice.as_deref() == Some(asked) {
                        state.notice = None;
                    }
                    state.risk_popup = None;
                    state.risk_dismissed = None;
                }
            }
            state.conn = super::ConnView {
                state: c,
                since_ms: state.now_ms,
            };
        }
        ImEvent::SelfInfo { uid, nick } => {
            state.self_uid = Some(uid);
            if nick.is_some() {
                state.self_nick = nick;
            }
        }
        ImEvent::Conversations(list) => {
            state.synced = true;
            state.cached = false;
            show_conversations(state, list);
        }
        ImEvent::History { page, requested } => {
            let cid = page.cid.clone();
            let thread = state.threads.entry(cid.clone()).or_default();
            thread.loading = false;
            let newest = page
                .entries
                .iter()
                .map(|e| &e.message)
                .max_by_key(|m| m.time)
                .cloned();
            let added = thread.add_history(page.entries);
            // The newest page refreshes the cursor only the first time, so a reload does not
            // rewind paging that went further back. §12.4: the cursor is opaque; kept verbatim.
            if requested.is_some() || !thread.loaded {
                thread.next_cursor = page.next_cursor;
                thread.has_more = page.has_more && page.next_cursor.is_some();
            }
            if requested.is_none() {
                thread.loaded = true;
            }
            if requested.is_some() {
                // Older pages were read long ago; do not re-mark them.
                thread.take_unmarked_incoming();
                if added == 0 {
                    // All of it was already shown (read from the local history while
                    // offline): go on to the next page rather than show nothing new.
                    load_older(thread, &cid, true, fx);
                }
            }
            if let Some(m) = newest {
                touch_conv(state, &m);
            }
            let old_key = key_of(state, &cid);
            if attention::note_thread(state, &cid) {
                reposition_from(state, &cid, old_key);
            }
            if requested.is_none() && state.is_viewing(&cid) {
                mark_open_read(state, fx);
            }
        }
        ImEvent::HistoryFailed { cid, reason, .. } => {
            if let Some(t) = state.threads.get_mut(&cid) {
                t.loading = false;
            }
            state.notice = Some(format!(
                "{}: {}",
                crate::text::i18n::strings(state.lang).history_failed,
                crate::text::i18n::detail(state.lang, &reason)
            ));
        }
        ImEvent::Message(m) => on_message(state, m, fx),
        ImEvent::Receipt { cid, ids } => match cid.and_then(|c| state.threads.get_mut(&c)) {
            Some(t) => {
                t.mark_read_ids(&ids);
            }
            None => {
                for t in state.threads.values_mut() {
                    t.mark_read_ids(&ids);
                }
            }
        },
        ImEvent::Typing { cid, uid } => {
            if state.self_uid.as_ref() == Some(&uid) {
                return;
            }
            // §12.6: the typing layout is uncertain; without a cid, the peer names the chat.
            let cid = cid.or_else(|| {
                state
                    .convs
                    .values()
                    .find(|c| c.peer == uid)
                    .map(|c| c.cid.clone())
            });
            if let Some(cid) = cid {
                state.typing.insert(cid, state.now_ms + TYPING_MS);
            }
        }
        ImEvent::CardUpdate {
            cid,
            text,
            red_reminder,
        } => {
            // [U] §7.8 card update: the state label is `redReminder` when present, else the
            // update's text.
            let label = red_reminder.or_else(|| Some(text).filter(|t| !t.trim().is_empty()));
            if let Some(cid) = cid {
                if let Some(c) = state.convs.get_mut(&cid) {
                    c.red_reminder.clone_from(&label);
                }
                if let Some(e) = state
                    .threads
                    .get_mut(&cid)
                    .and_then(Thread::last_trade_card_mut)
                {
                    e.red_reminder = label.map(String::into_boxed_str);
                }
                if state.filter.is_some() {
                    refilter(state);
                }
            }
        }
        ImEvent::Recalled { cid, id } => cursor::recalled(state, cid, &id, fx),
        ImEvent::RecallResult { cid, id, result } => {
            cursor::on_recall_result(state, cid, id, result, fx)
        }
        ImEvent::SendProgress { client_id, stage } => {
            let delivery = match stage {
                SendStage::Queued => Delivery::Queued,
                SendStage::Sending => Delivery::Sending,
            };
            let open = state.open.clone();
            let mut threads: Vec<(&Cid, &mut Thread)> = state.threads.iter_mut().collect();
            // The open conversation first: that is where sends come from.
            threads.sort_by_key(|(cid, _)| Some(*cid) != open.as_ref());
            for (_, t) in threads {
                if let Some(e) = t.local_mut(&client_id) {
                    e.delivery = delivery;
                    break;
                }
            }
        }
        ImEvent::SendNotSaved { client_id, reason } => {
            tracing::warn!(%client_id, %reason, "a pending send is not in the stored outbox");
            if let Some(e) = state
                .threads
                .values_mut()
                .find_map(|t| t.local_mut(&client_id))
            {
                e.unsaved = true;
                state.dirty = true;
            }
        }
        ImEvent::SendResult {
            client_id,
            cid,
            result,
        } => {
            let thread = state.threads.entry(cid.clone()).or_default();
            match result {
                Ok(m) => {
                    let local = thread.take_local(&client_id);
                    let read = local.is_some_and(|l| l.delivery == Delivery::Read);
                    if !thread.contains(&m.id) {
                        let mut m = m;
                        m.is_self = true;
                        thread.add_message(
                            m.clone(),
                            if read { Delivery::Read } else { Delivery::Sent },
                        );
                        if let Some(c) = state.convs.get_mut(&cid)
                            && c.last_message
                                .as_ref()
                                .is_some_and(|l| l.client_id.as_deref() == Some(client_id.as_str()))
                        {
                            c.last_message = Some(m.clone());
                        }
                        touch_conv(state, &m);
                    }
                }
                Err(f) => match thread.local_mut(&client_id) {
                    Some(e) => e.delivery = Delivery::Failed(Box::new(f)),
                    None => state.notice = Some(f.reason),
                },
            }
        }
        ImEvent::Profile(p) => {
            for c in state.convs.values_mut() {
                if c.peer == p.uid {
                    c.peer_nick = Some(p.nick.clone());
                }
            }
            if state.self_uid.as_ref() == Some(&p.uid) {
                state.self_nick = Some(p.nick);
            }
            if state.filter.is_some() {
                refilter(state);
            }
        }
        ImEvent::Item(info) => {
            for c in state.convs.values_mut() {
                if c.item_id.as_deref() == Some(info.item_id.as_str()) && c.item_title.is_none() {
                    c.item_title = Some(info.title.clone());
                }
            }
            state.items.insert(info.item_id.clone(), info);
        }
        ImEvent::ReadElsewhere { cid } => {
            // What this view still meant to mark is covered: it was read over there.
            if let Some(t) = state.threads.get_mut(&cid) {
                t.take_unmarked_incoming();
            }
            if let Some(conv) = state.convs.get_mut(&cid)
                && conv.unread > 0
            {
                let (bucket, n) = (attention::bucket(conv), conv.unread);
                conv.unread = 0;
                attention::count_unread(state, bucket, -i64::from(n));
                if state.unread_first {
                    reposition(state, &cid);
                }
            }
        }
        ImEvent::Backfill { done, total } => {
            state.backfill = (done < total).then_some((done, total));
        }
        ImEvent::Error(e) => state.notice = Some(e),
    }
}

fn on_message(state: &mut AppState, m: Message, fx: &mut Vec<Effect>) {
    let cid = m.cid.clone();
    let viewing = state.is_viewing(&cid);
    let is_new = match state.threads.get_mut(&cid) {
        Some(t) => {
            let delivery = if m.is_self {
                Delivery::Sent
            } else {
                Delivery::Incoming
            };
            let new = t.add_message(m.clone(), delivery);
            if new && t.anchor.is_some() {
                t.new_below += 1;
            }
            new
        }
        None => state
            .convs
            .get(&cid)
            .and_then(|c| c.last_message.as_ref())
            .is_none_or(|l| l.id != m.id),
    };
    if !is_new {
        return;
    }
    if !m.is_self {
        state.typing.remove(&cid);
    }
    let incoming = !m.is_self;
    touch_conv(state, &m);
    if incoming && !viewing {
        ring_for(state, &m, fx);
    }
    if incoming {
        if viewing {
            mark_open_read(state, fx);
        } else if let Some(c) = state.convs.get_mut(&cid) {
            c.unread = c.unread.saturating_add(1);
            let bucket = attention::bucket(c);
            attention::count_unread(state, bucket, 1);
            if state.unread_first {
                reposition(state, &cid);
            }
        }
    }
}

/// Notifies of a new message from a buyer (a text, a picture, an order card) in a
/// conversation that is not muted, at most once per `BELL_GAP_MS`: the terminal part when the
/// bell is on, the notify command always. Platform notices and the assistant stay quiet.
fn ring_for(state: &mut AppState, m: &Message, fx: &mut Vec<Effect>) {
    let muted = state.convs.get(&m.cid).is_some_and(|c| c.muted);
    let platform = matches!(m.content, Content::Notice { .. })
        || m.sender.as_str() == crate::protocol::model::SYSTEM_SENDER
        || m.session_type.is_some_and(|t| t != 1);
    if muted || platform {
        return;
    }
    if state.now_ms.saturating_sub(state.last_bell_ms) < super::state::BELL_GAP_MS {
        return;
    }
    state.last_bell_ms = state.now_ms;
    let conv = state.convs.get(&m.cid);
    let nick = m
        .sender_nick
        .as_deref()
        .map(str::to_string)
        .or_else(|| conv.and_then(|c| c.peer_nick.clone()));
    let item_id = m
        .item_id
        .as_deref()
        .map(str::to_string)
        .or_else(|| conv.and_then(|c| c.item_id.clone()));
    let item_title = conv.and_then(|c| c.item_title.clone());
    let who = nick.clone().unwrap_or_else(|| m.sender.to_string());
    let note = crate::notify::Notification {
        title: format!("闲鱼 · {who}"),
        body: crate::text::one_line(&m.content.summary()),
        json: crate::notify::message_json(
            m,
            nick.as_deref(),
            item_id.as_deref(),
            item_title.as_deref(),
        ),
    };
    fx.push(Effect::Notify {
        note,
        terminal: state.bell,
    });
}

// ---------------------------------------------------------------- keyboard

fn on_key(state: &mut AppState, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    // A change from an earlier message of the same batch must not be forgotten.
    let before = state.dirty;
    state.dirty = true;
    let had_notice = state.notice.take().is_some();
    on_key_inner(state, key, fx);
    // A key that did nothing still clears a notice, which must be redrawn.
    state.dirty |= before || had_notice;
}

fn on_key_inner(state: &mut AppState, key: KeyEvent, fx: &mut Vec<Effect>) {
    if state.help_open {
        state.help_open = false;
        return;
    }
    if state.risk_popup.is_some() {
        on_risk_key(state, key, fx);
        return;
    }
    if state.login.is_some() {
        if state.keymap.actions(&key).contains(&Action::ForceQuit) {
            quit(state, fx);
        } else {
            super::login::on_key(state, key, fx);
        }
        return;
    }
    state.jumped_to = None;
    let actions = state.keymap.actions(&key);
    if state.viewer.is_some() {
        if actions.contains(&Action::ForceQuit) {
            quit(state, fx);
        } else {
            super::viewer::on_key(state, &actions, fx);
        }
        return;
    }
    if state.editing {
        // The terminal is the editor's; nothing typed here is meant for the messenger.
        return;
    }
    if state.confirm.is_some() {
        cursor::on_confirm_key(state, key, fx);
        return;
    }
    if state.quick.is_some() {
        quick::on_key(state, key, &actions, fx);
        return;
    }
    if state.search.is_some() {
        search::on_key(state, key, &actions, fx);
        return;
    }
    if state.attach.is_some() {
        attach::on_key(state, key, &actions, fx);
        return;
    }
    if actions.contains(&Action::ForceQuit) {
        quit(state, fx);
        return;
    }
    if actions.contains(&Action::Search) {
        search::open(state);
        return;
    }
    if actions.contains(&Action::Attach) {
        attach::open(state);
        return;
    }
    if actions.contains(&Action::QuickReply) && !state.filter_editing {
        quick::open(state, fx);
        return;
    }
    if actions.contains(&Action::Editor) && !state.filter_editing && state.open.is_some() {
        open_editor(state, fx);
        return;
    }
    if state.filter_editing {
        on_filter_key(state, key, &actions);
        return;
    }
    match state.focus {
        Focus::Compose => on_compose_key(state, key, &actions, fx),
        Focus::List => {
            for a in &actions {
                if list_action(state, *a, fx) {
                    return;
                }
            }
            state.dirty = !actions.is_empty();
        }
        Focus::Messages => {
            for a in &actions {
                if messages_action(state, *a, fx) {
                    return;
                }
            }
            state.dirty = !actions.is_empty();
        }
    }
}

pub(super) fn quit(state: &mut AppState, fx: &mut Vec<Effect>) {
    store_io::persist_draft(state, fx);
    state.quit = true;
    fx.push(Effect::Im(ImCommand::Shutdown));
    fx.push(Effect::Quit);
}

/// Actions shared by the list and the message pane. Returns whether `a` was handled.
fn common_action(state: &mut AppState, a: Action, fx: &mut Vec<Effect>) -> bool {
    match a {
        Action::Quit => quit(state, fx),
        Action::Help => state.help_open = true,
        Action::Mouse => {
            state.mouse_capture = !state.mouse_capture;
            fx.push(Effect::MouseCapture(state.mouse_capture));
            let s = crate::text::i18n::strings(state.lang);
            state.notice = Some(
                if state.mouse_capture {
                    s.mouse_on
                } else {
                    s.mouse_off
                }
                .into(),
            );
        }
        Action::NextPane => cycle_focus(state),
        Action::NextUnread => next_unread(state),
        Action::WaitingFirst => {
            state.waiting_first = !state.waiting_first;
            resort(state);
            let s = crate::text::i18n::strings(state.lang);
            state.notice = Some(
                if state.waiting_first {
                    s.waiting_first_on
                } else {
                    s.waiting_first_off
                }
                .into(),
            );
        }
        Action::Filter => {
            state.filter.get_or_insert_with(String::new);
            state.filter_editing = true;
            state.focus = Focus::List;
            refilter(state);
        }
        Action::Reconnect => reconnect_now(state, fx),
        Action::NextAccount => super::accounts::switch(state, fx),
        _ => return false,
    }
    true
}

fn list_action(state: &mut AppState, a: Action, fx: &mut Vec<Effect>) -> bool {
    let page = list_page(state) as isize;
    match a {
        Action::Up => move_selection(state, -1),
        Action::Down => move_selection(state, 1),
        Action::Top => move_selection(state, isize::MIN / 2),
        Action::Bottom => move_selection(state, isize::MAX / 2),
        Action::PageUp => move_selection(state, -(page / 2).max(1)),
        Action::PageDown => move_selection(state, (page / 2).max(1)),
        Action::Open => {
            if let Some(cid) = state.selected.clone() {
                open(state, cid, fx);
                state.focus = Focus::Compose;
            }
        }
        Action::Back if state.filter.is_some() => {
            state.filter = None;
            refilter(state);
        }
        _ => return common_action(state, a, fx),
    }
    true
}

fn messages_action(state: &mut AppState, a: Action, fx: &mut Vec<Effect>) -> bool {
    let page = msg_page(state) as isize;
    match a {
        Action::Up => scroll_messages(state, -1, fx),
        Action::Down => scroll_messages(state, 1, fx),
        Action::PageUp => scroll_messages(state, -page, fx),
        Action::PageDown => scroll_messages(state, page, fx),
        Action::Top => scroll_messages(state, isize::MIN / 2, fx),
        Action::Bottom => scroll_messages(state, isize::MAX / 2, fx),
        Action::Open => state.focus = Focus::Compose,
        Action::Back => state.focus = Focus::List,
        Action::Retry => retry(state, true, fx),
        Action::Recall => cursor::recall(state),
        Action::Copy => cursor::copy(state, fx),
        Action::View => super::viewer::open(state),
        Action::OpenLink => super::viewer::open_selected_link(state, fx),
        Action::Edit => cursor::edit(state),
        Action::Discard => cursor::discard(state),
        _ => return common_action(state, a, fx),
    }
    true
}

fn cycle_focus(state: &mut AppState) {
    state.focus = match (state.focus, state.open.is_some()) {
        (Focus::List, true) => Focus::Messages,
        (Focus::Messages, true) => Focus::Compose,
        _ => Focus::List,
    };
}

fn on_compose_key(state: &mut AppState, key: KeyEvent, actions: &[Action], fx: &mut Vec<Effect>) {
    // A plain character is always text here, whatever it is bound to elsewhere.
    let plain_char = matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    if !plain_char && let Some(a) = actions.iter().copied().find(|a| a.works_in_compose()) {
        match a {
            Action::Send => send(state, fx),
            Action::Newline => {
                state.compose.insert_newline();
                draft_changed(state);
            }
            Action::Back => state.focus = Focus::List,
            Action::NextPane => cycle_focus(state),
            Action::Retry => retry(state, false, fx),
            _ => {}
        }
        return;
    }
    if state.open.is_none() {
        state.focus = Focus::List;
        return;
    }
    if key.code == KeyCode::Up && key.modifiers.is_empty() && state.compose.is_empty() {
        // Up from an empty box goes to the messages (to edit a failed one, say).
        state.focus = Focus::Messages;
        return;
    }
    // A bare Enter the keymap does not claim still must not end up as a raw newline send.
    if state.compose.input(ratatui_textarea::Input::from(key)) {
        draft_changed(state);
    }
}

/// Hands the draft to the external editor (the runtime suspends the screen for it).
fn open_editor(state: &mut AppState, fx: &mut Vec<Effect>) {
    if state.editing {
        return;
    }
    state.editing = true;
    state.focus = Focus::Compose;
    fx.push(Effect::Editor(state.compose.lines().join("\n")));
}

/// The editor is done: its text is the draft (not sent until Enter).
fn on_edited(state: &mut AppState, result: Result<String, String>) {
    state.editing = false;
    state.dirty = true;
    match result {
        Ok(text) => {
            // Editors end the file with a newline that is not part of the message.
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if state.open.is_some() && text != state.compose.lines().join("\n") {
                state.compose = new_compose(text);
                draft_changed(state);
            }
            state.focus = Focus::Compose;
        }
        Err(e) => {
            let s = crate::text::i18n::strings(state.lang);
            state.notice = Some(format!(
                "{}: {}",
                s.editor_failed,
                crate::text::i18n::detail(state.lang, &e)
            ));
        }
    }
}

/// The compose text changed: it is saved as a draft a little later.
pub(crate) fn draft_changed(state: &mut AppState) {
    state.draft_changed_at.get_or_insert(state.now_ms);
}

fn on_filter_key(state: &mut AppState, key: KeyEvent, actions: &[Action]) {
    let Some(filter) = state.filter.as_mut() else {
        state.filter_editing = false;
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            state.filter = None;
            state.filter_editing = false;
        }
        KeyCode::Enter => state.filter_editing = false,
        KeyCode::Backspace => {
            filter.pop();
        }
        KeyCode::Char(c) if !ctrl => filter.push(c),
        _ => {
            if actions.contains(&Action::Up) {
                move_selection(state, -1);
            } else if actions.contains(&Action::Down) {
                move_selection(state, 1);
            }
            return;
        }
    }
    refilter(state);
}

fn on_paste(state: &mut AppState, text: &str, fx: &mut Vec<Effect>) {
    // Terminals send CR or CRLF line ends inside a paste.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if state.search.is_some() {
        search::on_paste(state, &text, fx);
    } else if state.attach.is_some() {
        attach::on_paste(state, &text);
    } else if state.filter_editing {
        if let Some(f) = state.filter.as_mut() {
            f.push_str(&crate::text::one_line(&text));
        }
        refilter(state);
    } else if state.open.is_some() {
        state.focus = Focus::Compose;
        state.compose.insert_str(&text);
        draft_changed(state);
    } else {
        return;
    }
    state.dirty = true;
}

// ---------------------------------------------------------------- mouse

fn on_mouse(state: &mut AppState, m: MouseEvent, fx: &mut Vec<Effect>) {
    let a = state.areas();
    let Some(pane) = a.hit(m.column, m.row) else {
        return;
    };
    match (m.kind, pane) {
        (MouseEventKind::Down(MouseButton::Left), Pane::List) => {
            state.focus = Focus::List;
            let rows = a.list_rows(state.filter.is_some());
            if m.row >= rows.y {
                let i = state.list_offset + usize::from((m.row - rows.y) / CONV_ROWS);
                if let Some(cid) = state.visible().get(i).cloned() {
                    open(state, cid, fx);
                }
            }
        }
        (MouseEventKind::Down(MouseButton::Left), Pane::Messages) if state.open.is_some() => {
            state.focus = Focus::Messages;
        }
        (MouseEventKind::Down(MouseButton::Left), Pane::Compose) if state.open.is_some() => {
            state.focus = Focus::Compose;
        }
        (MouseEventKind::ScrollUp, Pane::List) => {
            state.list_offset = state.list_offset.saturating_sub(1);
        }
        (MouseEventKind::ScrollDown, Pane::List) => {
            let page = list_page(state);
            let max = state.visible().len().saturating_sub(page);
            state.list_offset = (state.list_offset + 1).min(max);
        }
        (MouseEventKind::ScrollUp, Pane::Messages) => scroll_messages(state, -1, fx),
        (MouseEventKind::ScrollDown, Pane::Messages) => scroll_messages(state, 1, fx),
        _ => return,
    }
    state.dirty = true;
}
