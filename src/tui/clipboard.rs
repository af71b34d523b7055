//! Copying to the clipboard of the terminal the user sits at, over SSH too: OSC 52.
//!
//! Inside tmux the sequence goes twice: as it is, which tmux takes itself with `set-clipboard
//! on` (its default `external` takes it too) and hands to the outer terminal; and wrapped for
//! passthrough, for a tmux with `allow-passthrough on` that does not keep clipboards. Both set
//! the same text.

use crate::notify::tmux_passthrough;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The OSC 52 sequence that puts `text` on the terminal's clipboard.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

/// What to write to put `text` on the clipboard, inside tmux (`TMUX` set) or not.
pub fn copy_sequence(text: &str, in_tmux: bool) -> String {
    let seq = osc52(text);
    if in_tmux {
        let wrapped = tmux_passthrough(&seq);
        format!("{seq}{wrapped}")
    } else {
        seq
    }
}

/// Whether the program runs inside tmux (`getenv` reads the environment).
pub fn in_tmux(getenv: impl Fn(&str) -> Option<String>) -> bool {
    crate::notify::detect_mux(&getenv) == crate::notify::Mux::Tmux
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_travels_as_base64_in_one_sequence() {
        assert_eq!(osc52("在的"), "\x1b]52;c;5Zyo55qE\x07");
        assert_eq!(osc52(""), "\x1b]52;c;\x07");
    }

    #[test]
    fn inside_tmux_it_goes_plain_and_wrapped_for_passthrough() {
        assert_eq!(copy_sequence("在的", false), "\x1b]52;c;5Zyo55qE\x07");
        assert_eq!(
            copy_sequence("在的", true),
            "\x1b]52;c;5Zyo55qE\x07\x1bPtmux;\x1b\x1b]52;c;5Zyo55qE\x07\x1b\\"
        );
        let env = |v: Option<&'static str>| {
            move |k: &str| (k == "TMUX").then_some(v).flatten().map(String::from)
        };
        assert!(in_tmux(env(Some("/tmp/tmux-0/default,123,0"))));
        assert!(!in_tmux(env(Some(""))) && !in_tmux(env(None)));
    }
}
