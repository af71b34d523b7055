//! What the messenger says about the several accounts of one data directory, in both
//! languages.

use super::i18n::Lang;

/// The key pressed with one account only.
pub fn only_one(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "这里只有一个账号；`goofish-tui login` 可以再添加一个",
        _ => "there is one account here; `goofish-tui login` adds another",
    }
}

/// Said while the next account's session opens.
pub fn switching(lang: Lang, to: &str) -> String {
    match lang {
        Lang::Zh => format!("正在切换到 {to}…"),
        _ => format!("switching to {to}…"),
    }
}

/// Said when the next account could not be opened (the one before is shown again).
pub fn cannot_switch(lang: Lang, to: &str, why: &str) -> String {
    match lang {
        Lang::Zh => format!("无法切换到 {to}：{why}"),
        _ => format!("cannot switch to {to}: {why}"),
    }
}
