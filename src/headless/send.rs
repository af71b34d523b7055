//! `goofish-tui send`: one text message, then the message id on stdout.

use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK};
use crate::config::Settings;
use crate::im::api::{ConnState, ImCommand, ImEvent, OPEN_CONVERSATION_FAILED};
use crate::protocol::{Cid, ClientId, Conversation, Uid};
use crate::safe_text::clean_line;
use std::io::Read;
use tokio::time::Instant;

/// Arguments of `send`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "peer"])))]
pub struct SendArgs {
    /// Conversation id to send to.
    #[arg(long, value_name = "CID")]
    pub to: Option<String>,
    /// User id of the peer; the conversation is found or created.
    #[arg(long, value_name = "UID")]
    pub peer: Option<String>,
    /// With --peer: the item the conversation is about.
    #[arg(long, value_name = "ITEM", requires = "peer")]
    pub item: Option<String>,
    /// The text (default: read from stdin).
    #[arg(long)]
    pub text: Option<String>,
    /// Send this picture file (JPEG, PNG, GIF or WebP, at most 5 MB) instead of a text.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub image: Option<std::path::PathBuf>,
    /// Send quick reply N (1 is the first of `[ui] quick_replies`, or of the built-in ones),
    /// with the buyer's nickname, the item and its price filled in.
    #[arg(long, value_name = "N", conflicts_with_all = ["text", "image"])]
    pub quick: Option<usize>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
}

/// Longest text read from stdin; a message is far shorter, this only bounds memory.
const MAX_STDIN: u64 = 1 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendCmdError {
    #[error("nothing to send: the text is empty")]
    Empty,
    #[error("cannot read the text from stdin: {0}")]
    Stdin(String),
    #[error("the text on stdin is longer than {MAX_STDIN} bytes")]
    TooLong,
}

/// The text to send: `--text`, else all of stdin. Blank text is an error.
pub fn message_text(flag: Option<&str>, stdin: &mut impl Read) -> Result<String, SendCmdError> {
    let text = match flag {
        Some(t) => t.to_string(),
        None => {
            let mut buf = Vec::new();
            stdin
                .take(MAX_STDIN + 1)
                .read_to_end(&mut buf)
                .map_err(|e| SendCmdError::Stdin(e.to_string()))?;
            if buf.len() as u64 > MAX_STDIN {
                return Err(SendCmdError::TooLong);
            }
            let s = String::from_utf8(buf)
                .map_err(|_| SendCmdError::Stdin("it is not UTF-8 text".into()))?;
            // `echo text | send` adds a newline that is not part of the message.
            s.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if text.trim().is_empty() {
        return Err(SendCmdError::Empty);
    }
    Ok(text)
}

/// The conversation with `peer` (about `item`, when given) in `list`, newest first.
pub fn find_conversation<'a>(
    list: &'a [Conversation],
    peer: &Uid,
    item: Option<&str>,
) -> Option<&'a Conversation> {
    list.iter()
        .find(|c| &c.peer == peer && item.is_none_or(|i| c.item_id.as_deref() == Some(i)))
}

/// A login problem the session reports, as a message.
pub(super) fn login_problem(state: &ConnState) -> Option<String> {
    match state {
        ConnState::NeedsLogin { reason } => Some(format!(
            "the login is not valid: {reason}\n\n{}",
            crate::text::i18n::COOKIE_HELP
        )),
        ConnState::RiskControl { url } => Some(format!(
            "Goofish asks for a slider check (risk control): {url}\n{}",
            crate::text::i18n::RISK_STEPS
        )),
        ConnState::SessionRemoved { reason } => {
            Some(format!("the service removed the IM session: {reason}"))
        }
        _ => None,
    }
}

pub(super) enum Failure {
    Login(String),
    Failed(String),
}

