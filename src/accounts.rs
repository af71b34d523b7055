//! The accounts of a data directory. Each has its own cookie jar, device id and local history
//! in a folder of its own; nothing is shared between them (§10.13).
//!
//! The first account lives at the top of the data directory (`cookies.json`, `device_id`,
//! `store-*.sqlite3`), where a data directory from before there were several already has
//! it: nothing is ever moved, so no jar and no history can be lost on the way. Every further
//! account lives in `accounts/<uid>/`, with the same files. Each folder's `account.json`
//! remembers the account's nick and when it was added (the order `accounts` lists them in).

use crate::protocol::Uid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the accounts after the first live.
const ACCOUNTS: &str = "accounts";
const JAR: &str = "cookies.json";
const DEVICE_ID: &str = "device_id";
const META: &str = "account.json";

/// One account of the data directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    pub uid: Uid,
    pub nick: Option<String>,
    /// Its folder: the jar, the device id and the local history.
    pub dir: PathBuf,
    /// When it was first logged in here (ms; 0 when not known).
    #[serde(skip)]
    pub added_ms: i64,
}

/// The cookie jar of the account whose folder is `dir`.
pub fn jar_in(dir: &Path) -> PathBuf {
    dir.join(JAR)
}

impl Account {
    pub fn jar(&self) -> PathBuf {
        jar_in(&self.dir)
    }

    pub fn device_id(&self) -> PathBuf {
        self.dir.join(DEVICE_ID)
    }

    /// Where its local history lives.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// `nick (uid)`, or the uid alone, cleaned for the terminal.
    pub fn label(&self) -> String {
        match &self.nick {
            Some(n) => format!("{} ({})", crate::safe_text::clean_line(n), self.uid),
            None => self.uid.to_string(),
        }
    }

    /// Whether `wanted` (a uid or a nick, as given to `--account`) names this account.
    pub fn is(&self, wanted: &str) -> bool {
        self.uid.as_str() == wanted || self.nick.as_deref() == Some(wanted)
    }
}

/// What `account.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meta {
    #[serde(default)]
    nick: Option<String>,
    #[serde(default)]
    added_ms: i64,
}

fn read_meta(dir: &Path) -> Meta {
    crate::private_fs::read_bounded(&dir.join(META), 64 * 1024)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The account whose jar is in `dir`, if the jar there names a user.
fn account_in(dir: &Path) -> Option<Account> {
    let jar = crate::im::cookies::CookieJar::load(&jar_in(dir)).ok()?;
    let uid = jar.uid()?;
    let meta = read_meta(dir);
    Some(Account {
        uid,
        nick: meta.nick,
        dir: dir.to_path_buf(),
        added_ms: meta.added_ms,
    })
}

/// Every account of `data_dir`, the first one first, then the others in the order they were
/// added. A folder without a readable jar naming its user is no account (and is left alone).
pub fn list(data_dir: &Path) -> Vec<Account> {
    let mut out: Vec<Account> = account_in(data_dir).into_iter().collect();
    let mut others: Vec<Account> = std::fs::read_dir(data_dir.join(ACCOUNTS))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| account_in(&e.path()))
        // A folder must be its own account's: a jar copied into another's is not counted twice.
        .filter(|a| a.dir.file_name().and_then(|n| n.to_str()) == Some(a.uid.as_str()))
        .collect();
    others.sort_by(|a, b| (a.added_ms, &a.uid).cmp(&(b.added_ms, &b.uid)));
    for a in others {
        if !out.iter().any(|o| o.uid == a.uid) {
            out.push(a);
        }
    }
    out
}

/// The folder of `uid`'s account: the one it has, else the top of the data directory when no
/// account is there yet, else `accounts/<uid>/`.
pub fn dir_for(data_dir: &Path, uid: &Uid) -> PathBuf {
    let accounts = list(data_dir);
    if let Some(a) = accounts.iter().find(|a| &a.uid == uid) {
        return a.dir.clone();
    }
    // The top is free when no account is there and no jar (even a damaged one) is either.
    if !accounts.iter().any(|a| a.dir == data_dir) && !jar_in(data_dir).exists() {
        return data_dir.to_path_buf();
    }
    // Not a name that could leave the folder: a uid is digits.
    let safe: String = uid
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    data_dir.join(ACCOUNTS).join(safe)
}

