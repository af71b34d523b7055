//! The mtop HTTP client (§3): signs requests, keeps the cookie jar (persisting it after
//! every change), refreshes the signing token, and turns `ret` codes into typed errors.

use crate::im::cookies::CookieJar;
use crate::protocol::lwp::IM_APP_KEY;
use crate::protocol::mtop::{
    self, Envelope, Outcome, TOKEN_COOKIE, TOKEN_COOKIES, api, classify, parse_envelope,
};
use crate::protocol::{Cid, ItemInfo, Profile, Uid};
use crate::secret::Secret;
use reqwest::header::{self, HeaderMap, HeaderValue};
use rustls::ClientConfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

/// Attempts of one call while the signing token is stale (the official library's count, §3.3).
pub const MAX_ATTEMPTS: u32 = 5;
/// Per-request timeout, matching the `timeout` query parameter.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause before a retry when the stale-token answer brought no new token (§9.5 pacing).
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Largest mtop or passport answer read. Real ones are a few KiB (an item's details some tens
/// of KiB); anything near this is an attack or a broken proxy, and is refused unread.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Largest answer to a picture upload read: the picture limit.
pub const MAX_UPLOAD_ANSWER_BYTES: usize = crate::im::session::MAX_IMAGE_BYTES as usize;

const USER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";
const ORIGIN: &str = "https://www.goofish.com";
const REFERER: &str = "https://www.goofish.com/";
const PASSPORT_ORIGIN: &str = "https://passport.goofish.com";
const PASSPORT_REFERER: &str = "https://passport.goofish.com/mini_login.htm";
/// GO sends the IM page as referer for the token call [L]; the service does not seem to care.
const REFERER_IM: &str = "https://www.goofish.com/im";

/// Where the HTTP services live: the real ones, or a simulator on loopback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub mtop: Url,
    pub passport: Url,
    /// Picture uploads (§3.5).
    pub upload: Url,
}

impl Endpoints {
    pub fn real() -> Self {
        use crate::config::defaults::{MTOP_URL, PASSPORT_URL, UPLOAD_URL};
        Self {
            mtop: Url::parse(MTOP_URL).expect("constant URL is valid"),
            passport: Url::parse(PASSPORT_URL).expect("constant URL is valid"),
            upload: Url::parse(UPLOAD_URL).expect("constant URL is valid"),
        }
    }

    /// The HTTP endpoints of resolved settings; the error names the one that is not a URL.
    pub fn from_urls(urls: &crate::config::EndpointUrls) -> Result<Self, String> {
        let parse = |s: &str, what: &str| {
            Url::parse(s).map_err(|e| format!("the {what} URL {s:?} is not valid: {e}"))
        };
        Ok(Self {
            mtop: parse(&urls.mtop, "mtop")?,
            passport: parse(&urls.passport, "passport")?,
            upload: parse(&urls.upload, "upload")?,
        })
    }

    /// Every service under one base URL, as the simulator serves them.
    pub fn at(base: Url) -> Self {
        Self {
            mtop: base.clone(),
            passport: base.clone(),
            upload: base,
        }
    }
}

/// A failed mtop call, worded for the user. Never carries a cookie or token value.
#[derive(Debug, thiserror::Error)]
pub enum MtopError {
    #[error(
        "no login cookie (`unb`): run `goofish-tui login` (QR code) or paste the Cookie header of a logged-in goofish.com tab"
    )]
    NoCookie,
    #[error(
        "the login cookie has expired: run `goofish-tui login` (QR code), or log in again in a browser and export a fresh cookie"
    )]
    SessionExpired,
    #[error(
        "Goofish risk control wants a slider check: open {} in a browser logged into this account, pass the slider, then export a fresh cookie",
        url.as_deref().unwrap_or("https://www.goofish.com/im")
    )]
    RiskControl { url: Option<String> },
    #[error("the service is throttling requests ({code}): wait a while before trying again")]
    Throttled { code: String },
    #[error(
        "the service kept refusing the request signature after {MAX_ATTEMPTS} attempts; the signing cookies were dropped, the next call starts fresh"
    )]
    TokenRefreshFailed,
    #[error("{api} failed: {code} {message}")]
    Business {
        api: String,
        code: String,
        message: String,
    },
    #[error("network error: {0}")]
    Http(String),
    #[error(
        "the answer to {what} is larger than {} MB; it was refused unread",
        limit / (1024 * 1024)
    )]
    TooLarge { what: String, limit: usize },
    #[error("unexpected answer from the service: {0}")]
    BadResponse(String),
}

