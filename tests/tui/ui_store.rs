//! The UI with its local history: the cached list before the network, messages the service
//! no longer returns, drafts across restarts, and Ctrl-F search that jumps to a message.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{
    AppState, DRAFT_SAVE_MS, Effect, Focus, Input, STORE_PAGE, StoreReply, StoreRequest,
};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent};
use goofish_tui::protocol::{Cid, Conversation, Message, MessageId, Uid};
use goofish_tui::store::{SearchHit, Store, StoreHandle};
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use ui_support::*;

fn cid(s: &str) -> Cid {
    Cid::new(s)
}

fn store_reqs(fx: &[Effect]) -> Vec<StoreRequest> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Store(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn has_im(fx: &[Effect], pred: impl Fn(&ImCommand) -> bool) -> bool {
    fx.iter().any(|e| matches!(e, Effect::Im(c) if pred(c)))
}

fn ctrl(s: &mut AppState, c: char) -> Vec<Effect> {
    key_mod(s, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn reply(s: &mut AppState, r: StoreReply) -> Vec<Effect> {
    send(s, Input::Store(r))
}

/// `populated`, with a local history attached (and nothing in it).
/// The store's answer to a search for `query`.
fn found(s: &mut AppState, query: &str, hits: Vec<SearchHit>) -> Vec<Effect> {
    reply(
        s,
        StoreReply::Search {
            query: query.into(),
            result: Ok(hits),
        },
    )
}

fn with_store() -> AppState {
    let mut s = populated(Lang::En);
    reply(
        &mut s,
        StoreReply::Startup {
            conversations: Vec::new(),
            drafts: Vec::new(),
        },
    );
    s
}

/// Incoming messages `from..to` of conversation 101, a minute apart (the same `i` is always
/// the same message).
fn buyer_msgs(from: i64, to: i64) -> Vec<Message> {
    (from..to)
        .map(|i| {
            msg(
                &format!("{}.PNM", 1000 + i),
                "101",
                "3001",
                now() - (10_000 - i) * MIN,
                text(&format!("第{i}条")),
            )
        })
        .collect()
}

/// `with_store`, conversation 101 open, and the store's newest page of it arrived.
fn opened_with_stored(messages: Vec<Message>) -> AppState {
    let mut s = with_store();
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    reply(
        &mut s,
        StoreReply::Messages {
            cid: cid("101"),
            before: None,
            messages,
        },
    );
    s
}

#[test]
fn cached_list_is_marked_until_the_service_list_arrives() {
    let mut s = state(Lang::En);
    let cached = vec![conv("7", "3007", "老客户", "相机", now() - MIN, 1)];
    reply(
        &mut s,
        StoreReply::Startup {
            conversations: cached,
            drafts: vec![(cid("7"), "稍等".into())],
        },
    );
    assert_eq!(s.visible(), &[cid("7")]);
    assert!(s.cached && s.has_store);
    assert_eq!(s.draft(&cid("7")), "稍等");
    im(
        &mut s,
        ImEvent::Conversations(vec![conv("8", "3008", "新买家", "镜头", now(), 0)]),
    );
    assert!(!s.cached);
    assert_eq!(s.visible(), &[cid("8")]);

    // A late cache never replaces what the service said.
    let mut s = populated(Lang::En);
    reply(
        &mut s,
        StoreReply::Startup {
            conversations: vec![conv("7", "3007", "老客户", "相机", now(), 1)],
            drafts: Vec::new(),
        },
    );
    assert!(!s.cached);
    assert!(s.conversation(&cid("7")).is_none());
}

#[test]
fn opening_shows_stored_messages_without_marking_them_again() {
    let mut s = with_store();
    key(&mut s, KeyCode::Char('j'));
    let fx = key(&mut s, KeyCode::Enter);
    assert!(store_reqs(&fx).contains(&StoreRequest::Messages {
        cid: cid("101"),
        before: None,
    }));
    assert!(has_im(&fx, |c| matches!(
        c,
        ImCommand::LoadHistory { cursor: None, .. }
    )));
    let fx = reply(
        &mut s,
        StoreReply::Messages {
            cid: cid("101"),
            before: None,
            messages: buyer_msgs(0, 5),
        },
    );
    assert_eq!(s.thread(&cid("101")).unwrap().len(), 5);
    assert!(!has_im(&fx, |c| matches!(c, ImCommand::MarkRead { .. })));
    // The service's page merges in; what both had shows once.
    im(
        &mut s,
        ImEvent::History {
            page: page("101", buyer_msgs(3, 7), None),
            requested: None,
        },
    );
    assert_eq!(s.thread(&cid("101")).unwrap().len(), 7);
}

#[test]
fn a_push_before_opening_does_not_skip_the_stored_messages() {
    let mut s = with_store();
    im(
        &mut s,
        ImEvent::Message(msg("77.PNM", "101", "3001", now(), text("刚到的"))),
    );
    key(&mut s, KeyCode::Char('j'));
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(s.open, Some(cid("101")));
    assert!(store_reqs(&fx).contains(&StoreRequest::Messages {
        cid: cid("101"),
        before: None,
    }));
    // Once per conversation, not on every visit.
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char('j'));
    let fx = key(&mut s, KeyCode::Enter);
    assert!(
        !store_reqs(&fx)
            .iter()
            .any(|r| matches!(r, StoreRequest::Messages { .. }))
    );
}

#[test]
fn scrolling_past_the_service_reads_older_messages_from_the_store() {
    let mut s = opened_with_stored(buyer_msgs(100, 100 + STORE_PAGE as i64));
    // The service has only the newest few and says there is nothing older.
    im(
        &mut s,
        ImEvent::History {
            page: page("101", buyer_msgs(140, 150), None),
            requested: None,
        },
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Messages);
    let fx = key(&mut s, KeyCode::Char('g'));
    let oldest = buyer_msgs(100, 101).remove(0);
    assert_eq!(
        store_reqs(&fx),
        vec![StoreRequest::Messages {
            cid: cid("101"),
            before: Some((oldest.time, oldest.id.clone())),
        }]
    );
    assert!(s.thread(&cid("101")).unwrap().loading);
    reply(
        &mut s,
        StoreReply::Messages {
            cid: cid("101"),
            before: Some((oldest.time, oldest.id)),
            messages: buyer_msgs(90, 100),
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 60);
    assert_eq!(t.entries()[0].id(), Some(&MessageId::new("1090.PNM")));
    // Fewer than a page: the store has nothing older either.
    assert!(!t.store_more && !t.loading);
    let fx = key(&mut s, KeyCode::Char('g'));
    assert!(store_reqs(&fx).is_empty());
}

#[test]
fn offline_scrolling_reads_the_store_even_when_the_service_has_more() {
    let mut s = with_store();
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    im(
        &mut s,
        ImEvent::History {
            page: page("101", buyer_msgs(10, 12), Some(55)),
            requested: None,
        },
    );
    im(
        &mut s,
        ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 5000,
            attempt: 1,
            last_error: "down".into(),
        }),
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Tab);
    let fx = key(&mut s, KeyCode::Char('g'));
    assert!(!has_im(&fx, |c| matches!(c, ImCommand::LoadHistory { .. })));
    assert!(matches!(
        store_reqs(&fx).as_slice(),
        [StoreRequest::Messages {
            before: Some(_),
            ..
        }]
    ));
}

#[test]
fn an_older_service_page_of_known_messages_fetches_the_next_one() {
    let mut s = opened_with_stored(buyer_msgs(0, 20));
    im(
        &mut s,
        ImEvent::History {
            page: page("101", buyer_msgs(15, 20), Some(55)),
            requested: None,
        },
    );
    let fx = im(
        &mut s,
        ImEvent::History {
            page: page("101", buyer_msgs(10, 15), Some(44)),
            requested: Some(55),
        },
    );
    assert!(has_im(&fx, |c| matches!(
        c,
        ImCommand::LoadHistory {
            cursor: Some(44),
            ..
        }
    )));
}

#[test]
fn drafts_are_saved_when_leaving_after_a_pause_and_cleared_by_sending() {
    let mut s = with_store();
    // Nobody waits for an answer: only the draft asks for a timer.
    im(&mut s, ImEvent::Conversations(answered_list()));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.focus, Focus::Compose);
    typed(&mut s, "最低多少");
    // Leaving the compose box saves at once.
    let fx = key(&mut s, KeyCode::Esc);
    assert_eq!(
        store_reqs(&fx),
        vec![StoreRequest::SaveDraft {
            cid: cid("101"),
            text: "最低多少".into()
        }]
    );
    // Nothing changed since: leaving again writes nothing.
    key(&mut s, KeyCode::Enter);
    assert!(store_reqs(&key(&mut s, KeyCode::Esc)).is_empty());

    // While typing, a timer saves a little later (and only while something is unsaved).
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.next_tick_in(), None);
    let t0 = s.now_ms;
    typed(&mut s, "？");
    assert_eq!(s.next_tick_in(), Some(DRAFT_SAVE_MS as u64));
    let fx = at(&mut s, t0 + DRAFT_SAVE_MS, Input::Tick);
    assert_eq!(
        store_reqs(&fx),
        vec![StoreRequest::SaveDraft {
            cid: cid("101"),
            text: "最低多少？".into()
        }]
    );
    assert_eq!(s.next_tick_in(), None);

    let fx = key(&mut s, KeyCode::Enter);
    assert!(has_im(&fx, |c| matches!(c, ImCommand::SendText { .. })));
    assert!(store_reqs(&fx).contains(&StoreRequest::SaveDraft {
        cid: cid("101"),
        text: String::new()
    }));
}

