//! The question asked before the messenger's first frame when the background core is of
//! another version: what runs, whether to restart it, and the keys.

use super::dim;
use crate::text::core_version::{self, Versions};
use crate::text::i18n::Lang;
use ratatui::Frame;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, lang: Lang, found: &Versions) {
    let area = frame.area();
    let lines = vec![
        Line::from(core_version::found(lang, found)),
        Line::from(""),
        Line::styled(
            core_version::question(lang),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::from(""),
        Line::styled(core_version::keys(lang, found.same_protocol()), dim()),
    ];
    let size = (area.width.saturating_sub(4).clamp(20, 64), 11);
    let text = Paragraph::new(lines).wrap(Wrap { trim: true });
    match super::popup(frame, area, size, (20, 7), core_version::title(lang)) {
        Some(inner) => frame.render_widget(text, inner),
        // Too small for a box: the words alone.
        None => frame.render_widget(text, area),
    }
}
