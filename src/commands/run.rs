//! `sweep GRID`: plan the grid, train what is not done yet (resuming partial trials from their
//! checkpoints), and write the reports.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context;

use super::exit;
use crate::cli::{ExecutorKind, RunArgs};
use crate::data::Corpus;
use crate::ops::training::Training;
use crate::ops::triage::{repair_configs, triage, Triage};
use crate::ops::{self, placement};
use crate::report::{self, groups::Grouped, numbers, summary, Status};
use crate::schedule::tpe::TpeSearch;
use crate::schedule::{self, Ended};
use crate::spec::plan::TrialMaker;
use crate::spec::{GridSpec, Plan, Search};
use crate::store::{Manifest, Store};

/// Runs the sweep described by `args`.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let grid = args.grid.as_deref().expect("clap requires GRID");
    let spec = GridSpec::load(grid)?;
    let corpus = match spec.program {
        None => Some(
            Corpus::load(&spec.corpus).with_context(|| format!("{}: `corpus`", grid.display()))?,
        ),
        Some(_) => None,
    };
    let mut plan = Plan::build(&spec, corpus.as_ref())?;
    let maker = TrialMaker::new(&spec, corpus.as_ref())?;
    let out = Store::at(&args.out);
    let tpe = match spec.search {
        Search::Tpe(tpe) => Some(TpeSearch {
            store: &out,
            spec: &spec,
            maker: &maker,
            tpe,
            early_stopping: spec.early_stopping.as_ref(),
        }),
        _ => None,
    };
    if let Some(search) = &tpe {
        // What is proposed so far: the random configurations and the stored proposals.
        plan.trials = search.planned()?;
    }
    let on_slurm = args.executor == ExecutorKind::Slurm;
    if args.detach && !on_slurm {
        anyhow::bail!("--detach needs --executor slurm: local trials stop with the sweep");
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    // Where trials may run on GPUs, checked before anything runs.
    let (gpus, slurm_gpus) = if on_slurm {
        (None, placement::slurm_gpus(&spec, args.gpus.as_ref())?)
    } else {
        let (pool, note) = placement::local_gpus(&spec, args.gpus.as_ref())?;
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        (pool, (None, 1))
    };

    if args.dry_run {
        let t = triage(&Store::at(&args.out), &plan, args.retry_failed, on_slurm);
        describe(&plan, &spec, &t);
        let to_run: std::collections::HashSet<&str> =
            t.to_run.iter().map(|r| r.id.as_str()).collect();
        for trial in &plan.trials {
            let will_run = to_run.contains(trial.id.as_str());
            let action = if will_run { "run " } else { "skip" };
            match t.continuing.iter().find(|c| c.trial == trial.id) {
                Some(c) => println!(
                    "{}  {action}  {}  (continues the {}-step trial {})",
                    trial.id, trial.label, c.steps, c.from_id
                ),
                None => println!("{}  {action}  {}", trial.id, trial.label),
            }
        }
        return Ok(exit::OK);
    }

    let store = Store::create(&args.out)?;
    let _lock = store.lock()?;
    repair_configs(&store, &plan)?;
    let t = triage(&store, &plan, args.retry_failed, on_slurm);
    describe(&plan, &spec, &t);

    // Decision logs that cannot be read stop the run before it writes anything.
    crate::store::rungs::read(store.root())?;
    crate::store::proposals::read(store.root())?;
    let previous = store.manifest().ok();
    let mut manifest = Manifest {
        name: plan.name.clone(),
        grid_file: grid.to_path_buf(),
        corpus: corpus.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        program: spec.program.as_ref().map(|p| p.display()),
        metric: spec.program.as_ref().map(|p| p.metric.clone()),
        objectives: match spec.objectives.list.len() {
            1 => Vec::new(),
            _ => spec.objectives.list.clone(),
        },
        constraints: spec.objectives.constraints.clone(),
        axes: plan.axes.clone(),
        ranges: plan.ranges.clone(),
        log_ranges: plan.log_ranges.clone(),
        trials: plan.trials.iter().map(|t| t.id.clone()).collect(),
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        wall_seconds: None,
        trained: None,
        jobs,
        executor: on_slurm.then(|| "slurm".to_string()),
    };
    // Resuming the same grid: the wall time, and the trials trained in it, add up over the runs
    // that recorded theirs. A TPE search plans its random configurations first and its
    // proposals as it goes: the same search if its trials begin with them.
    let same_sweep = |p: &Manifest| match tpe {
        Some(_) => p.trials.starts_with(&manifest.trials) && p.grid_file == manifest.grid_file,
        None => p.trials == manifest.trials,
    };
    let (earlier_wall, earlier_trained) = match previous.filter(same_sweep) {
        Some(p) => {
            manifest.started_at = p.started_at.clone();
            manifest.trials = p.trials.clone();
            // Kept until this run records its own: a run that fails leaves them as they were.
            (manifest.wall_seconds, manifest.trained) = (p.wall_seconds, p.trained);
            match p.wall_seconds {
                Some(wall) => (wall, p.trained.unwrap_or(0)),
                None => (0.0, 0),
            }
        }
        None => (0.0, 0),
    };
    store.write_manifest(&manifest)?;

    let training = Training {
        store: &store,
        spec: &spec,
        jobs,
        gpus,
        slurm_gpus,
        on_slurm,
        detach: args.detach,
        retry_failed: args.retry_failed,
        trained: RefCell::new(BTreeSet::new()),
    };
    let ended = ops::sweep::train_plan(&training, &plan, tpe.as_ref(), &t, &mut manifest)?;
    let interrupted = match ended {
        Ended::Done => false,
        Ended::Interrupted => true,
        Ended::Detached => return Ok(exit::OK),
    };

    let trained = training.trained.borrow().len();
    manifest.wall_seconds = Some(earlier_wall + started.elapsed().as_secs_f64());
    manifest.trained = Some((earlier_trained + trained).min(manifest.trials.len()));
    store.write_manifest(&manifest)?;
    // Trials completed before workers stored their sample get one now, once.
    crate::sample::backfill(&store);
    let (sweep, written) = report::write_all(&store, args.lang)?;
    let count = |status: Status| sweep.count(status);
    if interrupted {
        eprintln!(
            "interrupted: {} done, {} partial, {} pending, {} failed (of {}). Resume with:\n  {}",
            count(Status::Completed) + count(Status::Diverged),
            count(Status::Partial) + count(Status::Running),
            count(Status::Pending),
            count(Status::Failed),
            sweep.total(),
            this_command()
        );
        return Ok(exit::INTERRUPTED);
    }
    println!("wrote {}", written.summary_md.display());
    println!("      {}", written.trials_csv.display());
    println!("      {}", written.curves_csv.display());
    let total = sweep.total();
    for (status, what) in [
        (Status::Failed, "failed"),
        (Status::Diverged, "diverged"),
        (Status::Damaged, "cannot be read (damaged)"),
    ] {
        let n = count(status);
        if n > 0 {
            eprintln!(
                "{n} of {} {what} (see summary.md)",
                numbers::count(total, "trial")
            );
        }
    }
    let grouped = Grouped::new(&sweep);
    if let Some(line) = summary::best_line(&grouped) {
        println!("{line}");
    }
    if let Some(line) = crate::report::tradeoff::front_line(&grouped) {
        println!("{line}");
    }
    Ok(if sweep.all_completed() {
        exit::OK
    } else {
        exit::TRIALS_FAILED
    })
}

