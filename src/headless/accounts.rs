//! `goofish-tui accounts`: the accounts of the data directory, the first (the default of
//! every view) first.

use super::{EXIT_OK, init_logging};
use crate::accounts::{self, Account};
use crate::config::Settings;
use crate::text::i18n::tr;

/// Arguments of `accounts`.
#[derive(Debug, clap::Args)]
pub struct AccountsArgs {
    /// One JSON object per line: `uid`, `nick`, `dir`, `default`.
    #[arg(long)]
    pub json: bool,
}

/// Runs `accounts`; returns the exit code (0, also with no account: it says so).
pub async fn run(settings: &Settings, args: &AccountsArgs) -> i32 {
    init_logging(&settings.stderr_log_level);
    let all = accounts::list(&settings.paths.data_dir);
    if args.json {
        for (i, a) in all.iter().enumerate() {
            println!("{}", json_line(a, i == 0));
        }
        return EXIT_OK;
    }
    if all.is_empty() {
        println!(
            "{}",
            tr(
                settings.lang,
                "No account yet: log in with `goofish-tui login`.",
                "还没有账号：用 `goofish-tui login` 登录。",
            )
        );
        return EXIT_OK;
    }
    print!("{}", describe(&all));
    EXIT_OK
}

fn json_line(a: &Account, default: bool) -> String {
    serde_json::json!({
        "uid": a.uid.as_str(),
        "nick": a.nick,
        "dir": a.dir,
        "default": default,
    })
    .to_string()
}

/// One line per account: a `*` before the default one, the uid, the nick, the folder.
pub fn describe(all: &[Account]) -> String {
    let mut out = String::new();
    for (i, a) in all.iter().enumerate() {
        let mark = if i == 0 { '*' } else { ' ' };
        let nick = a
            .nick
            .as_deref()
            .map(crate::safe_text::clean_line)
            .unwrap_or_default();
        out.push_str(&format!(
            "{mark} {}  {nick}  {}\n",
            a.uid,
            crate::safe_text::clean_line(&a.dir.display().to_string())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uid;

    #[test]
    fn the_default_account_is_marked_and_a_hostile_nick_is_cleaned() {
        let a = |uid: &str, nick: Option<&str>| Account {
            uid: Uid::new(uid),
            nick: nick.map(str::to_string),
            dir: std::path::PathBuf::from(format!("/d/{uid}")),
            added_ms: 0,
        };
        let text = describe(&[a("1", Some("店A")), a("2", Some("x\u{1b}[2Jy"))]);
        assert_eq!(text.lines().next(), Some("* 1  店A  /d/1"));
        assert!(text.lines().nth(1).unwrap().starts_with("  2  x"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
