//! The message pane: drawn bottom-up from the anchored message, wrapping only the messages
//! that are in view, so its cost does not grow with the history.

use super::{Drawn, ScreenLink, dim};
use crate::app::PictureView;
use crate::app::message_rows::{self, BodyKind, MessageRows, Row, Status, THUMB_ROWS};
use crate::app::{AppState, Focus, OrderTag, Thread};
use crate::pictures::Thumbs;
use crate::protocol::Conversation;
use crate::text::{self, i18n};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The item's page on the service, for the header's link. Uncertain: the protocol notes do not
/// give the form; this is the one the web site's item links have.
fn item_page(item_id: &str) -> Option<String> {
    // Only digits go into a URL that the terminal is asked to open.
    (!item_id.is_empty() && item_id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("https://www.goofish.com/item?id={item_id}"))
}

/// Item title and price, peer, order state and typing on top of the pane. The title links to
/// the item's page; returns that link.
pub fn draw_header(frame: &mut Frame, state: &AppState, area: Rect) -> Vec<ScreenLink> {
    if area.height == 0 {
        return Vec::new();
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
        return Vec::new();
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
    let shown_title = text::truncate(&title, title_w);
    let mut links = Vec::new();
    if let Some(url) = conv.item_id.as_deref().and_then(item_page)
        && !shown_title.is_empty()
    {
        links.push(ScreenLink {
            x: area.x,
            y: area.y,
            text: shown_title.clone(),
            url,
        });
    }
    let mut l1 = vec![Span::styled(
        shown_title,
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
    links
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

/// A link on a row of the pane: its first cell from the row's start, its text and target.
#[derive(Clone, Debug, Default)]
struct RowLink {
    col: usize,
    text: String,
    url: String,
}

/// What a row of the pane carries beside its text.
#[derive(Clone, Debug, Default)]
struct RowMeta {
    links: Vec<RowLink>,
    /// A row of a picture's thumbnail: its URL, which row, and whether it is an own one
    /// (drawn on the right).
    picture: Option<(String, u16, bool)>,
}

type Rows = Vec<(Line<'static>, RowMeta)>;

/// Draws the messages in view, the thumbnails in `thumbs` over their rows; returns the links
/// drawn (where they are on the screen) and the pictures in view not drawn yet.
pub fn draw(frame: &mut Frame, state: &AppState, area: Rect, thumbs: &Thumbs) -> Drawn {
    let mut drawn = Drawn::default();
    if area.height == 0 || area.width < 4 {
        return drawn;
    }
    let Some(cid) = state.open.as_ref() else {
        return drawn;
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
    let block = |i: usize| -> Rows {
        let e = &entries[i];
        let laid = message_rows::layout(state, conv, entries, i, w);
        let mut b = lines(state, &laid, thumbs);
        if anchor == Some(i) && thread.anchor_rows > 0 {
            // Scrolled inside a tall message: its last rows are below the view.
            let keep = b.len().saturating_sub(thread.anchor_rows).max(1);
            b.truncate(keep);
        }
        let jumped = state.jumped_to.is_some() && e.id() == state.jumped_to.as_ref();
        if jumped {
            // The search result the user jumped to: the whole message stands out.
            for (l, _) in &mut b {
                *l = std::mem::take(l).patch_style(Style::default().bg(Color::Indexed(58)));
            }
        } else if selected == Some(i) {
            // The message under the cursor: its text stands out (not its header).
            let skip = usize::from(b.len() > 1 && laid.has_header());
            for (l, _) in b.iter_mut().skip(skip) {
                *l = std::mem::take(l).patch_style(Style::default().bg(Color::Indexed(237)));
            }
        }
        if let Some(day) = laid.day {
            b.insert(0, (Line::styled(day, dim()), RowMeta::default()));
        }
        b
    };
    let mut up: Rows = Vec::with_capacity(height + 8);
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
            up.push((
                Line::styled(s.loading, dim()).alignment(Alignment::Center),
                RowMeta::default(),
            ));
        } else if thread.loaded && !thread.has_more && !thread.store_more && !entries.is_empty() {
            up.push((
                Line::styled(s.no_more_history, dim()).alignment(Alignment::Center),
                RowMeta::default(),
            ));
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
        let mut padded: Rows = vec![(Line::default(), RowMeta::default()); height - rows.len()];
        padded.append(&mut rows);
        rows = padded;
    }
    let mut links = Vec::new();
    // A picture whose top is above the view: a word for it on its first row in view.
    if let Some((line, meta)) = rows.first_mut()
        && let Some((_, k, own)) = &meta.picture
        && *k > 0
    {
        let indent = if *own { "" } else { "  " };
        *line = Line::styled(format!("{indent}⋮ {}", s.image), dim());
    }
    // Thumbnails whose top row is in view, where, and whether their bottom is cut.
    let mut shown: Vec<(Rect, &str, bool)> = Vec::new();
    for (y, (_, meta)) in rows.iter().enumerate() {
        let Some((url, 0, own)) = &meta.picture else {
            continue;
        };
        let in_view = (0..THUMB_ROWS)
            .take_while(|&k| {
                rows.get(y + usize::from(k))
                    .and_then(|(_, m)| m.picture.as_ref())
                    .is_some_and(|(u, line, _)| u == url && *line == k)
            })
            .count() as u16;
        match thumbs.get(url) {
            Some(t) => {
                let own = *own;
                let cols = t.cols.min(area.width.saturating_sub(2));
                let x = if own {
                    area.right().saturating_sub(cols)
                } else {
                    area.x + 2
                };
                let rows_shown = t.rows.min(in_view);
                shown.push((
                    Rect::new(x, area.y + y as u16, cols, rows_shown),
                    url,
                    rows_shown < t.rows,
                ));
            }
            None if !matches!(state.pictures.get(url), Some(PictureView::Failed(_)))
                && !drawn.pictures.contains(url) =>
            {
                drawn.pictures.push(url.clone());
            }
            None => {}
        }
    }
    for (y, (line, meta)) in rows.iter().enumerate() {
        let row_links = &meta.links;
        if row_links.is_empty() {
            continue;
        }
        // Where the row starts, as the paragraph aligns it.
        let free = usize::from(area.width).saturating_sub(line.width());
        let x0 = match line.alignment {
            Some(Alignment::Right) => free,
            Some(Alignment::Center) => free / 2,
            _ => 0,
        };
        for l in row_links {
            links.push(ScreenLink {
                x: area.x + (x0 + l.col) as u16,
                y: area.y + y as u16,
                text: l.text.clone(),
                url: l.url.clone(),
            });
        }
    }
    let shown: Vec<(Rect, String, bool)> = shown
        .into_iter()
        .map(|(r, u, cut)| (r, u.to_string(), cut))
        .collect();
    let lines: Vec<Line> = rows.into_iter().map(|(l, _)| l).collect();
    frame.render_widget(Paragraph::new(lines), area);
    for (r, url, cut) in &shown {
        if let Some(t) = thumbs.get(url) {
            // Cut at the bottom of the pane: its top part, where the protocol can draw a part
            // (half blocks, kitty); the others leave the rows empty.
            frame.render_widget(
                ratatui_image::Image::new(&t.protocol).allow_clipping(*cut),
                *r,
            );
        }
    }

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
    drawn.links = links;
    drawn
}

/// The rows of one message, styled: what is whose and how far a send has come, by colour.
fn lines(state: &AppState, laid: &MessageRows, thumbs: &Thumbs) -> Rows {
    let s = i18n::strings(state.lang);
    let align = if laid.own {
        Alignment::Right
    } else {
        Alignment::Left
    };
    let line = |t: &str, style: Style| Line::styled(t.to_string(), style).alignment(align);
    laid.rows
        .iter()
        .map(|row| {
            let mut row_links = Vec::new();
            let mut picture = None;
            let drawn = match row {
                Row::Picture { url, line: k } => {
                    picture = Some((url.clone(), *k, laid.own));
                    let indent = if laid.own { "" } else { "  " };
                    let (note, style) = match (state.pictures.get(url), thumbs.get(url)) {
                        (_, Some(_)) => (String::new(), Style::default()),
                        (Some(PictureView::Failed(why)), None) => (
                            format!(
                                "{indent}✗ {}",
                                i18n::detail(state.lang, &text::one_line(why))
                            ),
                            Style::default().fg(Color::Red),
                        ),
                        _ => (format!("{indent}⧗ {}", s.picture_loading), dim()),
                    };
                    if *k == 0 {
                        line(&note, style)
                    } else {
                        Line::default()
                    }
                }
                Row::Recalled(t) => line(t, dim().add_modifier(Modifier::ITALIC)),
                Row::Notice(t) => Line::styled(t.clone(), dim()),
                Row::TradeCard(t) => line(t, Style::default().fg(Color::Yellow)),
                Row::Header { sender, time } => Line::from(vec![
                    Span::styled(
                        sender.clone(),
                        Style::default()
                            .fg(if laid.own {
                                Color::Cyan
                            } else {
                                Color::Magenta
                            })
                            .add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(time.clone(), dim()),
                ])
                .alignment(align),
                Row::Body {
                    text,
                    kind,
                    tail,
                    links,
                } => {
                    let style = match kind {
                        BodyKind::Unknown => dim().add_modifier(Modifier::ITALIC),
                        BodyKind::Image => Style::default().fg(Color::Blue),
                        BodyKind::Text if laid.own => Style::default().fg(Color::LightCyan),
                        BodyKind::Text => Style::default(),
                    };
                    // Links underlined, in the text's own colour.
                    let mut spans = Vec::with_capacity(1 + 2 * links.len());
                    let mut at = 0;
                    let mut mine = Vec::new();
                    for l in links {
                        let (Some(before), Some(shown)) =
                            (text.get(at..l.range.start), text.get(l.range.clone()))
                        else {
                            continue;
                        };
                        if !before.is_empty() {
                            spans.push(Span::styled(before.to_string(), style));
                        }
                        mine.push(RowLink {
                            col: text::width(text.get(..l.range.start).unwrap_or("")),
                            text: shown.to_string(),
                            url: l.url.clone(),
                        });
                        spans.push(Span::styled(
                            shown.to_string(),
                            style.add_modifier(Modifier::UNDERLINED),
                        ));
                        at = l.range.end;
                    }
                    if let Some(rest) = text.get(at..).filter(|r| !r.is_empty() || spans.is_empty())
                    {
                        spans.push(Span::styled(rest.to_string(), style));
                    }
                    row_links = mine;
                    if let Some(tail) = tail {
                        if tail.gap {
                            spans.push(Span::raw(" "));
                        }
                        if let Some(time) = &tail.time {
                            spans.push(Span::styled(time.clone(), dim()));
                        }
                        if let Some((label, status)) = &tail.status {
                            if tail.time.is_some() {
                                spans.push(Span::raw(" "));
                            }
                            spans.push(Span::styled(label.clone(), status_style(*status)));
                        }
                    }
                    Line::from(spans).alignment(align)
                }
                Row::Unsaved(t) => line(t, Style::default().fg(Color::Yellow)),
                Row::Failed(t) => line(t, Style::default().fg(Color::Red)),
            };
            (
                drawn,
                RowMeta {
                    links: row_links,
                    picture,
                },
            )
        })
        .collect()
}

fn status_style(status: Status) -> Style {
    match status {
        Status::Queued => Style::default().fg(Color::Yellow),
        Status::Sending | Status::Sent => dim(),
        Status::Read => Style::default().fg(Color::Green),
        Status::Failed => Style::default().fg(Color::Red),
    }
}
