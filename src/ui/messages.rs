//! The message pane: drawn bottom-up from the anchored message, wrapping only the messages
//! that are in view, so its cost does not grow with the history.

use super::dim;
use crate::app::{AppState, Delivery, Entry, Focus, OrderTag, Thread};
use crate::protocol::{Cid, Content, Conversation};
use crate::text::{self, i18n, timefmt};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Item title and price, peer, order state and typing on top of the pane.
pub fn draw_header(frame: &mut Frame, state: &AppState, area: Rect) {
    if area.height == 0 {
        return;
    }
    let w = usize::from(area.width);
    let s = i18n::strings(state.lang);
    let Some(conv) = state.open.as_ref().and_then(|c| state.conversation(c)) else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                text::truncate(s.no_conversation_open, w),
                dim(),
            )),
            area,
        );
        return;
    };
    let item = conv.item_id.as_ref().and_then(|i| state.items.get(i));
    let title = item
        .map(|i| i.title.as_str())
        .or(conv.item_title.as_deref())
        .map(text::one_line)
        .unwrap_or_default();
    let price = item
        .and_then(|i| i.price.as_deref())
        .map(|p| format!("¥{}", text::one_line(p)))
        .unwrap_or_default();
    let price_w = text::width(&price);
    let title_w = w.saturating_sub(price_w + usize::from(price_w > 0));
    let mut l1 = vec![Span::styled(
        text::truncate(&title, title_w),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if !price.is_empty() {
        l1.push(Span::raw(" "));
        l1.push(Span::styled(price, Style::default().fg(Color::LightRed)));
    }
    let mut l2 = vec![Span::styled(
        peer_name(conv),
        Style::default().fg(Color::Cyan),
    )];
    if let Some(r) = conv
        .red_reminder
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        // The tag and the service's own words for the state.
        l2.push(Span::raw(" · "));
        let label = text::one_line(r);
        let shown = match OrderTag::of(r) {
            Some(t) if t.label(state.lang) != label => {
                format!("[{}] {label}", t.label(state.lang))
            }
            _ => label,
        };
        l2.push(Span::styled(shown, Style::default().fg(Color::Yellow)));
    }
    if let Some(since) = state.waiting_since(&conv.cid) {
        l2.push(Span::raw(" · "));
        l2.push(Span::styled(
            i18n::waited(state.lang, state.now_ms - since),
            waiting_style(),
        ));
    }
    if state
        .typing
        .get(&conv.cid)
        .is_some_and(|until| *until > state.now_ms)
    {
        l2.push(Span::raw(" · "));
        l2.push(Span::styled(s.typing, dim()));
    }
    let l2_text: String = l2.iter().map(|s| s.content.as_ref()).collect();
    let l2 = if text::width(&l2_text) > w {
        Line::from(text::truncate(&l2_text, w))
    } else {
        Line::from(l2)
    };
    frame.render_widget(Paragraph::new(vec![Line::from(l1), l2]), area);
}

/// How a waiting buyer is marked.
pub(crate) fn waiting_style() -> Style {
    Style::default()
        .fg(Color::LightYellow)
        .add_modifier(Modifier::BOLD)
}

fn peer_name(conv: &Conversation) -> String {
    conv.peer_nick
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(text::one_line)
        .unwrap_or_else(|| conv.peer.as_str().to_string())
}

