//! Text from the network (nicknames, messages, item titles, error texts, URLs) made safe for a
//! terminal. A terminal obeys control characters wherever they appear: `ESC ] 0 ; … BEL` sets
//! the window title, `ESC ] 52` writes the clipboard, `ESC [ 2J` clears the screen, a bare CR
//! lets a later text overwrite an earlier one, and bidi overrides show text in another order
//! than it is stored. Every text that reaches a terminal goes through this module, in the TUI
//! and in every command; JSON output keeps the exact text, with these characters escaped.

use std::borrow::Cow;

/// Whether a character could make the terminal do something instead of showing it: C0 controls
/// (ESC, BEL, BS, CR, …; tab and newline are judged by the caller), DEL, C1 controls (8-bit
/// CSI, OSC, …) and the bidi embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// What becomes of line breaks and tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Breaks {
    /// Newlines and tabs stay (a multi-line text); CR and other controls go.
    Keep,
    /// Newlines, CR and tabs become spaces (a text that must stay on one line).
    Spaces,
}

/// The one filter every terminal text goes through.
fn filter(s: &str, breaks: Breaks) -> Cow<'_, str> {
    let keep = |c: char| breaks == Breaks::Keep && (c == '\n' || c == '\t');
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
        } else if breaks == Breaks::Spaces && matches!(c, '\n' | '\r' | '\t') {
            out.push(' ');
        }
    }
    Cow::Owned(out)
}

/// A text for the terminal that may span lines: newlines and tabs stay, every other control
/// character, DEL, C1 control and bidi control is removed.
pub fn clean(s: &str) -> Cow<'_, str> {
    filter(s, Breaks::Keep)
}

/// A text for the terminal that must stay on one line: newlines, CR and tabs become spaces,
/// every other control character, DEL, C1 control and bidi control is removed.
pub fn clean_line(s: &str) -> Cow<'_, str> {
    filter(s, Breaks::Spaces)
}

/// JSON text (compact or pretty) with the characters that serde_json leaves raw (DEL, C1
/// controls, bidi controls) written as `\uXXXX` escapes, so that JSON shown on a terminal
/// cannot drive it while a JSON reader still gets the exact text. serde_json escapes the C0
/// controls inside strings itself, and outside strings only whitespace stands; so every
/// character escaped here stands in a string, where the escape means the same character.
pub fn escape_json(json: String) -> String {
    let escape = |c: char| is_unsafe(c) && !c.is_ascii_whitespace();
    // Past serde's own escapes, only DEL (7F), C1 (C2 80–9F) and the bidi controls (E2 …)
    // can be left: a text without those lead bytes is returned at once.
    if memchr::memchr3(0x7f, 0xc2, 0xe2, json.as_bytes()).is_none() || !json.chars().any(escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hostile nickname of the attack: window title, clipboard write, screen clear, CR/LF.
    const HOSTILE: &str =
        "买家\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\n小明\u{202e}cod.exe";

    fn bad(s: &str) -> Vec<char> {
        s.chars()
            .filter(|&c| is_unsafe(c) && c != '\n' && c != '\t')
            .collect()
    }

    #[test]
    fn every_class_is_unsafe() {
        // C0, ESC, BEL, CR, DEL, C1 (CSI, OSC, NEL), bidi embeddings/overrides/isolates.
        for c in [
            '\0', '\u{7}', '\u{8}', '\r', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}', '\u{7f}', '\u{80}',
            '\u{85}', '\u{9b}', '\u{9d}', '\u{9f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
            assert_eq!(clean(&format!("a{c}b")), "ab", "{c:?}");
        }
        for c in ['a', ' ', '你', '👍', '\u{200d}', '\u{a0}', '…', '\u{2028}'] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn multi_line_text_keeps_newlines_and_tabs_only() {
        assert_eq!(clean("a\nb\tc"), "a\nb\tc");
        assert_eq!(clean("a\r\nb"), "a\nb");
        let c = clean(HOSTILE);
        assert!(bad(&c).is_empty(), "{c:?}");
        assert_eq!(c, "买家]0;pwned]52;c;cm0gLXJmIH4=[2J\n小明cod.exe");
    }

    #[test]
    fn one_line_text_has_no_break_and_no_control() {
        let c = clean_line(HOSTILE);
        assert!(bad(&c).is_empty() && !c.contains('\n'), "{c:?}");
        assert_eq!(clean_line("a\r\nb\tc"), "a  b c");
        assert_eq!(clean_line("\u{9b}2J"), "2J");
    }

    #[test]
    fn clean_text_is_borrowed_untouched() {
        for s in ["", "还在吗？", "price ¥1280 👍", "a\tb"] {
            assert!(matches!(clean(s), Cow::Borrowed(_)), "{s}");
        }
        assert!(matches!(clean_line("还在吗"), Cow::Borrowed(_)));
        assert!(matches!(clean_line("a\tb"), Cow::Owned(_)));
    }

    #[test]
    fn json_keeps_the_exact_text_escaped() {
        let json = serde_json::json!({"nick": HOSTILE, "c1": "\u{85}\u{9b}\u{7f}"}).to_string();
        let safe = escape_json(json);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        assert!(safe.contains("\\u001b") && safe.contains("\\u202e") && safe.contains("\\u009b"));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["nick"], HOSTILE);
        assert_eq!(back["c1"], "\u{85}\u{9b}\u{7f}");
        assert_eq!(escape_json("{\"a\":\"你好\"}".into()), "{\"a\":\"你好\"}");
        // Pretty JSON keeps its layout and stays valid.
        let v = serde_json::json!({"t": "\u{85}x", "l": [1, 2]});
        let pretty = escape_json(serde_json::to_string_pretty(&v).unwrap());
        assert!(
            pretty.contains('\n') && pretty.contains("\\u0085"),
            "{pretty}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap(),
            v
        );
    }
}
