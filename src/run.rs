//! Start-up shared by the messenger and the commands: the log file, the login cookie, the
//! simulator for `--demo`, the session actor and the account's local history.

use crate::accounts::{self, Account};
use crate::config::Settings;
use crate::im::ImCommand;
use crate::im::conn::ConnConfig;
use crate::im::cookies::CookieJar;
use crate::im::mtop::{Endpoints, MtopClient, MtopError};
use crate::im::session::{self, DeviceSource, SessionConfig, SessionHandle};
use crate::protocol::Uid;
#[cfg(feature = "sim")]
use crate::sim::{self, Scenario, SimHandle, SimOptions};
use crate::store::{Store, StoreHandle};
use crate::text::i18n::COOKIE_HELP;
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use std::time::Duration;

/// A session ready to be used, with the simulator it talks to when in demo mode.
pub struct Connection {
    pub session: SessionHandle,
    #[cfg(feature = "sim")]
    pub sim: Option<SimHandle>,
    /// The account's local history (also used by the session), when it could be opened.
    pub store: Option<StoreHandle>,
    /// Why there is no local history, when opening it failed.
    pub store_problem: Option<String>,
    /// The session is the background core's: its writes reach `store` through another
    /// process, committed a little after its events.
    pub attached: bool,
}

impl Connection {
    /// Asks the session to stop and waits a little for it, then stops the simulator.
    pub async fn shutdown(self) {
        let _ = self.session.commands.send(ImCommand::Shutdown).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.task).await;
        #[cfg(feature = "sim")]
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

/// Starts logging to the state dir; a failure to do so is reported and not fatal.
pub fn start_file_logging(
    settings: &Settings,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let log_dir = &settings.paths.log_dir;
    match crate::logging::to_file(log_dir, &crate::logging::spec(&settings.log_file_level)) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!(
                "goofish-tui: cannot write logs to {}: {e}",
                log_dir.display()
            );
            None
        }
    }
}

/// Reads the given cookie, checks it once, and starts the session actor (with the embedded
/// simulator when `settings.demo`).
/// `catch_up`: at the first connection, fetch what arrived since this account's last
/// session (the messenger and `watch`; not a one-shot command).
pub async fn connect(settings: &Settings, catch_up: bool) -> Result<Connection> {
    if settings.demo {
        return demo(settings).await;
    }

    let login = login_account(settings)?;
    connect_as(settings, login, catch_up).await
}

/// The WebSocket settings of a session with `ws` as its address.
fn conn_config(settings: &Settings, ws: String) -> ConnConfig {
    ConnConfig {
        ws_url: ws,
        heartbeat_every: settings.heartbeat,
        ..ConnConfig::default()
    }
}

/// The session of one account, logged in with `login`'s jar; its device id and local
/// history are the account's own.
pub async fn connect_as(settings: &Settings, login: Login, catch_up: bool) -> Result<Connection> {
    let Login {
        jar,
        source,
        account,
    } = login;
    let uid = account.uid.clone();
    let jar_path = account.jar();
    let endpoints = Endpoints::from_urls(&settings.endpoints).map_err(|e| eyre!(e))?;
    crate::private_fs::create_dir(&account.dir).wrap_err_with(|| {
        format!(
            "cannot create the account's directory {}",
            account.dir.display()
        )
    })?;
    let mtop = MtopClient::new(endpoints, jar, Some(jar_path))?;
    // One quick check so that a dead cookie is a clear message, not a screen stuck on
    // "needs login". A slow or absent network is not a reason to refuse to start.
    let mut silent_spent = false;
    match tokio::time::timeout(Duration::from_secs(8), mtop.login_user()).await {
        Ok(Err(MtopError::SessionExpired)) if renewed_at_start(&mtop, &mut silent_spent).await => {}
        Ok(Err(e @ (MtopError::SessionExpired | MtopError::NoCookie))) => {
            // A saved login that died can be replaced by a new one (QR code); a cookie the
            // user gives cannot: it would be used again.
            if settings.cookie.is_none() {
                return Err(LoginExpired { from: source }.into());
            }
            bail!("The login cookie from {source} was rejected: {e}\n\n{COOKIE_HELP}")
        }
        Ok(Err(MtopError::RiskControl { url })) => bail!(
            "Goofish asks for a slider check (risk control). Open this page in a browser logged into the account, \
             pass the check, then export a fresh cookie:\n  {}",
            url.unwrap_or_else(|| "https://www.goofish.com/im".into())
        ),
        Ok(Err(e)) => tracing::warn!("login check failed, starting anyway: {e}"),
        Ok(Ok(uid)) => tracing::info!(%uid, "logged in"),
        Err(_) => tracing::warn!("login check timed out, starting anyway"),
    }
    let mut cfg = SessionConfig::new(
        conn_config(settings, settings.endpoints.ws.clone()),
        DeviceSource::File(account.device_id()),
    );
    cfg.login.keepalive = Some(settings.login_keepalive);
    cfg.login.silent_spent = silent_spent;
    cfg.login.renew_every = Some(settings.login_renew);
    let keep = settings.keep_per_conversation;
    let (store, store_problem) = open_store(account.store_dir(), &uid, keep).await;
    cfg.store = store.clone();
    cfg.catch_up_at_start = catch_up;
    let session = session::spawn(cfg, mtop);
    Ok(Connection {
        session,
        #[cfg(feature = "sim")]
        sim: None,
        store,
        store_problem,
        attached: false,
    })
}

