//! Every string the UI shows, in Chinese and English.

use serde::Deserialize;

/// UI language. `Auto` follows the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Auto,
    Zh,
    En,
}

impl Lang {
    /// Resolves `Auto` with the process environment.
    pub fn resolve(self) -> Lang {
        self.resolve_with(|k| std::env::var(k).ok())
    }

    /// Resolves `Auto` with `env` (a lookup like `std::env::var`): the first non-empty of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` decides, as POSIX orders them.
    pub fn resolve_with(self, env: impl Fn(&str) -> Option<String>) -> Lang {
        match self {
            Lang::Auto => {
                let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
                    .iter()
                    .filter_map(|k| env(k))
                    .find(|v| !v.trim().is_empty())
                    .unwrap_or_default();
                if locale.to_ascii_lowercase().starts_with("zh") {
                    Lang::Zh
                } else {
                    Lang::En
                }
            }
            l => l,
        }
    }
}

/// The strings of one language.
pub struct Strings {
    pub conn_connecting: &'static str,
    pub conn_registering: &'static str,
    pub conn_live: &'static str,
    pub conn_reconnecting: &'static str,
    pub conn_needs_login: &'static str,
    /// How to log in again without leaving the program.
    pub login_hint: &'static str,
    pub conn_risk: &'static str,
    pub conn_removed: &'static str,
    pub conn_stopped: &'static str,
    pub backfill: &'static str,
    pub unread: &'static str,
    pub me: &'static str,
    pub help_hint: &'static str,
    pub no_conversations: &'static str,
    pub no_conversation_open: &'static str,
    pub loading: &'static str,
    pub no_more_history: &'static str,
    pub image: &'static str,
    pub recalled: &'static str,
    pub unknown_content: &'static str,
    pub queued: &'static str,
    pub sending: &'static str,
    pub sent: &'static str,
    pub read: &'static str,
    pub failed: &'static str,
    pub retry_hint: &'static str,
    pub not_saved: &'static str,
    pub new_below: &'static str,
    pub compose_placeholder: &'static str,
    pub compose_offline: &'static str,
    pub filter: &'static str,
    pub typing: &'static str,
    pub pinned: &'static str,
    pub muted: &'static str,
    pub help_title: &'static str,
    pub help_close: &'static str,
    pub title: &'static str,
    pub now: &'static str,
    pub yesterday: &'static str,
    pub history_failed: &'static str,
    pub no_store: &'static str,
    pub cached: &'static str,
    pub searching: &'static str,
    pub search_none: &'static str,
    pub search_hint: &'static str,
    pub search_title: &'static str,
    pub search_unavailable: &'static str,
    pub attach_title: &'static str,
    pub attach_hint: &'static str,
    pub attach_needs_chat: &'static str,
}

pub static ZH: Strings = Strings {
    conn_connecting: "连接中…",
    conn_registering: "注册中…",
    conn_live: "在线",
    conn_reconnecting: "重连",
    conn_needs_login: "需要登录",
    login_hint: "在另一个终端运行 goofish-tui login 扫码，本窗口会自动恢复",
    conn_risk: "风控验证，请在浏览器打开",
    conn_removed: "会话被移除",
    conn_stopped: "已停止",
    backfill: "补齐",
    unread: "未读",
    me: "我",
    help_hint: "?帮助",
    no_conversations: "暂无会话",
    no_conversation_open: "按 Enter 打开会话",
    loading: "加载中…",
    no_more_history: "没有更早的消息",
    image: "[图片]",
    recalled: "[消息已撤回]",
    unknown_content: "[不支持的消息]",
    queued: "⏳排队",
    sending: "…发送中",
    sent: "✓已发送",
    read: "✓✓已读",
    failed: "✗失败",
    retry_hint: "按 r 重试",
    not_saved: "未能存入本地发件箱：发出前退出程序会丢失",
    new_below: "条新消息 ↓",
    compose_placeholder: "输入消息，Enter 发送，Alt+Enter 换行",
    compose_offline: "离线：消息将排队发送",
    filter: "筛选",
    typing: "正在输入…",
    pinned: "📌",
    muted: "🔕",
    help_title: "快捷键",
    help_close: "按任意键关闭",
    title: "闲鱼",
    now: "刚刚",
    yesterday: "昨天",
    history_failed: "加载历史失败",
    no_store: "无本地记录",
    cached: "缓存",
    searching: "搜索中…",
    search_none: "没有结果",
    search_hint: "输入关键词 · ↑↓ 选择 · Enter 跳转 · Esc 关闭",
    search_title: "搜索",
    search_unavailable: "没有本地记录，无法搜索",
    attach_title: "发送图片",
    attach_hint: "输入或拖入图片文件路径 · JPEG/PNG/GIF/WebP，最大 5 MB · Enter 发送 · Esc 取消",
    attach_needs_chat: "先打开一个会话，再发送图片",
};

