//! The outbox: texts and pictures on their way to the service, each leaving it exactly once
//! (which is what makes exactly one `SendResult` per client id). Pure: times come in.

use super::dedupe::SeenIds;
use crate::im::api::SendFailure;
use crate::im::conn::RequestError;
use crate::protocol::lwp::RpcError;
use crate::protocol::send::SendAck;
use crate::protocol::{Cid, ClientId, Content, Message, MessageId};
use std::time::{Duration, Instant};

/// Where one outgoing text stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutState {
    /// Waiting for a live connection.
    Queued,
    /// Request on the wire.
    Sending,
    /// Flow control or a transient error: send again at this time.
    RetryAt(Instant),
    /// The server accepted it without saying its id: wait for the echo until this time.
    AwaitingEcho { until: Instant, time: Option<i64> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub cid: Cid,
    pub client_id: ClientId,
    /// A text, or a picture already uploaded.
    pub content: Content,
    pub state: OutState,
    /// Retries so far (flow control, transient errors, timeouts).
    pub retries: u32,
    /// It may have reached the service already (a timeout, a connection lost while it was
    /// on the wire, a crash while sending): the next attempt looks for it in the
    /// conversation's newest history first and sends only when it is not there. Whether the
    /// service drops a repeated uuid is unknown (§12), so a buyer could get it twice.
    pub maybe_delivered: bool,
    /// Asked for again with the same client id and content: that many more `SendResult`s.
    pub repeats: u32,
}

/// What became of a send after its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendStep {
    /// Not in the outbox any more (already resolved, e.g. by its echo): ignore.
    Unknown,
    /// Accepted with this id: done.
    Sent {
        item: Outgoing,
        ack: SendAck,
        id: MessageId,
    },
    /// Failed for good.
    Failed {
        item: Outgoing,
        failure: SendFailure,
    },
    /// Scheduled again.
    Retry { at: Instant },
    /// Back in the queue until the next registration (connection lost; same uuid).
    Requeued,
    /// Accepted; the echo will tell the id.
    AwaitEcho,
}

/// Why a send attempt failed before or at the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    Request(RequestError),
    /// The conversation's peer could not be found (needed for `actualReceivers`).
    NoPeer,
}

/// The in-memory outbox. Each entry leaves it exactly once, which is what makes exactly
/// one `SendResult` per client id.
#[derive(Debug, Default)]
pub struct Outbox {
    items: Vec<Outgoing>,
}

impl Outbox {
    /// Adds a send; false when the client id is already in the outbox.
    pub fn push(&mut self, cid: Cid, client_id: ClientId, content: Content) -> bool {
        if self.items.iter().any(|i| i.client_id == client_id) {
            return false;
        }
        self.items.push(Outgoing {
            cid,
            client_id,
            content,
            state: OutState::Queued,
            retries: 0,
            maybe_delivered: false,
            repeats: 0,
        });
        true
    }

    /// The same send asked for again: true when `client_id` waits with this content (its
    /// result will be given once more).
    pub fn repeat(&mut self, cid: &Cid, client_id: &ClientId, content: &Content) -> bool {
        match self.items.iter_mut().find(|i| &i.client_id == client_id) {
            Some(item) if &item.cid == cid && &item.content == content => {
                item.repeats += 1;
                true
            }
            _ => false,
        }
    }

