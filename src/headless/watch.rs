//! `goofish-tui watch`: one line per event on stdout until interrupted (schema in the
//! module docs of [`crate::headless`]).

use super::exec::ExecQueue;
use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK, Signals};
use crate::config::Settings;
use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::im::session::SeenIds;
use crate::notify::json_text;
use crate::protocol::{Cid, Conversation, Message, MessageId, Uid};
use crate::safe_text::{clean_line, escape_json};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use futures_util::{FutureExt, StreamExt};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};

/// Arguments of `watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// JSON Lines (schema version 1, see the README) instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Also show platform notices, trade cards, order-state updates and system messages.
    #[arg(long)]
    pub all: bool,
    /// Run this shell command for each incoming buyer message, with its JSON on stdin.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Exit (code 2) when the login is gone or risk control asks for a slider, instead of
    /// saying how to fix it and waiting (a new saved login and a passed check are taken by
    /// themselves).
    #[arg(long)]
    pub exit_on_login: bool,
    /// Kill an --exec command that runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub exec_timeout: f64,
}

/// Schema version of the JSON lines.
pub use crate::notify::message_json::SCHEMA_VERSION;
/// Message ids remembered by the duplicate guard.
const SEEN_CAPACITY: usize = 100_000;

/// How lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub json: bool,
    pub all: bool,
    /// ANSI colours (human mode on a terminal only).
    pub color: bool,
    /// Exit on a login or risk-control problem rather than wait for it to be fixed.
    pub exit_on_login: bool,
}

/// What to do with one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A line for stdout (without the newline).
    Print(String),
    /// Run the `--exec` command with this JSON on stdin.
    Exec(String),
    /// A buyer wrote (not in a muted conversation): notify as `[notify]` says.
    Notify(crate::notify::Notification),
    /// Ask the session for something (a profile or an item title).
    Ask(ImCommand),
    /// A login problem: print this on stderr and exit 2.
    Fatal(String),
    /// A problem the user fixes elsewhere: print this on stderr and go on.
    Warn(String),
}

/// Turns session events into lines. Pure: no I/O, so it is tested without a session.
pub struct Watcher {
    style: Style,
    self_uid: Option<Uid>,
    self_nick: Option<String>,
    convs: HashMap<Cid, Conversation>,
    nicks: HashMap<Uid, String>,
    items: HashMap<String, String>,
    asked_profiles: HashSet<Uid>,
    asked_items: HashSet<String>,
    seen: SeenIds,
    /// With `--account all`: the account whose events these are (uid, and what a person
    /// reads before each line).
    account: Option<(Uid, String)>,
    wants: Wants,
}

/// Which actions besides the line anyone takes: a burst builds none that would be dropped.
#[derive(Clone, Copy, Debug)]
struct Wants {
    notify: bool,
    exec: bool,
}

impl Watcher {
    pub fn new(style: Style) -> Watcher {
        Watcher {
            style,
            self_uid: None,
            self_nick: None,
            convs: HashMap::new(),
            nicks: HashMap::new(),
            items: HashMap::new(),
            asked_profiles: HashSet::new(),
            asked_items: HashSet::new(),
            seen: SeenIds::new(SEEN_CAPACITY),
            account: None,
            wants: Wants {
                notify: true,
                exec: true,
            },
        }
    }

    /// Only the actions someone takes: `Notify` when something notifies, `Exec` when there
    /// is a command to run (both by default).
    pub fn wanting(mut self, notify: bool, exec: bool) -> Watcher {
        self.wants = Wants { notify, exec };
        self
    }

    /// Every line says it is `uid`'s (an `account` field; `[label]` before a readable line),
    /// for a watch of several accounts.
    pub fn for_account(mut self, uid: Uid, label: String) -> Watcher {
        self.account = Some((uid, label));
        self
    }

    pub fn on_event(&mut self, ev: ImEvent) -> Vec<Action> {
        let out = self.actions(ev);
        match &self.account {
            None => out,
            Some((uid, label)) => out
                .into_iter()
                .map(|a| tag(a, uid, label, self.style.json))
                .collect(),
        }
    }