pub static EN: Strings = Strings {
    conn_connecting: "connecting…",
    conn_registering: "registering…",
    conn_live: "live",
    conn_reconnecting: "reconnecting",
    conn_needs_login: "login needed",
    login_hint: "run `goofish-tui login` in another terminal; this one resumes by itself",
    conn_risk: "risk control, open in a browser",
    conn_removed: "session removed",
    conn_stopped: "stopped",
    backfill: "catching up",
    unread: "unread",
    me: "me",
    help_hint: "? help",
    no_conversations: "no conversations",
    no_conversation_open: "press Enter to open a conversation",
    loading: "loading…",
    no_more_history: "no older messages",
    image: "[image]",
    recalled: "[message recalled]",
    unknown_content: "[unsupported message]",
    queued: "⏳queued",
    sending: "…sending",
    sent: "✓sent",
    read: "✓✓read",
    failed: "✗failed",
    retry_hint: "press r to retry",
    not_saved: "not saved on disk: lost if the program ends before it is sent",
    new_below: "new ↓",
    compose_placeholder: "type a message, Enter sends, Alt+Enter for a new line",
    compose_offline: "offline: messages will be queued",
    filter: "filter",
    typing: "typing…",
    pinned: "📌",
    muted: "🔕",
    help_title: "Keys",
    help_close: "any key closes",
    title: "Goofish",
    now: "now",
    yesterday: "yesterday",
    history_failed: "history failed",
    no_store: "no local history",
    cached: "cached",
    searching: "searching…",
    search_none: "no results",
    search_hint: "type to search · ↑↓ select · Enter jumps · Esc closes",
    search_title: "Search",
    search_unavailable: "search needs the local history, which is not available",
    attach_title: "Send a picture",
    attach_hint: "type or drop a file path · JPEG/PNG/GIF/WebP up to 5 MB · Enter sends · Esc cancels",
    attach_needs_chat: "open a conversation first to send a picture",
};

/// The strings of `lang` (`Auto` resolves to English; resolve it first).
pub fn strings(lang: Lang) -> &'static Strings {
    match lang {
        Lang::Zh => &ZH,
        _ => &EN,
    }
}

/// "in 3 s (attempt 2): <error>" for the reconnecting status.
pub fn reconnect_detail(lang: Lang, secs: u64, attempt: u32, last_error: &str) -> String {
    match lang {
        Lang::Zh => format!("{secs}秒后 (第{attempt}次) {last_error}"),
        _ => format!("in {secs}s (attempt {attempt}) {last_error}"),
    }
}

/// "5分钟" / "5m".
pub fn minutes_ago(lang: Lang, m: i64) -> String {
    match lang {
        Lang::Zh => format!("{m}分钟"),
        _ => format!("{m}m"),
    }
}

pub fn weekday(lang: Lang, wd: chrono::Weekday) -> &'static str {
    let i = wd.num_days_from_monday() as usize;
    match lang {
        Lang::Zh => ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][i % 7],
        _ => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i % 7],
    }
}

/// The description of an action in the help popup.
pub fn action_help(lang: Lang, action: crate::app::Action) -> &'static str {
    use crate::app::Action as A;
    let zh = lang == Lang::Zh;
    match action {
        A::Quit => {
            if zh {
                "退出（输入框外）"
            } else {
                "quit (outside the compose box)"
            }
        }
        A::ForceQuit => {
            if zh {
                "立即退出"
            } else {
                "quit from anywhere"
            }
        }
        A::Up => {
            if zh {
                "上移 / 向上滚动"
            } else {
                "up / scroll up"
            }
        }
        A::Down => {
            if zh {
                "下移 / 向下滚动"
            } else {
                "down / scroll down"
            }
        }
        A::Top => {
            if zh {
                "到顶部（加载更早消息）"
            } else {
                "top (loads older messages)"
            }
        }
        A::Bottom => {
            if zh {
                "到底部"
            } else {
                "bottom"
            }
        }
        A::PageUp => {
            if zh {
                "上翻半页"
            } else {
                "half page up"
            }
        }
        A::PageDown => {
            if zh {
                "下翻半页"
            } else {
                "half page down"
            }
        }
        A::Open => {
            if zh {
                "打开会话"
            } else {
                "open the conversation"
            }
        }
        A::Back => {
            if zh {
                "返回列表 / 清除筛选"
            } else {
                "back to the list / clear filter"
            }
        }
        A::NextPane => {
            if zh {
                "切换窗格"
            } else {
                "next pane"
            }
        }
        A::NextUnread => {
            if zh {
                "下一个未读会话"
            } else {
                "next unread conversation"
            }
        }
        A::Filter => {
            if zh {
                "筛选会话"
            } else {
                "filter conversations"
            }
        }
        A::Search => {
            if zh {
                "搜索全部消息"
            } else {
                "search all messages"
            }
        }
        A::Attach => {
            if zh {
                "发送图片（输入文件路径）"
            } else {
                "send a picture (by its file path)"
            }
        }
        A::Help => {
            if zh {
                "帮助"
            } else {
                "this help"
            }
        }
        A::Retry => {
            if zh {
                "重发失败的消息"
            } else {
                "re-send a failed message"
            }
        }
        A::Send => {
            if zh {
                "发送"
            } else {
                "send"
            }
        }
        A::Newline => {
            if zh {
                "换行"
            } else {
                "new line"
            }
        }
    }
}

/// The terminal title: the product name and the unread total.
pub fn title(lang: Lang, unread: u64) -> String {
    let name = strings(lang).title;
    if unread == 0 {
        name.to_string()
    } else {
        format!("({unread}) {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_picks_language_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Lang::Auto.resolve_with(env(&[("LANG", "zh_CN.UTF-8")])),
            Lang::Zh
        );
        assert_eq!(
            Lang::Auto.resolve_with(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            Lang::Auto.resolve_with(env(&[("LC_ALL", ""), ("LC_MESSAGES", "zh_TW")])),
            Lang::Zh
        );
        assert_eq!(Lang::Auto.resolve_with(env(&[])), Lang::En);
        assert_eq!(Lang::Zh.resolve_with(env(&[("LANG", "C")])), Lang::Zh);
    }
}
