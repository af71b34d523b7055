//! `goofish-tui login`: log in by scanning a QR code with the Xianyu app (§5.1), and keep the
//! login cookies in the data directory, where the messenger and the other commands find them.

use super::{EXIT_FAILED, EXIT_LOGIN, EXIT_OK, init_logging, secs};
use crate::config::Settings;
use crate::im::cookies::CookieJar;
use crate::im::mtop::{Endpoints, MtopClient, MtopError};
use crate::im::passport::{PassportError, QrCode, QrLogin, QrState};
use crate::protocol::Uid;
use crate::text::i18n::{Lang, tr};
use std::time::Duration;
use tokio::time::Instant;

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Draw the QR code for a terminal with a light background (dark text).
    #[arg(long)]
    pub light_terminal: bool,
}

impl Default for LoginArgs {
    fn default() -> Self {
        LoginArgs {
            timeout: 300.0,
            light_terminal: false,
        }
    }
}

/// Pause between status queries (§5.1: 0.8–3 s).
const POLL_EVERY: Duration = Duration::from_millis(1500);
/// Transient service errors in a row before giving up (as GO does).
const MAX_TRANSIENT: u32 = 5;
/// Codes shown before giving up when each one expires unscanned.
const MAX_CODES: u32 = 3;

/// Why a login did not happen, and the exit code that says so.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{0}")]
    Login(String),
    #[error("{0}")]
    Failed(String),
}

impl LoginError {
    fn code(&self) -> i32 {
        match self {
            LoginError::Login(_) => EXIT_LOGIN,
            LoginError::Failed(_) => EXIT_FAILED,
        }
    }
}

impl From<PassportError> for LoginError {
    fn from(e: PassportError) -> Self {
        LoginError::Failed(e.to_string())
    }
}

pub async fn run(settings: &Settings, args: &LoginArgs) -> i32 {
    init_logging(&settings.stderr_log_level);
    match login(settings, args).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            super::complain(settings.lang, "login", &e.to_string());
            e.code()
        }
    }
}

/// The whole login: codes until one is confirmed, then the cookies saved where the other
/// commands look for them. Also run by the messenger when it starts without any login.
pub async fn login(settings: &Settings, args: &LoginArgs) -> Result<(), LoginError> {
    if settings.demo {
        return Err(LoginError::Failed(
            "--demo needs no login: run `goofish-tui --demo` to try the messenger".into(),
        ));
    }
    // A given cookie wins over the saved login: one that cannot even be read is said first.
    if let Some(given) = &settings.cookie {
        CookieJar::from_given(given).map_err(|e| LoginError::Failed(e.to_string()))?;
    }
    let paths = &settings.paths;
    let endpoints = Endpoints::from_urls(&settings.endpoints).map_err(LoginError::Failed)?;
    let lang = settings.lang;
    let before = crate::accounts::list(&paths.data_dir);
    let mut print = |p: LoginProgress| match p {
        LoginProgress::Code { qr, again } => {
            if again {
                println!(
                    "{}",
                    tr(lang, "The code expired. A new one:", "二维码已过期，新的：")
                );
            }
            println!("{qr}");
            println!(
                "{}",
                tr(
                    lang,
                    "Scan this code with the Xianyu (闲鱼) app and confirm the login on the phone.",
                    "用闲鱼 App 扫描这个二维码，并在手机上确认登录。",
                )
            );
        }
        LoginProgress::Scanned => println!(
            "{}",
            tr(
                lang,
                "Scanned. Confirm the login on the phone…",
                "已扫描，请在手机上确认登录…",
            )
        ),
    };
    let (uid, path) = login_into(
        endpoints,
        &paths.data_dir,
        secs(args.timeout),
        args.light_terminal,
        &mut print,
    )
    .await?;
    let p = path.display();
    match lang {
        Lang::Zh => println!("已登录为 {uid}。登录信息保存在 {p}。"),
        _ => println!("Logged in as {uid}. The login is saved in {p}."),
    }
    let again = before.iter().any(|a| a.uid == uid);
    if !before.is_empty() && !again {
        let n = before.len() + 1;
        match lang {
            Lang::Zh => println!(
                "这是第 {n} 个账号；`goofish-tui accounts` 列出全部，`--account {uid}` 选用它。"
            ),
            _ => println!(
                "This is account {n} here; `goofish-tui accounts` lists them all, \
                 `--account {uid}` picks this one."
            ),
        }
    }
    if crate::daemon::running(settings) && !again {
        match lang {
            Lang::Zh => println!(
                "后台核心在这次登录之前启动：第一个要用这个账号的视图（`--account {uid}`）会让它连上这个账号；已经打开的消息界面重开后才显示它。"
            ),
            _ => println!(
                "The background core started before this login: it connects this account for the \
                 first view that asks for it (`--account {uid}`); a messenger already open shows it \
                 once opened again."
            ),
        }
    }
    if let Some(source) = settings.cookie.as_ref().map(|c| &c.source) {
        match lang {
            Lang::Zh => {
                println!("注意：{source} 也给出了 cookie，在删除它之前会用它代替这次登录。")
            }
            _ => println!(
                "Note: a cookie is also given by {source}, and it is used instead of this login \
                 until it is removed."
            ),
        }
    }
    Ok(())
}

