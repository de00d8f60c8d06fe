//! `sweep GRID`: plan the grid, train what is not done yet (resuming partial trials from their
//! checkpoints), and write the reports.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context;

use super::exit;
use crate::cli::{ExecutorKind, RunArgs};
use crate::data::Corpus;
use crate::executor::progress;
use crate::executor::supervise::{Feed, FixedFeed, Outcome};
use crate::executor::{LocalExecutor, SlurmExecutor, SlurmRun};
use crate::report::{self, groups::Grouped, numbers, Status};
use crate::schedule::asha_search::{AshaSearch, Shape};
use crate::schedule::tpe::TpeSearch;
use crate::schedule::tpe_pipeline::TpePipeline;
use crate::schedule::{self, Ended, Trained};
use crate::spec::plan::TrialMaker;
use crate::spec::{GridSpec, Plan, Search, TrialConfig};
use crate::store::{self as store, Manifest, Store, TrialDir, TrialState, TrialStatus};

/// Which trials of a plan need to run, and why the others don't.
#[derive(Default)]
struct Triage {
    to_run: Vec<TrialConfig>,
    resuming: usize,
    completed: usize,
    kept_failed: usize,
    retried_failed: Vec<String>,
    /// Trials whose result.json goes before they run again: it cannot be read, or says the
    /// trial stopped at a rung.
    clear_result: Vec<String>,
    /// Pending trials that continue a shorter run of their configuration.
    continuing: Vec<Continuation>,
}

/// A pending trial that starts from the last step of a shorter run of its configuration.
struct Continuation {
    /// The trial's id.
    trial: String,
    /// The trial's label.
    label: String,
    /// The shorter run's id.
    from_id: String,
    /// The shorter run's folder.
    from: TrialDir,
    /// The shorter run's steps.
    steps: usize,
}

/// The shorter run of `trial` that it continues from: the one with the most steps that reached
/// its end, is readable and whose steps are a multiple of `eval_every`. Runs refused for any
/// other reason than not having reached their end are named in one warning line.
fn continuation(stored: &[(TrialDir, TrialConfig)], trial: &TrialConfig) -> Option<Continuation> {
    let mut shorter: Vec<&(TrialDir, TrialConfig)> = stored
        .iter()
        .filter(|(_, c)| store::is_shorter_run(c, trial))
        .collect();
    shorter.sort_by_key(|(_, c)| std::cmp::Reverse(c.params.steps()));
    let mut refused = Vec::new();
    let mut chosen = None;
    for (dir, config) in shorter {
        let steps = config.params.steps();
        let eval_every = trial.params.model().map_or(1, |p| p.eval_every);
        match dir.final_state(steps) {
            Ok(None) => {}
            Err(e) => refused.push(format!("not the {steps}-step trial {}: {e:#}", config.id)),
            // Its held-out evaluation after its last step, off the schedule, made a metrics row
            // (and maybe best weights) that an uninterrupted longer run does not have.
            Ok(Some(_)) if !steps.is_multiple_of(eval_every) => refused.push(format!(
                "not the {steps}-step trial {}: {steps} is not a multiple of eval_every \
                 {eval_every}, so it evaluated held-out perplexity after step {steps}, which a \
                 longer run does not",
                config.id
            )),
            Ok(Some(_)) => {
                chosen = Some(Continuation {
                    trial: trial.id.clone(),
                    label: trial.label.clone(),
                    from_id: config.id.clone(),
                    from: dir.clone(),
                    steps,
                });
                break;
            }
        }
    }
    if !refused.is_empty() {
        let what = match &chosen {
            Some(c) => format!("continues the {}-step run", c.steps),
            None => "trains from step 0".to_string(),
        };
        eprintln!(
            "warning: trial {} ({}) {what}, {}",
            trial.id,
            trial.label,
            refused.join("; ")
        );
    }
    chosen
}

