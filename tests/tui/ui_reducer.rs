//! `update` for every kind of `Msg`: what the user sees change and what goes to the network.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{Delivery, Effect, EntryKey, Focus, Input, UiOptions};
use goofish_tui::im::api::{ConnState, ImCommand, ImEvent, SendFailure, SendStage};
use goofish_tui::protocol::{Cid, ClientId, Content, MessageId, Profile, Uid};
use goofish_tui::text::i18n::Lang;
use ratatui::crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::collections::BTreeMap;
use ui_support::*;

fn cmds(fx: &[Effect]) -> Vec<ImCommand> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Im(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn sent_text(fx: &[Effect]) -> Option<(Cid, ClientId, String)> {
    cmds(fx).into_iter().find_map(|c| match c {
        ImCommand::SendText {
            cid,
            client_id,
            text,
        } => Some((cid, client_id, text)),
        _ => None,
    })
}

/// `populated` with 张三 (cid 101) open and its first page loaded.
fn opened() -> goofish_tui::app::AppState {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let msgs = vec![
        msg("1.PNM", "101", "3001", now() - 10 * MIN, text("你好")),
        msg("2.PNM", "101", "3001", now() - 9 * MIN, text("在吗")),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, Some(77)),
            requested: None,
        },
    );
    s
}

fn cid(s: &str) -> Cid {
    Cid::new(s)
}

#[test]
fn conversations_sorted_pinned_first_then_latest() {
    let s = populated(Lang::Zh);
    assert_eq!(s.visible(), &[cid("102"), cid("101"), cid("103")]);
    assert_eq!(s.selected, Some(cid("102")));
    // 101 has 2 unread; 103 is muted and does not count.
    assert_eq!(s.unread_total(), 2);
}

#[test]
fn unread_first_option_lifts_unread_conversations() {
    let opts = UiOptions {
        lang: Lang::En,
        unread_first: true,
        ..UiOptions::default()
    };
    let mut s = goofish_tui::app::AppState::new(&opts, tz(), now()).0;
    let mut old = conv("1", "11", "a", "", now() - 100 * MIN, 3);
    old.pinned = false;
    let new = conv("2", "22", "b", "", now() - MIN, 0);
    im(&mut s, ImEvent::Conversations(vec![old, new]));
    assert_eq!(s.visible(), &[cid("1"), cid("2")]);
}

#[test]
fn title_shows_unread_total() {
    let mut s = state(Lang::Zh);
    let fx = im(
        &mut s,
        ImEvent::Conversations(vec![conv("1", "11", "a", "", now(), 4)]),
    );
    assert!(fx.contains(&Effect::SetTitle("(4) 闲鱼".into())), "{fx:?}");
    // Unchanged total: no new title.
    let fx = im(&mut s, ImEvent::Backfill { done: 1, total: 2 });
    assert!(!fx.iter().any(|e| matches!(e, Effect::SetTitle(_))));
}

#[test]
fn new_message_moves_conversation_up_but_selection_stays_on_its_cid() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j')); // 101
    assert_eq!(s.selected, Some(cid("101")));
    im(
        &mut s,
        ImEvent::Message(msg("50.PNM", "103", "3003", now(), text("还有货吗"))),
    );
    assert_eq!(s.visible(), &[cid("102"), cid("103"), cid("101")]);
    assert_eq!(s.selected, Some(cid("101")));
    assert_eq!(s.selected_index(), Some(2));
    assert_eq!(s.conversation(&cid("103")).unwrap().unread, 6);
}

#[test]
fn message_for_unknown_conversation_creates_it() {
    let mut s = populated(Lang::Zh);
    let mut m = msg("60.PNM", "999", "4004", now(), text("hi"));
    m.sender_nick = Some("新买家".into());
    im(&mut s, ImEvent::Message(m));
    let c = s.conversation(&cid("999")).unwrap();
    assert_eq!(c.peer_nick.as_deref(), Some("新买家"));
    assert_eq!(c.unread, 1);
    assert_eq!(s.visible()[1], cid("999"));
}

