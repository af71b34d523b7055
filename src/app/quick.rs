//! Quick replies: the answers a seller gives all day, with the buyer's nickname, the item and
//! its price filled in. The picker (Ctrl-T) puts one into the compose box; `send --quick N`
//! sends one from a script.

use super::keymap::Action;
use super::state::{AppState, Focus};
use super::{Effect, update};
use crate::protocol::{Cid, Conversation, ItemInfo};
use crate::text::i18n::Lang;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The built-in replies for a first run, by language.
pub fn defaults(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Zh => &[
            "在的，亲，有什么可以帮您？",
            "{item} 还在，可以直接拍下",
            "现价 ¥{price}，已经很实惠了，不议价哦",
            "可以包邮",
            "今天拍下今天发货，发顺丰",
            "已发货，请注意查收",
            "好的，我确认一下马上回复您",
            "感谢购买，满意的话请给个好评～",
        ],
        _ => &[
            "Hi {nick}, yes, it is still available.",
            "{item} is still available, you can order it directly.",
            "It is ¥{price}, already a fair price, sorry, no bargaining.",
            "Free shipping is fine.",
            "Order today and it ships today by SF Express.",
            "Shipped, please look out for it.",
            "OK, let me check and get back to you.",
            "Thanks for buying! A good rating would be much appreciated.",
        ],
    }
}

/// The replies in use: the configured ones, else the built-in ones of `lang`.
pub fn resolve(configured: Option<&[String]>, lang: Lang) -> Vec<String> {
    match configured {
        Some(list) => list.to_vec(),
        None => defaults(lang).iter().map(|s| s.to_string()).collect(),
    }
}

/// What a reply's placeholders are filled with; `None` where it is not known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    pub nick: Option<String>,
    pub item: Option<String>,
    pub price: Option<String>,
}

impl Values {
    /// The values of a conversation, with the item details when they were looked up.
    pub fn of(conv: &Conversation, item: Option<&ItemInfo>) -> Values {
        let clean = |s: &str| Some(crate::text::one_line(s)).filter(|s| !s.is_empty());
        Values {
            nick: conv.peer_nick.as_deref().and_then(clean),
            item: item
                .map(|i| i.title.as_str())
                .or(conv.item_title.as_deref())
                .and_then(clean),
            price: item.and_then(|i| i.price.as_deref()).and_then(clean),
        }
    }
}

/// The placeholders a reply may hold.
pub const PLACEHOLDERS: [&str; 3] = ["{nick}", "{item}", "{price}"];

/// `template` with its placeholders filled; a placeholder whose value is unknown stays as it
/// is (so it shows, and the seller sees what is missing), and is listed in the second value.
pub fn fill(template: &str, v: &Values) -> (String, Vec<&'static str>) {
    let mut out = template.to_string();
    let mut missing = Vec::new();
    for (name, value) in PLACEHOLDERS.iter().zip([&v.nick, &v.item, &v.price]) {
        if !out.contains(name) {
            continue;
        }
        match value {
            Some(val) => out = out.replace(name, val),
            None => missing.push(*name),
        }
    }
    (out, missing)
}

/// The picker's state: which conversation it fills for and the highlighted row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuickPick {
    pub cid: Cid,
    pub selected: usize,
}

/// The values for `cid` as the state knows them.
pub fn values(state: &AppState, cid: &Cid) -> Values {
    match state.conversation(cid) {
        Some(c) => Values::of(c, c.item_id.as_ref().and_then(|i| state.items.get(i))),
        None => Values::default(),
    }
}

