//! Which view gets what: the core's decisions about its views, with no sockets.
//!
//! Every view sees the account's state (connection, conversations, messages, receipts…).
//! What one view asked for goes back to it alone: a history page, the progress and result of
//! its own sends and recalls. The other views see a send that went out as the message it
//! became, and a recall as the recall it was. A view that attaches late first gets what the
//! others already know: the connection state and who we are. Not the conversation list: the
//! one last fetched may be older than the local history the view shows at once, and each view
//! asks for a fresh one when it starts.

use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::protocol::{Cid, ClientId, MessageId, Uid};
use std::collections::{BTreeMap, HashMap, VecDeque};

use super::wire::ViewInfo;

pub type ViewId = u64;

/// The views attached to one account's session and what each asked for.
#[derive(Debug, Default)]
pub struct Hub {
    views: BTreeMap<ViewId, ViewInfo>,
    connection: Option<ConnState>,
    self_info: Option<(Uid, Option<String>)>,
    /// History pages asked for, by conversation and cursor: who waits for each.
    history: HashMap<(Cid, Option<i64>), Vec<ViewId>>,
    sends: HashMap<ClientId, ViewId>,
    recalls: HashMap<(Cid, MessageId), ViewId>,
    /// How the last sends ended, for a view that comes back asking (its core died while it
    /// waited, and the new core finished the send from the outbox before it attached).
    finished: VecDeque<(ClientId, ImEvent)>,
}

