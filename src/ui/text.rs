//! Display-width text layout: wrapping and truncation by terminal cells, by grapheme, the way
//! the terminal buffer measures them. A wide character is never split.

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
