//! Fault scenarios on the session core with made-up time: each feeds the core what the
//! network would do and checks what it decides. No sockets, no sleeping: milliseconds.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cloned_ref_to_slice_refs
)]

use super::core::*;
use super::outbox::SendError;
use super::{DeviceSource, SessionConfig};
use crate::im::api::{ConnState, ImCommand, ImEvent, SendStage};
use crate::im::conn::{ConnConfig, RequestError};
use crate::im::mtop::{ImToken, MtopError};
use crate::protocol::encode::{PushItem, chat_message_item, sync_push_body};
use crate::protocol::lwp::{Frame, RpcError, path};
use crate::protocol::send::SendAck;
use crate::protocol::{
    Cid, ClientId, Content, Conversation, HistoryEntry, HistoryPage, Message, MessageId, Uid,
};
use crate::secret::Secret;
use crate::store::{OutboxItem, OutboxState, Store, StoreError, StoreHandle};
use std::time::{Duration, Instant};

const ME: &str = "2200000000401";
const BUYER: &str = "1000000101";
const T0: i64 = 1_790_000_000_000;

fn config() -> SessionConfig {
    let mut cfg = SessionConfig::new(ConnConfig::default(), DeviceSource::Fixed("did".into()));
    cfg.settle_delay = Duration::from_secs(3);
    cfg
}

/// `config()` with a local history in memory: the core then asks for reads and writes.
fn config_with_store() -> SessionConfig {
    let mut cfg = config();
    cfg.store = Some(StoreHandle::new(
        Store::open_in_memory(&Uid::new(ME)).unwrap(),
    ));
    cfg
}

/// The core, a clock, and everything it asked for so far.
struct Sim {
    core: SessionCore,
    start: Instant,
    at: Instant,
    emitted: Vec<ImEvent>,
    jobs: Vec<Job>,
    stores: Vec<StoreOp>,
    closed: Vec<LinkId>,
}

impl Sim {
    fn new(cfg: SessionConfig) -> Sim {
        let start = Instant::now();
        Sim {
            core: SessionCore::new(cfg, 7),
            start,
            at: start,
            emitted: vec![],
            jobs: vec![],
            stores: vec![],
            closed: vec![],
        }
    }

    fn now(&self) -> Now {
        Now {
            at: self.at,
            wall_ms: T0 + self.at.duration_since(self.start).as_millis() as i64,
        }
    }

    fn feed(&mut self, input: Input) {
        let now = self.now();
        for out in self.core.handle(now, input) {
            match out {
                Output::Emit(e) => self.emitted.push(e),
                Output::Run(j) => self.jobs.push(j),
                Output::Store(op) => self.stores.push(op),
                Output::Close(l) => self.closed.push(l),
            }
        }
    }

    /// Lets `d` pass, ticking whenever the core asked to be woken.
    fn pass(&mut self, d: Duration) {
        let end = self.at + d;
        while let Some(wake) = self.core.next_wake().filter(|w| *w <= end) {
            self.at = self.at.max(wake);
            self.feed(Input::Tick);
        }
        self.at = end;
    }

    fn command(&mut self, cmd: ImCommand) {
        self.feed(Input::Command(cmd));
    }

