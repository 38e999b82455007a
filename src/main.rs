//! Wiring only: panic hook → logging → CLI → config → the chosen mode.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;

use chaintop::cli::{Cli, Cmd, ConfigCmd, DemoArgs, RunArgs};
use chaintop::config::{self, Config, ConfigSource};
use chaintop::ui::Theme;
use chaintop::{app, backend, devnet, headless, logging, tui};

fn main() -> ExitCode {
    tui::install_panic_hook();
    let cli = Cli::parse();
    match run(cli) {
        Ok(app::Exit::Quit) => ExitCode::SUCCESS,
        // The shell's convention for a process ended by signal N.
        Ok(app::Exit::Signal(n)) => ExitCode::from(u8::try_from(128 + n).unwrap_or(u8::MAX)),
        Err(e) => {
            tui::restore();
            eprintln!("chaintop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<app::Exit> {
    match cli.command {
        Some(Cmd::Config(cmd)) => config_cmd(cmd, cli.config).map(|()| app::Exit::Quit),
        Some(Cmd::Cost) => {
            let config = config::load(cli.config.as_deref()).map_err(|e| anyhow!(e))?;
            print!(
                "{}",
                chaintop::estimate::report(&chaintop::estimate::estimate(&config))
            );
            Ok(app::Exit::Quit)
        }
        Some(Cmd::Demo(demo)) => {
            // The demo's endpoints are loopback ports: nothing to hide.
            logging::init(Arc::default());
            runtime()?.block_on(run_demo(cli.run, demo))
        }
        None => {
            let mut config = config::load(cli.config.as_deref()).map_err(|e| anyhow!(e))?;
            // Addresses added or removed with `a`/`d` in earlier runs.
            let persist = match config::watchlist::watchlist_path() {
                Some(path) => {
                    let list = config::watchlist::load_watchlist(&path).map_err(|e| anyhow!(e))?;
                    list.apply(&mut config);
                    Some((path, list))
                }
                None => None,
            };
            logging::init(Arc::new(config.redactor()));
            runtime()?.block_on(async move { dashboard(config, &cli.run, persist).await })
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One TLS provider for every crate (ring builds fastest here); a second one
    // pulled in later would otherwise make rustls panic at the first handshake.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn config_cmd(cmd: ConfigCmd, cli_path: Option<PathBuf>) -> anyhow::Result<()> {
    let (path, why) = config::lookup_path(cli_path.as_deref());
    match cmd {
        ConfigCmd::Path => {
            let exists = if path.exists() {
                "exists"
            } else if why.is_explicit() {
                // Named explicitly: a run does not fall back, it fails.
                "does not exist: a run fails until it does; `chaintop config init` writes one"
            } else {
                "does not exist: built-in defaults are used"
            };
            println!("{}", path.display());
            eprintln!("({why}; {exists})");
        }
        ConfigCmd::Init => {
            let written = config::init(&path).map_err(|e| anyhow!(e))?;
            println!("wrote {}", written.display());
        }
        ConfigCmd::Check => {
            let c = config::load(cli_path.as_deref()).map_err(|e| anyhow!(e))?;
            // A run would fail on a theme that cannot be loaded: so does the check.
            load_theme(&c, None)?;
            let redactor = c.redactor();
            println!(
                "config OK: {} network(s), {} watch(es), theme {}",
                c.networks.len(),
                c.watch.len(),
                c.theme
            );
            for n in &c.networks {
                let url =
                    n.ws.as_deref()
                        .or(n.http.as_deref())
                        .map(|u| n.shown_url(u, &redactor))
                        .unwrap_or_default();
                println!("  {} {url}", n.name);
            }
        }
    }
    Ok(())
}

fn pick_theme(config: &Config, args: &RunArgs) -> anyhow::Result<Theme> {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return Ok(Theme::no_color());
    }
    load_theme(config, args.theme.as_deref())
}

/// The theme named by `--theme`, else by the config (an error names where).
fn load_theme(config: &Config, cli: Option<&str>) -> anyhow::Result<Theme> {
    let name = cli.unwrap_or(&config.theme);
    let user_dir = config::default_path().and_then(|p| p.parent().map(|d| d.join("themes")));
    Theme::load(name, user_dir.as_deref()).map_err(|e| match (&config.theme_at, cli) {
        (Some(at), None) => anyhow!("{at}: key `theme`: {e}"),
        (_, Some(_)) => anyhow!("--theme: {e}"),
        (None, None) => anyhow!(e),
    })
}

async fn dashboard(
    config: Config,
    args: &RunArgs,
    persist: app::Persist,
) -> anyhow::Result<app::Exit> {
    if !args.headless {
        // Before anything starts: the dashboard needs a terminal to draw on.
        tui::check_terminal()?;
    }
    let redactor = Arc::new(config.redactor());
    let duration = args
        .duration
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(Duration::from_secs_f64);
    let mut backend = backend::start(&config, &redactor);
    let metrics = match args.metrics {
        Some(addr) => {
            chaintop::metrics::check_addr(addr, args.metrics_allow_remote)
                .map_err(|e| anyhow!(e))?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics {addr}: cannot listen"))?;
            let meters = backend.networks.iter().map(|n| n.cost.clone()).collect();
            let metrics = chaintop::metrics::Metrics::new(&config, meters);
            tokio::spawn(chaintop::metrics::serve(listener, metrics.clone()));
            Some(metrics)
        }
        None => None,
    };
    let alerts = chaintop::alerts::Engine::new(&config, std::time::Instant::now()).map(|engine| {
        let (sinks, failures) =
            chaintop::alerts::sinks::Dispatcher::start(config.sinks.clone(), redactor.clone());
        chaintop::tap::Alerting {
            engine,
            sinks,
            failures,
        }
    });
    let race = chaintop::tap::Racing::new(&config, &backend.networks);
    if race.is_some() || metrics.is_some() || alerts.is_some() {
        backend.updates = chaintop::tap::tap(backend.updates, race, metrics, alerts);
    }
    if args.headless {
        let stdout = std::io::stdout();
        headless::run(
            backend.updates,
            backend::headless_names(&config, &backend.networks),
            duration,
            stdout.lock(),
        )
        .await?;
        return Ok(app::Exit::Quit);
    }
    let theme = pick_theme(&config, args)?;
    let mut state = backend::initial_state(&config, &redactor);
    state.links = !args.no_links;
    app::run(
        state,
        theme,
        backend.updates,
        backend.networks,
        duration,
        persist,
    )
    .await
}

async fn run_demo(args: RunArgs, demo: DemoArgs) -> anyhow::Result<app::Exit> {
    let specs = demo
        .faults
        .iter()
        .map(|s| {
            s.parse::<devnet::FaultSpec>()
                .map_err(|e| anyhow!("--fault {s}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let networks = devnet::demo_networks();
    devnet::check_targets(&specs, networks.iter().map(|n| n.name.as_str()))?;
    if !args.headless {
        tui::check_terminal()?;
    }
    let mut nets = Vec::new();
    let mut handles = Vec::new();
    let mut text = String::from("theme = \"dark\"\n");
    let token = devnet::DEMO_TOKEN;
    for mut cfg in networks {
        cfg.seed = cfg.seed.wrapping_add(demo.seed);
        let name = cfg.name.clone();
        let node = devnet::Devnet::start(cfg)
            .await
            .context("starting the demo devnet")?;
        // Written as a config file and parsed like one: the demo goes through the
        // same validation, and doubles as an example of the format.
        text.push_str(&format!(
            "[[networks]]\nname = \"{name}\"\nws = \"{}\"\nhttp = \"{}\"\nchain_id = {}\ntokens = [\"{token}\"]\npending = \"watched\"\n",
            node.ws_url(),
            node.http_url(),
            node.chain_id()
        ));
        text.push_str(&format!(
            "[[contracts]]\nnetwork = \"{name}\"\naddress = \"{token}\"\nlabel = \"{}\"\n\
             events = [\"Transfer(address indexed from, address indexed to, uint256 value)\"]\n\
             views = [{{ call = \"totalSupply()(uint256)\" }}, {{ call = \"balanceOf(address)(uint256)\", args = [\"{}\"], every = 2 }}]\n",
            devnet::DEMO_TOKEN_SYMBOL,
            devnet::demo_watch().first().map(|(a, _)| a.to_string()).unwrap_or_default(),
        ));
        if name == "sim-l1" {
            // One chain, two providers: the second one slower.
            let (ws, http) = node.delayed_urls(devnet::DEMO_SLOW_MS);
            text.push_str(&format!(
                "[[networks]]\nname = \"sim-l1-slow\"\nws = \"{ws}\"\nhttp = \"{http}\"\nchain_id = {}\ntokens = [\"{token}\"]\n",
                node.chain_id()
            ));
        }
        handles.push((name, node.handle()));
        nets.push(node);
    }
    for (address, label) in devnet::demo_watch() {
        text.push_str(&format!(
            "[[watch]]\naddress = \"{address}\"\nlabel = \"{label}\"\n"
        ));
    }
    let mut config = config::parse(&text, std::path::Path::new("<demo>"), &|_| None)
        .map_err(|e| anyhow!("demo config: {e}"))?;
    config.source = ConfigSource::Generated;
    devnet::schedule(&handles, specs);
    // The demo never writes to the user's files: runtime watch changes are not saved.
    let result = dashboard(config, &args, None).await;
    drop(nets);
    result
}