pub fn draw(frame: &mut Frame, state: &AppState, area: Rect) {
    if area.height == 0 || area.width < 4 {
        return;
    }
    let Some(cid) = state.open.as_ref() else {
        return;
    };
    let s = i18n::strings(state.lang);
    let height = usize::from(area.height);
    let empty = Thread::default();
    let thread = state.thread(cid).unwrap_or(&empty);
    let conv = state.conversation(cid);
    let anchor = thread.anchor_index();
    let selected = (state.focus == Focus::Messages).then_some(anchor).flatten();

    // Blocks from the anchored message up, until the pane is full.
    let w = usize::from(area.width);
    let entries = thread.entries();
    let block = |i: usize| -> Vec<Line<'static>> {
        let e = &entries[i];
        let grouped = continues_group(state, entries, i);
        let mut b = entry_lines(state, conv, e, w, grouped);
        if anchor == Some(i) && thread.anchor_rows > 0 {
            // Scrolled inside a tall message: its last rows are below the view.
            let keep = b.len().saturating_sub(thread.anchor_rows).max(1);
            b.truncate(keep);
        }
        let jumped = state.jumped_to.is_some() && e.id() == state.jumped_to.as_ref();
        if jumped {
            // The search result the user jumped to: the whole message stands out.
            for l in &mut b {
                *l = std::mem::take(l).patch_style(Style::default().bg(Color::Indexed(58)));
            }
        } else if selected == Some(i) {
            // The message under the cursor: its text stands out (not its header).
            let skip = usize::from(b.len() > 1 && has_header(e, grouped));
            for l in b.iter_mut().skip(skip) {
                *l = std::mem::take(l).patch_style(Style::default().bg(Color::Indexed(237)));
            }
        }
        if new_day(state, entries, i) {
            b.insert(0, day_separator(state, e.time, w));
        }
        b
    };
    let mut up: Vec<Line> = Vec::with_capacity(height + 8);
    let mut reached_top = true;
    if let Some(last) = anchor {
        for i in (0..=last).rev() {
            if up.len() >= height {
                reached_top = false;
                break;
            }
            up.extend(block(i).into_iter().rev());
        }
    }
    if reached_top && up.len() < height {
        if thread.loading {
            up.push(Line::styled(s.loading, dim()).alignment(Alignment::Center));
        } else if thread.loaded && !thread.has_more && !thread.store_more && !entries.is_empty() {
            up.push(Line::styled(s.no_more_history, dim()).alignment(Alignment::Center));
        }
    }
    up.truncate(height);
    up.reverse();
    // Scrolled to the top with room left: fill with the messages below the anchor.
    let mut rows = up;
    if let Some(a) = anchor {
        let mut i = a + 1;
        while rows.len() < height && i < entries.len() {
            rows.extend(block(i));
            i += 1;
        }
    }
    rows.truncate(height);
    // Bottom-aligned when short: the newest message sits just above the compose box.
    if rows.len() < height {
        let mut padded = vec![Line::default(); height - rows.len()];
        padded.append(&mut rows);
        rows = padded;
    }
    frame.render_widget(Paragraph::new(rows), area);

    if thread.new_below > 0 && thread.anchor.is_some() {
        let hint = format!(" {} {} ", thread.new_below, s.new_below);
        let w = (text::width(&hint) as u16).min(area.width);
        let r = Rect::new(area.right() - w, area.bottom() - 1, w, 1);
        frame.render_widget(
            Paragraph::new(Line::styled(
                hint,
                Style::default().fg(Color::Black).bg(Color::Yellow),
            )),
            r,
        );
    }
}

fn new_day(state: &AppState, entries: &[Entry], i: usize) -> bool {
    i == 0
        || timefmt::day(entries[i - 1].time, &state.tz) != timefmt::day(entries[i].time, &state.tz)
}

/// Messages from one sender within this long of each other share a header.
const GROUP_MS: i64 = 5 * 60 * 1000;

/// A message that needs no header of its own: the same sender wrote the one before it, on
/// the same day, within `GROUP_MS`, and both are things a person wrote.
fn continues_group(state: &AppState, entries: &[Entry], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|p| entries.get(p)) else {
        return false;
    };
    let e = &entries[i];
    prev.is_chat()
        && e.is_chat()
        && prev.is_self == e.is_self
        && prev.sender == e.sender
        && e.time.saturating_sub(prev.time) <= GROUP_MS
        && !new_day(state, entries, i)
}

/// Whether the rows of `e` start with a header row (name and time): the first of a group
/// from the buyer. Own messages need no name (they are on the right) and carry their time
/// after the text.
fn has_header(e: &Entry, grouped: bool) -> bool {
    !grouped && e.is_chat() && !e.is_self
}

/// Rows entry `i` of `cid`'s thread takes in a pane `width` columns wide (with its day
/// separator), for scrolling through messages taller than the pane.
pub fn entry_rows(state: &AppState, cid: &Cid, i: usize, width: u16) -> usize {
    let Some(thread) = state.thread(cid) else {
        return 0;
    };
    let entries = thread.entries();
    let Some(e) = entries.get(i) else {
        return 0;
    };
    let grouped = continues_group(state, entries, i);
    let lines = entry_lines(
        state,
        state.conversation(cid),
        e,
        usize::from(width),
        grouped,
    )
    .len();
    lines + usize::from(new_day(state, entries, i))
}

fn day_separator(state: &AppState, ms: i64, w: usize) -> Line<'static> {
    let label = format!(" {} ", timefmt::day_label(ms, &state.tz, state.lang));
    let label = text::truncate(&label, w);
    let side = w.saturating_sub(text::width(&label)) / 2;
    Line::styled(
        format!("{}{label}{}", "─".repeat(side), "─".repeat(side)),
        dim(),
    )
}

fn delivery_label(state: &AppState, d: &Delivery) -> (String, Style) {
    let s = i18n::strings(state.lang);
    match d {
        Delivery::Incoming => (String::new(), Style::default()),
        Delivery::Queued => (s.queued.to_string(), Style::default().fg(Color::Yellow)),
        Delivery::Sending => (s.sending.to_string(), dim()),
        Delivery::Sent => (s.sent.to_string(), dim()),
        Delivery::Read => (s.read.to_string(), Style::default().fg(Color::Green)),
        Delivery::Failed(_) => (s.failed.to_string(), Style::default().fg(Color::Red)),
    }
}

