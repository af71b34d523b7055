//! The cookie jar (§2): one value per cookie name, values kept as [`Secret`], persisted as a
//! private JSON file.
//!
//! Several clients lost their sessions because their jar held two `_m_h5_tk` values (one per
//! domain/path) and sent the stale one; this jar is keyed by name only, so that cannot happen.

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

/// Cookies by name. Ordered by name so the header and the file are deterministic.
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
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
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
        if s.len() >= 7 && s[..7].eq_ignore_ascii_case("cookie:") {
            s = unquote(&s[7..]);
        }
        let mut jar = CookieJar::new();
        for pair in s.split([';', '\n', '\r']) {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), unquote(value));
            if valid_name(name) && valid_value(value) {
                jar.set(name, value);
            }
        }
        jar
    }

    /// Merges one `Set-Cookie` header value (attributes other than the expiry are ignored).
    /// `Max-Age<=0` or an `Expires` in the past removes the cookie. Returns whether the jar
    /// changed.
    pub fn absorb_set_cookie(&mut self, header_value: &str) -> bool {
        match parse_set_cookie(header_value, Utc::now()) {
            Some(c) => self.apply(&c),
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
        changed
    }

    fn apply(&mut self, c: &SetCookie<'_>) -> bool {
        if c.removes {
            self.cookies.remove(c.name).is_some()
        } else {
            self.set(c.name, c.value)
        }
    }

    /// Sets one cookie; returns whether the jar changed.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        if self.cookies.get(name).is_some_and(|v| v.expose() == value) {
            return false;
        }
        self.cookies.insert(name.to_string(), Secret::new(value));
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

    /// Reads a jar saved by [`save`](Self::save) (a JSON object `{name: value}`), a JSON list
    /// of `{name, value}` objects as browser extensions export it, or a pasted header
    /// `a=b; c=d`.
    pub fn load(path: &Path) -> Result<CookieJar, CookieError> {
        let text = std::fs::read_to_string(path).map_err(|e| CookieError::io(path, e))?;
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
                jar.set(name, &value);
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