/// Runs `send`; returns the exit code.
pub async fn run(settings: &Settings, args: &SendArgs) -> i32 {
    super::init_logging(&settings.stderr_log_level);
    let lang = settings.lang;
    let say = |msg: &str| super::complain(lang, "send", msg);
    let payload = match (&args.image, args.quick) {
        (Some(path), _) => Payload::Image(path.clone()),
        (None, Some(n)) => {
            let configured = settings.ui.quick_replies.as_deref();
            let replies = crate::app::quick::resolve(configured, lang);
            match n.checked_sub(1).and_then(|i| replies.get(i)) {
                Some(template) => Payload::Quick(template.clone(), lang),
                None => {
                    say(&format!(
                        "no quick reply {n}: there are {} (1 to {})",
                        replies.len(),
                        replies.len()
                    ));
                    return EXIT_FAILED;
                }
            }
        }
        (None, None) => match message_text(args.text.as_deref(), &mut std::io::stdin()) {
            Ok(t) => Payload::Text(t),
            Err(e) => {
                say(&e.to_string());
                return EXIT_FAILED;
            }
        },
    };
    let deadline = Instant::now() + super::secs(args.timeout);
    let mut conn = match super::connect_by(settings, "send", deadline, &say).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let is_text = !matches!(payload, Payload::Image(_));
    let handed = std::cell::Cell::new(false);
    let result =
        tokio::time::timeout_at(deadline, deliver(&mut conn, args, payload, &handed)).await;
    // A text handed to the background core stays in its outbox: it goes out when the core
    // connects, after this command has given up waiting.
    let kept = conn.attached && is_text && handed.get();
    conn.shutdown().await;
    match result {
        Ok(Ok(id)) => {
            println!("{}", clean_line(&id));
            EXIT_OK
        }
        Ok(Err(Failure::Login(msg))) => {
            say(&msg);
            EXIT_LOGIN
        }
        Ok(Err(Failure::Failed(msg))) => {
            say(&msg);
            EXIT_FAILED
        }
        Err(_) => {
            let secs = super::secs(args.timeout).as_secs_f64();
            let msg = match (lang, kept) {
                (crate::text::i18n::Lang::Zh, false) => format!("{secs} 秒后超时；消息未发出"),
                (crate::text::i18n::Lang::Zh, true) => {
                    format!("{secs} 秒后超时；消息留在后台核心的发件箱里，连上后发出")
                }
                (_, false) => format!("timed out after {secs} s; the message was not sent"),
                (_, true) => format!(
                    "timed out after {secs} s; the message waits in the background core's outbox \
                     and goes out when it is connected"
                ),
            };
            eprintln!("goofish-tui send: {msg}");
            EXIT_FAILED
        }
    }
}

/// What `send` sends.
enum Payload {
    Text(String),
    Image(std::path::PathBuf),
    /// A quick reply, filled in for the conversation once it is known (the language words
    /// what is missing).
    Quick(String, crate::text::i18n::Lang),
}

/// A quick reply filled in for `cid`: the nickname and the item title come from the
/// conversation list, the price from the item's details. A placeholder that stays unknown is
/// an error: a script must not send `{price}` to a buyer.
async fn fill_quick(
    commands: &tokio::sync::mpsc::Sender<ImCommand>,
    events: &mut tokio::sync::mpsc::Receiver<ImEvent>,
    cid: &Cid,
    template: &str,
    lang: crate::text::i18n::Lang,
) -> Result<String, Failure> {
    use crate::app::quick::{Values, fill};
    let mut conv: Option<Conversation> = None;
    if template.contains('{') {
        ask(commands, ImCommand::ListConversations).await?;
        loop {
            match next(events).await? {
                ImEvent::Conversations(list) => {
                    conv = list.into_iter().find(|c| &c.cid == cid);
                    break;
                }
                ImEvent::Connection(s) => {
                    if let Some(msg) = login_problem(&s) {
                        return Err(Failure::Login(msg));
                    }
                }
                _ => {}
            }
        }
    }
    let mut item = None;
    if let Some(item_id) = conv.as_ref().and_then(|c| c.item_id.clone())
        && (template.contains("{price}") || template.contains("{item}"))
    {
        ask(
            commands,
            ImCommand::FetchItem {
                item_id: item_id.clone(),
            },
        )
        .await?;
        // The details may not come (a lookup failure is only logged): not for ever.
        let wait = tokio::time::sleep(std::time::Duration::from_secs(10));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                ev = next(events) => match ev? {
                    ImEvent::Item(i) if i.item_id == item_id => {
                        item = Some(i);
                        break;
                    }
                    _ => {}
                },
                () = &mut wait => break,
            }
        }
    }
    let values = conv
        .as_ref()
        .map(|c| Values::of(c, item.as_ref()))
        .unwrap_or_default();
    let (text, missing) = fill(template, &values);
    if !missing.is_empty() {
        let missing = missing.join(", ");
        return Err(Failure::Failed(match lang {
            crate::text::i18n::Lang::Zh => {
                format!("会话 {cid} 的 {missing} 未知，无法填入快捷回复；没有发送")
            }
            _ => format!(
                "the quick reply needs {missing} for conversation {cid}, which is not known; nothing was sent"
            ),
        }));
    }
    Ok(text)
}

