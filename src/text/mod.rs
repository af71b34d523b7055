//! Text as a person reads it, below both the reducer and the views: display-width layout
//! (wrapping and truncation by terminal cells, by grapheme, the way the terminal buffer
//! measures them; a wide character is never split), every string in both languages
//! ([`i18n`], with what is said about a core of another version in [`core_version`] and
//! about several accounts in [`accounts`]), and
//! times as shown ([`timefmt`]).

pub mod accounts;
pub mod core_version;
pub mod i18n;
pub mod links;
pub mod timefmt;

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Width in cells of one grapheme (0 for controls, which are never drawn).
fn grapheme_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        g.width()
    }
}

/// The graphemes of `s`; plain ASCII (the common case for ids, URLs, times) skips the
/// segmentation tables, which dominate drawing time otherwise.
fn graphemes(s: &str) -> Box<dyn Iterator<Item = &str> + '_> {
    if s.is_ascii() && !s.contains('\r') {
        Box::new((0..s.len()).map(move |i| &s[i..i + 1]))
    } else {
        Box::new(s.graphemes(true))
    }
}

/// Width in cells of a string as the terminal draws it.
pub fn width(s: &str) -> usize {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.len();
    }
    graphemes(s).map(grapheme_width).sum()
}

/// The text cleaned for the terminal ([`crate::safe_text::clean`]: no control character but
/// newlines and tabs, no bidi control) with tabs as spaces, so what is measured is what is
/// drawn.
pub fn sanitize(s: &str) -> String {
    let clean = crate::safe_text::clean(s);
    if clean.contains('\t') {
        clean.replace('\t', "    ")
    } else {
        clean.into_owned()
    }
}

/// One line: newlines become spaces.
pub fn one_line(s: &str) -> String {
    let s = sanitize(s);
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cuts `s` to at most `max` cells, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    // One pass that stops as soon as the text is known not to fit, so a long message costs
    // no more than its first `max` cells.
    let mut used = 0;
    // Byte length of the longest prefix that leaves room for the ellipsis.
    let mut cut = 0;
    let mut end = 0;
    for g in graphemes(s) {
        let w = grapheme_width(g);
        if used + w > max {
            let mut out = s[..cut].to_string();
            if max > 0 {
                out.push('…');
            }
            return out;
        }
        used += w;
        end += g.len();
        if used < max {
            cut = end;
        }
    }
    s.to_string()
}

/// Keeps the end of `s`: at most `max` cells, starting with `…` when cut (a query being
/// typed, the text just before a match).
pub fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut used = 1;
    let mut start = s.len();
    for g in s.graphemes(true).rev() {
        let w = grapheme_width(g);
        if used + w > max {
            break;
        }
        used += w;
        start -= g.len();
    }
    format!("…{}", &s[start..])
}

/// Pads `s` with spaces on the right to `w` cells (truncating first when wider).
pub fn pad(s: &str, w: usize) -> String {
    let t = truncate(s, w);
    let n = w.saturating_sub(width(&t));
    format!("{t}{}", " ".repeat(n))
}

/// Wraps `text` into lines of at most `max` cells. Newlines break; lines break at the last
/// space that fits when there is one on the line (Latin words), else at the grapheme that
/// does not fit (CJK has no spaces). A grapheme wider than `max` gets a line of its own.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    for para in sanitize(text).split('\n') {
        wrap_para(para, max, &mut out);
    }
    out
}

fn wrap_para(para: &str, max: usize, out: &mut Vec<String>) {
    let mut line = String::new();
    let mut used = 0;
    // Byte offset in `line` just after the last space, and the width up to there.
    let mut brk: Option<(usize, usize)> = None;
    for g in graphemes(para) {
        let w = grapheme_width(g);
        if used + w > max && !line.is_empty() {
            if g == " " {
                // The space that overflows is the break itself.
                out.push(line.trim_end().to_string());
                line.clear();
                used = 0;
                brk = None;
                continue;
            }
            match brk.filter(|&(at, _)| at < line.len()) {
                Some((at, wat)) => {
                    let rest = line.split_off(at);
                    out.push(line.trim_end().to_string());
                    line = rest;
                    used -= wat;
                }
                None => {
                    out.push(std::mem::take(&mut line));
                    used = 0;
                }
            }
            brk = None;
        }
        line.push_str(g);
        used += w;
        if g == " " {
            brk = Some((line.len(), used));
        }
    }
    out.push(line);
}

