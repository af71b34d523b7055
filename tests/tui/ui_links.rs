//! Links in messages are shown shortened on one row, and the runtime knows where each link is
//! on the screen (for OSC 8), the item title in the header included.
#![allow(clippy::unwrap_used)]

use crate::ui_support;

use goofish_tui::app::{AppState, Input};
use goofish_tui::im::api::ImEvent;
use goofish_tui::protocol::Content;
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use tokio::sync::mpsc;
use ui_support::*;

const PIC: &str =
    "https://img.alicdn.com/imgextra/i2/O1CN01abcdefghijklmnopqrst_!!3001-0-xy_chat.jpg";
const PAGE: &str = "https://m.tb.cn/h.5XyZabcdefghijklmnop?tk=AbCdEfGhIjK&sm=0123456789";

fn opened(w: u16, h: u16) -> AppState {
    let mut s = populated(Lang::Zh);
    send(
        &mut s,
        Input::Resize {
            width: w,
            height: h,
        },
    );
    let mut c = conv("101", "3001", "张三😀", "九成新 iPhone 13 128G", now(), 0);
    c.item_id = Some("712345678901".into());
    im(&mut s, ImEvent::Conversations(vec![c]));
    key(&mut s, KeyCode::Enter);
    let msgs = vec![
        msg(
            "1.PNM",
            "101",
            "3001",
            now() - 2000,
            text(&format!("这里有划痕吗？看这个{PAGE}谢谢")),
        ),
        msg(
            "2.PNM",
            "101",
            "3001",
            now() - 1000,
            Content::Image {
                urls: vec![PIC.into()],
            },
        ),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, None),
            requested: None,
        },
    );
    s
}

#[tokio::test]
async fn long_urls_take_one_row_each_and_every_link_is_where_it_is_drawn() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (tx, _rx) = mpsc::channel(16);
        let mut rt = Runtime::new(TestBackend::new(w, h), opened(w, h), tx).unwrap();
        rt.draw_if_dirty().unwrap();
        let shown = screen(&rt);
        // No row holds a piece of a URL but the one holding the whole shortened link.
        assert!(!shown.contains("https://"), "{shown}");
        let rows_with = |needle: &str| shown.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(rows_with("img.alicdn.com/…"), 1, "{shown}");
        assert_eq!(rows_with("xy_chat.jpg"), 1, "{shown}");
        assert_eq!(rows_with("m.tb.cn/…"), 1, "{shown}");

        let links = rt.links();
        let urls: Vec<&str> = links.iter().map(|l| l.url.as_str()).collect();
        assert!(urls.contains(&PIC) && urls.contains(&PAGE), "{links:?}");
        assert!(
            urls.contains(&"https://www.goofish.com/item?id=712345678901"),
            "the header's item title: {links:?}"
        );
        // Each link's text is on the screen exactly at its cells.
        let buf = rt.terminal().backend().buffer();
        for l in links {
            let mut x = l.x;
            for ch in l.text.chars() {
                let sym = buf[(x, l.y)].symbol();
                assert_eq!(sym, ch.to_string(), "{l:?} at {x}");
                x += unicode_width::UnicodeWidthChar::width(ch).unwrap_or(1) as u16;
            }
        }
    }
}
