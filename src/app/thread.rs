//! One conversation's messages: sorted by time, deduplicated by id, with local pending sends.

use crate::im::api::SendFailure;
use crate::protocol::{ClientId, HistoryEntry, Message, MessageId};
use std::collections::HashSet;

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
    Failed(SendFailure),
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

/// One row of the message pane.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: EntryKey,
    pub message: Message,
    pub delivery: Delivery,
    pub recalled: bool,
    /// A `MarkRead` went out for it (incoming only).
    pub read_sent: bool,
}

impl Entry {
    pub fn sort_key(&self) -> (i64, &EntryKey) {
        (self.message.time, &self.key)
    }
}

/// The loaded part of one conversation.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    entries: Vec<Entry>,
    ids: HashSet<MessageId>,
    /// Incoming entries no `MarkRead` has covered yet.
    unmarked: usize,
    /// Cursor for the next older page; `None` before the first page.
    pub next_cursor: Option<i64>,
    pub has_more: bool,
    /// The newest page has arrived.
    pub loaded: bool,
    /// The local history may hold messages older than the oldest loaded one.
    pub store_more: bool,
    /// An older (or the first) page is on its way.
    pub loading: bool,
    /// The message at the bottom of the view; `None` follows the newest.
    pub anchor: Option<(i64, EntryKey)>,
    /// Messages that arrived below the view while scrolled up.
    pub new_below: usize,
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

    pub fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }

    fn position(&self, time: i64, key: &EntryKey) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| e.sort_key().cmp(&(time, key)))
    }

    fn insert(&mut self, entry: Entry) {
        if let EntryKey::Server(id) = &entry.key {
            self.ids.insert(id.clone());
        }
        // Pushes come in order: appending is the common case.
        let at = match self.entries.last() {
            Some(last) if last.sort_key() <= entry.sort_key() => self.entries.len(),
            None => 0,
            _ => self
                .position(entry.message.time, &entry.key)
                .unwrap_or_else(|i| i),
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
        if self.ids.contains(&message.id) {
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
        let entry = Entry {
            key: EntryKey::Server(message.id.clone()),
            message,
            delivery,
            recalled: false,
            read_sent,
        };
        self.insert(entry);
        true
    }

    /// Merges a history page (any order); duplicates are skipped.
    pub fn add_history(&mut self, entries: Vec<HistoryEntry>) -> usize {
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
        self.entries
            .iter()
            .rposition(|e| matches!(&e.key, EntryKey::Server(i) if i == id))
    }

    /// Adds a pending send shown at once.
    pub fn add_local(&mut self, message: Message, client_id: ClientId, delivery: Delivery) {
        self.insert(Entry {
            key: EntryKey::Local(client_id),
            message,
            delivery,
            recalled: false,
            read_sent: true,
        });
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
                && e.message.is_self
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
            if !e.message.is_self && !e.read_sent {
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
        if self.entries.is_empty() || i + 1 >= self.entries.len() {
            self.anchor = None;
            self.new_below = 0;
        } else {
            let e = &self.entries[i];
            self.anchor = Some((e.message.time, e.key.clone()));
        }
    }

    /// The latest failed own message.
    pub fn last_failed(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| matches!(e.delivery, Delivery::Failed(_)))
    }

    pub fn last_trade_card_mut(&mut self) -> Option<&mut Entry> {
        self.entries.iter_mut().rev().find(|e| {
            matches!(
                e.message.content,
                crate::protocol::Content::TradeCard { .. }
            )
        })
    }
}