/// How a login goes, for whoever shows it (the terminal, the TUI's popup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginProgress {
    /// A code to scan, drawn in half blocks; `again`: the previous one expired.
    Code { qr: String, again: bool },
    /// Scanned; waiting for the confirmation on the phone.
    Scanned,
}

/// A whole QR login with a fresh jar, saved once confirmed in the folder of the account it
/// logged into (a new one for a new account; the same jar for an account logged into
/// again), where the running session and the other commands take it. The logged-in uid and
/// where its jar is.
pub async fn login_into(
    endpoints: Endpoints,
    data_dir: &std::path::Path,
    timeout: Duration,
    light_terminal: bool,
    progress: &mut (dyn FnMut(LoginProgress) + Send),
) -> Result<(Uid, std::path::PathBuf), LoginError> {
    // A fresh jar: cookies of an older login must not mix with the new one.
    let mut mtop = MtopClient::new(endpoints, CookieJar::new(), None)
        .map_err(|e| LoginError::Failed(e.to_string()))?;
    let uid = scan(&mut mtop, timeout, light_terminal, progress).await?;
    let dir = crate::accounts::dir_for(data_dir, &uid);
    crate::private_fs::create_dir(data_dir)
        .and_then(|()| crate::private_fs::create_dir(&dir))
        .map_err(|e| {
            LoginError::Failed(format!(
                "cannot create the account's directory {}: {e}",
                dir.display()
            ))
        })?;
    let jar_path = crate::accounts::jar_in(&dir);
    mtop.jar().save(&jar_path).map_err(|e| {
        LoginError::Failed(format!(
            "cannot save the login in {}: {e}",
            jar_path.display()
        ))
    })?;
    if let Err(e) = crate::accounts::note(&dir, nick_of(&mtop.jar()).as_deref()) {
        tracing::warn!("cannot note the account in {}: {e}", dir.display());
    }
    Ok((uid, jar_path))
}

/// The name the login cookies carry (`tracknick`, percent-encoded as a browser keeps it),
/// until the session learns the account's own nick.
fn nick_of(jar: &CookieJar) -> Option<String> {
    let decoded = crate::im::mtop::percent_decode(jar.get("tracknick")?.expose());
    let nick = crate::safe_text::clean_line(&decoded).trim().to_string();
    (!nick.is_empty()).then_some(nick)
}

/// Shows codes until one is confirmed; returns the logged-in uid.
async fn scan(
    mtop: &mut MtopClient,
    timeout: Duration,
    light_terminal: bool,
    progress: &mut (dyn FnMut(LoginProgress) + Send),
) -> Result<Uid, LoginError> {
    let deadline = Instant::now() + timeout;
    let mut login = QrLogin::start(mtop).await?;
    let mut confirmed = None;
    'codes: for shown in 1..=MAX_CODES {
        let code = login.new_code().await?;
        progress(LoginProgress::Code {
            qr: render(&code, light_terminal)?,
            again: shown > 1,
        });
        let mut last = QrState::Waiting;
        let mut transient = 0;
        loop {
            if Instant::now() >= deadline {
                return Err(LoginError::Login(
                    "no login within the time allowed (--timeout)".into(),
                ));
            }
            tokio::time::sleep(POLL_EVERY).await;
            let state = login.poll(&code).await?;
            if let QrState::Transient(why) = &state {
                transient += 1;
                tracing::warn!(%why, transient, "login status query failed");
                if transient >= MAX_TRANSIENT {
                    return Err(LoginError::Failed(format!(
                        "the login service keeps failing ({why}); try again later"
                    )));
                }
                continue;
            }
            transient = 0;
            if state == last {
                continue;
            }
            match &state {
                QrState::Waiting | QrState::Transient(_) => {}
                QrState::Scanned => progress(LoginProgress::Scanned),
                QrState::Confirmed { token } => {
                    confirmed = Some(token.clone());
                    break 'codes;
                }
                QrState::Expired => continue 'codes,
                QrState::FaceCheck => {
                    return Err(LoginError::Login(
                        "Goofish wants a face check for this account, which only the browser \
                         can do: log in at https://www.goofish.com/im, then give goofish-tui \
                         the browser's cookie (see `goofish-tui --help`)"
                            .into(),
                    ));
                }
                QrState::Canceled => {
                    return Err(LoginError::Login(
                        "the login was cancelled on the phone".into(),
                    ));
                }
                QrState::Failed(status) => {
                    return Err(LoginError::Login(format!(
                        "the login service reports the code as {status}"
                    )));
                }
            }
            last = state;
        }
    }
    let Some(token) = confirmed else {
        return Err(LoginError::Login(
            "every code expired without being scanned".into(),
        ));
    };
    if let Some(token) = &token {
        login.redeem(token).await?;
    }
    let Some(uid) = mtop.uid() else {
        return Err(LoginError::Login(
            "the confirmation brought no login cookie (`unb`)".into(),
        ));
    };
    // Asks the gateway once as the new session: it proves the cookies and issues the signing
    // token for them (§5.1 step 5).
    match mtop.login_user().await {
        Ok(_) => Ok(uid),
        Err(e @ (MtopError::SessionExpired | MtopError::NoCookie)) => Err(LoginError::Login(
            format!("the new login does not work: {e}"),
        )),
        Err(MtopError::RiskControl { url }) => Err(LoginError::Login(format!(
            "Goofish wants a slider check before this login can be used: open {} in a \
             browser logged into the account",
            url.unwrap_or_else(|| "https://www.goofish.com/im".into())
        ))),
        Err(e) => {
            // The cookies are there; the check can wait for the next start.
            tracing::warn!("could not check the new login: {e}");
            Ok(uid)
        }
    }
}