#[test]
fn opening_loads_history_marks_read_and_fetches_item_and_profile() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    let fx = key(&mut s, KeyCode::Enter);
    let c = cmds(&fx);
    assert!(
        c.contains(&ImCommand::LoadHistory {
            cid: cid("101"),
            cursor: None
        }),
        "{c:?}"
    );
    assert!(c.contains(&ImCommand::MarkRead {
        cid: cid("101"),
        ids: vec![MessageId::new("1019.PNM")]
    }));
    assert!(c.contains(&ImCommand::FetchItem {
        item_id: "item101".into()
    }));
    assert_eq!(s.conversation(&cid("101")).unwrap().unread, 0);
    assert_eq!(s.focus, Focus::Compose);
    assert_eq!(s.open, Some(cid("101")));
    // 102 has no nickname: opening it asks for the profile.
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('k'));
    let fx = key(&mut s, KeyCode::Enter);
    assert!(cmds(&fx).contains(&ImCommand::FetchProfile {
        cid: cid("102"),
        uid: Uid::new("3002")
    }));
}

#[test]
fn history_merges_dedups_and_marks_incoming_read_once() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let m1 = msg("1.PNM", "101", "3001", now() - 10 * MIN, text("a"));
    let m2 = msg("2.PNM", "101", "3001", now() - 5 * MIN, text("b"));
    im(&mut s, ImEvent::Message(m2.clone()));
    let fx = im(
        &mut s,
        ImEvent::History {
            page: page("101", vec![m1, m2], Some(5)),
            requested: None,
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 2);
    assert!(t.entries()[0].time < t.entries()[1].time);
    assert!(!t.loading);
    // Only 1.PNM still needed marking (2.PNM was marked when it arrived while open).
    assert_eq!(
        cmds(&fx),
        vec![ImCommand::MarkRead {
            cid: cid("101"),
            ids: vec![MessageId::new("1.PNM")]
        }]
    );
}

#[test]
fn scrolling_to_top_loads_older_page_once() {
    let mut s = opened();
    key(&mut s, KeyCode::Esc); // list
    key(&mut s, KeyCode::Tab); // messages
    assert_eq!(s.focus, Focus::Messages);
    let fx = key(&mut s, KeyCode::Char('k'));
    assert_eq!(
        cmds(&fx),
        vec![ImCommand::LoadHistory {
            cid: cid("101"),
            cursor: Some(77)
        }]
    );
    assert!(s.thread(&cid("101")).unwrap().loading);
    // Already loading: no second request.
    let fx = key(&mut s, KeyCode::Char('k'));
    assert!(cmds(&fx).is_empty());
    let older = vec![msg("0.PNM", "101", "3001", now() - 60 * MIN, text("更早"))];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", older, None),
            requested: Some(77),
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 3);
    assert!(!t.has_more && !t.loading);
    assert_eq!(t.entries()[0].id(), Some(&MessageId::new("0.PNM")));
}

#[test]
fn new_messages_while_scrolled_up_are_counted() {
    let mut s = opened();
    key(&mut s, KeyCode::Tab); // compose -> list? Tab cycles from compose to list
    key(&mut s, KeyCode::Tab); // messages
    assert_eq!(s.focus, Focus::Messages);
    key(&mut s, KeyCode::Char('k'));
    im(
        &mut s,
        ImEvent::Message(msg("3.PNM", "101", "3001", now(), text("新的"))),
    );
    im(
        &mut s,
        ImEvent::Message(msg("4.PNM", "101", "3001", now(), text("又一条"))),
    );
    assert_eq!(s.thread(&cid("101")).unwrap().new_below, 2);
    key(&mut s, KeyCode::Char('G'));
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.new_below, 0);
    assert!(t.anchor.is_none());
}

#[test]
fn enter_sends_and_send_result_replaces_local_message() {
    let mut s = opened();
    typed(&mut s, "你好👋");
    let fx = key(&mut s, KeyCode::Enter);
    let (c, client_id, text) = sent_text(&fx).unwrap();
    assert_eq!((c, text.as_str()), (cid("101"), "你好👋"));
    assert!(client_id.as_str().starts_with(&format!("-{}", now())));
    assert_eq!(s.draft(&cid("101")), "");
    let t = s.thread(&cid("101")).unwrap();
    let last = t.entries().last().unwrap();
    assert_eq!(last.key, EntryKey::Local(client_id.clone()));
    assert_eq!(last.delivery, Delivery::Sending);

    let mut server = msg(
        "100.PNM",
        "101",
        SELF_UID,
        now(),
        goofish_tui::protocol::Content::Text {
            text: "你好👋".into(),
        },
    );
    server.client_id = Some(client_id.as_str().into());
    im(
        &mut s,
        ImEvent::SendResult {
            client_id: client_id.clone(),
            cid: cid("101"),
            result: Ok(server.clone()),
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 3);
    let last = t.entries().last().unwrap();
    assert_eq!(last.key, EntryKey::Server(MessageId::new("100.PNM")));
    assert_eq!(last.delivery, Delivery::Sent);
    // The echo push of the same message changes nothing.
    im(&mut s, ImEvent::Message(server));
    assert_eq!(s.thread(&cid("101")).unwrap().len(), 3);
    // Receipt: read.
    im(
        &mut s,
        ImEvent::Receipt {
            cid: Some(cid("101")),
            ids: vec![MessageId::new("100.PNM")],
        },
    );
    assert_eq!(
        s.thread(&cid("101"))
            .unwrap()
            .entries()
            .last()
            .unwrap()
            .delivery,
        Delivery::Read
    );
}

#[test]
fn echo_before_result_replaces_the_local_entry() {
    let mut s = opened();
    typed(&mut s, "x");
    let (_, client_id, _) = sent_text(&key(&mut s, KeyCode::Enter)).unwrap();
    let mut echo = msg("101.PNM", "101", SELF_UID, now(), text("x"));
    echo.client_id = Some(client_id.as_str().into());
    im(&mut s, ImEvent::Message(echo.clone()));
    im(
        &mut s,
        ImEvent::SendResult {
            client_id,
            cid: cid("101"),
            result: Ok(echo),
        },
    );
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 3);
    assert!(
        t.entries()
            .iter()
            .all(|e| matches!(e.key, EntryKey::Server(_)))
    );
}

