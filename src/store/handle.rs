//! A cheap, clonable handle for async code: each call runs on the blocking pool while
//! holding the store's lock, so the single connection is never used from two threads.

use super::{Store, StoreError};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl StoreHandle {
    pub fn new(store: Store) -> StoreHandle {
        StoreHandle {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `f` on the blocking pool. Calls are serialised in the order they take the lock.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = inner
                .lock()
                .map_err(|_| StoreError::Unavailable("an earlier store call panicked".into()))?;
            f(&mut store)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs `f` on the current thread (for synchronous callers off the async runtime).
    pub fn blocking<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut store = self
            .inner
            .lock()
            .map_err(|_| StoreError::Unavailable("an earlier store call panicked".into()))?;
        f(&mut store)
    }
}