/// What trains a set of trials: the executor the command line asks for, with its progress
/// display.
fn describe(plan: &Plan, spec: &GridSpec, t: &Triage) {
    let mut parts = vec![format!("{} to run", t.to_run.len())];
    if t.resuming > 0 {
        parts.push(format!("{} of them from a checkpoint", t.resuming));
    }
    if !t.continuing.is_empty() {
        parts.push(format!(
            "{} of them continue shorter runs",
            t.continuing.len()
        ));
    }
    parts.push(format!("{} already completed", t.completed));
    if t.kept_failed > 0 {
        parts.push(format!(
            "{} failed earlier (--retry-failed runs them again)",
            t.kept_failed
        ));
    }
    let axes = if plan.axes.is_empty() {
        "no axes".to_string()
    } else {
        plan.axes.join(" × ")
    };
    let on = match (&spec.program, plan.trials.first().and_then(|t| t.corpus())) {
        (Some(program), _) => format!(
            "running `{}` for {} {}",
            program.display(),
            program.metric.name,
            program.metric.mode.name()
        ),
        (None, Some(corpus)) => format!("on {}", corpus.name),
        (None, None) => "on the corpus".to_string(),
    };
    let trials = match spec.search {
        // The trials planned so far are those of the configurations chosen so far.
        Search::Tpe(tpe) => format!(
            "{} of the {} chosen so far (TPE proposes {} in all)",
            numbers::count(plan.trials.len(), "trial"),
            numbers::count(
                schedule::configurations(&plan.trials).len(),
                "configuration"
            ),
            tpe.trials
        ),
        _ => numbers::count(plan.trials.len(), "trial"),
    };
    eprintln!(
        "sweep `{}`: {trials} ({axes} {on}), {}",
        plan.name,
        parts.join(", ")
    );
    if let Search::Tpe(tpe) = spec.search {
        let proposed = schedule::configurations(&plan.trials).len();
        let how = match &spec.early_stopping {
            Some(es) if !es.method.is_async() => format!(
                "then {} at a time, each proposed from the results of the configurations at \
                 least {} before it",
                tpe.lag, tpe.lag
            ),
            _ => format!(
                "then each proposed as soon as the configurations at least {} before it have \
                 their results, so that {} train while it is proposed",
                tpe.lag, tpe.lag
            ),
        };
        eprintln!(
            "TPE: {} configurations, the first {} drawn at random, {how} ({} chosen so far)",
            tpe.trials, tpe.startup, proposed
        );
    }
    let o = &spec.objectives;
    let searching = matches!(spec.search, Search::Tpe(_)) || spec.early_stopping.is_some();
    if o.is_multi() {
        let searched = o.searched();
        let names: Vec<&str> = searched.list.iter().map(|m| m.name.as_str()).collect();
        let measured = o.measured();
        let mut line = format!(
            "objectives: {}",
            o.list
                .iter()
                .map(|m| format!("{} {}", m.name, m.mode.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !o.constraints.is_empty() {
            let limits: Vec<String> = o.constraints.iter().map(|c| c.text()).collect();
            line.push_str(&format!("; constraints: {}", limits.join(", ")));
        }
        if searching && !measured.is_empty() {
            line.push_str(&format!(
                "; the search ranks by {} only: {} {} measured, not reproducible, so only the \
                 report's front uses {}",
                names.join(" and "),
                measured.join(", "),
                if measured.len() == 1 { "is" } else { "are" },
                if measured.len() == 1 { "it" } else { "them" }
            ));
        }
        eprintln!("{line}");
    }
}

/// The command line of this process, quoted for a POSIX shell.
fn this_command() -> String {
    std::env::args()
        .map(|a| crate::report::summary::shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}
