//! Terminal setup and restore, the event loop, effect execution.
//!
//! The loop waits for terminal input, network events or a timer the state asked for, feeds
//! each as a `Msg` to `app::update`, executes the effects, drains whatever else is already
//! waiting, and then draws once if anything visible changed. Idle, it neither draws nor wakes.

mod accounts;
pub mod clipboard;
pub mod core_question;
pub mod editor;
pub mod hyperlinks;
mod outgoing;
mod store_worker;

pub use crate::app::UiOptions;
pub use crate::text::i18n::Lang;
pub use accounts::{Accounts, BesideSession, Session, Switch, Switched};

use crate::app::{self, AppState, Effect, Input, Msg, PictureView, StoreReply};
use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::pictures::{Fetcher, Limits, Loaded, Loader, Request, Thumbs};
use crate::store::StoreHandle;
use futures_util::{Stream, StreamExt};
use outgoing::Outgoing;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture, Event, EventStream,
};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, SetTitle, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor::Show, execute};
use std::collections::HashSet;
use std::io::{self, Stdout, Write};
use std::time::Duration;
use store_worker::StoreWorker;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(String),
    #[error("terminal input: {0}")]
    Input(#[from] io::Error),
}

/// The event loop around one terminal. Generic over the backend so a test can drive it with
/// a `TestBackend` and scripted messages.
pub struct Runtime<B: Backend> {
    terminal: Terminal<B>,
    state: AppState,
    commands: mpsc::Sender<ImCommand>,
    /// Commands for the session not yet taken by its channel. The UI never waits for the
    /// session (which may itself be waiting for the UI to read its events).
    outgoing: Outgoing,
    clock: fn() -> i64,
    draws: u64,
    title: Option<String>,
    /// Title changes and bells go to the real terminal (not in tests).
    real_terminal: bool,
    /// Runs the reducer's store requests; `None` until a store is attached.
    store: Option<StoreWorker>,
    /// End on SIGHUP / SIGTERM / SIGINT as on a quit key (the real terminal only).
    listen_signals: bool,
    /// The external editor while it runs: the terminal is its own until it ends.
    editor: Option<tokio::task::JoinHandle<Result<String, String>>>,
    /// The editor command; `None`: from the environment when needed.
    editor_command: Option<String>,
    /// The text last copied to the clipboard.
    copied: Option<String>,
    /// Links on screen are made links of the terminal (OSC 8).
    hyperlinks: bool,
    /// Inside tmux: the clipboard sequence also goes wrapped for passthrough.
    in_tmux: bool,
    /// The links of the last frame drawn.
    links: Vec<crate::ui::ScreenLink>,
    /// Loads the pictures in view; `None` when pictures are not shown.
    loader: Option<Loader>,
    /// Thumbnails ready to draw.
    thumbs: Thumbs,
    /// Pictures asked of the loader (and not forgotten since).
    requested: HashSet<String>,
    /// The viewer's picture asked of the loader.
    view_requested: Option<Request>,
    /// The address last given to the desktop's opener.
    opened: Option<String>,
    /// Where notifications go (none: not notified).
    notifier: Option<crate::notify::Notifier>,
    /// Failures of the notify command, shown as notices.
    notify_reports: Option<mpsc::UnboundedReceiver<String>>,
    /// Where a QR login started from the UI saves the login (none: no login from here).
    login_setup: Option<LoginSetup>,
    login_task: Option<tokio::task::JoinHandle<()>>,
    login_tx: mpsc::UnboundedSender<crate::app::LoginUpdate>,
    login_rx: mpsc::UnboundedReceiver<crate::app::LoginUpdate>,
    /// The sessions of the other accounts, and their events.
    beside: Vec<accounts::Beside>,
    beside_events: Option<crate::im::session::MergedEvents>,
    /// The tag the next account followed beside gets in `beside_events`.
    beside_tags: usize,
}

/// What a QR login from the UI needs: the service's endpoints and the data directory, where
/// the login is saved in its account's folder (the running session takes it from there).
#[derive(Clone, Debug)]
pub struct LoginSetup {
    pub endpoints: crate::im::mtop::Endpoints,
    pub data_dir: std::path::PathBuf,
}

