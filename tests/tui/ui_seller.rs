//! The seller's screen: who waits and for how long, what they said, order tags, buyer-only
//! unread counts, the message cursor (recall, copy, edit, discard), the growing compose box,
//! the external editor and quick replies. Reducer tests: keys and events in, state and
//! effects out, and what the screen then shows.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{
    AppState, Confirm, Delivery, Effect, Focus, Input, RECALL_WINDOW_MS, StoreRequest, UiOptions,
};
use goofish_tui::im::api::{ImCommand, ImEvent, SendFailure};
use goofish_tui::protocol::{Cid, ClientId, Content, ItemInfo, MessageId, Uid};
use goofish_tui::text::i18n::Lang;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

fn cid(s: &str) -> Cid {
    Cid::new(s)
}

fn cmds(fx: &[Effect]) -> Vec<ImCommand> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Im(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn sent_text(fx: &[Effect]) -> Option<String> {
    cmds(fx).into_iter().find_map(|c| match c {
        ImCommand::SendText { text, .. } => Some(text),
        _ => None,
    })
}

fn ctrl(s: &mut AppState, c: char) -> Vec<Effect> {
    key_mod(s, KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// `populated` with 张三 (101) open, focus in the message pane, two buyer messages and one
/// own message loaded; the own one was sent a minute ago.
fn in_pane() -> AppState {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let msgs = vec![
        msg("1.PNM", "101", "3001", now() - 10 * MIN, text("你好")),
        msg("2.PNM", "101", "3001", now() - 9 * MIN, text("在吗")),
        msg("3.PNM", "101", SELF_UID, now() - MIN, text("在的😊")),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, None),
            requested: None,
        },
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Messages);
    s
}

// ---------------------------------------------------------------- the list

#[test]
fn the_list_shows_what_was_said_last_from_the_left_edge() {
    let mut s = populated(Lang::Zh);
    let mut pic = conv(
        "104",
        "3004",
        "王五",
        "很长很长的商品标题占满一整行也不会挡住",
        now() - 3 * MIN,
        1,
    );
    pic.last_message = Some(msg(
        "104.PNM",
        "104",
        "3004",
        now() - 3 * MIN,
        Content::Image {
            urls: vec!["https://x/y.jpg".into()],
        },
    ));
    let mut long = conv(
        "105",
        "3005",
        "赵六",
        "很长很长的商品标题占满一整行也不会挡住买家说的话",
        now() - 4 * MIN,
        1,
    );
    long.last_message = Some(msg(
        "105.PNM",
        "105",
        "3005",
        now() - 4 * MIN,
        text("有人在吗，想买"),
    ));
    let mut list = answered_list();
    list[0] = conv(
        "101",
        "3001",
        "张三😀",
        "九成新 iPhone 13 128G",
        now() - 2 * MIN,
        2,
    );
    list.push(pic);
    list.push(long);
    im(&mut s, ImEvent::Conversations(list));
    let screen = render(&s, 80, 24);
    // The buyer's words, an own answer and a picture, at the row's left edge.
    assert!(screen.contains("\n\" 有人在吗，想买"), "{screen}");
    assert!(screen.contains("\n\" 我: 好的"), "{screen}");
    assert!(screen.contains("\n\" [图片]"), "{screen}");
    // Every buyer's last message shows its first 8 characters at 80×24.
    for words in ["有人在吗，想买", "在吗？"] {
        let head: String = words.chars().take(8).collect();
        assert!(screen.contains(&head), "{head} in\n{screen}");
    }
}

#[test]
fn a_buyer_waits_until_the_seller_answers_and_the_wait_is_shown() {
    let mut s = populated(Lang::Zh);
    im(&mut s, ImEvent::Conversations(answered_list()));
    assert_eq!(s.waiting_since(&cid("102")), None);
    let t = now() - 12 * MIN;
    im(
        &mut s,
        ImEvent::Message(msg("20.PNM", "102", "3002", t, text("还在吗"))),
    );
    im(
        &mut s,
        ImEvent::Message(msg("21.PNM", "102", "3002", t + MIN, text("包邮吗"))),
    );
    // The wait runs from the first unanswered message.
    assert_eq!(s.waiting_since(&cid("102")), Some(t));
    let screen = render(&s, 80, 24);
    assert!(screen.contains("等 12 分"), "{screen}");
    // A notice or a card from the platform changes nothing.
    let mut card = msg(
        "22.PNM",
        "102",
        "3002",
        t + 2 * MIN,
        Content::trade_card("我已拍下，待付款".into(), None, None),
    );
    card.red_reminder = Some("等待买家付款".into());
    im(&mut s, ImEvent::Message(card));
    assert_eq!(s.waiting_since(&cid("102")), Some(t));
    // The seller's answer, once the service has it, ends the wait.
    im(
        &mut s,
        ImEvent::Message(msg("23.PNM", "102", SELF_UID, now(), text("在的"))),
    );
    assert_eq!(s.waiting_since(&cid("102")), None);
    assert!(!render(&s, 80, 24).contains("等 12 分"));
}

#[test]
fn a_send_that_has_not_reached_the_service_is_no_answer() {
    let mut s = populated(Lang::En);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert!(s.waiting_since(&cid("101")).is_some());
    typed(&mut s, "ok");
    let fx = key(&mut s, KeyCode::Enter);
    assert!(sent_text(&fx).is_some());
    assert!(
        s.waiting_since(&cid("101")).is_some(),
        "still only a local entry"
    );
}

#[test]
fn waiting_first_puts_the_longest_wait_on_top_and_toggles_back() {
    let mut s = populated(Lang::Zh);
    let mut list = answered_list();
    let mut a = conv("201", "4001", "甲", "", now() - 30 * MIN, 0);
    a.last_message = Some(msg(
        "201.PNM",
        "201",
        "4001",
        now() - 30 * MIN,
        text("在吗"),
    ));
    let mut b = conv("202", "4002", "乙", "", now() - 5 * MIN, 0);
    b.last_message = Some(msg("202.PNM", "202", "4002", now() - 5 * MIN, text("在吗")));
    list.push(a);
    list.push(b);
    im(&mut s, ImEvent::Conversations(list));
    let before = s.visible().to_vec();
    key(&mut s, KeyCode::Char('w'));
    assert!(s.waiting_first);
    assert_eq!(&s.visible()[..2], &[cid("201"), cid("202")]);
    assert!(s.notice.is_some());
    // A new wait goes where it belongs at once.
    im(
        &mut s,
        ImEvent::Message(msg(
            "30.PNM",
            "103",
            "3003",
            now() - 20 * MIN,
            text("还有货吗"),
        )),
    );
    assert_eq!(&s.visible()[..3], &[cid("201"), cid("103"), cid("202")]);
    key(&mut s, KeyCode::Char('w'));
    assert!(!s.waiting_first);
    assert_ne!(s.visible(), &before[..0]);
    assert_eq!(s.visible()[0], cid("102"), "pinned first again");
}

#[test]
fn n_goes_to_the_next_waiting_or_unread_buyer_not_the_platform() {
    let mut s = populated(Lang::Zh);
    let mut list = answered_list();
    let mut sys = conv("300", "1400", "闲小蜜", "", now(), 8);
    sys.last_message = Some(msg(
        "300.PNM",
        "300",
        "1400",
        now(),
        Content::Notice {
            text: "有新活动".into(),
        },
    ));
    let mut waiting = conv("301", "5001", "丙", "", now() - 50 * MIN, 0);
    waiting.last_message = Some(msg(
        "301.PNM",
        "301",
        "5001",
        now() - 50 * MIN,
        text("在吗"),
    ));
    list.push(sys);
    list.push(waiting);
    im(&mut s, ImEvent::Conversations(list));
    assert_eq!(s.visible()[0], cid("102"), "pinned");
    assert_eq!(s.visible()[1], cid("300"));
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.selected, Some(cid("301")), "the assistant is skipped");
}

