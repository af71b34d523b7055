//! Commands from the UI to the session, queued on the UI's side of the channel so that the
//! UI never waits for the session: the session may itself be waiting for the UI to read
//! its events, and two tasks waiting on each other's full channels never wake.
//!
//! The queue stays small: mark-reads, the only commands a burst of pushes makes, are folded
//! into one per conversation; every other command comes from a key.

use crate::im::api::ImCommand;
use std::collections::VecDeque;
use tokio::sync::mpsc::{self, error::TrySendError};

#[derive(Debug, Default)]
pub struct Outgoing {
    queue: VecDeque<ImCommand>,
}

impl Outgoing {
    /// Queues `cmd`; a mark-read joins one already waiting for its conversation.
    pub fn push(&mut self, cmd: ImCommand) {
        if let ImCommand::MarkRead { cid, ids } = &cmd
            && let Some(ImCommand::MarkRead { ids: pending, .. }) = self
                .queue
                .iter_mut()
                .find(|c| matches!(c, ImCommand::MarkRead { cid: waiting, .. } if waiting == cid))
        {
            for id in ids {
                if !pending.contains(id) {
                    pending.push(id.clone());
                }
            }
            return;
        }
        self.queue.push_back(cmd);
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.queue.len()
    }

    /// Hands the session as many commands as its channel takes now, in order.
    pub fn flush(&mut self, to: &mpsc::Sender<ImCommand>) {
        while let Some(cmd) = self.queue.pop_front() {
            match to.try_send(cmd) {
                Ok(()) => {}
                Err(TrySendError::Full(cmd)) => {
                    self.queue.push_front(cmd);
                    return;
                }
                // The session is gone; the connection state already says so.
                Err(TrySendError::Closed(_)) => {
                    self.queue.clear();
                    return;
                }
            }
        }
    }

    /// Sends the oldest command through a reserved slot.
    pub fn send_one(&mut self, permit: mpsc::Permit<'_, ImCommand>) {
        if let Some(cmd) = self.queue.pop_front() {
            permit.send(cmd);
        }
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Cid, MessageId};

    fn read(cid: &str, ids: &[&str]) -> ImCommand {
        ImCommand::MarkRead {
            cid: Cid::new(cid),
            ids: ids.iter().map(|i| MessageId::new(*i)).collect(),
        }
    }

    #[test]
    fn mark_reads_fold_into_one_per_conversation_and_others_keep_their_order() {
        let mut q = Outgoing::default();
        q.push(read("1", &["1.PNM"]));
        q.push(ImCommand::ListConversations);
        q.push(read("2", &["5.PNM"]));
        q.push(read("1", &["2.PNM", "1.PNM"]));
        assert_eq!(q.len(), 3);
        let (tx, mut rx) = mpsc::channel(8);
        q.flush(&tx);
        assert!(q.is_empty());
        assert_eq!(rx.try_recv().unwrap(), read("1", &["1.PNM", "2.PNM"]));
        assert_eq!(rx.try_recv().unwrap(), ImCommand::ListConversations);
        assert_eq!(rx.try_recv().unwrap(), read("2", &["5.PNM"]));
    }

    #[test]
    fn a_full_channel_keeps_the_rest_waiting_without_blocking() {
        let mut q = Outgoing::default();
        q.push(ImCommand::ListConversations);
        q.push(read("1", &["1.PNM"]));
        let (tx, mut rx) = mpsc::channel(1);
        q.flush(&tx);
        assert_eq!(q.len(), 1, "one taken, one waits");
        // More reads for the same conversation while it waits: still one command.
        q.push(read("1", &["2.PNM"]));
        assert_eq!(q.len(), 1);
        assert_eq!(rx.try_recv().unwrap(), ImCommand::ListConversations);
        q.flush(&tx);
        assert_eq!(rx.try_recv().unwrap(), read("1", &["1.PNM", "2.PNM"]));
        drop(rx);
        q.push(ImCommand::ListConversations);
        q.flush(&tx);
        assert!(q.is_empty(), "a closed session takes nothing more");
    }
}