impl<B: Backend> Runtime<B> {
    pub fn new(
        backend: B,
        state: AppState,
        commands: mpsc::Sender<ImCommand>,
    ) -> Result<Self, TuiError> {
        let terminal = Terminal::new(backend).map_err(|e| TuiError::Terminal(e.to_string()))?;
        let (login_tx, login_rx) = mpsc::unbounded_channel();
        Ok(Runtime {
            terminal,
            state,
            commands,
            outgoing: Outgoing::default(),
            clock: crate::time::now_ms,
            draws: 0,
            title: None,
            real_terminal: false,
            store: None,
            listen_signals: false,
            editor: None,
            editor_command: None,
            copied: None,
            hyperlinks: false,
            in_tmux: false,
            links: Vec::new(),
            loader: None,
            thumbs: Thumbs::default(),
            requested: HashSet::new(),
            view_requested: None,
            opened: None,
            notifier: None,
            notify_reports: None,
            login_setup: None,
            login_task: None,
            beside: Vec::new(),
            beside_events: None,
            beside_tags: 0,
            login_tx,
            login_rx,
        })
    }

    /// Uses `command` as the external editor instead of `$VISUAL` / `$EDITOR`.
    pub fn with_editor(mut self, command: &str) -> Self {
        self.editor_command = Some(command.to_string());
        self
    }

    /// Shows pictures as thumbnails, loaded by `loader`.
    pub fn with_pictures(mut self, loader: Loader) -> Self {
        self.loader = Some(loader);
        self.state.images = true;
        self.state.dirty = true;
        self
    }

    /// Thumbnails ready to draw.
    pub fn thumbs(&self) -> &Thumbs {
        &self.thumbs
    }

    /// Waits for the next picture the loader finishes and takes it in; false without one.
    pub async fn next_picture(&mut self) -> bool {
        let Some(loader) = self.loader.as_mut() else {
            return false;
        };
        let loaded = loader.next().await;
        self.on_picture(loaded).await;
        true
    }

    /// The address last given to the desktop's opener.
    pub fn opened(&self) -> Option<&str> {
        self.opened.as_deref()
    }

    async fn on_picture(&mut self, loaded: Loaded) {
        let url = loaded.request.url.clone();
        let view = match loaded.result {
            Ok((thumb, _)) if loaded.request.fit.is_some() => {
                self.thumbs.set_view(loaded.request, thumb);
                PictureView::Ready
            }
            Ok((thumb, _)) => {
                if let Some(gone) = self.thumbs.put(url.clone(), thumb) {
                    self.requested.remove(&gone);
                    self.dispatch(Input::Picture {
                        url: gone,
                        view: None,
                    })
                    .await;
                }
                PictureView::Ready
            }
            Err(e) => PictureView::Failed(e.to_string()),
        };
        self.dispatch(Input::Picture {
            url,
            view: Some(view),
        })
        .await;
    }

    /// The links on screen in the last frame drawn.
    pub fn links(&self) -> &[crate::ui::ScreenLink] {
        &self.links
    }

    /// The text last put on the clipboard.
    pub fn copied(&self) -> Option<&str> {
        self.copied.as_deref()
    }

    /// Whether the external editor has the terminal.
    pub fn editing(&self) -> bool {
        self.editor.is_some()
    }

    /// Waits for the external editor to end and brings its text back into the state.
    pub async fn finish_editing(&mut self) {
        let done = editor_done(&mut self.editor).await;
        self.resume(done).await;
    }

    /// The editor ended: the terminal comes back to the UI, redrawn whole.
    async fn resume(&mut self, done: Result<String, String>) {
        self.editor = None;
        if self.real_terminal {
            if let Err(e) = enter_modes() {
                tracing::warn!("cannot take the terminal back after the editor: {e}");
            }
            if !self.state.mouse_capture {
                set_mouse_capture(false);
            }
            let _ = self.terminal.clear();
        }
        self.dispatch(Input::Edited(done)).await;
    }

