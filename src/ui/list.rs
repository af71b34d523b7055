//! The conversation list: two rows per conversation, only the rows in view are built.

use super::{dim, i18n, text, timefmt};
use crate::app::layout::{Areas, CONV_ROWS};
use crate::app::{AppState, Focus};
use crate::protocol::Conversation;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, state: &AppState, a: &Areas) {
    let s = i18n::strings(state.lang);
    if let Some(f) = &state.filter {
        let line_area = Rect::new(a.list.x, a.list.y, a.list.width, a.list.height.min(1));
        let prefix = format!("/ {}: ", s.filter);
        let shown = text::one_line(f);
        let full = format!("{prefix}{shown}");
        let style = if state.filter_editing {
            Style::default().fg(Color::Yellow)
        } else {
            dim()
        };
        let cut = text::truncate(&full, usize::from(a.list.width));
        frame.render_widget(Paragraph::new(Line::styled(cut.clone(), style)), line_area);
        if state.filter_editing && line_area.height > 0 {
            let x = a.list.x + (text::width(&cut) as u16).min(a.list.width.saturating_sub(1));
            frame.set_cursor_position(Position::new(x, line_area.y));
        }
    }
    let rows = a.list_rows(state.filter.is_some());
    let visible = state.visible();
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(s.no_conversations, dim())),
            rows,
        );
        return;
    }
    let per_page = usize::from(rows.height / CONV_ROWS) + 1;
    let mut lines: Vec<Line> = Vec::with_capacity(per_page * 2);
    let w = usize::from(rows.width);
    for cid in visible.iter().skip(state.list_offset).take(per_page) {
        let Some(c) = state.conversation(cid) else {
            continue;
        };
        let selected = state.selected.as_ref() == Some(cid);
        let open = state.open.as_ref() == Some(cid);
        let (l1, l2) = conv_lines(state, c, w, open);
        let style = if selected {
            if state.focus == Focus::List {
                Style::default().bg(Color::Indexed(24))
            } else {
                Style::default().bg(Color::Indexed(237))
            }
        } else {
            Style::default()
        };
        lines.push(l1.style(style));
        lines.push(l2.style(style));
    }
    frame.render_widget(Paragraph::new(lines), rows);
}

/// The two rows of one conversation, exactly `w` cells wide.
fn conv_lines(
    state: &AppState,
    c: &Conversation,
    w: usize,
    open: bool,
) -> (Line<'static>, Line<'static>) {
    let s = i18n::strings(state.lang);
    let time = timefmt::relative(c.modify_time, state.now_ms, &state.tz, state.lang);
    let mark = if open { "▌" } else { " " };
    let mut marks = String::new();
    if c.pinned {
        marks.push_str(s.pinned);
    }
    if c.muted {
        marks.push_str(s.muted);
    }
    let nick = c
        .peer_nick
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(text::one_line)
        .unwrap_or_else(|| c.peer.as_str().to_string());
    let time_w = text::width(&time);
    let marks_w = text::width(&marks);
    let name_w = w.saturating_sub(1 + marks_w + time_w + 1);
    let name = text::pad(&nick, name_w);
    let row1 = Line::from(vec![
        Span::styled(mark.to_string(), Style::default().fg(Color::Cyan)),
        Span::styled(name, Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(marks),
        Span::raw(" "),
        Span::styled(time, dim()),
    ]);

    let badge = if c.unread == 0 {
        String::new()
    } else if c.unread > 99 {
        " 99+".to_string()
    } else {
        format!(" {}", c.unread)
    };
    let badge_style = if c.muted {
        dim()
    } else {
        Style::default()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD)
    };
    let badge_w = text::width(&badge);
    let mut preview = String::new();
    if let Some(t) = c.item_title.as_deref().filter(|t| !t.trim().is_empty()) {
        preview.push_str(&text::one_line(t));
        preview.push_str(" · ");
    }
    if let Some(m) = &c.last_message {
        let summary = match &m.content {
            crate::protocol::Content::Image { .. } => s.image.to_string(),
            other => other.summary(),
        };
        // Only the start can show; do not clean up a long message's tail every frame.
        let head: String = summary.chars().take(w * 2 + 16).collect();
        preview.push_str(&text::one_line(&head));
    }
    let body_w = w.saturating_sub(1 + badge_w);
    let row2 = Line::from(vec![
        Span::styled(mark.to_string(), Style::default().fg(Color::Cyan)),
        Span::styled(text::pad(&preview, body_w), dim()),
        Span::styled(badge, badge_style),
    ]);
    (row1, row2)
}