/// Byte ranges of the rows `line` soft-wraps into at `max` cells; together they cover every
/// byte, so a caret maps to a row. A row breaks after its last space when it has one (Latin
/// words stay whole), else before the grapheme that does not fit (CJK has no spaces). A space
/// that does not fit stays at the end of its row, where it shows as nothing.
pub fn wrap_ranges(line: &str, max: usize) -> Vec<std::ops::Range<usize>> {
    let max = max.max(1);
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    // Byte offset just after the last space of the row, and the width up to there.
    let mut brk: Option<(usize, usize)> = None;
    let mut at = 0;
    for g in graphemes(line) {
        let w = grapheme_width(g);
        if used + w > max && at > start {
            if g == " " {
                at += g.len();
                out.push(start..at);
                (start, used, brk) = (at, 0, None);
                continue;
            }
            match brk.filter(|&(b, _)| b > start && b < at) {
                Some((b, wb)) => {
                    out.push(start..b);
                    start = b;
                    used -= wb;
                }
                None => {
                    out.push(start..at);
                    (start, used) = (at, 0);
                }
            }
            brk = None;
        }
        at += g.len();
        used += w;
        if g == " " {
            brk = Some((at, used));
        }
    }
    out.push(start..line.len());
    out
}

/// The compose box as drawn: its rows in view and where the caret is among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeView {
    /// The text of each row in view.
    pub rows: Vec<String>,
    /// The caret: row in view, column in cells.
    pub caret: (usize, usize),
    /// Rows of the whole text.
    pub total: usize,
}

/// One wrapped row: its line and the byte range of that line it shows.
type Row = (usize, std::ops::Range<usize>);

/// Rows of `lines` soft-wrapped at `width` cells, and the caret at `cursor` (line, char) as
/// (row, column); after a full last row the caret is on the row below it.
fn compose_layout(
    lines: &[String],
    cursor: (usize, usize),
    width: usize,
) -> (Vec<Row>, (usize, usize)) {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut caret = (0, 0);
    for (li, line) in lines.iter().enumerate() {
        let ranges = wrap_ranges(line, width);
        let caret_byte = (li == cursor.0).then(|| {
            line.char_indices()
                .nth(cursor.1)
                .map_or(line.len(), |(b, _)| b)
        });
        let last = ranges.len() - 1;
        for (ri, r) in ranges.into_iter().enumerate() {
            if let Some(b) = caret_byte
                && (r.contains(&b) || (ri == last && b == r.end))
            {
                let col = width_of(&line[r.start..b]);
                caret = if col >= width {
                    (rows.len() + 1, 0)
                } else {
                    (rows.len(), col)
                };
            }
            rows.push((li, r));
        }
    }
    (rows, caret)
}

/// Width of text as the compose box draws it (controls take no room).
fn width_of(s: &str) -> usize {
    graphemes(s).map(grapheme_width).sum()
}

/// How many rows the compose text takes at `width` cells (at least 1).
pub fn compose_rows(lines: &[String], cursor: (usize, usize), width: usize) -> usize {
    let (rows, caret) = compose_layout(lines, cursor, width);
    rows.len().max(caret.0 + 1).max(1)
}

