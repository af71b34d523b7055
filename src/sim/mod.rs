//! The embedded Goofish simulator: mtop + passport over HTTP, LWP over WebSocket, a world of
//! buyers and items, a control API and fault injection. One loopback listener serves it all.
//!
//! Used by `--demo`, by the `sim` subcommand and by the tests; never by the real client path.

mod control;
mod driver;
mod faults;
mod host_check;
mod login_life;
mod lwp_server;
mod mtop_gateway;
mod passport;
mod pictures;
pub mod scenario;
mod shards;
mod state;
mod upload;
pub mod world;

use crate::protocol::Uid;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::FaultKind;
pub use scenario::Scenario;

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub listen: SocketAddr,
    pub seed: u64,
    pub scenario: Scenario,
    pub conversations: usize,
    pub history: usize,
    /// Confirm a generated login QR code by itself after this long (SCANED halfway).
    pub qr_auto_confirm: Option<Duration>,
    /// Lifetime of an IM access token (`accessTokenExpiredTime`).
    pub im_token_lifetime: Duration,
    /// Lifetime of an `_m_h5_tk` signing token; after it the gateway answers
    /// `FAIL_SYS_TOKEN_EXOIRED` and issues a new one.
    pub m_h5_tk_lifetime: Duration,
    /// A connection with no heartbeat for this long is kicked out.
    pub heartbeat_kick_after: Duration,
    /// The login cookie dies this long after it was issued or last renewed (`hasLogin.do`,
    /// `silentHasLogin.do`); then mtop answers `FAIL_SYS_SESSION_EXPIRED` and every socket is
    /// closed. `None`: it never dies on its own.
    pub session_lifetime: Option<Duration>,
    /// How many sellers it serves (at least one): each further one has its own uid, nick,
    /// login cookie, world and tokens, behind the same endpoints.
    pub sellers: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 1,
            scenario: Scenario::Quiet,
            conversations: 12,
            history: 30,
            qr_auto_confirm: None,
            im_token_lifetime: Duration::from_secs(24 * 3600),
            m_h5_tk_lifetime: Duration::from_secs(30 * 60),
            heartbeat_kick_after: Duration::from_secs(30),
            session_lifetime: None,
            sellers: 1,
        }
    }
}

/// The one JSON line `goofish-tui sim` prints when it is ready.
#[derive(Clone, Debug, Serialize)]
pub struct SimInfo {
    pub http: String,
    pub ws: String,
    pub cookie: String,
    pub self_uid: String,
    pub control: String,
    /// The further sellers (`--sellers`), each with its login cookie.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<SellerInfo>,
}

/// One further seller of the simulator.
#[derive(Clone, Debug, Serialize)]
pub struct SellerInfo {
    pub uid: String,
    pub nick: String,
    pub cookie: String,
}

/// A running simulator. Dropping the handle does not stop it; call `shutdown`.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub info: SimInfo,
    pub self_uid: Uid,
    sim: Arc<state::Sim>,
    shards: Arc<shards::Shards>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SimHandle {
    pub fn http_url(&self) -> &str {
        &self.info.http
    }
    pub fn ws_url(&self) -> &str {
        &self.info.ws
    }
    pub fn control_url(&self) -> &str {
        &self.info.control
    }
    /// A login cookie the simulator accepts (a `Cookie:` header value).
    pub fn cookie(&self) -> &str {
        &self.info.cookie
    }

    /// The further sellers' uids, nicks and login cookies.
    pub fn others(&self) -> &[SellerInfo] {
        &self.info.others
    }

    /// The next QR login confirms as seller `uid` (as if that seller's phone scanned it).
    /// False when no seller has it.
    pub fn log_in_as(&self, uid: &str) -> bool {
        self.shards.log_in_as(uid)
    }

    /// The secret values handed out so far: live IM access tokens, signing tokens and the
    /// login cookie's values (for tests that look for them where they must not be).
    pub fn secrets(&self) -> Vec<String> {
        let st = self.sim.state();
        let mut out: Vec<String> = st.im_tokens.keys().cloned().collect();
        out.extend(st.mtop_tokens.keys().cloned());
        out.extend(
            state::login_cookie_pairs(&self.self_uid, &st)
                .into_iter()
                .filter(|(name, _)| !matches!(*name, "unb" | "tracknick"))
                .map(|(_, value)| value),
        );
        out
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds the listener, builds the world and starts serving.
pub async fn start(opts: SimOptions) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let sellers = opts.sellers.max(1);
    let all: Vec<Arc<state::Sim>> = (0..sellers)
        .map(|n| {
            Arc::new(state::Sim::new(
                opts.clone(),
                format!("http://{addr}"),
                stop_rx.clone(),
                n,
            ))
        })
        .collect();
    let shards = Arc::new(shards::Shards::new(all));
    let sim = shards.first().clone();
    let others = shards
        .all
        .iter()
        .skip(1)
        .map(|s| {
            // One lock at a time: the cookie takes it again.
            let nick = s.state().world.self_nick.clone();
            SellerInfo {
                uid: s.self_uid().to_string(),
                nick,
                cookie: s.login_cookie(),
            }
        })
        .collect();
    let info = SimInfo {
        http: format!("http://{addr}"),
        ws: format!("ws://{addr}/"),
        cookie: sim.login_cookie(),
        self_uid: sim.self_uid().to_string(),
        control: format!("http://{addr}/__sim"),
        others,
    };
    let self_uid = sim.self_uid();
    for s in &shards.all {
        driver::spawn(s.clone());
        login_life::spawn(s.clone());
    }
    let handle_sim = sim.clone();
    let handle_shards = shards.clone();
    let app = axum::Router::new()
        .merge(mtop_gateway::routes())
        .merge(passport::routes())
        .merge(upload::routes())
        .merge(pictures::routes())
        .merge(control::routes())
        .merge(lwp_server::routes())
        .with_state(shards)
        .layer(axum::middleware::from_fn_with_state(
            host_check::HostPolicy {
                any_ip: !addr.ip().is_loopback(),
            },
            host_check::only_loopback_names,
        ));
    let mut stop = stop_rx;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("simulator stopped: {e}");
        }
    });
    tracing::info!(%addr, "simulator listening");
    Ok(SimHandle {
        addr,
        info,
        self_uid,
        sim: handle_sim,
        shards: handle_shards,
        stop: stop_tx,
        task,
    })
}
