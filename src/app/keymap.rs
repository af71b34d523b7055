//! Actions, key specs ("ctrl-n", "alt-enter", "G") and the active keymap.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::fmt;

/// Everything a key can do. The names (`as_str`) are the ones the config file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    ForceQuit,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Open,
    Back,
    NextPane,
    NextUnread,
    Filter,
    Search,
    Attach,
    Help,
    Retry,
    Send,
    Newline,
    WaitingFirst,
    Recall,
    Copy,
    Edit,
    Discard,
    QuickReply,
    Editor,
    Mouse,
    View,
    OpenLink,
    /// Connect now instead of waiting (reconnecting, removed, risk control, login).
    Reconnect,
    /// Show the next account of this data directory.
    NextAccount,
}

impl Action {
    pub const ALL: [Action; 31] = [
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::PageUp,
        Action::PageDown,
        Action::Open,
        Action::Back,
        Action::NextPane,
        Action::NextUnread,
        Action::WaitingFirst,
        Action::Filter,
        Action::Search,
        Action::Attach,
        Action::QuickReply,
        Action::Editor,
        Action::Send,
        Action::Newline,
        Action::Retry,
        Action::Edit,
        Action::Discard,
        Action::Recall,
        Action::Copy,
        Action::View,
        Action::OpenLink,
        Action::Mouse,
        Action::Reconnect,
        Action::NextAccount,
        Action::Help,
        Action::Quit,
        Action::ForceQuit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::ForceQuit => "force_quit",
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Open => "open",
            Action::Back => "back",
            Action::NextPane => "next_pane",
            Action::NextUnread => "next_unread",
            Action::Filter => "filter",
            Action::Search => "search",
            Action::Attach => "attach",
            Action::Help => "help",
            Action::Retry => "retry",
            Action::Send => "send",
            Action::Newline => "newline",
            Action::WaitingFirst => "waiting_first",
            Action::Recall => "recall",
            Action::Copy => "copy",
            Action::Edit => "edit",
            Action::Discard => "discard",
            Action::QuickReply => "quick_reply",
            Action::Editor => "editor",
            Action::Mouse => "mouse",
            Action::View => "view",
            Action::OpenLink => "open_link",
            Action::Reconnect => "reconnect",
            Action::NextAccount => "next_account",
        }
    }

    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }

    /// Actions that also act while typing in the compose box (all others are text there).
    pub fn works_in_compose(self) -> bool {
        matches!(
            self,
            Action::ForceQuit
                | Action::Back
                | Action::NextPane
                | Action::Send
                | Action::Newline
                | Action::Retry
                | Action::Search
                | Action::Attach
                | Action::QuickReply
                | Action::Editor
        )
    }
}

/// One key with its modifiers, normalised so that "G" and "shift-g" compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySpec {
    code: SpecCode,
    ctrl: bool,
    alt: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SpecCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Delete,
    F(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    #[error("cannot read key `{0}`")]
    BadKey(String),
}