#[test]
fn hang_up_saves_the_draft_and_quits() {
    let mut s = with_store();
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "明天发货");
    let fx = send(&mut s, Input::Terminate);
    assert!(s.should_quit());
    assert!(fx.contains(&Effect::Quit));
    assert!(store_reqs(&fx).contains(&StoreRequest::SaveDraft {
        cid: cid("101"),
        text: "明天发货".into()
    }));
}

fn hit(m: Message) -> SearchHit {
    SearchHit {
        snippet: m.content.summary(),
        highlight: None,
        conversation: Some(Conversation {
            cid: m.cid.clone(),
            peer_nick: Some("张三😀".into()),
            ..Default::default()
        }),
        message: m,
    }
}

#[test]
fn search_asks_once_at_a_time_and_jumps_to_the_message() {
    let mut s = with_store();
    ctrl(&mut s, 'f');
    assert!(s.search.is_some());
    let fx = key(&mut s, KeyCode::Char('便'));
    assert_eq!(
        store_reqs(&fx),
        vec![StoreRequest::Search {
            query: "便".into()
        }]
    );
    // Typed while the first query runs: held back, then asked as one.
    assert!(store_reqs(&key(&mut s, KeyCode::Char('宜'))).is_empty());
    assert!(store_reqs(&key(&mut s, KeyCode::Char('点'))).is_empty());
    let fx = found(&mut s, "便", Vec::new());
    assert_eq!(
        store_reqs(&fx),
        vec![StoreRequest::Search {
            query: "便宜点".into()
        }]
    );
    let target = msg(
        "555.PNM",
        "101",
        "3001",
        now() - 300 * MIN,
        text("能便宜点吗"),
    );
    let other = msg(
        "556.PNM",
        "103",
        "3003",
        now() - 200 * MIN,
        text("便宜点就要了"),
    );
    let fx = found(&mut s, "便宜点", vec![hit(other), hit(target.clone())]);
    assert!(store_reqs(&fx).is_empty());
    key(&mut s, KeyCode::Down);
    let fx = key(&mut s, KeyCode::Enter);
    assert!(s.search.is_none());
    assert_eq!(s.open, Some(cid("101")));
    assert_eq!(s.focus, Focus::Messages);
    assert!(store_reqs(&fx).contains(&StoreRequest::Around {
        cid: cid("101"),
        time: target.time,
        id: target.id.clone(),
    }));
    let mut around = buyer_msgs(0, 3);
    around.push(target.clone());
    reply(
        &mut s,
        StoreReply::Around {
            cid: cid("101"),
            id: target.id.clone(),
            messages: around,
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.anchor_index(), t.index_of(&target.id));
    assert_eq!(s.jumped_to, Some(target.id));
    // Any key ends the highlight.
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.jumped_to, None);
}

