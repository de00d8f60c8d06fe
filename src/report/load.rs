//! Reads what a results folder holds about the sweep last run there. A trial whose
//! `config.json` or `result.json` cannot be read is set aside as damaged (with the file and
//! what is wrong) instead of stopping the report.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::spec::TrialConfig;
use crate::store::attempts::{self, Attempt};
use crate::store::proposals::{self, Proposal};
use crate::store::rungs::{self, RungDecision};
use crate::store::{
    Curves, DamagedFile, Manifest, MetricRow, ProgramRow, Store, TrialDir, TrialResult, TrialState,
    TrialStatus,
};

use super::analysis::{self, TrialMeasures};

/// Where a trial stands, as every report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Trained every step, and the curves look like training.
    Completed,
    /// Trained every step, but its training perplexity blew up (see
    /// [`analysis::Divergence`]): `result.json` says completed, the analysis flags it.
    Diverged,
    /// Stopped by an error (non-finite loss, crash), recorded in `result.json`.
    Failed,
    /// Stopped at a rung of early stopping (not promoted, or not yet).
    Stopped,
    /// A worker holds the trial's lock.
    Running,
    /// Some steps recorded, not finished.
    Partial,
    /// Nothing recorded yet.
    Pending,
    /// `config.json` or `result.json` cannot be read.
    Damaged,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 8] = [
        Status::Completed,
        Status::Stopped,
        Status::Diverged,
        Status::Failed,
        Status::Running,
        Status::Partial,
        Status::Pending,
        Status::Damaged,
    ];

    /// The name used in `trials.csv`, `sweep status` and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
            Status::Stopped => "stopped",
            Status::Running => "running",
            Status::Partial => "partial",
            Status::Pending => "pending",
            Status::Damaged => "damaged",
        }
    }
}

/// Everything stored about one trial. Its state and rows are fixed once read, so its measures
/// are computed once, on first use (the reports and the dashboard ask for them many times).
#[derive(Debug, Clone)]
pub struct TrialRecord {
    /// Its configuration.
    pub config: TrialConfig,
    state: TrialState,
    metrics: Arc<Vec<MetricRow>>,
    /// A program trial's rows (none for the built-in model).
    program_rows: Arc<Vec<ProgramRow>>,
    measures: OnceLock<Option<TrialMeasures>>,
    /// Its worker attempts (`attempts.jsonl`), in order.
    pub attempts: Vec<Attempt>,
}

/// When a trial ran, from its worker attempts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timing {
    /// When its first attempt started (seconds since the Unix epoch).
    pub started_at: Option<f64>,
    /// When its last attempt ended with a result (seconds since the Unix epoch).
    pub finished_at: Option<f64>,
    /// Seconds its workers ran, all attempts together.
    pub worker_seconds: f64,
    /// For each rung it stopped at: the step and when that result was known.
    pub rungs: Vec<(usize, f64)>,
}

impl TrialRecord {
    /// When it ran (see [`Timing`]).
    pub fn timing(&self) -> Timing {
        let finished = self.attempts.iter().rev().find(|a| a.end != "interrupted");
        Timing {
            started_at: self.attempts.first().map(|a| a.started_at),
            finished_at: finished
                .filter(|_| self.result().is_some())
                .map(Attempt::finished_at),
            worker_seconds: self.attempts.iter().map(|a| a.seconds).sum(),
            rungs: self
                .attempts
                .iter()
                .filter(|a| a.end == "stopped")
                .map(|a| (a.steps_done, a.finished_at()))
                .collect(),
        }
    }

    /// A trial in `state` with these metric rows.
    pub fn new(config: TrialConfig, state: TrialState, metrics: Arc<Vec<MetricRow>>) -> Self {
        TrialRecord {
            config,
            state,
            metrics,
            program_rows: Arc::default(),
            measures: OnceLock::new(),
            attempts: Vec::new(),
        }
    }

    /// A trial in `state` with these curves (a program's or the built-in model's).
    pub fn with_curves(config: TrialConfig, state: TrialState, curves: Curves) -> Self {
        match curves {
            Curves::Model(rows) => TrialRecord::new(config, state, rows),
            Curves::Program(rows) => TrialRecord {
                program_rows: rows,
                ..TrialRecord::new(config, state, Arc::default())
            },
        }
    }

