//! One conversation's messages: sorted by time, deduplicated by id, with local pending sends.
//!
//! A thread keeps only what the pane shows of each message, in a compact `Entry`: with ten
//! thousand conversations of twenty messages loaded, the bytes per message decide whether the
//! program fits in a small VPS's memory.

use crate::im::api::SendFailure;
use crate::protocol::{ClientId, Content, HistoryEntry, Message, MessageId, Uid};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Where an own message is on its way out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Not ours.
    Incoming,
    /// Waiting for a connection.
    Queued,
    /// On the wire.
    Sending,
    /// Accepted by the server.
    Sent,
    /// Read by the other side.
    Read,
    /// Boxed: rare, and it would double the size of every other state.
    Failed(Box<SendFailure>),
}

/// What identifies an entry: the server id, or our client id while it is pending.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EntryKey {
    Server(MessageId),
    Local(ClientId),
}

/// Within one millisecond: server messages by their numeric id (ids grow), pending sends
/// after them.
impl Ord for EntryKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (EntryKey::Server(a), EntryKey::Server(b)) => {
                (a.number(), a.as_str()).cmp(&(b.number(), b.as_str()))
            }
            (EntryKey::Local(a), EntryKey::Local(b)) => a.cmp(b),
            (EntryKey::Server(_), EntryKey::Local(_)) => std::cmp::Ordering::Less,
            (EntryKey::Local(_), EntryKey::Server(_)) => std::cmp::Ordering::Greater,
        }
    }
}

impl PartialOrd for EntryKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One message of the pane: what is drawn of it and where it is on its way.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The server id, or the client id while the send is pending.
    pub key: EntryKey,
    /// ms since the epoch.
    pub time: i64,
    pub sender: Uid,
    pub is_self: bool,
    /// Shared between the messages of one sender.
    pub sender_nick: Option<Arc<str>>,
    pub content: Content,
    /// Order state label of a trade card.
    pub red_reminder: Option<Box<str>>,
    pub delivery: Delivery,
    pub recalled: bool,
    /// A `MarkRead` went out for it (incoming only).
    pub read_sent: bool,
    /// A pending send that the stored outbox could not take: lost if the program ends first.
    pub unsaved: bool,
}

impl Entry {
    pub fn sort_key(&self) -> (i64, &EntryKey) {
        (self.time, &self.key)
    }

    /// The server id, once the service has one.
    pub fn id(&self) -> Option<&MessageId> {
        match &self.key {
            EntryKey::Server(id) => Some(id),
            EntryKey::Local(_) => None,
        }
    }

    /// Something a person typed: not a notice, a card, the assistant, or recalled.
    pub fn is_chat(&self) -> bool {
        !self.recalled
            && matches!(
                self.content,
                Content::Text { .. } | Content::Image { .. } | Content::Unknown { .. }
            )
            && self.sender.as_str() != crate::protocol::model::SYSTEM_SENDER
    }

    /// The message this entry shows, for the conversation list's preview.
    pub fn to_message(&self, cid: &crate::protocol::Cid) -> Message {
        Message {
            id: self.id().cloned().unwrap_or_default(),
            cid: cid.clone(),
            sender: self.sender.clone(),
            is_self: self.is_self,
            time: self.time,
            content: self.content.clone(),
            item_id: None,
            sender_nick: self.sender_nick.as_deref().map(Into::into),
            session_type: Some(1),
            need_push: true,
            red_reminder: self.red_reminder.as_deref().map(str::to_string),
            client_id: match &self.key {
                EntryKey::Local(c) => Some(c.as_str().to_string()),
                EntryKey::Server(_) => None,
            },
        }
    }

    /// The text a copy of this message takes: what it says, or where its pictures are.
    pub fn copy_text(&self) -> Option<String> {
        if self.recalled {
            return None;
        }
        let t = match &self.content {
            Content::Text { text } => text.to_string(),
            Content::Image { urls } => urls.join("\n"),
            Content::TradeCard(card) => match &card.desc {
                Some(d) => format!("{}\n{d}", card.title),
                None => card.title.clone(),
            },
            Content::Notice { text } => text.clone(),
            Content::Unknown { summary, .. } => summary.clone(),
        };
        Some(t).filter(|t| !t.trim().is_empty())
    }
}