#[test]
fn a_result_from_a_conversation_the_list_no_longer_has_opens_with_its_names() {
    let mut s = with_store();
    send(
        &mut s,
        Input::Resize {
            width: 100,
            height: 30,
        },
    );
    ctrl(&mut s, 'f');
    key(&mut s, KeyCode::Char('镜'));
    let old = msg(
        "77.PNM",
        "900",
        "3900",
        now() - 90 * 24 * 60 * MIN,
        text("镜头还在吗"),
    );
    let mut stored = conv(
        "900",
        "3900",
        "老客户王五",
        "富士 XF 35mm 镜头",
        old.time,
        3,
    );
    stored.last_message = Some(old.clone());
    let mut old_hit = hit(old);
    old_hit.conversation = Some(stored);
    found(&mut s, "镜", vec![old_hit]);
    assert!(s.conversation(&cid("900")).is_none());
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(s.open, Some(cid("900")));
    assert_eq!(s.selected, Some(cid("900")));
    assert!(s.visible().contains(&cid("900")), "listed while open");
    // Its stored badge is not counted again: opening reads it.
    assert_eq!(s.conversation(&cid("900")).map(|c| c.unread), Some(0));
    assert!(has_im(&fx, |c| matches!(
        c,
        ImCommand::LoadHistory { cid: c, .. } if *c == cid("900")
    )));
    // The message pane's head (right of the list) names the item and the buyer.
    let screen = render(&s, 100, 30);
    let pane: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.split_once('│').map(|(_, right)| right))
        .take(3)
        .collect();
    assert!(pane[0].contains("富士 XF 35mm 镜头"), "{screen}");
    assert!(pane[1].contains("老客户王五"), "{screen}");
}

