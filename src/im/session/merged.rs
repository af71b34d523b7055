//! The events of several sessions as one stream, each tagged with its session's place in
//! the list: what serves several accounts (the core, `watch --account all`) reads one
//! stream, with no task or channel between a session and its reader.

use crate::im::api::ImEvent;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Every session's events, `(i, Some(event))`, and `(i, None)` once when session `i` ends;
/// ends itself when every session has. Sessions are polled in turn, starting after the one
/// that gave the last event, so a busy one cannot starve the others. Polling the channels
/// directly costs nothing per event beyond the channel itself (a general stream combinator
/// allocates for every item, and this is every message's path).
#[derive(Default)]
pub struct MergedEvents {
    sources: Vec<Tagged>,
    next: usize,
}

/// One session's event channel with its place in the list.
pub struct Tagged {
    i: usize,
    rx: mpsc::Receiver<ImEvent>,
}

impl MergedEvents {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a session (one that joins later).
    pub fn push(&mut self, source: Tagged) {
        self.sources.push(source);
    }
}

impl Stream for MergedEvents {
    type Item = (usize, Option<ImEvent>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let n = this.sources.len();
        for k in 0..n {
            let at = (this.next + k) % n;
            let Some(source) = this.sources.get_mut(at) else {
                continue;
            };
            match source.rx.poll_recv(cx) {
                Poll::Ready(Some(ev)) => {
                    this.next = at + 1;
                    return Poll::Ready(Some((source.i, Some(ev))));
                }
                Poll::Ready(None) => {
                    let ended = this.sources.remove(at);
                    this.next = at;
                    return Poll::Ready(Some((ended.i, None)));
                }
                Poll::Pending => {}
            }
        }
        if this.sources.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// Merges `receivers` (the sessions' event channels, in order).
pub fn merge(receivers: impl IntoIterator<Item = mpsc::Receiver<ImEvent>>) -> MergedEvents {
    MergedEvents {
        sources: receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| tagged(i, rx))
            .collect(),
        next: 0,
    }
}

/// One session's events tagged with `i`, for [`MergedEvents::push`].
pub fn tagged(i: usize, rx: mpsc::Receiver<ImEvent>) -> Tagged {
    Tagged { i, rx }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn each_event_comes_with_its_session_and_each_end_once() {
        let (a_tx, a_rx) = mpsc::channel(4);
        let (b_tx, b_rx) = mpsc::channel(4);
        let mut merged = merge([a_rx, b_rx]);
        b_tx.send(ImEvent::Connection(crate::im::api::ConnState::Live))
            .await
            .ok();
        drop(b_tx);
        a_tx.send(ImEvent::Connection(crate::im::api::ConnState::Live))
            .await
            .ok();
        drop(a_tx);
        let mut got = Vec::new();
        while let Some((i, ev)) = merged.next().await {
            got.push((i, ev.is_some()));
        }
        got.sort();
        assert_eq!(got, [(0, false), (0, true), (1, false), (1, true)]);
    }

    #[tokio::test]
    async fn a_busy_session_does_not_hold_back_the_others() {
        let (a_tx, a_rx) = mpsc::channel(8);
        let (b_tx, b_rx) = mpsc::channel(8);
        let mut merged = merge([a_rx, b_rx]);
        for _ in 0..4 {
            a_tx.send(ImEvent::Connection(crate::im::api::ConnState::Live))
                .await
                .ok();
            b_tx.send(ImEvent::Connection(crate::im::api::ConnState::Live))
                .await
                .ok();
        }
        let mut first = Vec::new();
        for _ in 0..4 {
            first.push(merged.next().await.map(|(i, _)| i));
        }
        assert_eq!(first, [Some(0), Some(1), Some(0), Some(1)]);
        // A session that joins later is read as well.
        let (c_tx, c_rx) = mpsc::channel(1);
        merged.push(tagged(2, c_rx));
        drop(c_tx);
        let mut rest = Vec::new();
        drop((a_tx, b_tx));
        while let Some((i, ev)) = merged.next().await {
            rest.push((i, ev.is_some()));
        }
        assert!(rest.contains(&(2, false)), "{rest:?}");
        assert_eq!(rest.iter().filter(|(_, some)| *some).count(), 4);
    }
}