/// One account's login, read without the network.
pub struct Login {
    pub jar: CookieJar,
    /// Where the cookie comes from, for messages.
    pub source: String,
    pub account: Account,
}

/// The login to use, read without the network: the cookie given this time, else the saved
/// jar of the account `--account` names (the first one when it names none); where it comes
/// from (for messages) and whose it is. [`NoLogin`] when there is none, [`UnknownAccount`]
/// when `--account` names none of them.
pub fn login(settings: &Settings) -> Result<(CookieJar, String, Uid)> {
    let l = login_account(settings)?;
    Ok((l.jar, l.source, l.account.uid))
}

/// As [`login`], with the account's folder.
pub fn login_account(settings: &Settings) -> Result<Login> {
    if let Some(given) = given_login(settings)? {
        return Ok(given);
    }
    let wanted = settings.account.as_deref();
    if wanted == Some(accounts::ALL) {
        bail!(
            "--account all is for `watch`; the other commands take one account (a uid or a nick)"
        );
    }
    saved_login_of(settings, wanted)
}

/// Every account's login, for the core: the given cookie alone when there is one.
pub fn logins(settings: &Settings) -> Result<Vec<Login>> {
    if let Some(given) = given_login(settings)? {
        return Ok(vec![given]);
    }
    let all = accounts::list(&settings.paths.data_dir);
    if all.is_empty() {
        return Err(NoLogin.into());
    }
    all.into_iter().map(saved_login).collect()
}

/// The saved login of the data directory's account that `wanted` names (a uid or a nick; the
/// first account when it names none).
pub fn saved_login_of(settings: &Settings, wanted: Option<&str>) -> Result<Login> {
    let all = accounts::list(&settings.paths.data_dir);
    let Some(account) = accounts::choose(&all, wanted)? else {
        return Err(NoLogin.into());
    };
    saved_login(account.clone())
}

fn saved_login(account: Account) -> Result<Login> {
    let path = account.jar();
    match CookieJar::load(&path) {
        Ok(jar) if jar.uid().as_ref() == Some(&account.uid) => Ok(Login {
            jar,
            source: format!("the saved cookie jar {}", path.display()),
            account,
        }),
        // Changed since it was listed.
        _ => Err(NoLogin.into()),
    }
}

/// The cookie given this time (`GOOFISH_COOKIE`, `--cookie-file`): a run of that one
/// account, in its folder (the one it has, else a new one).
fn given_login(settings: &Settings) -> Result<Option<Login>> {
    let Some(c) = settings.cookie.as_ref() else {
        return Ok(None);
    };
    let jar = CookieJar::from_given(c)?;
    let source = c.source.clone();
    let Some(uid) = jar.uid() else {
        bail!(
            "The cookie from {source} has no `unb` (user id): it does not come from a logged-in tab.\n\n{COOKIE_HELP}"
        );
    };
    let data = &settings.paths.data_dir;
    let account = accounts::list(data)
        .into_iter()
        .find(|a| a.uid == uid)
        .unwrap_or_else(|| Account {
            dir: accounts::dir_for(data, &uid),
            uid,
            nick: None,
            added_ms: 0,
        });
    Ok(Some(Login {
        jar,
        source,
        account,
    }))
}

/// The session a view uses: the background core's (attaching to it, or starting it), or one
/// in this process with `--no-daemon` and `--demo`. `view` names the view for
/// `daemon --status`; `store`: the view reads the local history itself (its own connection
/// to the database); `ask`: how the view asks its user whether to restart a core of another
/// version.
pub async fn open_session(
    settings: &Settings,
    catch_up: bool,
    view: &str,
    store: bool,
    ask: &dyn crate::daemon::upgrade::Ask,
) -> Result<Connection> {
    if settings.demo || settings.no_daemon {
        return connect(settings, catch_up).await;
    }
    crate::daemon::attach(settings, view, store, ask).await
}