/// With `on_slurm`, a trial held by a running worker is not worth a warning: it is most likely
/// a task of this sweep's array, which the Slurm executor follows.
fn triage(store: &Store, plan: &Plan, retry_failed: bool, on_slurm: bool) -> Triage {
    let mut t = Triage::default();
    // Read once, when the first pending trial looks for a shorter run to continue.
    let mut stored = None;
    for trial in &plan.trials {
        match store.trial(&trial.id).state() {
            Ok(TrialState::Finished(r)) if r.status == TrialStatus::Completed => t.completed += 1,
            Ok(TrialState::Finished(r)) if r.status == TrialStatus::Stopped => {
                // Stopped at a rung: continues from its checkpoint (early stopping decides
                // which go on; without it, every trial trains to its steps).
                t.resuming += 1;
                t.clear_result.push(trial.id.clone());
                t.to_run.push(trial.clone());
            }
            Ok(TrialState::Finished(_)) if !retry_failed => t.kept_failed += 1,
            Ok(TrialState::Finished(_)) => {
                t.retried_failed.push(trial.id.clone());
                t.to_run.push(trial.clone());
            }
            Ok(TrialState::Running { .. }) if on_slurm => {
                t.resuming += 1;
                t.to_run.push(trial.clone());
            }
            Ok(TrialState::Running { pid }) => {
                eprintln!(
                    "warning: trial {} ({}) is still held by a worker of an earlier sweep ({}); \
                     it continues from its checkpoint once that worker has stopped",
                    trial.id,
                    trial.label,
                    pid.map_or_else(|| "unknown pid".into(), |p| format!("pid {p}"))
                );
                t.resuming += 1;
                t.to_run.push(trial.clone());
            }
            Ok(TrialState::Partial { .. }) => {
                t.resuming += 1;
                t.to_run.push(trial.clone());
            }
            Ok(TrialState::Pending) => {
                let stored = stored.get_or_insert_with(|| store.stored_trials());
                t.continuing.extend(continuation(stored, trial));
                t.to_run.push(trial.clone());
            }
            Err(e) => {
                eprintln!(
                    "warning: trial {} ({}) is finished again from its last checkpoint: {e:#}",
                    trial.id, trial.label
                );
                t.clear_result.push(trial.id.clone());
                t.resuming += 1;
                t.to_run.push(trial.clone());
            }
        }
    }
    t
}

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
    let maker = TrialMaker::new(&spec, corpus.as_ref());
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
        args,
        jobs,
        on_slurm,
        trained: RefCell::new(BTreeSet::new()),
    };
    let ended = match (&tpe, &spec.early_stopping) {
        (Some(search), Some(es)) if !es.method.is_async() => search.run(
            |planned| {
                manifest.trials = planned.iter().map(|t| t.id.clone()).collect();
                store.write_manifest(&manifest)
            },
            |wave| {
                let wave = Plan {
                    trials: wave.to_vec(),
                    ..plan.clone()
                };
                let t = triage(&store, &wave, args.retry_failed, on_slurm);
                training.train_all(&t)
            },
            |to_run| training.train(to_run),
        )?,
        (Some(search), _) => {
            let manifest = RefCell::new(&mut manifest);
            let prepare = |trials: &[TrialConfig]| {
                let some = Plan {
                    trials: trials.to_vec(),
                    ..plan.clone()
                };
                let t = triage(&store, &some, args.retry_failed, on_slurm);
                training.prepare_all(&t)?;
                Ok(t.to_run)
            };
            let proposed = |planned: &[TrialConfig]| {
                let mut manifest = manifest.borrow_mut();
                manifest.trials = planned.iter().map(|t| t.id.clone()).collect();
                store.write_manifest(&manifest)
            };
            let mut pipeline = TpePipeline::new(search, Box::new(prepare), Box::new(proposed))?;
            match training.train_feed(&mut pipeline)? {
                Trained::Done => {
                    pipeline.finish()?;
                    Ended::Done
                }
                Trained::Interrupted => Ended::Interrupted,
                Trained::Detached => Ended::Detached,
            }
        }
        (None, None) => match training.train_all(&t)? {
            Trained::Done => Ended::Done,
            Trained::Interrupted => Ended::Interrupted,
            Trained::Detached => Ended::Detached,
        },
        (None, Some(es)) if es.method.is_async() => {
            let mut search = AshaSearch::new(&store, &plan.trials, es, 0, Shape::of(&plan.trials))?;
            match training.train_feed(&mut search)? {
                Trained::Done => {
                    search.finish()?;
                    Ended::Done
                }
                Trained::Interrupted => Ended::Interrupted,
                Trained::Detached => Ended::Detached,
            }
        }
        (None, Some(es)) => schedule::successive_halving(&store, &plan.trials, es, 0, |to_run| {
            training.train(to_run)
        })?,
    };
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
    if let Some(line) = crate::report::program::best_line(&sweep) {
        println!("{line}");
    } else if let Some(best) = grouped.best() {
        // The same statement as the summary's verdict: the best configuration over its seeds.
        println!(
            "best configuration: {} — held-out perplexity {} ({})",
            best.label,
            numbers::stat(best.stats.heldout, 2),
            numbers::count(best.stats.completed, "seed")
        );
    }
    Ok(if sweep.all_completed() {
        exit::OK
    } else {
        exit::TRIALS_FAILED
    })
}

