//! Child processes the program starts for the user (hooks, notify commands).

use std::process::Stdio;
use tokio::process::{Child, Command};

/// Ends `child` and whatever it started: SIGKILL to its process group (it was spawned as the
/// leader of one), then to the child itself in case it was not.
pub async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        // `kill` is POSIX and keeps this free of unsafe code.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    let _ = child.kill().await;
}
