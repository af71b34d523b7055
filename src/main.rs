//! The program: reads the environment once and the command line, resolves the settings from
//! them and the config file, and runs the messenger or the command asked for.

mod cli;

use clap::FromArgMatches;
use cli::{Cli, Command, SimArgs};
use color_eyre::eyre::{Result, WrapErr, eyre};
use goofish_tui::config::{ConfigError, Env, Settings, Sources};
use goofish_tui::headless::{self, EXIT_FAILED};
use goofish_tui::run::{LoginExpired, NoLogin};
use goofish_tui::text::i18n::{self, COOKIE_HELP, Lang};
use std::io::IsTerminal;

/// The commands that run one session and print (watch, send, fetch-history and the like) run
/// their tasks on one thread: the connection, the session and the output then hand work to
/// each other without waking another thread (a burst of 20,000 messages costs `watch` about a
/// quarter of the futex calls it did on a pool). The TUI, the background core and the
/// simulator keep a pool, so that drawing, many views or the simulated servers never wait
/// behind each other.
fn runtime_for(command: Option<&Command>) -> std::io::Result<tokio::runtime::Runtime> {
    let one_thread = matches!(
        command,
        Some(
            Command::Watch(_)
                | Command::Send(_)
                | Command::Recall(_)
                | Command::FetchHistory(_)
                | Command::Decode(_)
                | Command::Search(_)
                | Command::Accounts(_)
        )
    );
    if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

fn main() -> Result<()> {
    color_eyre::install()?;
    let env = Env::read();
    let lang = cli::early_lang(std::env::args(), env.locale);
    let matches = cli::command(lang).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let sources = Sources {
        flags: cli.layer(),
        env,
    };
    let resolved = sources.resolve();
    let lang = match &resolved {
        Ok(s) => s.lang,
        Err(_) => sources.lang_without_file(),
    };
    if cli.clear_cache {
        let cleared = resolved
            .map_err(Into::into)
            .and_then(|s| headless::search::clear_cache(&s));
        return said(lang, cleared);
    }
    let runtime = runtime_for(cli.command.as_ref()).wrap_err("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Sim(ref args)) => run_sim(&sources.stderr_log_level(), args).await,
            Some(Command::Decode(ref args)) => headless::exit(headless::decode::run(lang, args)),
            Some(Command::Doctor(ref args)) => {
                let code = headless::doctor::run(&sources, resolved, lang, args).await;
                headless::exit(code)
            }
            Some(Command::Watch(ref args)) => headless::exit(
                headless::watch::run(&settings_for("watch", lang, resolved), args).await,
            ),
            Some(Command::Send(ref args)) => headless::exit(
                headless::send::run(&settings_for("send", lang, resolved), args).await,
            ),
            Some(Command::Recall(ref args)) => headless::exit(
                headless::recall::run(&settings_for("recall", lang, resolved), args).await,
            ),
            Some(Command::FetchHistory(ref args)) => {
                let settings = settings_for("fetch-history", lang, resolved);
                headless::exit(headless::history::run(&settings, args).await)
            }
            Some(Command::Daemon(ref args)) => headless::exit(
                headless::daemon::run(&settings_for("daemon", lang, resolved), args).await,
            ),
            Some(Command::Login(ref args)) => headless::exit(
                headless::login::run(&settings_for("login", lang, resolved), args).await,
            ),
            Some(Command::Accounts(ref args)) => headless::exit(
                headless::accounts::run(&settings_for("accounts", lang, resolved), args).await,
            ),
            Some(Command::Search(ref args)) => said(
                lang,
                resolved
                    .map_err(Into::into)
                    .and_then(|s| headless::search::search(&s, args)),
            ),
            None => match resolved {
                Ok(settings) => said(lang, messenger(&settings).await),
                Err(e) => said(lang, Err(e.into())),
            },
        }
    });
    said(lang, result)
}

/// The settings a headless command runs on; when they cannot be resolved, the command says
/// why and the program ends (exit code 1).
fn settings_for(command: &str, lang: Lang, resolved: Result<Settings, ConfigError>) -> Settings {
    resolved.unwrap_or_else(|e| {
        headless::complain(lang, command, &e.to_string());
        headless::exit(EXIT_FAILED)
    })
}

/// An error of the messenger or of a command that returns one, said in `lang` on stderr,
/// and exit code 1 (the headless commands print their own and exit). It may quote the
/// service (a risk-control URL, an error text), so it is cleaned for the terminal like
/// every other text.
fn said(lang: Lang, result: Result<()>) -> Result<()> {
    if let Err(e) = result {
        let text = i18n::message(lang, &format!("{e:#}"));
        eprintln!("goofish-tui: {}", goofish_tui::safe_text::clean(&text));
        // A wrong `--account` is said as a login problem is, by every command.
        let unknown = e.is::<goofish_tui::accounts::UnknownAccount>();
        headless::exit(if unknown { headless::EXIT_LOGIN } else { 1 });
    }
    Ok(())
}

