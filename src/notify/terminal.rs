//! Terminal notifications: which kind a terminal understands (from its environment, a pure
//! function of it), and the exact bytes, wrapped for tmux or GNU screen when inside one.

use serde::Deserialize;

/// `[notify] terminal`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminalChoice {
    /// From the environment (see [`detect`]).
    #[default]
    Auto,
    Bell,
    Osc9,
    Osc777,
    Osc99,
    Off,
}

/// What is written to the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminalKind {
    /// BEL: tmux and most terminals mark the window.
    Bell,
    /// `ESC ] 9 ; text BEL` (iTerm2, WezTerm, Ghostty, Windows Terminal…).
    Osc9,
    /// `ESC ] 777 ; notify ; title ; body BEL` (foot, WezTerm, Ghostty, VTE with the patch).
    Osc777,
    /// kitty's desktop notifications: `ESC ] 99 ; i=…:d=0 ; title ST`, then the body.
    Osc99,
    Off,
}

impl TerminalKind {
    pub fn name(self) -> &'static str {
        match self {
            TerminalKind::Bell => "bell",
            TerminalKind::Osc9 => "osc9",
            TerminalKind::Osc777 => "osc777",
            TerminalKind::Osc99 => "osc99",
            TerminalKind::Off => "off",
        }
    }
}

impl TerminalChoice {
    /// The kind to use; `auto` reads `env`.
    pub fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> TerminalKind {
        match self {
            TerminalChoice::Auto => detect(env),
            TerminalChoice::Bell => TerminalKind::Bell,
            TerminalChoice::Osc9 => TerminalKind::Osc9,
            TerminalChoice::Osc777 => TerminalKind::Osc777,
            TerminalChoice::Osc99 => TerminalKind::Osc99,
            TerminalChoice::Off => TerminalKind::Off,
        }
    }
}

/// A multiplexer between the program and the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mux {
    None,
    /// `ESC P tmux ; … ESC \` with every inner ESC doubled (needs `allow-passthrough on`).
    Tmux,
    /// `ESC P … ESC \`, one sequence per wrapper.
    Screen,
}

fn set(env: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    env(name).is_some_and(|v| !v.is_empty())
}

/// Whether the program runs over SSH: the terminal's own variables are not seen there, and
/// what it supports is unknown.
pub fn is_ssh(env: &dyn Fn(&str) -> Option<String>) -> bool {
    ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"]
        .iter()
        .any(|k| set(env, k))
}

/// The notification a terminal understands, from the variables it sets. Over SSH the bell
/// (the one thing every terminal passes on) unless configured otherwise.
pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> TerminalKind {
    if is_ssh(env) {
        return TerminalKind::Bell;
    }
    let var = |k: &str| env(k).unwrap_or_default();
    let term = var("TERM");
    let program = var("TERM_PROGRAM");
    if set(env, "KITTY_WINDOW_ID") || term == "xterm-kitty" {
        return TerminalKind::Osc99;
    }
    if program == "iTerm.app" || set(env, "ITERM_SESSION_ID") || var("LC_TERMINAL") == "iTerm2" {
        return TerminalKind::Osc9;
    }
    if program == "WezTerm" || set(env, "WEZTERM_PANE") || program == "ghostty" {
        return TerminalKind::Osc777;
    }
    if term.starts_with("foot") || set(env, "VTE_VERSION") {
        return TerminalKind::Osc777;
    }
    TerminalKind::Bell
}

/// tmux (`TMUX`) or GNU screen (`STY`), else none.
pub fn detect_mux(env: &dyn Fn(&str) -> Option<String>) -> Mux {
    if set(env, "TMUX") {
        Mux::Tmux
    } else if set(env, "STY") {
        Mux::Screen
    } else {
        Mux::None
    }
}

/// Longest title and body shown, in characters.
const MAX_TITLE: usize = 60;
const MAX_BODY: usize = 200;