    /// Connects the local history: what it holds is shown at once, and the reducer's store
    /// requests go to it from now on. `problem` says why there is none (shown in the status
    /// bar); with neither, the program simply runs without one.
    pub async fn attach_store(&mut self, store: Option<StoreHandle>, problem: Option<String>) {
        let reply = match (&store, problem) {
            (Some(s), _) => store_worker::startup(s).await,
            (None, Some(reason)) => StoreReply::Unavailable { reason },
            (None, None) => return,
        };
        let usable = matches!(reply, StoreReply::Startup { .. });
        self.store = Some(StoreWorker::spawn(store.filter(|_| usable)));
        self.dispatch(Input::Store(reply)).await;
    }

    /// Waits until every store request made so far is answered and its reply applied.
    pub async fn settle(&mut self) {
        while let Some(worker) = self.store.as_mut() {
            if worker.idle() {
                break;
            }
            let replies = worker.next().await;
            self.apply_store(replies).await;
        }
    }

    /// Replaces the wall clock that stamps each `Msg` (tests use a fixed one).
    /// QR logins asked for by the UI run with `setup`.
    pub fn with_login(mut self, setup: LoginSetup) -> Self {
        self.login_setup = Some(setup);
        self
    }

    /// Takes what the QR login reported meanwhile (the event loop does this by itself; a
    /// test that drives the runtime step by step calls it).
    pub async fn take_login_updates(&mut self) {
        while let Ok(update) = self.login_rx.try_recv() {
            self.dispatch(Input::Login(update)).await;
        }
    }

    fn start_login(&mut self) {
        let Some(setup) = self.login_setup.clone() else {
            return;
        };
        if self.login_task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let tx = self.login_tx.clone();
        self.login_task = Some(tokio::spawn(async move {
            let progress_tx = tx.clone();
            let mut progress = move |p: crate::headless::login::LoginProgress| {
                let update = match p {
                    crate::headless::login::LoginProgress::Code { qr, .. } => {
                        crate::app::LoginUpdate::Code(qr)
                    }
                    crate::headless::login::LoginProgress::Scanned => {
                        crate::app::LoginUpdate::Scanned
                    }
                };
                let _ = progress_tx.send(update);
            };
            let result = crate::headless::login::login_into(
                setup.endpoints,
                &setup.data_dir,
                Duration::from_secs(300),
                false,
                &mut progress,
            )
            .await;
            let update = match result {
                Ok((uid, _)) => {
                    tracing::info!(%uid, "logged in from the UI; the session takes the new login");
                    crate::app::LoginUpdate::Done
                }
                Err(e) => {
                    tracing::warn!(error = %e, "QR login from the UI failed");
                    crate::app::LoginUpdate::Failed(e.to_string())
                }
            };
            let _ = tx.send(update);
        }));
    }