    /// Marks `client_id` as possibly delivered already (see `Outgoing::maybe_delivered`).
    pub fn mark_maybe_delivered(&mut self, client_id: &ClientId) {
        if let Some(item) = self.items.iter_mut().find(|i| &i.client_id == client_id) {
            item.maybe_delivered = true;
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, client_id: &ClientId) -> Option<&Outgoing> {
        self.items.iter().find(|i| &i.client_id == client_id)
    }

    /// Entries to put on the wire now; they become `Sending`. Per conversation one at a
    /// time, in the order they were written: the oldest not yet accepted goes when it is
    /// queued or its retry is due, and the ones behind it wait for its answer.
    pub fn take_sendable(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut waiting: Vec<&Cid> = Vec::new();
        let mut out = Vec::new();
        for item in &mut self.items {
            if waiting.contains(&&item.cid) {
                continue;
            }
            let due = match item.state {
                // Accepted by the service: what follows may go.
                OutState::AwaitingEcho { .. } => continue,
                OutState::Queued => true,
                OutState::RetryAt(at) => at <= now,
                OutState::Sending => false,
            };
            if due {
                item.state = OutState::Sending;
                out.push(item.clone());
            }
            waiting.push(&item.cid);
        }
        out
    }

    /// The connection is gone: whatever was on the wire goes back to the queue, as possibly
    /// delivered.
    pub fn requeue_in_flight(&mut self) {
        for item in &mut self.items {
            if item.state == OutState::Sending {
                item.state = OutState::Queued;
                item.maybe_delivered = true;
            }
        }
    }

    /// Applies the answer to a send request.
    pub fn on_result(
        &mut self,
        client_id: &ClientId,
        result: Result<SendAck, SendError>,
        now: Instant,
        retry_limit: u32,
        retry_step: Duration,
        echo_wait: Duration,
    ) -> SendStep {
        let Some(pos) = self
            .items
            .iter()
            .position(|i| &i.client_id == client_id && i.state == OutState::Sending)
        else {
            return SendStep::Unknown;
        };
        let fail = |items: &mut Vec<Outgoing>, reason: String, retryable: bool| {
            let item = items.remove(pos);
            SendStep::Failed {
                item,
                failure: SendFailure { reason, retryable },
            }
        };
        let Some(item) = self.items.get_mut(pos) else {
            return SendStep::Unknown;
        };
        match result {
            Ok(ack) => match ack.message_id.clone() {
                Some(id) => SendStep::Sent {
                    item: self.items.remove(pos),
                    ack,
                    id,
                },
                None => {
                    item.state = OutState::AwaitingEcho {
                        until: now + echo_wait,
                        time: ack.time,
                    };
                    SendStep::AwaitEcho
                }
            },
            Err(SendError::NoPeer) => fail(
                &mut self.items,
                "conversation not found (no peer to send to)".into(),
                false,
            ),
            Err(SendError::Request(RequestError::Rpc(RpcError::ContentBlocked { reason }))) => {
                fail(&mut self.items, format!("blocked: {reason}"), false)
            }
            // The connection dropped, or the token died with it: resend after the next /reg.
            Err(SendError::Request(
                e @ (RequestError::Closed | RequestError::Rpc(RpcError::InvalidToken { .. })),
            )) => {
                item.state = OutState::Queued;
                // Lost with the connection, the request may have arrived; a rejected token
                // means it did not.
                item.maybe_delivered |= matches!(e, RequestError::Closed);
                SendStep::Requeued
            }
            Err(SendError::Request(e)) => {
                // A timed-out send may have been delivered: the retry looks first.
                let retryable = matches!(e, RequestError::Timeout)
                    || matches!(&e, RequestError::Rpc(r) if r.is_retryable());
                item.maybe_delivered |= matches!(e, RequestError::Timeout);
                if retryable && item.retries < retry_limit {
                    item.retries += 1;
                    let at = now + retry_step * item.retries;
                    item.state = OutState::RetryAt(at);
                    SendStep::Retry { at }
                } else {
                    fail(&mut self.items, e.to_string(), true)
                }
            }
        }
    }

    /// The look for a possibly delivered entry found nothing: it goes out (now, if it is
    /// still the one waiting).
    pub fn not_delivered(&mut self, client_id: &ClientId) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|i| &i.client_id == client_id && i.state == OutState::Sending)
        {
            item.maybe_delivered = false;
            item.state = OutState::Queued;
        }
    }

    /// Takes out an entry that turned out to be delivered already.
    pub fn take_delivered(&mut self, client_id: &ClientId) -> Option<Outgoing> {
        let pos = self
            .items
            .iter()
            .position(|i| &i.client_id == client_id && i.state == OutState::Sending)?;
        Some(self.items.remove(pos))
    }

    /// An own message seen as a push or in history: the outbox entry it confirms, if any.
    /// Matched by uuid; without one, by conversation and text among entries already sent.
    pub fn match_echo(&mut self, msg: &Message) -> Option<Outgoing> {
        if !msg.is_self {
            return None;
        }
        let by_uuid = msg
            .client_id
            .as_deref()
            .and_then(|u| self.items.iter().position(|i| i.client_id.as_str() == u));
        let pos = by_uuid.or_else(|| {
            self.items.iter().position(|i| {
                i.cid == msg.cid && i.content == msg.content && !matches!(i.state, OutState::Queued)
            })
        })?;
        Some(self.items.remove(pos))
    }

    /// Entries whose echo never came: accepted, so they count as sent.
    pub fn expire_awaiting(&mut self, now: Instant) -> Vec<Outgoing> {
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|i| matches!(i.state, OutState::AwaitingEcho { until, .. } if until <= now));
        self.items = keep;
        done
    }

    /// The earliest echo deadline, and retry time when `live` (offline, retries wait for
    /// the next registration anyway).
    pub fn next_due(&self, live: bool) -> Option<Instant> {
        self.items
            .iter()
            .filter_map(|i| match i.state {
                OutState::RetryAt(at) if live => Some(at),
                OutState::AwaitingEcho { until, .. } => Some(until),
                _ => None,
            })
            .min()
    }

    pub fn drain(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.items)
    }
}