#[test]
fn unread_counts_buyers_and_notices_apart() {
    let mut s = populated(Lang::Zh);
    let mut list = answered_list();
    list[0].unread = 1;
    let mut sys = conv("300", "1400", "闲小蜜", "", now(), 8);
    sys.last_message = Some(msg(
        "300.PNM",
        "300",
        "1400",
        now(),
        Content::Notice {
            text: "有新活动".into(),
        },
    ));
    list.push(sys);
    im(&mut s, ImEvent::Conversations(list));
    assert_eq!((s.unread_total(), s.notices_total()), (1, 8));
    let fx = im(
        &mut s,
        ImEvent::Message(msg(
            "301.PNM",
            "300",
            "1400",
            now(),
            Content::Notice {
                text: "又一条".into(),
            },
        )),
    );
    assert_eq!((s.unread_total(), s.notices_total()), (1, 9));
    assert!(!fx.contains(&Effect::SetTitle("(10) 闲鱼".into())));
    let screen = render(&s, 80, 24);
    assert!(screen.contains("未读 1 · 通知 9"), "{screen}");
    // The title counts buyers only.
    let fx = im(
        &mut s,
        ImEvent::Message(msg("40.PNM", "102", "3002", now(), text("在吗"))),
    );
    assert!(fx.contains(&Effect::SetTitle("(2) 闲鱼".into())), "{fx:?}");
}