    /// Notifications go through `notifier`; its command's failures come on `reports`.
    pub fn with_notifier(
        mut self,
        notifier: crate::notify::Notifier,
        reports: mpsc::UnboundedReceiver<String>,
    ) -> Self {
        self.notifier = Some(notifier);
        self.notify_reports = Some(reports);
        self
    }

    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    /// How many frames were drawn.
    pub fn draws(&self) -> u64 {
        self.draws
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn terminal(&self) -> &Terminal<B> {
        &self.terminal
    }

    /// The terminal title last asked for.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Feeds one input through the reducer (stamped with the clock) and runs its effects.
    pub async fn dispatch(&mut self, input: Input) {
        let msg = Msg::new((self.clock)(), input);
        let effects = app::update(&mut self.state, msg);
        for e in effects {
            self.execute(e).await;
        }
    }

    async fn apply_store(&mut self, replies: Vec<StoreReply>) {
        for r in replies {
            self.dispatch(Input::Store(r)).await;
        }
    }

    async fn execute(&mut self, effect: Effect) {
        match effect {
            // Queued, never awaited: they go out when the frame ends.
            Effect::Im(cmd) => self.outgoing.push(cmd),
            Effect::SetTitle(t) => {
                if self.real_terminal {
                    let _ = execute!(io::stdout(), SetTitle(&t));
                }
                self.title = Some(t);
            }
            Effect::Store(req) => match self.store.as_mut() {
                Some(w) => w.send(req),
                None => tracing::debug!(
                    request = req.kind(),
                    "no local history attached; request dropped"
                ),
            },
            Effect::StartLogin => self.start_login(),
            Effect::CancelLogin => {
                if let Some(task) = self.login_task.take() {
                    task.abort();
                }
            }
            Effect::Notify { note, terminal } => {
                let shown = self.state.account.clone();
                self.notify(note, terminal, shown.as_ref());
            }
            Effect::Copy(text) => {
                if self.real_terminal {
                    let mut out = io::stdout();
                    let seq = clipboard::copy_sequence(&text, self.in_tmux);
                    let _ = out.write_all(seq.as_bytes()).and_then(|()| out.flush());
                }
                self.copied = Some(text);
            }
            Effect::OpenUrl(url) => {
                if self.real_terminal {
                    open_externally(&url);
                }
                self.opened = Some(url);
            }
            Effect::MouseCapture(on) => {
                if self.real_terminal {
                    set_mouse_capture(on);
                }
            }
            Effect::Editor(text) => {
                let command = self
                    .editor_command
                    .clone()
                    .unwrap_or_else(|| editor::command(|k| std::env::var(k).ok()));
                if self.real_terminal
                    && let Err(e) = restore_terminal()
                {
                    tracing::warn!("cannot hand the terminal to the editor: {e}");
                }
                self.editor = Some(tokio::task::spawn_blocking(move || {
                    editor::edit(&text, &command)
                }));
            }
            Effect::Quit => {}
        }
    }

    /// Ends a frame: the commands it produced go to the session as far as its channel takes
    /// them now (mark-reads folded into one per conversation), then it is drawn if
    /// something changed since the last frame. Returns whether it drew.
    pub fn draw_if_dirty(&mut self) -> Result<bool, TuiError> {
        self.outgoing.flush(&self.commands);
        // The editor has the screen: the next frame comes when it is done.
        if self.editor.is_some() || !self.state.take_dirty() {
            return Ok(false);
        }
        let state = &self.state;
        let thumbs = &self.thumbs;
        let mut drawn = crate::ui::Drawn::default();
        let frame = self
            .terminal
            .draw(|f| drawn = crate::ui::draw_all(f, state, thumbs))
            .map_err(|e| TuiError::Terminal(e.to_string()))?;
        let links = drawn.links;
        if self.real_terminal && self.hyperlinks && !links.is_empty() {
            match hyperlinks::overlay(frame.buffer, &links) {
                Ok(bytes) => {
                    let mut out = io::stdout();
                    if let Err(e) = out.write_all(&bytes).and_then(|()| out.flush()) {
                        tracing::warn!("links not written: {e}");
                    }
                }
                Err(e) => tracing::warn!("links not encoded: {e}"),
            }
        }
        self.links = links;
        if let Some(loader) = &self.loader {
            for url in drawn.pictures {
                if self.requested.insert(url.clone()) {
                    loader.request(&url);
                }
            }
            if let Some(req) = drawn.view
                && self.view_requested.as_ref() != Some(&req)
                && let Some((cols, rows)) = req.fit
            {
                loader.request_fit(&req.url, cols, rows);
                self.view_requested = Some(req);
            }
        }
        if self.state.viewer.is_none() && self.view_requested.take().is_some() {
            self.thumbs.clear_view();
        }
        self.draws += 1;
        Ok(true)
    }

    /// Runs until the user quits or the input ends.
    pub async fn run<S>(
        &mut self,
        mut input: S,
        events: &mut mpsc::Receiver<ImEvent>,
    ) -> Result<(), TuiError>
    where
        S: Stream<Item = io::Result<Event>> + Unpin,
    {
        let mut events_open = true;
        let mut signals = Signals::new(self.listen_signals);
        loop {
            if self.state.should_quit() {
                self.hand_over(events, QUIT_HAND_OVER).await;
                return Ok(());
            }
            self.draw_if_dirty()?;
            let tick = self.state.next_tick_in();
            let timer = async move {
                match tick {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            let commands = self.commands.clone();
            let editing = self.editor.is_some();
            tokio::select! {
                // Keys typed into the editor are not read here.
                ev = input.next(), if !editing => match ev {
                    Some(ev) => self.on_terminal(ev?).await,
                    None => return Ok(()),
                },
                ev = events.recv(), if events_open => match ev {
                    Some(ev) => self.dispatch(Input::Im(ev)).await,
                    None => {
                        events_open = false;
                        self.dispatch(Input::Im(ImEvent::Connection(ConnState::Stopped))).await;
                    }
                },
                () = timer => self.dispatch(Input::Tick).await,
                Some(update) = self.login_rx.recv() => self.dispatch(Input::Login(update)).await,
                Some(report) = next_report(&mut self.notify_reports) => {
                    self.dispatch(Input::Im(ImEvent::Error(report))).await;
                }
                // The session's channel has room again for what waits.
                permit = commands.reserve(), if !self.outgoing.is_empty() => {
                    if let Ok(permit) = permit {
                        self.outgoing.send_one(permit);
                    } else {
                        self.outgoing.clear();
                    }
                }
                replies = next_replies(&mut self.store) => self.apply_store(replies).await,
                (i, ev) = accounts::next_beside(&mut self.beside_events) => {
                    self.beside_event(i, ev).await;
                }
                loaded = next_loaded(&mut self.loader) => self.on_picture(loaded).await,
                done = editor_done(&mut self.editor), if editing => self.resume(done).await,
                () = signals.next() => {
                    tracing::info!("asked to end by a signal");
                    self.dispatch(Input::Terminate).await;
                }
            }
            while let Some(replies) = self.store.as_mut().and_then(StoreWorker::try_next) {
                self.apply_store(replies).await;
            }
            // Fold what is already waiting into this frame, up to a limit: under a burst a
            // frame still comes (and keys are read) every so many events.
            for _ in 0..FOLD_LIMIT {
                match events.try_recv() {
                    Ok(ev) if events_open => self.dispatch(Input::Im(ev)).await,
                    _ => break,
                }
            }
            // Polled inside the task (not with a dummy waker): crossterm's stream keeps the
            // first waker it is given, and a dummy one would lose the next key.
            while self.editor.is_none() {
                let ready = tokio::select! {
                    biased;
                    ev = input.next() => Some(ev),
                    () = std::future::ready(()) => None,
                };
                match ready {
                    Some(Some(ev)) => self.on_terminal(ev?).await,
                    Some(None) => return Ok(()),
                    None => break,
                }
            }
        }
    }

    /// Gives the session what is still queued for it (a shutdown at the end), reading and
    /// dropping its events meanwhile so that it can take them; at most `within`.
    pub async fn hand_over(&mut self, events: &mut mpsc::Receiver<ImEvent>, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            self.outgoing.flush(&self.commands);
            if self.outgoing.is_empty() {
                return;
            }
            let commands = self.commands.clone();
            tokio::select! {
                permit = commands.reserve() => match permit {
                    Ok(permit) => self.outgoing.send_one(permit),
                    Err(_) => self.outgoing.clear(),
                },
                ev = events.recv() => if ev.is_none() {
                    self.outgoing.clear();
                },
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!("the IM session did not take the last commands in time");
                    return;
                }
            }
        }
    }

    async fn on_terminal(&mut self, ev: Event) {
        let input = match ev {
            Event::Key(k) => Input::Key(k),
            Event::Mouse(m) => Input::Mouse(m),
            Event::Paste(p) => Input::Paste(p),
            Event::Resize(width, height) => Input::Resize { width, height },
            Event::FocusGained => Input::Focus(true),
            Event::FocusLost => Input::Focus(false),
        };
        self.dispatch(input).await;
    }
}

/// At most this many session events are folded into one frame.
const FOLD_LIMIT: usize = 2048;

/// How long a quit waits for the session to take the last commands.
const QUIT_HAND_OVER: Duration = Duration::from_secs(2);

/// The editor's text when it ends, or never when none runs.
async fn editor_done(
    editor: &mut Option<tokio::task::JoinHandle<Result<String, String>>>,
) -> Result<String, String> {
    match editor {
        Some(task) => task
            .await
            .unwrap_or_else(|e| Err(format!("the editor exited with {e}"))),
        None => std::future::pending().await,
    }
}

/// The next picture the loader is done with, or never without a loader.
async fn next_loaded(loader: &mut Option<Loader>) -> Loaded {
    match loader {
        Some(l) => l.next().await,
        None => std::future::pending().await,
    }
}

/// The next failure of the notify command (pending forever without one).
async fn next_report(reports: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match reports {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// The next store replies, or never when there is no store.
async fn next_replies(store: &mut Option<StoreWorker>) -> Vec<StoreReply> {
    match store {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

/// Hang-up (the SSH session dropped), SIGTERM and SIGINT, as one stream.
struct Signals {
    #[cfg(unix)]
    streams: Vec<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new(enabled: bool) -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = if enabled {
                [
                    SignalKind::hangup(),
                    SignalKind::terminate(),
                    SignalKind::interrupt(),
                ]
                .into_iter()
                .filter_map(|k| match signal(k) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!("cannot listen for a signal: {e}");
                        None
                    }
                })
                .collect()
            } else {
                Vec::new()
            };
            Signals { streams }
        }
        #[cfg(not(unix))]
        {
            let _ = enabled;
            Signals {}
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if !self.streams.is_empty() {
            let recvs = self.streams.iter_mut().map(|s| Box::pin(s.recv()));
            let _ = futures_util::future::select_all(recvs).await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// Gives a web address to the desktop's opener, without a shell, detached from the UI.
fn open_externally(url: &str) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        tracing::warn!("not opened: not a web address");
        return;
    }
    let spawned = tokio::process::Command::new(app::opener())
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Waited for, so that it leaves no zombie behind.
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => tracing::warn!("{} could not run: {e}", app::opener()),
    }
}

/// Takes the mouse, or leaves it to the terminal (its own selection then works).
fn set_mouse_capture(on: bool) {
    let done = if on {
        execute!(io::stdout(), EnableMouseCapture)
    } else {
        execute!(io::stdout(), DisableMouseCapture)
    };
    if let Err(e) = done {
        tracing::warn!("mouse capture not changed: {e}");
    }
}

/// Puts the terminal into the UI's mode: raw, alternate screen, bracketed paste, mouse
/// capture, focus reports.
pub fn setup_terminal() -> io::Result<CrosstermBackend<Stdout>> {
    enter_modes()?;
    Ok(CrosstermBackend::new(io::stdout()))
}

/// Raw mode, alternate screen, bracketed paste, mouse capture, focus reports.
fn enter_modes() -> io::Result<()> {
    enable_raw_mode()?;
    if let Err(e) = execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture,
        EnableFocusChange
    ) {
        let _ = restore_terminal();
        return Err(e);
    }
    Ok(())
}

/// Gives the terminal back as it was. Safe to call more than once.
pub fn restore_terminal() -> io::Result<()> {
    let r = disable_raw_mode();
    execute!(
        io::stdout(),
        DisableFocusChange,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    )?;
    r
}

/// Restores the terminal before a panic message is printed, so it is readable.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore_terminal();
        previous(info);
    }));
}

