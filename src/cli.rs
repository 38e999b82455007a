//! Command line (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "chaintop",
    version,
    about = "A terminal dashboard for live EVM chains"
)]
pub struct Cli {
    /// Config file (default: the platform config dir; also CHAINTOP_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Options shared by the dashboard and the demo.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Colour theme: a built-in (dark, light) or a file name in the themes dir.
    #[arg(long, global = true)]
    pub theme: Option<String>,

    /// No terminal UI: print one JSON object per line to stdout.
    #[arg(long, global = true)]
    pub headless: bool,

    /// Stop after this many seconds (headless and TUI).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (TUI and headless).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Let --metrics listen on an address other machines can reach.
    #[arg(long, global = true)]
    pub metrics_allow_remote: bool,

    /// No explorer hyperlinks (OSC 8), for terminals that show them as garbage.
    #[arg(long, global = true)]
    pub no_links: bool,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start simulated networks on loopback and watch them (nothing else needed).
    Demo(DemoArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Estimate what the config costs per day on its providers, before running it.
    Cost,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Inject a fault, e.g. `10@half-open=40/sim-fast` (repeatable; see FAULTS in the README).
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,

    /// Seed for the simulated chains (same seed, same blocks).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCmd {
    /// Print where chaintop looks for its config file.
    Path,
    /// Write a commented template config (never overwrites).
    Init,
    /// Load and validate the config, and print a summary.
    Check,
}
