//! `goofish-tui fetch-history`: reads the history of every conversation, page by page and
//! paced, into the local store, so that search (`goofish-tui search`, Ctrl-F) finds messages
//! this machine was never shown. Opt-in: it costs many requests to a service with risk
//! control, so it never runs by itself.

use super::send::{Failure, ask, login_problem, next};
use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK};
use crate::config::Settings;
use crate::im::api::{ImCommand, ImEvent};
use crate::protocol::{Cid, Conversation};
use crate::run::Connection;
use crate::safe_text::clean_line;
use crate::store::StoreHandle;

/// Arguments of `fetch-history`.
#[derive(Debug, clap::Args)]
pub struct FetchHistoryArgs {
    /// At most this many pages per conversation.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_pages: u32,
    /// Seconds between two requests (the service has risk control; do not hurry it).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub pause: f64,
    /// Only this conversation.
    #[arg(long, value_name = "CID")]
    pub cid: Option<String>,
    /// Go on past pages that are stored already (to finish a run cut short by --max-pages).
    #[arg(long)]
    pub full: bool,
}

pub async fn run(settings: &Settings, args: &FetchHistoryArgs) -> i32 {
    super::init_logging(&settings.stderr_log_level);
    let lang = settings.lang;
    let ask = super::OnTerminal {
        lang,
        command: "fetch-history",
    };
    let opened = crate::run::open_session(settings, false, "fetch-history", true, &ask).await;
    let mut conn = match opened {
        Ok(c) => c,
        Err(e) => {
            super::complain(lang, "fetch-history", &format!("{e:#}"));
            return EXIT_LOGIN;
        }
    };
    let mut signals = super::Signals::new();
    let result = tokio::select! {
        r = fetch(&mut conn, args) => r,
        () = signals.recv() => Err(Failure::Failed("interrupted; what was read so far is kept".into())),
    };
    conn.shutdown().await;
    match result {
        Ok(()) => EXIT_OK,
        Err(Failure::Login(msg)) => {
            super::complain(lang, "fetch-history", &msg);
            EXIT_LOGIN
        }
        Err(Failure::Failed(msg)) => {
            super::complain(lang, "fetch-history", &msg);
            EXIT_FAILED
        }
    }
}

async fn stored(store: &StoreHandle) -> Result<u64, Failure> {
    store
        .call(|s| s.message_count())
        .await
        .map_err(|e| Failure::Failed(format!("the local history cannot be read: {e}")))
}

/// Waits (a little) until the core has committed `page`: its writes reach this process's
/// connection to the local history a few milliseconds after the page itself.
async fn settled(store: &StoreHandle, page: &crate::protocol::HistoryPage) {
    let ids: Vec<_> = page.entries.iter().map(|e| e.message.id.clone()).collect();
    let want = ids.len();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let ids = ids.clone();
        match store.read(move |s| s.stored_of(&ids)).await {
            Ok(n) if n >= want => return,
            Ok(_) => {}
            Err(e) => return tracing::warn!("the local history cannot be read: {e}"),
        }
        if tokio::time::Instant::now() >= deadline {
            return tracing::warn!("a history page was not stored in time");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn name(c: &Conversation) -> String {
    let who = c
        .peer_nick
        .clone()
        .unwrap_or_else(|| c.peer.as_str().to_string());
    match &c.item_title {
        Some(t) => format!("{who} · {t}"),
        None => who,
    }
}

async fn fetch(conn: &mut Connection, args: &FetchHistoryArgs) -> Result<(), Failure> {
    let Some(store) = conn.store.clone() else {
        return Err(Failure::Failed(format!(
            "there is no local history to fill: {}",
            conn.store_problem
                .as_deref()
                .unwrap_or("it cannot be opened")
        )));
    };
    let commands = conn.session.commands.clone();
    let events = &mut conn.session.events;
    let ask = |cmd: ImCommand| ask(&commands, cmd);
    ask(ImCommand::ListConversations).await?;
    let list = loop {
        match next(events).await? {
            ImEvent::Conversations(list) => break list,
            ImEvent::Connection(s) => {
                if let Some(msg) = login_problem(&s) {
                    return Err(Failure::Login(msg));
                }
            }
            ImEvent::Error(e) => tracing::warn!("{e}"),
            _ => {}
        }
    };
    let only = args.cid.as_deref().map(Cid::new);
    let list: Vec<Conversation> = list
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| *o == c.cid))
        .collect();
    if list.is_empty() {
        return Err(Failure::Failed(match only {
            Some(cid) => format!("no conversation {cid} in the list"),
            None => "the conversation list is empty".into(),
        }));
    }
    let pause = super::secs(args.pause.max(0.0));
    // Counted once per page: what a page added is the difference to the count before it.
    let mut count = stored(&store).await?;
    let first_count = count;
    let total = list.len();
    for (i, conv) in list.iter().enumerate() {
        let before = count;
        let mut cursor = None;
        let mut pages = 0;
        let mut failed = None;
        while pages < args.max_pages.max(1) {
            if pages > 0 || i > 0 {
                tokio::time::sleep(pause).await;
            }
            ask(ImCommand::LoadHistory {
                cid: conv.cid.clone(),
                cursor,
            })
            .await?;
            let page = loop {
                match next(events).await? {
                    ImEvent::History { page, .. } if page.cid == conv.cid => break Ok(page),
                    ImEvent::HistoryFailed { cid, reason, .. } if cid == conv.cid => {
                        break Err(reason);
                    }
                    ImEvent::Connection(s) => {
                        if let Some(msg) = login_problem(&s) {
                            return Err(Failure::Login(msg));
                        }
                    }
                    _ => {}
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(reason) => {
                    failed = Some(reason);
                    break;
                }
            };
            pages += 1;
            if conn.attached {
                settled(&store, &page).await;
            }
            let now = stored(&store).await?;
            let fresh = now.saturating_sub(count);
            count = now;
            // A page that is all stored already means a run before got this far.
            let caught_up = fresh == 0 && !args.full;
            if page.entries.is_empty() || !page.has_more || page.next_cursor.is_none() || caught_up
            {
                break;
            }
            cursor = page.next_cursor;
        }
        let added = count.saturating_sub(before);
        let what = match failed {
            Some(reason) => format!("stopped: {reason}"),
            None => format!("{added} new"),
        };
        let pages = match pages {
            1 => "1 page".to_string(),
            n => format!("{n} pages"),
        };
        println!(
            "[{}/{total}] {}: {pages}, {}",
            i + 1,
            clean_line(&name(conv)),
            clean_line(&what)
        );
    }
    let added = count.saturating_sub(first_count);
    println!(
        "{added} new messages from {total} conversations are in the local history; \
         `goofish-tui search` and Ctrl-F find them."
    );
    Ok(())
}
