//! The picture popup: the path being typed, and what the popup takes.

use super::{clear_wide_left_edge, dim, i18n, text};
use crate::app::{AppState, AttachView};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, state: &AppState, view: &AttachView, area: Rect) {
    let s = i18n::strings(state.lang);
    let w = area.width.saturating_sub(4).clamp(10, 80).min(area.width);
    let h = 6.min(area.height);
    if w < 10 || h < 4 {
        return;
    }
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    clear_wide_left_edge(frame, popup);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::Cyan))
        .title(format!(" {} ", s.attach_title));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
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