/// The IM access token from `login.token` (§3.4), bound to the device id it was asked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImToken {
    /// As the service sent it (not URL-decoded; §4.3 leaves decoding before `/reg` open).
    pub access_token: Secret,
    /// Absolute expiry in ms since the epoch, when the answer tells it.
    pub expires_at_ms: Option<i64>,
    pub refresh_token: Option<Secret>,
}

impl ImToken {
    /// The token percent-decoded, as the official SDK sends it on `/reg` (§4.3 [L]). Left
    /// as received when it holds no valid escape or does not decode to UTF-8.
    pub fn decoded_access_token(&self) -> Secret {
        Secret::new(percent_decode(self.access_token.expose()))
    }
}

/// `decodeURIComponent` without its exceptions: bad escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let hex = |c: Option<&u8>| c.and_then(|&c| char::from(c).to_digit(16));
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match (b, hex(tail.first()), hex(tail.get(1))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// The MIME type of a picture, from its file name.
fn image_mime(name: &str) -> &'static str {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        _ => "image/jpeg",
    }
}

/// The CDN URL of an upload answer: `object.url`, or `data.url` in some variants (§3.5).
pub fn parse_upload(body: &[u8]) -> Result<String, MtopError> {
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('<') {
        return Err(MtopError::SessionExpired);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| MtopError::BadResponse(format!("the upload answer is not JSON ({e})")))?;
    ["/object/url", "/data/url"]
        .iter()
        .find_map(|p| {
            v.pointer(p)
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
        })
        .map(str::to_string)
        .ok_or_else(|| MtopError::BadResponse("the upload answer has no picture URL".into()))
}

/// `base` with a path ending in `/`, so that joining keeps its last segment.
fn with_slash(mut base: Url) -> Url {
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
}

/// The mtop client, one per account. Clones share it, and calls run side by side: the jar
/// is locked only to read it into a request and to take an answer's cookies, never across
/// the network or the disk, so a slow upload never holds up a token request.
#[derive(Clone)]
pub struct MtopClient {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    endpoints: Endpoints,
    jar: Mutex<CookieJar>,
    file: Option<Arc<JarFile>>,
}

impl std::fmt::Debug for MtopClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtopClient")
            .field("endpoints", &self.shared.endpoints)
            .field("jar", &*self.jar_guard())
            .field("jar_path", &self.shared.file.as_ref().map(|f| &f.path))
            .finish()
    }
}