#[test]
fn whitespace_only_is_not_sent() {
    let mut s = opened();
    typed(&mut s, "   ");
    key_mod(&mut s, KeyCode::Enter, KeyModifiers::ALT);
    let fx = key(&mut s, KeyCode::Enter);
    assert!(sent_text(&fx).is_none());
}

#[test]
fn alt_enter_and_ctrl_j_insert_newlines() {
    let mut s = opened();
    typed(&mut s, "a");
    key_mod(&mut s, KeyCode::Enter, KeyModifiers::ALT);
    typed(&mut s, "b");
    key_mod(&mut s, KeyCode::Char('j'), KeyModifiers::CONTROL);
    typed(&mut s, "c");
    assert_eq!(s.draft(&cid("101")), "a\nb\nc");
    let (_, _, text) = sent_text(&key(&mut s, KeyCode::Enter)).unwrap();
    assert_eq!(text, "a\nb\nc");
}

#[test]
fn offline_send_is_queued_then_progresses() {
    let mut s = opened();
    im(
        &mut s,
        ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 2000,
            attempt: 1,
            last_error: "reset".into(),
        }),
    );
    typed(&mut s, "离线");
    let (_, client_id, _) = sent_text(&key(&mut s, KeyCode::Enter)).unwrap();
    let d = |s: &goofish_tui::app::AppState| {
        s.thread(&cid("101"))
            .unwrap()
            .entries()
            .last()
            .unwrap()
            .delivery
            .clone()
    };
    assert_eq!(d(&s), Delivery::Queued);
    im(
        &mut s,
        ImEvent::SendProgress {
            client_id,
            stage: SendStage::Sending,
        },
    );
    assert_eq!(d(&s), Delivery::Sending);
}

/// The newest entry of conversation 101.
fn last_entry(s: &goofish_tui::app::AppState) -> goofish_tui::app::Entry {
    s.thread(&cid("101"))
        .unwrap()
        .entries()
        .last()
        .unwrap()
        .clone()
}

/// The service's answer to a send of conversation 101: it failed, retryably.
fn fail_send(s: &mut goofish_tui::app::AppState, client_id: &ClientId, reason: &str) {
    im(
        s,
        ImEvent::SendResult {
            client_id: client_id.clone(),
            cid: cid("101"),
            result: Err(SendFailure {
                reason: reason.into(),
                retryable: true,
            }),
        },
    );
}

/// `r` (with `m`), five seconds later.
fn retry_key(s: &mut goofish_tui::app::AppState, m: KeyModifiers) -> Vec<Effect> {
    let key = ratatui::crossterm::event::KeyEvent::new(KeyCode::Char('r'), m);
    at(s, now() + 5_000, Input::Key(key))
}

#[test]
fn failed_send_shows_reason_and_retry_resends_with_new_client_id() {
    let mut s = opened();
    typed(&mut s, "重试我");
    let (_, first, _) = sent_text(&key(&mut s, KeyCode::Enter)).unwrap();
    fail_send(&mut s, &first, "超时");
    let last = last_entry(&s);
    assert!(matches!(&last.delivery, Delivery::Failed(f) if f.reason == "超时"));
    // Ctrl-R from the compose box.
    let fx = retry_key(&mut s, KeyModifiers::CONTROL);
    let (_, second, text) = sent_text(&fx).unwrap();
    assert_ne!(first, second);
    assert_eq!(text, "重试我");
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 3, "the failed entry is replaced, not duplicated");
    assert_eq!(t.entries().last().unwrap().delivery, Delivery::Sending);
    // Plain `r` in the compose box is text, not retry.
    let fx = key(&mut s, KeyCode::Char('r'));
    assert!(sent_text(&fx).is_none());
    assert_eq!(s.draft(&cid("101")), "r");
}