#[test]
fn the_order_state_is_a_tag_in_the_row_and_the_filter_finds_it() {
    let mut s = populated(Lang::Zh);
    // An order-status push for 102 (the captured layout decodes to this).
    im(
        &mut s,
        ImEvent::CardUpdate {
            cid: Some(cid("102")),
            text: "等待卖家发货".into(),
            red_reminder: Some("等待卖家发货".into()),
        },
    );
    let screen = render(&s, 80, 24);
    assert!(screen.contains("待发货"), "{screen}");
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "待发货");
    assert_eq!(s.visible(), &[cid("102")]);
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "待付款");
    assert_eq!(s.visible(), &[cid("101")]);
    // The English tag finds it too.
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "to ship");
    assert_eq!(s.visible(), &[cid("102")]);
}

#[test]
fn an_open_conversation_shows_its_order_state_in_the_header() {
    let mut s = populated(Lang::En);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    im(
        &mut s,
        ImEvent::CardUpdate {
            cid: Some(cid("101")),
            text: "等待卖家发货".into(),
            red_reminder: Some("等待卖家发货".into()),
        },
    );
    let screen = render(&s, 120, 40);
    assert!(screen.contains("[to ship] 等待卖家发货"), "{screen}");
}

// ---------------------------------------------------------------- the message pane

#[test]
fn fourteen_short_messages_fit_at_80x24() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let mut msgs = Vec::new();
    // A real back and forth: a few from the buyer, an answer or two, within minutes.
    let who = [
        "3001", "3001", "3001", SELF_UID, SELF_UID, "3001", "3001", "3001", SELF_UID, "3001",
        "3001", SELF_UID, SELF_UID, "3001",
    ];
    for (i, w) in who.iter().enumerate() {
        msgs.push(msg(
            &format!("{}.PNM", 100 + i),
            "101",
            w,
            now() - 30 * MIN + i as i64 * MIN,
            text(&format!("第{i}句")),
        ));
    }
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, None),
            requested: None,
        },
    );
    let screen = render(&s, 80, 24);
    for i in 0..14 {
        assert!(
            screen.contains(&format!("第{i}句")),
            "message {i} in\n{screen}"
        );
    }
}

