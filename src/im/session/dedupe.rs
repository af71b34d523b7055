//! What was seen already: message ids (pushes, echoes, history and backfill overlap), and
//! the client ids of sends resolved without a message id.

use crate::protocol::MessageId;
use foldhash::{HashSet, HashSetExt};
use std::collections::VecDeque;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// The last `capacity` message ids seen, for dedupe across pushes, echoes, history and
/// backfill. Ids are kept as 8-byte keys (the PNM number, else a hash) to bound memory.
#[derive(Debug)]
pub struct SeenIds {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl SeenIds {
    pub fn new(capacity: usize) -> Self {
        SeenIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn key(id: &MessageId) -> u64 {
        match id.number() {
            Some(n) => n,
            None => {
                let mut h = DefaultHasher::new();
                id.as_str().hash(&mut h);
                h.finish()
            }
        }
    }

    /// Records `id`; true when it was not seen before.
    pub fn insert(&mut self, id: &MessageId) -> bool {
        let key = Self::key(id);
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    pub fn contains(&self, id: &MessageId) -> bool {
        self.set.contains(&Self::key(id))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Client ids of sends that were resolved without their message id (accepted, echo never
/// seen): a late echo of one is not shown as a new message.
#[derive(Debug, Default)]
pub struct ResolvedUuids {
    order: VecDeque<String>,
}

impl ResolvedUuids {
    const CAPACITY: usize = 1000;

    pub fn remember(&mut self, uuid: &str) {
        self.order.push_back(uuid.to_string());
        while self.order.len() > Self::CAPACITY {
            self.order.pop_front();
        }
    }

    pub fn contains(&self, uuid: &str) -> bool {
        self.order.iter().any(|u| u == uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_dedupe_and_forget_the_oldest() {
        let mut s = SeenIds::new(3);
        let id = |n: u32| MessageId::new(format!("{n}.PNM"));
        assert!(s.insert(&id(1)));
        assert!(!s.insert(&id(1)));
        assert!(s.insert(&MessageId::new("odd-id")));
        assert!(!s.insert(&MessageId::new("odd-id")));
        assert!(s.insert(&id(2)));
        assert!(s.insert(&id(3))); // evicts 1
        assert_eq!(s.len(), 3);
        assert!(!s.contains(&id(1)));
        assert!(s.contains(&id(3)));
        assert!(s.insert(&id(1)));
    }
}