impl KeySpec {
    /// Parses "ctrl-n", "alt-enter", "G", "shift-tab", "pgup", "?", "space".
    pub fn parse(spec: &str) -> Result<KeySpec, KeymapError> {
        let bad = || KeymapError::BadKey(spec.to_string());
        let s = spec.trim();
        if s.is_empty() {
            return Err(bad());
        }
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        // A lone "-" is a key, not a separator.
        while let Some((m, tail)) = rest.split_once('-').filter(|(_, t)| !t.is_empty()) {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "c" | "control" => ctrl = true,
                "alt" | "a" | "meta" | "m" => alt = true,
                "shift" | "s" => shift = true,
                _ => return Err(bad()),
            }
            rest = tail;
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" | "cr" => SpecCode::Enter,
            "esc" | "escape" => SpecCode::Esc,
            "tab" if shift => SpecCode::BackTab,
            "tab" => SpecCode::Tab,
            "backtab" => SpecCode::BackTab,
            "backspace" | "bs" => SpecCode::Backspace,
            "up" => SpecCode::Up,
            "down" => SpecCode::Down,
            "left" => SpecCode::Left,
            "right" => SpecCode::Right,
            "home" => SpecCode::Home,
            "end" => SpecCode::End,
            "pgup" | "pageup" => SpecCode::PageUp,
            "pgdn" | "pgdown" | "pagedown" => SpecCode::PageDown,
            "del" | "delete" => SpecCode::Delete,
            "space" => SpecCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => {
                SpecCode::F(f[1..].parse().map_err(|_| bad())?)
            }
            _ => {
                let mut chars = rest.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err(bad());
                };
                SpecCode::Char(if shift { c.to_ascii_uppercase() } else { c })
            }
        };
        Ok(Self::normal(code, ctrl, alt))
    }

    fn normal(code: SpecCode, ctrl: bool, alt: bool) -> KeySpec {
        // Ctrl combinations arrive in lower case; plain letters keep their case.
        let code = match code {
            SpecCode::Char(c) if ctrl => SpecCode::Char(c.to_ascii_lowercase()),
            c => c,
        };
        KeySpec { code, ctrl, alt }
    }

    /// The spec of a key event, when it is a key a keymap can name.
    pub fn from_event(key: &KeyEvent) -> Option<KeySpec> {
        let code = match key.code {
            KeyCode::Char(c) => SpecCode::Char(c),
            KeyCode::Enter => SpecCode::Enter,
            KeyCode::Esc => SpecCode::Esc,
            KeyCode::Tab => SpecCode::Tab,
            KeyCode::BackTab => SpecCode::BackTab,
            KeyCode::Backspace => SpecCode::Backspace,
            KeyCode::Up => SpecCode::Up,
            KeyCode::Down => SpecCode::Down,
            KeyCode::Left => SpecCode::Left,
            KeyCode::Right => SpecCode::Right,
            KeyCode::Home => SpecCode::Home,
            KeyCode::End => SpecCode::End,
            KeyCode::PageUp => SpecCode::PageUp,
            KeyCode::PageDown => SpecCode::PageDown,
            KeyCode::Delete => SpecCode::Delete,
            KeyCode::F(n) => SpecCode::F(n),
            _ => return None,
        };
        let m = key.modifiers;
        Some(Self::normal(
            code,
            m.contains(KeyModifiers::CONTROL),
            m.contains(KeyModifiers::ALT),
        ))
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            SpecCode::Char(' ') => f.write_str("Space"),
            SpecCode::Char(c) => write!(f, "{c}"),
            SpecCode::Enter => f.write_str("Enter"),
            SpecCode::Esc => f.write_str("Esc"),
            SpecCode::Tab => f.write_str("Tab"),
            SpecCode::BackTab => f.write_str("Shift-Tab"),
            SpecCode::Backspace => f.write_str("Backspace"),
            SpecCode::Up => f.write_str("↑"),
            SpecCode::Down => f.write_str("↓"),
            SpecCode::Left => f.write_str("←"),
            SpecCode::Right => f.write_str("→"),
            SpecCode::Home => f.write_str("Home"),
            SpecCode::End => f.write_str("End"),
            SpecCode::PageUp => f.write_str("PgUp"),
            SpecCode::PageDown => f.write_str("PgDn"),
            SpecCode::Delete => f.write_str("Del"),
            SpecCode::F(n) => write!(f, "F{n}"),
        }
    }
}

/// Keys → actions. Several keys may share an action.
#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<KeySpec>>,
}