    /// The jobs asked for since the last call.
    fn take_jobs(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.jobs)
    }

    fn take_events(&mut self) -> Vec<ImEvent> {
        std::mem::take(&mut self.emitted)
    }

    /// The one connect job waiting; its link.
    fn connect_job(&mut self) -> (LinkId, Option<ImToken>) {
        let jobs = self.take_jobs();
        let mut found = None;
        for j in jobs {
            match j {
                Job::Connect { link, token, .. } => found = Some((link, token)),
                other => self.jobs.push(other),
            }
        }
        found.expect("a connect job")
    }

    /// Starts and registers: the first connection is live.
    fn go_live(&mut self) -> LinkId {
        self.feed(Input::Start);
        self.finish_connect(token(None))
    }

    /// Completes the pending connect job with `token`.
    fn finish_connect(&mut self, token: ImToken) -> LinkId {
        let (link, _) = self.connect_job();
        self.feed(Input::Connecting {
            link,
            step: ConnectStep::Identity {
                uid: Uid::new(ME),
                did: "did".into(),
            },
        });
        self.feed(Input::Connected { link, token });
        assert!(self.core.is_live());
        link
    }

    fn states(&self) -> Vec<ConnState> {
        self.emitted
            .iter()
            .filter_map(|e| match e {
                ImEvent::Connection(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn messages(&self) -> Vec<&Message> {
        self.emitted
            .iter()
            .filter_map(|e| match e {
                ImEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn results(&self) -> Vec<(&ClientId, Result<&Message, String>)> {
        self.emitted
            .iter()
            .filter_map(|e| match e {
                ImEvent::SendResult {
                    client_id, result, ..
                } => Some((client_id, result.as_ref().map_err(|f| f.reason.clone()))),
                _ => None,
            })
            .collect()
    }

    fn push(&mut self, link: LinkId, messages: &[Message]) {
        let items: Vec<PushItem> = messages
            .iter()
            .map(|m| PushItem {
                biz_type: 40000,
                data: chat_message_item(m, &Uid::new(ME)),
            })
            .collect();
        let mut frame = Frame::request(
            path::PUSH_SYNC,
            Some(sync_push_body(&items, T0 * 1000, None)),
            "1 0".into(),
        );
        frame.lwp = Some(path::PUSH_SYNC.into());
        self.feed(Input::Push { link, frame });
    }

    fn control_push(&mut self, link: LinkId, lwp: &str) {
        let mut frame = Frame::request(lwp, Some(serde_json::json!({})), "1 0".into());
        frame.lwp = Some(lwp.into());
        self.feed(Input::Push { link, frame });
    }
}

fn token(expires_at_ms: Option<i64>) -> ImToken {
    ImToken {
        access_token: Secret::new("token"),
        expires_at_ms,
        refresh_token: None,
    }
}

fn cid(n: u32) -> Cid {
    Cid::new(format!("4000000{n}"))
}

fn conv(n: u32, modify: i64) -> Conversation {
    Conversation {
        cid: cid(n),
        peer: Uid::new(BUYER),
        modify_time: modify,
        ..Default::default()
    }
}

fn msg(id: u64, conv: u32, time: i64, text: &str, own: bool) -> Message {
    Message {
        id: MessageId::new(format!("{id}.PNM")),
        cid: cid(conv),
        sender: Uid::new(if own { ME } else { BUYER }),
        is_self: own,
        time,
        content: Content::Text { text: text.into() },
        item_id: None,
        sender_nick: None,
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

fn send(n: u32, conv: u32, text: &str) -> (ClientId, ImCommand) {
    let client_id = ClientId::new(format!("-1790000000000{n}"));
    let cmd = ImCommand::SendText {
        cid: cid(conv),
        client_id: client_id.clone(),
        text: text.into(),
    };
    (client_id, cmd)
}

fn ack(id: u64) -> Result<SendAck, SendError> {
    Ok(SendAck {
        message_id: Some(MessageId::new(format!("{id}.PNM"))),
        time: Some(T0 + 1),
        uuid: None,
    })
}

/// The send jobs waiting, by client id.
fn send_jobs(jobs: &[Job]) -> Vec<ClientId> {
    jobs.iter()
        .filter_map(|j| match j {
            Job::Send { item, .. } => Some(item.client_id.clone()),
            _ => None,
        })
        .collect()
}

fn list_job(jobs: &[Job]) -> Option<(ListPurpose, Instant)> {
    jobs.iter().find_map(|j| match j {
        Job::List {
            purpose,
            not_before,
            ..
        } => Some((*purpose, *not_before)),
        _ => None,
    })
}

#[test]
fn it_reconnects_with_growing_backoff_and_resets_after_a_healthy_connection() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    let mut delays = vec![];
    for _ in 0..5 {
        let (link, _) = s.connect_job();
        s.feed(Input::ConnectFailed {
            link,
            failure: ConnectFailure::Retry {
                error: "refused".into(),
                token: None,
            },
        });
        let Some(ConnState::Reconnecting { in_ms, attempt, .. }) = s.states().last().cloned()
        else {
            panic!("{:?}", s.states())
        };
        delays.push((attempt, in_ms));
        // `in_ms` is rounded down.
        s.pass(Duration::from_millis(in_ms + 1));
    }
    // Jitter in the upper half of 1, 2, 4, 8, 16 s.
    for (i, (attempt, ms)) in delays.iter().enumerate() {
        let ceiling = 1000u64 << i;
        assert_eq!(*attempt as usize, i + 1);
        assert!(*ms >= ceiling / 2 && *ms <= ceiling, "{delays:?}");
    }
    // Live for a healthy while, then a drop: the next wait starts small again.
    let link = s.finish_connect(token(None));
    s.pass(Duration::from_secs(20));
    s.feed(Input::Closed {
        link,
        reason: "reset".into(),
    });
    let Some(ConnState::Reconnecting { attempt, in_ms, .. }) = s.states().last().cloned() else {
        panic!()
    };
    assert_eq!((attempt, in_ms <= 1000), (1, true));
}

#[test]
fn a_token_is_reused_after_a_quick_network_drop_but_not_after_a_drop_right_after_reg() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    s.pass(Duration::from_secs(30));
    s.feed(Input::Closed {
        link,
        reason: "network".into(),
    });
    s.pass(Duration::from_secs(2));
    let (link, reused) = s.connect_job();
    assert!(reused.is_some(), "a healthy connection's token is kept");
    s.feed(Input::Connected {
        link,
        token: token(None),
    });
    // Dropped a second after /reg: the token is suspect (§9.3).
    s.pass(Duration::from_secs(1));
    s.feed(Input::Closed {
        link,
        reason: "closed".into(),
    });
    s.pass(Duration::from_secs(3));
    let (_, reused) = s.connect_job();
    assert!(reused.is_none());
}

#[test]
fn the_token_is_rotated_before_it_expires() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    // 24 h token, 10 min margin.
    let link = s.finish_connect(token(Some(T0 + 24 * 3600 * 1000)));
    s.take_events();
    s.pass(Duration::from_secs(24 * 3600 - 11 * 60));
    assert!(s.core.is_live(), "not before the margin");
    s.pass(Duration::from_secs(2 * 60));
    assert!(s.closed.contains(&link), "the old connection is closed");
    let (_, reused) = s.connect_job();
    assert!(reused.is_none(), "a fresh token is asked for");
    assert_eq!(s.states(), [ConnState::Connecting]);
}

#[test]
fn kickouts_discard_the_token_and_repeated_ones_warn_of_another_client() {
    let mut s = Sim::new(config());
    let mut link = s.go_live();
    for _ in 0..3 {
        s.control_push(link, path::PUSH_KICKOUT);
        s.pass(Duration::from_secs(10));
        let (next, reused) = s.connect_job();
        assert!(reused.is_none());
        s.feed(Input::Connected {
            link: next,
            token: token(None),
        });
        link = next;
    }
    let warnings = s
        .emitted
        .iter()
        .filter(|e| matches!(e, ImEvent::Error(t) if t.contains("same device id")))
        .count();
    assert_eq!(warnings, 1);
}

#[test]
fn login_and_risk_control_faults_park_until_retried_and_the_saved_login_is_checked() {
    let mut cfg = config();
    cfg.parked_retry = Some(Duration::from_secs(1800));
    let mut s = Sim::new(cfg);
    s.feed(Input::Start);
    let (link, _) = s.connect_job();
    // No login at all: nothing to renew, the user is asked at once.
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::NeedsLogin(MtopError::NoCookie),
    });
    assert!(matches!(
        s.states().last(),
        Some(ConnState::NeedsLogin { .. })
    ));
    // A history request is answered at once rather than kept forever.
    s.command(ImCommand::LoadHistory {
        cid: cid(1),
        cursor: None,
    });
    assert!(
        s.emitted
            .iter()
            .any(|e| matches!(e, ImEvent::HistoryFailed { .. }))
    );
    // Every 3 s the saved login is looked at, one look at a time.
    s.pass(Duration::from_secs(3));
    let looks = |s: &mut Sim| {
        s.take_jobs()
            .iter()
            .filter(|j| matches!(j, Job::AdoptSavedLogin { .. }))
            .count()
    };
    assert_eq!(looks(&mut s), 1);
    s.pass(Duration::from_secs(10));
    assert_eq!(looks(&mut s), 0, "no second look while one is out");
    s.feed(Input::Done(Done::SavedLogin { adopted: false }));
    s.pass(Duration::from_secs(3));
    assert_eq!(looks(&mut s), 1);
    // A new login was saved: it connects.
    s.feed(Input::Done(Done::SavedLogin { adopted: true }));
    let (link, _) = s.connect_job();
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::RiskControl {
            url: "https://punish.example/x5".into(),
        },
    });
    assert!(
        matches!(s.states().last(), Some(ConnState::RiskControl { url }) if url.contains("punish"))
    );
    // Risk control is checked again by itself, never sooner than 2 minutes, then ever less
    // often while it stays.
    let mut gaps = vec![];
    let mut since = s.at;
    for _ in 0..6 {
        let mut waited = Duration::ZERO;
        let link = loop {
            s.pass(Duration::from_secs(1));
            waited += Duration::from_secs(1);
            let jobs = s.take_jobs();
            if let Some(link) = jobs.iter().find_map(|j| match j {
                Job::Connect { link, .. } => Some(*link),
                _ => None,
            }) {
                break link;
            }
            assert!(waited < Duration::from_secs(3600));
        };
        gaps.push(s.at.duration_since(since).as_secs());
        since = s.at;
        s.feed(Input::ConnectFailed {
            link,
            failure: ConnectFailure::RiskControl {
                url: "https://punish.example/x5".into(),
            },
        });
    }
    assert_eq!(gaps, [120, 240, 480, 960, 1800, 1800]);
}

#[test]
fn risk_control_cleared_in_a_browser_is_live_again_by_itself_within_three_minutes() {
    let mut cfg = config();
    cfg.parked_retry = None;
    let mut s = Sim::new(cfg);
    s.feed(Input::Start);
    let (link, _) = s.connect_job();
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::RiskControl {
            url: "https://punish.example/x5".into(),
        },
    });
    // The slider is passed in a browser meanwhile: the next check connects.
    s.pass(Duration::from_secs(3 * 60));
    s.finish_connect(token(None));
    assert!(matches!(s.states().last(), Some(ConnState::Live)));
}

