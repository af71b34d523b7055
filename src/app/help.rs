//! What each action does, in both languages, for the help popup.

use super::Action;
use crate::text::i18n::Lang;

impl Action {
    /// The description of an action in the help popup.
    pub fn help(self, lang: Lang) -> &'static str {
        use Action as A;
        let zh = lang == Lang::Zh;
        match self {
            A::Quit => {
                if zh {
                    "退出（输入框外）"
                } else {
                    "quit (not in compose)"
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
                    "上移 / 上一条消息"
                } else {
                    "up / older message"
                }
            }
            A::Down => {
                if zh {
                    "下移 / 下一条消息"
                } else {
                    "down / newer message"
                }
            }
            A::Top => {
                if zh {
                    "到顶部（加载更早消息）"
                } else {
                    "top (loads older)"
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
                    "open"
                }
            }
            A::Back => {
                if zh {
                    "返回列表 / 清除筛选"
                } else {
                    "back / clear filter"
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
                    "下一个等待回复 / 未读"
                } else {
                    "next waiting / unread"
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
                    "send a picture"
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
                    "re-send a failed one"
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
            A::WaitingFirst => {
                if zh {
                    "等待回复的排前面（切换）"
                } else {
                    "waiting buyers first"
                }
            }
            A::Recall => {
                if zh {
                    "撤回自己的消息（2 分钟内）"
                } else {
                    "recall (own, 2 min)"
                }
            }
            A::Copy => {
                if zh {
                    "复制选中的消息"
                } else {
                    "copy the message"
                }
            }
            A::Edit => {
                if zh {
                    "修改发送失败的消息"
                } else {
                    "edit a failed one"
                }
            }
            A::Discard => {
                if zh {
                    "删除发送失败的消息"
                } else {
                    "discard a failed one"
                }
            }
            A::QuickReply => {
                if zh {
                    "快捷回复"
                } else {
                    "quick replies"
                }
            }
            A::Editor => {
                if zh {
                    "用 $EDITOR 编辑草稿"
                } else {
                    "draft in $EDITOR"
                }
            }
            A::View => {
                if zh {
                    "查看图片（Esc 返回）"
                } else {
                    "view the picture"
                }
            }
            A::OpenLink => {
                if zh {
                    "打开图片 / 链接"
                } else {
                    "open picture / link"
                }
            }
            A::Mouse => {
                if zh {
                    "鼠标交给终端选字（切换）"
                } else {
                    "terminal selects text"
                }
            }
            A::Reconnect => {
                if zh {
                    "立即重连"
                } else {
                    "reconnect now"
                }
            }
            A::NextAccount => {
                if zh {
                    "切换到下一个账号"
                } else {
                    "next account"
                }
            }
        }
    }
}