    fn actions(&mut self, ev: ImEvent) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            ImEvent::Message(m) => self.on_message(m, &mut out),
            ImEvent::Connection(state) => self.on_connection(state, &mut out),
            ImEvent::SelfInfo { uid, nick } => {
                self.self_uid = Some(uid);
                if nick.is_some() {
                    self.self_nick = nick;
                }
            }
            ImEvent::Conversations(list) => {
                for c in list {
                    if let Some(n) = &c.peer_nick {
                        self.nicks.insert(c.peer.clone(), n.clone());
                    }
                    if let (Some(i), Some(t)) = (&c.item_id, &c.item_title) {
                        self.items.insert(i.clone(), t.clone());
                    }
                    self.convs.insert(c.cid.clone(), c);
                }
            }
            ImEvent::Profile(p) => {
                self.nicks.insert(p.uid, p.nick);
            }
            ImEvent::Item(i) => {
                self.items.insert(i.item_id, i.title);
            }
            ImEvent::Receipt { cid, ids } => {
                let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
                if self.style.json {
                    out.push(line(json!({"type": "receipt", "cid": cid, "ids": ids})));
                } else if self.style.all {
                    out.push(self.info(&format!(
                        "-- {} read {} message(s)",
                        self.conv_label(cid.as_ref()),
                        ids.len()
                    )));
                }
            }
            ImEvent::Typing { cid, uid } => {
                if self.style.json {
                    out.push(line(json!({"type": "typing", "cid": cid, "uid": uid})));
                } else if self.style.all {
                    let who = self.nicks.get(&uid).cloned().unwrap_or(uid.to_string());
                    out.push(self.info(&format!("-- {who} is typing")));
                }
            }
            ImEvent::CardUpdate {
                cid,
                text,
                red_reminder,
            } => {
                if self.style.all {
                    if self.style.json {
                        out.push(line(
                            json!({"type": "card_update", "cid": cid, "text": text,
                            "red_reminder": red_reminder}),
                        ));
                    } else {
                        let state = red_reminder.map(|r| format!(" ({r})")).unwrap_or_default();
                        out.push(self.info(&format!(
                            "-- {}: {}{state}",
                            self.conv_label(cid.as_ref()),
                            json_text(&text)
                        )));
                    }
                }
            }
            ImEvent::Recalled { cid, id } => {
                if self.style.json {
                    out.push(line(
                        json!({"type": "recalled", "cid": cid, "id": id.as_str()}),
                    ));
                } else {
                    out.push(self.info(&format!(
                        "-- {}: message {} was recalled",
                        self.conv_label(cid.as_ref()),
                        id.as_str()
                    )));
                }
            }
            ImEvent::SendResult {
                client_id,
                cid,
                result,
            } => {
                let (ok, id, error) = match &result {
                    Ok(m) => (true, Some(m.id.as_str().to_string()), None),
                    Err(f) => (false, None, Some(f.reason.clone())),
                };
                if self.style.json {
                    out.push(line(json!({"type": "send_result", "cid": cid,
                        "client_id": client_id.as_str(), "ok": ok, "id": id, "error": error})));
                } else {
                    let what = match (id, error) {
                        (Some(id), _) => format!("sent {id}"),
                        (_, e) => format!("send failed: {}", e.unwrap_or_default()),
                    };
                    out.push(self.info(&format!("-- {}: {what}", self.conv_label(Some(&cid)))));
                }
            }
            ImEvent::Error(e) => {
                if self.style.json {
                    out.push(line(json!({"type": "error", "message": e})));
                } else {
                    out.push(self.info(&format!("-- error: {e}")));
                }
            }
            ImEvent::SendProgress { .. }
            | ImEvent::SendNotSaved { .. }
            | ImEvent::History { .. }
            | ImEvent::HistoryFailed { .. }
            | ImEvent::Backfill { .. }
            | ImEvent::ReadElsewhere { .. }
            | ImEvent::RecallResult { .. } => {}
        }
        out
    }

    fn on_message(&mut self, m: Message, out: &mut Vec<Action>) {
        // The session dedupes already; this guard keeps the promise whatever it does.
        if !self.seen.insert(&m.id) {
            return;
        }
        if m.is_system() && !self.style.all {
            return;
        }
        let conv = self.convs.get(&m.cid);
        let sender_nick = if m.is_self {
            self.self_nick.as_deref()
        } else {
            m.sender_nick
                .as_deref()
                .or_else(|| self.nicks.get(&m.sender).map(String::as_str))
                .or_else(|| {
                    conv.filter(|c| c.peer == m.sender)
                        .and_then(|c| c.peer_nick.as_deref())
                })
        };
        let item_id = m
            .item_id
            .as_deref()
            .or_else(|| conv.and_then(|c| c.item_id.as_deref()));
        let item_title = item_id.and_then(|i| {
            self.items.get(i).map(String::as_str).or_else(|| {
                conv.filter(|c| c.item_id.as_deref() == Some(i))
                    .and_then(|c| c.item_title.as_deref())
            })
        });
        // Names for next time: the line goes out now, with what is known.
        if !m.is_self
            && sender_nick.is_none()
            && !m.sender.is_empty()
            && self.asked_profiles.insert(m.sender.clone())
        {
            out.push(Action::Ask(ImCommand::FetchProfile {
                cid: m.cid.clone(),
                uid: m.sender.clone(),
            }));
        }
        if let Some(i) = item_id
            && item_title.is_none()
            && self.asked_items.insert(i.to_string())
        {
            out.push(Action::Ask(ImCommand::FetchItem {
                item_id: i.to_string(),
            }));
        }
        let summary = m.content.summary_text();
        let system = m.is_system();
        let from_buyer = !m.is_self && !system;
        let notify = from_buyer && self.wants.notify && !conv.is_some_and(|c| c.muted);
        let exec = from_buyer && self.wants.exec;
        // The line, the notification and the command each take the JSON: copied for all but
        // the last, built only when one of them takes it.
        let mut takers = usize::from(self.style.json) + usize::from(notify) + usize::from(exec);
        let mut json = if takers > 0 {
            crate::notify::message_json_of(&m, &summary, sender_nick, item_id, item_title)
        } else {
            String::new()
        };
        let mut take_json = || {
            takers = takers.saturating_sub(1);
            if takers == 0 {
                std::mem::take(&mut json)
            } else {
                json.clone()
            }
        };
        let shown = if self.style.json {
            take_json()
        } else {
            self.human_message(&m, sender_nick, item_title, &json_text(&summary))
        };
        out.push(Action::Print(shown));
        if notify {
            let who = sender_nick.unwrap_or(m.sender.as_str());
            out.push(Action::Notify(crate::notify::Notification {
                title: format!("闲鱼 · {who}"),
                body: crate::text::one_line(&summary),
                json: take_json(),
            }));
        }
        if exec {
            out.push(Action::Exec(take_json()));
        }
    }

    fn human_message(
        &self,
        m: &Message,
        nick: Option<&str>,
        title: Option<&str>,
        text: &str,
    ) -> String {
        let time = local_time(m.time);
        let who = if m.is_self {
            "me".to_string()
        } else {
            clean_line(nick.unwrap_or(m.sender.as_str())).into_owned()
        };
        let about = title
            .map(|t| format!(" [{}]", clean_line(t)))
            .unwrap_or_default();
        let text = clean_line(text);
        if self.style.color {
            let who_color = if m.is_self { "32" } else { "1;36" };
            format!(
                "\x1b[2m{time}\x1b[0m \x1b[{who_color}m{who}\x1b[0m\x1b[33m{about}\x1b[0m: {text}"
            )
        } else {
            format!("{time} {who}{about}: {text}")
        }
    }

    fn on_connection(&mut self, state: ConnState, out: &mut Vec<Action>) {
        let exit = self.style.exit_on_login;
        let problem = match &state {
            ConnState::NeedsLogin { reason } if exit => Some(Action::Fatal(format!(
                "the login is no longer valid: {reason}\n\n{}",
                crate::text::i18n::COOKIE_HELP
            ))),
            ConnState::NeedsLogin { reason } => Some(Action::Warn(format!(
                "the login is no longer valid: {reason}\n{}",
                crate::text::i18n::WATCH_WAITS_FOR_LOGIN
            ))),
            ConnState::RiskControl { url } if exit => Some(Action::Fatal(format!(
                "Goofish asks for a slider check (risk control): {url}\n{}",
                crate::text::i18n::RISK_STEPS
            ))),
            ConnState::RiskControl { url } => Some(Action::Warn(format!(
                "Goofish asks for a slider check (risk control): {url}\n{}",
                crate::text::i18n::WATCH_WAITS_FOR_SLIDER
            ))),
            ConnState::SessionRemoved { reason } => Some(Action::Fatal(format!(
                "the service removed this IM session: {reason}\nanother client may be using the account"
            ))),
            _ => None,
        };
        if self.style.json {
            let mut v = serde_json::to_value(&state).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("type".into(), json!("connection"));
            }
            out.push(line(v));
        } else {
            let text = match &state {
                ConnState::Live => Some("-- connected".to_string()),
                ConnState::Reconnecting {
                    in_ms,
                    attempt,
                    last_error,
                } => Some(format!(
                    "-- reconnecting in {} (attempt {attempt}): {last_error}",
                    human_delay(*in_ms)
                )),
                ConnState::Stopped => Some("-- stopped".to_string()),
                ConnState::Stalled => {
                    Some("-- stalled: the heartbeat is unanswered (cut at 30 s)".to_string())
                }
                _ => None,
            };
            if let Some(t) = text {
                out.push(self.info(&t));
            }
        }
        out.extend(problem);
    }

    fn conv_label(&self, cid: Option<&Cid>) -> String {
        match cid {
            Some(cid) => match self.convs.get(cid).and_then(|c| c.peer_nick.clone()) {
                Some(n) => n,
                None => cid.to_string(),
            },
            None => "peer".to_string(),
        }
    }

    /// A status line, dimmed on a terminal. Its parts come from the network: cleaned here,
    /// before the dimming's own escape sequences are added.
    fn info(&self, text: &str) -> Action {
        let text = clean_line(text);
        if self.style.color {
            Action::Print(format!("\x1b[2m{text}\x1b[0m"))
        } else {
            Action::Print(text.to_string())
        }
    }
}