#[test]
fn reconnect_now_skips_the_wait_and_brings_back_a_removed_session() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    s.feed(Input::Closed {
        link,
        reason: "network".into(),
    });
    assert!(matches!(
        s.states().last(),
        Some(ConnState::Reconnecting { .. })
    ));
    s.command(ImCommand::ReconnectNow);
    let link = s.finish_connect(token(None));
    // Live: nothing to do.
    s.command(ImCommand::ReconnectNow);
    assert!(
        s.take_jobs()
            .iter()
            .all(|j| !matches!(j, Job::Connect { .. }))
    );
    s.control_push(link, path::PUSH_SESSION_REMOVE);
    assert!(matches!(
        s.states().last(),
        Some(ConnState::SessionRemoved { .. })
    ));
    assert!(
        s.core
            .next_wake()
            .is_none_or(|w| w > s.at + Duration::from_secs(3600))
    );
    s.command(ImCommand::ReconnectNow);
    s.finish_connect(token(None));
}

#[test]
fn an_explicit_list_request_retries_a_parked_session_at_once() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    let (link, _) = s.connect_job();
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::SessionRemoved("connect limit".into()),
    });
    assert!(
        s.core.next_wake().is_none(),
        "session removed: not retried on its own"
    );
    s.command(ImCommand::ListConversations);
    let link = s.finish_connect(token(None));
    // The deferred list goes out after the settle pause.
    let (purpose, not_before) = list_job(&s.take_jobs()).unwrap();
    assert_eq!(purpose, ListPurpose::User);
    assert_eq!(not_before, s.at + Duration::from_secs(3));
    let _ = link;
}

