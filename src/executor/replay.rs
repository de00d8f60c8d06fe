//! A replayed backend, for scales this machine cannot hold (hundreds of workers): it "trains" a
//! trial on a virtual clock from a table of full-budget runs, the objective at each evaluated
//! step from that configuration's stored rows and the time per step from its stored steps/s,
//! and writes what a worker would (the rows up to its budget, `result.json`, an attempt line)
//! into the trial folder, so the scheduler that drives it is the real one. This is how HPO
//! research compares schedulers (tabular benchmarks such as LCBench and HPOBench).
//!
//! Time never depends on the machine: an attempt of trial t from step a to its budget b takes
//! `startup_s + (b − a) / steps_per_sec(t)` virtual seconds; attempts end in order of their
//! virtual end (ties by launch order), so a replay is the same on every run.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::progress::Reporter;
use super::supervise::{AfterStop, Backend, BackendEvent, Stop, TrialEvent};
use crate::spec::TrialConfig;
use crate::store::attempts::{self, Attempt};
use crate::store::{MetricRow, Store, TrialResult, TrialStatus};

/// One configuration's full-budget run, as a replay plays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The objective (held-out perplexity) at each evaluated step, in step order.
    pub heldout: Vec<(usize, f64)>,
    /// Training steps per second of one worker.
    pub steps_per_sec: f64,
}

impl Recorded {
    /// The objective last evaluated at or before `step`.
    pub fn at(&self, step: usize) -> Option<f64> {
        self.heldout
            .iter()
            .take_while(|(s, _)| *s <= step)
            .last()
            .map(|p| p.1)
    }
}

/// A table of full-budget runs: by trial id, with the start-up time of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Seconds an attempt spends before its first step (process start, corpus), measured.
    pub startup_s: f64,
    /// Each trial's run, by trial id.
    pub runs: BTreeMap<String, Recorded>,
}

/// An attempt on the virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Running {
    /// Its virtual end, in microseconds.
    end_us: u64,
    /// Launch order (ties).
    seq: u64,
    index: usize,
}

/// Workers on a virtual clock, playing a [`Table`].
pub struct ReplayBackend<'a> {
    store: Store,
    table: &'a Table,
    workers: usize,
    /// The virtual time now, in microseconds.
    now_us: u64,
    seq: u64,
    trials: Vec<TrialConfig>,
    running: BinaryHeap<Reverse<Running>>,
    /// What each running attempt started from: its start time and step.
    started: HashMap<usize, (u64, usize)>,
    events: VecDeque<BackendEvent>,
    /// Virtual seconds the workers ran, every attempt together.
    pub busy_s: f64,
    /// Each full-budget result as it became known: virtual time and objective.
    pub completed: Vec<(f64, f64)>,
    /// Steps trained, every attempt together.
    pub steps: usize,
}

impl<'a> ReplayBackend<'a> {
    /// `workers` replayed workers writing into `store`, from `table`.
    pub fn new(store: &Store, table: &'a Table, workers: usize) -> ReplayBackend<'a> {
        ReplayBackend {
            store: store.clone(),
            table,
            workers: workers.max(1),
            now_us: 0,
            seq: 0,
            trials: Vec::new(),
            running: BinaryHeap::new(),
            started: HashMap::new(),
            events: VecDeque::new(),
            busy_s: 0.0,
            completed: Vec::new(),
            steps: 0,
        }
    }

    /// The virtual time now, in seconds.
    pub fn now(&self) -> f64 {
        self.now_us as f64 / 1e6
    }

    /// The replayed steps/s of trial `id` (0 when the table has no run of it).
    pub fn steps_per_sec(&self, id: &str) -> f64 {
        self.table.runs.get(id).map_or(0.0, |r| r.steps_per_sec)
    }

    fn run_of(&self, trial: &TrialConfig) -> anyhow::Result<&'a Recorded> {
        self.table.runs.get(&trial.id).ok_or_else(|| {
            anyhow::anyhow!(
                "the replay table has no run of trial {} ({})",
                trial.id,
                trial.label
            )
        })
    }