fn defaults(action: Action) -> &'static [&'static str] {
    match action {
        Action::Quit => &["q"],
        Action::ForceQuit => &["ctrl-c"],
        Action::Up => &["up", "k"],
        Action::Down => &["down", "j"],
        Action::Top => &["g", "home"],
        Action::Bottom => &["G", "end"],
        Action::PageUp => &["ctrl-u", "pgup"],
        Action::PageDown => &["ctrl-d", "pgdn"],
        Action::Open => &["enter", "l"],
        Action::Back => &["esc"],
        Action::NextPane => &["tab"],
        Action::NextUnread => &["n"],
        Action::Filter => &["/"],
        Action::Search => &["ctrl-f"],
        Action::Attach => &["ctrl-o"],
        Action::Help => &["?"],
        Action::Retry => &["r", "ctrl-r"],
        Action::Send => &["enter"],
        Action::Newline => &["alt-enter", "ctrl-j"],
        Action::WaitingFirst => &["w"],
        Action::Recall => &["x"],
        Action::Copy => &["y"],
        Action::Edit => &["e"],
        Action::Discard => &["d", "delete"],
        Action::QuickReply => &["ctrl-t"],
        Action::Editor => &["ctrl-e"],
        Action::Mouse => &["m"],
        Action::View => &["v"],
        Action::OpenLink => &["o"],
        Action::Reconnect => &["R"],
        Action::NextAccount => &["a"],
    }
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::ALL
            .into_iter()
            .map(|a| {
                let keys = defaults(a)
                    .iter()
                    .filter_map(|s| KeySpec::parse(s).ok())
                    .collect();
                (a, keys)
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The defaults with `overrides` (action name → key spec, several separated by commas or
    /// spaces) applied. Each bad entry is reported and skipped; the rest still applies.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<KeymapError>) {
        let mut map = Keymap::default();
        let mut errors = Vec::new();
        for (name, spec) in overrides {
            let Some(action) = Action::from_name(name) else {
                errors.push(KeymapError::UnknownAction(name.clone()));
                continue;
            };
            let mut keys = Vec::new();
            for part in spec.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
                match KeySpec::parse(part) {
                    Ok(k) => keys.push(k),
                    Err(e) => errors.push(e),
                }
            }
            if !keys.is_empty() {
                map.bindings.insert(action, keys);
            }
        }
        (map, errors)
    }

    /// The actions bound to this key, in `Action::ALL` order.
    pub fn actions(&self, key: &KeyEvent) -> Vec<Action> {
        let Some(spec) = KeySpec::from_event(key) else {
            return Vec::new();
        };
        Action::ALL
            .into_iter()
            .filter(|a| self.bindings.get(a).is_some_and(|ks| ks.contains(&spec)))
            .collect()
    }

    pub fn keys(&self, action: Action) -> &[KeySpec] {
        self.bindings.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn parses_specs_like_events() {
        let k = KeySpec::parse("ctrl-n").unwrap();
        assert_eq!(
            Some(k),
            KeySpec::from_event(&ev(KeyCode::Char('n'), KeyModifiers::CONTROL))
        );
        let g = KeySpec::parse("G").unwrap();
        assert_eq!(
            Some(g),
            KeySpec::from_event(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT))
        );
        assert_eq!(KeySpec::parse("shift-g").unwrap(), g);
        assert_eq!(
            Some(KeySpec::parse("alt-enter").unwrap()),
            KeySpec::from_event(&ev(KeyCode::Enter, KeyModifiers::ALT))
        );
        assert!(KeySpec::parse("hyper-x").is_err());
        assert!(KeySpec::parse("").is_err());
        assert!(KeySpec::parse("-").is_ok());
    }

    #[test]
    fn overrides_replace_defaults_and_report_errors() {
        let mut o = BTreeMap::new();
        o.insert("next_unread".to_string(), "ctrl-n, N".to_string());
        o.insert("bogus".to_string(), "x".to_string());
        let (map, errs) = Keymap::with_overrides(&o);
        assert_eq!(errs, vec![KeymapError::UnknownAction("bogus".into())]);
        assert!(
            map.actions(&ev(KeyCode::Char('n'), KeyModifiers::NONE))
                .is_empty()
        );
        assert_eq!(
            map.actions(&ev(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            vec![Action::NextUnread]
        );
    }
}