/// What trains a set of trials: the executor the command line asks for, with its progress
/// display.
struct Training<'a> {
    store: &'a Store,
    spec: &'a GridSpec,
    args: &'a RunArgs,
    jobs: usize,
    on_slurm: bool,
    /// The ids of the trials trained in this run.
    trained: RefCell<BTreeSet<String>>,
}

impl Training<'_> {
    /// Trains the trials `t` says to run to their end: prepares their folders (clearing the
    /// results of those run again, seeding those that continue shorter runs), then trains them.
    fn train_all(&self, t: &Triage) -> anyhow::Result<Trained> {
        self.prepare_all(t)?;
        self.train(&t.to_run)
    }

    /// Prepares the folders of the trials `t` says to run (clearing the results of those run
    /// again, seeding those that continue shorter runs).
    fn prepare_all(&self, t: &Triage) -> anyhow::Result<()> {
        for trial in &t.to_run {
            let dir = self.store.trial(&trial.id);
            dir.prepare(trial)?;
            if t.retried_failed.contains(&trial.id) || t.clear_result.contains(&trial.id) {
                dir.clear_result()?;
            }
        }
        seed_continuations(self.store, &t.continuing)
    }

    /// Trains `trials` (their folders prepared), longest first, until they end or a signal
    /// stops the run (or, with `--detach`, until Slurm has them).
    fn train(&self, trials: &[TrialConfig]) -> anyhow::Result<Trained> {
        if trials.is_empty() {
            return Ok(Trained::Done);
        }
        // Longest first, so that the last trials to finish are short ones and no core idles
        // for long at the end (reports keep the grid's order).
        let mut to_run = trials.to_vec();
        to_run.sort_by(|a, b| cost(&b.params).total_cmp(&cost(&a.params)));
        if self.on_slurm {
            eprintln!(
                "training {} on Slurm",
                numbers::count(to_run.len(), "trial")
            );
        } else {
            eprintln!(
                "training {}, {} at a time",
                numbers::count(to_run.len(), "trial"),
                self.jobs.min(to_run.len())
            );
        }
        self.train_feed(&mut FixedFeed::new(&to_run))
    }

    /// Trains what `feed` hands out until it has nothing more or a signal stops the run (or,
    /// with `--detach`, until Slurm has what is ready now).
    fn train_feed(&self, feed: &mut dyn Feed) -> anyhow::Result<Trained> {
        let (store, args, jobs) = (self.store, self.args, self.jobs);
        let mut feed = Recorded {
            feed,
            trained: &self.trained,
        };
        let mut reporter = progress::for_stderr();
        let ran = if self.on_slurm {
            let executor = SlurmExecutor::new(self.spec.slurm.clone(), &self.spec.name)?;
            match executor.run(store, &mut feed, reporter.as_mut(), args.detach)? {
                SlurmRun::Followed(ran) => ran,
                SlurmRun::Detached { jobs } => {
                    reporter.finish();
                    eprintln!(
                        "detached: Slurm job arrays {} train the trials. `sweep status {}` shows \
                         where they are; run this command again to follow them and write the \
                         reports (or `sweep report {}` at any time)",
                        jobs.join(" "),
                        args.out.display(),
                        args.out.display()
                    );
                    return Ok(Trained::Detached);
                }
            }
        } else {
            let executor = LocalExecutor::new(jobs)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(executor.run(store, &mut feed, reporter.as_mut()))?
        };
        reporter.finish();
        Ok(if ran.interrupted {
            Trained::Interrupted
        } else {
            Trained::Done
        })
    }
}

