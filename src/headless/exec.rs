//! `watch --exec`: a queue that runs one shell command per incoming message, one at a time,
//! with the message JSON on stdin. Failures are reported on stderr and never stop `watch`.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Why one run failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("cannot start: {0}")]
    Spawn(String),
    #[error("exited with status {0}")]
    Status(String),
    #[error("killed after {0:?} (timeout)")]
    Timeout(Duration),
    #[error("cannot wait for it: {0}")]
    Wait(String),
}

pub struct ExecQueue {
    tx: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl ExecQueue {
    pub fn start(cmd: String, timeout: Duration) -> ExecQueue {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let task = tokio::spawn(async move {
            while let Some(input) = rx.recv().await {
                if let Err(e) = run_one(&cmd, &input, timeout).await {
                    let e = crate::safe_text::clean_line(&e.to_string()).into_owned();
                    eprintln!("goofish-tui watch: --exec command {e}");
                }
            }
        });
        ExecQueue { tx, task }
    }

    /// Queues one run; runs happen in order, one at a time.
    pub fn push(&self, input: String) {
        let _ = self.tx.send(input);
    }

    /// Stops the queue; a command still running is killed.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// The child's stdout goes to our stderr: our stdout carries only event lines.
fn child_stdout() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

pub async fn run_one(cmd: &str, input: &str, timeout: Duration) -> Result<(), ExecError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(child_stdout())
        .stderr(Stdio::inherit())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ExecError::Spawn(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = format!("{input}\n");
        // A command that does not read its stdin must not block the queue.
        tokio::spawn(async move {
            let _ = stdin.write_all(data.as_bytes()).await;
        });
    }
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(ExecError::Status(status.to_string())),
        Ok(Err(e)) => Err(ExecError::Wait(e.to_string())),
        Err(_) => {
            crate::process::kill_group(&mut child).await;
            Err(ExecError::Timeout(timeout))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdin_reaches_the_command_and_failures_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let cmd = format!("cat >> '{}'", out.display());
        run_one(&cmd, "{\"a\":1}", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"a\":1}\n");
        assert!(matches!(
            run_one("exit 3", "", Duration::from_secs(5)).await,
            Err(ExecError::Status(_))
        ));
        let started = std::time::Instant::now();
        assert!(matches!(
            run_one("sleep 30", "", Duration::from_millis(200)).await,
            Err(ExecError::Timeout(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