    /// Ends the earliest attempt: writes what its worker would have, and says so.
    fn end_next(&mut self) -> anyhow::Result<()> {
        let Some(Reverse(r)) = self.running.pop() else {
            return Ok(());
        };
        self.now_us = r.end_us;
        let trial = self.trials[r.index].clone();
        let run = self.run_of(&trial)?;
        let steps = trial.params().steps();
        let budget = trial.budget();
        let (start_us, from) = self.started.remove(&r.index).unwrap_or((r.end_us, 0));
        let dir = self.store.trial(&trial.id);
        let rows: Vec<MetricRow> = run
            .heldout
            .iter()
            .filter(|(s, _)| *s <= budget)
            .map(|&(step, ppl)| MetricRow {
                step,
                train_loss: ppl.ln(),
                train_ppl: ppl,
                heldout_ppl: Some(ppl),
                elapsed_s: step as f64 / run.steps_per_sec,
            })
            .collect();
        dir.rewrite_metrics(&rows)?;
        let last = run.at(budget);
        let status = if budget < steps {
            TrialStatus::Stopped
        } else {
            TrialStatus::Completed
        };
        let seconds = (r.end_us - start_us) as f64 / 1e6;
        dir.write_result(&TrialResult {
            status,
            reason: None,
            steps_done: budget,
            parameters: None,
            final_train_ppl: last,
            final_heldout_ppl: last,
            best_heldout_ppl: rows.iter().filter_map(|r| r.heldout_ppl).reduce(f64::min),
            steps_per_sec: Some(run.steps_per_sec),
            wall_seconds: seconds,
            peak_memory_mb: None,
            gpu: None,
            vocab_size: None,
            metric: None,
        })?;
        attempts::append(
            dir.path(),
            &Attempt {
                started_at: start_us as f64 / 1e6,
                seconds,
                budget,
                steps_done: budget,
                end: if status == TrialStatus::Completed {
                    "completed".into()
                } else {
                    "stopped".into()
                },
                gpus: None,
            },
        )?;
        self.busy_s += seconds;
        self.steps += budget.saturating_sub(from);
        if status == TrialStatus::Completed {
            if let Some(v) = last {
                self.completed.push((self.now(), v));
            }
        }
        self.events.push_back(BackendEvent::Ended {
            index: r.index,
            how: "replayed".into(),
        });
        Ok(())
    }
}

impl Backend for ReplayBackend<'_> {
    fn capacity(&self) -> usize {
        self.workers
    }

    fn add(&mut self, index: usize, trial: &TrialConfig, _reporter: &mut dyn Reporter) -> bool {
        if index == 0 {
            // A new run of the supervisor (synchronous halving runs one per rung).
            self.trials.clear();
        }
        self.trials.push(trial.clone());
        false
    }

    async fn launch(
        &mut self,
        indices: &[usize],
        _retry: bool,
        _reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()> {
        for &index in indices {
            let trial = &self.trials[index];
            let run = self.run_of(trial)?;
            let budget = trial.budget();
            let from = self.store.trial(&trial.id).curves(trial).0.last_step();
            let seconds = self.table.startup_s
                + budget.saturating_sub(from) as f64 / run.steps_per_sec.max(1e-9);
            let end_us = self.now_us + (seconds * 1e6).round() as u64;
            self.started.insert(index, (self.now_us, from));
            self.running.push(Reverse(Running {
                end_us,
                seq: self.seq,
                index,
            }));
            self.seq += 1;
            self.events
                .push_back(BackendEvent::Trial(TrialEvent::Started {
                    index,
                    steps: budget,
                    resumed_from: from,
                }));
        }
        Ok(())
    }

    async fn next(&mut self) -> anyhow::Result<Option<BackendEvent>> {
        if self.events.is_empty() {
            self.end_next()?;
        }
        Ok(self.events.pop_front())
    }

    async fn stop(&mut self, _level: Stop, _reporter: &mut dyn Reporter) -> AfterStop {
        AfterStop::Return
    }
}

/// A reporter that shows nothing (a replay is read from its numbers).
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _event: &TrialEvent) {}
    fn notice(&mut self, _message: &str) {}
}