/// A feed that notes the ids of the trials it hands out (the trials trained in this run).
struct Recorded<'a, 'b> {
    feed: &'a mut dyn Feed,
    trained: &'b RefCell<BTreeSet<String>>,
}

impl Feed for Recorded<'_, '_> {
    fn ready(&mut self, room: usize) -> anyhow::Result<Vec<TrialConfig>> {
        let ready = self.feed.ready(room)?;
        self.trained
            .borrow_mut()
            .extend(ready.iter().map(|t| t.id.clone()));
        Ok(ready)
    }

    fn waiting(&self) -> usize {
        self.feed.waiting()
    }

    fn ended(&mut self, trial: &TrialConfig, outcome: &Outcome) -> anyhow::Result<()> {
        self.feed.ended(trial, outcome)
    }

    fn take_notices(&mut self) -> Vec<String> {
        self.feed.take_notices()
    }
}

/// Writes `config.json` again, from the grid, in the folders of planned trials where it is
/// missing or cannot be read (the trial's results stay).
fn repair_configs(store: &Store, plan: &Plan) -> anyhow::Result<()> {
    for trial in &plan.trials {
        let dir = store.trial(&trial.id);
        if !dir.path().exists() {
            continue;
        }
        match dir.config() {
            Ok(config) if config == *trial => {}
            Ok(_) => dir.prepare(trial)?,
            Err(e) => {
                eprintln!(
                    "warning: trial {} ({}): {:#}; written again from the grid",
                    trial.id, trial.label, e
                );
                dir.prepare(trial)?;
            }
        }
    }
    Ok(())
}

/// Seeds the folders of the trials that continue shorter runs, and says so in one line.
/// A shorter run that cannot be read now (it could when triaged) is reported, and that trial
/// trains from step 0.
fn seed_continuations(store: &Store, continuing: &[Continuation]) -> anyhow::Result<()> {
    let mut steps = std::collections::BTreeSet::new();
    let mut seeded = 0;
    for c in continuing {
        let state = match c.from.final_state(c.steps) {
            Ok(Some(state)) => state,
            problem => {
                let why = match problem {
                    Err(e) => format!("{e:#}"),
                    _ => "it no longer holds its last step".into(),
                };
                eprintln!(
                    "warning: trial {} ({}) trains from step 0: cannot continue the {}-step trial \
                     {}: {why}",
                    c.trial, c.label, c.steps, c.from_id
                );
                continue;
            }
        };
        store.trial(&c.trial).seed(&state)?;
        steps.insert(c.steps);
        seeded += 1;
    }
    if seeded > 0 {
        let steps: Vec<String> = steps.iter().map(usize::to_string).collect();
        eprintln!(
            "continuing {} from the trials of {} steps they extend",
            numbers::count(seeded, "trial"),
            steps.join(", ")
        );
    }
    Ok(())
}

/// Rough training cost of a trial (multiply-adds of the recurrence and output layer per step,
/// times steps; a program's steps), for scheduling only.
fn cost(params: &crate::spec::Params) -> f64 {
    let Some(p) = params.model() else {
        return params.steps() as f64;
    };
    let (h, b, t) = (p.hidden as f64, p.batch_size as f64, p.seq_len as f64);
    // Gates multiply the recurrent work; every cell and depth runs on the fused ops.
    let per_layer = p.cell.gate_groups() as f64 * h * (h + 2.0 * 64.0);
    p.steps as f64 * b * t * per_layer * p.layers as f64
}

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
    let on = match (
        &spec.program,
        plan.trials.first().and_then(|t| t.corpus.as_ref()),
    ) {
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
}

/// The command line of this process, quoted for a POSIX shell.
fn this_command() -> String {
    std::env::args()
        .map(|a| crate::report::summary::shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}