/// Opens the picker for the open conversation (from the compose box) or the selected one
/// (from the list).
pub(crate) fn open(state: &mut AppState, fx: &mut Vec<Effect>) {
    let target = match state.focus {
        Focus::List => state.selected.clone().or_else(|| state.open.clone()),
        _ => state.open.clone().or_else(|| state.selected.clone()),
    };
    let s = crate::text::i18n::strings(state.lang);
    let Some(cid) = target else {
        state.notice = Some(s.quick_needs_chat.into());
        return;
    };
    if state.quick_replies.is_empty() {
        state.notice = Some(s.quick_none.into());
        return;
    }
    // The price is only known from the item's details: ask for them now.
    if let Some(item) = state.conversation(&cid).and_then(|c| c.item_id.clone())
        && !state.items.contains_key(&item)
    {
        fx.push(Effect::Im(crate::im::api::ImCommand::FetchItem {
            item_id: item,
        }));
    }
    state.quick = Some(QuickPick { cid, selected: 0 });
}

/// A key while the picker is open: a digit or Enter picks, arrows move, Esc closes.
pub(crate) fn on_key(
    state: &mut AppState,
    key: KeyEvent,
    actions: &[Action],
    fx: &mut Vec<Effect>,
) {
    let Some(pick) = state.quick.as_mut() else {
        return;
    };
    let n = state.quick_replies.len();
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => state.quick = None,
        KeyCode::Enter => choose(state, None, fx),
        KeyCode::Char(c @ '1'..='9') if !ctrl => {
            let i = usize::from(c as u8 - b'1');
            if i < n {
                choose(state, Some(i), fx);
            }
        }
        KeyCode::Up => pick.selected = pick.selected.saturating_sub(1),
        KeyCode::Down => pick.selected = (pick.selected + 1).min(n.saturating_sub(1)),
        KeyCode::Char('p') if ctrl => pick.selected = pick.selected.saturating_sub(1),
        KeyCode::Char('n') if ctrl => pick.selected = (pick.selected + 1).min(n.saturating_sub(1)),
        _ => {
            if actions.contains(&Action::Up) {
                pick.selected = pick.selected.saturating_sub(1);
            } else if actions.contains(&Action::Down) {
                pick.selected = (pick.selected + 1).min(n.saturating_sub(1));
            } else if actions
                .iter()
                .any(|a| matches!(a, Action::ForceQuit | Action::QuickReply | Action::Back))
            {
                state.quick = None;
            }
        }
    }
}

/// Puts reply `index` (the highlighted one when `None`) into the compose box of the picker's
/// conversation, opening it when needed. Not sent: Enter sends it.
fn choose(state: &mut AppState, index: Option<usize>, fx: &mut Vec<Effect>) {
    let Some(pick) = state.quick.take() else {
        return;
    };
    let i = index.unwrap_or(pick.selected);
    let Some(template) = state.quick_replies.get(i).cloned() else {
        return;
    };
    let (text, _) = fill(&template, &values(state, &pick.cid));
    if state.open.as_ref() != Some(&pick.cid) {
        update::open(state, pick.cid.clone(), fx);
    }
    state.focus = Focus::Compose;
    state.compose.insert_str(&text);
    update::draft_changed(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_stay() {
        let v = Values {
            nick: Some("张三😀".into()),
            item: Some("iPhone 13".into()),
            price: None,
        };
        assert_eq!(
            fill("{nick}，{item} 还在", &v),
            ("张三😀，iPhone 13 还在".to_string(), vec![])
        );
        assert_eq!(
            fill("现价 ¥{price}，{item}", &v),
            ("现价 ¥{price}，iPhone 13".to_string(), vec!["{price}"])
        );
        assert_eq!(fill("在的", &Values::default()).0, "在的");
    }

    #[test]
    fn defaults_come_in_both_languages() {
        assert!(defaults(Lang::Zh).iter().any(|r| r.contains("{item}")));
        assert!(defaults(Lang::En).iter().any(|r| r.contains("{price}")));
        assert_eq!(defaults(Lang::Zh).len(), defaults(Lang::En).len());
        assert_eq!(resolve(Some(&["a".to_string()]), Lang::Zh), vec!["a"]);
        assert_eq!(resolve(None, Lang::En).len(), defaults(Lang::En).len());
    }
}