/// Where a QR login from inside the messenger saves the login (not in demo mode).
fn login_setup(settings: &Settings) -> Option<goofish_tui::tui::LoginSetup> {
    if settings.demo {
        return None;
    }
    let endpoints = goofish_tui::im::mtop::Endpoints::from_urls(&settings.endpoints).ok()?;
    Some(goofish_tui::tui::LoginSetup {
        endpoints,
        data_dir: settings.paths.data_dir.clone(),
    })
}

/// The terminal messenger. Without any login yet (and on a terminal), a QR code to scan
/// comes first.
async fn messenger(settings: &Settings) -> Result<()> {
    let _log = goofish_tui::run::start_file_logging(settings);
    let ask = goofish_tui::tui::core_question::OnScreen {
        lang: settings.lang,
    };
    let conn = match goofish_tui::run::open_session(settings, true, "tui", true, &ask).await {
        Err(e)
            if (e.is::<NoLogin>() || e.is::<LoginExpired>()) && std::io::stdout().is_terminal() =>
        {
            if e.is::<LoginExpired>() {
                println!(
                    "The saved Goofish login has expired and could not be renewed. Scan the code \
                     below with the Xianyu (闲鱼) app to log in again (Ctrl-C to stop)."
                );
            } else {
                println!(
                    "No Goofish login yet. Scan the code below with the Xianyu (闲鱼) app to log \
                     in (Ctrl-C to stop; `goofish-tui --demo` tries the program without an account)."
                );
            }
            headless::login::login(settings, &headless::login::LoginArgs::default())
                .await
                .map_err(|e| eyre!("{e}\n\n{COOKIE_HELP}"))?;
            goofish_tui::run::open_session(settings, true, "tui", true, &ask).await?
        }
        other => other?,
    };
    conn.session.ask_for_list().await?;
    let mut sessions = goofish_tui::messenger::Sessions::new(settings, &ask, conn);
    let first = sessions.first()?;
    let accounts =
        sessions
            .accounts()
            .await
            .map(|(list, shown, beside)| goofish_tui::tui::Accounts {
                list,
                shown,
                beside,
                switch: &mut sessions,
            });
    let result = goofish_tui::tui::run(
        first,
        settings.ui.clone(),
        &settings.notify,
        login_setup(settings),
        accounts,
    )
    .await;
    sessions.close().await;
    result
}

/// `goofish-tui sim`: the simulator on its own, until SIGINT or SIGTERM.
#[cfg(feature = "sim")]
async fn run_sim(log_level: &str, args: &SimArgs) -> Result<()> {
    use goofish_tui::sim::{self, Scenario, SimOptions};
    use std::io::Write;
    use std::time::Duration;
    // The simulator logs to stderr: stdout carries exactly one JSON line.
    goofish_tui::logging::to_stderr(&goofish_tui::logging::spec(log_level));
    let opts = SimOptions {
        listen: args.listen,
        seed: args.seed,
        scenario: match args.scenario {
            cli::ScenarioArg::Demo => Scenario::Demo,
            cli::ScenarioArg::Quiet => Scenario::Quiet,
        },
        conversations: args.conversations,
        history: args.history,
        qr_auto_confirm: args
            .qr_auto_confirm
            .map(|s| Duration::from_secs_f64(s.max(0.0))),
        im_token_lifetime: Duration::from_secs(args.im_token_lifetime.max(1)),
        heartbeat_kick_after: Duration::from_secs(args.heartbeat_kick_after.max(1)),
        session_lifetime: args
            .session_lifetime
            .map(|s| Duration::from_secs_f64(s.clamp(0.1, 1e9))),
        sellers: args.sellers.clamp(1, 16),
        ..SimOptions::default()
    };
    let handle = sim::start(opts)
        .await
        .wrap_err_with(|| format!("cannot listen on {}", args.listen))?;
    let line = serde_json::to_string(&handle.info).map_err(|e| eyre!(e))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    wait_for_signal().await;
    handle.shutdown().await;
    Ok(())
}

/// Without the simulator, `sim` says so.
#[cfg(not(feature = "sim"))]
async fn run_sim(_: &str, _: &SimArgs) -> Result<()> {
    Err(eyre!("{}", i18n::NO_SIMULATOR))
}

/// SIGINT or SIGTERM.
#[cfg(feature = "sim")]
async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}
