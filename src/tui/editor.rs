//! The draft in the user's editor: `$VISUAL`, then `$EDITOR`, then `vi`, run on a private
//! temporary file through the shell (so `EDITOR="code --wait"` works as in git).

use std::io::Write;
use std::process::Command;

/// The editor command the environment names.
pub fn command(env: impl Fn(&str) -> Option<String>) -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| env(k))
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Runs `editor` on a file holding `text` and returns what the file holds when it ends
/// successfully. Blocking: the caller gives it the terminal and waits on another thread.
pub fn edit(text: &str, editor: &str) -> Result<String, String> {
    let mut file = tempfile::Builder::new()
        .prefix("goofish-draft-")
        .suffix(".txt")
        .tempfile()
        .map_err(|e| format!("cannot start the editor: {e}"))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| format!("cannot start the editor: {e}"))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .map_err(|e| format!("cannot start the editor: {e}"))?;
    match status.code() {
        Some(0) => {}
        // The shell's "command not found".
        Some(127) => return Err(format!("cannot start the editor: `{editor}` is not found")),
        Some(n) => return Err(format!("the editor exited with status {n}")),
        None => return Err("the editor exited with a signal".to_string()),
    }
    let bytes = std::fs::read(file.path()).map_err(|e| format!("cannot read the draft: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "cannot read the draft: it is not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visual_wins_then_editor_then_vi() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            command(env(&[("VISUAL", "nano"), ("EDITOR", "vim")])),
            "nano"
        );
        assert_eq!(command(env(&[("VISUAL", " "), ("EDITOR", "vim")])), "vim");
        assert_eq!(command(env(&[])), "vi");
    }

    #[test]
    fn the_edited_file_comes_back_and_a_failure_says_so() {
        // An "editor" that appends to the file it is given.
        let got = edit("在吗", "printf '，包邮' >>").unwrap();
        assert_eq!(got, "在吗，包邮");
        let err = edit("x", "false").unwrap_err();
        assert!(err.contains("exited with status 1"), "{err}");
        let err = edit("x", "no-such-editor-here").unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }
}
