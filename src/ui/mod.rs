//! ratatui views. Draws AppState; mutates nothing.
//!
//! Layout (see `app::layout`): conversation list on the left, the open conversation on the
//! right (item and peer at its head, messages, compose box), the status bar on the last line.

mod attach;
pub mod core_question;
mod list;
mod messages;
mod search;
mod status;
mod viewer;

use crate::app::layout;
use crate::app::{Action, AppState, Focus};
use crate::pictures::Thumbs;
use crate::text::{self, i18n};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// A link as drawn: its text from cell (`x`, `y`) on, and where it goes. The terminal is told
/// about it after the frame (OSC 8), as ratatui's cells hold no link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenLink {
    pub x: u16,
    pub y: u16,
    pub text: String,
    pub url: String,
}

/// What a frame drew that the terminal or the runtime must know about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    /// The links on screen (a popup may cover some: see `tui::hyperlinks`).
    pub links: Vec<ScreenLink>,
    /// Pictures in view with no thumbnail yet: to load.
    pub pictures: Vec<String>,
    /// The viewer's picture, at the size it is shown, when it is not ready.
    pub view: Option<crate::pictures::Request>,
}

/// Draws the whole screen (pictures as placeholders).
pub fn draw(frame: &mut Frame, state: &AppState) {
    draw_all(frame, state, &Thumbs::default());
}

/// Draws the whole screen, with the thumbnails in `thumbs`.
pub fn draw_all(frame: &mut Frame, state: &AppState, thumbs: &Thumbs) -> Drawn {
    let area = frame.area();
    let a = layout::with_compose(area.width, area.height, &state.compose);
    list::draw(frame, state, &a);
    let bar = Block::default().borders(Borders::LEFT).border_style(dim());
    frame.render_widget(bar, a.divider);
    let header_links = messages::draw_header(frame, state, a.header);
    let mut drawn = match &state.viewer {
        Some(url) => viewer::draw(frame, state, url, a.messages, thumbs),
        None => messages::draw(frame, state, a.messages, thumbs),
    };
    drawn.links.splice(0..0, header_links);
    draw_compose(frame, state, a.compose);
    status::draw(frame, state, a.status);
    if let Some(view) = &state.search {
        search::draw(frame, state, view, area);
    }
    if let Some(view) = &state.attach {
        attach::draw(frame, state, view, area);
    }
    if let Some(pick) = &state.quick {
        draw_quick(frame, state, pick, area);
    }
    if let Some(q) = &state.confirm {
        draw_confirm(frame, state, q, area);
    }
    if let Some(url) = &state.risk_popup {
        draw_risk(frame, state, url, area);
    }
    if let Some(view) = &state.login {
        draw_login(frame, state, view, area);
    }
    if state.help_open {
        draw_help(frame, state, area);
    }
    drawn
}

/// `s` cut into lines of at most `width` columns, by display width (a URL has no spaces to
/// wrap at, text may have none either).
fn hard_wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0;
    for g in unicode_segmentation::UnicodeSegmentation::graphemes(s, true) {
        let w = text::width(g);
        if used + w > width.max(1) && used > 0 {
            lines.push(String::new());
            used = 0;
        }
        if let Some(last) = lines.last_mut() {
            last.push_str(g);
        }
        used += w;
    }
    lines
}