#[test]
fn commands_made_while_connecting_wait_for_the_connection() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    s.command(ImCommand::ListConversations);
    s.command(ImCommand::LoadHistory {
        cid: cid(1),
        cursor: None,
    });
    s.command(ImCommand::MarkRead {
        cid: cid(1),
        ids: vec![MessageId::new("1.PNM")],
    });
    s.command(ImCommand::MarkRead {
        cid: cid(1),
        ids: vec![MessageId::new("2.PNM"), MessageId::new("1.PNM")],
    });
    let waiting = s.take_jobs();
    assert!(
        matches!(&waiting[..], [Job::Connect { .. }]),
        "nothing but the connection before it is up: {waiting:?}"
    );
    s.jobs = waiting;
    s.finish_connect(token(None));
    let jobs = s.take_jobs();
    assert!(list_job(&jobs).is_some());
    assert!(jobs.iter().any(|j| matches!(j, Job::History { .. })));
    let reads: Vec<_> = jobs
        .iter()
        .filter_map(|j| match j {
            Job::MarkRead { ids, .. } => Some(ids.len()),
            _ => None,
        })
        .collect();
    assert_eq!(reads, [2], "one read per conversation, ids merged");
}

#[test]
fn pushes_are_deduped_and_an_echo_resolves_its_send_once() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    let m = msg(10, 1, T0, "在吗", false);
    s.push(link, &[m.clone()]);
    s.push(link, &[m.clone()]);
    assert_eq!(s.messages().len(), 1);
    // A send, its echo (with the uuid) before its answer: one result, no message event.
    let (id, cmd) = send(1, 1, "在的");
    s.command(cmd);
    assert_eq!(send_jobs(&s.take_jobs()), [id.clone()]);
    let mut echo = msg(11, 1, T0 + 5, "在的", true);
    echo.client_id = Some(id.as_str().into());
    s.push(link, &[echo.clone()]);
    s.feed(Input::Done(Done::Sent {
        client_id: id.clone(),
        result: ack(11),
        peer: None,
    }));
    s.push(link, &[echo]);
    assert_eq!(s.results().len(), 1);
    assert_eq!(
        s.messages().len(),
        1,
        "the echo is not shown as a new message"
    );
}

#[test]
fn an_answer_without_an_id_waits_for_the_echo_and_a_late_echo_is_not_shown() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    let (id, cmd) = send(1, 1, "好的");
    s.command(cmd);
    s.take_jobs();
    s.feed(Input::Done(Done::Sent {
        client_id: id.clone(),
        result: Ok(SendAck {
            message_id: None,
            time: Some(T0),
            uuid: None,
        }),
        peer: None,
    }));
    assert!(s.results().is_empty());
    s.pass(Duration::from_secs(11));
    assert_eq!(s.results().len(), 1, "counted as sent after the echo wait");
    let mut late = msg(12, 1, T0 + 1, "好的", true);
    late.client_id = Some(id.as_str().into());
    s.push(link, &[late]);
    assert!(s.messages().is_empty());
}