/// The jar's file. Saves are queued and written by one writer at a time, newest first, so
/// an older snapshot never overwrites a newer one and no caller waits on another's write.
struct JarFile {
    path: PathBuf,
    queue: Mutex<SaveQueue>,
    /// The generation last written (or given up on).
    written: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct SaveQueue {
    generation: u64,
    pending: Option<(u64, CookieJar)>,
    writing: bool,
}

impl JarFile {
    fn new(path: PathBuf) -> JarFile {
        JarFile {
            path,
            queue: Mutex::new(SaveQueue::default()),
            written: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Queues the jar as `current` gives it for saving (off the async threads: a save
    /// fsyncs); the generation that `saved` waits for. The jar is read under the queue's
    /// lock: read before it, a caller could queue an older jar after a newer one.
    fn queue(self: &Arc<Self>, current: impl FnOnce() -> CookieJar) -> u64 {
        let (generation, start) = {
            let mut q = lock(&self.queue);
            let jar = current();
            q.generation += 1;
            let generation = q.generation;
            q.pending = Some((generation, jar));
            let start = !q.writing;
            q.writing = true;
            (generation, start)
        };
        if start {
            let file = self.clone();
            tokio::task::spawn_blocking(move || file.write_pending());
        }
        generation
    }

    fn write_pending(&self) {
        loop {
            let next = {
                let mut q = lock(&self.queue);
                match q.pending.take() {
                    Some(next) => next,
                    None => {
                        q.writing = false;
                        return;
                    }
                }
            };
            let (generation, jar) = next;
            if let Err(e) = jar.save(&self.path) {
                // The cookies in memory are still good for this run.
                tracing::warn!(error = %e, "could not save the cookie jar");
            }
            self.written.send_replace(generation);
        }
    }

    async fn saved(&self, generation: u64) {
        let mut written = self.written.subscribe();
        let _ = written.wait_for(|w| *w >= generation).await;
    }
}

/// A poisoned lock still holds a usable jar: a panic elsewhere must not stop the session.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A reqwest error as one line, without the URL (it carries the request's sign).
fn http_error(e: reqwest::Error) -> MtopError {
    if e.is_timeout() {
        return MtopError::Http(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()));
    }
    let e = e.without_url();
    let mut msg = e.to_string();
    // The cause chain holds the useful part (refused, DNS, TLS…).
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    MtopError::Http(msg)
}

/// The body of `resp`, at most `limit` bytes: never buffered whole before the check.
async fn read_body(
    mut resp: reqwest::Response,
    what: &str,
    limit: usize,
) -> Result<Vec<u8>, MtopError> {
    let too_large = || {
        tracing::warn!(what, limit, "an answer past the size limit was refused");
        MtopError::TooLarge {
            what: what.to_string(),
            limit,
        }
    };
    let announced = resp.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = resp.chunk().await.map_err(http_error)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl MtopClient {
    pub fn new(
        endpoints: Endpoints,
        jar: CookieJar,
        jar_path: Option<PathBuf>,
    ) -> Result<Self, MtopError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static(ORIGIN));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        // The WebSocket trusts the same roots (`tls`), so a proxy either works for both or
        // for neither.
        let tls = super::tls::client_config().map_err(|e| MtopError::Http(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(ClientConfig::clone(&tls))
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(http_error)?;
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                endpoints,
                jar: Mutex::new(jar),
                file: jar_path.map(|p| Arc::new(JarFile::new(p))),
            }),
        })
    }