/// The rows of one message at width `w`; `grouped`: it shares the header of the message
/// before it.
fn entry_lines(
    state: &AppState,
    conv: Option<&Conversation>,
    e: &Entry,
    w: usize,
    grouped: bool,
) -> Vec<Line<'static>> {
    let s = i18n::strings(state.lang);
    let m = e;
    let time = timefmt::clock(m.time, &state.tz);
    let own = m.is_self;
    let body_style = if own {
        Style::default().fg(Color::LightCyan)
    } else {
        Style::default()
    };
    let align = if own {
        Alignment::Right
    } else {
        Alignment::Left
    };
    let indent = if own { "" } else { "  " };
    let body_w = w.saturating_sub(2).max(1);

    match (&m.content, e.recalled) {
        (_, true) => {
            let what = if own {
                s.recalled_self
            } else {
                s.recalled_peer
            };
            return vec![
                Line::styled(
                    text::truncate(&format!("{time} {what}"), w),
                    dim().add_modifier(Modifier::ITALIC),
                )
                .alignment(align),
            ];
        }
        (Content::Notice { text: t }, _) => {
            return text::wrap(&format!("{time} {t}"), body_w)
                .into_iter()
                .map(|l| Line::styled(format!("{indent}{l}"), dim()))
                .collect();
        }
        (Content::TradeCard(card), _) => {
            let (title, desc) = (&card.title, &card.desc);
            let state_label = m
                .red_reminder
                .as_deref()
                .or(desc.as_deref())
                .map(|r| format!(" · {}", text::one_line(r)))
                .unwrap_or_default();
            let line = format!("{time} ▣ {}{state_label}", text::one_line(title));
            return vec![
                Line::styled(text::truncate(&line, w), Style::default().fg(Color::Yellow))
                    .alignment(align),
            ];
        }
        _ => {}
    }

    let sender = if own {
        s.me.to_string()
    } else {
        m.sender_nick
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(text::one_line)
            .or_else(|| {
                conv.and_then(|c| c.peer_nick.as_deref())
                    .map(text::one_line)
            })
            .unwrap_or_else(|| m.sender.as_str().to_string())
    };
    let (status, status_style) = delivery_label(state, &e.delivery);
    // After an own message's text: when (the first of a group), then where it is on its way.
    let mut tail: Vec<Span<'static>> = Vec::new();
    if own && !grouped {
        tail.push(Span::styled(time.clone(), dim()));
    }
    if !status.is_empty() {
        if !tail.is_empty() {
            tail.push(Span::raw(" "));
        }
        tail.push(Span::styled(status, status_style));
    }
    let tail_w: usize = tail.iter().map(|t| text::width(&t.content)).sum();
    let mut out = Vec::new();
    if has_header(e, grouped) {
        let header = vec![
            Span::styled(
                text::truncate(&sender, w / 2),
                Style::default()
                    .fg(if own { Color::Cyan } else { Color::Magenta })
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" {time}"), dim()),
        ];
        out.push(Line::from(header).alignment(align));
    }

    let body = match &m.content {
        Content::Text { text: t } => t.to_string(),
        Content::Image { urls } if urls.is_empty() => s.image.to_string(),
        Content::Image { urls } => urls
            .iter()
            .map(|u| format!("{} {u}", s.image))
            .collect::<Vec<_>>()
            .join("\n"),
        Content::Unknown {
            content_type,
            summary,
        } => format!("{} #{content_type} {summary}", s.unknown_content),
        Content::Notice { .. } | Content::TradeCard(_) => String::new(),
    };
    let style = match &m.content {
        Content::Unknown { .. } => dim().add_modifier(Modifier::ITALIC),
        Content::Image { .. } => Style::default().fg(Color::Blue),
        _ => body_style,
    };
    let mut rows = text::wrap(&body, body_w);
    // The tail goes after the last row, or below it when there is no room.
    let fits = rows
        .last()
        .is_some_and(|last| text::width(last) + 1 + tail_w <= body_w);
    if !tail.is_empty() && !fits {
        rows.push(String::new());
    }
    let last = rows.len() - 1;
    for (k, l) in rows.into_iter().enumerate() {
        let mut spans = vec![Span::styled(format!("{indent}{l}"), style)];
        if k == last && !tail.is_empty() {
            if !l.is_empty() {
                spans.push(Span::raw(" "));
            }
            spans.extend(tail.iter().cloned());
        }
        out.push(Line::from(spans).alignment(align));
    }
    if e.unsaved && matches!(e.delivery, Delivery::Queued | Delivery::Sending) {
        for l in text::wrap(&format!("⚠ {}", s.not_saved), body_w) {
            out.push(Line::styled(l, Style::default().fg(Color::Yellow)).alignment(align));
        }
    }
    if let Delivery::Failed(f) = &e.delivery {
        // A rejected content would only be rejected again: no retry offered for it.
        let reason = i18n::detail(state.lang, &text::one_line(&f.reason));
        let why = if f.retryable {
            format!("✗ {reason} · {}", s.retry_hint)
        } else {
            format!("✗ {reason} · {}", s.edit_hint)
        };
        for l in text::wrap(&why, body_w) {
            out.push(Line::styled(l, Style::default().fg(Color::Red)).alignment(align));
        }
    }
    out
}
