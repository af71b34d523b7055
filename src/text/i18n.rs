//! Every string the UI shows, in Chinese and English.

use serde::Deserialize;

/// UI language. `Auto` follows the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`). Read from the
/// config file as `--lang` takes it ([`parse_lang`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
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

    /// `locale` (the language of the locale, resolved) for `Auto`.
    pub fn resolve_with_locale(self, locale: Lang) -> Lang {
        match self {
            Lang::Auto => locale,
            l => l,
        }
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

/// The language a `--lang` value names: `zh`, `en` or `auto`.
pub fn parse_lang(s: &str) -> Option<Lang> {
    match s.trim().to_lowercase().as_str() {
        "zh" | "zh_cn" | "zh-cn" | "cn" => Some(Lang::Zh),
        "en" => Some(Lang::En),
        "auto" => Some(Lang::Auto),
        _ => None,
    }
}

impl TryFrom<String> for Lang {
    type Error = String;

    fn try_from(s: String) -> Result<Lang, String> {
        parse_lang(&s).ok_or_else(|| format!("unknown language {s:?}: zh, en or auto"))
    }
}

/// The strings of one language.
pub struct Strings {
    pub conn_connecting: &'static str,
    pub conn_registering: &'static str,
    pub conn_live: &'static str,
    pub conn_stalled: &'static str,
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
    pub recalled_self: &'static str,
    pub recalled_peer: &'static str,
    pub recall_own_only: &'static str,
    pub recall_not_sent: &'static str,
    pub recall_too_late: &'static str,
    pub recalling: &'static str,
    pub recall_failed: &'static str,
    pub confirm_recall: &'static str,
    pub recall_title: &'static str,
    pub confirm_hint: &'static str,
    pub copied: &'static str,
    pub reconnecting_now: &'static str,
    /// After a connection state the user can cut short: the key to connect now.
    pub reconnect_key_hint: &'static str,
    pub risk_title: &'static str,
    pub risk_explain: &'static str,
    pub risk_auto: &'static str,
    pub risk_keys: &'static str,
    pub copy_nothing: &'static str,
    pub not_failed: &'static str,
    pub discarded: &'static str,
    pub quick_title: &'static str,
    pub quick_hint: &'static str,
    pub quick_needs_chat: &'static str,
    pub quick_none: &'static str,
    pub waiting_first_on: &'static str,
    pub mouse_on: &'static str,
    pub picture_loading: &'static str,
    pub no_picture: &'static str,
    pub no_link: &'static str,
    pub opening: &'static str,
    pub link_offered: &'static str,
    pub viewer_keys: &'static str,
    pub mouse_off: &'static str,
    pub mouse_terminal: &'static str,
    pub waiting_first_off: &'static str,
    pub waiting_first: &'static str,
    pub notices: &'static str,
    pub editor_failed: &'static str,
    pub editing: &'static str,
    pub unknown_content: &'static str,
    pub queued: &'static str,
    pub sending: &'static str,
    pub sent: &'static str,
    pub read: &'static str,
    pub failed: &'static str,
    pub retry_hint: &'static str,
    pub edit_hint: &'static str,
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
    conn_stalled: "卡住（心跳无应答）",
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
    recalled_self: "你撤回了一条消息",
    recalled_peer: "对方撤回了一条消息",
    recall_own_only: "只能撤回自己发的消息",
    recall_not_sent: "这条消息还没有发出，无法撤回",
    recall_too_late: "超过 2 分钟的消息不能撤回",
    recalling: "正在撤回…",
    recall_failed: "撤回失败",
    confirm_recall: "撤回这条消息？",
    recall_title: "撤回",
    confirm_hint: "y / Enter 撤回 · 其他键取消",
    copied: "已复制到剪贴板",
    reconnecting_now: "正在立即重连…",
    reconnect_key_hint: "[R]",
    risk_title: "风控验证",
    risk_explain: "闲鱼要求滑块验证。请在已登录该账号的浏览器中打开下面的链接，完成验证：",
    risk_auto: "完成后会自动恢复（每隔几分钟检查一次，不会更频繁）。",
    risk_keys: "y 复制链接 · r 立即重试 · Esc 关闭",
    copy_nothing: "这条消息没有可复制的内容",
    not_failed: "只有发送失败的消息可以编辑或删除",
    discarded: "已删除未发出的消息",
    quick_title: "快捷回复",
    quick_hint: "1–9 或 Enter 放入输入框 · ↑↓ 选择 · Esc 关闭",
    quick_needs_chat: "先选择一个会话",
    quick_none: "没有快捷回复：在配置文件 [ui] quick_replies 中添加",
    waiting_first_on: "等待回复的买家在前（等待最久的在最上）",
    mouse_on: "鼠标归本程序（点击、滚动）",
    picture_loading: "图片加载中…",
    no_picture: "这条消息没有图片",
    no_link: "这条消息没有链接",
    opening: "正在用系统程序打开…",
    link_offered: "通过 SSH 运行：链接已复制到剪贴板，也可点击链接打开",
    viewer_keys: "o 打开 · y 复制链接 · Esc 返回",
    mouse_off: "鼠标归终端：可直接选择、复制文字（按 m 恢复）",
    mouse_terminal: "鼠标:终端",
    waiting_first_off: "按最近活动排序",
    waiting_first: "等待优先",
    notices: "通知",
    editor_failed: "编辑器出错",
    editing: "正在外部编辑器中编辑…",
    unknown_content: "[不支持的消息]",
    queued: "⏳排队",
    sending: "…发送中",
    sent: "✓已发送",
    read: "✓✓已读",
    failed: "✗失败",
    retry_hint: "r 重试 · e 修改 · d 删除",
    edit_hint: "e 修改后重发 · d 删除",
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
    conn_stalled: "stalled (no heartbeat answer)",
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
    recalled_self: "you recalled a message",
    recalled_peer: "the buyer recalled a message",
    recall_own_only: "only your own messages can be recalled",
    recall_not_sent: "this message has not gone out; nothing to recall",
    recall_too_late: "messages older than 2 minutes cannot be recalled",
    recalling: "recalling…",
    recall_failed: "recall failed",
    confirm_recall: "Recall this message?",
    recall_title: "Recall",
    confirm_hint: "y / Enter recalls · any other key cancels",
    copied: "copied to the clipboard",
    reconnecting_now: "reconnecting now…",
    reconnect_key_hint: "[R]",
    risk_title: "Risk control",
    risk_explain: "Goofish asks for a slider check. Open this link in a browser logged into the account and pass it:",
    risk_auto: "The program resumes by itself afterwards (it checks every few minutes, never more often).",
    risk_keys: "y copy the link · r retry now · Esc close",
    copy_nothing: "nothing to copy in this message",
    not_failed: "only a message that failed to send can be edited or discarded",
    discarded: "the unsent message was discarded",
    quick_title: "Quick replies",
    quick_hint: "1–9 or Enter puts it in the compose box · ↑↓ select · Esc closes",
    quick_needs_chat: "select a conversation first",
    quick_none: "no quick replies: add some as [ui] quick_replies in the config file",
    waiting_first_on: "waiting buyers first, the longest wait on top",
    mouse_on: "the mouse clicks and scrolls here",
    picture_loading: "loading the picture…",
    no_picture: "no picture in this message",
    no_link: "no link in this message",
    opening: "opening it with the desktop's opener…",
    link_offered: "over SSH: the link is on your clipboard, and can be clicked",
    viewer_keys: "o open · y copy link · Esc back",
    mouse_off: "the terminal has the mouse: select text as usual (m to take it back)",
    mouse_terminal: "mouse: terminal",
    waiting_first_off: "sorted by latest activity",
    waiting_first: "waiting first",
    notices: "notices",
    editor_failed: "the editor failed",
    editing: "editing in the external editor…",
    unknown_content: "[unsupported message]",
    queued: "⏳queued",
    sending: "…sending",
    sent: "✓sent",
    read: "✓✓read",
    failed: "✗failed",
    retry_hint: "r retries · e edits · d discards",
    edit_hint: "e to edit and resend · d discards",
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

/// How long a buyer has waited for an answer: "等 12 分" / "12m", then hours, then days.
pub fn waited(lang: Lang, ms: i64) -> String {
    let min = (ms / 60_000).max(1);
    let (n, zh, en) = if min < 60 {
        (min, "分", "m")
    } else if min < 24 * 60 {
        (min / 60, "小时", "h")
    } else {
        (min / (24 * 60), "天", "d")
    };
    match lang {
        Lang::Zh => format!("等 {n} {zh}"),
        _ => format!("{n}{en}"),
    }
}

/// Error details the program words in English (the session's, the connection's, the
/// service's), in `lang`: each known opening is said in Chinese, the rest (names, numbers,
/// the service's own Chinese reasons) is kept. Unknown text is shown as it is.
pub fn detail(lang: Lang, text: &str) -> String {
    if lang != Lang::Zh {
        return text.to_string();
    }
    let t = text.trim();
    if let Some((n, rest)) = t.split_once(" incoming item(s) could not be decoded")
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return match rest
            .strip_prefix(" (last: ")
            .and_then(|r| r.strip_suffix(')'))
        {
            Some(last) => format!("{n} 条推送无法解码（最近一条：{last}）"),
            None => format!("{n} 条推送无法解码{rest}"),
        };
    }
    for (en, zh) in DETAILS {
        if let Some(rest) = t.strip_prefix(en) {
            let rest = rest.trim_start_matches([':', ' ']);
            return if rest.is_empty() {
                zh.to_string()
            } else {
                format!("{zh}：{}", detail(lang, rest))
            };
        }
    }
    t.to_string()
}

/// `en` or `zh`, by language.
pub fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

/// A message of several lines or paragraphs (a command's error, the start-up help) in
/// `lang`: the login help is given whole in Chinese, each other line as `detail` says it.
pub fn message(lang: Lang, text: &str) -> String {
    if lang != Lang::Zh {
        return text.to_string();
    }
    let text = text.replace(COOKIE_HELP, COOKIE_HELP_ZH);
    text.split('\n')
        .map(|l| {
            // Indented lines (commands, a URL) stay as they are.
            if l.starts_with(' ') {
                l.to_string()
            } else {
                detail(lang, l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What to tell a user who has no working cookie.
pub const COOKIE_HELP: &str = "\
Log in with the Xianyu (闲鱼) app: run `goofish-tui login` and scan the QR code it shows.
Or log in to https://www.goofish.com/im in a browser, open the developer tools (Network tab),
copy the Cookie header of any request to goofish.com, and give it to goofish-tui in one of
these ways:
  - export GOOFISH_COOKIE='unb=...; cookie2=...; ...'
  - save it in a file and run: goofish-tui --cookie-file FILE
  - set cookie_file = \"FILE\" in ~/.config/goofish-tui/config.toml
To try the program without an account, run: goofish-tui --demo";

/// [`COOKIE_HELP`] in Chinese.
pub const COOKIE_HELP_ZH: &str = "\
用闲鱼 App 登录：运行 `goofish-tui login`，扫描它显示的二维码。
或者在浏览器中登录 https://www.goofish.com/im，打开开发者工具（网络），复制任一发往
goofish.com 的请求的 Cookie 请求头，再用以下任一方式交给 goofish-tui：
  - export GOOFISH_COOKIE='unb=...; cookie2=...; ...'
  - 存入文件并运行：goofish-tui --cookie-file FILE
  - 在 ~/.config/goofish-tui/config.toml 中设置 cookie_file = \"FILE\"
不用账号试用本程序：goofish-tui --demo";

/// What a build without the simulator says to `--demo` and `goofish-tui sim`.
pub const NO_SIMULATOR: &str = "this goofish-tui was built without the simulator (the `sim` feature): --demo and `goofish-tui sim` are not available";

/// What to do about risk control, on a line of its own (the URL is on the line before).
/// What `watch` does while the login is gone.
pub const WATCH_WAITS_FOR_LOGIN: &str = "waiting for a new login: run `goofish-tui login` (in another terminal or over SSH); watch resumes by itself";
/// What `watch` does during risk control.
pub const WATCH_WAITS_FOR_SLIDER: &str = "open it in a browser logged into the account and pass the check; watch checks again by itself every few minutes";

pub const RISK_STEPS: &str =
    "open it in a browser logged into the account, pass the check, then export a fresh cookie";

/// Openings of English error texts and their Chinese. Longer openings first where one starts
/// another.
const DETAILS: &[(&str, &str)] = &[
    ("not a web address", "不是网址"),
    ("not a picture", "不是图片"),
    (
        "not connected: a picture goes out only while connected",
        "未连接：图片只能在在线时发送",
    ),
    ("not connected", "未连接"),
    (
        "the IM session stopped before the message was sent",
        "消息发出前 IM 会话已停止",
    ),
    ("the IM session stopped", "IM 会话已停止"),
    ("request timed out", "请求超时"),
    ("connection closed", "连接已断开"),
    ("WebSocket connect timed out", "WebSocket 连接超时"),
    ("WebSocket connect failed", "WebSocket 连接失败"),
    ("invalid WebSocket URL", "WebSocket 地址无效"),
    ("registration failed", "注册失败"),
    ("IM token rejected", "IM 令牌被拒绝"),
    ("device id does not match the token", "设备 ID 与令牌不符"),
    ("session limit reached", "会话数已达上限"),
    ("flow control (请求过于频繁)", "请求过于频繁"),
    ("blocked by content security", "内容安全拦截"),
    ("blocked", "被拦截"),
    ("server error", "服务器错误"),
    ("RPC failed with code", "请求失败，代码"),
    ("network error", "网络错误"),
    (
        "unexpected answer from the service",
        "服务返回了无法识别的内容",
    ),
    (
        "the service is throttling requests",
        "服务正在限流，请稍后再试",
    ),
    (
        "the login cookie has expired",
        "登录已过期：运行 goofish-tui login 扫码重新登录",
    ),
    (
        "no login cookie",
        "没有登录 cookie：运行 goofish-tui login 扫码登录",
    ),
    (
        "Goofish risk control wants a slider check",
        "闲鱼风控要求滑块验证，请在已登录的浏览器中完成后重新导出 cookie",
    ),
    (
        "the service kept refusing the request signature",
        "服务一直拒绝请求签名，签名 cookie 已清除，下次请求将重新开始",
    ),
    ("upload failed", "上传失败"),
    ("cannot read", "无法读取"),
    ("kicked out by the service", "被服务踢下线"),
    (
        "kicked out repeatedly: another client may be using the same device id",
        "多次被踢下线：可能有其他客户端在使用同一设备 ID",
    ),
    ("could not open a conversation", "无法打开会话"),
    ("message not exist", "消息不存在"),
    (
        "only your own messages can be recalled",
        "只能撤回自己发的消息",
    ),
    (
        "message can only be recalled within 2 minutes",
        "超过 2 分钟的消息不能撤回",
    ),
    ("the local history database", "本地记录数据库"),
    ("local history", "本地记录"),
    ("no local history", "没有本地记录"),
    ("reading messages", "读取消息"),
    ("saving a draft", "保存草稿"),
    ("removing a recalled message", "删除已撤回的消息"),
    ("cannot start the editor", "无法启动编辑器"),
    (
        "No Goofish login cookie was found.",
        "没有找到闲鱼登录 cookie。",
    ),
    ("timed out while connecting", "连接超时"),
    (
        "timed out: the message may or may not have been recalled",
        "超时：消息不一定已撤回",
    ),
    ("not recalled", "未撤回"),
    ("not sent", "未发出"),
    ("not a message id", "不是消息 ID"),
    (
        "nothing to send: the text is empty",
        "没有可发送的内容：文本为空",
    ),
    ("cannot read the text from stdin", "无法从标准输入读取文本"),
    ("the text on stdin is longer than", "标准输入的文本超过"),
    (
        "give --to CID or --peer UID",
        "请给出 --to CID 或 --peer UID",
    ),
    ("the login is not valid", "登录无效"),
    ("the login is no longer valid", "登录已失效"),
    (
        "the service removed this IM session",
        "服务移除了这个 IM 会话",
    ),
    (
        "another client may be using the account",
        "可能有其他客户端在使用这个账号",
    ),
    ("The login cookie from", "登录 cookie 被拒绝，来源"),
    (
        "Goofish asks for a slider check (risk control)",
        "闲鱼要求滑块验证（风控）",
    ),
    ("the service removed the IM session", "服务移除了 IM 会话"),
    (
        "interrupted; what was read so far is kept",
        "已中断；已读取的内容会保留",
    ),
    ("the local history cannot be read", "无法读取本地记录"),
    ("cannot read the config file", "无法读取配置文件"),
    ("the config file", "配置文件"),
    ("unknown language", "未知语言"),
    ("cannot read the cookie file", "无法读取 cookie 文件"),
    (
        "no home directory",
        "没有主目录：请设置 GOOFISH_DATA_DIR 或使用 --data-dir",
    ),
    ("cannot start the embedded simulator", "无法启动内置模拟器"),
    (
        NO_SIMULATOR,
        "这个 goofish-tui 构建时没有包含模拟器（`sim` 功能）：--demo 和 `goofish-tui sim` 不可用",
    ),
    ("cannot create the data directory", "无法创建数据目录"),
    ("cannot save the login in", "无法保存登录信息到"),
    (
        "no login within the time allowed (--timeout)",
        "在限定时间内没有完成登录（--timeout）",
    ),
    ("the login service keeps failing", "登录服务一直出错"),
    ("the login service", "登录服务"),
    (
        "--demo needs no login",
        "--demo 不需要登录：运行 `goofish-tui --demo` 试用",
    ),
    ("the session stopped at start", "会话在启动时停止"),
    (
        "several accounts have local history in",
        "有多个账号的本地记录在",
    ),
    ("no messages match", "没有匹配的消息"),
    ("nothing to delete", "没有可删除的内容"),
    ("no quick reply", "没有这个快捷回复"),
    (
        RISK_STEPS,
        "请在已登录该账号的浏览器中打开它，通过验证，然后重新导出 cookie",
    ),
    (
        WATCH_WAITS_FOR_LOGIN,
        "等待新的登录：（在另一个终端或通过 SSH）运行 `goofish-tui login`，watch 会自动恢复",
    ),
    (
        WATCH_WAITS_FOR_SLIDER,
        "请在已登录该账号的浏览器中打开它并通过验证；watch 每隔几分钟会自动再检查",
    ),
    (
        "Goofish asks for a slider check (risk control). Open this page in a browser logged into the account, pass the check, then export a fresh cookie:",
        "闲鱼要求滑块验证（风控）。请在已登录该账号的浏览器中打开这个页面，通过验证，然后重新导出 cookie：",
    ),
    (
        "Goofish wants a face check for this account, which only the browser can do: log in at https://www.goofish.com/im, then give goofish-tui the browser's cookie (see `goofish-tui --help`)",
        "闲鱼要求对这个账号做人脸验证，只能在浏览器中完成：请在 https://www.goofish.com/im 登录，再把浏览器的 cookie 交给 goofish-tui（见 `goofish-tui --help`）",
    ),
    ("the login was cancelled on the phone", "已在手机上取消登录"),
    (
        "the login service reports the code as",
        "登录服务报告二维码状态为",
    ),
    (
        "every code expired without being scanned",
        "二维码都过期了，没有被扫描",
    ),
    (
        "the confirmation brought no login cookie (`unb`)",
        "确认后没有得到登录 cookie（`unb`）",
    ),
    ("the new login does not work", "新的登录不可用"),
    (
        "Goofish wants a slider check before this login can be used",
        "闲鱼要求先通过滑块验证才能使用这次登录",
    ),
    (
        "no input: pipe a push item's base64, a /s/sync frame or a sync body into stdin",
        "没有输入：请通过标准输入传入推送项的 base64、/s/sync 帧或同步体",
    ),
    ("the input is larger than", "输入大于"),
    (
        "the input is not UTF-8 text (binary data?)",
        "输入不是 UTF-8 文本（二进制数据？）",
    ),
    ("cannot read stdin", "无法读取标准输入"),
    (
        "the input looks like JSON but is not valid",
        "输入像 JSON，但无效",
    ),
    (
        "the JSON is neither a /s/sync frame, a sync body nor a sync item",
        "这个 JSON 既不是 /s/sync 帧，也不是同步体或同步项",
    ),
    ("the frame is", "这个帧是"),
    ("undecodable", "无法解码"),
    ("quick reply", "快捷回复"),
    ("the editor exited with status", "编辑器退出，状态码"),
    ("the editor exited with a signal", "编辑器被信号终止"),
];

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
    fn error_details_the_program_words_are_said_in_chinese() {
        for (en, zh) in [
            ("request timed out".to_string(), "请求超时"),
            ("connection closed".to_string(), "连接已断开"),
            ("not connected".to_string(), "未连接"),
            ("not a web address".to_string(), "不是网址"),
            (
                "blocked: 内容存在不当信息".to_string(),
                "被拦截：内容存在不当信息",
            ),
            (
                "registration failed: request timed out".to_string(),
                "注册失败：请求超时",
            ),
            (
                "3 incoming item(s) could not be decoded (last: bad msgpack)".to_string(),
                "3 条推送无法解码（最近一条：bad msgpack）",
            ),
        ] {
            assert_eq!(detail(Lang::Zh, &en), zh, "{en}");
            assert_eq!(detail(Lang::En, &en), en);
        }
        assert_eq!(detail(Lang::Zh, "something new"), "something new");
        let help = message(
            Lang::Zh,
            &format!("No Goofish login cookie was found.\n\n{COOKIE_HELP}"),
        );
        assert!(help.starts_with("没有找到闲鱼登录 cookie。"), "{help}");
        assert!(help.contains("扫描它显示的二维码") && !help.contains("Log in with"));
        let risk = message(
            Lang::Zh,
            &format!("Goofish asks for a slider check (risk control): https://x/y\n{RISK_STEPS}"),
        );
        assert_eq!(
            risk,
            "闲鱼要求滑块验证（风控）：https://x/y\n请在已登录该账号的浏览器中打开它，通过验证，然后重新导出 cookie"
        );
    }

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