#[test]
fn drafts_survive_switching_conversations() {
    let mut s = opened();
    typed(&mut s, "半句话");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.open, Some(cid("103")));
    assert_eq!(s.draft(&cid("103")), "");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.draft(&cid("101")), "半句话");
}

#[test]
fn next_unread_and_filter() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.selected, Some(cid("101")));
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.selected, Some(cid("103")));
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "自行车");
    assert_eq!(s.visible(), &[cid("102")]);
    assert_eq!(s.selected, Some(cid("102")));
    key(&mut s, KeyCode::Enter); // keep the filter, stop typing
    assert!(!s.filter_editing);
    assert_eq!(s.visible().len(), 1);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.visible().len(), 3);
    // By last message.
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "在吗");
    assert_eq!(s.visible().len(), 3);
    key(&mut s, KeyCode::Esc);
    assert!(s.filter.is_none());
}

#[test]
fn q_quits_outside_compose_only_and_ctrl_c_always() {
    let mut s = opened();
    let fx = key(&mut s, KeyCode::Char('q'));
    assert!(!fx.contains(&Effect::Quit));
    assert_eq!(s.draft(&cid("101")), "q");
    let fx = key_mod(&mut s, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(fx.contains(&Effect::Quit));
    assert!(fx.contains(&Effect::Im(ImCommand::Shutdown)));
    let mut s = populated(Lang::Zh);
    assert!(key(&mut s, KeyCode::Char('q')).contains(&Effect::Quit));
    assert!(s.should_quit());
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('?'));
    assert!(s.help_open);
    let fx = key(&mut s, KeyCode::Char('q'));
    assert!(!s.help_open);
    assert!(fx.is_empty(), "the closing key does nothing else");
}

#[test]
fn keymap_override_applies() {
    let mut keymap = BTreeMap::new();
    keymap.insert("next_unread".to_string(), "ctrl-n".to_string());
    let opts = UiOptions {
        lang: Lang::En,
        keymap,
        ..UiOptions::default()
    };
    let mut s = goofish_tui::app::AppState::new(&opts, tz(), now()).0;
    im(
        &mut s,
        ImEvent::Conversations(vec![
            conv("1", "11", "a", "", now(), 0),
            conv("2", "22", "b", "", now() - MIN, 1),
        ]),
    );
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.selected, Some(cid("1")));
    key_mod(&mut s, KeyCode::Char('n'), KeyModifiers::CONTROL);
    assert_eq!(s.selected, Some(cid("2")));
}

#[test]
fn paste_arrives_as_one_block() {
    let mut s = opened();
    send(&mut s, Input::Paste("第一行\r\n第二行 😀".into()));
    assert_eq!(s.draft(&cid("101")), "第一行\n第二行 😀");
    // Nothing was sent by the pasted newline.
    assert_eq!(s.thread(&cid("101")).unwrap().len(), 2);
}

#[test]
fn mouse_click_selects_and_opens_wheel_scrolls() {
    let mut s = populated(Lang::Zh);
    // Second conversation: rows 2..3.
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 3,
        row: 2,
        modifiers: KeyModifiers::NONE,
    };
    let fx = send(&mut s, Input::Mouse(click));
    assert_eq!(s.open, Some(cid("101")));
    assert_eq!(s.focus, Focus::List);
    assert!(cmds(&fx).contains(&ImCommand::LoadHistory {
        cid: cid("101"),
        cursor: None
    }));
    im(
        &mut s,
        ImEvent::History {
            page: page(
                "101",
                vec![
                    msg("1.PNM", "101", "3001", now() - MIN, text("x")),
                    msg("2.PNM", "101", "3001", now(), text("y")),
                ],
                Some(9),
            ),
            requested: None,
        },
    );
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 50,
        row: 10,
        modifiers: KeyModifiers::NONE,
    };
    send(&mut s, Input::Mouse(wheel));
    assert!(s.thread(&cid("101")).unwrap().anchor.is_some());
    // Garbage coordinates do nothing and do not panic.
    let off = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 500,
        row: 500,
        modifiers: KeyModifiers::NONE,
    };
    assert!(send(&mut s, Input::Mouse(off)).is_empty());
}