/// Remembers `nick` for the account in `dir` (and, the first time, when it was added).
pub fn note(dir: &Path, nick: Option<&str>) -> std::io::Result<()> {
    let mut meta = read_meta(dir);
    let nick = nick.map(str::to_string).or(meta.nick.take());
    if meta.added_ms != 0 && meta.nick == nick {
        return Ok(());
    }
    meta.nick = nick;
    if meta.added_ms == 0 {
        meta.added_ms = crate::time::now_ms();
    }
    let bytes = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
    crate::private_fs::write_atomic(&dir.join(META), &bytes)
}

/// `--account` names no account of the data directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no account {wanted:?} here; the accounts are: {}", known.join(", "))]
pub struct UnknownAccount {
    pub wanted: String,
    /// Each account as `nick (uid)`.
    pub known: Vec<String>,
}

/// The account `wanted` names (a uid or a nick), or the first one when none is named.
/// `None` when there is no account at all.
pub fn choose<'a>(
    accounts: &'a [Account],
    wanted: Option<&str>,
) -> Result<Option<&'a Account>, UnknownAccount> {
    let Some(wanted) = wanted else {
        return Ok(accounts.first());
    };
    // A uid first: a nick that happens to be another's uid does not hide it.
    let found = accounts
        .iter()
        .find(|a| a.uid.as_str() == wanted)
        .or_else(|| accounts.iter().find(|a| a.is(wanted)));
    match found {
        Some(a) => Ok(Some(a)),
        None => Err(UnknownAccount {
            wanted: wanted.to_string(),
            known: accounts.iter().map(Account::label).collect(),
        }),
    }
}

/// The value of `--account` that means every account (`watch`).
pub const ALL: &str = "all";

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(dir: &Path, uid: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join(JAR),
            format!("{{\"unb\":\"{uid}\",\"cookie2\":\"s\"}}"),
        )
        .unwrap();
    }

    #[test]
    fn the_first_account_stays_at_the_top_and_the_others_get_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        assert!(list(data).is_empty());
        assert_eq!(dir_for(data, &Uid::new("1")), data);
        jar(data, "1");
        assert_eq!(dir_for(data, &Uid::new("1")), data);
        let second = dir_for(data, &Uid::new("2"));
        assert_eq!(second, data.join("accounts/2"));
        jar(&second, "2");
        note(&second, Some("店B")).unwrap();
        let third = dir_for(data, &Uid::new("3"));
        jar(&third, "3");
        note(&third, None).unwrap();
        let uids: Vec<String> = list(data).iter().map(|a| a.uid.to_string()).collect();
        assert_eq!(uids, ["1", "2", "3"]);
        assert_eq!(list(data)[1].nick.as_deref(), Some("店B"));
        assert_eq!(dir_for(data, &Uid::new("2")), second);
    }

    #[test]
    fn a_jar_in_the_wrong_folder_or_without_a_user_is_no_account() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        jar(&data.join("accounts/5"), "6");
        std::fs::create_dir_all(data.join("accounts/7")).unwrap();
        std::fs::write(data.join("accounts/7").join(JAR), "{}").unwrap();
        assert!(list(data).is_empty());
        // A damaged jar at the top is not overwritten by the next login.
        std::fs::write(data.join(JAR), "not json").unwrap();
        assert_eq!(dir_for(data, &Uid::new("8")), data.join("accounts/8"));
        // A uid is never a path.
        assert_eq!(
            dir_for(data, &Uid::new("../x")),
            data.join("accounts").join("x")
        );
    }

    #[test]
    fn an_account_is_chosen_by_uid_or_nick_and_a_wrong_name_lists_them() {
        let a = |uid: &str, nick: Option<&str>| Account {
            uid: Uid::new(uid),
            nick: nick.map(str::to_string),
            dir: PathBuf::from(uid),
            added_ms: 0,
        };
        let all = [a("11", Some("店A")), a("22", Some("11")), a("33", None)];
        assert_eq!(choose(&all, None).unwrap().unwrap().uid.as_str(), "11");
        assert_eq!(
            choose(&all, Some("22")).unwrap().unwrap().uid.as_str(),
            "22"
        );
        assert_eq!(
            choose(&all, Some("店A")).unwrap().unwrap().uid.as_str(),
            "11"
        );
        // The uid wins over a nick that looks like it.
        assert_eq!(
            choose(&all, Some("11")).unwrap().unwrap().uid.as_str(),
            "11"
        );
        let err = choose(&all, Some("店C")).unwrap_err().to_string();
        assert_eq!(
            err,
            "no account \"店C\" here; the accounts are: 店A (11), 11 (22), 33"
        );
        assert_eq!(choose(&[], None), Ok(None));
    }
}
