//! The search popup: the query, then one two-row entry per result (who, item, when; the
//! text around the match with the match highlighted).

use super::dim;
use crate::app::{AppState, SearchView};
use crate::store::SearchHit;
use crate::text::{self, i18n, timefmt};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Rows per result.
const HIT_ROWS: usize = 2;

pub fn draw(frame: &mut Frame, state: &AppState, view: &SearchView, area: Rect) {
    let s = i18n::strings(state.lang);
    let size = (
        area.width.saturating_sub(4).clamp(10, 100),
        area.height.saturating_sub(2).clamp(5, 24),
    );
    let Some(inner) = super::popup(frame, area, size, (10, 5), s.search_title) else {
        return;
    };
    let iw = usize::from(inner.width);

    let query_line = super::input_line(frame, inner, "🔍 ", &view.query);
    let status = if let Some(e) = &view.error {
        Line::styled(
            text::truncate(&text::one_line(e), iw),
            Style::default().fg(Color::Red),
        )
    } else if view.in_flight || (view.stale() && !view.query.trim().is_empty()) {
        Line::styled(s.searching, dim())
    } else if view.query.trim().is_empty() {
        Line::styled(text::truncate(s.search_hint, iw), dim())
    } else if view.hits.is_empty() {
        Line::styled(s.search_none, dim())
    } else {
        Line::styled(
            text::truncate(&format!("{} · {}", view.hits.len(), s.search_hint), iw),
            dim(),
        )
    };
    let mut lines = vec![query_line, status];
    let room = usize::from(inner.height).saturating_sub(lines.len()) / HIT_ROWS;
    // Keep the selection in view: scroll by whole results.
    let first = view.selected.saturating_sub(room.saturating_sub(1));
    for (i, hit) in view.hits.iter().enumerate().skip(first).take(room) {
        let (l1, l2) = hit_lines(state, hit, iw);
        let style = if i == view.selected {
            Style::default().bg(Color::Indexed(24))
        } else {
            Style::default()
        };
        lines.push(l1.style(style));
        lines.push(l2.style(style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn hit_lines(state: &AppState, hit: &SearchHit, w: usize) -> (Line<'static>, Line<'static>) {
    let m = &hit.message;
    let s = i18n::strings(state.lang);
    // A hit whose conversation the store holds without a name, or not at all (a history
    // written before conversations were stored from a new buyer's first message), is named
    // from the list on screen rather than by its id.
    let known = hit
        .conversation
        .as_ref()
        .filter(|c| c.peer_nick.is_some())
        .or_else(|| state.conversation(&m.cid));
    let peer_nick = known.and_then(|c| c.peer_nick.as_deref());
    let who = if m.is_self {
        s.me.to_string()
    } else {
        m.sender_nick
            .as_deref()
            .map(str::to_string)
            .or_else(|| peer_nick.map(str::to_string))
            .unwrap_or_else(|| m.sender.as_str().to_string())
    };
    let peer = peer_nick.map_or_else(|| m.cid.as_str().to_string(), str::to_string);
    let item = known
        .and_then(|c| c.item_title.as_deref())
        .map(|t| format!(" · {}", text::one_line(t)))
        .unwrap_or_default();
    let when = format!(
        "{} {}",
        timefmt::day_label(m.time, &state.tz, state.lang),
        timefmt::clock(m.time, &state.tz)
    );
    let when_w = text::width(&when);
    let head = text::truncate(
        &format!("{}{item}", text::one_line(&peer)),
        w.saturating_sub(when_w + 1),
    );
    let gap = w.saturating_sub(text::width(&head) + when_w);
    let l1 = Line::from(vec![
        Span::styled(head, Style::default().fg(Color::Cyan)),
        Span::raw(" ".repeat(gap)),
        Span::styled(when, dim()),
    ]);
    // "who: …snippet…", the match in yellow, cut to the width around it.
    let prefix = format!("  {}: ", text::one_line(&who));
    let avail = w.saturating_sub(text::width(&prefix));
    let snippet = &hit.snippet;
    let mut spans = vec![Span::styled(prefix, dim())];
    match hit
        .highlight
        .clone()
        .filter(|r| snippet.get(r.clone()).is_some())
    {
        Some(r) => {
            let (before, hit_text, after) =
                (&snippet[..r.start], &snippet[r.clone()], &snippet[r.end..]);
            let hit_w = text::width(hit_text).min(avail);
            let before_room = avail.saturating_sub(hit_w) / 2;
            let before = text::truncate_left(before, before_room);
            let after_room = avail.saturating_sub(text::width(&before) + hit_w);
            spans.push(Span::raw(before));
            spans.push(Span::styled(
                text::truncate(hit_text, avail),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
            spans.push(Span::raw(text::truncate(after, after_room)));
        }
        None => spans.push(Span::raw(text::truncate(snippet, avail))),
    }
    (l1, Line::from(spans))
}