/// Restores the terminal when dropped, on every way out of `run`.
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        let _ = restore_terminal();
    }
}

/// The UI on the real terminal: sends `ImCommand`s to `session`, shows its events, returns
/// when the user quits (after asking the session to shut down) or stdin closes. With
/// `accounts`, the switch key shows the next account's session in its place.
pub async fn run(
    session: Session,
    options: UiOptions,
    notify: &crate::config::NotifyOptions,
    login: Option<LoginSetup>,
    accounts: Option<Accounts<'_>>,
) -> color_eyre::Result<()> {
    let tz = *chrono::Local::now().offset();
    let now = crate::time::now_ms();
    let Session {
        commands,
        mut events,
        store,
        store_problem,
    } = session;
    let (mut state, keymap_errors) = AppState::new(&options, tz, now);
    if !keymap_errors.is_empty() {
        state.notice = Some(keymap_errors.join("; "));
    }
    install_panic_hook();
    let backend = setup_terminal()?;
    let _guard = RestoreGuard;
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let notifier =
        crate::notify::Notifier::from_settings(notify, Some(Box::new(io::stdout())), reports_tx);
    let mut rt = Runtime::new(backend, state, commands)?.with_notifier(notifier, reports);
    if let Some(setup) = login {
        rt = rt.with_login(setup);
    }
    rt.real_terminal = true;
    rt.hyperlinks = options.hyperlinks && hyperlinks::supported(|k| std::env::var(k).ok());
    rt.in_tmux = clipboard::in_tmux(|k| std::env::var(k).ok());
    rt.state.remote = app::over_ssh(|k| std::env::var(k).ok());
    // Asked here: the terminal is in the UI's mode and its events are not read yet.
    let choice = crate::pictures::graphics(options.images, &|k| std::env::var(k).ok());
    if let Some(picker) = crate::pictures::picker(choice) {
        let cache = crate::pictures::cache::default_dir().map(|dir| {
            crate::pictures::cache::DiskCache::new(dir, crate::pictures::cache::DEFAULT_MAX_BYTES)
        });
        match Fetcher::new(cache, Limits::default()) {
            Ok(fetcher) => rt = rt.with_pictures(Loader::spawn(fetcher, picker)),
            Err(e) => tracing::warn!("pictures not shown: {e}"),
        }
    }
    rt.listen_signals = true;
    rt.attach_store(store, store_problem).await;
    let mut switch = None;
    if let Some(accounts) = accounts {
        rt.show_accounts(accounts.list, accounts.shown);
        rt.watch_accounts(accounts.beside);
        switch = Some(accounts.switch);
    }
    let backend_size = rt
        .terminal
        .size()
        .map_err(|e| TuiError::Terminal(e.to_string()))?;
    rt.dispatch(Input::Resize {
        width: backend_size.width,
        height: backend_size.height,
    })
    .await;
    let mut input = EventStream::new();
    let result = loop {
        let result = rt.run(&mut input, &mut events).await;
        let to = rt.switch_to().cloned();
        let (true, Some(to), Some(switch)) = (result.is_ok(), to, switch.as_mut()) else {
            break result;
        };
        // Its "switching to …" is on screen while the next session opens.
        rt.draw_if_dirty()?;
        settle_in_time(&mut rt).await;
        let fresh = || AppState::new(&options, tz, crate::time::now_ms()).0;
        let keymap = rt.state.keymap.clone();
        let Some(opened) = unless_interrupted(switch.open(&to), &mut input, &keymap).await else {
            tracing::info!("ended while switching to account {to}");
            break Ok(());
        };
        match opened {
            Ok(next) => events = rt.show_session(fresh(), next).await,
            Err(e) => {
                tracing::warn!("cannot switch to account {to}: {e:#}");
                let Some(back) = rt.state.account.clone() else {
                    break Ok(());
                };
                rt.state.switch_to = None;
                let label = app::accounts::label_of(&rt.state, &to);
                let why =
                    crate::text::accounts::cannot_switch(rt.state.lang, label, &format!("{e:#}"));
                events = rt.show_session(fresh(), switch.open(&back).await?).await;
                rt.state.notice = Some(why);
            }
        }
    };
    if !rt.state.should_quit() {
        // The terminal went away (input closed or failed): end as on a hang-up, which saves
        // the draft being typed.
        rt.real_terminal = false;
        rt.dispatch(Input::Terminate).await;
        rt.hand_over(&mut events, QUIT_HAND_OVER).await;
    }
    settle_in_time(&mut rt).await;
    result?;
    Ok(())
}

