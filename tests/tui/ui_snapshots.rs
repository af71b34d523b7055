//! The main screen as text, at 80×24 and 120×40, with Chinese and emoji content.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{AppState, Input, StoreReply};
use goofish_tui::im::api::{ConnState, ImEvent, SendFailure};
use goofish_tui::protocol::{Cid, ClientId, Content, Conversation, ItemInfo};
use goofish_tui::store::SearchHit;
use goofish_tui::text::i18n::Lang;
use goofish_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

/// The conversation with 张三 open, with every kind of message in it.
fn busy_screen(lang: Lang, w: u16, h: u16) -> AppState {
    let mut s = populated(lang);
    send(
        &mut s,
        Input::Resize {
            width: w,
            height: h,
        },
    );
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let t0 = now() - 25 * 60 * MIN;
    let mut card = msg(
        "5.PNM",
        "101",
        "1400",
        now() - 30 * MIN,
        Content::trade_card("我已拍下，待付款".into(), None, Some("888".into())),
    );
    card.red_reminder = Some("等待买家付款".into());
    let msgs = vec![
        msg("1.PNM", "101", "3001", t0, text("你好，这个还在吗？👀")),
        msg(
            "2.PNM",
            "101",
            SELF_UID,
            t0 + MIN,
            text("在的😊 九成新，电池 88%，无拆修。"),
        ),
        msg(
            "3.PNM",
            "101",
            "3001",
            now() - 40 * MIN,
            text(
                "能便宜点吗？我是学生，预算有限，如果可以包邮的话今天就拍，另外想问一下有没有原装充电器和盒子 thanks!",
            ),
        ),
        msg(
            "4.PNM",
            "101",
            "3001",
            now() - 35 * MIN,
            Content::Image {
                urls: vec!["https://img.example.com/a.jpg".into()],
            },
        ),
        card,
        msg(
            "6.PNM",
            "101",
            "1400",
            now() - 29 * MIN,
            Content::Notice {
                text: "交易提醒：请勿脱离平台交易".into(),
            },
        ),
        msg(
            "7.PNM",
            "101",
            "3001",
            now() - 28 * MIN,
            Content::Unknown {
                content_type: 4,
                summary: "[视频]".into(),
            },
        ),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, Some(1000)),
            requested: None,
        },
    );
    im(
        &mut s,
        ImEvent::Item(ItemInfo {
            item_id: "item101".into(),
            title: "九成新 iPhone 13 128G 国行".into(),
            price: Some("2999".into()),
            pic: None,
        }),
    );
    // A send that failed.
    typed(&mut s, "包邮可以");
    key(&mut s, KeyCode::Enter);
    let failed = last_local(&s);
    im(
        &mut s,
        ImEvent::SendResult {
            client_id: failed,
            cid: Cid::new("101"),
            result: Err(SendFailure {
                reason: "网络超时".into(),
                retryable: true,
            }),
        },
    );
    // Offline: the next one is queued.
    im(
        &mut s,
        ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 4_000,
            attempt: 3,
            last_error: "connection reset".into(),
        }),
    );
    typed(&mut s, "好的👌");
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "草稿：明天发货");
    s
}