/// The session against the embedded simulator, with a world made for the demo.
#[cfg(feature = "sim")]
async fn demo(settings: &Settings) -> Result<Connection> {
    let sim = sim::start(SimOptions {
        scenario: Scenario::Demo,
        seed: 7,
        ..SimOptions::default()
    })
    .await
    .wrap_err("cannot start the embedded simulator")?;
    let base = url::Url::parse(sim.http_url()).map_err(|e| eyre!("simulator address: {e}"))?;
    let jar = CookieJar::parse_header(sim.cookie());
    let mtop = MtopClient::new(Endpoints::at(base), jar, None)?;
    let did = crate::im::device::generate_device_id(&sim.self_uid);
    let mut cfg = SessionConfig::new(
        conn_config(settings, sim.ws_url().to_string()),
        DeviceSource::Fixed(did),
    );
    // The demo's world is made anew each run: there is nothing to catch up with.
    cfg.catch_up_at_start = false;
    // A file of its own (not in memory), so `--demo search` and restarts work as for a real
    // account, without mixing made-up conversations into one.
    let keep = settings.keep_per_conversation;
    let (store, store_problem) = open_store(settings.store_dir(), &sim.self_uid, keep).await;
    cfg.store = store.clone();
    let session = session::spawn(cfg, mtop);
    Ok(Connection {
        session,
        sim: Some(sim),
        store,
        store_problem,
        attached: false,
    })
}

/// Without the simulator there is no demo.
#[cfg(not(feature = "sim"))]
async fn demo(_: &Settings) -> Result<Connection> {
    bail!("{}", crate::text::i18n::NO_SIMULATOR)
}

/// Opens the local history of `uid` under `dir` and applies the retention cap. A damaged,
/// locked, newer or unwritable database is logged and the program runs without the cache;
/// the second value says why.
/// `keep`: the retention cap (messages kept per conversation), if any.
pub async fn open_store(
    dir: std::path::PathBuf,
    uid: &Uid,
    keep: Option<usize>,
) -> (Option<StoreHandle>, Option<String>) {
    let owner = uid.clone();
    let opened = tokio::task::spawn_blocking(move || Store::open(&dir, &owner)).await;
    let problem = match opened {
        Ok(Ok(store)) => {
            tracing::info!(path = ?store.path(), "local history opened");
            let handle = StoreHandle::new(store);
            if let Some(keep) = keep {
                trim_later(handle.clone(), keep);
            }
            return (Some(handle), None);
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::error!("running without local history: {problem}");
    (None, Some(problem))
}

/// How long after start-up the retention cap is applied: trimming reads every stored message
/// (about a second per million), which must not delay the first frame or the first sync.
const TRIM_DELAY: Duration = Duration::from_secs(20);

/// Applies the retention cap in the background, a little after start-up: one conversation
/// at a time, as background work, so that live messages are never held up behind it.
fn trim_later(store: StoreHandle, keep: usize) {
    tokio::spawn(async move {
        tokio::time::sleep(TRIM_DELAY).await;
        let cids = match store.background(|s| s.message_cids()).await {
            Ok(cids) => cids,
            Err(e) => return tracing::warn!("cannot apply the retention cap: {e}"),
        };
        let mut removed = 0;
        for cid in cids {
            match store
                .background(move |s| s.prune_conversation(&cid, keep))
                .await
            {
                Ok(n) => removed += n,
                Err(e) => return tracing::warn!("cannot apply the retention cap: {e}"),
            }
        }
        if removed > 0 {
            tracing::info!(removed, "local history trimmed to the retention cap");
        }
    });
}

/// The login expired before the start: renewed (§5.4) if the service allows, before the user
/// is asked for a new one. Whether it works again.
/// `silent_spent`: whether `silentHasLogin.do` was used (its fatigue window starts now).
async fn renewed_at_start(mtop: &MtopClient, silent_spent: &mut bool) -> bool {
    tracing::info!("the login expired; renewing it before starting");
    let renewal = tokio::time::timeout(
        Duration::from_secs(20),
        crate::im::renewal::renew_login(mtop, true),
    );
    match renewal.await {
        Ok((Ok(step), silent)) => {
            *silent_spent = silent;
            tracing::info!(via = step.name(), "login renewed at start");
            true
        }
        Ok((Err(why), _)) => {
            tracing::warn!(%why, "login renewal at start failed");
            false
        }
        Err(_) => {
            tracing::warn!("login renewal at start timed out");
            false
        }
    }
}

/// The saved login was rejected and could not be renewed: a new login is needed.
#[derive(Debug, thiserror::Error)]
#[error("The login cookie from {from} was rejected and could not be renewed.\n\n{COOKIE_HELP}")]
pub struct LoginExpired {
    pub from: String,
}

/// Neither a cookie given by the user nor a saved login: nobody has logged in here yet.
#[derive(Debug, thiserror::Error)]
#[error("No Goofish login cookie was found.\n\n{COOKIE_HELP}")]
pub struct NoLogin;

#[cfg(test)]
mod tests {
    use crate::text::i18n::{Lang, message};

    #[test]
    fn no_login_is_said_whole_in_chinese() {
        let help = message(Lang::Zh, &super::NoLogin.to_string());
        assert!(help.starts_with("没有找到闲鱼登录 cookie。"), "{help}");
        assert!(help.contains("扫描它显示的二维码") && !help.contains("Log in with"));
    }
}
