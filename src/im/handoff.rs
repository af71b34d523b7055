//! Handing a value on through a bounded channel, on paths that run for every push and every
//! message.

use tokio::sync::mpsc;

/// Sends `v` at once when the channel has room (nearly always: no send future is built for
/// it), else waits for room. An error means the receiver is gone.
pub async fn send<T>(tx: &mpsc::Sender<T>, v: T) -> Result<(), ()> {
    match tx.try_send(v) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(v)) => tx.send(v).await.map_err(drop),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
    }
}
