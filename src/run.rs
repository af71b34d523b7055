//! Start-up: settings, the login cookie, the simulator for `--demo`, the session actor, and
//! the terminal UI. Headless commands share `connect`.

use crate::app::UiOptions;
use crate::cli::Cli;
use crate::config::{FileConfig, Overrides, Paths, Resolved};
use crate::im::conn::ConnConfig;
use crate::im::cookies::CookieJar;
use crate::im::mtop::{Endpoints, MtopClient, MtopError};
use crate::im::session::{self, DeviceSource, SessionConfig, SessionHandle};
use crate::im::{ImCommand, device};
use crate::protocol::Uid;
use crate::secret::Secret;
use crate::sim::{self, Scenario, SimHandle, SimOptions};
use crate::store::{Store, StoreHandle};
use crate::text::i18n::COOKIE_HELP;
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use std::io::IsTerminal;
use std::time::Duration;

/// A session ready to be used, with the simulator it talks to when in demo mode.
pub struct Connection {
    pub session: SessionHandle,
    pub sim: Option<SimHandle>,
    pub paths: Paths,
    pub file: FileConfig,
    /// The account's local history (also used by the session), when it could be opened.
    pub store: Option<StoreHandle>,
    /// Why there is no local history, when opening it failed.
    pub store_problem: Option<String>,
}

impl Connection {
    /// Asks the session to stop and waits a little for it, then stops the simulator.
    pub async fn shutdown(self) {
        let _ = self.session.commands.send(ImCommand::Shutdown).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.task).await;
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

pub fn load_settings(cli: &Cli) -> Result<(Paths, FileConfig)> {
    let config_file = Paths::config_file(cli.config.as_deref())?;
    let file = FileConfig::load(&config_file)?;
    let paths = Paths::resolve(config_file, cli.data_dir.as_deref(), &file)?;
    Ok((paths, file))
}

/// Starts logging to the state dir; a failure to do so is reported and not fatal.
pub fn start_file_logging(
    cli: &Cli,
    paths: &Paths,
    file: &FileConfig,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let level = cli
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .unwrap_or_else(|| "info".into());
    match crate::logging::to_file(&paths.log_dir, &crate::logging::spec(&level)) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!(
                "goofish-tui: cannot write logs to {}: {e}",
                paths.log_dir.display()
            );
            None
        }
    }
}

/// What the command line and the environment (`GOOFISH_COOKIE`) say over the config file.
pub fn overrides(cli: &Cli) -> Overrides {
    Overrides {
        mtop_url: cli.conn.mtop_url.clone(),
        passport_url: cli.conn.passport_url.clone(),
        upload_url: cli.conn.upload_url.clone(),
        ws_url: cli.conn.ws_url.clone(),
        cookie_file: cli.conn.cookie_file.clone(),
        cookie: std::env::var("GOOFISH_COOKIE")
            .ok()
            .filter(|c| !c.trim().is_empty())
            .map(Secret::new),
        heartbeat_secs: cli.conn.heartbeat_secs,
    }
}