fn last_local(s: &AppState) -> ClientId {
    let t = s.thread(&Cid::new("101")).unwrap();
    t.entries()
        .iter()
        .rev()
        .find_map(|e| match &e.key {
            goofish_tui::app::EntryKey::Local(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn main_screen_80x24_zh() {
    let s = busy_screen(Lang::Zh, 80, 24);
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn main_screen_120x40_zh() {
    let s = busy_screen(Lang::Zh, 120, 40);
    insta::assert_snapshot!(render(&s, 120, 40));
}

#[test]
fn main_screen_120x40_en() {
    let s = busy_screen(Lang::En, 120, 40);
    insta::assert_snapshot!(render(&s, 120, 40));
}

/// The seller's day: 张三 asks, the seller answers, 张三 asks more (grouped, with emoji), a
/// recalled message, an order that was paid; 李四 waits for an answer; the answer being
/// typed takes three lines.
fn seller_screen(lang: Lang, w: u16, h: u16) -> AppState {
    let mut s = populated(lang);
    send(
        &mut s,
        Input::Resize {
            width: w,
            height: h,
        },
    );
    let mut other = conv(
        "104",
        "3004",
        "李四🐱",
        "Switch 游戏机 双手柄",
        now() - 14 * MIN,
        1,
    );
    other.last_message = Some(msg(
        "104.PNM",
        "104",
        "3004",
        now() - 14 * MIN,
        text("有人在吗，想买，能走闲鱼包邮吗"),
    ));
    let mut list: Vec<Conversation> = s
        .visible()
        .iter()
        .map(|c| s.conversation(c).unwrap().clone())
        .collect();
    list.push(other);
    im(&mut s, ImEvent::Conversations(list));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let t = now() - 40 * MIN;
    let b = "3001";
    let me = SELF_UID;
    let msgs = vec![
        msg("11.PNM", "101", b, t, text("你好")),
        msg("12.PNM", "101", b, t + MIN / 2, text("这个还在吗？")),
        msg("13.PNM", "101", b, t + MIN, text("能便宜点吗 🙏")),
        msg("14.PNM", "101", me, t + 3 * MIN, text("在的😊")),
        msg(
            "15.PNM",
            "101",
            me,
            t + 3 * MIN + 10_000,
            text("已经是最低价了，包邮"),
        ),
        msg("16.PNM", "101", b, t + 5 * MIN, text("好吧")),
        msg("17.PNM", "101", b, t + 5 * MIN + 5_000, text("发我个电话")),
        msg("18.PNM", "101", b, t + 6 * MIN, text("那我拍了")),
        msg("19.PNM", "101", me, t + 7 * MIN, text("好的，拍下我改价")),
        msg("20.PNM", "101", b, t + 20 * MIN, text("付好了👌")),
        msg(
            "21.PNM",
            "101",
            b,
            t + 20 * MIN + 20_000,
            text("什么时候发货？"),
        ),
        // The conversation's last message, as the list has it.
        msg("1019.PNM", "101", b, now() - 2 * MIN, text("在吗？")),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, None),
            requested: None,
        },
    );
    im(
        &mut s,
        ImEvent::Recalled {
            cid: Some(Cid::new("101")),
            id: goofish_tui::protocol::MessageId::new("17.PNM"),
        },
    );
    im(
        &mut s,
        ImEvent::CardUpdate {
            cid: Some(Cid::new("101")),
            text: "等待卖家发货".into(),
            red_reminder: Some("等待卖家发货".into()),
        },
    );
    typed(&mut s, "亲，今天下午发顺丰");
    key_mod(&mut s, KeyCode::Enter, KeyModifiers::ALT);
    typed(&mut s, "单号发你😊");
    key_mod(&mut s, KeyCode::Enter, KeyModifiers::ALT);
    typed(&mut s, "有问题随时找我");
    s
}

#[test]
fn seller_screen_80x24_zh() {
    let s = seller_screen(Lang::Zh, 80, 24);
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn seller_screen_120x40_zh() {
    let s = seller_screen(Lang::Zh, 120, 40);
    insta::assert_snapshot!(render(&s, 120, 40));
}

#[test]
fn quick_reply_picker_80x24_zh() {
    let mut s = seller_screen(Lang::Zh, 80, 24);
    key_mod(&mut s, KeyCode::Char('t'), KeyModifiers::CONTROL);
    im(
        &mut s,
        ImEvent::Item(ItemInfo {
            item_id: "item101".into(),
            title: "九成新 iPhone 13 128G 国行".into(),
            price: Some("2999".into()),
            pic: None,
        }),
    );
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn quick_reply_picker_120x40_en() {
    let mut s = seller_screen(Lang::En, 120, 40);
    key_mod(&mut s, KeyCode::Char('t'), KeyModifiers::CONTROL);
    insta::assert_snapshot!(render(&s, 120, 40));
}

#[test]
fn list_only_with_filter_80x24() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "kindle");
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn help_popup_80x24() {
    let mut s = populated(Lang::En);
    key(&mut s, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn search_popup_with_chinese_results_80x24() {
    let mut s = populated(Lang::Zh);
    send(
        &mut s,
        Input::Store(StoreReply::Startup {
            conversations: Vec::new(),
            drafts: Vec::new(),
        }),
    );
    key_mod(&mut s, KeyCode::Char('f'), KeyModifiers::CONTROL);
    for c in "便宜".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    let hit = |id: &str, cid: &str, from: &str, nick: &str, t: i64, body: &str| {
        let snippet = body.to_string();
        let start = snippet.find("便宜").unwrap();
        SearchHit {
            message: msg(id, cid, from, t, text(body)),
            conversation: Some(Conversation {
                cid: Cid::new(cid),
                peer_nick: Some(nick.into()),
                item_title: Some("九成新 iPhone 13 128G".into()),
                ..Default::default()
            }),
            highlight: Some(start..start + "便宜".len()),
            snippet,
        }
    };
    let hits = vec![
        hit(
            "9.PNM",
            "101",
            "3001",
            "张三😀",
            now() - 5 * MIN,
            "能再便宜点吗？😀 诚心要",
        ),
        hit(
            "8.PNM",
            "101",
            SELF_UID,
            "张三😀",
            now() - 26 * 60 * MIN,
            "已经很便宜了，不能再少了",
        ),
    ];
    send(
        &mut s,
        Input::Store(StoreReply::Search {
            query: "便宜".into(),
            result: Ok(hits),
        }),
    );
    key(&mut s, KeyCode::Down);
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn cached_list_is_marked_in_the_status_bar() {
    let mut s = state(Lang::Zh);
    send(
        &mut s,
        Input::Store(StoreReply::Startup {
            conversations: vec![conv(
                "101",
                "3001",
                "张三😀",
                "九成新 iPhone 13",
                now() - MIN,
                1,
            )],
            drafts: Vec::new(),
        }),
    );
    let screen = render(&s, 80, 24);
    let status = screen.lines().last().unwrap();
    assert!(status.contains("缓存"), "{status}");
    im(&mut s, ImEvent::Conversations(Vec::new()));
    let screen = render(&s, 80, 24);
    assert!(!screen.lines().last().unwrap().contains("缓存"));
}

#[test]
fn risk_control_status_shows_the_url() {
    let mut s = populated(Lang::En);
    im(
        &mut s,
        ImEvent::Connection(ConnState::RiskControl {
            url: "https://verify.example.com/slide?x=1".into(),
        }),
    );
    let screen = render(&s, 80, 24);
    assert!(
        screen.contains("https://verify.example.com/slide?x=1"),
        "{screen}"
    );
}

#[test]
fn needs_login_status_says_how_to_log_in_again() {
    for lang in [Lang::En, Lang::Zh] {
        let mut s = populated(lang);
        im(
            &mut s,
            ImEvent::Connection(ConnState::NeedsLogin {
                reason: "the login cookie has expired".into(),
            }),
        );
        let screen = render(&s, 120, 40);
        let status = screen.lines().last().unwrap_or_default();
        assert!(status.contains("goofish-tui login"), "{screen}");
    }
}

#[test]
fn scrolled_up_loading_older_with_new_below_80x24() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let msgs = (0..6)
        .map(|i| {
            msg(
                &format!("{i}.PNM"),
                "101",
                "3001",
                now() - (60 - i) * MIN,
                text(&format!("第{i}条 🙂")),
            )
        })
        .collect();
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, Some(42)),
            requested: None,
        },
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Char('g')); // top: asks for the older page
    assert!(s.thread(&Cid::new("101")).unwrap().loading);
    im(
        &mut s,
        ImEvent::Message(msg("9.PNM", "101", "3001", now(), text("新消息"))),
    );
    im(
        &mut s,
        ImEvent::Message(msg("10.PNM", "101", "3001", now(), text("又一条"))),
    );
    let screen = render(&s, 80, 24);
    assert!(screen.contains("加载中…"), "{screen}");
    assert!(screen.contains("2 条新消息 ↓"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn caret_sits_after_wide_text() {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "你好😀a");
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| ui::draw(f, &s)).unwrap();
    let a = goofish_tui::app::layout::layout(80, 24, 1);
    let pos = t.get_cursor_position().unwrap();
    // 你 好 😀 are two cells each, `a` one: the caret is 7 cells in.
    assert_eq!((pos.x, pos.y), (a.compose.x + 7, a.compose.y + 1));
}

#[test]
fn a_rejected_content_offers_no_retry() {
    let mut s = populated(Lang::En);
    send(
        &mut s,
        Input::Resize {
            width: 100,
            height: 30,
        },
    );
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "加我微信");
    key(&mut s, KeyCode::Enter);
    let id = last_local(&s);
    im(
        &mut s,
        ImEvent::SendResult {
            client_id: id,
            cid: Cid::new("101"),
            result: Err(SendFailure {
                reason: "内容存在不当信息".into(),
                retryable: false,
            }),
        },
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains("内容存在不当信息"), "{screen}");
    assert!(!screen.contains("press r to retry"), "{screen}");
}

/// The real shape of a slider URL (§3.3), long enough to need three lines at 80 columns.
const PUNISH_URL: &str = "https://h5api.m.goofish.com:443//h5/mtop.taobao.idlemessage.pc.login.token/1.0/_____tmd_____/punish?x5secdata=xdd2c9a1b0e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0__bx__h5api.m.goofish.com%3A443%2Fh5%2Fmtop&x5step=2&action=captcha&pureCaptcha=";

#[test]
fn risk_control_popup_shows_the_whole_url_80x24() {
    for lang in [Lang::Zh, Lang::En] {
        let mut s = populated(lang);
        im(
            &mut s,
            ImEvent::Connection(ConnState::RiskControl {
                url: PUNISH_URL.into(),
            }),
        );
        let screen = render(&s, 80, 24);
        // Whole, in lines of the popup's inner width (76 at 80 columns).
        for part in PUNISH_URL.as_bytes().chunks(76) {
            let part = std::str::from_utf8(part).unwrap();
            assert!(screen.contains(&format!("│{part}")), "{part} in {screen}");
        }
        insta::assert_snapshot!(format!("risk_control_popup_80x24_{lang:?}"), screen);
    }
}

#[test]
fn the_risk_control_popup_copies_retries_and_closes() {
    use goofish_tui::app::Effect;
    use goofish_tui::im::api::ImCommand;
    let mut s = populated(Lang::En);
    im(
        &mut s,
        ImEvent::Connection(ConnState::RiskControl {
            url: PUNISH_URL.into(),
        }),
    );
    let fx = key(&mut s, KeyCode::Char('y'));
    assert!(fx.contains(&Effect::Copy(PUNISH_URL.into())), "{fx:?}");
    assert!(s.risk_popup.is_some());
    let fx = key(&mut s, KeyCode::Char('r'));
    assert!(fx.contains(&Effect::Im(ImCommand::ReconnectNow)), "{fx:?}");
    assert!(s.risk_popup.is_none());
    // The re-check answers risk control again: the popup is back.
    im(&mut s, ImEvent::Connection(ConnState::Connecting));
    im(
        &mut s,
        ImEvent::Connection(ConnState::RiskControl {
            url: PUNISH_URL.into(),
        }),
    );
    assert!(s.risk_popup.is_some());
    // Closed: not opened again for the same URL; the status bar keeps it.
    key(&mut s, KeyCode::Esc);
    im(
        &mut s,
        ImEvent::Connection(ConnState::RiskControl {
            url: PUNISH_URL.into(),
        }),
    );
    assert!(s.risk_popup.is_none());
    // `R` anywhere reconnects now while not live.
    let fx = key(&mut s, KeyCode::Char('R'));
    assert!(fx.contains(&Effect::Im(ImCommand::ReconnectNow)), "{fx:?}");
    assert_eq!(s.notice.as_deref(), Some("reconnecting now…"));
    im(&mut s, ImEvent::Connection(ConnState::Live));
    assert_eq!(s.notice, None, "said no more once live");
    let fx = key(&mut s, KeyCode::Char('R'));
    assert!(!fx.contains(&Effect::Im(ImCommand::ReconnectNow)));
}

#[test]
fn a_stalled_connection_is_not_shown_as_live() {
    for (lang, word) in [(Lang::En, "stalled"), (Lang::Zh, "卡住")] {
        let mut s = populated(lang);
        im(&mut s, ImEvent::Connection(ConnState::Live));
        im(&mut s, ImEvent::Connection(ConnState::Stalled));
        let screen = render(&s, 80, 24);
        let status = screen.lines().last().unwrap();
        assert!(status.contains(word) && !status.contains('●'), "{status}");
    }
}

fn login_code() -> String {
    let url = format!(
        "https://passport.goofish.com/qrcodeCheck.htm?lgToken={}&tbScanOpenType=Notification",
        "0123456789abcdef".repeat(2)
    );
    let qr =
        qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::L).unwrap();
    let dark: Vec<bool> = qr
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    goofish_tui::headless::login::half_blocks(&dark, qr.width(), false)
}

#[test]
fn qr_login_popup_fits_80x24_and_says_how_big_a_small_window_must_be() {
    use goofish_tui::app::{Effect, LoginUpdate};
    let mut s = populated(Lang::Zh);
    let fx = im(
        &mut s,
        ImEvent::Connection(ConnState::NeedsLogin {
            reason: "Session过期".into(),
        }),
    );
    assert!(fx.contains(&Effect::StartLogin), "{fx:?}");
    // Asked once per need of a login.
    let again = im(
        &mut s,
        ImEvent::Connection(ConnState::NeedsLogin {
            reason: "Session过期".into(),
        }),
    );
    assert!(!again.contains(&Effect::StartLogin));
    send(&mut s, Input::Login(LoginUpdate::Code(login_code())));
    let screen = render(&s, 80, 24);
    insta::assert_snapshot!("qr_login_popup_80x24_zh", screen);
    let small = render(&s, 60, 16);
    assert!(small.contains("至少需要 43×23"), "{small}");
    send(&mut s, Input::Login(LoginUpdate::Scanned));
    assert!(render(&s, 80, 24).contains("已扫描"));
    // Live again (the session took the saved login): the popup goes, the login task too.
    let fx = im(&mut s, ImEvent::Connection(ConnState::Live));
    assert!(fx.contains(&Effect::CancelLogin), "{fx:?}");
    assert!(s.login.is_none());
}

#[test]
fn the_qr_login_popup_closes_on_esc_and_retries_after_a_failure() {
    use goofish_tui::app::{Effect, LoginUpdate};
    let mut s = populated(Lang::En);
    im(
        &mut s,
        ImEvent::Connection(ConnState::NeedsLogin {
            reason: "expired".into(),
        }),
    );
    send(
        &mut s,
        Input::Login(LoginUpdate::Failed(
            "the login was cancelled on the phone".into(),
        )),
    );
    let shown = render(&s, 80, 24);
    assert!(
        shown.contains("Login failed: the login was cancelled"),
        "{shown}"
    );
    let fx = key(&mut s, KeyCode::Char('r'));
    assert_eq!(fx, vec![Effect::CancelLogin, Effect::StartLogin]);
    send(&mut s, Input::Login(LoginUpdate::Code(login_code())));
    let fx = key(&mut s, KeyCode::Esc);
    assert_eq!(fx, vec![Effect::CancelLogin]);
    assert!(s.login.is_none());
    // The status bar still says how to log in.
    assert!(render(&s, 120, 40).contains("goofish-tui login"));
}