    /// Its recorded curves, whichever kind of trial it is.
    pub fn curves(&self) -> Curves {
        if self.config.program().is_some() {
            Curves::Program(Arc::clone(&self.program_rows))
        } else {
            Curves::Model(Arc::clone(&self.metrics))
        }
    }

    /// Its configuration, state and rows, to make another record from.
    pub fn into_parts(self) -> (TrialConfig, TrialState, Arc<Vec<MetricRow>>) {
        (self.config, self.state, self.metrics)
    }

    /// Pending, partial or finished.
    pub fn state(&self) -> &TrialState {
        &self.state
    }

    /// Its metric rows, one per step trained (shared with a dashboard's incremental reader).
    pub fn metrics(&self) -> &Arc<Vec<MetricRow>> {
        &self.metrics
    }

    /// The result, when finished.
    pub fn result(&self) -> Option<&TrialResult> {
        match &self.state {
            TrialState::Finished(r) => Some(r),
            _ => None,
        }
    }

    /// The result, when the trial trained every step (diverged or not).
    pub fn completed(&self) -> Option<&TrialResult> {
        self.result().filter(|r| r.status == TrialStatus::Completed)
    }

    /// The result, when the trial stopped at a rung of early stopping.
    pub fn stopped(&self) -> Option<&TrialResult> {
        self.result().filter(|r| r.status == TrialStatus::Stopped)
    }

    /// The measures of a trial that trained every step, or up to the rung it stopped at.
    pub fn measures(&self) -> Option<TrialMeasures> {
        self.measures.get_or_init(|| self.measure()).clone()
    }

    fn measure(&self) -> Option<TrialMeasures> {
        let r = self.completed().or_else(|| self.stopped())?;
        // A program's curves have no training perplexity to measure: its objective is
        // reported as it is.
        if let Some(outcome) = r.metric.as_deref() {
            return Some(analysis::objective_only(
                outcome.last,
                outcome.best.map(|b| (outcome.best_step, b)),
            ));
        }
        // What a model that knows nothing reaches: the vocabulary size (a uniform guess). Trials
        // stored before it was recorded use their first step's perplexity, measured with the
        // untrained weights.
        let knows_nothing = r
            .vocab_size
            .map(|v| v as f64)
            .or_else(|| self.metrics.first().map(|m| m.train_ppl));
        analysis::measure(&self.metrics, knows_nothing)
    }

    /// The measures of a trial that trained every step and did not diverge.
    pub fn healthy(&self) -> Option<TrialMeasures> {
        self.completed()?;
        self.measures().filter(|m| m.diverged.is_none())
    }

    /// Where the trial stands.
    pub fn status(&self) -> Status {
        match &self.state {
            TrialState::Finished(r) if r.status == TrialStatus::Completed => {
                if self.measures().is_some_and(|m| m.diverged.is_some()) {
                    Status::Diverged
                } else {
                    Status::Completed
                }
            }
            TrialState::Finished(r) if r.status == TrialStatus::Stopped => Status::Stopped,
            TrialState::Finished(_) => Status::Failed,
            TrialState::Running { .. } => Status::Running,
            TrialState::Partial { .. } => Status::Partial,
            TrialState::Pending => Status::Pending,
        }
    }
}

/// A trial whose files cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct DamagedTrial {
    /// Its id (from `sweep.json`).
    pub id: String,
    /// Its label, when `config.json` could be read.
    pub label: Option<String>,
    /// The file that cannot be read.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// The sweep last run in a results folder, with all its trials.
#[derive(Debug, Clone)]
pub struct SweepRecord {
    /// `sweep.json`.
    pub manifest: Manifest,
    /// The readable trials, in expansion order.
    pub trials: Vec<TrialRecord>,
    /// The trials that cannot be read.
    pub damaged: Vec<DamagedTrial>,
    /// The decisions of early stopping (`rungs.jsonl`), in the order they were made.
    pub rungs: Vec<RungDecision>,
    /// How a TPE search chose its configurations (`proposals.jsonl`), in order.
    pub proposals: Vec<Proposal>,
    /// Decision logs (`rungs.jsonl`, `proposals.jsonl`) that cannot be read: what is wrong
    /// and how to repair it.
    pub damaged_logs: Vec<String>,
}

impl SweepRecord {
    /// Number of trials with `status` (damaged ones included).
    pub fn count(&self, status: Status) -> usize {
        if status == Status::Damaged {
            return self.damaged.len();
        }
        self.trials.iter().filter(|t| t.status() == status).count()
    }

