//! Which trials of a plan need training, and why the others do not ([`triage`]); the folders
//! made ready for them: `config.json` written again where it is missing or damaged
//! ([`repair_configs`]), trials that continue a shorter run of their configuration seeded from
//! it ([`seed_continuations`]).

use crate::measures::numbers;
use crate::spec::{Plan, TrialConfig};
use crate::store::{self as store, Store, TrialDir, TrialState, TrialStatus};

/// Which trials of a plan need to run, and why the others don't.
#[derive(Default)]
pub struct Triage {
    pub to_run: Vec<TrialConfig>,
    pub resuming: usize,
    pub completed: usize,
    pub kept_failed: usize,
    pub retried_failed: Vec<String>,
    /// Trials whose result.json goes before they run again: it cannot be read, or says the
    /// trial stopped at a rung.
    pub clear_result: Vec<String>,
    /// Pending trials that continue a shorter run of their configuration.
    pub continuing: Vec<Continuation>,
}

/// A pending trial that starts from the last step of a shorter run of its configuration.
pub struct Continuation {
    /// The trial's id.
    pub trial: String,
    /// The trial's label.
    pub label: String,
    /// The shorter run's id.
    pub from_id: String,
    /// The shorter run's folder.
    pub from: TrialDir,
    /// The shorter run's steps.
    pub steps: usize,
}

/// The shorter run of `trial` that it continues from: the one with the most steps that reached
/// its end, is readable and whose steps are a multiple of `eval_every`. Runs refused for any
/// other reason than not having reached their end are named in one warning line.
fn continuation(stored: &[(TrialDir, TrialConfig)], trial: &TrialConfig) -> Option<Continuation> {
    let mut shorter: Vec<&(TrialDir, TrialConfig)> = stored
        .iter()
        .filter(|(_, c)| store::is_shorter_run(c, trial))
        .collect();
    shorter.sort_by_key(|(_, c)| std::cmp::Reverse(c.params().steps()));
    let mut refused = Vec::new();
    let mut chosen = None;
    for (dir, config) in shorter {
        let steps = config.params().steps();
        let eval_every = trial.params().model().map_or(1, |p| p.eval_every);
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
pub fn triage(store: &Store, plan: &Plan, retry_failed: bool, on_slurm: bool) -> Triage {
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

/// Writes `config.json` again, from the grid, in the folders of planned trials where it is
/// missing or cannot be read (the trial's results stay).
pub fn repair_configs(store: &Store, plan: &Plan) -> anyhow::Result<()> {
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
pub fn seed_continuations(store: &Store, continuing: &[Continuation]) -> anyhow::Result<()> {
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