#[test]
fn recall_asks_first_then_asks_the_service_and_shows_it_recalled() {
    let mut s = in_pane();
    // The cursor is on the newest message: our own, a minute old.
    let fx = key(&mut s, KeyCode::Char('x'));
    assert!(cmds(&fx).is_empty(), "not before the answer");
    assert_eq!(
        s.confirm,
        Some(Confirm::Recall {
            cid: cid("101"),
            id: MessageId::new("3.PNM")
        })
    );
    assert!(render(&s, 80, 24).contains("撤回这条消息？"));
    let fx = key(&mut s, KeyCode::Char('y'));
    assert_eq!(
        cmds(&fx),
        vec![ImCommand::Recall {
            cid: cid("101"),
            id: MessageId::new("3.PNM")
        }]
    );
    let fx = im(
        &mut s,
        ImEvent::RecallResult {
            cid: cid("101"),
            id: MessageId::new("3.PNM"),
            result: Ok(()),
        },
    );
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::Store(StoreRequest::Forget { id }) if id.as_str() == "3.PNM")
        ) || !s.has_store
    );
    let screen = render(&s, 80, 24);
    assert!(screen.contains("你撤回了一条消息"), "{screen}");
    assert!(!screen.contains("在的😊"), "{screen}");
}

#[test]
fn recall_is_refused_for_others_messages_and_old_ones_and_n_cancels() {
    let mut s = in_pane();
    key(&mut s, KeyCode::Char('x'));
    let fx = key(&mut s, KeyCode::Char('n'));
    assert!(cmds(&fx).is_empty() && s.confirm.is_none());
    // Two minutes later it is too late.
    let fx = at(
        &mut s,
        now() + RECALL_WINDOW_MS,
        Input::Key(ratatui::crossterm::event::KeyEvent::new(
            KeyCode::Char('x'),
            KeyModifiers::NONE,
        )),
    );
    assert!(cmds(&fx).is_empty() && s.confirm.is_none());
    assert!(s.notice.as_deref().unwrap().contains("2 分钟"));
    // The buyer's message is not ours.
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Char('x'));
    assert!(s.confirm.is_none());
    assert!(s.notice.as_deref().unwrap().contains("自己"));
}

#[test]
fn a_failed_recall_says_why() {
    let mut s = in_pane();
    im(
        &mut s,
        ImEvent::RecallResult {
            cid: cid("101"),
            id: MessageId::new("3.PNM"),
            result: Err("not connected".into()),
        },
    );
    assert_eq!(s.notice.as_deref(), Some("撤回失败: 未连接"));
    assert!(render(&s, 80, 24).contains("在的😊"));
}

#[test]
fn a_buyer_recall_replaces_the_text_in_the_pane_and_the_list() {
    let mut s = in_pane();
    im(
        &mut s,
        ImEvent::Message(msg("4.PNM", "101", "3001", now(), text("我的电话 138"))),
    );
    im(
        &mut s,
        ImEvent::Recalled {
            cid: Some(cid("101")),
            id: MessageId::new("4.PNM"),
        },
    );
    let screen = render(&s, 80, 24);
    assert!(!screen.contains("我的电话"), "{screen}");
    assert!(
        screen.matches("对方撤回了一条消息").count() >= 2,
        "pane and list:\n{screen}"
    );
}

#[test]
fn copy_puts_the_selected_message_on_the_clipboard() {
    let mut s = in_pane();
    let fx = key(&mut s, KeyCode::Char('y'));
    assert!(fx.contains(&Effect::Copy("在的😊".into())), "{fx:?}");
    key(&mut s, KeyCode::Up);
    let fx = key(&mut s, KeyCode::Char('y'));
    assert!(fx.contains(&Effect::Copy("在吗".into())));
    assert_eq!(s.notice.as_deref(), Some("已复制到剪贴板"));
}

