//! Where each pane sits for a terminal size. Shared by the views and by the reducer (mouse
//! hits, page sizes), so both agree.

use ratatui::layout::{Position, Rect};

/// Rows per conversation in the list.
pub const CONV_ROWS: u16 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Conversation list, including its filter line when one is set.
    pub list: Rect,
    /// Divider between list and the right side.
    pub divider: Rect,
    /// Item title and price of the open conversation.
    pub header: Rect,
    pub messages: Rect,
    /// Compose box including its top rule.
    pub compose: Rect,
    pub status: Rect,
}

/// Rows the compose box's text gets for `text_rows` rows of (wrapped) text in a right-hand
/// pane `pane_h` rows high: all of them up to a third of the pane (at least 1, at most 8);
/// more scroll.
pub fn compose_rows(text_rows: usize, pane_h: u16) -> u16 {
    let most = (pane_h / 3).clamp(1, 8);
    (text_rows.clamp(1, usize::from(most))) as u16
}

fn list_width(width: u16) -> u16 {
    if width >= 100 {
        (width * 3 / 10).clamp(30, 44)
    } else {
        (width * 7 / 20).max(10).min(width)
    }
}

/// Width of the right-hand side (header, messages, compose box).
pub fn right_width(width: u16) -> u16 {
    width.saturating_sub((list_width(width) + 1).min(width))
}

/// The panes for a `width` × `height` terminal with `compose_rows` rows of compose text (as
/// wrapped at the right-hand side's width).
pub fn layout(width: u16, height: u16, compose_rows_wanted: usize) -> Areas {
    let status = Rect::new(0, height.saturating_sub(1), width, height.min(1));
    let body_h = height.saturating_sub(1);
    let list_w = list_width(width);
    let list = Rect::new(0, 0, list_w, body_h);
    let divider = Rect::new(list_w, 0, width.saturating_sub(list_w).min(1), body_h);
    let right_x = (list_w + 1).min(width);
    let right_w = width.saturating_sub(right_x);
    let header_h = body_h.min(2);
    let header = Rect::new(right_x, 0, right_w, header_h);
    // Compose: a rule line plus its text rows, leaving the messages at least 3 rows.
    let want = compose_rows(compose_rows_wanted, body_h.saturating_sub(header_h)) + 1;
    let compose_h = want
        .min(body_h.saturating_sub(header_h + 3))
        .max(body_h.min(2));
    let compose_h = compose_h.min(body_h.saturating_sub(header_h));
    let compose = Rect::new(
        right_x,
        body_h.saturating_sub(compose_h),
        right_w,
        compose_h,
    );
    let messages = Rect::new(
        right_x,
        header_h,
        right_w,
        body_h.saturating_sub(header_h + compose_h),
    );
    Areas {
        list,
        divider,
        header,
        messages,
        compose,
        status,
    }
}

/// The panes for a `width` × `height` terminal with `compose` as typed.
pub fn with_compose(width: u16, height: u16, compose: &ratatui_textarea::TextArea<'_>) -> Areas {
    let c = compose.cursor();
    let rows =
        crate::text::compose_rows(compose.lines(), (c.0, c.1), usize::from(right_width(width)));
    layout(width, height, rows)
}

impl Areas {
    /// The list rows that show conversations (below the filter line when there is one).
    pub fn list_rows(&self, filter_shown: bool) -> Rect {
        if filter_shown {
            Rect::new(
                self.list.x,
                self.list.y + self.list.height.min(1),
                self.list.width,
                self.list.height.saturating_sub(1),
            )
        } else {
            self.list
        }
    }

    /// The compose box's text area (below its rule).
    pub fn compose_text(&self) -> Rect {
        let c = self.compose;
        Rect::new(
            c.x,
            c.y + c.height.min(1),
            c.width,
            c.height.saturating_sub(1),
        )
    }

    pub fn hit(&self, col: u16, row: u16) -> Option<Pane> {
        let p = Position::new(col, row);
        if self.list.contains(p) {
            Some(Pane::List)
        } else if self.messages.contains(p) || self.header.contains(p) {
            Some(Pane::Messages)
        } else if self.compose.contains(p) {
            Some(Pane::Compose)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    List,
    Messages,
    Compose,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_fit_and_do_not_overlap() {
        for (w, h) in [(80, 24), (120, 40), (20, 5), (1, 1), (0, 0)] {
            let a = layout(w, h, 3);
            for r in [a.list, a.header, a.messages, a.compose, a.status] {
                assert!(r.right() <= w && r.bottom() <= h, "{w}x{h}: {r:?}");
            }
            assert!(a.messages.bottom() <= a.compose.y || a.messages.height == 0);
        }
        let a = layout(80, 24, 1);
        assert_eq!(a.status.y, 23);
        assert_eq!(a.compose.height, 2);
        assert_eq!(a.hit(0, 0), Some(Pane::List));
        assert_eq!(a.hit(79, 22), Some(Pane::Compose));
    }
}
