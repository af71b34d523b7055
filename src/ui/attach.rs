//! The picture popup: the path being typed, and what the popup takes.

use super::dim;
use crate::app::{AppState, AttachView};
use crate::text::i18n;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, state: &AppState, view: &AttachView, area: Rect) {
    let s = i18n::strings(state.lang);
    let size = (area.width.saturating_sub(4).clamp(10, 80), 6);
    let Some(inner) = super::popup(frame, area, size, (10, 4), s.attach_title) else {
        return;
    };
    let lines = vec![
        super::input_line(frame, inner, "🖼 ", &view.path),
        Line::styled(s.attach_hint, dim()),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}
