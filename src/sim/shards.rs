//! The simulator's sellers behind one set of endpoints, as on the real service: each
//! request is served by the seller its login cookie names (`unb`); a QR login logs into the
//! seller the control API chose (the phone that scans it); the control API takes
//! `?account=<uid>`. Everything else is the first seller's.

use super::state::Sim;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every seller of the simulator, the first one first.
pub struct Shards {
    pub all: Vec<Arc<Sim>>,
    /// Which seller the next QR login confirms as.
    login_target: AtomicUsize,
}

impl Shards {
    pub fn new(all: Vec<Arc<Sim>>) -> Shards {
        Shards {
            all,
            login_target: AtomicUsize::new(0),
        }
    }

    pub fn first(&self) -> &Arc<Sim> {
        // `start` always makes at least one.
        &self.all[0]
    }

    pub fn by_uid(&self, uid: &str) -> Option<&Arc<Sim>> {
        self.all.iter().find(|s| s.self_uid().as_str() == uid)
    }

    /// The next QR login logs in as `uid`. False when no seller has it.
    pub fn log_in_as(&self, uid: &str) -> bool {
        match self.all.iter().position(|s| s.self_uid().as_str() == uid) {
            Some(i) => {
                self.login_target.store(i, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The seller a request is for.
    fn pick(&self, parts: &Parts) -> &Arc<Sim> {
        if let Some(uid) = parts.uri.query().and_then(|q| query_value(q, "account"))
            && let Some(s) = self.by_uid(&uid)
        {
            return s;
        }
        let path = parts.uri.path();
        if path.starts_with("/newlogin/qrcode/") || path == "/mini_login.htm" {
            let i = self.login_target.load(Ordering::Relaxed);
            return self.all.get(i).unwrap_or_else(|| self.first());
        }
        let unb = super::mtop_gateway::request_cookies(&parts.headers).remove("unb");
        unb.and_then(|u| self.by_uid(&u))
            .unwrap_or_else(|| self.first())
    }
}

fn query_value(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The seller a request is for, as a handler's argument.
pub struct Shard(pub Arc<Sim>);

impl FromRequestParts<Arc<Shards>> for Shard {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        shards: &Arc<Shards>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Shard(shards.pick(parts).clone()))
    }
}
