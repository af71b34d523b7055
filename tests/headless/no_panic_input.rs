//! No cookie string, config file or command-line argument makes the program panic: the parse
//! paths in process (cookie parsing, the config file, the command line and the settings made
//! of them), and a few commands run as a user runs them.
#![allow(clippy::unwrap_used)]

use clap::{CommandFactory, Parser};
use goofish_tui::config::{Env, FileConfig, GivenCookie, Layer, Settings, Sources};
use goofish_tui::im::cookies::{CookieJar, MAX_HEADER_BYTES};
use goofish_tui::im::mtop::Endpoints;
use goofish_tui::secret::Secret;
use proptest::prelude::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The binary's command line, as the binary builds it.
use crate::cli;
use cli::Cli;

/// Settings of `flags` over `file`, with an environment that says nothing.
fn settings(flags: Layer, file: FileConfig) -> Option<Settings> {
    let sources = Sources {
        flags,
        env: Env::from_lookup(|_| None),
    };
    sources
        .with_file(PathBuf::from("/etc/gt/config.toml"), file)
        .ok()
}

/// The given cookie of `settings`, read and parsed as the client does.
fn given_jar(settings: Option<Settings>) -> Option<CookieJar> {
    CookieJar::from_given(settings?.cookie.as_ref()?).ok()
}

/// Text that looks like a pasted cookie, with the characters that used to make the parser cut
/// inside a character: wide ones right after a short prefix.
fn cookie_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(?s).{0,8}[名字饼干é😀].{0,20}",
        "(?i)[\"' ]{0,2}(cookie: ?)?([a-z_名]{0,6}=[^;]{0,10}; ?){0,6}[\"' ]{0,2}",
        "[a-zA-Z_=;: \"'\t\r\n名字]{0,40}",
    ]
}

proptest! {
    #[test]
    fn any_cookie_text_is_parsed_without_panic(s in cookie_text(), t in cookie_text()) {
        let mut jar = CookieJar::parse_header(&s);
        let _ = jar.uid();
        jar.absorb_set_cookie(&t);
        jar.absorb_set_cookies([s.as_str(), t.as_str()]);
        prop_assert!(jar.header_len() <= MAX_HEADER_BYTES);
        prop_assert_eq!(jar.header().expose().len(), jar.header_len());

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cookie");
        std::fs::write(&p, format!("{s}{t}")).unwrap();
        if let Ok(jar) = CookieJar::load(&p) {
            prop_assert!(jar.header_len() <= MAX_HEADER_BYTES);
        }
        // Through the settings, as GOOFISH_COOKIE, a cookie file and the config file.
        let env = Env::from_lookup(|k| (k == "GOOFISH_COOKIE").then(|| s.clone().into()));
        let sources = Sources { flags: Layer::default(), env };
        if let Ok(settings) = sources.with_file(PathBuf::from("c.toml"), FileConfig::default()) {
            let _ = given_jar(Some(settings));
        }
        let header = Layer {
            cookie: Some(GivenCookie::header("test", Secret::new(s.clone()))),
            ..Layer::default()
        };
        let _ = given_jar(settings(header, FileConfig::default()));
        let file = Layer { cookie: Some(GivenCookie::file("--cookie-file", p.clone())), ..Layer::default() };
        let _ = given_jar(settings(file, FileConfig::default()));
        let file = FileConfig { cookie: Some(t.clone()), ..FileConfig::default() };
        let _ = given_jar(settings(Layer::default(), file));
    }

    #[test]
    fn any_config_file_is_loaded_without_panic(
        raw in any::<Vec<u8>>(),
        text in any::<String>(),
        cookie in cookie_text(),
        url in "[a-z:/.名\\[\\]%0-9]{0,16}",
        beat in any::<i64>(),
        lang in "[a-zA-Z_名]{0,6}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let shaped = format!(
            "cookie = {cookie:?}\nmtop_url = {url:?}\nws_url = {url:?}\n\
             heartbeat_secs = {beat}\nkeep_per_conversation = {beat}\n[ui]\nlang = {lang:?}\n"
        );
        for content in [raw, text.into_bytes(), shaped.into_bytes()] {
            std::fs::write(&p, &content).unwrap();
            let Ok(file) = FileConfig::load(&p) else { continue };
            if let Some(s) = settings(Layer::default(), file) {
                let _ = Endpoints::from_urls(&s.endpoints);
                let _ = given_jar(Some(s));
            }
        }
    }

    #[test]
    fn any_command_line_is_parsed_without_panic(args in command_line()) {
        let argv = std::iter::once("goofish-tui".to_string()).chain(args);
        let Ok(cli) = Cli::try_parse_from(argv) else { return Ok(()) };
        let sources = Sources { flags: cli.layer(), env: Env::from_lookup(|_| None) };
        let _ = sources.lang_without_file();
        if let Ok(config_file) = sources.config_file()
            && let Ok(s) = sources.with_file(config_file, FileConfig::default())
        {
            let _ = Endpoints::from_urls(&s.endpoints);
            let _ = given_jar(Some(s));
        }
    }
}

/// Every subcommand and long flag the program has, and values of every kind.
fn command_line() -> impl Strategy<Value = Vec<String>> {
    let mut words: Vec<String> = Vec::new();
    let cmd = Cli::command();
    let mut add_flags = |c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                words.push(format!("--{l}"));
            }
        }
    };
    add_flags(&cmd);
    for sub in cmd.get_subcommands() {
        add_flags(sub);
    }
    words.extend(cmd.get_subcommands().map(|s| s.get_name().to_string()));
    let words = proptest::sample::select(words);
    let value = prop_oneof![
        Just("-1".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("1e309".to_string()),
        Just("18446744073709551616".to_string()),
        Just("0".to_string()),
        Just("x=名字".to_string()),
        "[a-z0-9 ./:名字-]{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(prop_oneof![words.prop_map(|w| w), value], 0..8)
}

const BIN: &str = env!("CARGO_BIN_EXE_goofish-tui");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The real binary, with the cookie in the environment and a config file of any content.
    #[test]
    fn commands_given_any_cookie_or_config_end_without_panic(
        cookie in cookie_text(),
        config in prop_oneof![any::<String>(), cookie_text().prop_map(|c| format!("cookie = {c:?}\n"))],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("config.toml");
        std::fs::write(&conf, config).unwrap();
        for args in [
            &["search", "还在吗"][..],
            &["doctor", "--timeout", "1", "--mtop-url", "http://127.0.0.1:9/", "--ws-url", "ws://127.0.0.1:9/"][..],
        ] {
            let out = Command::new(BIN)
                .args(args)
                .env("GOOFISH_COOKIE", cookie.replace('\0', ""))
                .env("GOOFISH_CONFIG", &conf)
                .env("GOOFISH_DATA_DIR", dir.path())
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
            prop_assert!(matches!(out.status.code(), Some(0..=2)), "{args:?}: {:?} {err}", out.status);
        }
    }
}
