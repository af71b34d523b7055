//! Links the terminal can open (OSC 8). ratatui's cells hold no link, so after a frame the
//! cells of each link on screen are written again, with the same symbols and style, between
//! an OSC 8 opening and closing sequence: the screen looks the same, and the terminal now
//! knows where those cells lead. Every drawn frame does it again, since ratatui rewrites
//! changed cells without their link.
//!
//! Inside tmux the sequences go as they are: tmux (3.4 and later) keeps links in its own grid
//! and hands them to the outer terminal. Passthrough would put the text outside tmux's grid.

use crate::ui::ScreenLink;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::{Buffer, Cell};
use std::io::{self, Write};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Starts a link to `url`.
pub fn open(url: &str) -> String {
    format!("\x1b]8;;{url}\x1b\\")
}

/// Ends a link.
pub const CLOSE: &str = "\x1b]8;;\x1b\\";

/// Whether a URL can go inside the sequence: printable ASCII only (no ESC, BEL or anything
/// that could end or extend the sequence), and a web address.
fn safe(url: &str) -> bool {
    !url.is_empty()
        && url.bytes().all(|b| (0x21..0x7f).contains(&b))
        && (url.starts_with("https://") || url.starts_with("http://"))
}

/// Whether to tell this terminal about links (`getenv` reads the environment): not on the
/// Linux console or a dumb terminal, which print what they do not know.
pub fn supported(getenv: impl Fn(&str) -> Option<String>) -> bool {
    let term = getenv("TERM").unwrap_or_default();
    !(term == "dumb" || term == "linux" || term.starts_with("vt"))
}

/// The cells showing `link` in `buf`, or `None` when they show something else now (a popup
/// covers it).
fn cells<'b>(buf: &'b Buffer, link: &ScreenLink) -> Option<Vec<(u16, u16, &'b Cell)>> {
    let mut out = Vec::new();
    let mut x = link.x;
    for g in link.text.graphemes(true) {
        let cell = buf.cell((x, link.y))?;
        if cell.symbol() != g {
            return None;
        }
        out.push((x, link.y, cell));
        x = x.checked_add(g.width().max(1) as u16)?;
    }
    (!out.is_empty()).then_some(out)
}

/// The bytes that make each link of `links` still shown in `buf` a link, the cursor left
/// where it was. Empty when there is none.
pub fn overlay(buf: &Buffer, links: &[ScreenLink]) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut backend = CrosstermBackend::new(&mut bytes);
    let mut any = false;
    for link in links.iter().filter(|l| safe(&l.url)) {
        let Some(cells) = cells(buf, link) else {
            continue;
        };
        if !any {
            // Save the cursor: it stays at the compose caret for input methods.
            backend.write_all(b"\x1b7")?;
            any = true;
        }
        backend.write_all(open(&link.url).as_bytes())?;
        backend.draw(cells.into_iter())?;
        backend.write_all(CLOSE.as_bytes())?;
    }
    if any {
        backend.write_all(b"\x1b8")?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Modifier, Style};

    fn link(x: u16, y: u16, text: &str, url: &str) -> ScreenLink {
        ScreenLink {
            x,
            y,
            text: text.into(),
            url: url.into(),
        }
    }

    #[test]
    fn a_link_is_its_cells_written_again_between_the_osc8_sequences() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 2));
        let style = Style::default()
            .fg(Color::Blue)
            .add_modifier(Modifier::UNDERLINED);
        buf.set_string(3, 1, "a.cn/x", style);
        let bytes = overlay(&buf, &[link(3, 1, "a.cn/x", "https://a.cn/x")]).unwrap();
        let s = String::from_utf8(bytes).unwrap();
        // Save the cursor, open the link, the cells at row 2 column 4 in their own style
        // (underlined, blue), reset, close the link, put the cursor back.
        assert_eq!(
            s,
            "\x1b7\x1b]8;;https://a.cn/x\x1b\\\x1b[2;4H\x1b[4m\x1b[38;5;4;49ma.cn/x\
             \x1b[39m\x1b[49m\x1b[59m\x1b[0m\x1b]8;;\x1b\\\x1b8"
        );
    }

    #[test]
    fn wide_titles_covered_links_and_unsafe_urls() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 1));
        buf.set_string(0, 0, "相机 99", Style::default());
        let s = String::from_utf8(
            overlay(
                &buf,
                &[link(0, 0, "相机", "https://www.goofish.com/item?id=1")],
            )
            .unwrap(),
        )
        .unwrap();
        // Each wide character once: the cell after it is its own second half.
        assert_eq!(
            s.matches('相').count() + s.matches('机').count(),
            2,
            "{s:?}"
        );
        // A popup drew over it, or the URL would break out of the sequence: nothing sent.
        assert!(
            overlay(&buf, &[link(0, 0, "other", "https://a.cn")])
                .unwrap()
                .is_empty()
        );
        assert!(
            overlay(&buf, &[link(0, 0, "相机", "https://a.cn/\x1b]0;x\x07")])
                .unwrap()
                .is_empty()
        );
        assert!(
            overlay(&buf, &[link(0, 0, "相机", "javascript:x")])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dumb_terminals_and_the_linux_console_are_not_told() {
        let env = |term: &'static str| move |k: &str| (k == "TERM").then(|| term.to_string());
        assert!(supported(env("xterm-256color")));
        assert!(supported(env("tmux-256color")));
        assert!(!supported(env("linux")));
        assert!(!supported(env("dumb")));
    }
}