#[test]
fn flow_control_is_retried_with_growing_pauses_and_content_security_is_not() {
    let mut s = Sim::new(config());
    s.go_live();
    let (id, cmd) = send(1, 1, "包邮吗");
    s.command(cmd);
    let flow = || Err(SendError::Request(RequestError::Rpc(RpcError::FlowControl)));
    for n in 1..=3u64 {
        assert_eq!(send_jobs(&s.take_jobs()), [id.clone()], "attempt {n}");
        s.feed(Input::Done(Done::Sent {
            client_id: id.clone(),
            result: flow(),
            peer: None,
        }));
        s.pass(Duration::from_secs(2 * n) - Duration::from_millis(1));
        assert!(send_jobs(&s.take_jobs()).is_empty(), "not before {}", 2 * n);
        s.pass(Duration::from_millis(1));
    }
    assert_eq!(send_jobs(&s.take_jobs()), [id.clone()]);
    s.feed(Input::Done(Done::Sent {
        client_id: id.clone(),
        result: flow(),
        peer: None,
    }));
    assert!(matches!(&s.results()[..], [(_, Err(_))]));
    // Content security: failed at once, not retryable.
    let (id2, cmd) = send(2, 1, "加我微信");
    s.command(cmd);
    s.take_jobs();
    s.feed(Input::Done(Done::Sent {
        client_id: id2,
        result: Err(SendError::Request(RequestError::Rpc(
            RpcError::ContentBlocked {
                reason: "CSI_FORBID".into(),
            },
        ))),
        peer: None,
    }));
    let last = s.emitted.iter().rev().find_map(|e| match e {
        ImEvent::SendResult { result, .. } => Some(result.clone()),
        _ => None,
    });
    assert!(matches!(last, Some(Err(f)) if !f.retryable && f.reason.contains("CSI")));
}

#[test]
fn an_offline_text_waits_and_goes_out_once_in_order_after_the_reconnect() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    s.pass(Duration::from_secs(30));
    s.feed(Input::Closed {
        link,
        reason: "gone".into(),
    });
    let (a, cmd_a) = send(1, 1, "一");
    let (b, cmd_b) = send(2, 1, "二");
    s.command(cmd_a);
    s.command(cmd_b);
    assert!(s.emitted.iter().any(|e| matches!(
        e,
        ImEvent::SendProgress {
            stage: SendStage::Queued,
            ..
        }
    )));
    s.pass(Duration::from_secs(2));
    s.finish_connect(token(None));
    assert_eq!(
        send_jobs(&s.take_jobs()),
        [a.clone()],
        "the second waits for the first"
    );
    s.feed(Input::Done(Done::Sent {
        client_id: a,
        result: ack(20),
        peer: None,
    }));
    assert_eq!(send_jobs(&s.take_jobs()), [b]);
}

#[test]
fn a_send_lost_with_its_connection_is_looked_for_before_it_is_sent_again() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    let (id, cmd) = send(1, 1, "只发一次");
    s.command(cmd);
    s.take_jobs();
    s.pass(Duration::from_secs(30));
    s.feed(Input::Closed {
        link,
        reason: "gone".into(),
    });
    s.feed(Input::Done(Done::Sent {
        client_id: id.clone(),
        result: Err(SendError::Request(RequestError::Closed)),
        peer: None,
    }));
    s.pass(Duration::from_secs(2));
    s.finish_connect(token(None));
    let jobs = s.take_jobs();
    assert!(send_jobs(&jobs).is_empty(), "not sent blindly");
    assert!(
        jobs.iter()
            .any(|j| matches!(j, Job::Check { client_id, .. } if *client_id == id))
    );
    // It is there: resolved with its real id, never sent again.
    let mut there = msg(30, 1, T0 + 10, "只发一次", true);
    there.client_id = Some(id.as_str().into());
    s.feed(Input::Done(Done::Checked {
        client_id: id.clone(),
        result: Ok(vec![there]),
    }));
    assert!(matches!(&s.results()[..], [(_, Ok(m))] if m.id.as_str() == "30.PNM"));
    assert!(send_jobs(&s.take_jobs()).is_empty());
    // Another one whose look finds nothing goes out.
    let (id2, cmd) = send(2, 1, "第二条");
    s.command(cmd);
    s.take_jobs();
    s.feed(Input::Done(Done::Sent {
        client_id: id2.clone(),
        result: Err(SendError::Request(RequestError::Timeout)),
        peer: None,
    }));
    s.pass(Duration::from_secs(2));
    assert!(s.take_jobs().iter().any(|j| matches!(j, Job::Check { .. })));
    s.feed(Input::Done(Done::Checked {
        client_id: id2.clone(),
        result: Ok(vec![]),
    }));
    assert_eq!(send_jobs(&s.take_jobs()), [id2]);
}

