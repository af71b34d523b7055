//! The conversation list: two rows per conversation, only the rows in view are built.

use super::dim;
use crate::app::layout::{Areas, CONV_ROWS};
use crate::app::{AppState, Focus, OrderTag};
use crate::protocol::Conversation;
use crate::text::{self, i18n, timefmt};
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

/// The two rows of one conversation, exactly `w` cells wide: who (with the order tag) and
/// when, or how long they have waited; then what was said last, from the left edge, with the
/// item where room is left, and the unread badge.
fn conv_lines(
    state: &AppState,
    c: &Conversation,
    w: usize,
    open: bool,
) -> (Line<'static>, Line<'static>) {
    let s = i18n::strings(state.lang);
    let mark = if open { "▌" } else { " " };
    let (right, right_style) = match state.waiting_since(&c.cid) {
        Some(since) => (
            i18n::waited(state.lang, state.now_ms - since),
            super::messages::waiting_style(),
        ),
        None => (
            timefmt::relative(c.modify_time, state.now_ms, &state.tz, state.lang),
            dim(),
        ),
    };
    let mut marks = String::new();
    if c.pinned {
        marks.push_str(s.pinned);
    }
    if c.muted {
        marks.push_str(s.muted);
    }
    let tag = c
        .red_reminder
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(|r| match OrderTag::of(r) {
            Some(t) => format!(" {}", t.label(state.lang)),
            // A state this program does not know: its own words, short.
            None => format!(" {}", text::truncate(&text::one_line(r), 8)),
        })
        .unwrap_or_default();
    let nick = c
        .peer_nick
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(text::one_line)
        .unwrap_or_else(|| c.peer.as_str().to_string());
    let fixed = 1 + text::width(&marks) + 1 + text::width(&right);
    // The tag goes before the name is cut below a few cells.
    let tag = if w.saturating_sub(fixed + text::width(&tag)) >= 4 {
        tag
    } else {
        String::new()
    };
    let name_w = w.saturating_sub(fixed + text::width(&tag));
    let name = text::truncate(&nick, name_w);
    let gap = name_w.saturating_sub(text::width(&name));
    let row1 = Line::from(vec![
        Span::styled(mark.to_string(), Style::default().fg(Color::Cyan)),
        Span::styled(name, Style::default().add_modifier(Modifier::BOLD)),
        Span::styled(tag, Style::default().fg(Color::Yellow)),
        Span::raw(" ".repeat(gap)),
        Span::raw(marks),
        Span::raw(" "),
        Span::styled(right, right_style),
    ]);

    let badge = if c.unread == 0 {
        String::new()
    } else if c.unread > 99 {
        " 99+".to_string()
    } else {
        format!(" {}", c.unread)
    };
    let platform = crate::app::attention::is_platform(c);
    let badge_style = if c.muted || platform {
        dim()
    } else {
        Style::default()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD)
    };
    let body_w = w.saturating_sub(1 + text::width(&badge));
    let (said, said_style) = match &c.last_message {
        Some(m) => {
            let summary = match &m.content {
                crate::protocol::Content::Image { .. } => s.image.to_string(),
                crate::protocol::Content::TradeCard(card) => card.title.clone(),
                other => other.summary(),
            };
            // Only the start can show; do not clean up a long message's tail every frame.
            let head: String = summary.chars().take(w * 2 + 16).collect();
            let head = text::one_line(&head);
            if m.is_self {
                (format!("{}: {head}", s.me), dim())
            } else if m.is_system() || platform {
                (head, dim())
            } else {
                (head, Style::default())
            }
        }
        None => (String::new(), dim()),
    };
    let said = text::truncate(&said, body_w);
    let mut spans = vec![
        Span::styled(mark.to_string(), Style::default().fg(Color::Cyan)),
        Span::styled(said.clone(), said_style),
    ];
    let mut used = text::width(&said);
    // The item, after the words, where room is left (the pane header has it whole).
    if let Some(t) = c.item_title.as_deref().filter(|t| !t.trim().is_empty()) {
        let room = body_w.saturating_sub(used + 3);
        if room >= 6 {
            let item = format!(" · {}", text::truncate(&text::one_line(t), room));
            used += text::width(&item);
            spans.push(Span::styled(item, dim()));
        }
    }
    spans.push(Span::raw(" ".repeat(body_w.saturating_sub(used))));
    spans.push(Span::styled(badge, badge_style));
    (row1, Line::from(spans))
}
