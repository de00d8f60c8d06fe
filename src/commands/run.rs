//! `sweep GRID`: plan the grid, train what is not done yet, and write the reports.

use std::time::Instant;

use anyhow::Context;

use super::exit;
use crate::cli::RunArgs;
use crate::data::Corpus;
use crate::executor::progress::{self, TrialLine};
use crate::executor::{LocalExecutor, Outcome};
use crate::report;
use crate::spec::{GridSpec, Plan, TrialConfig};
use crate::store::{Manifest, Store, TrialState, TrialStatus};

/// Runs the sweep described by `args`.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let grid = args.grid.as_deref().expect("clap requires GRID");
    let spec = GridSpec::load(grid)?;
    let corpus =
        Corpus::load(&spec.corpus).with_context(|| format!("{}: `corpus`", grid.display()))?;
    let plan = Plan::build(&spec, &corpus)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );

    let store = if args.dry_run {
        Store::at(&args.out)
    } else {
        Store::create(&args.out)?
    };
    let mut to_run: Vec<TrialConfig> = Vec::new();
    let (mut completed, mut kept_failed) = (0, 0);
    for trial in &plan.trials {
        match store.trial(&trial.id).state() {
            Ok(TrialState::Finished(r)) if r.status == TrialStatus::Completed => completed += 1,
            Ok(TrialState::Finished(_)) if !args.retry_failed => kept_failed += 1,
            Ok(_) => to_run.push(trial.clone()),
            Err(e) => {
                eprintln!("warning: trial {} will run again: {e:#}", trial.id);
                to_run.push(trial.clone());
            }
        }
    }

    eprintln!(
        "sweep `{}`: {} trials ({} on {}), {} to run, {} already completed{}",
        plan.name,
        plan.trials.len(),
        if plan.axes.is_empty() {
            "no axes".into()
        } else {
            plan.axes.join(" × ")
        },
        corpus.name,
        to_run.len(),
        completed,
        if kept_failed > 0 {
            format!(", {kept_failed} failed earlier (--retry-failed runs them again)")
        } else {
            String::new()
        }
    );
    if args.dry_run {
        for t in &plan.trials {
            let will_run = to_run.iter().any(|r| r.id == t.id);
            println!(
                "{}  {}  {}",
                t.id,
                if will_run { "run " } else { "skip" },
                t.label
            );
        }
        return Ok(exit::OK);
    }

    let previous = store.manifest().ok();
    let mut manifest = Manifest {
        name: plan.name.clone(),
        grid_file: grid.to_path_buf(),
        corpus: corpus.name.clone(),
        axes: plan.axes.clone(),
        trials: plan.trials.iter().map(|t| t.id.clone()).collect(),
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        wall_seconds: None,
        jobs,
    };
    // Resuming the same grid: the wall time adds up over the runs.
    let earlier_wall = previous
        .filter(|p| p.trials == manifest.trials)
        .map(|p| {
            manifest.started_at = p.started_at.clone();
            p.wall_seconds.unwrap_or(0.0)
        })
        .unwrap_or(0.0);
    store.write_manifest(&manifest)?;

    for trial in &to_run {
        store.trial(&trial.id).prepare(trial)?;
    }
    if !to_run.is_empty() {
        eprintln!(
            "training {} trials, {} at a time",
            to_run.len(),
            jobs.min(to_run.len())
        );
        let lines = to_run
            .iter()
            .map(|t| TrialLine {
                label: t.label.clone(),
                steps: t.params.steps,
            })
            .collect();
        let mut reporter = progress::for_stderr(lines);
        let executor = LocalExecutor::new(jobs)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let outcomes = runtime.block_on(executor.run(&store, &to_run, reporter.as_mut()));
        reporter.finish();
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Failed(_)))
            .count();
        if failed > 0 {
            eprintln!(
                "{failed} of {} trials failed (reasons in summary.md)",
                to_run.len()
            );
        }
    }

    manifest.wall_seconds = Some(earlier_wall + started.elapsed().as_secs_f64());
    store.write_manifest(&manifest)?;
    let (sweep, written) = report::write_all(&store)?;
    println!("wrote {}", written.summary_md.display());
    println!("      {}", written.trials_csv.display());
    println!("      {}", written.curves_csv.display());
    let best = sweep
        .trials
        .iter()
        .filter_map(|t| {
            t.completed()
                .and_then(|r| r.final_heldout_ppl)
                .map(|p| (p, t))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((ppl, t)) = best {
        println!("best: {} — held-out perplexity {ppl:.2}", t.config.label);
    }
    let any_failed = sweep.trials.iter().any(|t| t.status_name() == "failed");
    Ok(if any_failed {
        exit::TRIALS_FAILED
    } else {
        exit::OK
    })
}