#[test]
fn resize_keeps_selection_in_view() {
    let mut s = state(Lang::Zh);
    let many: Vec<_> = (0..50)
        .map(|i| conv(&format!("{i}"), "1", "n", "", now() - i * MIN, 0))
        .collect();
    im(&mut s, ImEvent::Conversations(many));
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(s.selected_index(), Some(49));
    send(
        &mut s,
        Input::Resize {
            width: 40,
            height: 8,
        },
    );
    let page = (8 - 1) / 2;
    assert!(s.list_offset + page as usize > 49 && s.list_offset <= 49);
}

#[test]
fn focus_regained_marks_open_conversation_read() {
    let mut s = opened();
    send(&mut s, Input::Focus(false));
    let fx = im(
        &mut s,
        ImEvent::Message(msg("9.PNM", "101", "3001", now(), text("在不在"))),
    );
    assert!(
        cmds(&fx).is_empty(),
        "not read while the terminal is in the background"
    );
    assert_eq!(s.conversation(&cid("101")).unwrap().unread, 1);
    let fx = send(&mut s, Input::Focus(true));
    assert_eq!(
        cmds(&fx),
        vec![ImCommand::MarkRead {
            cid: cid("101"),
            ids: vec![MessageId::new("9.PNM")]
        }]
    );
    assert_eq!(s.conversation(&cid("101")).unwrap().unread, 0);
}

#[test]
fn tick_counts_down_reconnect_and_stops_when_nothing_needs_it() {
    let mut s = populated(Lang::En);
    // Nobody waits for an answer: nothing shown changes with time.
    im(&mut s, ImEvent::Conversations(answered_list()));
    assert_eq!(s.next_tick_in(), None);
    im(
        &mut s,
        ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 3000,
            attempt: 2,
            last_error: "x".into(),
        }),
    );
    assert_eq!(s.reconnect_in_secs(), 3);
    assert!(s.next_tick_in().is_some());
    s.take_dirty();
    at(&mut s, now() + 1000, Input::Tick);
    assert_eq!(s.reconnect_in_secs(), 2);
    assert!(s.take_dirty());
    at(&mut s, now() + 3000, Input::Tick);
    assert_eq!(s.next_tick_in(), None);
}

#[test]
fn typing_shows_then_expires() {
    let mut s = opened();
    im(
        &mut s,
        ImEvent::Typing {
            cid: None,
            uid: Uid::new("3001"),
        },
    );
    assert!(s.typing.contains_key(&cid("101")));
    assert!(s.next_tick_in().is_some());
    at(&mut s, now() + 6_000, Input::Tick);
    assert!(s.typing.is_empty());
}

#[test]
fn other_events_update_state() {
    let mut s = opened();
    im(
        &mut s,
        ImEvent::Profile(Profile {
            uid: Uid::new("3002"),
            nick: "老王".into(),
            avatar: None,
        }),
    );
    assert_eq!(
        s.conversation(&cid("102")).unwrap().peer_nick.as_deref(),
        Some("老王")
    );
    im(
        &mut s,
        ImEvent::CardUpdate {
            cid: Some(cid("101")),
            text: "x".into(),
            red_reminder: Some("等待卖家发货".into()),
        },
    );
    assert_eq!(
        s.conversation(&cid("101")).unwrap().red_reminder.as_deref(),
        Some("等待卖家发货")
    );
    im(
        &mut s,
        ImEvent::Recalled {
            cid: None,
            id: MessageId::new("1.PNM"),
        },
    );
    assert!(s.thread(&cid("101")).unwrap().entries()[0].recalled);
    im(&mut s, ImEvent::Backfill { done: 3, total: 10 });
    assert_eq!(s.backfill, Some((3, 10)));
    im(
        &mut s,
        ImEvent::Backfill {
            done: 10,
            total: 10,
        },
    );
    assert_eq!(s.backfill, None);
    im(&mut s, ImEvent::Error("限流".into()));
    assert_eq!(s.notice.as_deref(), Some("限流"));
    im(
        &mut s,
        ImEvent::HistoryFailed {
            cid: cid("101"),
            requested: Some(1),
            reason: "boom".into(),
        },
    );
    assert!(s.notice.as_deref().unwrap().contains("boom"));
    im(
        &mut s,
        ImEvent::SelfInfo {
            uid: Uid::new(SELF_UID),
            nick: None,
        },
    );
    assert_eq!(s.self_nick.as_deref(), Some("小店主🐟"));
    im(
        &mut s,
        ImEvent::Item(goofish_tui::protocol::ItemInfo {
            item_id: "item102".into(),
            title: "t".into(),
            price: None,
            pic: None,
        }),
    );
    assert!(s.items.contains_key("item102"));
    let _ = Content::Notice {
        text: String::new(),
    };
}