/// The message of `page` (a conversation's newest history) that is `item`, delivered
/// already: the own message that carries its uuid. Whether history carries uuids is not
/// known (§12); when no own message of the page has one, the first own message with the
/// same content that this session has not seen stands for it (one seen was an earlier
/// message of the same words).
pub fn find_delivered<'a>(
    item: &Outgoing,
    page: &'a [Message],
    seen: &SeenIds,
) -> Option<&'a Message> {
    let own = || page.iter().filter(|m| m.is_self);
    if own().any(|m| m.client_id.is_some()) {
        return own().find(|m| m.client_id.as_deref() == Some(item.client_id.as_str()));
    }
    own().find(|m| m.cid == item.cid && m.content == item.content && !seen.contains(&m.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uid;

    fn ack(id: Option<&str>) -> SendAck {
        SendAck {
            message_id: id.map(MessageId::new),
            time: Some(1_700_000_000_000),
            uuid: None,
        }
    }

    fn outbox_with(body: &str) -> (Outbox, ClientId, Instant) {
        let mut o = Outbox::default();
        let id = ClientId::new("-17000000000001");
        let text = |t: &str| Content::Text { text: t.into() };
        assert!(o.push(Cid::new("1@goofish"), id.clone(), text(body)));
        assert!(!o.push(Cid::new("1"), id.clone(), text("again")));
        (o, id, Instant::now())
    }

    const STEP: Duration = Duration::from_secs(2);
    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn outbox_sends_once_and_finishes_on_ack() {
        let (mut o, id, now) = outbox_with("hi");
        let sent = o.take_sendable(now);
        assert_eq!(sent.len(), 1);
        assert!(o.take_sendable(now).is_empty(), "not sent twice");
        let step = o.on_result(&id, Ok(ack(Some("5.PNM"))), now, 3, STEP, WAIT);
        assert!(matches!(step, SendStep::Sent { ref id, .. } if id.as_str() == "5.PNM"));
        assert!(o.is_empty());
        // A late second answer finds nothing.
        let again = o.on_result(&id, Ok(ack(Some("5.PNM"))), now, 3, STEP, WAIT);
        assert_eq!(again, SendStep::Unknown);
    }

    #[test]
    fn outbox_sends_one_at_a_time_per_conversation_in_writing_order() {
        let mut o = Outbox::default();
        let text = |t: &str| Content::Text { text: t.into() };
        let id = |n: u32| ClientId::new(format!("-1700000000000{n}"));
        for n in 1..=3 {
            assert!(o.push(Cid::new("a"), id(n), text(&format!("a{n}"))));
        }
        assert!(o.push(Cid::new("b"), id(9), text("b1")));
        let now = Instant::now();
        let first: Vec<_> = o
            .take_sendable(now)
            .into_iter()
            .map(|i| i.client_id)
            .collect();
        assert_eq!(first, vec![id(1), id(9)], "the oldest of each conversation");
        assert!(
            o.take_sendable(now).is_empty(),
            "the rest wait for an answer"
        );
        // Flow control on the first: the second still waits behind it until its retry.
        let flow = Err(SendError::Request(RequestError::Rpc(RpcError::FlowControl)));
        let step = o.on_result(&id(1), flow, now, 3, STEP, WAIT);
        assert_eq!(step, SendStep::Retry { at: now + STEP });
        assert!(o.take_sendable(now).is_empty());
        let again: Vec<_> = o
            .take_sendable(now + STEP)
            .into_iter()
            .map(|i| i.client_id)
            .collect();
        assert_eq!(again, vec![id(1)]);
        // Accepted without an id (waiting for its echo): the next one goes.
        assert_eq!(
            o.on_result(&id(1), Ok(ack(None)), now, 3, STEP, WAIT),
            SendStep::AwaitEcho
        );
        let next: Vec<_> = o
            .take_sendable(now)
            .into_iter()
            .map(|i| i.client_id)
            .collect();
        assert_eq!(next, vec![id(2)]);
        o.on_result(&id(2), Ok(ack(Some("7.PNM"))), now, 3, STEP, WAIT);
        let last: Vec<_> = o
            .take_sendable(now)
            .into_iter()
            .map(|i| i.client_id)
            .collect();
        assert_eq!(last, vec![id(3)]);
    }

    #[test]
    fn outbox_retries_flow_control_with_growing_pauses_then_fails() {
        let (mut o, id, now) = outbox_with("hi");
        let flow = || Err(SendError::Request(RequestError::Rpc(RpcError::FlowControl)));
        let mut t = now;
        for n in 1..=3u32 {
            assert_eq!(o.take_sendable(t).len(), 1);
            let step = o.on_result(&id, flow(), t, 3, STEP, WAIT);
            assert_eq!(step, SendStep::Retry { at: t + STEP * n });
            assert_eq!(o.next_due(true), Some(t + STEP * n));
            assert_eq!(o.next_due(false), None);
            assert!(o.take_sendable(t).is_empty(), "not before its time");
            t += STEP * n;
        }
        assert_eq!(o.take_sendable(t).len(), 1);
        match o.on_result(&id, flow(), t, 3, STEP, WAIT) {
            SendStep::Failed { failure, .. } => assert!(failure.retryable),
            other => panic!("{other:?}"),
        }
        assert!(o.is_empty());
    }

    #[test]
    fn outbox_content_block_fails_at_once() {
        let (mut o, id, now) = outbox_with("加我微信");
        o.take_sendable(now);
        let blocked = RpcError::ContentBlocked {
            reason: "安全拦截".into(),
        };
        let step = o.on_result(
            &id,
            Err(SendError::Request(RequestError::Rpc(blocked))),
            now,
            3,
            STEP,
            WAIT,
        );
        match step {
            SendStep::Failed { failure, .. } => {
                assert!(!failure.retryable);
                assert!(failure.reason.contains("安全拦截"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outbox_requeues_on_connection_loss_with_the_same_uuid() {
        let (mut o, id, now) = outbox_with("hi");
        o.take_sendable(now);
        let step = o.on_result(
            &id,
            Err(SendError::Request(RequestError::Closed)),
            now,
            3,
            STEP,
            WAIT,
        );
        assert_eq!(step, SendStep::Requeued);
        let again = o.take_sendable(now);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].client_id, id);
        // In flight when the connection drops: back to the queue.
        o.requeue_in_flight();
        assert_eq!(o.get(&id).map(|i| &i.state), Some(&OutState::Queued));
    }

    fn echo(text: &str, uuid: Option<&str>) -> Message {
        Message {
            id: MessageId::new("9.PNM"),
            cid: Cid::new("1"),
            sender: Uid::new("2"),
            is_self: true,
            time: 1,
            content: Content::Text { text: text.into() },
            item_id: None,
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: uuid.map(str::to_string),
        }
    }

    #[test]
    fn echo_before_answer_resolves_the_send() {
        let (mut o, id, now) = outbox_with("hi");
        // Not yet on the wire: a same-text echo is someone else's (another device).
        assert!(o.match_echo(&echo("hi", None)).is_none());
        o.take_sendable(now);
        assert!(o.match_echo(&echo("other", None)).is_none());
        assert_eq!(
            o.match_echo(&echo("hi", None)).map(|i| i.client_id),
            Some(id.clone())
        );
        // The answer that follows is ignored.
        let step = o.on_result(&id, Ok(ack(Some("9.PNM"))), now, 3, STEP, WAIT);
        assert_eq!(step, SendStep::Unknown);
    }

    #[test]
    fn echo_with_uuid_matches_even_a_queued_send() {
        let (mut o, id, _) = outbox_with("hi");
        let m = echo("hi", Some(id.as_str()));
        assert_eq!(o.match_echo(&m).map(|i| i.client_id), Some(id));
    }

    #[test]
    fn answer_without_id_waits_for_the_echo_then_counts_as_sent() {
        let (mut o, id, now) = outbox_with("hi");
        o.take_sendable(now);
        assert_eq!(
            o.on_result(&id, Ok(ack(None)), now, 3, STEP, WAIT),
            SendStep::AwaitEcho
        );
        assert!(o.expire_awaiting(now).is_empty());
        assert_eq!(o.next_due(false), Some(now + WAIT));
        let done = o.expire_awaiting(now + WAIT);
        assert_eq!(done.len(), 1);
        assert!(o.is_empty());
    }

    #[test]
    fn a_possibly_delivered_send_is_found_by_uuid_or_else_by_unseen_words() {
        let (mut o, id, now) = outbox_with("hi");
        o.take_sendable(now);
        let item = o.get(&id).unwrap().clone();
        let mut mine = echo("hi", Some(id.as_str()));
        mine.cid = item.cid.clone();
        let mut older = echo("hi", Some("-1600000000000"));
        older.id = MessageId::new("8.PNM");
        older.cid = item.cid.clone();
        let seen = SeenIds::new(8);
        let page = [older.clone(), mine.clone()];
        assert_eq!(
            find_delivered(&item, &page, &seen).map(|m| &m.id),
            Some(&mine.id)
        );
        assert!(
            find_delivered(&item, &[older.clone()], &seen).is_none(),
            "another uuid"
        );
        // A history without uuids: the same words, unless seen before (an earlier "hi").
        let (mut a, mut b) = (older, mine);
        a.client_id = None;
        b.client_id = None;
        let mut seen = SeenIds::new(8);
        seen.insert(&a.id);
        assert_eq!(
            find_delivered(&item, &[a.clone(), b.clone()], &seen).map(|m| &m.id),
            Some(&b.id)
        );
        assert!(find_delivered(&item, &[a], &seen).is_none());
    }
}