#[test]
fn the_backfill_fetches_each_conversation_down_to_what_was_known_before_the_drop() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    s.command(ImCommand::ListConversations);
    s.take_jobs();
    s.feed(Input::Done(Done::Conversations {
        purpose: ListPurpose::User,
        result: Ok(vec![conv(1, T0 - 1000), conv(2, T0 - 2000)]),
    }));
    s.push(link, &[msg(40, 1, T0 + 100, "断线前", false)]);
    s.pass(Duration::from_secs(30));
    s.feed(Input::Closed {
        link,
        reason: "gone".into(),
    });
    s.pass(Duration::from_secs(2));
    let link = s.finish_connect(token(None));
    // A live message before the backfill moves conversation 1 on.
    s.push(link, &[msg(42, 1, T0 + 40_000, "重连后", false)]);
    let (purpose, _) = list_job(&s.take_jobs()).unwrap();
    assert_eq!(purpose, ListPurpose::Backfill);
    s.feed(Input::Done(Done::Conversations {
        purpose,
        result: Ok(vec![
            conv(1, T0 + 40_000),
            conv(2, T0 - 2000),
            conv(3, T0 + 35_000),
        ]),
    }));
    let targets = s
        .take_jobs()
        .into_iter()
        .find_map(|j| match j {
            Job::Backfill { targets, .. } => Some(targets),
            _ => None,
        })
        .unwrap();
    // 1 down to its message before the drop (not to the live one); 2 did not move; 3 is
    // new since the drop (its start, less the clock slack).
    assert_eq!(
        targets,
        vec![(cid(1), T0 + 100), (cid(3), T0 + 30_000 - 5 * 60 * 1000)]
    );
}

#[test]
fn an_unfinished_backfill_is_tried_again_while_live() {
    let mut cfg = config();
    cfg.backfill_retry = Duration::from_secs(30);
    let mut s = Sim::new(cfg);
    let link = s.go_live();
    s.pass(Duration::from_secs(30));
    s.feed(Input::Closed {
        link,
        reason: "gone".into(),
    });
    s.pass(Duration::from_secs(2));
    s.finish_connect(token(None));
    s.take_jobs();
    s.feed(Input::Done(Done::Conversations {
        purpose: ListPurpose::Backfill,
        result: Err(RpcFailure::Request(RequestError::Timeout)),
    }));
    s.pass(Duration::from_secs(29));
    assert!(list_job(&s.take_jobs()).is_none());
    s.pass(Duration::from_secs(1));
    assert_eq!(
        list_job(&s.take_jobs()).map(|l| l.0),
        Some(ListPurpose::Backfill)
    );
}

#[test]
fn a_backfilled_message_seen_live_is_not_shown_twice() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    let live = msg(50, 1, T0 + 10, "实时", false);
    s.push(link, &[live.clone()]);
    s.feed(Input::Done(Done::BackfillStep {
        messages: vec![msg(49, 1, T0 + 5, "断线时", false), live],
        done: 1,
        total: 1,
    }));
    let texts: Vec<_> = s
        .messages()
        .iter()
        .map(|m| m.id.as_str().to_string())
        .collect();
    assert_eq!(texts, ["50.PNM", "49.PNM"]);
}

#[test]
fn store_failures_are_reported_once_and_a_send_not_saved_says_so() {
    let mut s = Sim::new(config_with_store());
    s.feed(Input::Start);
    assert_eq!(
        s.stores,
        [StoreOp::LoadStartup],
        "the outbox is read before connecting"
    );
    assert!(s.take_jobs().is_empty());
    // The last run left a text on the wire: it is looked for before being sent again.
    s.feed(Input::Store(StoreDone::Startup(Startup {
        outbox: vec![OutboxItem {
            client_id: ClientId::new("-17000000000001"),
            cid: cid(1),
            text: "上次没发完".into(),
            created: T0 - 5000,
            state: OutboxState::Sending,
        }],
        ..Startup::default()
    })));
    s.finish_connect(token(None));
    assert!(s.take_jobs().iter().any(|j| matches!(j, Job::Check { .. })));
    let broken = || StoreError::Unavailable("disk I/O error".into());
    let (id, cmd) = send(1, 2, "存不下");
    s.command(cmd);
    s.feed(Input::Store(StoreDone::Failed {
        op: StoreOpKind::OutboxAdd(id.clone()),
        error: broken(),
    }));
    s.feed(Input::Store(StoreDone::Failed {
        op: StoreOpKind::Messages,
        error: broken(),
    }));
    let errors = s
        .emitted
        .iter()
        .filter(|e| matches!(e, ImEvent::Error(t) if t.contains("local history")))
        .count();
    assert_eq!(errors, 1);
    assert!(
        s.emitted
            .iter()
            .any(|e| matches!(e, ImEvent::SendNotSaved { client_id, .. } if *client_id == id))
    );
    assert_eq!(send_jobs(&s.take_jobs()), [id], "and it is still sent");
}

#[test]
fn a_picture_offline_fails_at_once_and_a_bad_file_is_not_offered_for_retry() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    s.command(ImCommand::SendImage {
        cid: cid(1),
        client_id: ClientId::new("-1"),
        path: "/tmp/a.png".into(),
    });
    assert!(matches!(&s.results()[..], [(_, Err(r))] if r.contains("not connected")));
    s.take_events();
    s.finish_connect(token(None));
    s.command(ImCommand::SendImage {
        cid: cid(1),
        client_id: ClientId::new("-2"),
        path: "/tmp/a.txt".into(),
    });
    assert!(
        s.take_jobs()
            .iter()
            .any(|j| matches!(j, Job::Upload { .. }))
    );
    s.feed(Input::Done(Done::Uploaded {
        cid: cid(1),
        client_id: ClientId::new("-2"),
        result: Err(MediaError::NotAPicture {
            path: "/tmp/a.txt".into(),
        }),
    }));
    let last = s.emitted.iter().rev().find_map(|e| match e {
        ImEvent::SendResult { result, .. } => Some(result.clone()),
        _ => None,
    });
    assert!(matches!(last, Some(Err(f)) if !f.retryable));
}