#[test]
fn a_hit_in_a_conversation_not_yet_stored_is_named_from_the_list() {
    let mut s = with_store();
    ctrl(&mut s, 'f');
    key(&mut s, KeyCode::Char('宜'));
    let m = msg(
        "560.PNM",
        "103",
        "3003",
        now() - 10 * MIN,
        text("还能便宜吗"),
    );
    let mut unstored = hit(m);
    unstored.conversation = None;
    found(&mut s, "宜", vec![unstored]);
    let screen = render(&s, 100, 30);
    assert!(screen.contains("Lily · Kindle Paperwhite"), "{screen}");
    assert!(!screen.contains("103 "), "{screen}");
}

#[test]
fn search_without_local_history_says_so() {
    let mut s = populated(Lang::En);
    ctrl(&mut s, 'f');
    assert!(s.search.is_none());
    assert!(s.notice.as_deref().unwrap().contains("local history"));
}

#[test]
fn unavailable_store_is_noted_in_the_status_bar() {
    let mut s = populated(Lang::En);
    reply(
        &mut s,
        StoreReply::Unavailable {
            reason: "database is locked".into(),
        },
    );
    let mut term = ratatui::Terminal::new(TestBackend::new(100, 24)).unwrap();
    term.draw(|f| goofish_tui::ui::draw(f, &s)).unwrap();
    let buf = term.backend().buffer();
    let last: String = (0..buf.area.width)
        .map(|x| buf[(x, buf.area.height - 1)].symbol().to_string())
        .collect();
    assert!(
        last.contains("no local history: database is locked"),
        "{last}"
    );
}

// ---------------------------------------------------------------- with a real store

fn fixed_clock() -> i64 {
    now()
}

