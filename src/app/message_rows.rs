//! The rows of one message in the message pane: which text goes on which row (wrapped at the
//! pane's width, a header above the first of a group, the time and the delivery after an own
//! message, the notes under an unsaved or a failed send) and the day separator above the first
//! message of a day. Pure and unstyled: the reducer counts these rows to scroll through a
//! message taller than the pane, and the view styles and draws the same rows, so the two cannot
//! disagree.

use super::{AppState, Delivery, Entry};
use crate::protocol::{Cid, Content, Conversation};
use crate::text::links::{self, Link};
use crate::text::{self, i18n, timefmt};

/// Messages from one sender within this long of each other share a header.
const GROUP_MS: i64 = 5 * 60 * 1000;
/// Rows a picture's thumbnail takes, whether it is loaded yet or not (nothing moves when it
/// arrives).
pub const THUMB_ROWS: u16 = 6;
/// Widest a thumbnail is, in cells.
pub const THUMB_COLS: u16 = 24;

/// One message laid out at a width.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageRows {
    /// The separator above the first message of a day.
    pub day: Option<String>,
    /// An own message: its rows sit on the right.
    pub own: bool,
    /// The message's rows, top to bottom.
    pub rows: Vec<Row>,
}

impl MessageRows {
    /// Terminal rows the message takes, with its day separator.
    pub fn height(&self) -> usize {
        self.rows.len() + usize::from(self.day.is_some())
    }

    /// Whether the first row is a header (name and time) rather than the message itself.
    pub fn has_header(&self) -> bool {
        matches!(self.rows.first(), Some(Row::Header { .. }))
    }
}

/// What one row holds, each text exactly as it goes on the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    /// "12:03 you recalled a message", cut to the width.
    Recalled(String),
    /// A row of a platform notice (indented on the peer's side).
    Notice(String),
    /// A trade card: its title and order state on one row.
    TradeCard(String),
    /// The sender's name and the time, above the first of a group of the buyer's messages.
    Header { sender: String, time: String },
    /// A row of what was written (indented on the peer's side); the last may carry the tail.
    /// A URL on it is shown shortened, whole on this row; `links` says where and to what.
    Body {
        text: String,
        kind: BodyKind,
        tail: Option<Tail>,
        links: Vec<Link>,
    },
    /// Row `line` of the thumbnail of the picture at `url` (when pictures are shown).
    Picture { url: String, line: u16 },
    /// A row of the warning under a pending send that the stored outbox could not take.
    Unsaved(String),
    /// A row of why a send failed and what can be done about it.
    Failed(String),
}

/// What a message's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Text,
    Image,
    Unknown,
}

/// After an own message's text: when (the first of a group), then where it is on its way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// A space between the text and the tail (none on a row of its own).
    pub gap: bool,
    pub time: Option<String>,
    pub status: Option<(String, Status)>,
}

/// Where an own message is on its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Read,
    Failed,
}

/// Rows entry `i` of `cid`'s thread takes in a pane `width` columns wide (with its day
/// separator), for scrolling through messages taller than the pane.
pub fn count(state: &AppState, cid: &Cid, i: usize, width: u16) -> usize {
    let Some(thread) = state.thread(cid) else {
        return 0;
    };
    layout(
        state,
        state.conversation(cid),
        thread.entries(),
        i,
        usize::from(width),
    )
    .height()
}

/// Entry `i` of `entries` (a conversation's thread, `conv`) laid out `w` columns wide.
pub fn layout(
    state: &AppState,
    conv: Option<&Conversation>,
    entries: &[Entry],
    i: usize,
    w: usize,
) -> MessageRows {
    let Some(e) = entries.get(i) else {
        return MessageRows::default();
    };
    let grouped = continues_group(state, entries, i);
    MessageRows {
        day: new_day(state, entries, i).then(|| day_separator(state, e.time, w)),
        own: e.is_self,
        rows: rows(state, conv, e, w, grouped),
    }
}

fn new_day(state: &AppState, entries: &[Entry], i: usize) -> bool {
    let day = |k: usize| entries.get(k).map(|e| timefmt::day(e.time, &state.tz));
    i == 0 || day(i - 1) != day(i)
}

