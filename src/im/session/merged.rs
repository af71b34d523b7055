//! The events of several sessions as one stream, each tagged with its session's place in
//! the list: what serves several accounts (the core, `watch --account all`) reads one
//! stream, with no task or channel between a session and its reader.

use crate::im::api::ImEvent;
use futures_util::stream::{self, BoxStream, SelectAll, StreamExt};
use tokio::sync::mpsc;

/// Every session's events, `(i, Some(event))`, and `(i, None)` once when session `i` ends.
pub type MergedEvents = SelectAll<BoxStream<'static, (usize, Option<ImEvent>)>>;

/// Merges `receivers` (the sessions' event channels, in order).
pub fn merge(receivers: impl IntoIterator<Item = mpsc::Receiver<ImEvent>>) -> MergedEvents {
    stream::select_all(
        receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| tagged(i, rx)),
    )
}

/// One session's events tagged with `i`, for [`MergedEvents::push`] (a session that joins
/// later).
pub fn tagged(
    i: usize,
    rx: mpsc::Receiver<ImEvent>,
) -> BoxStream<'static, (usize, Option<ImEvent>)> {
    stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) },
    )
    .map(move |ev| (i, Some(ev)))
    .chain(stream::once(async move { (i, None) }))
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