/// Hashes message ids once, with fixed keys, for the thread's dedupe filter.
fn id_hash(id: &MessageId) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(id.as_str().as_bytes());
    h.finish()
}

/// The set's values are already hashes: pass them through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdHashes = HashSet<u64, BuildHasherDefault<PassThrough>>;

/// Threads up to this many entries find duplicates by scanning (a page or two: cheaper than
/// a hash table per conversation).
const SCAN_UP_TO: usize = 64;

/// The loaded part of one conversation.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    entries: Vec<Entry>,
    /// Hashes of the server ids in `entries`, once there are more than `SCAN_UP_TO`: a quick
    /// "surely new" for most messages; a hit is confirmed against the entries, so a
    /// collision never hides a message. Small threads are scanned instead.
    ids: Option<IdHashes>,
    /// Incoming entries no `MarkRead` has covered yet.
    unmarked: usize,
    /// Cursor for the next older page; `None` before the first page.
    pub next_cursor: Option<i64>,
    pub has_more: bool,
    /// The newest page has arrived.
    pub loaded: bool,
    /// The nicknames `share_nick` hands out.
    nicks: Vec<Arc<str>>,
    /// The local history may hold messages older than the oldest loaded one.
    pub store_more: bool,
    /// The newest page of the local history was asked for.
    pub store_read: bool,
    /// An older (or the first) page is on its way.
    pub loading: bool,
    /// The message at the bottom of the view; `None` follows the newest.
    pub anchor: Option<(i64, EntryKey)>,
    /// Messages that arrived below the view while scrolled up.
    pub new_below: usize,
    /// Rows of the anchored message hidden below the view: a message taller than the pane is
    /// read by scrolling through it.
    pub anchor_rows: usize,
}

impl Thread {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a message with server id `id` is in the thread.
    pub fn contains(&self, id: &MessageId) -> bool {
        self.maybe_contains(id) && self.index_of(id).is_some()
    }

    fn maybe_contains(&self, id: &MessageId) -> bool {
        self.ids
            .as_ref()
            .is_none_or(|set| set.contains(&id_hash(id)))
    }

    /// As `contains`, faster when the message's time is known (a binary search first).
    fn contains_at(&self, time: i64, id: &MessageId) -> bool {
        if !self.maybe_contains(id) {
            return false;
        }
        let key = EntryKey::Server(id.clone());
        self.position(time, &key).is_ok() || self.index_of(id).is_some()
    }

