//! The messenger's side of the question about a core of another version: asked on the
//! screen before its first frame (the terminal is not the UI's yet), answered by one key.

use crate::daemon::upgrade::Ask;
use crate::text::core_version::Versions;
use crate::text::i18n::Lang;
use futures_util::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use std::io::{self, IsTerminal};

/// Asks on the terminal's alternate screen; says the rest on stderr.
pub struct OnScreen {
    pub lang: Lang,
}

/// What a key answers: `Some(true)` restart, `Some(false)` not (Ctrl-C too), `None` no
/// answer (the question stays).
pub fn answer(key: &KeyEvent) -> Option<bool> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') if ctrl => Some(false),
        KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(true),
        KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Some(false),
        _ => None,
    }
}

impl Ask for OnScreen {
    fn ask(&self, found: &Versions) -> BoxFuture<'static, Option<bool>> {
        if !(io::stdin().is_terminal() && io::stdout().is_terminal()) {
            return Box::pin(async { None });
        }
        let lang = self.lang;
        let (theirs, ours) = (found.theirs.to_string(), found.ours.to_string());
        let (their_protocol, our_protocol) = (found.their_protocol, found.our_protocol);
        let asked = tokio::task::spawn_blocking(move || {
            let found = Versions {
                theirs: &theirs,
                their_protocol,
                ours: &ours,
                our_protocol,
            };
            on_screen(lang, &found)
        });
        Box::pin(async move {
            let asked = asked.await.map_err(io::Error::other).and_then(|r| r);
            asked
                .inspect_err(|e| tracing::warn!("cannot ask on the terminal: {e}"))
                .ok()
        })
    }

    fn tell(&self, line: &str) {
        eprintln!("goofish-tui: {}", crate::safe_text::clean(line));
    }
}

/// The terminal given back on every way out of [`on_screen`].
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = super::restore_terminal();
    }
}

fn on_screen(lang: Lang, found: &Versions) -> io::Result<bool> {
    enable_raw_mode()?;
    let _restore = Restore;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    loop {
        terminal.draw(|f| crate::ui::core_question::draw(f, lang, found))?;
        // Anything else (a resize, a stray key) draws the question again.
        if let Event::Key(key) = event::read()?
            && let Some(yes) = answer(&key)
        {
            return Ok(yes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn y_and_enter_restart_n_esc_and_ctrl_c_do_not_other_keys_wait() {
        let none = KeyModifiers::NONE;
        assert_eq!(answer(&key(KeyCode::Char('y'), none)), Some(true));
        assert_eq!(answer(&key(KeyCode::Enter, none)), Some(true));
        assert_eq!(answer(&key(KeyCode::Char('n'), none)), Some(false));
        assert_eq!(answer(&key(KeyCode::Esc, none)), Some(false));
        assert_eq!(
            answer(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(false)
        );
        assert_eq!(answer(&key(KeyCode::Char('x'), none)), None);
        assert_eq!(answer(&key(KeyCode::Char('c'), none)), None);
        let mut released = key(KeyCode::Char('y'), none);
        released.kind = KeyEventKind::Release;
        assert_eq!(answer(&released), None);
    }
}