/// A message that needs no header of its own: the same sender wrote the one before it, on
/// the same day, within `GROUP_MS`, and both are things a person wrote.
fn continues_group(state: &AppState, entries: &[Entry], i: usize) -> bool {
    let (Some(prev), Some(e)) = (
        i.checked_sub(1).and_then(|p| entries.get(p)),
        entries.get(i),
    ) else {
        return false;
    };
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

fn day_separator(state: &AppState, ms: i64, w: usize) -> String {
    let label = format!(" {} ", timefmt::day_label(ms, &state.tz, state.lang));
    let label = text::truncate(&label, w);
    let side = w.saturating_sub(text::width(&label)) / 2;
    format!("{}{label}{}", "─".repeat(side), "─".repeat(side))
}

fn status(state: &AppState, d: &Delivery) -> Option<(String, Status)> {
    let s = i18n::strings(state.lang);
    let (label, status) = match d {
        Delivery::Incoming => return None,
        Delivery::Queued => (s.queued, Status::Queued),
        Delivery::Sending => (s.sending, Status::Sending),
        Delivery::Sent => (s.sent, Status::Sent),
        Delivery::Read => (s.read, Status::Read),
        Delivery::Failed(_) => (s.failed, Status::Failed),
    };
    Some((label.to_string(), status))
}

/// The rows of one message at width `w`; `grouped`: it shares the header of the message
/// before it.
fn rows(
    state: &AppState,
    conv: Option<&Conversation>,
    e: &Entry,
    w: usize,
    grouped: bool,
) -> Vec<Row> {
    let s = i18n::strings(state.lang);
    let m = e;
    let time = timefmt::clock(m.time, &state.tz);
    let own = m.is_self;
    let indent = if own { "" } else { "  " };
    let body_w = w.saturating_sub(2).max(1);

    match (&m.content, e.recalled) {
        (_, true) => {
            let what = if own {
                s.recalled_self
            } else {
                s.recalled_peer
            };
            return vec![Row::Recalled(text::truncate(&format!("{time} {what}"), w))];
        }
        (Content::Notice { text: t }, _) => {
            return text::wrap(&format!("{time} {t}"), body_w)
                .into_iter()
                .map(|l| Row::Notice(format!("{indent}{l}")))
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
            return vec![Row::TradeCard(text::truncate(&line, w))];
        }
        _ => {}
    }

    let mut out = Vec::new();
    if has_header(e, grouped) {
        let sender = m
            .sender_nick
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(text::one_line)
            .or_else(|| {
                conv.and_then(|c| c.peer_nick.as_deref())
                    .map(text::one_line)
            })
            .unwrap_or_else(|| m.sender.as_str().to_string());
        out.push(Row::Header {
            sender: text::truncate(&sender, w / 2),
            time: format!(" {time}"),
        });
    }

    let (body, kind) = match &m.content {
        Content::Text { text: t } => (t.to_string(), BodyKind::Text),
        Content::Image { urls } if urls.is_empty() => (s.image.to_string(), BodyKind::Image),
        Content::Image { urls } => (
            urls.iter()
                .map(|u| format!("{} {u}", s.image))
                .collect::<Vec<_>>()
                .join("\n"),
            BodyKind::Image,
        ),
        Content::Unknown {
            content_type,
            summary,
        } => (
            format!("{} #{content_type} {summary}", s.unknown_content),
            BodyKind::Unknown,
        ),
        Content::Notice { .. } | Content::TradeCard(_) => (String::new(), BodyKind::Text),
    };
    // After an own message's text: when (the first of a group), then where it is on its way.
    let tail_time = (own && !grouped).then(|| time.clone());
    let tail_status = status(state, &e.delivery);
    let has_tail = tail_time.is_some() || tail_status.is_some();
    let tail_w = tail_time.as_deref().map_or(0, text::width)
        + usize::from(tail_time.is_some() && tail_status.is_some())
        + tail_status.as_ref().map_or(0, |(l, _)| text::width(l));
    if let (Content::Image { urls }, true) = (&m.content, state.images) {
        // Each picture's thumbnail, its link under it; one that failed, a row saying why.
        for url in urls {
            let failed = matches!(state.pictures.get(url), Some(super::PictureView::Failed(_)));
            for line in 0..if failed { 1 } else { THUMB_ROWS } {
                out.push(Row::Picture {
                    url: url.clone(),
                    line,
                });
            }
        }
    }
    let mut lines = links::wrap(&body, body_w);
    // The tail goes after the last row, or below it when there is no room.
    let fits = lines
        .last()
        .is_some_and(|last| text::width(&last.text) + 1 + tail_w <= body_w);
    if has_tail && !fits {
        lines.push(Default::default());
    }
    let last = lines.len().saturating_sub(1);
    for (k, l) in lines.into_iter().enumerate() {
        let tail = (k == last && has_tail).then(|| Tail {
            gap: !l.text.is_empty(),
            time: tail_time.clone(),
            status: tail_status.clone(),
        });
        let shift = indent.len();
        out.push(Row::Body {
            text: format!("{indent}{}", l.text),
            kind,
            tail,
            links: l
                .links
                .into_iter()
                .map(|k| Link {
                    range: k.range.start + shift..k.range.end + shift,
                    url: k.url,
                })
                .collect(),
        });
    }
    if e.unsaved && matches!(e.delivery, Delivery::Queued | Delivery::Sending) {
        for l in text::wrap(&format!("⚠ {}", s.not_saved), body_w) {
            out.push(Row::Unsaved(l));
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
            out.push(Row::Failed(l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Thread, UiOptions};
    use crate::protocol::{Message, MessageId, Uid};
    use crate::text::i18n::Lang;

    fn msg(id: &str, is_self: bool, time: i64, text: &str) -> Message {
        Message {
            id: MessageId::new(id),
            cid: Cid::new("1"),
            sender: Uid::new(if is_self { "8" } else { "9" }),
            is_self,
            time,
            content: Content::Text { text: text.into() },
            item_id: None,
            sender_nick: Some("小王".into()),
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: None,
        }
    }

    fn body(r: &Row) -> &str {
        match r {
            Row::Body { text, .. } => text,
            other => panic!("not a body row: {other:?}"),
        }
    }

    #[test]
    fn a_group_shares_one_header_and_an_own_message_carries_its_time_and_delivery() {
        let opts = UiOptions {
            lang: Lang::En,
            ..UiOptions::default()
        };
        let tz = chrono::FixedOffset::east_opt(0).unwrap();
        let (mut state, _) = AppState::new(&opts, tz, 0);
        let cid = Cid::new("1");
        let mut t = Thread::default();
        t.add_message(
            msg("1.PNM", false, 1_000, "能便宜吗能便宜吗能"),
            Delivery::Incoming,
        );
        t.add_message(msg("2.PNM", false, 2_000, "在吗"), Delivery::Incoming);
        t.add_message(msg("3.PNM", true, 3_000, "在的"), Delivery::Sent);
        state.threads.insert(cid.clone(), t);
        let entries = state.thread(&cid).unwrap().entries();

        // 12 columns: 10 for the text, indented by 2 on the buyer's side.
        let first = layout(&state, None, entries, 0, 12);
        assert!(first.day.is_some() && first.has_header() && !first.own);
        assert_eq!(
            first.rows[0],
            Row::Header {
                sender: "小王".into(),
                time: " 00:00".into()
            }
        );
        let wrapped: Vec<&str> = first.rows[1..].iter().map(body).collect();
        assert_eq!(wrapped, ["  能便宜吗能", "  便宜吗能"]);
        assert_eq!(first.height(), 4);

        let second = layout(&state, None, entries, 1, 12);
        assert!(second.day.is_none() && !second.has_header());
        assert_eq!(second.rows.len(), 1);

        // "在的 00:00 ✓sent" does not fit in 10 columns: the tail takes a row of its own.
        let own = layout(&state, None, entries, 2, 12);
        assert!(own.own);
        let [
            Row::Body {
                text, tail: None, ..
            },
            Row::Body {
                text: under,
                tail: Some(tail),
                ..
            },
        ] = own.rows.as_slice()
        else {
            panic!("{own:?}");
        };
        assert_eq!((text.as_str(), under.as_str()), ("在的", ""));
        assert!(!tail.gap);
        assert_eq!(tail.time.as_deref(), Some("00:00"));
        assert_eq!(tail.status.as_ref().map(|s| s.1), Some(Status::Sent));
        // With room, it follows the text.
        let wide = layout(&state, None, entries, 2, 40);
        assert_eq!(wide.rows.len(), 1);

        for (i, laid) in [first, second, own].iter().enumerate() {
            assert_eq!(count(&state, &cid, i, 12), laid.height());
        }
        assert_eq!(count(&state, &cid, 3, 12), 0);
    }
}