#[test]
fn unbound_key_does_not_redraw_but_keeps_pending_changes() {
    let mut s = populated(Lang::Zh);
    s.take_dirty();
    key(&mut s, KeyCode::Char('z'));
    assert!(!s.take_dirty(), "a key bound to nothing changes nothing");
    im(&mut s, ImEvent::Backfill { done: 1, total: 3 });
    key(&mut s, KeyCode::Char('z'));
    assert!(s.take_dirty(), "the backfill change still needs a frame");
}

#[test]
fn first_page_failure_is_retried_by_opening_again() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    im(
        &mut s,
        ImEvent::HistoryFailed {
            cid: cid("101"),
            requested: None,
            reason: "timeout".into(),
        },
    );
    assert!(!s.thread(&cid("101")).unwrap().loading);
    key(&mut s, KeyCode::Esc);
    let fx = key(&mut s, KeyCode::Enter);
    assert!(cmds(&fx).contains(&ImCommand::LoadHistory {
        cid: cid("101"),
        cursor: None
    }));
}

#[test]
fn conversation_list_refresh_drops_stale_entries_but_keeps_open_one() {
    let mut s = opened();
    im(
        &mut s,
        ImEvent::Conversations(vec![conv("102", "3002", "", "", now() - MIN, 0)]),
    );
    assert!(s.conversation(&cid("103")).is_none());
    assert!(
        s.conversation(&cid("101")).is_some(),
        "the open conversation stays"
    );
    assert_eq!(s.selected, Some(cid("101")));
}

#[test]
fn a_message_taller_than_the_pane_is_read_by_scrolling_through_it() {
    let mut s = opened();
    let long: String = (1..=60)
        .map(|n| format!("第{n}行"))
        .collect::<Vec<_>>()
        .join("\n");
    im(
        &mut s,
        ImEvent::Message(msg("3.PNM", "101", "3001", now() - 5 * MIN, text(&long))),
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Messages);
    let screen = |s: &goofish_tui::app::AppState| {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        t.draw(|f| goofish_tui::ui::draw(f, s)).unwrap();
        format!("{}", t.backend())
    };
    // The end shows first; the start is above the view.
    assert!(screen(&s).contains("第60行"));
    assert!(!screen(&s).contains("第1行 "));
    let mut steps = 0;
    while !screen(&s).contains("第1行 ") {
        key(&mut s, KeyCode::Char('k'));
        steps += 1;
        assert!(steps < 10, "the start of the message never came into view");
        let t = s.thread(&cid("101")).unwrap();
        assert_eq!(t.anchor_index(), Some(2), "still inside the long message");
    }
    assert!(steps >= 2, "a pane at a time, not all at once");
    // Past its start, the previous message.
    key(&mut s, KeyCode::Char('k'));
    assert_eq!(s.thread(&cid("101")).unwrap().anchor_index(), Some(1));
    // And back down to the end of the long one.
    for _ in 0..10 {
        key(&mut s, KeyCode::Char('j'));
    }
    assert!(screen(&s).contains("第60行"));
    assert_eq!(s.thread(&cid("101")).unwrap().anchor, None);
}

fn rang(fx: &[Effect]) -> bool {
    fx.iter()
        .any(|e| matches!(e, Effect::Notify { terminal: true, .. }))
}