#[test]
fn a_stale_connection_attempt_is_closed_and_its_events_ignored() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    let (old, _) = s.connect_job();
    s.command(ImCommand::Shutdown);
    s.feed(Input::Connected {
        link: old,
        token: token(None),
    });
    assert!(s.closed.contains(&old));
    assert!(s.core.is_stopped());
    assert_eq!(s.states().last(), Some(&ConnState::Stopped));
}

#[test]
fn stopping_answers_every_pending_send() {
    let mut s = Sim::new(config());
    s.go_live();
    let (a, cmd) = send(1, 1, "a");
    s.command(cmd);
    let (b, cmd) = send(2, 2, "b");
    s.command(cmd);
    s.feed(Input::CommandsClosed);
    let ids: Vec<_> = s.results().iter().map(|(id, _)| (*id).clone()).collect();
    assert_eq!(ids, [a, b]);
    assert!(s.results().iter().all(|(_, r)| r.is_err()));
}

#[test]
fn history_pages_are_stored_deduped_and_answered() {
    let mut s = Sim::new(config());
    let link = s.go_live();
    let page = HistoryPage {
        cid: cid(1),
        entries: vec![HistoryEntry {
            message: msg(60, 1, T0, "历史", false),
            read_by_peer: false,
        }],
        has_more: false,
        next_cursor: None,
    };
    s.feed(Input::Done(Done::History {
        cid: cid(1),
        requested: None,
        result: Ok(page),
    }));
    assert!(
        s.emitted
            .iter()
            .any(|e| matches!(e, ImEvent::History { .. }))
    );
    // The same message pushed afterwards is not new.
    s.push(link, &[msg(60, 1, T0, "历史", false)]);
    assert!(s.messages().is_empty());
}

/// The login jobs waiting (keep-alive checks, renewals with their `silent`), taken.
fn login_jobs(s: &mut Sim) -> (usize, Vec<bool>) {
    let mut checks = 0;
    let mut renewals = vec![];
    for j in s.take_jobs() {
        match j {
            Job::CheckLogin => checks += 1,
            Job::RenewLogin { silent } => renewals.push(silent),
            other => s.jobs.push(other),
        }
    }
    (checks, renewals)
}

fn renewed(s: &mut Sim, step: Result<crate::im::renewal::RenewStep, String>, silent: bool) {
    s.feed(Input::Done(Done::LoginRenewed {
        result: step,
        silent_tried: silent,
    }));
}

fn needs_login_count(s: &Sim) -> usize {
    s.states()
        .iter()
        .filter(|st| matches!(st, ConnState::NeedsLogin { .. }))
        .count()
}

#[test]
fn the_login_is_kept_warm_every_ten_minutes_and_renewed_ahead_of_time() {
    let mut s = Sim::new(config());
    s.go_live();
    s.pass(Duration::from_secs(8 * 60));
    assert_eq!(login_jobs(&mut s), (0, vec![]), "not before 9 minutes");
    s.pass(Duration::from_secs(3 * 60));
    assert_eq!(
        login_jobs(&mut s),
        (1, vec![]),
        "one keep-alive by 11 minutes"
    );
    s.pass(Duration::from_secs(20 * 60));
    assert_eq!(login_jobs(&mut s).0, 0, "no second call while one is out");
    s.feed(Input::Done(Done::LoginChecked { result: Ok(()) }));
    s.pass(Duration::from_secs(11 * 60));
    assert_eq!(login_jobs(&mut s), (1, vec![]));
    s.feed(Input::Done(Done::LoginChecked { result: Ok(()) }));
    // An hour after the start: hasLogin.do ahead of any expiry (silent allowed: never used).
    s.pass(Duration::from_secs(20 * 60));
    let (_, renewals) = login_jobs(&mut s);
    assert_eq!(renewals, vec![true]);
    renewed(&mut s, Ok(crate::im::renewal::RenewStep::HasLogin), false);
    assert!(s.core.is_live());
    // The next one an hour later.
    s.pass(Duration::from_secs(59 * 60));
    assert_eq!(login_jobs(&mut s).1, Vec::<bool>::new());
    s.pass(Duration::from_secs(2 * 60));
    assert_eq!(login_jobs(&mut s).1, vec![true]);
}

#[test]
fn an_expired_login_at_connect_is_renewed_before_the_user_is_asked() {
    let mut s = Sim::new(config());
    s.feed(Input::Start);
    let (link, _) = s.connect_job();
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::NeedsLogin(MtopError::SessionExpired),
    });
    assert_eq!(needs_login_count(&s), 0, "not asked yet");
    assert_eq!(login_jobs(&mut s).1, vec![true]);
    renewed(&mut s, Ok(crate::im::renewal::RenewStep::Silent), true);
    s.finish_connect(token(None));
    assert_eq!(needs_login_count(&s), 0);
    let connecting = s
        .states()
        .iter()
        .filter(|st| matches!(st, ConnState::Connecting))
        .count();
    assert_eq!(connecting, 1, "one attempt as the user sees it");
}

