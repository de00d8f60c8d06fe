//! Training a set of trials to their end on the executor the command line asks for (local
//! worker processes or Slurm job arrays), with the progress display: [`Training`].

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::triage::{seed_continuations, Triage};
use crate::executor::progress;
use crate::executor::supervise::{Feed, FixedFeed, Outcome};
use crate::executor::{LocalExecutor, SlurmExecutor, SlurmRun};
use crate::measures::numbers;
use crate::schedule::Ended;
use crate::spec::{GridSpec, TrialConfig};
use crate::store::Store;

/// What trains a set of trials: the executor the command line asks for, with its progress
/// display.
pub struct Training<'a> {
    /// The results folder.
    pub store: &'a Store,
    /// The grid file's spec (its Slurm settings and name).
    pub spec: &'a GridSpec,
    /// Trials at once on this machine.
    pub jobs: usize,
    /// The GPUs local trials are placed on (`--gpus`), each on a place of its own.
    pub gpus: Option<crate::executor::gpus::GpuPool>,
    /// The GPUs of each Slurm task and how many trials share one (`resources.gpus`).
    pub slurm_gpus: (Option<u32>, u32),
    /// Train as Slurm job arrays instead of local worker processes.
    pub on_slurm: bool,
    /// With Slurm: return once the arrays are submitted (`--detach`).
    pub detach: bool,
    /// Whether the reasons for retrying failed trials apply (`--retry-failed`).
    pub retry_failed: bool,
    /// The ids of the trials trained in this run.
    pub trained: RefCell<BTreeSet<String>>,
}

impl Training<'_> {
    /// Trains the trials `t` says to run to their end: prepares their folders (clearing the
    /// results of those run again, seeding those that continue shorter runs), then trains them.
    pub fn train_all(&self, t: &Triage) -> anyhow::Result<Ended> {
        self.prepare_all(t)?;
        self.train(&t.to_run)
    }

    /// Prepares the folders of the trials `t` says to run (clearing the results of those run
    /// again, seeding those that continue shorter runs).
    pub fn prepare_all(&self, t: &Triage) -> anyhow::Result<()> {
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
    pub fn train(&self, trials: &[TrialConfig]) -> anyhow::Result<Ended> {
        if trials.is_empty() {
            return Ok(Ended::Done);
        }
        // Longest first, so that the last trials to finish are short ones and no core idles
        // for long at the end (reports keep the grid's order).
        let mut to_run = trials.to_vec();
        to_run.sort_by(|a, b| cost(b.params()).total_cmp(&cost(a.params())));
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
    pub fn train_feed(&self, feed: &mut dyn Feed) -> anyhow::Result<Ended> {
        let (store, jobs) = (self.store, self.jobs);
        let mut feed = Recorded {
            feed,
            trained: &self.trained,
        };
        let mut reporter = progress::for_stderr();
        let ran = if self.on_slurm {
            let options = crate::spec::SlurmOptions {
                gpus_per_task: self.slurm_gpus.0,
                trials_per_task: self.slurm_gpus.1,
                ..self.spec.slurm.clone()
            };
            let executor = SlurmExecutor::new(options, &self.spec.name)?;
            match executor.run(store, &mut feed, reporter.as_mut(), self.detach)? {
                SlurmRun::Followed(ran) => ran,
                SlurmRun::Detached { jobs } => {
                    reporter.finish();
                    eprintln!(
                        "detached: Slurm job arrays {} train the trials. `sweep status {}` shows \
                         where they are; run this command again to follow them and write the \
                         reports (or `sweep report {}` at any time)",
                        jobs.join(" "),
                        store.root().display(),
                        store.root().display()
                    );
                    return Ok(Ended::Detached);
                }
            }
        } else {
            let executor = LocalExecutor::new(jobs, self.gpus.clone())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(executor.run(store, &mut feed, reporter.as_mut()))?
        };
        reporter.finish();
        Ok(if ran.interrupted {
            Ended::Interrupted
        } else {
            Ended::Done
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

/// Rough training cost of a trial (multiply-adds of the recurrence and output layer per step,
/// times steps; a program's steps), for scheduling only.
fn cost(params: crate::spec::ParamsRef) -> f64 {
    let Some(p) = params.model() else {
        return params.steps() as f64;
    };
    let (h, b, t) = (p.hidden as f64, p.batch_size as f64, p.seq_len as f64);
    // Gates multiply the recurrent work; every cell and depth runs on the fused ops.
    let per_layer = p.cell.gate_groups() as f64 * h * (h + 2.0 * 64.0);
    p.steps as f64 * b * t * per_layer * p.layers as f64
}
