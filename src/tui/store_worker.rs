//! Runs the reducer's store requests one after another on the local history, off the UI
//! task, and hands back the replies. One task keeps them in order (a draft save never
//! overtakes an earlier one).

use crate::app::{
    JUMP_CONTEXT, JUMP_NEWER_CAP, SEARCH_LIMIT, STORE_PAGE, StoreReply, StoreRequest,
};
use crate::protocol::Message;
use crate::store::{StoreError, StoreHandle};
use tokio::sync::mpsc;

pub struct StoreWorker {
    requests: mpsc::UnboundedSender<StoreRequest>,
    replies: mpsc::UnboundedReceiver<Vec<StoreReply>>,
    /// Requests sent whose replies have not been taken yet.
    in_flight: usize,
}

impl StoreWorker {
    /// Starts the task. Without a store every request is answered with `Unavailable`.
    pub fn spawn(store: Option<StoreHandle>) -> StoreWorker {
        let (req_tx, mut req_rx) = mpsc::unbounded_channel::<StoreRequest>();
        let (rep_tx, rep_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(req) = req_rx.recv().await {
                tracing::debug!(request = req.kind(), "local history request");
                let replies = match &store {
                    Some(store) => run(store, req).await,
                    None => vec![StoreReply::Unavailable {
                        reason: "no local history".into(),
                    }],
                };
                if rep_tx.send(replies).is_err() {
                    break;
                }
            }
        });
        StoreWorker {
            requests: req_tx,
            replies: rep_rx,
            in_flight: 0,
        }
    }

    pub fn send(&mut self, req: StoreRequest) {
        if self.requests.send(req).is_ok() {
            self.in_flight += 1;
        }
    }

    /// The replies to the next finished request; pending forever when none is out.
    pub async fn next(&mut self) -> Vec<StoreReply> {
        if self.in_flight == 0 {
            return std::future::pending().await;
        }
        match self.replies.recv().await {
            Some(r) => {
                self.in_flight -= 1;
                r
            }
            None => {
                self.in_flight = 0;
                std::future::pending().await
            }
        }
    }

    /// Replies already waiting, without blocking.
    pub fn try_next(&mut self) -> Option<Vec<StoreReply>> {
        let r = self.replies.try_recv().ok()?;
        self.in_flight = self.in_flight.saturating_sub(1);
        Some(r)
    }

    pub fn idle(&self) -> bool {
        self.in_flight == 0
    }
}

async fn run(store: &StoreHandle, req: StoreRequest) -> Vec<StoreReply> {
    match req {
        StoreRequest::Messages { cid, before } => {
            let key = before.clone();
            let c = cid.clone();
            let got = store
                .read(move |s| s.messages(&c, key.as_ref().map(|(t, id)| (*t, id)), STORE_PAGE))
                .await;
            with_messages(got, |messages| StoreReply::Messages {
                cid,
                before,
                messages,
            })
        }
        StoreRequest::Around { cid, time, id } => {
            let (c, i) = (cid.clone(), id.clone());
            let got = store
                .read(move |s| s.messages_around(&c, (time, &i), JUMP_CONTEXT, JUMP_NEWER_CAP))
                .await;
            with_messages(got, |messages| StoreReply::Around { cid, id, messages })
        }
        StoreRequest::Search { query } => {
            let q = query.clone();
            let result = store
                .read(move |s| s.search(&q, SEARCH_LIMIT))
                .await
                .map_err(|e| {
                    tracing::warn!("search failed: {e}");
                    e.to_string()
                });
            vec![StoreReply::Search { query, result }]
        }
        StoreRequest::SaveDraft { cid, text } => {
            match store.call(move |s| s.set_draft(&cid, &text)).await {
                Ok(()) => Vec::new(),
                Err(e) => vec![failed("saving a draft", e)],
            }
        }
        StoreRequest::Forget { id } => match store.call(move |s| s.forget_message(&id)).await {
            Ok(_) => Vec::new(),
            Err(e) => vec![failed("removing a recalled message", e)],
        },
    }
}

/// The reply carrying messages read from the store; on a failure it carries none (so the
/// pane stops waiting) and the failure follows as a notice.
fn with_messages(
    got: Result<Vec<Message>, StoreError>,
    reply: impl FnOnce(Vec<Message>) -> StoreReply,
) -> Vec<StoreReply> {
    match got {
        Ok(m) => vec![reply(m)],
        Err(e) => vec![reply(Vec::new()), failed("reading messages", e)],
    }
}

fn failed(what: &str, e: StoreError) -> StoreReply {
    tracing::warn!("local history: {what}: {e}");
    StoreReply::Failed {
        reason: format!("{what}: {e}"),
    }
}

/// What the store holds for the first frame: the conversation list and the drafts.
pub async fn startup(store: &StoreHandle) -> StoreReply {
    match store.read(|s| Ok((s.conversations()?, s.drafts()?))).await {
        Ok((conversations, drafts)) => StoreReply::Startup {
            conversations,
            drafts,
        },
        Err(e) => {
            tracing::error!("local history not readable: {e}");
            StoreReply::Unavailable {
                reason: e.to_string(),
            }
        }
    }
}