/// `action`, saying which account it is of: an `account` field in a JSON line (and in what
/// `--exec` gets), `[label]` before a readable line.
fn tag(action: Action, uid: &Uid, label: &str, json: bool) -> Action {
    let with_account = |text: &str| crate::notify::with_account(text, uid);
    match action {
        Action::Print(l) if json => Action::Print(with_account(&l).unwrap_or(l)),
        Action::Print(l) => Action::Print(format!("[{label}] {l}")),
        Action::Exec(j) => Action::Exec(with_account(&j).unwrap_or(j)),
        Action::Fatal(m) => Action::Fatal(format!("[{label}] {m}")),
        Action::Warn(m) => Action::Warn(format!("[{label}] {m}")),
        other => other,
    }
}

/// A JSON line with the schema version.
fn line(v: Value) -> Action {
    let mut obj = serde_json::Map::new();
    obj.insert("v".into(), json!(SCHEMA_VERSION));
    if let Value::Object(o) = v {
        obj.extend(o);
    }
    Action::Print(escape_json(Value::Object(obj).to_string()))
}

fn human_delay(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{} s", (ms as f64 / 1000.0).round() as u64)
    }
}

fn local_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => {
            let local = t.with_timezone(&chrono::Local);
            if local.date_naive() == chrono::Local::now().date_naive() {
                local.format("%H:%M:%S").to_string()
            } else {
                local.format("%Y-%m-%d %H:%M").to_string()
            }
        }
        None => "--:--:--".to_string(),
    }
}

