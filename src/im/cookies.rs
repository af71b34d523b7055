//! The cookie jar (§2): one value per cookie name, values kept as [`Secret`], persisted as a
//! private JSON file.
//!
//! Several clients lost their sessions because their jar held two `_m_h5_tk` values (one per
//! domain/path) and sent the stale one; this jar is keyed by name only, so that cannot happen.

use crate::config::{CookieValue, GivenCookie};
use crate::protocol::Uid;
use crate::secret::Secret;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a cookie file could not be used. Never carries a cookie value.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    #[error("the cookie file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot read or write the cookie file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the cookie file {path} holds no cookies: paste the Cookie header of a logged-in goofish.com tab"
    )]
    Empty { path: PathBuf },
    #[error(
        "the cookie file {path} looks like JSON but cannot be read ({reason}); expected {{\"name\": \"value\", …}}"
    )]
    BadJson { path: PathBuf, reason: String },
}

/// A cookie the user gave that cannot be used: its file cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the cookie file {path}: {message}")]
pub struct GivenCookieError {
    pub path: PathBuf,
    pub message: String,
}

impl CookieError {
    fn io(path: &Path, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            CookieError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            CookieError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Longest cookie taken, name and value together: what browsers keep at most (RFC 6265 §6.1
/// asks for at least 4096 bytes). A longer `Set-Cookie` or pasted pair is refused.
pub const MAX_COOKIE_BYTES: usize = 4096;
/// Longest `Cookie:` header the jar makes. Web servers answer a header line over 8 KB with
/// 400 (nginx's and Tengine's default buffer); a browser's goofish.com jar is 2–4 KB. A jar
/// that would grow past this drops cookies (see [`ESSENTIAL`]) instead of being sent, saved
/// or loaded: one answer flooding it must not lock the account out, even after a restart.
pub const MAX_HEADER_BYTES: usize = 6 * 1024;
/// The cookies a session lives on (§2), most important first. When the jar must shrink, the
/// others go first, the largest first; these go last, from the end of this list.
pub const ESSENTIAL: &[&str] = &[
    "unb",
    "munb",
    "cookie2",
    "_m_h5_tk",
    "_m_h5_tk_enc",
    "sgcookie",
    "t",
    "_tb_token_",
    "x5sec",
    "XSRF-TOKEN",
    "cna",
    "csg",
    "havana_lgc2_77",
    "tracknick",
    "last_u_xianyu_web",
    "tfstk",
    "mtop_partitioned_detect",
];

/// Cookies by name. Ordered by name so the header and the file are deterministic. Its
/// `Cookie:` header never exceeds [`MAX_HEADER_BYTES`] and no cookie exceeds
/// [`MAX_COOKIE_BYTES`]: every way in (header, file, `Set-Cookie`, `set`) keeps to that.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: BTreeMap<String, Secret>,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("names", &self.cookies.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A name a cookie may have: a non-empty token without separators or control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// A value that can travel in a header (no control characters, no `;`).
fn valid_value(value: &str) -> bool {
    !value.chars().any(|c| c.is_control() || c == ';')
}

/// Removes one pair of surrounding quotes, `"…"` or `'…'`.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// `s` without a leading `Cookie:` (any case), when it has one.
fn strip_cookie_prefix(s: &str) -> Option<&str> {
    const PREFIX: &str = "cookie:";
    let head = s.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX)
        .then(|| s.get(PREFIX.len()..))
        .flatten()
}

/// Bytes a cookie takes in the header, `name=value`.
fn pair_len(name: &str, value: &str) -> usize {
    name.len() + 1 + value.len()
}

/// Where a cookie stands when the jar must shrink: essential ones last (the most important
/// last of all), others by size, largest first.
fn keep_rank(name: &str, value: &str) -> (usize, usize) {
    match ESSENTIAL.iter().position(|e| *e == name) {
        Some(i) => (1 + ESSENTIAL.len() - i, 0),
        None => (0, usize::MAX - pair_len(name, value)),
    }
}

/// One parsed `Set-Cookie`.
struct SetCookie<'a> {
    name: &'a str,
    value: &'a str,
    removes: bool,
    /// Scope §2 prefers when one response sets a name twice: domain `.goofish.com` (or none)
    /// and path `/` (or none).
    preferred_scope: bool,
}

fn parse_set_cookie(header_value: &str, now: DateTime<Utc>) -> Option<SetCookie<'_>> {
    let mut parts = header_value.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), unquote(value));
    if !valid_name(name) || !valid_value(value) {
        return None;
    }
    let mut max_age: Option<i64> = None;
    let mut expires: Option<DateTime<Utc>> = None;
    let mut domain_ok = true;
    let mut path_ok = true;
    for attr in parts {
        let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
        let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
        match key.as_str() {
            // An unreadable Max-Age is ignored, as browsers do.
            "max-age" => max_age = val.parse().ok().or(max_age),
            "expires" => expires = parse_http_date(val).or(expires),
            "domain" => {
                let d = val.trim_start_matches('.').to_ascii_lowercase();
                domain_ok = d.is_empty() || d == "goofish.com";
            }
            "path" => path_ok = val.is_empty() || val == "/",
            _ => {}
        }
    }
    // Max-Age wins over Expires (RFC 6265 §5.3).
    let removes = match (max_age, expires) {
        (Some(age), _) => age <= 0,
        (None, Some(at)) => at <= now,
        (None, None) => false,
    };
    Some(SetCookie {
        name,
        value,
        removes,
        preferred_scope: domain_ok && path_ok,
    })
}