    fn position(&self, time: i64, key: &EntryKey) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| e.sort_key().cmp(&(time, key)))
    }

    fn insert(&mut self, entry: Entry) {
        if let Some(set) = self.ids.as_mut() {
            if let EntryKey::Server(id) = &entry.key {
                set.insert(id_hash(id));
            }
        } else if self.entries.len() >= SCAN_UP_TO {
            let set = self
                .entries
                .iter()
                .chain(std::iter::once(&entry))
                .filter_map(Entry::id)
                .map(id_hash)
                .collect();
            self.ids = Some(set);
        }
        // Pushes come in order: appending is the common case.
        let at = match self.entries.last() {
            Some(last) if last.sort_key() <= entry.sort_key() => self.entries.len(),
            None => 0,
            _ => self.position(entry.time, &entry.key).unwrap_or_else(|i| i),
        };
        self.entries.insert(at, entry);
    }

    /// Adds a server message unless it is already there; replaces the local entry it echoes.
    /// Returns whether it was new.
    pub fn add_message(&mut self, message: Message, delivery: Delivery) -> bool {
        self.add_entry(message, delivery, false)
    }

    /// `seen`: an incoming message that needs no `MarkRead`.
    fn add_entry(&mut self, message: Message, delivery: Delivery, seen: bool) -> bool {
        if self.contains_at(message.time, &message.id) {
            return false;
        }
        let mut delivery = delivery;
        if let Some(cid) = message.client_id.as_deref()
            && let Some(local) = self.take_local(&ClientId::new(cid))
        {
            // The echo of our own send: it is at least sent.
            if matches!(local.delivery, Delivery::Read) {
                delivery = Delivery::Read;
            } else if message.is_self {
                delivery = Delivery::Sent;
            }
        }
        let read_sent = seen || message.is_self;
        if !read_sent {
            self.unmarked += 1;
        }
        let entry = self.entry_of(message, EntryKey::Server, delivery, read_sent);
        self.insert(entry);
        true
    }

    /// The compact form of `message`; `key` makes its key from the message id.
    fn entry_of(
        &mut self,
        message: Message,
        key: impl FnOnce(MessageId) -> EntryKey,
        delivery: Delivery,
        read_sent: bool,
    ) -> Entry {
        let Message {
            id,
            sender,
            is_self,
            time,
            content,
            sender_nick,
            red_reminder,
            ..
        } = message;
        let mut content = content;
        // Held for long: no spare capacity (a text built by formatting can carry half again).
        match &mut content {
            Content::Text { text } => text.shrink_to_fit(),
            Content::Notice { text } => text.shrink_to_fit(),
            _ => {}
        }
        Entry {
            key: key(id),
            time,
            sender,
            is_self,
            sender_nick: sender_nick.map(|n| self.share_nick(&n)),
            content,
            red_reminder: red_reminder.map(String::into_boxed_str),
            delivery,
            recalled: false,
            read_sent,
            unsaved: false,
        }
    }

    /// One allocation per distinct nickname of the thread (there are one or two).
    fn share_nick(&mut self, nick: &str) -> Arc<str> {
        if let Some(n) = self.nicks.iter().find(|n| ***n == *nick) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(nick);
        if self.nicks.len() < 4 {
            self.nicks.push(n.clone());
        }
        n
    }

    /// Merges a history page (any order); duplicates are skipped.
    pub fn add_history(&mut self, entries: Vec<HistoryEntry>) -> usize {
        // Pages come whole: room for exactly them, not the doubling of one push at a time.
        self.entries.reserve_exact(entries.len());
        let mut added = 0;
        for h in entries {
            let delivery = match (h.message.is_self, h.read_by_peer) {
                (false, _) => Delivery::Incoming,
                (true, true) => Delivery::Read,
                (true, false) => Delivery::Sent,
            };
            let id = h.message.id.clone();
            if self.add_message(h.message, delivery) {
                added += 1;
            } else if h.read_by_peer {
                // Already known: the page may still tell us it has been read.
                self.mark_read_ids(std::iter::once(&id));
            }
        }
        added
    }

    /// Merges messages read from the local history. They were seen (and marked read, when
    /// incoming) in an earlier run, so they are never marked again. Returns how many were new.
    pub fn add_stored(&mut self, messages: Vec<Message>) -> usize {
        self.entries.reserve_exact(messages.len());
        let mut added = 0;
        for m in messages {
            let delivery = if m.is_self {
                Delivery::Sent
            } else {
                Delivery::Incoming
            };
            if self.add_entry(m, delivery, true) {
                added += 1;
            }
        }
        added
    }

    /// Index of the server message `id`.
    pub fn index_of(&self, id: &MessageId) -> Option<usize> {
        self.entries.iter().rposition(|e| e.id() == Some(id))
    }

    /// Adds a pending send shown at once.
    pub fn add_local(&mut self, message: Message, client_id: ClientId, delivery: Delivery) {
        let entry = self.entry_of(message, |_| EntryKey::Local(client_id), delivery, true);
        self.insert(entry);
    }

    /// Puts back a pending send taken out with `take_local` (under a new client id, at a
    /// new time: a retry).
    pub fn readd_local(&mut self, mut entry: Entry, client_id: ClientId, time: i64) {
        entry.key = EntryKey::Local(client_id);
        entry.time = time;
        self.insert(entry);
    }

    pub fn take_local(&mut self, client_id: &ClientId) -> Option<Entry> {
        let i = self
            .entries
            .iter()
            .rposition(|e| matches!(&e.key, EntryKey::Local(c) if c == client_id))?;
        Some(self.entries.remove(i))
    }

    pub fn local_mut(&mut self, client_id: &ClientId) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| matches!(&e.key, EntryKey::Local(c) if c == client_id))
    }

    /// Marks own messages read; returns whether any changed.
    pub fn mark_read_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a MessageId>) -> bool {
        let ids: HashSet<&MessageId> = ids.into_iter().collect();
        let mut changed = false;
        for e in &mut self.entries {
            if let EntryKey::Server(id) = &e.key
                && ids.contains(id)
                && e.is_self
                && e.delivery != Delivery::Read
            {
                e.delivery = Delivery::Read;
                changed = true;
            }
        }
        changed
    }

    pub fn recall(&mut self, id: &MessageId) -> bool {
        match self
            .entries
            .iter_mut()
            .find(|e| matches!(&e.key, EntryKey::Server(i) if i == id))
        {
            Some(e) => {
                e.recalled = true;
                true
            }
            None => false,
        }
    }

    /// The incoming ids no `MarkRead` has covered yet; marks them covered.
    pub fn take_unmarked_incoming(&mut self) -> Vec<MessageId> {
        let mut ids = Vec::new();
        // Newest first, stopping when all are found: new ones are at the end.
        for e in self.entries.iter_mut().rev() {
            if self.unmarked == 0 {
                break;
            }
            if !e.is_self && !e.read_sent {
                e.read_sent = true;
                self.unmarked -= 1;
                if let EntryKey::Server(id) = &e.key {
                    ids.push(id.clone());
                }
            }
        }
        ids.reverse();
        ids
    }

    /// Index of the bottom message in view.
    pub fn anchor_index(&self) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let last = self.entries.len() - 1;
        Some(match &self.anchor {
            None => last,
            Some((t, k)) => match self.position(*t, k) {
                Ok(i) => i,
                // The anchored entry went away (a local send replaced): the one before it.
                Err(i) => i.saturating_sub(1).min(last),
            },
        })
    }

    /// Moves the view so that entry `i` is at the bottom; the last entry follows new ones.
    pub fn set_anchor(&mut self, i: usize) {
        self.anchor_rows = 0;
        if self.entries.is_empty() || i + 1 >= self.entries.len() {
            self.follow_newest();
        } else {
            let e = &self.entries[i];
            self.anchor = Some((e.time, e.key.clone()));
        }
    }

    /// Keeps entry `i` at the bottom of the view with its last `rows` rows hidden below it
    /// (also the newest entry, which then stops following new ones).
    pub fn anchor_within(&mut self, i: usize, rows: usize) {
        if rows == 0 {
            self.set_anchor(i);
        } else if let Some(e) = self.entries.get(i) {
            self.anchor = Some((e.time, e.key.clone()));
            self.anchor_rows = rows;
        }
    }

    /// The view follows the newest message.
    pub fn follow_newest(&mut self) {
        self.anchor = None;
        self.anchor_rows = 0;
        self.new_below = 0;
    }

    /// The latest failed own message.
    pub fn last_failed(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.delivery, Delivery::Failed(_)))
    }

    /// Whether the buyer waits for an answer, as far as the loaded messages tell:
    /// `Some(Some(t))` waiting since `t` (their first chat message after the last own one
    /// the service has), `Some(None)` answered, `None` when no chat message is loaded.
    /// Pending and failed sends are no answer; notices, cards and recalled messages do not
    /// count either way.
    pub fn waiting_since(&self) -> Option<Option<i64>> {
        let mut since = None;
        for e in self.entries.iter().rev().filter(|e| e.is_chat()) {
            if !e.is_self {
                since = Some(e.time);
            } else if e.id().is_some() {
                return Some(since);
            }
        }
        since.map(Some)
    }

    pub fn last_trade_card_mut(&mut self) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| matches!(e.content, Content::TradeCard(_)))
    }
}