#[test]
fn a_refused_renewal_asks_for_a_login_once_and_does_not_loop() {
    let mut cfg = config();
    cfg.parked_retry = Some(Duration::from_secs(30 * 60));
    let mut s = Sim::new(cfg);
    s.feed(Input::Start);
    let (link, _) = s.connect_job();
    s.feed(Input::ConnectFailed {
        link,
        failure: ConnectFailure::NeedsLogin(MtopError::SessionExpired),
    });
    assert_eq!(login_jobs(&mut s).1, vec![true]);
    renewed(&mut s, Err("hasLogin.do: passport refused".into()), true);
    assert_eq!(needs_login_count(&s), 1);
    // Hours pass: the parked retry reconnects now and then, the service still says
    // SESSION_EXPIRED; the renewal is not tried again and no keep-alive runs meanwhile.
    let mut renewals = 0;
    for _ in 0..6 {
        s.pass(Duration::from_secs(31 * 60));
        let mut connects = vec![];
        for j in s.take_jobs() {
            match j {
                Job::Connect { link, .. } => connects.push(link),
                Job::RenewLogin { .. } => renewals += 1,
                Job::CheckLogin => panic!("keep-alive while waiting for a login"),
                _ => {}
            }
        }
        for link in connects {
            s.feed(Input::ConnectFailed {
                link,
                failure: ConnectFailure::NeedsLogin(MtopError::SessionExpired),
            });
        }
        renewals += login_jobs(&mut s).1.len();
    }
    assert_eq!(renewals, 0);
    // A new login saved meanwhile works again, and so would a renewal.
    s.pass(Duration::from_secs(3));
    assert!(
        s.take_jobs()
            .iter()
            .any(|j| matches!(j, Job::AdoptSavedLogin { .. }))
    );
    s.feed(Input::Done(Done::SavedLogin { adopted: true }));
    let link = s.finish_connect(token(None));
    let _ = link;
}

#[test]
fn a_keepalive_that_finds_the_login_expired_renews_it_without_dropping_the_connection() {
    let mut s = Sim::new(config());
    s.go_live();
    s.pass(Duration::from_secs(11 * 60));
    assert_eq!(login_jobs(&mut s).0, 1);
    s.feed(Input::Done(Done::LoginChecked {
        result: Err(MtopError::SessionExpired),
    }));
    assert_eq!(login_jobs(&mut s).1, vec![true]);
    renewed(&mut s, Ok(crate::im::renewal::RenewStep::Silent), true);
    assert!(s.core.is_live());
    assert!(s.closed.is_empty(), "the connection stays");
    // The next expiry within six hours: hasLogin.do only, the silent step is spent.
    s.pass(Duration::from_secs(11 * 60));
    assert_eq!(login_jobs(&mut s).0, 1);
    s.feed(Input::Done(Done::LoginChecked {
        result: Err(MtopError::SessionExpired),
    }));
    assert_eq!(login_jobs(&mut s).1, vec![false]);
    renewed(
        &mut s,
        Err("hasLogin.do: passport refused: 未登录".into()),
        false,
    );
    assert_eq!(needs_login_count(&s), 1);
    assert!(!s.core.is_live());
}

#[test]
fn a_new_buyers_first_message_stores_the_conversation_without_replacing_a_listed_one() {
    let mut s = Sim::new(config_with_store());
    s.feed(Input::Start);
    s.feed(Input::Store(StoreDone::Startup(Startup::default())));
    let link = s.finish_connect(token(None));
    s.feed(Input::Done(Done::Conversations {
        purpose: ListPurpose::User,
        result: Ok(vec![conv(1, T0)]),
    }));
    let mut listed = msg(60, 1, T0 + 1, "还在吗", false);
    listed.sender_nick = Some("老买家".into());
    let mut first = msg(61, 2, T0 + 2, "这个还能买吗", false);
    first.sender_nick = Some("早睡早起的月亮".into());
    first.item_id = Some("900000000602".into());
    s.push(link, &[listed, first.clone()]);
    s.push(link, &[msg(62, 2, T0 + 3, "在吗", false)]);
    let learned: Vec<&Conversation> = s
        .stores
        .iter()
        .filter_map(|op| match op {
            StoreOp::Write(crate::store::WriteOp::NewConversations(list)) => Some(list),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(learned.len(), 1, "once, and only for the unlisted one");
    assert_eq!(learned[0].cid, cid(2));
    assert_eq!(learned[0].peer.as_str(), BUYER);
    assert_eq!(learned[0].peer_nick.as_deref(), Some("早睡早起的月亮"));
    assert_eq!(learned[0].item_id.as_deref(), Some("900000000602"));
}