/// Resolves endpoints and the cookie, checks the cookie once, and starts the session actor
/// (with the embedded simulator when `cli.demo`).
/// `catch_up`: at the first connection, fetch what arrived since this account's last
/// session (the messenger and `watch`; not a one-shot command).
pub async fn connect(
    cli: &Cli,
    paths: Paths,
    file: FileConfig,
    catch_up: bool,
) -> Result<Connection> {
    let resolved = Resolved::new(&file, &overrides(cli))?;
    let conn_cfg = |ws: String| ConnConfig {
        ws_url: ws,
        heartbeat_every: resolved.heartbeat,
        ..ConnConfig::default()
    };

    if cli.demo {
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
        let did = device::generate_device_id(&sim.self_uid);
        let mut cfg =
            SessionConfig::new(conn_cfg(sim.ws_url().to_string()), DeviceSource::Fixed(did));
        // The demo's world is made anew each run: there is nothing to catch up with.
        cfg.catch_up_at_start = false;
        // A file of its own (not in memory), so `--demo search` and restarts work as for
        // a real account, without mixing made-up conversations into one.
        let dir = crate::store::cmd::store_dir(&paths, true);
        let (store, store_problem) = open_store(dir, &sim.self_uid, &file).await;
        cfg.store = store.clone();
        let session = session::spawn(cfg, mtop);
        return Ok(Connection {
            session,
            sim: Some(sim),
            paths,
            file,
            store,
            store_problem,
        });
    }

    let jar_path = paths.cookie_jar();
    let (jar, source) = match resolved.cookie {
        Some(jar) => (jar, resolved.cookie_source.clone().unwrap_or_default()),
        // A saved jar without a user id is no login either.
        None => match CookieJar::load(&jar_path) {
            Ok(jar) if jar.uid().is_some() => {
                (jar, format!("the saved cookie jar {}", jar_path.display()))
            }
            _ => return Err(NoLogin.into()),
        },
    };
    let Some(uid) = jar.uid() else {
        bail!(
            "The cookie from {source} has no `unb` (user id): it does not come from a logged-in tab.\n\n{COOKIE_HELP}"
        );
    };
    let endpoints = Endpoints::from_urls(&resolved.endpoints).map_err(|e| eyre!(e))?;
    crate::private_fs::create_dir(&paths.data_dir).wrap_err_with(|| {
        format!(
            "cannot create the data directory {}",
            paths.data_dir.display()
        )
    })?;
    let mtop = MtopClient::new(endpoints, jar, Some(jar_path))?;
    // One quick check so that a dead cookie is a clear message, not a screen stuck on
    // "needs login". A slow or absent network is not a reason to refuse to start.
    match tokio::time::timeout(Duration::from_secs(8), mtop.login_user()).await {
        Ok(Err(e @ (MtopError::SessionExpired | MtopError::NoCookie))) => {
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
        conn_cfg(resolved.endpoints.ws.clone()),
        DeviceSource::File(paths.device_id()),
    );
    let (store, store_problem) = open_store(paths.data_dir.clone(), &uid, &file).await;
    cfg.store = store.clone();
    cfg.catch_up_at_start = catch_up;
    let session = session::spawn(cfg, mtop);
    Ok(Connection {
        session,
        sim: None,
        paths,
        file,
        store,
        store_problem,
    })
}

/// Opens the local history of `uid` under `dir` and applies the retention cap. A damaged,
/// locked, newer or unwritable database is logged and the program runs without the cache;
/// the second value says why.
pub async fn open_store(
    dir: std::path::PathBuf,
    uid: &Uid,
    file: &FileConfig,
) -> (Option<StoreHandle>, Option<String>) {
    let owner = uid.clone();
    let opened = tokio::task::spawn_blocking(move || Store::open(&dir, &owner)).await;
    let problem = match opened {
        Ok(Ok(store)) => {
            tracing::info!(path = ?store.path(), "local history opened");
            let handle = StoreHandle::new(store);
            if let Some(keep) = file.keep_per_conversation {
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

/// Neither a cookie given by the user nor a saved login: nobody has logged in here yet.
#[derive(Debug, thiserror::Error)]
#[error("No Goofish login cookie was found.\n\n{COOKIE_HELP}")]
pub struct NoLogin;

/// The UI settings: the config file's `[ui]` table, then `--lang`.
pub fn ui_options(cli: &Cli, file: &FileConfig) -> Result<UiOptions> {
    let mut opts: UiOptions = match &file.ui {
        Some(table) => toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e| eyre!("the [ui] section of the config file is not valid: {e}"))?,
        None => UiOptions::default(),
    };
    if let Some(lang) = cli.lang {
        opts.lang = lang.into();
    }
    Ok(opts)
}

/// The terminal messenger.
pub async fn tui(cli: &Cli) -> Result<()> {
    let (paths, file) = load_settings(cli)?;
    let _log = start_file_logging(cli, &paths, &file);
    let options = ui_options(cli, &file)?;
    let mut conn = match connect(cli, paths.clone(), file.clone(), true).await {
        Err(e) if e.is::<NoLogin>() && std::io::stdout().is_terminal() => {
            println!(
                "No Goofish login yet. Scan the code below with the Xianyu (闲鱼) app to log in \
                 (Ctrl-C to stop; `goofish-tui --demo` tries the program without an account)."
            );
            crate::headless::login::login(cli, &crate::cli::LoginArgs::default())
                .await
                .map_err(|e| eyre!("{e}\n\n{COOKIE_HELP}"))?;
            connect(cli, paths, file, true).await?
        }
        other => other?,
    };
    let commands = conn.session.commands.clone();
    commands
        .send(ImCommand::ListConversations)
        .await
        .map_err(|_| eyre!("the session stopped at start"))?;
    let result = crate::tui::run(
        commands,
        &mut conn.session.events,
        options,
        conn.store.clone(),
        conn.store_problem.clone(),
    )
    .await;
    conn.shutdown().await;
    result
}
