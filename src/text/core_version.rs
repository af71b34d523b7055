//! What a view says when the background core it finds is of another version than itself, in
//! both languages: the question (on the screen or the terminal), the keys, and the one line
//! said when it cannot ask.

use super::i18n::Lang;

/// The running core and this program, as the texts name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versions<'a> {
    /// The core's program version (from its hello).
    pub theirs: &'a str,
    /// The core's protocol version.
    pub their_protocol: u32,
    /// This program's version.
    pub ours: &'a str,
    /// This program's protocol version.
    pub our_protocol: u32,
}

impl Versions<'_> {
    /// Whether this program can use the core as it is.
    pub fn same_protocol(&self) -> bool {
        self.their_protocol == self.our_protocol
    }
}

/// What was found: "The background core runs goofish-tui 0.1.0; this is 0.2.0." (and, for
/// another protocol, that the two cannot talk).
pub fn found(lang: Lang, v: &Versions) -> String {
    let (theirs, ours, tp, op) = (v.theirs, v.ours, v.their_protocol, v.our_protocol);
    match (lang, v.same_protocol()) {
        (Lang::Zh, true) => format!("后台核心运行的是 goofish-tui {theirs}，本程序是 {ours}。"),
        (Lang::Zh, false) => format!(
            "后台核心运行的是 goofish-tui {theirs}（协议 {tp}），本程序是 {ours}（协议 {op}），两者无法通信。"
        ),
        (_, true) => format!("The background core runs goofish-tui {theirs}; this is {ours}."),
        (_, false) => format!(
            "The background core runs goofish-tui {theirs} (protocol {tp}); this is {ours} (protocol {op}): they cannot talk."
        ),
    }
}

/// The question itself.
pub fn question(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "用本版本重启后台核心吗？未发出的消息会保留，重启后照常发出。",
        _ => "Restart it with this version? Unsent texts are kept and sent after the restart.",
    }
}

/// The keys of the question on the screen.
pub fn keys(lang: Lang, same_protocol: bool) -> &'static str {
    match (lang, same_protocol) {
        (Lang::Zh, true) => "y / Enter 重启 · n 继续使用旧核心",
        (Lang::Zh, false) => "y / Enter 重启 · n 退出",
        (_, true) => "y / Enter restart · n keep using the old core",
        (_, false) => "y / Enter restart · n quit",
    }
}

/// The question's title on the screen.
pub fn title(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "后台核心版本不同",
        _ => "Background core of another version",
    }
}

/// The question on a terminal, answered by a line: `[Y/n]`.
pub fn prompt(lang: Lang, v: &Versions) -> String {
    format!("{} {} [Y/n] ", found(lang, v), question(lang))
}

/// Whether a typed answer to [`prompt`] says yes (an empty line does: the default).
pub fn typed_yes(line: &str) -> bool {
    matches!(
        line.trim().to_lowercase().as_str(),
        "" | "y" | "yes" | "是" | "好"
    )
}

/// Said once when the core is used without asking (no terminal, same protocol).
pub fn kept(lang: Lang, v: &Versions) -> String {
    let (theirs, ours) = (v.theirs, v.ours);
    match lang {
        Lang::Zh => format!(
            "后台核心是 goofish-tui {theirs}（本程序是 {ours}），继续使用它；用 --restart-core 重启它"
        ),
        _ => format!(
            "the background core is goofish-tui {theirs} (this is {ours}); using it as it is: --restart-core restarts it with this version"
        ),
    }
}

/// Why the core is not used (another protocol, not restarted).
pub fn refused(lang: Lang, v: &Versions) -> String {
    let (theirs, ours, tp, op) = (v.theirs, v.ours, v.their_protocol, v.our_protocol);
    match lang {
        Lang::Zh => format!(
            "后台核心是 goofish-tui {theirs}（协议 {tp}），本程序是 {ours}（协议 {op}），无法使用它：\
             用 --restart-core 重启它，或用 `goofish-tui daemon --stop` 停止它，或使用 --no-daemon"
        ),
        _ => format!(
            "the background core is goofish-tui {theirs} (protocol {tp}) and this is {ours} (protocol {op}): \
             they cannot talk. Restart it with --restart-core, stop it with `goofish-tui daemon --stop`, or use --no-daemon"
        ),
    }
}

/// Said after the restart.
pub fn restarted(lang: Lang, theirs: &str, ours: &str) -> String {
    match lang {
        Lang::Zh => format!("已重启后台核心：{theirs} → {ours}"),
        _ => format!("restarted the background core: {theirs} → {ours}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: Versions = Versions {
        theirs: "0.1.0",
        their_protocol: 1,
        ours: "0.2.0",
        our_protocol: 1,
    };

    #[test]
    fn each_text_names_both_versions_in_both_languages() {
        for lang in [Lang::En, Lang::Zh] {
            for text in [found(lang, &OLD), kept(lang, &OLD), prompt(lang, &OLD)] {
                assert!(text.contains("0.1.0") && text.contains("0.2.0"), "{text}");
            }
        }
        let other = Versions {
            their_protocol: 2,
            ..OLD
        };
        assert!(refused(Lang::En, &other).contains("protocol 2"));
        assert!(refused(Lang::Zh, &other).contains("协议 2"));
        assert!(kept(Lang::En, &OLD).contains("--restart-core"));
        assert!(!kept(Lang::En, &OLD).contains('\n'), "one line");
    }

    #[test]
    fn an_empty_line_or_a_yes_restarts_anything_else_does_not() {
        for yes in ["", "\n", "y", "Y", "yes", " 是 "] {
            assert!(typed_yes(yes), "{yes:?}");
        }
        for no in ["n", "no", "N", "nope", "q"] {
            assert!(!typed_yes(no), "{no:?}");
        }
    }
}
