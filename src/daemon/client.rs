//! A view's side of the core's socket: attach (starting a core when none runs), then a
//! bridge that turns the socket into the same command and event channels an in-process
//! session has, so every view runs unchanged on either. When the core dies the bridge says
//! so and starts a new one; what was asked meanwhile waits in the command channel.

use super::server::read_line;
use super::wire::{self, CoreLine, CoreStatus, PROTOCOL, ViewLine};
use super::{Place, core_args, place};
use crate::config::Settings;
use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::im::session::SessionHandle;
use crate::protocol::{ClientId, Uid};
use crate::run::Connection;
use color_eyre::eyre::{Result, eyre};
use std::collections::HashSet;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// How long a started core may take to open its socket (it checks the login first: up to
/// 8 s against a slow network).
const START_WITHIN: Duration = Duration::from_secs(20);
/// How long the core may take to say hello.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// How long a view waits while the core starts the session of an account it did not serve
/// (a login check of up to 8 s, then the session).
const JOIN_WITHIN: Duration = Duration::from_secs(30);
const COMMAND_CAPACITY: usize = 256;
const EVENT_CAPACITY: usize = 1024;

/// An open connection to the core, past the hellos.
pub(super) struct Link {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    hello_account: Option<Uid>,
    /// The core's program version and process, from its hello.
    pub(super) version: String,
    pub(super) pid: Option<u32>,
    /// Every account the core serves, as its hello says.
    hello_accounts: Vec<Uid>,
}