/// The code as text, two modules per character cell (half blocks), small enough for an 80×24
/// terminal: a light module is drawn (the usual light-on-dark terminal) unless
/// `light_terminal`, so that the code reads dark on light to the phone's camera either way.
/// No wide quiet zone: on a light terminal its background is the margin; on a dark one a
/// single drawn module of border stands in for it, as the camera needs some light around.
fn render(code: &QrCode, light_terminal: bool) -> Result<String, LoginError> {
    // Level L: a screen does not smudge, and the lowest level keeps the code small.
    let qr = qrcode::QrCode::with_error_correction_level(
        code.content().expose().as_bytes(),
        qrcode::EcLevel::L,
    )
    .map_err(|e| LoginError::Failed(format!("cannot draw the QR code: {e}")))?;
    let dark: Vec<bool> = qr
        .to_colors()
        .iter()
        .map(|c| *c == qrcode::Color::Dark)
        .collect();
    Ok(half_blocks(&dark, qr.width(), light_terminal))
}

/// `dark` (row-major, `width` a side) as lines of half blocks, two rows per line. The cells
/// drawn are the light modules (dark terminal, with a one-module light border) or the dark
/// ones (light terminal, no border).
pub fn half_blocks(dark: &[bool], width: usize, light_terminal: bool) -> String {
    let margin = usize::from(!light_terminal);
    let side = width + 2 * margin;
    // Whether the cell at (x, y) of the bordered square is drawn.
    let drawn = |x: usize, y: usize| -> bool {
        let inside = x >= margin && y >= margin && x < width + margin && y < width + margin;
        let is_dark = inside
            && dark
                .get((y - margin) * width + (x - margin))
                .copied()
                .unwrap_or(false);
        if light_terminal { is_dark } else { !is_dark }
    };
    let mut out = String::with_capacity(side * side);
    for y in (0..side).step_by(2) {
        for x in 0..side {
            let top = drawn(x, y);
            let bottom = y + 1 < side && drawn(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn half_blocks_draw_two_rows_per_line_with_a_border_only_on_dark_terminals() {
        let dark = [true, false, false, true];
        assert_eq!(half_blocks(&dark, 2, false), "█▀██\n██▄█");
        assert_eq!(half_blocks(&dark, 2, true), "▀▄");
    }

    #[test]
    fn a_login_code_fits_an_80_by_24_terminal_with_room_for_its_text() {
        // 22 rows leave one for the line that says what to do with it (the old one took 28).
        // As long as the real service's codes (§5.1): a passport URL with a login token.
        let url = format!(
            "https://passport.goofish.com/qrcodeCheck.htm?lgToken={}&tbScanOpenType=Notification",
            "0123456789abcdef".repeat(2)
        );
        let qr = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::L)
            .unwrap();
        let dark: Vec<bool> = qr
            .to_colors()
            .iter()
            .map(|c| *c == qrcode::Color::Dark)
            .collect();
        for light in [false, true] {
            let text = half_blocks(&dark, qr.width(), light);
            let rows = text.lines().count();
            let cols = text.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(rows <= 22 && cols <= 80, "{rows}×{cols}:\n{text}");
        }
    }
}