/// Finds the conversation, sends, and waits for the result: the message id.
async fn deliver(
    conn: &mut crate::run::Connection,
    args: &SendArgs,
    payload: Payload,
    handed: &std::cell::Cell<bool>,
) -> Result<String, Failure> {
    let commands = conn.session.commands.clone();
    let events = &mut conn.session.events;
    let ask = |cmd: ImCommand| ask(&commands, cmd);
    // A conversation list only comes while connected.
    let mut live = false;
    let cid = match (&args.to, &args.peer) {
        (Some(to), _) => Cid::new(to),
        (None, Some(peer)) => {
            let peer = Uid::new(peer);
            let item = args.item.as_deref();
            ask(ImCommand::ListConversations).await?;
            let mut opened = false;
            loop {
                match next(events).await? {
                    ImEvent::Conversations(list) => {
                        live = true;
                        if let Some(c) = find_conversation(&list, &peer, item) {
                            break c.cid.clone();
                        }
                        if opened {
                            // The service may answer an existing pair with another item.
                            if let Some(c) = find_conversation(&list, &peer, None) {
                                break c.cid.clone();
                            }
                        } else {
                            opened = true;
                            ask(ImCommand::OpenConversation {
                                peer: peer.clone(),
                                item_id: item.map(str::to_string),
                            })
                            .await?;
                        }
                    }
                    ImEvent::Error(e) if e.starts_with(OPEN_CONVERSATION_FAILED) => {
                        return Err(Failure::Failed(e));
                    }
                    ImEvent::Error(e) if !opened => {
                        // The list could not be loaded: creating is the way left.
                        tracing::warn!("{e}");
                        opened = true;
                        ask(ImCommand::OpenConversation {
                            peer: peer.clone(),
                            item_id: item.map(str::to_string),
                        })
                        .await?;
                    }
                    ImEvent::Connection(s) => {
                        if let Some(msg) = login_problem(&s) {
                            return Err(Failure::Login(msg));
                        }
                    }
                    _ => {}
                }
            }
        }
        (None, None) => return Err(Failure::Failed("give --to CID or --peer UID".into())),
    };
    let payload = match payload {
        Payload::Quick(template, lang) => {
            Payload::Text(fill_quick(&commands, events, &cid, &template, lang).await?)
        }
        other => other,
    };
    let client_id = ClientId::generate(crate::time::now_ms(), rand::random());
    if matches!(payload, Payload::Image(_)) && !live {
        // A picture is only sent while connected: wait for the connection first.
        loop {
            match next(events).await? {
                ImEvent::Connection(ConnState::Live) => break,
                ImEvent::Connection(s) => {
                    if let Some(msg) = login_problem(&s) {
                        return Err(Failure::Login(msg));
                    }
                }
                _ => {}
            }
        }
    }
    ask(match payload {
        Payload::Text(text) | Payload::Quick(text, _) => ImCommand::SendText {
            cid,
            client_id: client_id.clone(),
            text,
        },
        Payload::Image(path) => ImCommand::SendImage {
            cid,
            client_id: client_id.clone(),
            path,
        },
    })
    .await?;
    handed.set(true);
    loop {
        match next(events).await? {
            ImEvent::SendResult {
                client_id: c,
                result,
                ..
            } if c == client_id => {
                return match result {
                    Ok(m) => Ok(m.id.as_str().to_string()),
                    Err(f) => Err(Failure::Failed(format!("not sent: {}", f.reason))),
                };
            }
            ImEvent::Connection(s) => {
                if let Some(msg) = login_problem(&s) {
                    return Err(Failure::Login(msg));
                }
            }
            ImEvent::SendNotSaved {
                client_id: c,
                reason,
            } if c == client_id => {
                eprintln!(
                    "warning: the local outbox could not keep the message ({}); \
                     it is sent only if this command runs until it is",
                    clean_line(&reason)
                );
            }
            _ => {}
        }
    }
}

/// Hands `cmd` to the session.
pub(super) async fn ask(
    commands: &tokio::sync::mpsc::Sender<ImCommand>,
    cmd: ImCommand,
) -> Result<(), Failure> {
    commands
        .send(cmd)
        .await
        .map_err(|_| Failure::Failed("the IM session stopped".into()))
}

pub(super) async fn next(
    events: &mut tokio::sync::mpsc::Receiver<ImEvent>,
) -> Result<ImEvent, Failure> {
    events
        .recv()
        .await
        .ok_or_else(|| Failure::Failed("the IM session stopped".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_comes_from_the_flag_or_stdin_and_blank_is_refused() {
        let mut none = std::io::empty();
        assert_eq!(message_text(Some("你好"), &mut none).unwrap(), "你好");
        let mut stdin = "还在吗？\n".as_bytes();
        assert_eq!(message_text(None, &mut stdin).unwrap(), "还在吗？");
        let mut blank = " \n\t\n".as_bytes();
        assert_eq!(message_text(None, &mut blank), Err(SendCmdError::Empty));
        assert_eq!(
            message_text(Some("  "), &mut none),
            Err(SendCmdError::Empty)
        );
        let mut bad = &[0xff_u8, 0xfe][..];
        assert!(matches!(
            message_text(None, &mut bad),
            Err(SendCmdError::Stdin(_))
        ));
    }

    #[test]
    fn conversation_lookup_honours_the_item() {
        let conv = |cid: &str, peer: &str, item: Option<&str>| Conversation {
            cid: Cid::new(cid),
            peer: Uid::new(peer),
            item_id: item.map(str::to_string),
            ..Default::default()
        };
        let list = vec![conv("1", "7", Some("a")), conv("2", "7", Some("b"))];
        let p = Uid::new("7");
        assert_eq!(
            find_conversation(&list, &p, None).unwrap().cid.as_str(),
            "1"
        );
        assert_eq!(
            find_conversation(&list, &p, Some("b"))
                .unwrap()
                .cid
                .as_str(),
            "2"
        );
        assert!(find_conversation(&list, &p, Some("c")).is_none());
        assert!(find_conversation(&list, &Uid::new("8"), None).is_none());
    }
}