impl Link {
    /// The first event the core sends this view, or why it refused the view.
    async fn first_event(&mut self, within: Duration) -> Result<ImEvent, AttachError> {
        let mut buf = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let text = next_text(&mut self.rd, &mut buf, deadline, "no answer in time").await?;
            match wire::parse_core(&text) {
                Ok(CoreLine::Event { event }) => return Ok(event),
                Ok(CoreLine::Error { message }) => return Err(AttachError::Refused(message)),
                Ok(CoreLine::Stopping) => {
                    return Err(AttachError::NoAnswer("it is stopping".into()));
                }
                Ok(CoreLine::Dropped { reason }) => return Err(AttachError::Refused(reason)),
                Ok(CoreLine::Hello { .. } | CoreLine::Status(_)) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }

    /// Asks this core to end, and waits until it closes the connection.
    pub(super) async fn stop(mut self) -> Result<()> {
        send_line(&mut self.wr, &ViewLine::Stop).await?;
        let mut buf = Vec::new();
        let ended = async { while let Ok(Some(_)) = read_line(&mut self.rd, &mut buf).await {} };
        tokio::time::timeout(HELLO_WITHIN, ended)
            .await
            .map_err(|_| AttachError::NoAnswer("it did not end when asked".into()).into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(
        "a core of another version runs ({version}, protocol {protocol}; this is {ours}, protocol {PROTOCOL}): \
         stop it with `goofish-tui daemon --stop`, or use --no-daemon"
    )]
    OtherVersion {
        version: String,
        protocol: u32,
        ours: String,
        /// The other core's process, from its hello.
        pid: Option<u32>,
    },
    #[error("the core refused this view: {0}")]
    Refused(String),
    #[error("the core did not answer: {0}")]
    NoAnswer(String),
    #[error("the background core could not start: {0}")]
    NotStarted(String),
}

/// Attaches to the account's core (starting one when none runs) and gives the session's
/// channels. `store`: also open the local history in this process, for reading. A core of
/// another version is restarted or used as `ask` and the settings say ([`super::upgrade`]).
pub async fn attach(
    settings: &Settings,
    view: &str,
    store: bool,
    ask: &dyn super::upgrade::Ask,
) -> Result<Connection> {
    // A missing login is said here, before any core is started for nothing.
    let account = crate::run::login_account(settings)?.account;
    let uid = account.uid.clone();
    let mut link = super::upgrade::connect(settings, view, &uid, ask).await?;
    // An account the core does not serve yet (logged in after it started, or refused when it
    // started): the core starts its session first, and says so with the first event, or
    // says why it cannot.
    let first = if !link.hello_accounts.is_empty() && !link.hello_accounts.contains(&uid) {
        tracing::info!(%uid, "the core does not serve this account yet; it starts its session");
        Some(link.first_event(JOIN_WITHIN).await?)
    } else {
        None
    };
    if let Some(served) = &link.hello_account
        && link.hello_accounts.is_empty()
        && served != &uid
    {
        tracing::warn!(%served, %uid, "the core serves another account than the given cookie");
    }
    let (store, store_problem) = if store {
        crate::run::open_store(account.store_dir(), &uid, None).await
    } else {
        (None, None)
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    if let Some(ev) = first {
        let _ = ev_tx.try_send(ev);
    }
    let task = tokio::spawn(bridge(
        settings.clone(),
        view.to_string(),
        uid,
        link,
        cmd_rx,
        ev_tx,
    ));
    Ok(Connection {
        session: SessionHandle {
            commands: cmd_tx,
            events: ev_rx,
            task,
        },
        #[cfg(feature = "sim")]
        sim: None,
        store,
        store_problem,
        attached: true,
    })
}

/// One question to a running core (`status`, `stop`) and its answer; `Ok(None)` when no
/// core runs.
pub async fn request(settings: &Settings, line: ViewLine) -> Result<Option<CoreLine>> {
    let place = place(settings);
    let stream = match UnixStream::connect(&place.socket).await {
        Ok(s) => s,
        Err(e) if absent(&e) => return Ok(None),
        Err(e) => {
            return Err(eyre!(
                "cannot reach the core at {}: {e}",
                place.socket.display()
            ));
        }
    };
    let mut link = match handshake(stream, "daemon", None).await {
        Ok(l) => l,
        // A core of another version speaks another protocol: it is stopped as any process.
        Err(AttachError::OtherVersion { pid: Some(pid), .. }) if line == ViewLine::Stop => {
            terminate(pid)?;
            return Ok(Some(CoreLine::Stopping));
        }
        Err(e) => return Err(e.into()),
    };
    send_line(&mut link.wr, &line).await?;
    let mut buf = Vec::new();
    loop {
        let got = tokio::time::timeout(HELLO_WITHIN, read_line(&mut link.rd, &mut buf))
            .await
            .map_err(|_| AttachError::NoAnswer("no answer in time".into()))?;
        match got {
            Ok(Some(Ok(text))) => match wire::parse_core(&text) {
                Ok(CoreLine::Event { .. }) => continue,
                Ok(other) => return Ok(Some(other)),
                Err(e) => return Err(eyre!(e)),
            },
            // The core went away as asked.
            Ok(None) if matches!(line, ViewLine::Stop) => return Ok(Some(CoreLine::Stopping)),
            Ok(None) => return Err(AttachError::NoAnswer("it closed the connection".into()).into()),
            Ok(Some(Err(e))) => return Err(eyre!(e)),
            Err(e) => return Err(eyre!(e)),
        }
    }
}

/// SIGTERM to a core: it ends as on `stop` (its outbox is in the store).
pub(super) fn terminate(pid: u32) -> Result<()> {
    let pid = i32::try_from(pid).map_err(|_| eyre!("not a process id: {pid}"))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .map_err(|e| eyre!("cannot stop the core (pid {pid}): {e}"))
}

/// The status of the running core, if one runs.
pub async fn status(settings: &Settings) -> Result<Option<CoreStatus>> {
    match request(settings, ViewLine::Status).await? {
        Some(CoreLine::Status(s)) => Ok(Some(s)),
        Some(other) => Err(eyre!("unexpected answer: {}", wire::encode(&other))),
        None => Ok(None),
    }
}

/// No core listens there: no socket file, or one left by a core that died.
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// The core's link, or `None` when no core listens at `place` (yet).
pub(super) async fn try_connect(place: &Place, view: &str, account: &Uid) -> Result<Option<Link>> {
    match UnixStream::connect(&place.socket).await {
        Ok(s) => Ok(Some(handshake(s, view, Some(account)).await?)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(eyre!(
            "cannot reach the core at {}: {e}",
            place.socket.display()
        )),
    }
}

pub(super) async fn connect_or_start(
    settings: &Settings,
    view: &str,
    account: &Uid,
) -> Result<Link> {
    let place = place(settings);
    if let Some(link) = try_connect(&place, view, account).await? {
        return Ok(link);
    }
    let mut child = start_core(settings, &place)?;
    let deadline = tokio::time::Instant::now() + START_WITHIN;
    loop {
        if let Some(link) = try_connect(&place, view, account).await? {
            return Ok(link);
        }
        // A core that ended at once says why in its error file (exit 0: another view
        // started one at the same moment, which is about to listen).
        if let Ok(Some(exit)) = child.try_wait()
            && !exit.success()
        {
            let said = std::fs::read_to_string(&place.errors).unwrap_or_default();
            let said = said.trim();
            let said = said.strip_prefix("goofish-tui: ").unwrap_or(said);
            return Err(AttachError::NotStarted(if said.is_empty() {
                format!("it ended with {exit}")
            } else {
                said.to_string()
            })
            .into());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AttachError::NotStarted(format!(
                "no socket at {} after {} s",
                place.socket.display(),
                START_WITHIN.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Starts `goofish-tui daemon --foreground` with this process's settings, detached: its own
/// process group (a hang-up or Ctrl-C of this terminal does not reach it), no terminal, its
/// early errors in a file of its own.
fn start_core(settings: &Settings, place: &Place) -> Result<tokio::process::Child> {
    let exe = match &settings.core_program {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| eyre!("cannot find this program: {e}"))?,
    };
    crate::private_fs::create_dir(&place.dir)
        .map_err(|e| eyre!("cannot create {}: {e}", place.dir.display()))?;
    let errors = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&place.errors)
            .map_err(|e| eyre!("cannot create {}: {e}", place.errors.display()))?
    };
    tracing::info!("starting the background core");
    let mut command = tokio::process::Command::new(exe);
    // A cookie given as a value (GOOFISH_COOKIE, the config file) goes to the core as it was
    // given, never on its command line.
    if let Some(crate::config::GivenCookie {
        value: crate::config::CookieValue::Header(cookie),
        ..
    }) = &settings.cookie
    {
        command.env("GOOFISH_COOKIE", cookie.expose());
    }
    // The core must listen where this view looks, whatever its own environment says.
    command.env("GOOFISH_RUNTIME_DIR", &settings.paths.runtime_dir);
    let child = command
        .args(core_args(settings))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(errors)
        .process_group(0)
        .spawn()
        .map_err(|e| AttachError::NotStarted(e.to_string()))?;
    Ok(child)
}

/// `account`: the account the view is for (none: the core's first).
async fn handshake(
    stream: UnixStream,
    view: &str,
    account: Option<&Uid>,
) -> Result<Link, AttachError> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let hello = ViewLine::Hello {
        protocol: PROTOCOL,
        view: view.to_string(),
        pid: Some(std::process::id()),
        account: account.cloned(),
    };
    send_line(&mut wr, &hello)
        .await
        .map_err(|e| AttachError::NoAnswer(e.to_string()))?;
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + HELLO_WITHIN;
    let text = next_text(&mut rd, &mut buf, deadline, "no hello in time").await?;
    // The hello's shape may differ in another protocol version: only its version is read.
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| AttachError::NoAnswer(e.to_string()))?;
    let protocol = v.get("protocol").and_then(serde_json::Value::as_u64);
    if v.get("type").and_then(serde_json::Value::as_str) != Some("hello") {
        return Err(AttachError::NoAnswer(format!("it said {text}")));
    }
    if protocol != Some(u64::from(PROTOCOL)) {
        return Err(AttachError::OtherVersion {
            version: v
                .get("version")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            protocol: protocol.and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            ours: wire::program_version(),
            pid: v
                .get("pid")
                .and_then(serde_json::Value::as_u64)
                .and_then(|p| u32::try_from(p).ok()),
        });
    }
    let (hello_account, hello_accounts, version, pid) = match wire::parse_core(&text) {
        Ok(CoreLine::Hello {
            account,
            accounts,
            version,
            pid,
            ..
        }) => (account, accounts, version, Some(pid)),
        _ => (None, Vec::new(), "unknown".to_string(), None),
    };
    Ok(Link {
        rd,
        wr,
        hello_account,
        hello_accounts,
        version,
        pid,
    })
}

/// The core's next line by `deadline` (`late`: what is said when it does not come).
async fn next_text(
    rd: &mut BufReader<OwnedReadHalf>,
    buf: &mut Vec<u8>,
    deadline: tokio::time::Instant,
    late: &str,
) -> Result<String, AttachError> {
    let got = tokio::time::timeout_at(deadline, read_line(rd, buf))
        .await
        .map_err(|_| AttachError::NoAnswer(late.into()))?;
    match got {
        Ok(Some(Ok(text))) => Ok(text),
        Ok(Some(Err(e))) => Err(AttachError::NoAnswer(e)),
        Ok(None) => Err(AttachError::NoAnswer("it closed the connection".into())),
        Err(e) => Err(AttachError::NoAnswer(e.to_string())),
    }
}

async fn send_line<T: serde::Serialize>(wr: &mut OwnedWriteHalf, line: &T) -> io::Result<()> {
    let mut text = wire::encode(line);
    text.push('\n');
    wr.write_all(text.as_bytes()).await
}

/// Why the link to the core ended.
enum Lost {
    /// The view is done (it shut down or dropped its channels).
    Done,
    /// The core was stopped on purpose.
    Stopped,
    /// The core died.
    Gone(String),
    /// The core disconnected this view (it fell behind, or said something the core did
    /// not understand); the core itself goes on.
    Dropped(String),
}

/// Moves commands to the core and events from it until the view is done; a lost core is
/// replaced by a new one.
async fn bridge(
    settings: Settings,
    view: String,
    account: Uid,
    mut link: Link,
    mut commands: mpsc::Receiver<ImCommand>,
    events: mpsc::Sender<ImEvent>,
) {
    let mut delay = Duration::from_millis(200);
    // Sends handed to a core and not answered yet: a new core is asked for them.
    let mut waiting: HashSet<ClientId> = HashSet::new();
    loop {
        match run_link(&mut link, &mut commands, &events, &mut waiting).await {
            Lost::Done => return,
            Lost::Stopped => {
                let _ = events
                    .send(ImEvent::Error("the background core was stopped".into()))
                    .await;
                let _ = events.send(ImEvent::Connection(ConnState::Stopped)).await;
                return;
            }
            Lost::Dropped(why) => {
                tracing::info!("the background core disconnected this view: {why}");
                let said =
                    format!("the background core disconnected this view ({why}); attaching again");
                if events.send(ImEvent::Error(said)).await.is_err() {
                    return;
                }
            }
            Lost::Gone(why) => {
                tracing::info!("lost the background core: {why}");
                let said = format!("lost the background core ({why}); starting a new one");
                if events.send(ImEvent::Error(said)).await.is_err() {
                    return;
                }
                let _ = events
                    .send(ImEvent::Connection(ConnState::Connecting))
                    .await;
            }
        }
        loop {
            if events.is_closed() {
                return;
            }
            match connect_or_start(&settings, &view, &account).await {
                Ok(mut l) => {
                    let asked = ViewLine::Awaiting {
                        client_ids: waiting.iter().cloned().collect(),
                    };
                    if !waiting.is_empty() && send_line(&mut l.wr, &asked).await.is_err() {
                        continue;
                    }
                    // What changed while no core served this view: the list comes anew.
                    let list = ViewLine::Command {
                        command: ImCommand::ListConversations,
                    };
                    if send_line(&mut l.wr, &list).await.is_err() {
                        continue;
                    }
                    link = l;
                    delay = Duration::from_millis(200);
                    break;
                }
                Err(e) => {
                    let said = format!("cannot start the background core: {e:#}");
                    if events.send(ImEvent::Error(said)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

async fn run_link(
    link: &mut Link,
    commands: &mut mpsc::Receiver<ImCommand>,
    events: &mpsc::Sender<ImEvent>,
    waiting: &mut HashSet<ClientId>,
) -> Lost {
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            cmd = commands.recv() => {
                let cmd = match cmd {
                    None | Some(ImCommand::Shutdown) => {
                        // Only this view ends; the core and its session go on.
                        let _ = link.wr.shutdown().await;
                        return Lost::Done;
                    }
                    Some(ImCommand::SendImage { cid, client_id, path }) => {
                        // The core runs elsewhere: a relative path means nothing there.
                        let path = std::path::absolute(&path).unwrap_or(path);
                        ImCommand::SendImage { cid, client_id, path }
                    }
                    Some(c) => c,
                };
                if let ImCommand::SendText { client_id, .. } | ImCommand::SendImage { client_id, .. } = &cmd {
                    waiting.insert(client_id.clone());
                }
                if let Err(e) = send_line(&mut link.wr, &ViewLine::Command { command: cmd }).await {
                    return Lost::Gone(e.to_string());
                }
            }
            line = read_line(&mut link.rd, &mut buf) => {
                let text = match line {
                    Ok(Some(Ok(t))) => t,
                    Ok(Some(Err(e))) => return Lost::Gone(e),
                    Ok(None) => return Lost::Gone("the connection closed".into()),
                    Err(e) => return Lost::Gone(e.to_string()),
                };
                match wire::parse_core(&text) {
                    Ok(CoreLine::Event { event }) => {
                        if let ImEvent::SendResult { client_id, .. } = &event {
                            waiting.remove(client_id);
                        }
                        if events.send(event).await.is_err() {
                            return Lost::Done;
                        }
                    }
                    Ok(CoreLine::Stopping) => return Lost::Stopped,
                    Ok(CoreLine::Dropped { reason }) => return Lost::Dropped(reason),
                    Ok(CoreLine::Error { message }) => return Lost::Dropped(message),
                    Ok(CoreLine::Hello { .. } | CoreLine::Status(_)) => {}
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
    }
}
