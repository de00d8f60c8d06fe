//! The `sweep` binary: parse arguments, run the command, map the outcome to an exit code
//! (0 all trials completed, 1 some trials failed, 2 bad input or fatal error).

use std::process::ExitCode;

use clap::Parser;
use sweep::cli::{Cli, Command};
use sweep::commands::{self, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Some(
            Command::Report { .. }
                | Command::Status { .. }
                | Command::Params(_)
                | Command::Sample(_)
        )
    ) {
        // Commands that only print end quietly when their reader goes (`sweep status | head`),
        // as other tools do. Workers and sweeps keep ignoring SIGPIPE: a worker whose
        // orchestrator is gone goes on training its trial.
        // SAFETY: restoring the default action of a signal has no memory-safety preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match &cli.command {
        None => commands::run::run(&cli.run),
        Some(Command::Report { dir, lang }) => commands::report::run(dir, *lang),
        Some(Command::Status { dir }) => commands::status::run(dir),
        Some(Command::Serve { dir, port, host }) => commands::serve::run(dir, *host, *port),
        Some(Command::Params(args)) => commands::params::run(args),
        Some(Command::Sample(args)) => commands::sample::run(args),
        Some(Command::Worker {
            trial_dir,
            task_list,
        }) => commands::worker::run(trial_dir.as_deref(), task_list.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FATAL)
        }
    }
}