/// Text safe inside an OSC string: no control character (an ESC or BEL would end it), at
/// most `max` characters; `no_semicolon` where `;` separates fields.
fn field(s: &str, max: usize, no_semicolon: bool) -> String {
    let clean = crate::safe_text::clean_line(s);
    let mut out: String = clean
        .chars()
        .map(|c| if no_semicolon && c == ';' { ',' } else { c })
        .take(max + 1)
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// `seq` wrapped for tmux to pass to the outer terminal untouched (DCS `tmux;`, every ESC
/// inside doubled); tmux does so only with `allow-passthrough on`.
pub fn tmux_passthrough(seq: &str) -> String {
    format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
}

/// The bytes that show `title` and `body` as a notification of `kind`, wrapped for `mux`.
pub fn sequence(kind: TerminalKind, mux: Mux, title: &str, body: &str) -> Vec<u8> {
    let parts: Vec<String> = match kind {
        TerminalKind::Off => return Vec::new(),
        // tmux and screen pass a bell on (and mark the window) by themselves.
        TerminalKind::Bell => return b"\x07".to_vec(),
        TerminalKind::Osc9 => {
            let title = field(title, MAX_TITLE, false);
            let body = field(body, MAX_BODY, false);
            vec![format!("\x1b]9;{title}: {body}\x07")]
        }
        TerminalKind::Osc777 => {
            let title = field(title, MAX_TITLE, true);
            let body = field(body, MAX_BODY, false);
            vec![format!("\x1b]777;notify;{title};{body}\x07")]
        }
        TerminalKind::Osc99 => {
            let title = field(title, MAX_TITLE, false);
            let body = field(body, MAX_BODY, false);
            vec![
                format!("\x1b]99;i=goofish:d=0;{title}\x1b\\"),
                format!("\x1b]99;i=goofish:d=1:p=body;{body}\x1b\\"),
            ]
        }
    };
    match mux {
        Mux::None => parts.concat().into_bytes(),
        Mux::Tmux => tmux_passthrough(&parts.concat()).into_bytes(),
        // screen ends its passthrough at the first ST: one wrapper per sequence.
        Mux::Screen => parts
            .iter()
            .map(|p| format!("\x1bP{p}\x1b\\"))
            .collect::<String>()
            .into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn osc9_bytes_are_exact_and_wrapped_for_tmux_and_screen() {
        let plain = sequence(TerminalKind::Osc9, Mux::None, "闲鱼 · 小王", "还在吗？");
        assert_eq!(plain, "\x1b]9;闲鱼 · 小王: 还在吗？\x07".as_bytes());
        let tmux = sequence(TerminalKind::Osc9, Mux::Tmux, "闲鱼 · 小王", "还在吗？");
        assert_eq!(
            tmux,
            "\x1bPtmux;\x1b\x1b]9;闲鱼 · 小王: 还在吗？\x07\x1b\\".as_bytes()
        );
        let screen = sequence(TerminalKind::Osc9, Mux::Screen, "t", "b");
        assert_eq!(screen, b"\x1bP\x1b]9;t: b\x07\x1b\\");
    }

    #[test]
    fn osc777_and_osc99_carry_title_and_body() {
        assert_eq!(
            sequence(TerminalKind::Osc777, Mux::None, "a;b", "c;d"),
            b"\x1b]777;notify;a,b;c;d\x07"
        );
        assert_eq!(
            sequence(TerminalKind::Osc99, Mux::None, "T", "B"),
            b"\x1b]99;i=goofish:d=0;T\x1b\\\x1b]99;i=goofish:d=1:p=body;B\x1b\\"
        );
        // Each of kitty's two sequences gets its own screen wrapper.
        let screen = sequence(TerminalKind::Osc99, Mux::Screen, "T", "B");
        assert_eq!(
            screen,
            b"\x1bP\x1b]99;i=goofish:d=0;T\x1b\\\x1b\\\x1bP\x1b]99;i=goofish:d=1:p=body;B\x1b\\\x1b\\"
        );
        assert_eq!(sequence(TerminalKind::Bell, Mux::Tmux, "T", "B"), b"\x07");
        assert!(sequence(TerminalKind::Off, Mux::None, "T", "B").is_empty());
    }

    #[test]
    fn a_buyer_cannot_end_the_sequence_early_and_long_text_is_cut() {
        let evil = "hi\x07\x1b]52;c;ZXZpbA==\x07";
        let bytes = sequence(TerminalKind::Osc9, Mux::None, "t", evil);
        let inner = &bytes[..bytes.len() - 1];
        assert!(!inner.contains(&0x07) && inner.iter().filter(|b| **b == 0x1b).count() == 1);
        let long = "长".repeat(500);
        let s = String::from_utf8(sequence(TerminalKind::Osc9, Mux::None, "t", &long)).unwrap();
        assert_eq!(s.chars().filter(|c| *c == '长').count(), MAX_BODY - 1);
        assert!(s.contains('…'));
    }

    #[test]
    fn the_terminal_is_recognised_from_its_environment() {
        let cases: &[(&[(&str, &str)], TerminalKind)] = &[
            (&[("TERM", "xterm-kitty")], TerminalKind::Osc99),
            (
                &[("KITTY_WINDOW_ID", "3"), ("TERM", "tmux-256color")],
                TerminalKind::Osc99,
            ),
            (&[("TERM_PROGRAM", "iTerm.app")], TerminalKind::Osc9),
            (
                &[("LC_TERMINAL", "iTerm2"), ("TERM_PROGRAM", "tmux")],
                TerminalKind::Osc9,
            ),
            (&[("TERM_PROGRAM", "WezTerm")], TerminalKind::Osc777),
            (
                &[("WEZTERM_PANE", "0"), ("TERM_PROGRAM", "tmux")],
                TerminalKind::Osc777,
            ),
            (&[("TERM", "foot")], TerminalKind::Osc777),
            (&[("VTE_VERSION", "7600")], TerminalKind::Osc777),
            (&[("TERM", "xterm-256color")], TerminalKind::Bell),
            (&[], TerminalKind::Bell),
            // Over SSH the local terminal is unknown: the bell, whatever leaks through.
            (
                &[("SSH_CONNECTION", "1 2 3 4"), ("LC_TERMINAL", "iTerm2")],
                TerminalKind::Bell,
            ),
        ];
        for (vars, want) in cases {
            assert_eq!(detect(&env(vars)), *want, "{vars:?}");
        }
        let over_ssh = env(&[("SSH_TTY", "/dev/pts/1")]);
        assert_eq!(TerminalChoice::Osc9.resolve(&over_ssh), TerminalKind::Osc9);
        assert_eq!(TerminalChoice::Auto.resolve(&over_ssh), TerminalKind::Bell);
    }

    #[test]
    fn tmux_and_screen_are_recognised() {
        assert_eq!(
            detect_mux(&env(&[("TMUX", "/tmp/tmux-1/default,1,0")])),
            Mux::Tmux
        );
        assert_eq!(detect_mux(&env(&[("STY", "123.pts-0.host")])), Mux::Screen);
        assert_eq!(detect_mux(&env(&[("TERM", "screen")])), Mux::None);
    }
}