/// Parses the date forms seen in `Expires`: `Wed, 21 Oct 2015 07:28:00 GMT` and the
/// dashed `Wed, 21-Oct-2015 07:28:00 GMT`.
fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let undashed = s.replace('-', " ");
    if let Ok(d) = DateTime::parse_from_rfc2822(&undashed) {
        return Some(d.with_timezone(&Utc));
    }
    let body = undashed.split_once(',').map_or(undashed.as_str(), |x| x.1);
    let body = body.trim().trim_end_matches("GMT").trim();
    ["%d %b %Y %H:%M:%S", "%d %b %y %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(body, f).ok())
        .map(|n| n.and_utc())
}

impl CookieJar {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a pasted `Cookie:` header: `a=b; c=d`, with or without a leading `Cookie:`,
    /// quotes around the whole string or around values, and line breaks. Pairs without a
    /// usable name or value are skipped. When a name repeats, the last value is kept: a
    /// browser lists the most specific path first, and §2 prefers the path `/` one.
    pub fn parse_header(s: &str) -> CookieJar {
        let mut s = unquote(s.trim());
        if let Some(rest) = strip_cookie_prefix(s) {
            s = unquote(rest);
        }
        let mut jar = CookieJar::new();
        for pair in s.split([';', '\n', '\r']) {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), unquote(value));
            if valid_name(name) && valid_value(value) {
                jar.insert(name, value);
            }
        }
        jar.fit();
        jar
    }

    /// Merges one `Set-Cookie` header value (attributes other than the expiry are ignored).
    /// `Max-Age<=0` or an `Expires` in the past removes the cookie. Returns whether the jar
    /// changed.
    pub fn absorb_set_cookie(&mut self, header_value: &str) -> bool {
        match parse_set_cookie(header_value, Utc::now()) {
            Some(c) => self.apply(&c) | self.fit(),
            None => false,
        }
    }

    /// Merges all `Set-Cookie` values of one response. If the response sets a name more than
    /// once, the value scoped to `.goofish.com` and `/` wins over the others (§2); otherwise
    /// the last one wins. Returns whether the jar changed.
    pub fn absorb_set_cookies<'a>(
        &mut self,
        header_values: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let now = Utc::now();
        let parsed: Vec<SetCookie<'_>> = header_values
            .into_iter()
            .filter_map(|h| parse_set_cookie(h, now))
            .collect();
        let mut changed = false;
        for (i, c) in parsed.iter().enumerate() {
            let same_name = |o: &SetCookie<'_>| o.name == c.name;
            let winner = parsed
                .iter()
                .rposition(|o| same_name(o) && o.preferred_scope)
                .or_else(|| parsed.iter().rposition(same_name));
            if winner == Some(i) {
                changed |= self.apply(c);
            }
        }
        changed | self.fit()
    }

    fn apply(&mut self, c: &SetCookie<'_>) -> bool {
        if c.removes {
            self.cookies.remove(c.name).is_some()
        } else {
            self.insert(c.name, c.value)
        }
    }

    /// Sets one cookie (refused when longer than [`MAX_COOKIE_BYTES`]); returns whether the
    /// jar changed.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        self.insert(name, value) | self.fit()
    }

    /// Sets one cookie without fitting the jar (the caller fits it once at the end).
    fn insert(&mut self, name: &str, value: &str) -> bool {
        if pair_len(name, value) > MAX_COOKIE_BYTES {
            tracing::warn!(
                name,
                bytes = pair_len(name, value),
                "a cookie longer than {MAX_COOKIE_BYTES} bytes was refused"
            );
            return false;
        }
        if self.cookies.get(name).is_some_and(|v| v.expose() == value) {
            return false;
        }
        self.cookies.insert(name.to_string(), Secret::new(value));
        true
    }

    /// Bytes of the `Cookie:` header value.
    pub fn header_len(&self) -> usize {
        let pairs: usize = self
            .cookies
            .iter()
            .map(|(n, v)| pair_len(n, v.expose()))
            .sum();
        pairs + 2 * self.cookies.len().saturating_sub(1)
    }

    /// Drops cookies until the header fits in [`MAX_HEADER_BYTES`]: the non-essential ones
    /// first, largest first, then the essential ones from the least important. Whether any
    /// went.
    fn fit(&mut self) -> bool {
        let mut len = self.header_len();
        if len <= MAX_HEADER_BYTES {
            return false;
        }
        let mut order: Vec<(usize, usize, String)> = self
            .cookies
            .iter()
            .map(|(n, v)| {
                let (a, b) = keep_rank(n, v.expose());
                (a, b, n.clone())
            })
            .collect();
        order.sort_unstable();
        let mut dropped = Vec::new();
        for (_, _, name) in order {
            if len <= MAX_HEADER_BYTES {
                break;
            }
            if let Some(v) = self.cookies.remove(&name) {
                len = len.saturating_sub(pair_len(&name, v.expose()) + 2);
                dropped.push(name);
            }
        }
        tracing::warn!(
            dropped = dropped.len(),
            names = %dropped.join(", "),
            "the cookie jar outgrew {MAX_HEADER_BYTES} bytes; cookies were dropped"
        );
        true
    }

    /// Removes one cookie; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.cookies.remove(name).is_some()
    }

    /// The `Cookie:` header value, `a=b; c=d`.
    pub fn header(&self) -> Secret {
        let mut out = String::new();
        for (name, value) in &self.cookies {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value.expose());
        }
        Secret::new(out)
    }

    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.cookies.get(name)
    }

    /// Own user id: cookie `unb`, else `munb` (§2). Only digits count.
    pub fn uid(&self) -> Option<Uid> {
        ["unb", "munb"].iter().find_map(|name| {
            let v = self.cookies.get(*name)?.expose().trim();
            (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| Uid::new(v))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.cookies.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The jar of a cookie the user gave (`--cookie-file`, `GOOFISH_COOKIE`, the config file):
    /// a header value parsed, or a file read and parsed.
    pub fn from_given(given: &GivenCookie) -> Result<CookieJar, GivenCookieError> {
        match &given.value {
            CookieValue::Header(value) => Ok(CookieJar::parse_header(value.expose())),
            CookieValue::File(path) => CookieJar::load(path).map_err(|e| GivenCookieError {
                path: path.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Reads a jar saved by [`save`](Self::save) (a JSON object `{name: value}`), a JSON list
    /// of `{name, value}` objects as browser extensions export it, or a pasted header
    /// `a=b; c=d`.
    pub fn load(path: &Path) -> Result<CookieJar, CookieError> {
        // A cookie file is a few KiB; the bound keeps `--cookie-file /dev/zero` from reading
        // forever.
        let text =
            crate::private_fs::read_bounded(path, 1 << 20).map_err(|e| CookieError::io(path, e))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        let jar = if text.starts_with('{') || text.starts_with('[') {
            Self::from_json(text).map_err(|reason| CookieError::BadJson {
                path: path.to_path_buf(),
                reason,
            })?
        } else {
            Self::parse_header(text)
        };
        if jar.is_empty() {
            return Err(CookieError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(jar)
    }

    fn from_json(text: &str) -> Result<CookieJar, String> {
        // serde_json's messages name a position, never the input.
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut jar = CookieJar::new();
        let mut put = |name: &str, value: &Value| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return,
            };
            if valid_name(name) && valid_value(&value) {
                jar.insert(name, &value);
            }
        };
        match &value {
            Value::Object(map) => map.iter().for_each(|(k, v)| put(k, v)),
            Value::Array(items) => {
                for item in items {
                    if let (Some(name), Some(value)) =
                        (item.get("name").and_then(Value::as_str), item.get("value"))
                    {
                        put(name, value);
                    }
                }
            }
            _ => return Err("neither an object nor a list".to_string()),
        }
        jar.fit();
        Ok(jar)
    }

    /// Writes the jar as a JSON object, atomically and readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), CookieError> {
        let map: Map<String, Value> = self
            .cookies
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
            .collect();
        let mut bytes = serde_json::to_vec_pretty(&Value::Object(map))
            .map_err(|e| CookieError::io(path, io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        crate::private_fs::write_atomic(path, &bytes).map_err(|e| CookieError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_given_cookie_is_parsed_here_and_a_bad_file_is_named() {
        let jar = CookieJar::from_given(&GivenCookie::header(
            "GOOFISH_COOKIE",
            Secret::new("unb=42; cookie2=x"),
        ))
        .unwrap();
        assert_eq!(jar.uid(), Some(Uid::new("42")));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cookie");
        std::fs::write(&p, "unb=7").unwrap();
        let jar = CookieJar::from_given(&GivenCookie::file("--cookie-file", p)).unwrap();
        assert_eq!(jar.uid(), Some(Uid::new("7")));
        let err = CookieJar::from_given(&GivenCookie::file("--cookie-file", "/dev/zero".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read the cookie file /dev/zero"),
            "{err}"
        );
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn parses_a_pasted_header_tolerantly() {
        let jar = CookieJar::parse_header(
            "Cookie: \"unb=2200000000401; cookie2=abc ;\n _m_h5_tk=\"tok_123\";  t=x=y; =bad; novalue\"",
        );
        assert_eq!(
            jar.names().collect::<Vec<_>>(),
            ["_m_h5_tk", "cookie2", "t", "unb"]
        );
        assert_eq!(jar.get("_m_h5_tk").unwrap().expose(), "tok_123");
        assert_eq!(jar.get("t").unwrap().expose(), "x=y");
        assert_eq!(jar.get("cookie2").unwrap().expose(), "abc");
        assert_eq!(jar.uid(), Some(Uid::new("2200000000401")));
        let jar = CookieJar::parse_header("cookie:a=1;a=2");
        assert_eq!(jar.len(), 1);
        assert_eq!(jar.get("a").unwrap().expose(), "2");
    }

    #[test]
    fn header_round_trips() {
        let jar = CookieJar::parse_header("b=2; a=1");
        assert_eq!(jar.header().expose(), "a=1; b=2");
        assert_eq!(CookieJar::parse_header(jar.header().expose()), jar);
        assert_eq!(CookieJar::new().header().expose(), "");
    }

    #[test]
    fn debug_prints_names_only() {
        let jar = CookieJar::parse_header("unb=2200000000401; cookie2=very-secret-value");
        let dbg = format!("{jar:?}");
        assert!(dbg.contains("cookie2") && dbg.contains("unb"), "{dbg}");
        assert!(!dbg.contains("very-secret-value") && !dbg.contains("2200000000401"));
        assert_eq!(format!("{}", jar.header()), "***");
    }

    #[test]
    fn uid_falls_back_to_munb_and_needs_digits() {
        assert_eq!(
            CookieJar::parse_header("munb=123").uid(),
            Some(Uid::new("123"))
        );
        assert_eq!(
            CookieJar::parse_header("munb=1; unb=2").uid(),
            Some(Uid::new("2"))
        );
        assert_eq!(CookieJar::parse_header("unb=abc").uid(), None);
        assert_eq!(CookieJar::parse_header("unb=").uid(), None);
    }

    #[test]
    fn set_cookie_replaces_and_removes() {
        let mut jar = CookieJar::parse_header("_m_h5_tk=old_1; x=1");
        assert!(jar.absorb_set_cookie(
            "_m_h5_tk=new_2; Path=/; Domain=.goofish.com; Max-Age=86400; Secure; SameSite=None"
        ));
        assert_eq!(jar.get("_m_h5_tk").unwrap().expose(), "new_2");
        // The same value again is no change.
        assert!(!jar.absorb_set_cookie("_m_h5_tk=new_2; Path=/"));
        assert!(jar.absorb_set_cookie("x=; Max-Age=0; Path=/"));
        assert!(jar.get("x").is_none());
        assert!(jar.absorb_set_cookie("y=1"));
        assert!(jar.absorb_set_cookie("y=1; Expires=Thu, 01-Jan-1970 00:00:01 GMT"));
        assert!(jar.get("y").is_none());
        assert!(jar.absorb_set_cookie("z=1; expires=Wed, 21 Oct 2099 07:28:00 GMT"));
        assert_eq!(jar.get("z").unwrap().expose(), "1");
        // Max-Age wins over Expires.
        assert!(!jar.absorb_set_cookie("z=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
        assert_eq!(jar.get("z").unwrap().expose(), "1");
        // Removing an absent cookie, or garbage, is no change.
        assert!(!jar.absorb_set_cookie("absent=; Max-Age=0"));
        assert!(!jar.absorb_set_cookie("garbage without equals"));
        assert!(!jar.absorb_set_cookie(""));
    }

    #[test]
    fn one_response_setting_a_name_twice_keeps_the_goofish_root_one() {
        let mut jar = CookieJar::new();
        assert!(jar.absorb_set_cookies([
            "_m_h5_tk=root_1; Domain=.goofish.com; Path=/",
            "_m_h5_tk=narrow_1; Domain=h5api.m.goofish.com; Path=/h5",
            "_m_h5_tk_enc=e1; Domain=.goofish.com; Path=/",
        ]));
        assert_eq!(jar.get("_m_h5_tk").unwrap().expose(), "root_1");
        assert_eq!(jar.len(), 2);
        // Without a preferred one, the last wins.
        jar.absorb_set_cookies(["a=1; Path=/x", "a=2; Path=/y"]);
        assert_eq!(jar.get("a").unwrap().expose(), "2");
    }

    #[test]
    fn a_cookie_prefix_next_to_wide_characters_does_not_panic() {
        for s in [
            "x=名字",
            "名=字",
            "cooki名=1",
            "Cookie:名=1",
            "c",
            "",
            "饼干: a=1",
            "cookie",
        ] {
            let _ = CookieJar::parse_header(s);
        }
        assert_eq!(
            CookieJar::parse_header("x=名字")
                .get("x")
                .map(Secret::expose),
            Some("名字")
        );
        assert_eq!(CookieJar::parse_header("COOKIE: a=1").len(), 1);
    }

    fn junk(n: usize, size: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("junk{i:03}={}; Path=/", "v".repeat(size)))
            .collect()
    }

    const LOGIN: &str =
        "unb=2200000000401; cookie2=c2; _m_h5_tk=tok_1; _m_h5_tk_enc=enc; sgcookie=sg; t=tt";

    #[test]
    fn a_flood_of_set_cookies_never_outgrows_the_header_limit() {
        let mut jar = CookieJar::parse_header(LOGIN);
        let flood = junk(90, 1000);
        assert!(jar.absorb_set_cookies(flood.iter().map(String::as_str)));
        assert!(jar.header_len() <= MAX_HEADER_BYTES, "{}", jar.header_len());
        assert_eq!(jar.header().expose().len(), jar.header_len());
        for name in [
            "unb",
            "cookie2",
            "_m_h5_tk",
            "_m_h5_tk_enc",
            "sgcookie",
            "t",
        ] {
            assert!(jar.get(name).is_some(), "{name} was dropped");
        }
        // One at a time, too.
        let mut jar = CookieJar::parse_header(LOGIN);
        for c in &flood {
            jar.absorb_set_cookie(c);
        }
        assert!(jar.header_len() <= MAX_HEADER_BYTES);
        assert_eq!(jar.uid(), Some(Uid::new("2200000000401")));
    }

    #[test]
    fn an_oversized_cookie_is_refused_and_the_largest_other_goes_first() {
        let mut jar = CookieJar::parse_header(LOGIN);
        let huge = "x".repeat(MAX_COOKIE_BYTES);
        assert!(!jar.set("big", &huge));
        assert!(!jar.absorb_set_cookie(&format!("_m_h5_tk={huge}")));
        assert_eq!(jar.get("_m_h5_tk").map(Secret::expose), Some("tok_1"));
        // Two ordinary cookies and one large: the large one goes when space runs out.
        assert!(jar.set("small", "1"));
        assert!(jar.set("large", &"l".repeat(3000)));
        assert!(jar.set("medium", &"m".repeat(2500)));
        assert!(jar.set("more", &"o".repeat(1000)));
        assert!(
            jar.get("large").is_none() && jar.get("small").is_some(),
            "{jar:?}"
        );
        assert!(jar.header_len() <= MAX_HEADER_BYTES);
        // Essential cookies only go when nothing else is left, the least important first.
        let mut jar = CookieJar::new();
        for name in ESSENTIAL {
            jar.set(name, &"e".repeat(1000));
        }
        assert!(jar.header_len() <= MAX_HEADER_BYTES);
        assert!(jar.get("unb").is_some() && jar.get("cookie2").is_some());
        assert!(jar.get("mtop_partitioned_detect").is_none());
    }

    #[test]
    fn a_saved_jar_over_the_limit_is_trimmed_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cookies.json");
        let mut map = serde_json::Map::new();
        for i in 0..90 {
            map.insert(format!("junk{i:03}"), Value::String("v".repeat(1000)));
        }
        for (k, v) in [
            ("unb", "2200000000401"),
            ("cookie2", "c2"),
            ("_m_h5_tk", "t_1"),
        ] {
            map.insert(k.into(), Value::String(v.into()));
        }
        std::fs::write(&p, Value::Object(map).to_string()).unwrap();
        let jar = CookieJar::load(&p).unwrap();
        assert!(jar.header_len() <= MAX_HEADER_BYTES, "{}", jar.header_len());
        assert_eq!(jar.uid(), Some(Uid::new("2200000000401")));
        assert!(jar.get("cookie2").is_some() && jar.get("_m_h5_tk").is_some());
        jar.save(&p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() < 2 * MAX_HEADER_BYTES as u64);
        // A pasted header over the limit, too.
        let pasted = format!("{LOGIN}; {}", junk(90, 1000).join("; "));
        assert!(CookieJar::parse_header(&pasted).header_len() <= MAX_HEADER_BYTES);
    }

    #[test]
    fn save_and_load_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cookies.json");
        let jar = CookieJar::parse_header("unb=2200000000401; _m_h5_tk=a_1; cookie2=c");
        jar.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(CookieJar::load(&path).unwrap(), jar);
        // Overwriting keeps the mode and leaves no temporary file behind.
        let mut jar2 = jar.clone();
        jar2.set("_m_h5_tk", "b_2");
        jar2.save(&path).unwrap();
        assert_eq!(CookieJar::load(&path).unwrap(), jar2);
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("_m_h5_tk\"").count(), 1);
    }

    #[test]
    fn loads_header_and_json_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(&p, "Cookie: unb=1; t=2\n").unwrap();
        assert_eq!(CookieJar::load(&p).unwrap().len(), 2);
        std::fs::write(&p, r#"{"unb": "1", "n": 5, "skip": null}"#).unwrap();
        let jar = CookieJar::load(&p).unwrap();
        assert_eq!(jar.get("n").unwrap().expose(), "5");
        assert_eq!(jar.len(), 2);
        std::fs::write(
            &p,
            r#"[{"name":"unb","value":"1","domain":".goofish.com"}]"#,
        )
        .unwrap();
        assert_eq!(CookieJar::load(&p).unwrap().uid(), Some(Uid::new("1")));
        std::fs::write(&p, "{\"unb\": \"secret-ish").unwrap();
        let err = CookieJar::load(&p).unwrap_err();
        assert!(matches!(err, CookieError::BadJson { .. }));
        assert!(!err.to_string().contains("secret-ish"));
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(
            CookieJar::load(&p),
            Err(CookieError::Empty { .. })
        ));
        assert!(matches!(
            CookieJar::load(&dir.path().join("missing")),
            Err(CookieError::NotFound { .. })
        ));
    }
}