    fn jar_guard(&self) -> std::sync::MutexGuard<'_, CookieJar> {
        lock(&self.shared.jar)
    }

    /// Own uid from the jar (`unb`, else `munb`).
    pub fn uid(&self) -> Option<Uid> {
        self.jar_guard().uid()
    }

    /// The jar as it is now.
    pub fn jar(&self) -> CookieJar {
        self.jar_guard().clone()
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.shared.endpoints
    }

    /// Takes the jar saved in this client's file when it holds a different login of `uid` (as
    /// `goofish-tui login` leaves it). Whether it did.
    pub async fn adopt_saved_login(&self, uid: Option<&Uid>) -> bool {
        let Some(path) = self.shared.file.as_ref().map(|f| f.path.clone()) else {
            return false;
        };
        let loaded = tokio::task::spawn_blocking(move || CookieJar::load(&path)).await;
        let Ok(Ok(saved)) = loaded else {
            return false;
        };
        let Some(saved_uid) = saved.uid() else {
            return false;
        };
        if uid.is_some_and(|u| *u != saved_uid) {
            tracing::warn!(%saved_uid, "the saved login is of another account; not taking it");
            return false;
        }
        let mut jar = self.jar_guard();
        if *jar == saved {
            return false;
        }
        *jar = saved;
        true
    }

    /// Replaces the whole jar (e.g. after a QR login) and saves it; returns once it is on disk.
    pub async fn set_jar(&self, jar: CookieJar) {
        *self.jar_guard() = jar;
        self.persist().await;
    }

    /// Calls one mtop API and returns its `data` on success.
    ///
    /// `data` is serialised once and that exact string is signed and sent. A stale signing
    /// token is refreshed from `Set-Cookie` and the call retried, up to [`MAX_ATTEMPTS`]
    /// requests; after that the signing cookies are dropped and
    /// [`MtopError::TokenRefreshFailed`] returned. Session expiry, risk control, throttling
    /// and business errors are returned at once.
    pub async fn call(&self, api: &str, version: &str, data: &Value) -> Result<Value, MtopError> {
        let data = serde_json::to_string(data)
            .map_err(|e| MtopError::BadResponse(format!("cannot encode the request: {e}")))?;
        let referer = if api == api::LOGIN_TOKEN {
            REFERER_IM
        } else {
            REFERER
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let token_before = self.jar_guard().get(TOKEN_COOKIE).cloned();
            let env = self.request(api, version, &data, referer).await?;
            match classify(&env) {
                Outcome::Success => return Ok(env.data),
                Outcome::TokenStale { code } => {
                    tracing::debug!(api, attempt, code, "mtop signing token stale");
                    let token_now = self.jar_guard().get(TOKEN_COOKIE).cloned();
                    if attempt < MAX_ATTEMPTS && token_now == token_before {
                        // Nothing new to sign with: do not hammer the gateway.
                        tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    }
                }
                Outcome::SessionExpired => return Err(MtopError::SessionExpired),
                Outcome::RiskControl { url } => {
                    tracing::warn!(api, "mtop risk control");
                    return Err(MtopError::RiskControl { url });
                }
                Outcome::Throttled { code } => return Err(MtopError::Throttled { code }),
                Outcome::Business { code, message } => {
                    return Err(MtopError::Business {
                        api: api.to_string(),
                        code,
                        message,
                    });
                }
            }
        }
        // §3.3: after the last failure the official library forgets the signing cookies so
        // the next call starts with a fresh TOKEN_EMPTY exchange.
        let changed = {
            let mut jar = self.jar_guard();
            TOKEN_COOKIES
                .iter()
                .fold(false, |changed, name| jar.remove(name) | changed)
        };
        if changed {
            self.persist().await;
        }
        Err(MtopError::TokenRefreshFailed)
    }

    /// One signed POST; absorbs its cookies and parses its envelope.
    async fn request(
        &self,
        api: &str,
        version: &str,
        data: &str,
        referer: &'static str,
    ) -> Result<Envelope, MtopError> {
        let t = crate::time::now_ms().to_string();
        let token = self
            .jar_guard()
            .get(TOKEN_COOKIE)
            .map(|v| mtop::token_of(v.expose()).to_string())
            .unwrap_or_default();
        let sign = mtop::sign(&token, &t, data);
        let mut url = self.api_url(api, version)?;
        url.query_pairs_mut()
            .extend_pairs(mtop::query_params(api, version, &t, &sign));

        let req = self
            .shared
            .http
            .post(url)
            .header(header::REFERER, HeaderValue::from_static(referer))
            .form(&[("data", data)]);
        let (status, body) = self.exchange(req, api, MAX_ANSWER_BYTES).await?;
        match parse_envelope(&body) {
            Ok(env) => Ok(env),
            Err(e) if !status.is_success() => Err(MtopError::Http(format!(
                "{api} answered HTTP {status} ({e})"
            ))),
            Err(e) => Err(MtopError::BadResponse(format!("{api}: {e}"))),
        }
    }

    /// One passport request (§5): `GET <passport>/<path>?<query>`, or a form `POST` when
    /// `form` is given, with the jar's cookies and a browser's headers. Absorbs and saves the
    /// answer's cookies; returns the HTTP status and the body.
    pub async fn passport(
        &self,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), MtopError> {
        let mut url = with_slash(self.shared.endpoints.passport.clone())
            .join(path.trim_start_matches('/'))
            .map_err(|e| MtopError::BadResponse(format!("bad passport path {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let http = &self.shared.http;
        let mut req = match form {
            Some(form) => http.post(url).form(form),
            None => http.get(url),
        };
        req = req
            .header(header::ORIGIN, HeaderValue::from_static(PASSPORT_ORIGIN))
            .header(header::REFERER, HeaderValue::from_static(PASSPORT_REFERER))
            .header(header::ACCEPT, HeaderValue::from_static("*/*"));
        self.exchange(req, path, MAX_ANSWER_BYTES).await
    }

    /// Sends `req` with the jar's cookies; absorbs and saves the answer's cookies; returns the
    /// HTTP status and the body, read as it comes and refused once past `limit` bytes (an
    /// announced length past it is refused before reading).
    async fn exchange(
        &self,
        mut req: reqwest::RequestBuilder,
        what: &str,
        limit: usize,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), MtopError> {
        let header = {
            let jar = self.jar_guard();
            (!jar.is_empty()).then(|| jar.header())
        };
        if let Some(header) = header {
            // `from_bytes` also takes non-ASCII bytes, which some pasted cookies hold.
            let mut cookie = HeaderValue::from_bytes(header.expose().as_bytes())
                .map_err(|_| MtopError::BadResponse("a cookie value cannot be sent".into()))?;
            cookie.set_sensitive(true);
            req = req.header(header::COOKIE, cookie);
        }
        let resp = req.send().await.map_err(http_error)?;
        let status = resp.status();
        if self.absorb_cookies(resp.headers()) {
            self.persist().await;
        }
        let body = read_body(resp, what, limit).await?;
        Ok((status, body))
    }

    /// Uploads a picture (§3.5) and returns its CDN URL. `name` is the file name sent with it.
    /// An HTML answer means the login cookies are dead.
    pub async fn upload_image(&self, name: &str, bytes: Vec<u8>) -> Result<String, MtopError> {
        self.require_login()?;
        let mut url = with_slash(self.shared.endpoints.upload.clone())
            .join("api/upload.api")
            .map_err(|e| MtopError::BadResponse(format!("bad upload URL: {e}")))?;
        url.query_pairs_mut().extend_pairs([
            ("floderId", "0"),
            ("appkey", "xy_chat"),
            ("_input_charset", "utf-8"),
        ]);
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(image_mime(name))
            .map_err(|e| MtopError::BadResponse(format!("cannot describe the picture: {e}")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let req = self
            .shared
            .http
            .post(url)
            .header(header::REFERER, HeaderValue::from_static(REFERER))
            .multipart(form);
        let (status, body) = self
            .exchange(req, "the picture upload", MAX_UPLOAD_ANSWER_BYTES)
            .await?;
        parse_upload(&body).map_err(|e| match e {
            MtopError::BadResponse(why) if !status.is_success() => {
                MtopError::Http(format!("the upload answered HTTP {status} ({why})"))
            }
            other => other,
        })
    }

    /// Takes every `Set-Cookie` of an answer into the jar; whether anything changed.
    fn absorb_cookies(&self, headers: &HeaderMap) -> bool {
        let set_cookies: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .collect();
        self.jar_guard().absorb_set_cookies(set_cookies)
    }

    /// `<mtop base>/h5/<api>/<version>/`.
    fn api_url(&self, api: &str, version: &str) -> Result<Url, MtopError> {
        with_slash(self.shared.endpoints.mtop.clone())
            .join(&format!("h5/{api}/{version}/"))
            .map_err(|e| MtopError::BadResponse(format!("bad API name {api}: {e}")))
    }

    /// Saves the jar if it has a file; returns once this state of it (or a newer one) is
    /// written. A failed save is logged and the call goes on: the cookies in memory are
    /// still good for this run.
    async fn persist(&self) {
        let Some(file) = &self.shared.file else {
            return;
        };
        let generation = file.queue(|| self.jar());
        file.saved(generation).await;
    }

    fn require_login(&self) -> Result<Uid, MtopError> {
        self.uid().ok_or(MtopError::NoCookie)
    }

    /// The IM access token for `device_id` (§3.4 `login.token`).
    pub async fn login_token(&self, device_id: &str) -> Result<ImToken, MtopError> {
        self.require_login()?;
        let data = self
            .call(
                api::LOGIN_TOKEN,
                api::LOGIN_TOKEN_V,
                &json!({"appKey": IM_APP_KEY, "deviceId": device_id}),
            )
            .await?;
        parse_im_token(&data, crate::time::now_ms())
    }

    /// Who the cookies belong to (`loginuser.get`); also a cheap keep-alive that rotates
    /// cookies.
    pub async fn login_user(&self) -> Result<Uid, MtopError> {
        self.require_login()?;
        let data = self
            .call(api::LOGIN_USER, api::LOGIN_USER_V, &json!({}))
            .await?;
        ["userId", "mainUserId"]
            .iter()
            .find_map(|k| data.get(*k).and_then(id_string))
            .map(Uid::new)
            .ok_or_else(|| MtopError::BadResponse("loginuser.get answered without a userId".into()))
    }

    /// The peer of conversation `cid` (`user.query` 4.0). `Profile.uid` is empty when the
    /// answer does not name the user; the caller knows whom it asked about.
    pub async fn user_query(&self, cid: &Cid) -> Result<Profile, MtopError> {
        self.require_login()?;
        let data = self
            .call(
                api::USER_QUERY,
                api::USER_QUERY_V,
                &json!({"type": 0, "sessionType": 1, "sessionId": cid.as_str(), "isOwner": false}),
            )
            .await?;
        parse_user_query(&data)
    }

    /// Title, price and first picture of an item (`idle.pc.detail`).
    pub async fn item_detail(&self, item_id: &str) -> Result<ItemInfo, MtopError> {
        let data = self
            .call(
                api::ITEM_DETAIL,
                api::ITEM_DETAIL_V,
                &json!({"itemId": item_id}),
            )
            .await?;
        parse_item_detail(item_id, &data)
    }

    /// Own display name and avatar (`user.page.head` with `self: true`).
    pub async fn own_profile(&self) -> Result<Profile, MtopError> {
        let own = self.require_login()?;
        let data = self
            .call(api::USER_HEAD, api::USER_HEAD_V, &json!({"self": true}))
            .await?;
        parse_own_profile(&data, own)
    }
}

/// A non-empty string or integer id as text.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// A non-empty string field.
fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Picture URLs sometimes come protocol-relative (`//img.alicdn.com/…`).
fn absolute_url(url: String) -> String {
    if url.starts_with("//") {
        format!("https:{url}")
    } else {
        url
    }
}

fn parse_im_token(data: &Value, now_ms: i64) -> Result<ImToken, MtopError> {
    let access = text(&data["accessToken"]).ok_or_else(|| {
        MtopError::BadResponse("login.token answered without an accessToken".into())
    })?;
    Ok(ImToken {
        access_token: Secret::new(access),
        expires_at_ms: mtop::interpret_expiry(&data["accessTokenExpiredTime"], now_ms),
        refresh_token: text(&data["refreshToken"]).map(Secret::new),
    })
}

fn parse_user_query(data: &Value) -> Result<Profile, MtopError> {
    let info = &data["userInfo"];
    // `nick` is masked (买***明); `fishNick` is the name the user chose.
    let nick = text(&info["fishNick"])
        .or_else(|| text(&info["nick"]))
        .ok_or_else(|| MtopError::BadResponse("user.query answered without a nickname".into()))?;
    let uid = ["userId", "uid", "kcUserId"]
        .iter()
        .find_map(|k| id_string(&info[*k]))
        .map(Uid::new)
        .unwrap_or_default();
    Ok(Profile {
        uid,
        nick,
        avatar: text(&info["logo"])
            .or_else(|| text(&info["avatar"]))
            .map(absolute_url),
    })
}

fn parse_item_detail(item_id: &str, data: &Value) -> Result<ItemInfo, MtopError> {
    let item = &data["itemDO"];
    let title = text(&item["title"])
        .ok_or_else(|| MtopError::BadResponse("idle.pc.detail answered without a title".into()))?;
    let price = ["soldPrice", "price", "minPrice"].iter().find_map(|k| {
        let v = &item[*k];
        text(v).or_else(|| v.as_number().map(|n| n.to_string()))
    });
    // The picture list's name varies between answers seen by clients; take the first URL.
    let pic = [
        "/imageInfos/0/url",
        "/picInfo/picUrl",
        "/picInfo/0/url",
        "/images/0",
        "/mainPic",
    ]
    .into_iter()
    .find_map(|p| item.pointer(p).and_then(text))
    .map(absolute_url);
    Ok(ItemInfo {
        item_id: item_id.to_string(),
        title,
        price,
        pic,
    })
}

fn parse_own_profile(data: &Value, own: Uid) -> Result<Profile, MtopError> {
    let base = data.pointer("/module/base").unwrap_or(&Value::Null);
    let nick = text(&base["displayName"]).ok_or_else(|| {
        MtopError::BadResponse("user.page.head answered without a displayName".into())
    })?;
    let avatar = base
        .pointer("/avatar/avatar")
        .and_then(text)
        .or_else(|| text(&base["avatar"]))
        .map(absolute_url);
    let uid = data
        .pointer("/baseInfo/kcUserId")
        .and_then(id_string)
        .map(Uid::new)
        .unwrap_or(own);
    Ok(Profile { uid, nick, avatar })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn jar_saves_from_many_callers_end_with_the_newest_jar_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookies.json");
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let client = MtopClient::new(
            Endpoints::at(base),
            CookieJar::default(),
            Some(path.clone()),
        )
        .unwrap();
        let saves = (0..40).map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .set_jar(CookieJar::parse_header(&format!("unb=22000000{n:02}; t=x")))
                    .await
            })
        });
        for s in saves.collect::<Vec<_>>() {
            s.await.unwrap();
        }
        // Every caller returned after its state (or a newer one) was written; the file
        // holds the jar as it is now, never an older snapshot.
        assert_eq!(CookieJar::load(&path).unwrap(), client.jar());
    }

    #[test]
    fn upload_answers_are_read_as_documented() {
        let url = "https://img.alicdn.com/imgextra/i4/1/O1CN01x.jpg";
        let object = json!({"object": {"url": url, "pix": "800x600"}}).to_string();
        assert_eq!(parse_upload(object.as_bytes()).unwrap(), url);
        let data = json!({"data": {"url": url}}).to_string();
        assert_eq!(parse_upload(data.as_bytes()).unwrap(), url);
        // An HTML page means the login cookies are dead.
        assert!(matches!(
            parse_upload(b"  <!DOCTYPE html><html>login</html>"),
            Err(MtopError::SessionExpired)
        ));
        for bad in [&b"{}"[..], b"{\"object\":{\"url\":\"\"}}", b"\xff\xfe", b""] {
            assert!(matches!(parse_upload(bad), Err(MtopError::BadResponse(_))));
        }
        assert_eq!(image_mime("照片.PNG"), "image/png");
        assert_eq!(image_mime("a.webp"), "image/webp");
        assert_eq!(image_mime("no-extension"), "image/jpeg");
    }

    #[test]
    fn token_answer_is_read_defensively() {
        let t = parse_im_token(
            &json!({"accessToken": "tok%3D", "accessTokenExpiredTime": "86400000", "refreshToken": ""}),
            1_000,
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "tok%3D");
        assert_eq!(t.decoded_access_token().expose(), "tok=");
        assert_eq!(t.expires_at_ms, Some(86_401_000));
        assert_eq!(t.refresh_token, None);
        assert!(format!("{t:?}").contains("***"));
        assert!(!format!("{t:?}").contains("tok%3D"));
        assert!(matches!(
            parse_im_token(&json!({"accessToken": ""}), 0),
            Err(MtopError::BadResponse(_))
        ));
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%2Bb%3d%3D"), "a+b==");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E4%BD%A0"), "你");
        // Not UTF-8 once decoded: left alone.
        assert_eq!(percent_decode("%FF"), "%FF");
    }

    #[test]
    fn user_query_prefers_fish_nick() {
        let p = parse_user_query(&json!({"userInfo": {
            "fishNick": "买家小明", "nick": "买***明", "logo": "//img/a.jpg", "userId": 1000000101u64
        }}))
        .unwrap();
        assert_eq!(p.nick, "买家小明");
        assert_eq!(p.avatar.as_deref(), Some("https://img/a.jpg"));
        assert_eq!(p.uid, Uid::new("1000000101"));
        let p =
            parse_user_query(&json!({"userInfo": {"fishNick": "", "nick": "买***明"}})).unwrap();
        assert_eq!(p.nick, "买***明");
        assert!(p.uid.is_empty());
        assert!(parse_user_query(&json!({})).is_err());
    }

    #[test]
    fn item_and_own_profile_fields() {
        let i = parse_item_detail(
            "900000000601",
            &json!({"itemDO": {"title": "二手相机", "soldPrice": 1280,
                "imageInfos": [{"url": "https://img/1.jpg"}, {"url": "https://img/2.jpg"}]}}),
        )
        .unwrap();
        assert_eq!(i.title, "二手相机");
        assert_eq!(i.price.as_deref(), Some("1280"));
        assert_eq!(i.pic.as_deref(), Some("https://img/1.jpg"));
        assert!(parse_item_detail("1", &json!({"itemDO": {}})).is_err());
        let p = parse_own_profile(
            &json!({"baseInfo": {"kcUserId": "2200000000401"},
                "module": {"base": {"displayName": "卖家", "avatar": {"avatar": "https://a"}}}}),
            Uid::new("1"),
        )
        .unwrap();
        assert_eq!(p.uid, Uid::new("2200000000401"));
        assert_eq!(p.nick, "卖家");
        assert_eq!(p.avatar.as_deref(), Some("https://a"));
    }

    #[test]
    fn errors_tell_the_user_what_to_do() {
        assert!(
            MtopError::SessionExpired
                .to_string()
                .contains("log in again")
        );
        let e = MtopError::RiskControl {
            url: Some("https://x/punish".into()),
        };
        assert!(e.to_string().contains("https://x/punish"));
        assert!(e.to_string().contains("slider"));
    }

    #[test]
    fn api_url_keeps_a_base_path() {
        let mut ep = Endpoints::real();
        let c = MtopClient::new(ep.clone(), CookieJar::new(), None).unwrap();
        assert_eq!(
            c.api_url(api::USER_QUERY, "4.0").unwrap().as_str(),
            "https://h5api.m.goofish.com/h5/mtop.taobao.idlemessage.pc.user.query/4.0/"
        );
        ep.mtop = Url::parse("http://127.0.0.1:9/sim").unwrap();
        let c = MtopClient::new(ep, CookieJar::new(), None).unwrap();
        assert_eq!(
            c.api_url("a.b", "1.0").unwrap().as_str(),
            "http://127.0.0.1:9/sim/h5/a.b/1.0/"
        );
    }
}