#[test]
fn a_buyer_message_out_of_view_rings_the_bell_once_per_burst() {
    let mut s = populated(Lang::En);
    let from = |id: &str, cid: &str, sender: &str, t: i64, c: Content| {
        ImEvent::Message(msg(id, cid, sender, t, c))
    };
    let t0 = now() + MIN;
    let fx = at(
        &mut s,
        t0,
        Input::Im(from("b1.PNM", "101", "3001", t0, text("在吗"))),
    );
    assert!(rang(&fx), "a buyer wrote, nothing open");
    // The rest of a burst is quiet; the next message after the gap rings again.
    let fx = at(
        &mut s,
        t0 + 1_000,
        Input::Im(from("b2.PNM", "101", "3001", t0 + 1_000, text("?"))),
    );
    assert!(!rang(&fx));
    let t1 = t0 + 10_000;
    let fx = at(
        &mut s,
        t1,
        Input::Im(from("b3.PNM", "102", "3002", t1, text("自行车还在吗"))),
    );
    assert!(rang(&fx));
    // Muted conversations, platform notices and the assistant stay quiet.
    let t2 = t1 + 10_000;
    let fx = at(
        &mut s,
        t2,
        Input::Im(from("b4.PNM", "103", "3003", t2, text("hi"))),
    );
    assert!(!rang(&fx), "muted");
    let notice = Content::Notice {
        text: "你的宝贝已被擦亮".into(),
    };
    let fx = at(
        &mut s,
        t2 + 1,
        Input::Im(from("n1.PNM", "101", "1400", t2 + 1, notice)),
    );
    assert!(!rang(&fx), "platform");
    // Own messages (sent from another device) never ring.
    let mut own = msg("s1.PNM", "101", SELF_UID, t2 + 2, text("好的"));
    own.is_self = true;
    assert!(!rang(&at(&mut s, t2 + 2, Input::Im(ImEvent::Message(own)))));
}

#[test]
fn the_bell_keeps_quiet_for_the_conversation_in_view_and_when_turned_off() {
    let mut s = populated(Lang::En);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.open, Some(cid("101")));
    let t0 = now() + MIN;
    let m = |id: &str, t: i64| Input::Im(ImEvent::Message(msg(id, "101", "3001", t, text("在吗"))));
    assert!(!rang(&at(&mut s, t0, m("v1.PNM", t0))), "in view");
    // The terminal lost focus (another tmux window): the open conversation is not seen.
    at(&mut s, t0 + 1, Input::Focus(false));
    assert!(rang(&at(&mut s, t0 + 2, m("v2.PNM", t0 + 2))));

    let opts = UiOptions {
        lang: Lang::En,
        bell: false,
        ..UiOptions::default()
    };
    let mut quiet = goofish_tui::app::AppState::new(&opts, tz(), now()).0;
    im(&mut quiet, ImEvent::Connection(ConnState::Live));
    assert!(!rang(&at(&mut quiet, t0, m("q1.PNM", t0))));
}

/// The `SendImage` among effects: conversation, client id, path.
fn sent_image(fx: &[Effect]) -> Option<(Cid, ClientId, String)> {
    fx.iter().find_map(|e| match e {
        Effect::Im(ImCommand::SendImage {
            cid,
            client_id,
            path,
        }) => Some((cid.clone(), client_id.clone(), path.display().to_string())),
        _ => None,
    })
}

#[test]
fn ctrl_o_sends_a_dropped_picture_and_r_retries_it() {
    let ctrl_o =
        |s: &mut goofish_tui::app::AppState| key_mod(s, KeyCode::Char('o'), KeyModifiers::CONTROL);
    // Nothing open: a notice, no popup.
    let mut s = populated(Lang::En);
    ctrl_o(&mut s);
    assert!(s.attach.is_none());
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("open a conversation")
    );

    let mut s = opened();
    ctrl_o(&mut s);
    assert!(s.attach.is_some());
    // Esc closes it without sending.
    assert!(sent_image(&key(&mut s, KeyCode::Esc)).is_none());
    assert!(s.attach.is_none());

    ctrl_o(&mut s);
    // A file dropped on the terminal arrives as a quoted path.
    send(&mut s, Input::Paste("'/tmp/my photo.jpg'".into()));
    let screen = render(&s, 100, 30);
    assert!(
        screen.contains("发送图片") && screen.contains("/tmp/my photo.jpg"),
        "{screen}"
    );
    let fx = key(&mut s, KeyCode::Enter);
    let (to, first, path) = sent_image(&fx).unwrap();
    assert_eq!((to, path.as_str()), (cid("101"), "/tmp/my photo.jpg"));
    assert!(s.attach.is_none());
    let last = last_entry(&s);
    assert_eq!(
        last.content,
        Content::Image {
            urls: vec!["/tmp/my photo.jpg".into()]
        }
    );
    assert_eq!(last.delivery, Delivery::Sending);

    fail_send(&mut s, &first, "not connected");
    s.focus = Focus::Messages;
    let fx = retry_key(&mut s, KeyModifiers::NONE);
    let (_, second, path) = sent_image(&fx).unwrap();
    assert_ne!(first, second);
    assert_eq!(path, "/tmp/my photo.jpg");
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.entries().last().unwrap().delivery, Delivery::Sending);
}