    /// All trials, damaged ones included.
    pub fn total(&self) -> usize {
        self.trials.len() + self.damaged.len()
    }

    /// Where the trial `t` was stopped by early stopping, as `rungs.jsonl` recorded it:
    /// "stopped at rung 1 (step 100): held-out ppl 9.50, rank 23 of 27".
    pub fn stop_record(&self, t: &TrialRecord) -> Option<String> {
        let key = t.config.config_key();
        self.rungs.iter().find_map(|d| {
            let s = d.stopped.iter().find(|s| s.config == key)?;
            let bracket = if self.rungs.iter().any(|d| d.bracket > 0) {
                format!("bracket {}, ", d.bracket + 1)
            } else {
                String::new()
            };
            let metric = match &self.manifest.metric {
                Some(m) => format!("{} {}", m.name, super::numbers::fixed(s.heldout, 4)),
                None => format!("held-out ppl {}", super::numbers::fixed(s.heldout, 2)),
            };
            Some(format!(
                "stopped at {bracket}rung {} (step {}): {metric}, rank {} of {}",
                d.rung + 1,
                d.step,
                s.rank,
                d.reached
            ))
        })
    }

    /// Whether every trial completed without diverging, or stopped at a rung of early
    /// stopping (what it was asked to do).
    pub fn all_completed(&self) -> bool {
        self.damaged.is_empty()
            && self.damaged_logs.is_empty()
            && self
                .trials
                .iter()
                .all(|t| matches!(t.status(), Status::Completed | Status::Stopped))
    }
}

/// The records of a decision log, or none with what is wrong added to `damaged`.
fn readable<T>(log: anyhow::Result<Vec<T>>, damaged: &mut Vec<String>) -> Vec<T> {
    log.unwrap_or_else(|e| {
        damaged.push(format!("{e:#}"));
        Vec::new()
    })
}

/// Reads the manifest and every trial it lists; an unreadable trial becomes a
/// [`DamagedTrial`], and so does one with a damaged metric row (a torn last line, a worker
/// killed mid-write, is left out: it is not damage).
pub fn load(store: &Store) -> anyhow::Result<SweepRecord> {
    load_with(store, |config, dir| dir.curves(config))
}

/// [`load`], with each trial's rows (and what is damaged in them) from `curves` (given its
/// configuration and folder) instead of reading its metrics file whole.
pub fn load_with(
    store: &Store,
    mut curves: impl FnMut(&TrialConfig, &TrialDir) -> (Curves, Option<String>),
) -> anyhow::Result<SweepRecord> {
    let manifest = store.manifest()?;
    let mut trials = Vec::new();
    let mut damaged = Vec::new();
    for id in &manifest.trials {
        let dir = store.trial(id);
        if dir.is_link() {
            damaged.push(DamagedTrial {
                id: id.clone(),
                label: None,
                file: dir.path().to_path_buf(),
                problem: "a symbolic link, not a folder sweep wrote (remove it; the trial \
                          then trains again)"
                    .into(),
            });
            continue;
        }
        let config = match dir.config() {
            Ok(config) => config,
            Err(e) => {
                damaged.push(DamagedTrial {
                    id: id.clone(),
                    label: None,
                    file: dir.config_path(),
                    problem: e.root_cause().to_string(),
                });
                continue;
            }
        };
        let (curves, damage) = curves(&config, &dir);
        if let Some(problem) = damage {
            let e = DamagedFile::new(dir.curves_path(&config), problem);
            damaged.push(DamagedTrial {
                id: id.clone(),
                label: Some(config.label.clone()),
                file: e.file,
                problem: e.problem,
            });
            continue;
        }
        let state = match dir.state_with(|| curves.len()) {
            Ok(state) => state,
            Err(e) => {
                damaged.push(DamagedTrial {
                    id: id.clone(),
                    label: Some(config.label.clone()),
                    file: e.file,
                    problem: e.problem,
                });
                continue;
            }
        };
        let mut record = TrialRecord::with_curves(config, state, curves);
        record.attempts = attempts::read(dir.path());
        trials.push(record);
    }
    let mut damaged_logs = Vec::new();
    let rungs = readable(rungs::read(store.root()), &mut damaged_logs);
    let proposals = readable(proposals::read(store.root()), &mut damaged_logs);
    Ok(SweepRecord {
        manifest,
        trials,
        damaged,
        rungs,
        proposals,
        damaged_logs,
    })
}
