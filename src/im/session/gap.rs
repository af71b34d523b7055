//! The gap a lost connection leaves: what was known before it, so that the backfill after
//! the reconnect fetches exactly what may have been missed.

use crate::protocol::{Cid, Conversation};
use foldhash::HashMap;

/// What was known when the connection was lost, kept until a backfill has covered it. Live
/// messages that arrive after the reconnect never move these marks: the backfill fetches
/// each conversation down to what was received *before* the drop, or a message that came in
/// while offline would be hidden behind the first live one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gap {
    /// Wall-clock ms of the first drop not yet covered (local clock: callers allow slack).
    pub start_ms: i64,
    /// Per conversation, the newest time known before that drop: its newest message seen,
    /// or its `modifyTime` in the list, whichever is later.
    pub known: HashMap<Cid, i64>,
}

impl Gap {
    /// The gap that opens now, from what the session knows.
    pub fn open(
        start_ms: i64,
        latest_known: &HashMap<Cid, i64>,
        conversations: &HashMap<Cid, Conversation>,
    ) -> Gap {
        let mut known = latest_known.clone();
        for (cid, c) in conversations {
            let mark = known.entry(cid.clone()).or_insert(c.modify_time);
            *mark = (*mark).max(c.modify_time);
        }
        Gap { start_ms, known }
    }

    /// Conversations of `list` whose history must be fetched, each with the time down to
    /// which it is known. A conversation not known before the drop is fetched down to the
    /// gap's start less `slack_ms` (clocks may disagree; dedupe drops what was seen).
    pub fn targets(&self, list: &[Conversation], slack_ms: i64) -> Vec<(Cid, i64)> {
        list.iter()
            .filter_map(|c| {
                let since = self
                    .known
                    .get(&c.cid)
                    .copied()
                    .unwrap_or(self.start_ms - slack_ms);
                (c.modify_time > since).then(|| (c.cid.clone(), since))
            })
            .collect()
    }

    /// After a backfill of `list` in which `failed` could not be fetched: what is still
    /// open (None when everything is covered). Covered conversations are known up to their
    /// listed time; failed ones keep their marks for the next try.
    pub fn after_backfill(&self, list: &[Conversation], failed: &[Cid]) -> Option<Gap> {
        if failed.is_empty() {
            return None;
        }
        let mut known: HashMap<Cid, i64> = list
            .iter()
            .map(|c| (c.cid.clone(), c.modify_time))
            .collect();
        for cid in failed {
            match self.known.get(cid) {
                Some(&mark) => known.insert(cid.clone(), mark),
                None => known.remove(cid),
            };
        }
        Some(Gap {
            start_ms: self.start_ms,
            known,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uid;

    fn conv(cid: &str, modify: i64) -> Conversation {
        Conversation {
            cid: Cid::new(cid),
            peer: Uid::new("7"),
            modify_time: modify,
            ..Default::default()
        }
    }

    #[test]
    fn backfill_targets_only_conversations_that_moved_since_the_drop() {
        let before: HashMap<Cid, Conversation> = [
            (Cid::new("1"), conv("1", 400)),
            (Cid::new("2"), conv("2", 300)),
            (Cid::new("5"), conv("5", 400)),
        ]
        .into_iter()
        .collect();
        let latest: HashMap<Cid, i64> = [(Cid::new("1"), 350), (Cid::new("5"), 700)]
            .into_iter()
            .collect();
        let gap = Gap::open(800, &latest, &before);
        let list = [
            conv("1", 500),
            conv("2", 300),
            conv("3", 900),
            conv("4", 100),
            conv("5", 700),
        ];
        // 1 moved since the last list; 2 did not; 3 is new since the gap; 4 is older than
        // the gap; 5 moved but its newest message was already pushed to us.
        assert_eq!(
            gap.targets(&list, 0),
            vec![(Cid::new("1"), 400), (Cid::new("3"), 800)]
        );
    }

    #[test]
    fn a_live_message_after_the_drop_does_not_move_the_gap() {
        let before: HashMap<Cid, Conversation> =
            [(Cid::new("1"), conv("1", 400))].into_iter().collect();
        let mut latest: HashMap<Cid, i64> = [(Cid::new("1"), 400)].into_iter().collect();
        let gap = Gap::open(1_000, &latest, &before);
        // Offline: A at 600. Live again: B at 900 is pushed, the list says 900.
        latest.insert(Cid::new("1"), 900);
        assert_eq!(
            gap.targets(&[conv("1", 900)], 0),
            vec![(Cid::new("1"), 400)],
            "fetched down to what was known before the drop, so A is found"
        );
    }

    #[test]
    fn a_backfill_keeps_only_what_failed() {
        let gap = Gap::open(
            1_000,
            &[(Cid::new("1"), 400), (Cid::new("2"), 300)]
                .into_iter()
                .collect::<HashMap<_, _>>(),
            &HashMap::default(),
        );
        let list = [conv("1", 900), conv("2", 800), conv("3", 1_100)];
        assert_eq!(gap.after_backfill(&list, &[]), None);
        let left = gap
            .after_backfill(&list, &[Cid::new("2"), Cid::new("3")])
            .unwrap();
        assert_eq!(left.start_ms, 1_000);
        assert_eq!(
            left.targets(&list, 0),
            vec![(Cid::new("2"), 300), (Cid::new("3"), 1_000)],
            "covered ones are not fetched again; failed ones from their old marks"
        );
    }
}