#[test]
fn a_send_the_outbox_could_not_keep_says_so_on_the_message_until_it_is_sent() {
    let mut s = opened();
    typed(&mut s, "存不下的消息");
    let (_, client_id, _) = sent_text(&key(&mut s, KeyCode::Enter)).unwrap();
    im(
        &mut s,
        ImEvent::SendProgress {
            client_id: client_id.clone(),
            stage: SendStage::Queued,
        },
    );
    im(
        &mut s,
        ImEvent::SendNotSaved {
            client_id: client_id.clone(),
            reason: "database disk image is malformed".into(),
        },
    );
    assert!(last_entry(&s).unsaved);
    let shown = ui_support::render(&s, 80, 24);
    assert!(shown.contains("未能存入本地发件箱"), "{shown}");
    // Sent after all: the warning is gone with the pending entry.
    let mut sent = ui_support::msg(
        "88.PNM",
        "101",
        ui_support::SELF_UID,
        now(),
        text("存不下的消息"),
    );
    sent.client_id = Some(client_id.as_str().into());
    im(
        &mut s,
        ImEvent::SendResult {
            client_id,
            cid: cid("101"),
            result: Ok(sent),
        },
    );
    assert!(!ui_support::render(&s, 80, 24).contains("未能存入本地发件箱"));
}

/// `populated`, shown as the first of two accounts of the data directory.
fn two_shops() -> goofish_tui::app::AppState {
    use goofish_tui::app::AccountBadge;
    let mut s = populated(Lang::En);
    s.accounts = vec![
        AccountBadge::new(Uid::new("1000"), Some("阿哲的闲置小铺".into())),
        AccountBadge::new(Uid::new("2000"), Some("小林的二手书店".into())),
    ];
    s.account = Some(Uid::new("1000"));
    s.has_store = true;
    s
}

#[test]
fn the_account_key_ends_this_shops_view_for_the_next_with_the_draft_saved() {
    let mut s = two_shops();
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "还没写完");
    // Saved when the compose box is left, or at the latest when the view ends.
    let mut fx = key(&mut s, KeyCode::Esc);
    let ended = key(&mut s, KeyCode::Char('a'));
    assert_eq!(s.switch_to, Some(Uid::new("2000")));
    assert!(s.should_quit());
    assert!(cmds(&ended).contains(&ImCommand::Shutdown));
    fx.extend(ended);
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::Store(goofish_tui::app::StoreRequest::SaveDraft { text, .. }) if text == "还没写完"
        )),
        "{fx:?}"
    );
    assert!(render(&s, 100, 20).contains("switching to 小林的二手书店"));
    // From the last account, around to the first.
    let mut s = two_shops();
    s.account = Some(Uid::new("2000"));
    key(&mut s, KeyCode::Char('a'));
    assert_eq!(s.switch_to, Some(Uid::new("1000")));
}

#[test]
fn with_one_account_the_account_key_says_how_to_add_one_and_stays() {
    let mut s = populated(Lang::En);
    let fx = key(&mut s, KeyCode::Char('a'));
    assert!(!s.should_quit());
    assert!(s.switch_to.is_none());
    assert!(cmds(&fx).is_empty());
    assert!(render(&s, 100, 20).contains("goofish-tui login` adds another"));
}

#[test]
fn the_other_shops_unread_shows_in_the_status_bar() {
    let mut s = two_shops();
    assert!(
        render(&s, 120, 20).contains("小林的二手书店 │"),
        "not counted yet: no number"
    );
    send(
        &mut s,
        Input::AccountUnread {
            uid: Uid::new("2000"),
            unread: 4,
        },
    );
    let shown = render(&s, 120, 20);
    assert!(shown.contains("小林的二手书店 4 │"), "{shown}");
    // The shown shop is not listed among the others.
    assert!(!shown.contains("阿哲的闲置小铺 "), "{shown}");
    // Short of room, who we are goes first: the counts stay.
    im(
        &mut s,
        ImEvent::SelfInfo {
            uid: Uid::new("1000"),
            nick: Some("阿哲的闲置小铺和二手书".into()),
        },
    );
    send(
        &mut s,
        Input::AccountUnread {
            uid: Uid::new("2000"),
            unread: 1234,
        },
    );
    let wide = render(&s, 120, 20);
    assert!(
        wide.contains("me: 阿哲的闲置小铺和二手书 │ 小林的二手书店 1234 │"),
        "{wide}"
    );
    let bar = render(&s, 60, 20).lines().last().unwrap().to_string();
    assert!(bar.contains("小林的二手书店 1234 │ unread"), "{bar}");
    assert!(!bar.contains("me:"), "{bar}");
}
