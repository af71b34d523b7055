//! ratatui views. Draws AppState; mutates nothing.
//!
//! Layout (see `app::layout`): conversation list on the left, the open conversation on the
//! right (item and peer at its head, messages, compose box), the status bar on the last line.

mod attach;
pub mod i18n;
mod list;
mod messages;
mod search;
mod status;
pub mod text;
pub mod timefmt;

use crate::app::layout::layout;
use crate::app::{Action, AppState, Focus};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub use messages::entry_rows;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState) {
    let area = frame.area();
    let a = layout(area.width, area.height, state.compose.lines().len());
    list::draw(frame, state, &a);
    let bar = Block::default().borders(Borders::LEFT).border_style(dim());
    frame.render_widget(bar, a.divider);
    messages::draw_header(frame, state, a.header);
    messages::draw(frame, state, a.messages);
    draw_compose(frame, state, a.compose);
    status::draw(frame, state, a.status);
    if let Some(view) = &state.search {
        search::draw(frame, state, view, area);
    }
    if let Some(view) = &state.attach {
        attach::draw(frame, state, view, area);
    }
    if state.help_open {
        draw_help(frame, state, area);
    }
}

pub(crate) fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

fn draw_compose(frame: &mut Frame, state: &AppState, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let s = i18n::strings(state.lang);
    let focused = state.focus == Focus::Compose && state.open.is_some();
    let rule_style = if focused {
        Style::default().fg(Color::Cyan)
    } else {
        dim()
    };
    let w = usize::from(area.width);
    let label = if state.open.is_some() && !state.is_live() {
        text::truncate(&format!("─ {} ", s.compose_offline), w)
    } else {
        String::new()
    };
    let rule = format!(
        "{label}{}",
        "─".repeat(w.saturating_sub(text::width(&label)))
    );
    let rule_area = Rect::new(area.x, area.y, area.width, 1);
    frame.render_widget(Paragraph::new(Line::styled(rule, rule_style)), rule_area);
    let text_area = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    if text_area.height == 0 || state.open.is_none() {
        return;
    }
    let ta = &state.compose;
    if ta.is_empty() {
        let hint = text::truncate(s.compose_placeholder, usize::from(text_area.width));
        frame.render_widget(
            Paragraph::new(Line::styled(hint, dim().add_modifier(Modifier::ITALIC))),
            text_area,
        );
    } else {
        frame.render_widget(ta, text_area);
    }
    if focused {
        // The real cursor at the caret, so an input method opens its window there.
        let (top_row, top_col) = if ta.is_empty() {
            (0, 0)
        } else {
            ta.scroll_offset()
        };
        let sc = ta.screen_cursor();
        let row = (sc.row as u16).saturating_sub(top_row);
        let col = (sc.col as u16).saturating_sub(top_col);
        let x = (text_area.x + col).min(text_area.right().saturating_sub(1));
        let y = (text_area.y + row).min(text_area.bottom().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, y));
    }
}

/// A bordered popup of at most `w`×`h` centred in `area`, drawn over what is there; its inner
/// area, or `None` when `area` is smaller than `min_w`×`min_h`.
pub(crate) fn popup(
    frame: &mut Frame,
    area: Rect,
    (w, h): (u16, u16),
    (min_w, min_h): (u16, u16),
    title: &str,
) -> Option<Rect> {
    let w = w.min(area.width);
    let h = h.min(area.height);
    if w < min_w || h < min_h {
        return None;
    }
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    clear_wide_left_edge(frame, rect);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::Cyan))
        .title(format!(" {title} "));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    Some(inner)
}

/// A one-line text field on the first row of `inner`: `prompt`, then what was typed (its end,
/// when it is too long: the end is what was just typed), with the terminal cursor after it.
pub(crate) fn input_line(
    frame: &mut Frame,
    inner: Rect,
    prompt: &'static str,
    typed: &str,
) -> Line<'static> {
    let room = usize::from(inner.width).saturating_sub(text::width(prompt) + 1);
    let shown = text::truncate_left(&text::one_line(typed), room);
    let x = inner.x + (text::width(prompt) + text::width(&shown)) as u16;
    frame.set_cursor_position(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y,
    ));
    Line::from(vec![
        Span::raw(prompt),
        Span::styled(shown, Style::default().add_modifier(Modifier::BOLD)),
    ])
}

/// A wide character just left of `area` would spill one cell into it and hide its border:
/// blank such characters before drawing over the area.
pub(crate) fn clear_wide_left_edge(frame: &mut Frame, area: Rect) {
    if area.x == 0 {
        return;
    }
    let buf = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        if let Some(cell) = buf.cell_mut(Position::new(area.x - 1, y))
            && text::width(cell.symbol()) > 1
        {
            cell.set_symbol(" ");
        }
    }
}

/// The help popup, generated from the active keymap.
fn draw_help(frame: &mut Frame, state: &AppState, area: Rect) {
    let s = i18n::strings(state.lang);
    let rows: Vec<(String, &str)> = Action::ALL
        .into_iter()
        .map(|a| {
            let keys = state
                .keymap
                .keys(a)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / ");
            (keys, i18n::action_help(state.lang, a))
        })
        .collect();
    let key_w = rows.iter().map(|(k, _)| text::width(k)).max().unwrap_or(0);
    let desc_w = rows.iter().map(|(_, d)| text::width(d)).max().unwrap_or(0);
    let w = (key_w + desc_w + 6).min(usize::from(area.width)) as u16;
    let h = (rows.len() + 3).min(usize::from(area.height)) as u16;
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(text::pad(&k, key_w), Style::default().fg(Color::Yellow)),
                Span::raw("  "),
                Span::raw(d),
            ])
        })
        .collect();
    lines.push(Line::styled(s.help_close, dim()));
    clear_wide_left_edge(frame, popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", s.help_title)),
        ),
        popup,
    );
}
