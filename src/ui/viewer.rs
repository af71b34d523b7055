//! The picture viewer over the message pane: what it is (size, keys), its link, and the
//! picture as large as the pane allows, centred.

use super::{Drawn, ScreenLink, dim};
use crate::app::{AppState, PictureView};
use crate::pictures::{Request, Thumbs};
use crate::text::{self, i18n, links};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, state: &AppState, url: &str, area: Rect, thumbs: &Thumbs) -> Drawn {
    let mut drawn = Drawn::default();
    frame.render_widget(Clear, area);
    if area.height < 3 || area.width < 4 {
        return drawn;
    }
    let s = i18n::strings(state.lang);
    let w = usize::from(area.width);
    let request = Request {
        url: url.to_string(),
        fit: Some((area.width, area.height - 2)),
    };
    let view = thumbs.view(&request);
    // The size is known from the thumbnail while the large picture loads.
    let size = view
        .or_else(|| thumbs.get(url))
        .map(|t| format!("{}×{} · ", t.width, t.height))
        .unwrap_or_default();
    let head = text::truncate(&format!("{} {size}{}", s.image, s.viewer_keys), w);
    frame.render_widget(
        Paragraph::new(Line::styled(
            head,
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Rect::new(area.x, area.y, area.width, 1),
    );
    let link = links::shorten(url, w);
    drawn.links.push(ScreenLink {
        x: area.x,
        y: area.y + 1,
        text: link.clone(),
        url: url.to_string(),
    });
    frame.render_widget(
        Paragraph::new(Line::styled(
            link,
            Style::default()
                .fg(Color::Blue)
                .add_modifier(Modifier::UNDERLINED),
        )),
        Rect::new(area.x, area.y + 1, area.width, 1),
    );
    let pic = Rect::new(area.x, area.y + 2, area.width, area.height - 2);
    match (view, state.pictures.get(url)) {
        (Some(t), _) => {
            let (cols, rows) = (t.cols.min(pic.width), t.rows.min(pic.height));
            let r = Rect::new(
                pic.x + (pic.width - cols) / 2,
                pic.y + (pic.height - rows) / 2,
                cols,
                rows,
            );
            frame.render_widget(ratatui_image::Image::new(&t.protocol), r);
        }
        (None, Some(PictureView::Failed(why))) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("✗ {}", i18n::detail(state.lang, &text::one_line(why))),
                    Style::default().fg(Color::Red),
                )),
                pic,
            );
        }
        (None, _) => {
            frame.render_widget(
                Paragraph::new(Line::styled(format!("⧗ {}", s.picture_loading), dim())),
                pic,
            );
            drawn.view = Some(request);
        }
    }
    drawn
}
