//! Which graphics protocol pictures are drawn with: from the `[ui] images` setting and the
//! environment, decided without touching the terminal. `Ask` leaves the last word to a query
//! of the terminal at start (ratatui-image's), which answers for kitty and sixel.

pub use crate::config::ImagesMode;

/// How pictures are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graphics {
    Off,
    Halfblocks,
    Kitty,
    Sixel,
    Iterm2,
    /// Not known from the environment: query the terminal (half blocks when it says nothing).
    Ask,
}

/// The protocol for `mode` in the environment `getenv` reads. Inside tmux (or screen) a
/// terminal's own protocol only reaches it through passthrough, which tmux does not allow by
/// default: `auto` draws half blocks there, and naming a protocol says passthrough is on.
pub fn graphics(mode: ImagesMode, getenv: &dyn Fn(&str) -> Option<String>) -> Graphics {
    let var = |k: &str| getenv(k).filter(|v| !v.is_empty());
    let term = var("TERM").unwrap_or_default();
    match mode {
        ImagesMode::Off => return Graphics::Off,
        ImagesMode::Halfblocks => return Graphics::Halfblocks,
        ImagesMode::Kitty => return Graphics::Kitty,
        ImagesMode::Sixel => return Graphics::Sixel,
        ImagesMode::Iterm2 => return Graphics::Iterm2,
        ImagesMode::Auto => {}
    }
    if term == "dumb" {
        return Graphics::Off;
    }
    let multiplexed = var("TMUX").is_some()
        || var("STY").is_some()
        || term.starts_with("tmux")
        || term.starts_with("screen");
    if multiplexed || term == "linux" {
        return Graphics::Halfblocks;
    }
    let program = var("TERM_PROGRAM").unwrap_or_default();
    if term == "xterm-kitty" || var("KITTY_WINDOW_ID").is_some() || program == "ghostty" {
        return Graphics::Kitty;
    }
    if matches!(program.as_str(), "iTerm.app" | "WezTerm") || var("WEZTERM_EXECUTABLE").is_some() {
        return Graphics::Iterm2;
    }
    if term.starts_with("foot") || term.contains("mlterm") || term.contains("sixel") {
        return Graphics::Sixel;
    }
    Graphics::Ask
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_environment_names_the_terminal() {
        let auto = |vars: &[(&str, &str)]| graphics(ImagesMode::Auto, &with(vars));
        assert_eq!(auto(&[("TERM", "xterm-kitty")]), Graphics::Kitty);
        assert_eq!(
            auto(&[("TERM", "xterm-256color"), ("KITTY_WINDOW_ID", "1")]),
            Graphics::Kitty
        );
        assert_eq!(
            auto(&[("TERM", "xterm-256color"), ("TERM_PROGRAM", "iTerm.app")]),
            Graphics::Iterm2
        );
        assert_eq!(
            auto(&[("TERM", "xterm-256color"), ("TERM_PROGRAM", "WezTerm")]),
            Graphics::Iterm2
        );
        assert_eq!(auto(&[("TERM", "foot")]), Graphics::Sixel);
        assert_eq!(auto(&[("TERM", "xterm-256color")]), Graphics::Ask);
        assert_eq!(auto(&[("TERM", "dumb")]), Graphics::Off);
        assert_eq!(auto(&[("TERM", "linux")]), Graphics::Halfblocks);
        assert_eq!(auto(&[]), Graphics::Ask);
    }

    #[test]
    fn inside_tmux_half_blocks_unless_a_protocol_is_named() {
        let tmux = [
            ("TERM", "tmux-256color"),
            ("TMUX", "/tmp/tmux-1000/default,42,0"),
            ("KITTY_WINDOW_ID", "3"),
        ];
        assert_eq!(
            graphics(ImagesMode::Auto, &with(&tmux)),
            Graphics::Halfblocks
        );
        assert_eq!(
            graphics(ImagesMode::Auto, &with(&[("TERM", "screen-256color")])),
            Graphics::Halfblocks
        );
        assert_eq!(graphics(ImagesMode::Kitty, &with(&tmux)), Graphics::Kitty);
        assert_eq!(graphics(ImagesMode::Sixel, &with(&tmux)), Graphics::Sixel);
        assert_eq!(graphics(ImagesMode::Iterm2, &with(&tmux)), Graphics::Iterm2);
    }

    #[test]
    fn a_named_setting_wins_and_off_is_off() {
        let kitty = [("TERM", "xterm-kitty")];
        assert_eq!(graphics(ImagesMode::Off, &with(&kitty)), Graphics::Off);
        assert_eq!(
            graphics(ImagesMode::Halfblocks, &with(&kitty)),
            Graphics::Halfblocks
        );
    }

    #[test]
    fn the_setting_reads_as_written_in_the_config_file() {
        #[derive(serde::Deserialize)]
        struct T {
            images: ImagesMode,
        }
        for (text, mode) in [
            ("auto", ImagesMode::Auto),
            ("kitty", ImagesMode::Kitty),
            ("sixel", ImagesMode::Sixel),
            ("iterm2", ImagesMode::Iterm2),
            ("halfblocks", ImagesMode::Halfblocks),
            ("off", ImagesMode::Off),
        ] {
            let t: T =
                toml::from_str(&format!("images = \"{text}\"")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.images, mode);
        }
        assert!(toml::from_str::<T>("images = \"png\"").is_err());
    }
}
