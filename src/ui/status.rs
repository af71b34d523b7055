//! The status bar: connection, catch-up progress, notices, who we are, unread total.

use crate::app::AppState;
use crate::im::api::ConnState;
use crate::text::{self, i18n};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, state: &AppState, area: Rect) {
    if area.height == 0 {
        return;
    }
    let lang = state.lang;
    let s = i18n::strings(lang);
    let (label, color) = match &state.conn.state {
        ConnState::Connecting => (s.conn_connecting.to_string(), Color::Yellow),
        ConnState::Registering => (s.conn_registering.to_string(), Color::Yellow),
        ConnState::Live => (format!("● {}", s.conn_live), Color::Green),
        ConnState::Stalled => (format!("◌ {}", s.conn_stalled), Color::Yellow),
        ConnState::Reconnecting {
            attempt,
            last_error,
            ..
        } => (
            format!(
                "⟳ {} {} {}",
                s.conn_reconnecting,
                s.reconnect_key_hint,
                i18n::reconnect_detail(
                    lang,
                    state.reconnect_in_secs(),
                    *attempt,
                    &i18n::detail(lang, &text::one_line(last_error))
                )
            ),
            Color::Yellow,
        ),
        // What to do comes first: the reason (in the log too) is cut when the bar is short.
        ConnState::NeedsLogin { reason } => (
            format!(
                "✗ {}: {} ({})",
                s.conn_needs_login,
                s.login_hint,
                i18n::detail(lang, &text::one_line(reason))
            ),
            Color::Red,
        ),
        ConnState::RiskControl { url } => (
            format!(
                "✗ {} {}: {}",
                s.conn_risk,
                s.reconnect_key_hint,
                text::one_line(url)
            ),
            Color::Red,
        ),
        ConnState::SessionRemoved { reason } => (
            format!(
                "✗ {} {}: {}",
                s.conn_removed,
                s.reconnect_key_hint,
                i18n::detail(lang, &text::one_line(reason))
            ),
            Color::Red,
        ),
        ConnState::Stopped => (s.conn_stopped.to_string(), Color::DarkGray),
    };
    let width = usize::from(area.width);

    let mut left: Vec<Span> = vec![Span::styled(
        format!(" {label}"),
        Style::default().fg(color).add_modifier(Modifier::BOLD),
    )];
    if state.cached {
        left.push(Span::styled(
            format!(" │ {}", s.cached),
            Style::default().fg(Color::Yellow),
        ));
    }
    if let Some(problem) = &state.store_problem {
        left.push(Span::styled(
            format!(
                " │ {}: {}",
                s.no_store,
                i18n::detail(lang, &text::one_line(problem))
            ),
            Style::default().fg(Color::Yellow),
        ));
    }
    if let Some((done, total)) = state.backfill {
        left.push(Span::raw(format!(" │ {} {done}/{total}", s.backfill)));
    }
    if state.editing {
        left.push(Span::styled(
            format!(" │ {}", s.editing),
            Style::default().fg(Color::Yellow),
        ));
    }
    if let Some(n) = &state.notice {
        left.push(Span::styled(
            format!(" │ {}", i18n::detail(lang, &text::one_line(n))),
            Style::default().fg(Color::Red),
        ));
    }
    // The connection text comes first and keeps its room (a risk-control URL must be
    // readable); the right part goes when there is no room for both.
    let left_text: String = left.iter().map(|s| s.content.as_ref()).collect();
    let left_w = text::width(&left_text);
    // Where the room is short, who we are goes first, then the other accounts.
    let mut right = right_part(state, s, true, true);
    for (me, others) in [(false, true), (false, false)] {
        if left_w + spans_width(&right) <= width {
            break;
        }
        right = right_part(state, s, me, others);
    }
    let right_w = spans_width(&right);
    let show_right = left_w + right_w <= width;
    let avail = if show_right { width - right_w } else { width };
    let mut spans = Vec::new();
    let mut used = 0;
    for sp in left {
        let w = text::width(&sp.content);
        if used + w <= avail {
            used += w;
            spans.push(sp);
        } else {
            let cut = text::truncate(&sp.content, avail - used);
            used += text::width(&cut);
            spans.push(Span::styled(cut, sp.style));
            break;
        }
    }
    spans.push(Span::raw(" ".repeat(avail - used)));
    if show_right {
        spans.extend(right);
    }
    let bar = Paragraph::new(Line::from(spans))
        .style(Style::default().bg(Color::Indexed(236)).fg(Color::Gray));
    frame.render_widget(bar, area);
}

fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(|sp| text::width(&sp.content)).sum()
}

/// A nick in the list of the other accounts takes at most this many cells.
const ACCOUNT_LABEL_CELLS: usize = 14;

/// The other accounts of this data directory, each with its buyers' unread count when it is
/// counted (bright when there is any): "小林的二手书店 3 │ ".
fn other_accounts(state: &AppState, right: &mut Vec<Span<'static>>) {
    if state.accounts.len() < 2 {
        return;
    }
    for badge in &state.accounts {
        if state.account.as_ref() == Some(&badge.uid) {
            continue;
        }
        let label = text::truncate(&text::one_line(badge.label()), ACCOUNT_LABEL_CELLS);
        right.push(Span::raw(label));
        if let Some(unread) = badge.unread {
            let color = if unread > 0 {
                Color::LightRed
            } else {
                Color::DarkGray
            };
            right.push(Span::styled(
                format!(" {unread}"),
                Style::default().fg(color),
            ));
        }
        right.push(Span::raw(" │ "));
    }
}

/// The right part of the bar: modes in effect, who we are (`me`), the other accounts
/// (`others`), the buyers' unread total (notices apart, dimmed), the help key.
fn right_part(state: &AppState, s: &i18n::Strings, me: bool, others: bool) -> Vec<Span<'static>> {
    let mut right: Vec<Span> = vec![Span::raw(" ")];
    if state.waiting_first {
        right.push(Span::styled(
            format!("{} │ ", s.waiting_first),
            Style::default().fg(Color::LightYellow),
        ));
    }
    if !state.mouse_capture {
        // Said for as long as it lasts: clicks and scrolling do nothing here meanwhile.
        right.push(Span::styled(
            format!("{} │ ", s.mouse_terminal),
            Style::default().fg(Color::LightYellow),
        ));
    }
    if let Some(nick) = state.self_nick.as_ref().filter(|_| me) {
        right.push(Span::raw(format!("{}: {} │ ", s.me, text::one_line(nick))));
    }
    if others {
        other_accounts(state, &mut right);
    }
    right.push(Span::raw(format!("{} {}", s.unread, state.unread_total())));
    if state.notices_total() > 0 {
        right.push(Span::styled(
            format!(" · {} {}", s.notices, state.notices_total()),
            Style::default().fg(Color::DarkGray),
        ));
    }
    right.push(Span::raw(format!(" │ {} ", s.help_hint)));
    right
}
