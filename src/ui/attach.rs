//! The picture popup: the path being typed, and what the popup takes.

use super::{dim, i18n, text};
use crate::app::{AppState, AttachView};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, state: &AppState, view: &AttachView, area: Rect) {
    let s = i18n::strings(state.lang);
    let size = (area.width.saturating_sub(4).clamp(10, 80), 6);
    let Some(inner) = super::popup(frame, area, size, (10, 4), s.attach_title) else {
        return;
    };
    let iw = usize::from(inner.width);
    let prompt = "🖼 ";
    let path = text::one_line(&view.path);
    // The end of a long path is what tells files apart.
    let shown = text::truncate_left(&path, iw.saturating_sub(text::width(prompt) + 1));
    let lines = vec![
        Line::from(vec![
            Span::raw(prompt),
            Span::styled(shown.clone(), Style::default().add_modifier(Modifier::BOLD)),
        ]),
        Line::styled(s.attach_hint, dim()),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
    let x = inner.x + (text::width(prompt) + text::width(&shown)) as u16;
    frame.set_cursor_position(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y,
    ));
}
