//! Copying to the clipboard of the terminal the user sits at, over SSH too: OSC 52.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The OSC 52 sequence that puts `text` on the terminal's clipboard.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_travels_as_base64_in_one_sequence() {
        assert_eq!(osc52("在的"), "\x1b]52;c;5Zyo55qE\x07");
        assert_eq!(osc52(""), "\x1b]52;c;\x07");
    }
}