/// The rows of the compose text in a box `width` × `height`, scrolled so the caret is in view.
pub fn compose_view(
    lines: &[String],
    cursor: (usize, usize),
    width: usize,
    height: usize,
) -> ComposeView {
    let (rows, caret) = compose_layout(lines, cursor, width);
    let total = rows.len().max(caret.0 + 1).max(1);
    let height = height.max(1);
    let top = caret.0.saturating_sub(height - 1);
    let shown = rows
        .iter()
        .skip(top)
        .take(height)
        .map(|(li, r)| {
            let text = lines.get(*li).and_then(|l| l.get(r.clone())).unwrap_or("");
            text.chars().filter(|c| !c.is_control()).collect()
        })
        .collect();
    ComposeView {
        rows: shown,
        caret: (caret.0 - top, caret.1),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_wide_text() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("👍"), 2);
        assert_eq!(width("a\u{7}b"), 2);
    }

    #[test]
    fn drawn_text_cannot_drive_the_terminal() {
        let s = one_line("买家\u{1b}]0;pwned\u{7}\r\n小明\u{202e}\u{9b}2J\tx");
        assert_eq!(s, "买家]0;pwned 小明2J    x");
        assert_eq!(wrap("a\u{2066}b\nc", 10), vec!["ab", "c"]);
    }

    #[test]
    fn truncation_never_splits_a_wide_char() {
        assert_eq!(truncate("你好世界", 5), "你好…");
        assert_eq!(width(&truncate("你好世界", 5)), 5);
        assert_eq!(truncate("你好世界", 4), "你…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 0), "");
        assert_eq!(pad("你", 4), "你  ");
    }

    fn rows(line: &str, max: usize) -> Vec<&str> {
        wrap_ranges(line, max)
            .into_iter()
            .map(|r| &line[r])
            .collect()
    }

    #[test]
    fn wrap_ranges_cover_every_byte_and_fit() {
        assert_eq!(rows("你好世界你好", 5), vec!["你好", "世界", "你好"]);
        assert_eq!(rows("hello big world", 9), vec!["hello big ", "world"]);
        assert_eq!(rows("hello big world", 8), vec!["hello ", "big ", "world"]);
        assert_eq!(rows("hello  world", 5), vec!["hello ", " ", "world"]);
        assert_eq!(rows("👍👍👍", 3), vec!["👍", "👍", "👍"]);
        assert_eq!(rows("", 3), vec![""]);
        assert_eq!(rows("你", 1), vec!["你"]);
        let long = "能便宜点吗？我是学生 thanks a lot, 包邮的话今天就拍 😀😀";
        let r = rows(long, 7);
        assert_eq!(r.concat(), long);
        for row in &r {
            assert!(width(row.trim_end()) <= 7, "{row:?}");
        }
    }

    #[test]
    fn compose_caret_follows_the_wrapped_text() {
        let lines = vec!["你好世界你好".to_string()];
        // After the last char: third row, after 你好.
        let v = compose_view(&lines, (0, 6), 5, 3);
        assert_eq!(v.rows, vec!["你好", "世界", "你好"]);
        assert_eq!(v.caret, (2, 4));
        // A full last row puts the caret on a row of its own.
        let full = vec!["你好世界".to_string()];
        assert_eq!(compose_rows(&full, (0, 4), 4), 3);
        assert_eq!(compose_rows(&full, (0, 3), 4), 2);
        assert_eq!(compose_view(&full, (0, 4), 4, 5).caret, (2, 0));
        assert_eq!(compose_view(&full, (0, 2), 4, 5).caret, (1, 0));
        // Taller than the box: scrolled so the caret shows.
        let v = compose_view(&lines, (0, 6), 5, 2);
        assert_eq!(v.rows, vec!["世界", "你好"]);
        assert_eq!((v.caret, v.total), ((1, 4), 3));
        let v = compose_view(&lines, (0, 0), 5, 2);
        assert_eq!((v.rows[0].as_str(), v.caret), ("你好", (0, 0)));
        // Several lines, the caret on the second.
        let two = vec!["abc".to_string(), "de".to_string()];
        assert_eq!(compose_view(&two, (1, 1), 10, 5).caret, (1, 1));
        assert_eq!(compose_rows(&two, (1, 1), 10), 2);
    }

    #[test]
    fn wraps_by_display_width() {
        let lines = wrap("你好世界你好", 5);
        assert_eq!(lines, vec!["你好", "世界", "你好"]);
        for l in &lines {
            assert!(width(l) <= 5);
        }
        assert_eq!(wrap("hello big world", 9), vec!["hello big", "world"]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        assert_eq!(wrap("👍👍👍", 3), vec!["👍", "👍", "👍"]);
        assert_eq!(wrap("", 3), vec![""]);
        // Wider than the line: alone on its line rather than lost.
        assert_eq!(wrap("你", 1), vec!["你"]);
    }
}