/// Waits for `work` (opening another account's session: up to the seconds a login check
/// takes), unless the force-quit key (Ctrl-C), a hang-up or SIGTERM comes first. Other keys
/// typed meanwhile were meant for the view that ended, and are dropped.
async fn unless_interrupted<T>(
    work: impl std::future::Future<Output = T>,
    input: &mut EventStream,
    keymap: &crate::app::Keymap,
) -> Option<T> {
    use ratatui::crossterm::event::KeyEventKind;
    let mut signals = Signals::new(true);
    let interrupted = async {
        loop {
            tokio::select! {
                ev = input.next() => match ev {
                    Some(Ok(Event::Key(k)))
                        if k.kind == KeyEventKind::Press
                            && keymap.actions(&k).contains(&crate::app::Action::ForceQuit) => return,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                },
                () = signals.next() => return,
            }
        }
    };
    tokio::select! {
        done = work => Some(done),
        () = interrupted => None,
    }
}

/// Lets the draft saved at the end of a view reach the disk, for at most two seconds.
async fn settle_in_time<B: Backend>(rt: &mut Runtime<B>) {
    if tokio::time::timeout(Duration::from_secs(2), rt.settle())
        .await
        .is_err()
    {
        tracing::warn!("the local history did not finish in time at the end of a view");
    }
}
