//! `goofish-tui recall`: recalls an own message (§6.11), for scripts that sent one by mistake.

use super::send::{Failure, ask, login_problem, next};
use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK};
use crate::config::Settings;
use crate::im::api::{ConnState, ImCommand, ImEvent};
use crate::protocol::{Cid, MessageId};
use tokio::time::Instant;

/// Arguments of `recall`.
#[derive(Debug, clap::Args)]
pub struct RecallArgs {
    /// The conversation the message is in.
    #[arg(long, value_name = "CID")]
    pub to: String,
    /// The message id (`<digits>.PNM`, as `send` prints it).
    #[arg(long, value_name = "MSG_ID")]
    pub id: String,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
}

/// Runs `recall`; returns the exit code. Prints nothing on success.
pub async fn run(settings: &Settings, args: &RecallArgs) -> i32 {
    super::init_logging(&settings.stderr_log_level);
    let lang = settings.lang;
    let say = |msg: &str| super::complain(lang, "recall", msg);
    let id = MessageId::new(args.id.trim());
    if id.number().is_none() {
        say(&format!(
            "not a message id: {:?} (like 3400000000303.PNM)",
            args.id
        ));
        return EXIT_FAILED;
    }
    let deadline = Instant::now() + super::secs(args.timeout);
    let mut conn = match super::connect_by(settings, "recall", deadline, &say).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cid = Cid::new(args.to.trim());
    let result = tokio::time::timeout_at(deadline, recall(&mut conn, cid, id)).await;
    conn.shutdown().await;
    match result {
        Ok(Ok(())) => EXIT_OK,
        Ok(Err(Failure::Login(msg))) => {
            say(&msg);
            EXIT_LOGIN
        }
        Ok(Err(Failure::Failed(msg))) => {
            say(&msg);
            EXIT_FAILED
        }
        Err(_) => {
            say("timed out: the message may or may not have been recalled");
            EXIT_FAILED
        }
    }
}

/// Waits for the connection, asks for the recall and waits for its answer.
async fn recall(conn: &mut crate::run::Connection, cid: Cid, id: MessageId) -> Result<(), Failure> {
    let commands = conn.session.commands.clone();
    let events = &mut conn.session.events;
    loop {
        match next(events).await? {
            ImEvent::Connection(ConnState::Live) => break,
            ImEvent::Connection(s) => {
                if let Some(msg) = login_problem(&s) {
                    return Err(Failure::Login(msg));
                }
            }
            _ => {}
        }
    }
    ask(
        &commands,
        ImCommand::Recall {
            cid,
            id: id.clone(),
        },
    )
    .await?;
    loop {
        match next(events).await? {
            ImEvent::RecallResult { id: i, result, .. } if i == id => {
                return result.map_err(|e| Failure::Failed(format!("not recalled: {e}")));
            }
            ImEvent::Connection(s) => {
                if let Some(msg) = login_problem(&s) {
                    return Err(Failure::Login(msg));
                }
            }
            _ => {}
        }
    }
}
