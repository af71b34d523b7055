//! `[notify] command`: a shell command run for each notification with the message's JSON
//! line on stdin (a phone push: Bark, ntfy, a group bot …). Runs one at a time in the
//! background; the caller never waits. A failure (cannot start, non-zero exit, timeout) is
//! sent on the report channel with the first line the command wrote on stderr.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Notifications waiting for the command at most; past that they are dropped (reported).
const QUEUE: usize = 64;
/// What is kept of the command's stderr for a report.
const STDERR_KEPT: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("cannot start: {0}")]
    Spawn(String),
    #[error("exited with {status}{}", stderr_note(.stderr))]
    Status { status: String, stderr: String },
    #[error("killed after {} s (timeout)", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("cannot wait for it: {0}")]
    Wait(String),
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

pub struct CommandQueue {
    tx: mpsc::Sender<String>,
    reports: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl CommandQueue {
    pub fn start(
        cmd: String,
        timeout: Duration,
        reports: mpsc::UnboundedSender<String>,
    ) -> CommandQueue {
        let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
        let report = reports.clone();
        let task = tokio::spawn(async move {
            while let Some(input) = rx.recv().await {
                match run_command(&cmd, &input, timeout).await {
                    Ok(()) => tracing::debug!("notify command done"),
                    Err(e) => {
                        let line = crate::safe_text::clean_line(&e.to_string()).into_owned();
                        tracing::warn!(error = %line, "notify command failed");
                        let _ = report.send(format!("notify command {line}"));
                    }
                }
            }
        });
        CommandQueue { tx, reports, task }
    }

    /// Queues one run; never waits.
    pub fn push(&self, json: String) {
        if self.tx.try_send(json).is_err() {
            tracing::warn!("notify command queue full; a notification was dropped");
            let _ = self
                .reports
                .send("notify command cannot keep up: a notification was dropped".into());
        }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Runs `cmd` with `sh -c`, `input` and a newline on stdin; stdout is dropped (the terminal
/// belongs to the UI or to `watch`'s lines), stderr kept for the report.
pub async fn run_command(cmd: &str, input: &str, timeout: Duration) -> Result<(), CommandError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CommandError::Spawn(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = format!("{input}\n");
        // A command that does not read its stdin must not hold the queue.
        tokio::spawn(async move {
            let _ = stdin.write_all(data.as_bytes()).await;
        });
    }
    let stderr = child.stderr.take().map(|mut err| {
        tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let room = STDERR_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
            }
            let text = String::from_utf8_lossy(&kept).into_owned();
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_string()
        })
    });
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => {
            let stderr = match stderr {
                Some(t) => tokio::time::timeout(Duration::from_secs(1), t)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => String::new(),
            };
            Err(CommandError::Status {
                status: status.to_string(),
                stderr,
            })
        }
        Ok(Err(e)) => Err(CommandError::Wait(e.to_string())),
        Err(_) => {
            crate::process::kill_group(&mut child).await;
            Err(CommandError::Timeout(timeout))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_command_gets_the_json_and_failures_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("push.json");
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        let q = CommandQueue::start(
            format!("cat > '{}'", out.display()),
            Duration::from_secs(5),
            reports_tx.clone(),
        );
        q.push(r#"{"v":1,"type":"message","text":"还在吗"}"#.into());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&out).unwrap_or_default().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the command never ran"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"v\":1,\"type\":\"message\",\"text\":\"还在吗\"}\n"
        );
        q.stop();

        let q = CommandQueue::start(
            "echo 'curl: (6) Could not resolve host' >&2; exit 6".into(),
            Duration::from_secs(5),
            reports_tx,
        );
        q.push("{}".into());
        let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(report.contains("exit status: 6"), "{report}");
        assert!(report.contains("Could not resolve host"), "{report}");
        q.stop();
        assert!(matches!(
            run_command("sleep 30", "", Duration::from_millis(200)).await,
            Err(CommandError::Timeout(_))
        ));
    }
}