/// Lines for stdout, written through a buffer that is flushed whenever no further event is
/// waiting: a burst costs a few writes, and a single message is out at once.
struct Output {
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Output {
    fn new() -> Output {
        Output {
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        }
    }

    /// False when stdout is gone (the reader closed the pipe).
    fn line(&mut self, text: &str) -> bool {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .is_ok()
    }

    fn flush(&mut self) -> bool {
        self.out.flush().is_ok()
    }
}

/// Runs `watch`; returns the exit code.
pub async fn run(settings: &Settings, args: &WatchArgs) -> i32 {
    super::init_logging(&settings.stderr_log_level);
    let lang = settings.lang;
    let mut signals = Signals::new();
    let ask = super::OnTerminal {
        lang,
        command: "watch",
    };
    let connected = tokio::select! {
        c = open_sessions(settings, &ask) => c,
        _ = signals.recv() => return EXIT_OK,
    };
    let mut conns = match connected {
        Ok(c) => c,
        Err(e) => {
            super::complain(lang, "watch", &format!("{e:#}"));
            return EXIT_LOGIN;
        }
    };
    let style = Style {
        json: args.json,
        all: args.all,
        // NO_COLOR (no-color.org) wins over a terminal.
        color: !args.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        exit_on_login: args.exit_on_login,
    };
    let (reports_tx, mut notify_reports) = tokio::sync::mpsc::unbounded_channel();
    // The terminal the user sits at, if any: stdout may be a pipe.
    let tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .ok()
        .map(|f| Box::new(f) as Box<dyn Write + Send>);
    let mut notifier = crate::notify::Notifier::from_settings(&settings.notify, tty, reports_tx);
    let notifies = notifier.is_active();
    let several = conns.len() > 1 || settings.account.as_deref() == Some(crate::accounts::ALL);
    let mut watchers: Vec<Watcher> = conns
        .iter()
        .map(|(account, _)| {
            let w = Watcher::new(style).wanting(notifies, args.exec.is_some());
            if several {
                let label = account
                    .nick
                    .clone()
                    .unwrap_or_else(|| account.uid.to_string());
                w.for_account(account.uid.clone(), clean_line(&label).into_owned())
            } else {
                w
            }
        })
        .collect();
    // Every session's events as one stream, with the place of its account.
    let mut events =
        crate::im::session::merge_events(conns.iter_mut().map(|(_, c)| c.session.take_events()));
    let exec = args
        .exec
        .as_ref()
        .map(|cmd| ExecQueue::start(cmd.clone(), super::secs(args.exec_timeout)));
    let mut last_notify: Option<std::time::Instant> = None;
    let commands: Vec<_> = conns
        .iter()
        .map(|(_, c)| c.session.commands.clone())
        .collect();
    for c in &commands {
        let _ = c.send(ImCommand::ListConversations).await;
    }
    let mut output = Output::new();
    let code = loop {
        // Flushed before waiting: what was printed is out before the next wait.
        let ev = match events.next().now_or_never() {
            Some(ev) => ev,
            None => {
                if !output.flush() {
                    break EXIT_OK;
                }
                tokio::select! {
                    ev = events.next() => ev,
                    Some(report) = notify_reports.recv() => {
                        super::complain(lang, "watch", &report);
                        continue;
                    }
                    _ = signals.recv() => break EXIT_OK,
                }
            }
        };
        let Some((i, Some(ev))) = ev else {
            super::complain(lang, "watch", "the IM session stopped");
            break EXIT_FAILED;
        };
        let (Some(watcher), Some(commands)) = (watchers.get_mut(i), commands.get(i)) else {
            continue;
        };
        let mut stop = None;
        for action in watcher.on_event(ev) {
            match action {
                Action::Print(l) => {
                    if !output.line(&l) {
                        stop = Some(EXIT_OK);
                        break;
                    }
                }
                Action::Notify(note) => {
                    // A burst (a backfill after a reconnect) notifies once, as in the TUI.
                    let gap = std::time::Duration::from_millis(crate::app::BELL_GAP_MS as u64);
                    if last_notify.is_none_or(|t| t.elapsed() >= gap) {
                        last_notify = Some(std::time::Instant::now());
                        notifier.notify(&note, true);
                    }
                }
                Action::Exec(json) => {
                    if let Some(q) = &exec {
                        q.push(json);
                    }
                }
                Action::Ask(cmd) => {
                    let _ = commands.try_send(cmd);
                }
                Action::Fatal(msg) => {
                    super::complain(lang, "watch", &msg);
                    stop = Some(EXIT_LOGIN);
                }
                Action::Warn(msg) => super::complain(lang, "watch", &msg),
            }
        }
        if let Some(code) = stop {
            break code;
        }
    };
    output.flush();
    if let Some(q) = exec {
        q.stop();
    }
    notifier.stop();
    drop(commands);
    for (_, conn) in conns {
        conn.shutdown().await;
    }
    code
}

/// The sessions `watch` prints: the account `--account` names (the first one by default),
/// or with `--account all` every account of the data directory.
async fn open_sessions(
    settings: &Settings,
    ask: &dyn crate::daemon::upgrade::Ask,
) -> color_eyre::Result<Vec<(crate::accounts::Account, crate::run::Connection)>> {
    let all = settings.account.as_deref() == Some(crate::accounts::ALL);
    if !all || settings.cookie.is_some() || settings.demo {
        // A given cookie (and the demo) is one account: `all` is that one.
        let mut one = settings.clone();
        if all {
            one.account = None;
        }
        let account = match one.demo {
            true => None,
            false => Some(crate::run::login_account(&one)?.account),
        };
        let conn = crate::run::open_session(&one, true, "watch", false, ask).await?;
        let account = account.unwrap_or_else(|| crate::accounts::Account {
            uid: Uid::new("demo"),
            nick: None,
            dir: settings.store_dir(),
            added_ms: 0,
        });
        return Ok(vec![(account, conn)]);
    }
    let accounts = crate::accounts::list(&settings.paths.data_dir);
    if accounts.is_empty() {
        return Err(crate::run::NoLogin.into());
    }
    let mut out = Vec::new();
    for account in accounts {
        let mut one = settings.clone();
        one.account = Some(account.uid.to_string());
        let conn = crate::run::open_session(&one, true, "watch", false, ask).await?;
        out.push((account, conn));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Content;

    fn msg(id: &str, text: &str, is_self: bool) -> Message {
        Message {
            id: MessageId::new(id),
            cid: Cid::new("40000000201"),
            sender: Uid::new(if is_self {
                "2200000000401"
            } else {
                "1000000101"
            }),
            is_self,
            time: 1_742_458_817_389,
            content: Content::Text { text: text.into() },
            item_id: Some("900000000601".into()),
            sender_nick: None,
            session_type: Some(1),
            need_push: true,
            red_reminder: None,
            client_id: None,
        }
    }

    fn prints(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Print(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    const JSON: Style = Style {
        json: true,
        all: false,
        color: false,
        exit_on_login: false,
    };
    const HUMAN: Style = Style {
        json: false,
        all: false,
        color: false,
        exit_on_login: false,
    };

    #[test]
    fn a_message_delivered_twice_is_printed_once() {
        let mut w = Watcher::new(JSON);
        let first = w.on_event(ImEvent::Message(msg("3629628297988.PNM", "在吗", false)));
        let again = w.on_event(ImEvent::Message(msg("3629628297988.PNM", "在吗", false)));
        let other = w.on_event(ImEvent::Message(msg("3629628297989.PNM", "在吗", false)));
        assert_eq!(prints(&first).len(), 1);
        assert!(prints(&again).is_empty());
        assert_eq!(prints(&other).len(), 1);
    }

    #[test]
    fn json_message_has_the_documented_fields_and_runs_exec_once() {
        let mut w = Watcher::new(JSON);
        w.on_event(ImEvent::Conversations(vec![Conversation {
            cid: Cid::new("40000000201"),
            peer: Uid::new("1000000101"),
            peer_nick: Some("买家小明".into()),
            item_id: Some("900000000601".into()),
            item_title: Some("九成新 Switch".into()),
            ..Default::default()
        }]));
        let acts = w.on_event(ImEvent::Message(msg("1.PNM", "还在吗\n在吗", false)));
        let lines = prints(&acts);
        assert_eq!(lines.len(), 1);
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "message");
        assert_eq!(v["sender_nick"], "买家小明");
        assert_eq!(v["item_title"], "九成新 Switch");
        assert_eq!(v["self"], false);
        assert_eq!(v["kind"], "text");
        assert_eq!(v["text"], "还在吗 在吗");
        assert_eq!(v["time"], 1_742_458_817_389_i64);
        assert_eq!(v["time_iso"], "2025-03-20T08:20:17.389Z");
        assert_eq!(
            acts.iter().filter(|a| matches!(a, Action::Exec(_))).count(),
            1
        );
        // The same id again prints nothing and runs nothing.
        assert!(
            w.on_event(ImEvent::Message(msg("1.PNM", "x", false)))
                .is_empty()
        );
    }

    #[test]
    fn without_a_command_or_a_notifier_a_buyer_message_is_only_its_line() {
        let mut w = Watcher::new(JSON).wanting(false, false);
        let not_asks = |acts: Vec<Action>| -> Vec<Action> {
            acts.into_iter()
                .filter(|a| !matches!(a, Action::Ask(_)))
                .collect()
        };
        let acts = not_asks(w.on_event(ImEvent::Message(msg("2.PNM", "还在吗", false))));
        assert_eq!(acts.len(), 1, "{acts:?}");
        let v: Value = serde_json::from_str(prints(&acts)[0]).unwrap();
        assert_eq!(v["text"], "还在吗");
        let mut w = Watcher::new(HUMAN).wanting(true, false);
        let acts = not_asks(w.on_event(ImEvent::Message(msg("3.PNM", "包邮吗", false))));
        assert!(
            matches!(&acts[..], [Action::Print(l), Action::Notify(n)]
            if l.ends_with(": 包邮吗") && n.body == "包邮吗"),
            "{acts:?}"
        );
    }

    #[test]
    fn a_buyer_message_notifies_with_its_json_line_but_not_in_a_muted_conversation() {
        let mut w = Watcher::new(HUMAN);
        w.on_event(ImEvent::Conversations(vec![Conversation {
            cid: Cid::new("40000000201"),
            peer: Uid::new("1000000101"),
            peer_nick: Some("买家小明".into()),
            ..Default::default()
        }]));
        let acts = w.on_event(ImEvent::Message(msg("5.PNM", "还在吗", false)));
        let note = acts
            .iter()
            .find_map(|a| match a {
                Action::Notify(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(note.title, "闲鱼 · 买家小明");
        assert_eq!(note.body, "还在吗");
        let v: Value = serde_json::from_str(&note.json).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["text"].as_str()),
            (Some("message"), Some("还在吗"))
        );
        let own = w.on_event(ImEvent::Message(msg("6.PNM", "好的", true)));
        assert!(!own.iter().any(|a| matches!(a, Action::Notify(_))));
        w.on_event(ImEvent::Conversations(vec![Conversation {
            cid: Cid::new("40000000201"),
            peer: Uid::new("1000000101"),
            muted: true,
            ..Default::default()
        }]));
        let muted = w.on_event(ImEvent::Message(msg("7.PNM", "在吗", false)));
        assert!(!muted.iter().any(|a| matches!(a, Action::Notify(_))));
    }

    #[test]
    fn a_watch_of_several_accounts_says_whose_each_line_is() {
        let mut json = Watcher::new(JSON).for_account(Uid::new("2200000000501"), "店B".into());
        let out = json.on_event(ImEvent::Message(msg("1.PNM", "在吗", false)));
        let v: Value = serde_json::from_str(prints(&out)[0]).unwrap();
        assert_eq!(v["account"], "2200000000501");
        assert_eq!(v["v"], 1);
        assert_eq!(v["text"], "在吗");
        let exec = out.iter().find_map(|a| match a {
            Action::Exec(j) => Some(j.clone()),
            _ => None,
        });
        let exec: Value = serde_json::from_str(&exec.unwrap()).unwrap();
        assert_eq!(exec["account"], "2200000000501");
        let mut human = Watcher::new(HUMAN).for_account(Uid::new("2200000000501"), "店B".into());
        let out = human.on_event(ImEvent::Message(msg("2.PNM", "在吗", false)));
        assert!(prints(&out)[0].starts_with("[店B] "), "{:?}", prints(&out));
        // One account alone: the lines of v1 as they were.
        let mut plain = Watcher::new(JSON);
        let out = plain.on_event(ImEvent::Message(msg("3.PNM", "在吗", false)));
        assert!(!prints(&out)[0].contains("account"));
    }

    #[test]
    fn own_echo_is_marked_and_not_executed() {
        let mut w = Watcher::new(HUMAN);
        let acts = w.on_event(ImEvent::Message(msg("2.PNM", "好的", true)));
        assert!(!acts.iter().any(|a| matches!(a, Action::Exec(_))));
        assert!(prints(&acts)[0].contains(" me"), "{acts:?}");
    }

    #[test]
    fn system_messages_only_with_all() {
        let mut notice = msg("3.PNM", "", false);
        notice.content = Content::Notice {
            text: "交易提醒".into(),
        };
        let mut w = Watcher::new(JSON);
        assert!(prints(&w.on_event(ImEvent::Message(notice.clone()))).is_empty());
        let mut w = Watcher::new(Style { all: true, ..JSON });
        let acts = w.on_event(ImEvent::Message(notice));
        assert_eq!(prints(&acts).len(), 1);
        assert!(!acts.iter().any(|a| matches!(a, Action::Exec(_))));
    }

    #[test]
    fn unknown_sender_asks_for_a_profile_once() {
        let mut w = Watcher::new(HUMAN);
        let a = w.on_event(ImEvent::Message(msg("4.PNM", "a", false)));
        let b = w.on_event(ImEvent::Message(msg("5.PNM", "b", false)));
        let asks = |x: &[Action]| {
            x.iter()
                .filter(|a| matches!(a, Action::Ask(ImCommand::FetchProfile { .. })))
                .count()
        };
        assert_eq!(asks(&a), 1);
        assert_eq!(asks(&b), 0);
    }

    #[test]
    fn reconnect_line_and_login_problems() {
        let mut w = Watcher::new(HUMAN);
        let acts = w.on_event(ImEvent::Connection(ConnState::Reconnecting {
            in_ms: 2000,
            attempt: 3,
            last_error: "connection closed".into(),
        }));
        assert_eq!(
            prints(&acts),
            vec!["-- reconnecting in 2 s (attempt 3): connection closed"]
        );
        let acts = w.on_event(ImEvent::Connection(ConnState::NeedsLogin {
            reason: "expired".into(),
        }));
        // It waits for a new login, saying how to make one; it exits only when asked to.
        assert!(
            acts.iter()
                .any(|a| matches!(a, Action::Warn(m) if m.contains("goofish-tui login")))
        );
        assert!(!acts.iter().any(|a| matches!(a, Action::Fatal(_))));
        let mut strict = Watcher::new(Style {
            exit_on_login: true,
            ..HUMAN
        });
        let acts = strict.on_event(ImEvent::Connection(ConnState::NeedsLogin {
            reason: "expired".into(),
        }));
        assert!(acts.iter().any(|a| matches!(a, Action::Fatal(_))));
        let mut j = Watcher::new(JSON);
        let acts = j.on_event(ImEvent::Connection(ConnState::Live));
        let v: Value = serde_json::from_str(prints(&acts)[0]).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["state"].as_str()),
            (Some("connection"), Some("live"))
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let nick = "买家\x1b]0;pwned\x07\u{9b}2J\r\n\u{202e}小明";
        let hostile = Conversation {
            cid: Cid::new("40000000201"),
            peer: Uid::new("1000000101"),
            peer_nick: Some(nick.into()),
            item_id: Some("900000000601".into()),
            item_title: Some("相机\u{1b}]52;c;eA==\u{7}".into()),
            ..Default::default()
        };
        for style in [
            HUMAN,
            Style {
                color: true,
                all: true,
                ..HUMAN
            },
        ] {
            let mut w = Watcher::new(style);
            w.on_event(ImEvent::Conversations(vec![hostile.clone()]));
            let mut acts = w.on_event(ImEvent::Message(msg("6.PNM", "a\x1b[2Jb\r\nc", false)));
            acts.extend(w.on_event(ImEvent::Error("bad \x1b]0;x\x07 url".into())));
            acts.extend(w.on_event(ImEvent::Typing {
                cid: Some(Cid::new("40000000201")),
                uid: Uid::new("1000000101"),
            }));
            for l in prints(&acts) {
                // The colours are the watcher's own SGR sequences, nothing else.
                let bare = l
                    .replace("\x1b[0m", "")
                    .replace("\x1b[2m", "")
                    .replace("\x1b[1;36m", "")
                    .replace("\x1b[33m", "");
                assert!(
                    !bare.contains(|c: char| crate::safe_text::is_unsafe(c)),
                    "{l:?}"
                );
            }
            let line = prints(&acts)[0];
            assert!(
                line.contains("买家]0;pwned2J") && line.contains("小明"),
                "{line:?}"
            );
        }
        // JSON keeps the exact nickname, escaped.
        let mut w = Watcher::new(JSON);
        w.on_event(ImEvent::Conversations(vec![hostile]));
        let acts = w.on_event(ImEvent::Message(msg("7.PNM", "x", false)));
        let l = prints(&acts)[0];
        assert!(
            !l.contains(|c: char| crate::safe_text::is_unsafe(c)),
            "{l:?}"
        );
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["sender_nick"], nick);
    }
}
