//! Command-line interface: argument definitions only; each command lives in [`crate::commands`].

use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

use crate::report::Lang;
use crate::spec::{params, Cell};

/// Hyperparameter sweeps for character-level language models trained with candle.
///
/// `sweep GRID.json` expands the grid, trains every configuration (several at once) and
/// writes trials.csv, curves.csv, charts and summary.md into the results folder. Running it
/// again skips the trials that are already complete and resumes the partial ones.
#[derive(Debug, Parser)]
#[command(
    name = "sweep",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// A subcommand; without one, runs the sweep in GRID.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a sweep run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of `sweep GRID`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The grid file (JSON) to run.
    #[arg(required = true, value_name = "GRID")]
    pub grid: Option<PathBuf>,
    /// Results folder.
    #[arg(long, short, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    /// Trials trained at once, one thread each [default: number of CPU threads].
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Run trials that failed in an earlier run again (they are kept as failed otherwise).
    #[arg(long)]
    pub retry_failed: bool,
    /// List the trials the grid expands to, and which would run, without training.
    #[arg(long)]
    pub dry_run: bool,
    /// Language of summary.md.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: Lang,
    /// Where trials run: worker processes on this machine, or tasks of Slurm job arrays (the
    /// grid file's `slurm` section sets partition, CPUs, memory, time limit, …).
    #[arg(long, value_enum, default_value = "local")]
    pub executor: ExecutorKind,
    /// With `--executor slurm`: submit, then exit instead of following the trials (`sweep
    /// status` and `sweep report` work at any time; running the sweep again follows them).
    #[arg(long)]
    pub detach: bool,
    /// The GPUs a program's trials may use (`0,1,2` or `all`): each trial runs on its own
    /// share of them (the grid file's `resources.gpus`, one whole GPU by default), seeing
    /// only that through CUDA_VISIBLE_DEVICES.
    #[arg(long, value_name = "IDS")]
    pub gpus: Option<crate::executor::gpus::GpuList>,
}

/// Where trials run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// Worker processes on this machine (`--jobs` at once).
    Local,
    /// Slurm job arrays over a results folder that every node sees.
    Slurm,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Regenerate trials.csv, curves.csv and summary.md from a results folder, without training.
    Report {
        /// Results folder.
        #[arg(default_value = "results")]
        dir: PathBuf,
        /// Language of summary.md.
        #[arg(long, value_enum, default_value = "en")]
        lang: Lang,
    },
    /// Show the state of every trial of the last sweep in a results folder, changing nothing.
    Status {
        /// Results folder.
        #[arg(default_value = "results")]
        dir: PathBuf,
    },
    /// Serve a live dashboard of a results folder (a running sweep's, local or on Slurm, or a
    /// finished one) until Ctrl-C: trials, curves, comparisons, the analysis, a JSON API.
    Serve {
        /// Results folder.
        #[arg(default_value = "results")]
        dir: PathBuf,
        /// Port to listen on (0: any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to listen on. The default, the loopback interface, keeps the dashboard to
        /// this machine; another address lets anyone who can reach it read the results.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
    },
    /// Count the parameters of a recurrent network, layer by layer, in the textbook convention
    /// (one bias per layer) and PyTorch's (two).
    Params(ParamsArgs),
    /// Generate text from a trained trial, with its weights at the best held-out perplexity.
    Sample(SampleArgs),
    /// Train the trial in one trial folder (started by sweep itself, locally or on a cluster).
    #[command(hide = true)]
    Worker {
        /// The trial folder, holding config.json.
        #[arg(required_unless_present = "task_list")]
        trial_dir: Option<PathBuf>,
        /// A file of trial folders, one per line: train the one on line
        /// `$SLURM_ARRAY_TASK_ID` (counting from 0), as the tasks of a Slurm job array do.
        #[arg(long, conflicts_with = "trial_dir", value_name = "FILE")]
        task_list: Option<PathBuf>,
    },
}

/// Options of `sweep params`.
#[derive(Debug, Args)]
pub struct ParamsArgs {
    /// Recurrent cell: rnn, gru or lstm.
    #[arg(long, default_value = "rnn", value_parser = parse_cell)]
    pub cell: Cell,
    /// Stacked recurrent layers (1 to 16, as in grid files).
    #[arg(long, default_value_t = 1, value_parser = in_range(params::LAYERS))]
    pub layers: usize,
    /// Inputs per step into the first layer (44: the Time Machine's characters, one-hot).
    #[arg(long, default_value_t = 44, value_parser = in_range(params::SIZES))]
    pub input: usize,
    /// Hidden units per layer (1 to 16384, as in grid files).
    #[arg(long, default_value_t = 128, value_parser = in_range(params::SIZES))]
    pub hidden: usize,
    /// Outputs per step.
    #[arg(long, default_value_t = 44, value_parser = in_range(params::SIZES))]
    pub output: usize,
}

/// A parser of integers in `range`, the grid file's bounds for the same quantity.
fn in_range(range: RangeInclusive<u64>) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(range)
}

fn parse_cell(name: &str) -> Result<Cell, String> {
    Cell::from_name(name).ok_or_else(|| format!("expected rnn, gru or lstm, got `{name}`"))
}

/// Options of `sweep sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A trial id (or the start of one) in the results folder, or a trial folder.
    pub trial: String,
    /// Results folder holding the trial.
    #[arg(long, short, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    /// Text the model reads first; generation continues it.
    #[arg(long, default_value = "time traveller", value_parser = parse_prefix)]
    pub prefix: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 200)]
    pub chars: usize,
    /// Softmax temperature; 0 picks the most likely character every time.
    #[arg(long, default_value_t = 0.0, value_parser = parse_temperature)]
    pub temperature: f64,
    /// Seed of the random draws (no effect at temperature 0).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn parse_prefix(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the prefix must not be empty: generation continues it".into());
    }
    Ok(s.to_string())
}

fn parse_temperature(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("expected a number ≥ 0, got `{s}`")),
    }
}