/// A store on disk with conversation 101 (张三) and three of its messages.
fn seeded_store(dir: &std::path::Path) -> StoreHandle {
    let mut store = Store::open(dir, &Uid::new(SELF_UID)).unwrap();
    store
        .save_conversations(&[conv(
            "101",
            "3001",
            "张三😀",
            "九成新 iPhone 13 128G",
            now() - 2 * MIN,
            0,
        )])
        .unwrap();
    let mut m = vec![
        msg(
            "1.PNM",
            "101",
            "3001",
            now() - 90 * MIN,
            text("这个价格能再少点吗"),
        ),
        msg(
            "2.PNM",
            "101",
            SELF_UID,
            now() - 80 * MIN,
            text("最低 2800"),
        ),
        msg(
            "3.PNM",
            "101",
            "3001",
            now() - 70 * MIN,
            text("好的我考虑一下"),
        ),
    ];
    m[1].is_self = true;
    store.save_messages(&m).unwrap();
    StoreHandle::new(store)
}

async fn started(store: StoreHandle) -> (Runtime<TestBackend>, mpsc::Receiver<ImCommand>) {
    let (tx, rx) = mpsc::channel(64);
    let mut rt = Runtime::new(TestBackend::new(100, 30), state(Lang::Zh), tx)
        .unwrap()
        .with_clock(fixed_clock);
    rt.dispatch(Input::Resize {
        width: 100,
        height: 30,
    })
    .await;
    rt.attach_store(Some(store), None).await;
    rt.draw_if_dirty().unwrap();
    (rt, rx)
}

async fn press(rt: &mut Runtime<TestBackend>, code: KeyCode, m: KeyModifiers) {
    rt.dispatch(Input::Key(KeyEvent::new(code, m))).await;
    rt.settle().await;
    rt.draw_if_dirty().unwrap();
}

async fn type_text(rt: &mut Runtime<TestBackend>, t: &str) {
    for c in t.chars() {
        press(rt, KeyCode::Char(c), KeyModifiers::NONE).await;
    }
}

#[tokio::test]
async fn offline_start_shows_the_cache_and_search_finds_old_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rt, _cmds) = started(seeded_store(dir.path())).await;
    let first = screen(&rt);
    // Before any network answer: the list from the cache, marked as such.
    assert!(first.contains("张三😀"), "{first}");
    assert!(first.contains("缓存"), "{first}");

    // Opening shows what the store has, with no service at all.
    press(&mut rt, KeyCode::Enter, KeyModifiers::NONE).await;
    let opened = screen(&rt);
    assert!(opened.contains("好的我考虑一下"), "{opened}");
    assert!(opened.contains("最低 2800"), "{opened}");

    // Ctrl-F, a Chinese substring from the middle of a sentence.
    press(&mut rt, KeyCode::Char('f'), KeyModifiers::CONTROL).await;
    type_text(&mut rt, "价格能").await;
    let found = screen(&rt);
    assert!(found.contains("这个价格能再少点吗"), "{found}");
    press(&mut rt, KeyCode::Enter, KeyModifiers::NONE).await;
    assert!(rt.state().search.is_none());
    assert_eq!(rt.state().jumped_to, Some(MessageId::new("1.PNM")));
    assert!(screen(&rt).contains("这个价格能再少点吗"));
}

#[tokio::test]
async fn a_draft_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    {
        let (mut rt, _cmds) = started(store.clone()).await;
        press(&mut rt, KeyCode::Enter, KeyModifiers::NONE).await;
        type_text(&mut rt, "周末可以自提吗").await;
        // Ctrl-C quits from the compose box; the draft reaches the disk first.
        press(&mut rt, KeyCode::Char('c'), KeyModifiers::CONTROL).await;
        assert!(rt.state().should_quit());
    }
    drop(store);
    let reopened = StoreHandle::new(Store::open(dir.path(), &Uid::new(SELF_UID)).unwrap());
    assert_eq!(
        reopened
            .blocking(|s| s.draft(&cid("101")))
            .unwrap()
            .as_deref(),
        Some("周末可以自提吗")
    );
    let (mut rt, _cmds) = started(reopened).await;
    press(&mut rt, KeyCode::Enter, KeyModifiers::NONE).await;
    assert_eq!(rt.state().compose.lines().join("\n"), "周末可以自提吗");
    assert!(screen(&rt).contains("周末可以自提吗"));
}
