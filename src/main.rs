use clap::FromArgMatches;
use color_eyre::eyre::{Result, WrapErr, eyre};
use goofish_tui::cli::{Cli, Command, ScenarioArg, SimArgs};
use goofish_tui::headless;
use goofish_tui::sim::{self, Scenario, SimOptions};
use std::io::Write;
use std::time::Duration;

fn main() -> Result<()> {
    color_eyre::install()?;
    let lang = goofish_tui::cli::early_lang(std::env::args());
    let matches = goofish_tui::cli::command(lang).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let lang = goofish_tui::headless::lang(&cli);
    if cli.clear_cache {
        return said(lang, goofish_tui::store::cmd::clear_cache(&cli));
    }
    let runtime = tokio::runtime::Runtime::new().wrap_err("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Sim(ref args)) => run_sim(&cli, args).await,
            Some(Command::Watch(ref args)) => {
                headless::exit(headless::watch::run(&cli, args).await)
            }
            Some(Command::Send(ref args)) => headless::exit(headless::send::run(&cli, args).await),
            Some(Command::Recall(ref args)) => {
                headless::exit(headless::recall::run(&cli, args).await)
            }
            Some(Command::Decode(ref args)) => headless::exit(headless::decode::run(&cli, args)),
            Some(Command::Doctor(ref args)) => {
                headless::exit(headless::doctor::run(&cli, args).await)
            }
            Some(Command::Search(ref args)) => {
                said(lang, goofish_tui::store::cmd::search(&cli, args))
            }
            Some(Command::FetchHistory(ref args)) => {
                headless::exit(headless::history::run(&cli, args).await)
            }
            Some(Command::Login(ref args)) => {
                headless::exit(headless::login::run(&cli, args).await)
            }
            None => said(lang, goofish_tui::run::tui(&cli).await),
        }
    });
    said(lang, result)
}

/// An error of the messenger or of a command that returns one, said in `lang` on stderr,
/// and exit code 1 (the headless commands print their own and exit). It may quote the
/// service (a risk-control URL, an error text), so it is cleaned for the terminal like
/// every other text.
fn said(lang: goofish_tui::text::i18n::Lang, result: Result<()>) -> Result<()> {
    if let Err(e) = result {
        let text = goofish_tui::text::i18n::message(lang, &format!("{e:#}"));
        eprintln!("goofish-tui: {}", goofish_tui::safe_text::clean(&text));
        headless::exit(1);
    }
    Ok(())
}

async fn run_sim(cli: &Cli, args: &SimArgs) -> Result<()> {
    // The simulator logs to stderr: stdout carries exactly one JSON line.
    let level = cli.log_level.as_deref().unwrap_or("warn");
    goofish_tui::logging::to_stderr(&goofish_tui::logging::spec(level));
    let opts = SimOptions {
        listen: args.listen,
        seed: args.seed,
        scenario: match args.scenario {
            ScenarioArg::Demo => Scenario::Demo,
            ScenarioArg::Quiet => Scenario::Quiet,
        },
        conversations: args.conversations,
        history: args.history,
        qr_auto_confirm: args
            .qr_auto_confirm
            .map(|s| Duration::from_secs_f64(s.max(0.0))),
        im_token_lifetime: Duration::from_secs(args.im_token_lifetime.max(1)),
        heartbeat_kick_after: Duration::from_secs(args.heartbeat_kick_after.max(1)),
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

/// SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}
