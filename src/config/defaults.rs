//! The built-in defaults, the lowest layer of the settings: written here and nowhere else.

use std::time::Duration;

/// The real service's mtop gateway (§1).
pub const MTOP_URL: &str = "https://h5api.m.goofish.com/";
/// The real service's passport (§1, §5.1).
pub const PASSPORT_URL: &str = "https://passport.goofish.com/";
/// The real service's LWP WebSocket (§4.1).
pub const WS_URL: &str = "wss://wss-goofish.dingtalk.com/";
/// Picture uploads (§3.5).
pub const UPLOAD_URL: &str = "https://stream-upload.goofish.com/";
/// `/!` period: 15 s in every client but TS.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// The log file's level.
pub const LOG_FILE_LEVEL: &str = "info";
/// The level of what the commands and the simulator log on stderr.
pub const STDERR_LOG_LEVEL: &str = "warn";
/// `loginuser.get` this often while running, to keep the login cookies warm (PY-A: 10 min).
pub const LOGIN_KEEPALIVE: Duration = Duration::from_secs(10 * 60);
/// `hasLogin.do` this often ahead of any expiry: well within the shortest login lifetimes
/// reported (1–3 h for an account under suspicion, §5.4).
pub const LOGIN_RENEW: Duration = Duration::from_secs(60 * 60);
/// `silentHasLogin.do` at most once per this long: calling it often is considered risky.
pub const SILENT_RENEW_WINDOW: Duration = Duration::from_secs(6 * 60 * 60);
/// A `[notify] command` running longer than this is killed.
pub const NOTIFY_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
