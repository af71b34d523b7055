//! The local history from the command line: `goofish-tui search` and `--clear-cache`.
//! Neither needs the network; both find the account from the cookie (or, without one, the
//! only database in the data directory).

use crate::config::Settings;
use crate::protocol::Uid;
use crate::safe_text::{clean_line, escape_json};
use crate::store::{SearchHit, Store, StoreError, accounts_in, db_path, remove_db};
use color_eyre::eyre::{Result, bail, eyre};
use std::io::{IsTerminal, Write};

/// Arguments of `search`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Text to look for (three characters or more use the index; shorter ones scan).
    pub query: String,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// At most this many results, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// The account whose database the command uses, and the folder it is in: the given
/// cookie's, else the one `--account` names (the first one by default); in demo mode, the
/// one with local history there.
fn account(settings: &Settings) -> Result<(Uid, std::path::PathBuf)> {
    let dir = settings.store_dir();
    if !settings.demo {
        match crate::run::login_account(settings) {
            Ok(login) => return Ok((login.account.uid.clone(), login.account.store_dir())),
            Err(e) if e.is::<crate::accounts::UnknownAccount>() => return Err(e),
            Err(e) if settings.cookie.is_some() => return Err(e),
            Err(_) => {}
        }
    }
    let mut found = accounts_in(&dir);
    match found.len() {
        0 => bail!("no local history in {}", dir.display()),
        1 => Ok((found.remove(0), dir)),
        _ => bail!(
            "several accounts have local history in {} ({}); give the cookie of the one you mean",
            dir.display(),
            found.iter().map(Uid::as_str).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `goofish-tui search QUERY`: prints the matches, newest first.
pub fn search(settings: &Settings, args: &SearchArgs) -> Result<()> {
    let (uid, dir) = account(settings)?;
    let path = db_path(&dir, &uid)?;
    if !path.exists() {
        bail!(
            "no local history for account {uid} yet ({} does not exist); run goofish-tui once to fill it",
            path.display()
        );
    }
    let store = Store::open(&dir, &uid)?;
    let hits = store.search(&args.query, args.limit)?;
    let mut out = std::io::stdout().lock();
    let color = !args.json && out.is_terminal();
    for hit in &hits {
        let line = if args.json {
            escape_json(serde_json::to_string(&hit_json(hit)).map_err(|e| eyre!(e))?)
        } else {
            hit_line(hit, color)
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if hits.is_empty() && !args.json {
        eprintln!("no messages match {:?}", args.query);
    }
    Ok(())
}

fn local_time(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M").to_string()
        }
        chrono::LocalResult::None => ms.to_string(),
    }
}

fn conversation_label(hit: &SearchHit) -> String {
    let who = hit
        .peer_nick()
        .map_or_else(|| hit.message.cid.to_string(), str::to_string);
    match hit.item_title() {
        Some(title) => format!("{who} ({title})"),
        None => who,
    }
}

fn sender_label(hit: &SearchHit) -> String {
    let m = &hit.message;
    if m.is_self {
        "me".to_string()
    } else {
        m.sender_nick
            .as_deref()
            .map_or_else(|| m.sender.to_string(), str::to_string)
    }
}

/// `conversation  time  sender: snippet`, the match in bold on a terminal. Every part comes
/// from the network and is cleaned before the bold's own escapes are added.
fn hit_line(hit: &SearchHit, color: bool) -> String {
    let s = &hit.snippet;
    let parts = hit
        .highlight
        .as_ref()
        .filter(|_| color)
        .and_then(|r| Some((s.get(..r.start)?, s.get(r.clone())?, s.get(r.end..)?)));
    let snippet = match parts {
        Some((before, matched, after)) => format!(
            "{}\x1b[1;4m{}\x1b[0m{}",
            clean_line(before),
            clean_line(matched),
            clean_line(after)
        ),
        None => clean_line(s).into_owned(),
    };
    format!(
        "{}  {}  {}: {}",
        clean_line(&conversation_label(hit)),
        local_time(hit.message.time),
        clean_line(&sender_label(hit)),
        snippet
    )
}

fn hit_json(hit: &SearchHit) -> serde_json::Value {
    let m = &hit.message;
    serde_json::json!({
        "cid": m.cid.as_str(),
        "peer_nick": hit.peer_nick(),
        "item_title": hit.item_title(),
        "id": m.id.as_str(),
        "time": m.time,
        "local_time": local_time(m.time),
        "sender": m.sender.as_str(),
        "sender_nick": m.sender_nick,
        "is_self": m.is_self,
        "kind": m.content.kind(),
        "text": m.content.summary(),
        "snippet": hit.snippet,
        "match": hit.highlight.as_ref().map(|r| [r.start, r.end]),
    })
}

/// `goofish-tui --clear-cache`: deletes the account's database and says which files went.
pub fn clear_cache(settings: &Settings) -> Result<()> {
    // The background core writes to the file: deleting it under the core would lose what it
    // writes next and keep nothing from being cached again.
    if !settings.demo && crate::daemon::running(settings) {
        return Err(eyre!(
            "the background core is using the local history; stop it first: goofish-tui daemon --stop"
        ));
    }
    let (uid, dir) = match account(settings) {
        Ok(found) => found,
        Err(e) => {
            println!(
                "nothing to delete: {}",
                crate::safe_text::clean(&e.to_string())
            );
            return Ok(());
        }
    };
    let removed = remove_db(&dir, &uid).map_err(|e: StoreError| eyre!(e))?;
    if removed.is_empty() {
        println!(
            "nothing to delete: no local history for account {uid} in {}",
            dir.display()
        );
    }
    for p in removed {
        println!("deleted {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Cid, Content, Conversation, Message, MessageId};

    fn hit() -> SearchHit {
        SearchHit {
            message: Message {
                id: MessageId::new("1.PNM"),
                cid: Cid::new("55"),
                sender: Uid::new("9"),
                is_self: false,
                time: 0,
                content: Content::Text {
                    text: "能便宜吗".into(),
                },
                item_id: None,
                sender_nick: Some("小王".into()),
                session_type: Some(1),
                need_push: true,
                red_reminder: None,
                client_id: None,
            },
            conversation: Some(Conversation {
                cid: Cid::new("55"),
                item_title: Some("相机".into()),
                ..Default::default()
            }),
            snippet: "能便宜吗".into(),
            highlight: Some(0..9),
        }
    }

    #[test]
    fn lines_name_the_conversation_sender_and_match() {
        let line = hit_line(&hit(), false);
        assert!(line.starts_with("55 (相机)  "), "{line}");
        assert!(line.ends_with("小王: 能便宜吗"), "{line}");
        assert!(hit_line(&hit(), true).contains("\x1b[1;4m能便宜\x1b[0m吗"));
        let j = hit_json(&hit());
        assert_eq!(j["match"], serde_json::json!([0, 9]));
        assert_eq!(j["text"], "能便宜吗");
        assert_eq!(j["cid"], "55");
    }

    #[test]
    fn lines_cannot_drive_the_terminal_and_a_stray_highlight_does_not_panic() {
        let mut h = hit();
        h.message.sender_nick = Some("小王\x1b]0;pwned\x07\u{202e}".into());
        h.snippet = "能\x1b[2J便宜\u{9b}吗".into();
        // Inside the escape sequence: a range that does not fall on character boundaries.
        h.highlight = Some(1..5);
        for color in [false, true] {
            let line = hit_line(&h, color);
            assert!(!line.contains(['\x07', '\u{202e}', '\u{9b}']), "{line:?}");
            assert!(line.contains("小王]0;pwned"), "{line:?}");
            if !color {
                assert!(!line.contains('\x1b'), "{line:?}");
            }
        }
        h.highlight = Some(3..6);
        assert!(hit_line(&h, true).contains("\x1b[1;4m"));
    }
}
