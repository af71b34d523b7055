//! A core of another version: after an upgrade of the program, the core that still runs is
//! the old one. The first view to find it says so and offers to restart it with this
//! version (or restarts it without asking with `--restart-core`); a view that cannot ask
//! uses a core of the same protocol as it is, and refuses one it cannot talk to.
//!
//! The restart loses nothing: the old core ends as on `daemon --stop` (its session's outbox
//! is in the local history) and the new one sends what was left in it.

use super::client::{self, AttachError, Link};
use super::place;
use super::wire::{self, PROTOCOL};
use crate::config::Settings;
use crate::text::core_version::{self as text, Versions};
use color_eyre::eyre::{Result, eyre};
use futures_util::future::BoxFuture;
use std::time::Duration;

/// How long the old core may take to end (its session is given 2 s to close).
const END_WITHIN: Duration = Duration::from_secs(15);

/// How a view puts the question to its user and tells them what happened.
pub trait Ask: Sync {
    /// The user's answer (true: restart), or `None` when this view cannot ask (no terminal).
    /// Awaited, so that the view's own end signals still count while the user thinks.
    fn ask(&self, found: &Versions) -> BoxFuture<'static, Option<bool>>;
    /// One line for the user.
    fn tell(&self, line: &str);
}

/// A view without a user to ask: what it would say goes to the log.
pub struct Unattended;

impl Ask for Unattended {
    fn ask(&self, _: &Versions) -> BoxFuture<'static, Option<bool>> {
        Box::pin(async { None })
    }
    fn tell(&self, line: &str) {
        tracing::info!("{line}");
    }
}

/// What to do with a core of another version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Use it as it is.
    Use,
    /// Stop it and start this version.
    Restart,
    /// Leave it alone and do not attach.
    Refuse,
}

/// `restart_core`: restart without asking. `answer`: the user's, `None` when not asked.
pub fn plan(found: &Versions, restart_core: bool, answer: Option<bool>) -> Plan {
    if restart_core || answer == Some(true) {
        Plan::Restart
    } else if found.same_protocol() {
        Plan::Use
    } else {
        Plan::Refuse
    }
}

/// The version this core says it is. `GOOFISH_CORE_VERSION`, when set, stands in for the
/// program's own version so that tests can run "a core of another version" without a second
/// binary. It is read here alone, once as the core starts; no flag or config file sets it.
pub(super) fn core_version() -> String {
    std::env::var("GOOFISH_CORE_VERSION")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(wire::program_version)
}

/// The core this view attaches to at its start: the running one when it is of this version
/// (or when it may be used as it is), else a new one in its place; a core is started when
/// none runs.
pub(super) async fn connect(
    settings: &Settings,
    view: &str,
    account: &crate::protocol::Uid,
    ask: &dyn Ask,
) -> Result<Link> {
    let place = place(settings);
    let ours = wire::program_version();
    let (theirs, their_protocol, pid, link) = match client::try_connect(&place, view, account).await
    {
        Ok(None) => return client::connect_or_start(settings, view, account).await,
        Ok(Some(link)) if link.version == ours => return Ok(link),
        Ok(Some(link)) => (link.version.clone(), PROTOCOL, link.pid, Some(link)),
        Err(e) => match e.downcast_ref::<AttachError>() {
            Some(AttachError::OtherVersion {
                version,
                protocol,
                pid,
                ..
            }) => (version.clone(), *protocol, *pid, None),
            _ => return Err(e),
        },
    };
    // The hello is outside input: one short line, nothing that could drive a terminal.
    let theirs = crate::text::truncate(&crate::text::one_line(&theirs), 40);
    let found = Versions {
        theirs: &theirs,
        their_protocol,
        ours: &ours,
        our_protocol: PROTOCOL,
    };
    let answer = if settings.restart_core {
        None
    } else {
        ask.ask(&found).await
    };
    let lang = settings.lang;
    tracing::info!(
        theirs,
        their_protocol,
        ?answer,
        "a core of another version runs"
    );
    match (plan(&found, settings.restart_core, answer), link) {
        (Plan::Use, Some(link)) => {
            if answer.is_none() {
                ask.tell(&text::kept(lang, &found));
            }
            Ok(link)
        }
        (Plan::Use | Plan::Refuse, _) => Err(eyre!(text::refused(lang, &found))),
        (Plan::Restart, link) => {
            match link {
                // It understands a `stop`, on the connection already open to it.
                Some(link) => link.stop().await?,
                None => {
                    let pid = pid.ok_or_else(|| eyre!(text::refused(lang, &found)))?;
                    client::terminate(pid)?;
                }
            }
            until_ended(&place, pid).await?;
            let link = client::connect_or_start(settings, view, account).await?;
            tracing::info!(theirs, ours, "restarted the background core");
            ask.tell(&text::restarted(lang, &theirs, &link.version));
            Ok(link)
        }
    }
}

/// Waits until the old core has let go of its lock (it holds it for its whole life), or its
/// process `pid` is gone (the lock may then be a new core's, started by another view).
async fn until_ended(place: &super::Place, pid: Option<u32>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + END_WITHIN;
    loop {
        if super::lock(place).is_ok() || pid.is_some_and(|p| !alive(p)) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(eyre!(
                "the old background core (pid {}) did not end within {} s: stop it with `goofish-tui daemon --stop`",
                pid.map_or_else(|| "?".to_string(), |p| p.to_string()),
                END_WITHIN.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Whether process `pid` exists (signal 0 reaches it, or it is another user's).
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(their_protocol: u32) -> Versions<'static> {
        Versions {
            theirs: "0.1.0",
            their_protocol,
            ours: "0.2.0",
            our_protocol: PROTOCOL,
        }
    }

    #[test]
    fn the_same_protocol_is_used_unless_a_restart_is_wanted() {
        let same = found(PROTOCOL);
        assert_eq!(plan(&same, false, None), Plan::Use);
        assert_eq!(plan(&same, false, Some(false)), Plan::Use);
        assert_eq!(plan(&same, false, Some(true)), Plan::Restart);
        assert_eq!(plan(&same, true, None), Plan::Restart);
    }

    #[test]
    fn another_protocol_is_restarted_or_refused_never_used() {
        let other = found(PROTOCOL + 1);
        assert_eq!(plan(&other, false, None), Plan::Refuse);
        assert_eq!(plan(&other, false, Some(false)), Plan::Refuse);
        assert_eq!(plan(&other, false, Some(true)), Plan::Restart);
        assert_eq!(plan(&other, true, None), Plan::Restart);
    }

    #[test]
    fn a_process_that_is_gone_is_not_alive() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
    }
}