/// `in_pane` with a text that failed (content security) as the newest message.
fn with_rejected() -> (AppState, ClientId) {
    let mut s = in_pane();
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Focus::Compose);
    typed(&mut s, "加我微信 abc");
    let fx = key(&mut s, KeyCode::Enter);
    let client_id = cmds(&fx)
        .into_iter()
        .find_map(|c| match c {
            ImCommand::SendText { client_id, .. } => Some(client_id),
            _ => None,
        })
        .unwrap();
    im(
        &mut s,
        ImEvent::SendResult {
            client_id: client_id.clone(),
            cid: cid("101"),
            result: Err(SendFailure {
                reason: "内容存在不当信息，请修改后重试".into(),
                retryable: false,
            }),
        },
    );
    (s, client_id)
}

#[test]
fn a_rejected_message_goes_back_into_the_compose_box_to_be_changed() {
    let (mut s, _) = with_rejected();
    // Up from the empty box reaches the message; e takes it back.
    key(&mut s, KeyCode::Up);
    assert_eq!(s.focus, Focus::Messages);
    key(&mut s, KeyCode::Char('e'));
    assert_eq!(s.focus, Focus::Compose);
    assert_eq!(s.draft(&cid("101")), "加我微信 abc");
    let t = s.thread(&cid("101")).unwrap();
    assert!(
        t.entries()
            .iter()
            .all(|e| !matches!(e.delivery, Delivery::Failed(_)))
    );
    // Changed and sent again.
    for _ in 0..6 {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, "平台上聊");
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(sent_text(&fx).as_deref(), Some("加我平台上聊"));
}

#[test]
fn a_rejected_message_can_be_discarded() {
    let (mut s, _) = with_rejected();
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Char('d'));
    let t = s.thread(&cid("101")).unwrap();
    assert_eq!(t.len(), 3);
    // The list shows what was said before it again.
    let last = s
        .conversation(&cid("101"))
        .unwrap()
        .last_message
        .clone()
        .unwrap();
    assert_eq!(last.content, text("在的😊"));
    // A sent message is neither edited nor discarded.
    key(&mut s, KeyCode::Char('d'));
    assert_eq!(s.thread(&cid("101")).unwrap().len(), 3);
}

// ---------------------------------------------------------------- compose box

#[test]
fn the_compose_box_wraps_and_grows_to_a_third_of_the_pane() {
    let mut s = in_pane();
    key(&mut s, KeyCode::Tab);
    let before = s.areas().compose.height;
    typed(&mut s, &"包邮".repeat(40));
    let a = s.areas();
    // 160 cells at 51 per row: 4 rows, limited to a third of the 21-row right side (7).
    assert_eq!(a.compose.height, 4 + 1, "from {before}");
    typed(&mut s, &"很好".repeat(100));
    let a = s.areas();
    assert_eq!(a.compose.height, 7 + 1);
    // The caret is where the text ends: on the last row shown.
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    let frame = t.draw(|f| goofish_tui::ui::draw(f, &s)).unwrap();
    let _ = frame;
    let pos = t.get_cursor_position().unwrap();
    assert_eq!(pos.y, a.compose.bottom() - 1);
    assert!(pos.x > a.compose.x && pos.x < a.compose.right());
}

#[test]
fn the_external_editor_takes_the_draft_and_gives_it_back_unsent() {
    let mut s = in_pane();
    key(&mut s, KeyCode::Tab);
    typed(&mut s, "草稿");
    let fx = ctrl(&mut s, 'e');
    assert!(fx.contains(&Effect::Editor("草稿".into())), "{fx:?}");
    assert!(s.editing);
    // Keys are the editor's meanwhile.
    key(&mut s, KeyCode::Char('q'));
    assert!(!s.should_quit());
    let fx = send(&mut s, Input::Edited(Ok("改好的草稿\n第二行\n".into())));
    assert!(sent_text(&fx).is_none());
    assert!(!s.editing);
    assert_eq!(s.draft(&cid("101")), "改好的草稿\n第二行");
    assert_eq!(s.focus, Focus::Compose);
    // An editor that fails leaves the draft as it was.
    ctrl(&mut s, 'e');
    send(
        &mut s,
        Input::Edited(Err("the editor exited with exit status: 1".into())),
    );
    assert_eq!(s.draft(&cid("101")), "改好的草稿\n第二行");
    assert!(s.notice.as_deref().unwrap().starts_with("编辑器出错"));
}