/// Send results remembered for views that come back.
const FINISHED_KEPT: usize = 256;

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// A view attaches as `id`: the events that bring it up to date.
    pub fn attach(&mut self, id: ViewId, view: &str, pid: Option<u32>) -> Vec<ImEvent> {
        self.views.insert(
            id,
            ViewInfo {
                id,
                view: view.to_string(),
                pid,
            },
        );
        let mut replay = Vec::new();
        if let Some((uid, nick)) = &self.self_info {
            replay.push(ImEvent::SelfInfo {
                uid: uid.clone(),
                nick: nick.clone(),
            });
        }
        if let Some(state) = &self.connection {
            replay.push(ImEvent::Connection(state.clone()));
        }
        replay
    }

    /// A view went away (or was dropped): what it waited for goes to nobody in particular.
    pub fn detach(&mut self, id: ViewId) {
        self.views.remove(&id);
        for waiting in self.history.values_mut() {
            waiting.retain(|v| *v != id);
        }
        self.history.retain(|_, w| !w.is_empty());
        self.sends.retain(|_, v| *v != id);
        self.recalls.retain(|_, v| *v != id);
    }

    pub fn views(&self) -> Vec<ViewInfo> {
        self.views.values().cloned().collect()
    }

    pub fn connection(&self) -> Option<&ConnState> {
        self.connection.as_ref()
    }

    pub fn account(&self) -> Option<&Uid> {
        self.self_info.as_ref().map(|(uid, _)| uid)
    }

    pub fn nick(&self) -> Option<&str> {
        self.self_info.as_ref().and_then(|(_, n)| n.as_deref())
    }

    /// A view's command: what goes on to the session (`None` for a `Shutdown`, which only
    /// ends that view: the session stays for the others), and what the other views learn of
    /// it (a conversation read in one view is read in all).
    pub fn command(
        &mut self,
        from: ViewId,
        cmd: ImCommand,
    ) -> (Option<ImCommand>, Vec<(ViewId, ImEvent)>) {
        let mut others = Vec::new();
        match &cmd {
            ImCommand::Shutdown => return (None, others),
            ImCommand::MarkRead { cid, .. } => {
                for v in self.views.keys().filter(|v| **v != from) {
                    others.push((*v, ImEvent::ReadElsewhere { cid: cid.clone() }));
                }
            }
            ImCommand::LoadHistory { cid, cursor } => {
                let waiting = self.history.entry((cid.clone(), *cursor)).or_default();
                if !waiting.contains(&from) {
                    waiting.push(from);
                }
            }
            ImCommand::SendText { client_id, .. } | ImCommand::SendImage { client_id, .. } => {
                self.sends.insert(client_id.clone(), from);
            }
            ImCommand::Recall { cid, id } => {
                self.recalls.insert((cid.clone(), id.clone()), from);
            }
            _ => {}
        }
        (Some(cmd), others)
    }

    /// A view says it still waits for these sends (it attached again after losing its core):
    /// the results already known come at once, the others go to it when they come.
    pub fn awaiting(&mut self, from: ViewId, ids: Vec<ClientId>) -> Vec<ImEvent> {
        let mut out = Vec::new();
        for id in ids {
            match self.finished.iter().find(|(c, _)| *c == id) {
                Some((_, ev)) => out.push(ev.clone()),
                None => {
                    self.sends.insert(id, from);
                }
            }
        }
        out
    }

    fn remember(&mut self, client_id: &ClientId, ev: &ImEvent) {
        if self.finished.len() >= FINISHED_KEPT {
            self.finished.pop_front();
        }
        self.finished.push_back((client_id.clone(), ev.clone()));
    }

    /// A session event: to whom it goes, and as what.
    pub fn event(&mut self, ev: ImEvent) -> Vec<(ViewId, ImEvent)> {
        match ev {
            ImEvent::Connection(state) => {
                self.connection = Some(state.clone());
                self.all(ImEvent::Connection(state))
            }
            ImEvent::SelfInfo { uid, nick } => {
                // A later SelfInfo without a nick keeps the one known.
                let nick = nick.or_else(|| self.self_info.as_ref().and_then(|(_, n)| n.clone()));
                self.self_info = Some((uid.clone(), nick.clone()));
                self.all(ImEvent::SelfInfo { uid, nick })
            }
            ImEvent::History { page, requested } => {
                let key = (page.cid.clone(), requested);
                let ev = ImEvent::History { page, requested };
                self.for_waiters(key, ev)
            }
            ImEvent::HistoryFailed {
                cid,
                requested,
                reason,
            } => {
                let key = (cid.clone(), requested);
                let ev = ImEvent::HistoryFailed {
                    cid,
                    requested,
                    reason,
                };
                self.for_waiters(key, ev)
            }
            ImEvent::SendProgress { ref client_id, .. }
            | ImEvent::SendNotSaved { ref client_id, .. } => match self.sends.get(client_id) {
                Some(v) if self.views.contains_key(v) => vec![(*v, ev)],
                _ => self.all(ev),
            },
            ImEvent::SendResult {
                client_id,
                cid,
                result,
            } => {
                let owner = self.sends.remove(&client_id);
                let done = ImEvent::SendResult {
                    client_id: client_id.clone(),
                    cid: cid.clone(),
                    result: result.clone(),
                };
                self.remember(&client_id, &done);
                let Some(owner) = owner.filter(|v| self.views.contains_key(v)) else {
                    // Nobody here sent it (a send kept from before the core started): every
                    // view learns how it ended.
                    return self.all(ImEvent::SendResult {
                        client_id,
                        cid,
                        result,
                    });
                };
                let mut out = Vec::new();
                if let Ok(m) = &result {
                    for v in self.views.keys().filter(|v| **v != owner) {
                        out.push((*v, ImEvent::Message(m.clone())));
                    }
                }
                out.push((
                    owner,
                    ImEvent::SendResult {
                        client_id,
                        cid,
                        result,
                    },
                ));
                out
            }
            ImEvent::RecallResult { cid, id, result } => {
                let owner = self.recalls.remove(&(cid.clone(), id.clone()));
                let Some(owner) = owner.filter(|v| self.views.contains_key(v)) else {
                    return self.all(ImEvent::RecallResult { cid, id, result });
                };
                let mut out = Vec::new();
                if result.is_ok() {
                    for v in self.views.keys().filter(|v| **v != owner) {
                        let ev = ImEvent::Recalled {
                            cid: Some(cid.clone()),
                            id: id.clone(),
                        };
                        out.push((*v, ev));
                    }
                }
                out.push((owner, ImEvent::RecallResult { cid, id, result }));
                out
            }
            other => self.all(other),
        }
    }

    fn all(&self, ev: ImEvent) -> Vec<(ViewId, ImEvent)> {
        self.views.keys().map(|v| (*v, ev.clone())).collect()
    }

    /// A history answer to those who asked for it; to everyone when nobody did.
    fn for_waiters(&mut self, key: (Cid, Option<i64>), ev: ImEvent) -> Vec<(ViewId, ImEvent)> {
        match self.history.remove(&key) {
            Some(waiting) => waiting.into_iter().map(|v| (v, ev.clone())).collect(),
            None => self.all(ev),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im::api::SendFailure;
    use crate::protocol::{Content, Conversation, HistoryPage, Message};

    fn msg(id: &str) -> Message {
        Message {
            id: MessageId::new(id),
            cid: Cid::new("40000000201"),
            sender: Uid::new("2200000000401"),
            is_self: true,
            time: 1,
            content: Content::Text {
                text: "好的".into(),
            },
            item_id: None,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: Some("c-1".into()),
        }
    }

    fn send(cid: &Cid) -> ImCommand {
        ImCommand::SendText {
            cid: cid.clone(),
            client_id: ClientId::new("c-1"),
            text: "好的".into(),
        }
    }

    #[test]
    fn a_send_is_answered_to_its_view_and_shown_as_a_message_to_the_others() {
        let mut hub = Hub::new();
        let tui = 1;
        hub.attach(tui, "tui", None);
        let watch = 2;
        hub.attach(watch, "watch", None);
        let cid = Cid::new("40000000201");
        assert_eq!(hub.command(tui, send(&cid)), (Some(send(&cid)), Vec::new()));
        let progress = ImEvent::SendProgress {
            client_id: ClientId::new("c-1"),
            stage: crate::im::api::SendStage::Sending,
        };
        assert_eq!(hub.event(progress.clone()), vec![(tui, progress)]);
        let out = hub.event(ImEvent::SendResult {
            client_id: ClientId::new("c-1"),
            cid: cid.clone(),
            result: Ok(msg("9.PNM")),
        });
        assert_eq!(out.len(), 2);
        assert!(out.contains(&(watch, ImEvent::Message(msg("9.PNM")))));
        assert!(matches!(&out[1], (v, ImEvent::SendResult { .. }) if *v == tui));
        // A failed send is the sender's business only.
        hub.command(tui, send(&cid));
        let failed = hub.event(ImEvent::SendResult {
            client_id: ClientId::new("c-1"),
            cid,
            result: Err(SendFailure {
                reason: "no".into(),
                retryable: false,
            }),
        });
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, tui);
    }

    #[test]
    fn the_result_of_a_send_nobody_here_made_goes_to_everyone() {
        let mut hub = Hub::new();
        let a = 3;
        hub.attach(a, "tui", None);
        let b = 4;
        hub.attach(b, "tui", None);
        hub.command(a, send(&Cid::new("1")));
        hub.detach(a);
        let out = hub.event(ImEvent::SendResult {
            client_id: ClientId::new("c-1"),
            cid: Cid::new("1"),
            result: Ok(msg("9.PNM")),
        });
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], (v, ImEvent::SendResult { .. }) if *v == b));
    }

    #[test]
    fn a_view_back_from_a_lost_core_gets_the_results_it_waited_for() {
        let mut hub = Hub::new();
        let done = ImEvent::SendResult {
            client_id: ClientId::new("c-1"),
            cid: Cid::new("1"),
            result: Ok(msg("9.PNM")),
        };
        // The new core finished the send from its outbox before the sender was back.
        hub.attach(1, "watch", None);
        hub.event(done.clone());
        hub.attach(2, "send", None);
        assert_eq!(hub.awaiting(2, vec![ClientId::new("c-1")]), vec![done]);
        // One still under way goes to it when it ends.
        assert!(hub.awaiting(2, vec![ClientId::new("c-2")]).is_empty());
        let later = ImEvent::SendResult {
            client_id: ClientId::new("c-2"),
            cid: Cid::new("1"),
            result: Ok(msg("10.PNM")),
        };
        let out = hub.event(later.clone());
        assert!(out.contains(&(2, later)));
        assert!(out.contains(&(1, ImEvent::Message(msg("10.PNM")))));
    }

    #[test]
    fn a_history_page_goes_to_whoever_asked_for_it() {
        let mut hub = Hub::new();
        let a = 5;
        hub.attach(a, "tui", None);
        hub.attach(6, "tui", None);
        let cid = Cid::new("40000000201");
        hub.command(
            a,
            ImCommand::LoadHistory {
                cid: cid.clone(),
                cursor: Some(5),
            },
        );
        let page = HistoryPage {
            cid: cid.clone(),
            entries: Vec::new(),
            has_more: false,
            next_cursor: None,
        };
        let out = hub.event(ImEvent::History {
            page,
            requested: Some(5),
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, a);
    }

    #[test]
    fn a_late_view_first_learns_what_the_others_know_and_shutdown_stays_with_the_view() {
        let mut hub = Hub::new();
        let a = 10;
        let replay = hub.attach(a, "watch", None);
        assert!(replay.is_empty());
        hub.event(ImEvent::SelfInfo {
            uid: Uid::new("2200000000401"),
            nick: Some("卖家".into()),
        });
        hub.event(ImEvent::Connection(ConnState::Live));
        hub.event(ImEvent::Conversations(vec![Conversation::default()]));
        let replay = hub.attach(11, "tui", Some(7));
        assert_eq!(replay.len(), 2);
        assert_eq!(replay[1], ImEvent::Connection(ConnState::Live));
        assert_eq!(hub.command(a, ImCommand::Shutdown), (None, Vec::new()));
        let read = ImCommand::MarkRead {
            cid: Cid::new("1"),
            ids: Vec::new(),
        };
        let (_, others) = hub.command(11, read);
        assert_eq!(
            others,
            vec![(10, ImEvent::ReadElsewhere { cid: Cid::new("1") })]
        );
        assert_eq!(hub.account(), Some(&Uid::new("2200000000401")));
        assert_eq!(hub.views().len(), 2);
    }
}