/// The QR login over the whole screen, without a border: a login code takes 22 of 24 rows.
/// Light modules are drawn white on black, whatever the terminal's colours. A window too
/// small for the code says how big it must be.
fn draw_login(frame: &mut Frame, state: &AppState, view: &crate::app::LoginView, area: Rect) {
    let zh = state.lang == crate::text::i18n::Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    frame.render_widget(Clear, area);
    let qr_lines: Vec<&str> = view
        .qr
        .as_deref()
        .map_or(Vec::new(), |q| q.lines().collect());
    let qr_w = qr_lines.iter().map(|l| text::width(l)).max().unwrap_or(0) as u16;
    let qr_h = qr_lines.len() as u16;
    let status = if let Some(why) = &view.failed {
        format!(
            "{} {} · {}",
            pick("Login failed:", "登录失败："),
            text::one_line(why),
            pick("r retry · Esc close", "r 重试 · Esc 关闭")
        )
    } else if view.done {
        pick("Logged in; connecting…", "已登录，正在连接…").to_string()
    } else if view.scanned {
        pick(
            "Scanned. Confirm the login on the phone… (Esc close)",
            "已扫描，请在手机上确认登录…（Esc 关闭）",
        )
        .to_string()
    } else {
        pick(
            "Login expired. Scan with the Xianyu (闲鱼) app to log in again (Esc close)",
            "登录已失效。用闲鱼 App 扫码重新登录（Esc 关闭）",
        )
        .to_string()
    };
    let mut lines: Vec<Line> = Vec::new();
    let fits = qr_h < area.height && qr_w <= area.width;
    if fits && !qr_lines.is_empty() && view.failed.is_none() && !view.done {
        let pad = " ".repeat(usize::from((area.width - qr_w) / 2));
        let code = Style::default().fg(Color::White).bg(Color::Black);
        for l in &qr_lines {
            lines.push(Line::from(vec![
                Span::raw(pad.clone()),
                Span::styled(*l, code),
            ]));
        }
    } else if !fits && view.failed.is_none() && !view.done {
        let (w, h) = (qr_w, qr_h + 1);
        lines.push(Line::raw(if zh {
            format!(
                "窗口太小，放不下二维码：至少需要 {w}×{h}（现在 {}×{}）。",
                area.width, area.height
            )
        } else {
            format!(
                "The window is too small for the login code: it needs {w}×{h} (now {}×{}).",
                area.width, area.height
            )
        }));
        lines.push(Line::raw(pick(
            "Enlarge it, or run `goofish-tui login` in another terminal.",
            "请放大窗口，或在另一个终端运行 goofish-tui login。",
        )));
    }
    lines.push(Line::styled(
        status,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}

/// Risk control: the whole slider URL (never cut), what to do, and the keys.
fn draw_risk(frame: &mut Frame, state: &AppState, url: &str, area: Rect) {
    let s = i18n::strings(state.lang);
    let w = area.width.saturating_sub(2).min(78);
    let inner_w = usize::from(w.saturating_sub(2));
    let url = text::one_line(url);
    let mut lines: Vec<Line> = Vec::new();
    for l in hard_wrap(s.risk_explain, inner_w) {
        lines.push(Line::raw(l));
    }
    for l in hard_wrap(&url, inner_w) {
        lines.push(Line::styled(
            l,
            Style::default()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::UNDERLINED),
        ));
    }
    for l in hard_wrap(s.risk_auto, inner_w) {
        lines.push(Line::styled(l, dim()));
    }
    for l in hard_wrap(s.risk_keys, inner_w) {
        lines.push(Line::styled(
            l,
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    let h = (lines.len() + 2) as u16;
    let Some(inner) = popup(frame, area, (w, h), (20, 5), s.risk_title) else {
        return;
    };
    frame.render_widget(Paragraph::new(lines), inner);
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
        if focused {
            frame.set_cursor_position(Position::new(text_area.x, text_area.y));
        }
        return;
    }
    // Wrapped by display width here (not by the text area widget), so that the rows the
    // layout gave the box and the rows drawn are the same, and the caret is exact.
    let c = ta.cursor();
    let view = text::compose_view(
        ta.lines(),
        (c.0, c.1),
        usize::from(text_area.width),
        usize::from(text_area.height),
    );
    let rows: Vec<Line> = view.rows.into_iter().map(Line::raw).collect();
    frame.render_widget(Paragraph::new(rows), text_area);
    if focused {
        // The real cursor at the caret, so an input method opens its window there.
        let (row, col) = view.caret;
        let x = (text_area.x + col as u16).min(text_area.right().saturating_sub(1));
        let y = (text_area.y + row as u16).min(text_area.bottom().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, y));
    }
}

/// A popup that would leave a single column beside it takes that column too: one column of
/// the screen below, cut off, reads as stray letters.
fn fill_nearly_full(w: u16, room: u16) -> u16 {
    if room.saturating_sub(w) < 2 { room } else { w }
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
    let w = fill_nearly_full(w.min(area.width), area.width);
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

/// The quick-reply picker: each reply numbered and filled in for the conversation.
fn draw_quick(frame: &mut Frame, state: &AppState, pick: &crate::app::QuickPick, area: Rect) {
    let s = i18n::strings(state.lang);
    let values = crate::app::quick::values(state, &pick.cid);
    let n = state.quick_replies.len();
    let size = (
        area.width.saturating_sub(4).clamp(10, 72),
        (n as u16 + 3).min(area.height),
    );
    let Some(inner) = popup(frame, area, size, (10, 4), s.quick_title) else {
        return;
    };
    let iw = usize::from(inner.width);
    let room = usize::from(inner.height).saturating_sub(1);
    // Keep the highlighted one in view.
    let first = pick.selected.saturating_sub(room.saturating_sub(1));
    let mut lines: Vec<Line> = state
        .quick_replies
        .iter()
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, template)| {
            let (filled, missing) = crate::app::quick::fill(template, &values);
            let num = if i < 9 {
                format!("{} ", i + 1)
            } else {
                "  ".to_string()
            };
            let body = text::truncate(&text::one_line(&filled), iw.saturating_sub(2));
            let style = if i == pick.selected {
                Style::default().bg(Color::Indexed(24))
            } else {
                Style::default()
            };
            let body_style = if missing.is_empty() {
                Style::default()
            } else {
                dim()
            };
            Line::from(vec![
                Span::styled(num, Style::default().fg(Color::Yellow)),
                Span::styled(body, body_style),
            ])
            .style(style)
        })
        .collect();
    lines.push(Line::styled(text::truncate(s.quick_hint, iw), dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A yes/no question over the screen.
fn draw_confirm(frame: &mut Frame, state: &AppState, q: &crate::app::Confirm, area: Rect) {
    let s = i18n::strings(state.lang);
    let crate::app::Confirm::Recall { .. } = q;
    let w = (text::width(s.confirm_hint).max(text::width(s.confirm_recall)) + 4) as u16;
    let Some(inner) = popup(frame, area, (w, 4), (10, 4), s.recall_title) else {
        return;
    };
    let lines = vec![
        Line::styled(
            s.confirm_recall,
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::styled(s.confirm_hint, dim()),
    ];
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The help popup, generated from the active keymap: one column when it fits, else two
/// (keys joined tighter, descriptions cut to the room left).
fn draw_help(frame: &mut Frame, state: &AppState, area: Rect) {
    let s = i18n::strings(state.lang);
    let n = Action::ALL.len();
    let two = n + 3 > usize::from(area.height);
    let sep = if two { "/" } else { " / " };
    let rows: Vec<(String, &str)> = Action::ALL
        .into_iter()
        .map(|a| {
            let keys = state
                .keymap
                .keys(a)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(sep);
            (keys, a.help(state.lang))
        })
        .collect();
    let per_col = if two { n.div_ceil(2) } else { n };
    let widest = |from: usize, f: &dyn Fn(&(String, &str)) -> usize| {
        rows.iter()
            .skip(from)
            .take(per_col)
            .map(f)
            .max()
            .unwrap_or(0)
    };
    let cols = if two { 2 } else { 1 };
    // Keys and descriptions, per column.
    let key_ws: Vec<usize> = (0..cols)
        .map(|c| widest(c * per_col, &|(k, _)| text::width(k)))
        .collect();
    let desc_w = rows.iter().map(|(_, d)| text::width(d)).max().unwrap_or(0);
    let inner_w = usize::from(area.width.saturating_sub(2));
    let keys_w: usize = key_ws.iter().sum();
    let desc_room = desc_w.min(inner_w.saturating_sub(keys_w + 3 * cols) / cols);
    let col_ws: Vec<usize> = key_ws.iter().map(|k| k + 4 + desc_room).collect();
    let w = fill_nearly_full(
        (col_ws.iter().sum::<usize>() + 2).min(usize::from(area.width)) as u16,
        area.width,
    );
    let h = (per_col + 3).min(usize::from(area.height)) as u16;
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let cell = |i: usize| -> Vec<Span<'static>> {
        let col_w = col_ws.get(i / per_col).copied().unwrap_or(0);
        let Some((k, d)) = rows.get(i) else {
            return vec![Span::raw(" ".repeat(col_w))];
        };
        let kw = key_ws[i / per_col].min(col_w.saturating_sub(4));
        let dw = col_w.saturating_sub(kw + 4);
        vec![
            Span::styled(text::pad(k, kw), Style::default().fg(Color::Yellow)),
            Span::raw("  "),
            Span::raw(text::pad(d, dw)),
            Span::raw("  "),
        ]
    };
    let mut lines: Vec<Line> = (0..per_col)
        .map(|r| {
            let mut spans = cell(r);
            if two {
                spans.extend(cell(r + per_col));
            }
            Line::from(spans)
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
