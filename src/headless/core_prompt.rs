//! A headless command's side of the question about a core of another version: asked on the
//! terminal when stdin and stderr are one, never in a script or a hook.

use crate::daemon::upgrade::Ask;
use crate::text::core_version::{self, Versions};
use crate::text::i18n::Lang;
use futures_util::future::BoxFuture;
use std::io::{BufRead, IsTerminal, Write};

/// Asks on stderr and reads the answer from stdin, as `goofish-tui <command>: …`.
pub struct OnTerminal<'a> {
    pub lang: Lang,
    pub command: &'a str,
}

impl Ask for OnTerminal<'_> {
    fn ask(&self, found: &Versions) -> BoxFuture<'static, Option<bool>> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Box::pin(async { None });
        }
        let prompt = format!(
            "goofish-tui {}: {}",
            self.command,
            crate::safe_text::clean(&core_version::prompt(self.lang, found))
        );
        // Read on a thread of its own: the command's end signals are still heard meanwhile.
        let answer = tokio::task::spawn_blocking(move || ask_line(&prompt));
        Box::pin(async move { answer.await.ok().flatten() })
    }

    fn tell(&self, line: &str) {
        super::complain(self.lang, self.command, line);
    }
}

/// `prompt` on stderr, the answer from stdin.
fn ask_line(prompt: &str) -> Option<bool> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    drop(err);
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        // The end of input is no yes.
        Ok(0) => Some(false),
        Ok(_) => Some(core_version::typed_yes(&line)),
        Err(e) => {
            tracing::warn!("cannot read the answer: {e}");
            None
        }
    }
}