// ---------------------------------------------------------------- quick replies

fn with_item(s: &mut AppState) {
    im(
        s,
        ImEvent::Item(ItemInfo {
            item_id: "item101".into(),
            title: "九成新 iPhone 13".into(),
            price: Some("2999".into()),
            pic: None,
        }),
    );
}

#[test]
fn a_quick_reply_is_picked_by_its_number_filled_in_and_sent_with_enter() {
    let opts = UiOptions {
        lang: Lang::Zh,
        quick_replies: Some(vec![
            "在的，{nick}".into(),
            "{item} 还在，¥{price} 包邮".into(),
        ]),
        ..UiOptions::default()
    };
    let mut s = AppState::new(&opts, tz(), now()).0;
    let base = populated(Lang::Zh);
    send(
        &mut s,
        Input::Resize {
            width: 80,
            height: 24,
        },
    );
    im(
        &mut s,
        ImEvent::Connection(goofish_tui::im::api::ConnState::Live),
    );
    im(
        &mut s,
        ImEvent::SelfInfo {
            uid: Uid::new(SELF_UID),
            nick: None,
        },
    );
    let list: Vec<_> = base
        .visible()
        .iter()
        .map(|c| base.conversation(c).unwrap().clone())
        .collect();
    im(&mut s, ImEvent::Conversations(list));
    // From the list: the picker fills in for the selected conversation (张三).
    key(&mut s, KeyCode::Char('j'));
    let fx = ctrl(&mut s, 't');
    assert!(s.quick.is_some());
    assert!(cmds(&fx).contains(&ImCommand::FetchItem {
        item_id: "item101".into()
    }));
    with_item(&mut s);
    let screen = render(&s, 80, 24);
    assert!(screen.contains("1 在的，张三😀"), "{screen}");
    assert!(
        screen.contains("2 九成新 iPhone 13 还在，¥2999 包邮"),
        "{screen}"
    );
    let fx = key(&mut s, KeyCode::Char('2'));
    assert!(sent_text(&fx).is_none(), "into the box, not sent");
    assert_eq!(s.open, Some(cid("101")));
    assert_eq!(s.focus, Focus::Compose);
    assert_eq!(s.draft(&cid("101")), "九成新 iPhone 13 还在，¥2999 包邮");
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(
        sent_text(&fx).as_deref(),
        Some("九成新 iPhone 13 还在，¥2999 包邮")
    );
}

#[test]
fn the_picker_moves_with_arrows_closes_with_esc_and_has_built_in_replies() {
    let mut s = in_pane();
    key(&mut s, KeyCode::Tab);
    ctrl(&mut s, 't');
    assert!(!s.quick_replies.is_empty(), "built-in Chinese replies");
    key(&mut s, KeyCode::Down);
    assert_eq!(s.quick.as_ref().unwrap().selected, 1);
    key(&mut s, KeyCode::Esc);
    assert!(s.quick.is_none());
    assert!(s.draft(&cid("101")).is_empty());
    ctrl(&mut s, 't');
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.draft(&cid("101")), s.quick_replies[0]);
}

// ---------------------------------------------------------------- time

#[test]
fn a_shown_wait_goes_up_by_the_minute_without_other_events() {
    let mut s = populated(Lang::Zh);
    s.take_dirty();
    // 张三 waits since 2 minutes: the next change of "等 2 分" is in a minute.
    let next = s.next_tick_in().unwrap();
    assert!(next <= 60_000, "{next}");
    at(&mut s, now() + next as i64, Input::Tick);
    assert!(s.take_dirty());
    assert!(render(&s, 80, 24).contains("等 3 分"));
    // A tick that changes no label draws nothing.
    at(&mut s, now() + next as i64 + 1_000, Input::Tick);
    assert!(!s.take_dirty());
}
