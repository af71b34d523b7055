//! The question the messenger asks before its first frame when the background core is of
//! another version, as a person reads it on an 80×24 terminal.
#![allow(clippy::unwrap_used)]

use goofish_tui::text::core_version::Versions;
use goofish_tui::text::i18n::Lang;

fn question(lang: Lang, their_protocol: u32) -> String {
    let found = Versions {
        theirs: "0.3.0",
        their_protocol,
        ours: "0.4.0",
        our_protocol: 1,
    };
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    t.draw(|f| goofish_tui::ui::core_question::draw(f, lang, &found))
        .unwrap();
    format!("{}", t.backend())
}

#[test]
fn an_older_core_of_the_same_protocol_80x24_zh() {
    let screen = question(Lang::Zh, 1);
    assert!(screen.contains("继续使用旧核心"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_core_of_another_protocol_80x24_en() {
    let screen = question(Lang::En, 2);
    assert!(screen.contains("protocol 2"), "{screen}");
    assert!(screen.contains("n quit"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_terminal_too_small_for_the_box_still_shows_the_question() {
    let found = Versions {
        theirs: "0.3.0",
        their_protocol: 1,
        ours: "0.4.0",
        our_protocol: 1,
    };
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(18, 6)).unwrap();
    t.draw(|f| goofish_tui::ui::core_question::draw(f, Lang::En, &found))
        .unwrap();
    let screen = format!("{}", t.backend());
    assert!(screen.contains("0.3.0"), "{screen}");
}
