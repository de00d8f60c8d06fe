//! Groups trials for the analysis: configurations (a trial's parameters without its seed) and
//! the rows of per-axis tables, each with its measures aggregated (mean ± std over trials).

use std::collections::BTreeSet;

use super::analysis::{self, Stat, TrialMeasures};
use super::compare::Scale;
use super::load::{SweepRecord, TrialRecord};
use super::objective::Objective;
use super::values;
use crate::spec::{display_value, Constraint, Objectives};
use crate::store::{TrialResult, TrialStatus};

/// Measures aggregated over a set of trials. The numbers come from the trials that completed
/// without diverging; only when every completed trial diverged do they come from the diverged
/// ones (so that a row of blown-up runs shows how far they blew up).
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    /// Trials in the set.
    pub trials: usize,
    /// Of which completed without diverging.
    pub completed: usize,
    /// Of which failed.
    pub failed: usize,
    /// The step each trial stopped at by early stopping reached (its rung).
    pub stopped_at: Vec<usize>,
    /// Of which completed but diverged.
    pub diverged: usize,
    /// The step at which each diverged trial diverged.
    pub diverged_at: Vec<usize>,
    /// Completed trials that got worse after their best point.
    pub degraded: usize,
    /// Completed trials that overfit.
    pub overfitting: usize,
    /// Steps to convergence.
    pub convergence: Option<Stat>,
    /// Volatility.
    pub volatility: Option<Stat>,
    /// Final training perplexity (built-in model).
    pub train: Option<Stat>,
    /// The objective's final value.
    pub value: Option<Stat>,
    /// The objective's best value.
    pub best: Option<Stat>,
    /// Smallest and largest parameter count.
    pub parameters: Option<(usize, usize)>,
    /// Training steps per second.
    pub steps_per_sec: Option<Stat>,
    /// Worker wall seconds.
    pub wall: Option<Stat>,
}

impl Aggregate {
    /// Aggregates `trials`.
    pub fn of(trials: &[&TrialRecord]) -> Aggregate {
        let measured: Vec<(&TrialRecord, TrialMeasures)> = trials
            .iter()
            .filter_map(|t| t.measures().map(|m| (*t, m)))
            .collect();
        let (diverged, rest): (Vec<_>, Vec<_>) =
            measured.iter().partition(|(_, m)| m.diverged.is_some());
        let (stopped, healthy): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|(t, _)| t.stopped().is_some());
        let shown = [&healthy, &stopped, &diverged]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or(&healthy);
        let stat = |f: &dyn Fn(&TrialMeasures) -> Option<f64>| {
            Stat::of_any(&shown.iter().filter_map(|(_, m)| f(m)).collect::<Vec<_>>())
        };
        let result = |f: &dyn Fn(&TrialResult) -> Option<f64>| {
            Stat::of(
                &shown
                    .iter()
                    .filter_map(|(t, _)| t.result().and_then(f))
                    .collect::<Vec<_>>(),
            )
        };
        let params: Vec<usize> = shown
            .iter()
            .filter_map(|(t, _)| t.result().and_then(|r| r.parameters))
            .collect();
        Aggregate {
            trials: trials.len(),
            completed: healthy.len(),
            failed: trials
                .iter()
                .filter(|t| t.result().is_some_and(|r| r.status == TrialStatus::Failed))
                .count(),
            stopped_at: stopped
                .iter()
                .filter_map(|(t, _)| t.stopped().map(|r| r.steps_done))
                .collect(),
            diverged: diverged.len(),
            diverged_at: diverged
                .iter()
                .filter_map(|(_, m)| m.diverged.map(|d| d.step))
                .collect(),
            degraded: healthy.iter().filter(|(_, m)| m.degraded.is_some()).count(),
            overfitting: healthy.iter().filter(|(_, m)| m.overfitting).count(),
            convergence: stat(&|m| m.convergence_step.map(|s| s as f64)),
            volatility: stat(&|m| m.volatility),
            train: stat(&|m| m.final_train_ppl),
            value: stat(&|m| m.final_value),
            best: stat(&|m| m.best.map(|b| b.1)),
            parameters: params
                .iter()
                .min()
                .zip(params.iter().max())
                .map(|(a, b)| (*a, *b)),
            steps_per_sec: result(&|r| r.steps_per_sec),
            wall: result(&|r| Some(r.wall_seconds)),
        }
    }

    /// The objective's mean final value (NaN when nothing completed).
    pub fn value_mean(&self) -> f64 {
        self.value.map_or(f64::NAN, |s| s.mean)
    }

    /// [`Aggregate::value_mean`] as a sort key where lower is better, +∞ when nothing
    /// completed (sorts last).
    pub fn value_key(&self, o: &Objective) -> f64 {
        match self.value {
            Some(s) if !s.mean.is_nan() => o.key(s.mean),
            _ => f64::INFINITY,
        }
    }

    /// Whether the numbers come from diverged trials only.
    pub fn all_diverged(&self) -> bool {
        self.completed == 0 && self.diverged > 0
    }

    /// Whether the numbers come from trials stopped at a rung only (none reached `steps`).
    pub fn all_stopped(&self) -> bool {
        self.completed == 0 && !self.stopped_at.is_empty()
    }

    /// The order of rows in a ranking: rows without diverged trials first, then rows that
    /// reached the full budget, then by the objective's mean (at the last step each reached);
    /// rows stopped at a rung sort by the rung they reached, highest first.
    fn rank_key(&self, o: &Objective) -> (bool, usize, f64) {
        let short = if self.all_stopped() {
            usize::MAX - self.stopped_at.iter().copied().max().unwrap_or(0)
        } else {
            0
        };
        (self.diverged > 0, short, self.value_key(o))
    }
}

/// One configuration: the trials that differ only in their seed.
#[derive(Debug, Clone)]
pub struct Config<'a> {
    /// The swept (non-seed) axes' values, in axis order.
    pub values: Vec<String>,
    /// `hidden=200 batch_size=32`, or `base` with no axes.
    pub label: String,
    /// Its trials (one per seed).
    pub trials: Vec<&'a TrialRecord>,
    /// Their aggregate.
    pub stats: Aggregate,
    /// The constraints it breaks, with its mean value of each (`None`: no value).
    pub broken: Vec<(Constraint, Option<f64>)>,
}

impl Config<'_> {
    /// Whether it keeps every constraint (or nothing is known yet).
    pub fn feasible(&self) -> bool {
        self.broken.is_empty()
    }
}

/// The analysis' view of a sweep.
#[derive(Debug, Clone)]
pub struct Grouped<'a> {
    /// Swept axes other than seed, in file order.
    pub axes: Vec<String>,
    /// Whether each axis is a range drawn by a random search (no per-value rows for those).
    pub ranged: Vec<bool>,
    /// Whether each axis is a range drawn in the logarithm.
    pub log_ranged: Vec<bool>,
    /// Each axis' values in first-seen (file) order.
    pub axis_values: Vec<Vec<String>>,
    /// Configurations in expansion order.
    pub configs: Vec<Config<'a>>,
    /// Seed-to-seed standard deviation of the objective (see
    /// [`analysis::pooled_seed_std`]).
    pub seed_std: Option<f64>,
    /// What the configurations are ranked by.
    pub objective: Objective,
    /// Every objective of the sweep (the first is `objective`'s metric) and its constraints.
    pub objectives: Objectives,
    /// Seeds in the sweep.
    pub seeds: Vec<u64>,
}

/// A row of a per-axis table.
#[derive(Debug, Clone)]
pub struct AxisRow {
    /// The axis value.
    pub value: String,
    /// The aggregate over the row's trials.
    pub stats: Aggregate,
}

impl<'a> Grouped<'a> {
    /// Groups the trials of `sweep`.
    pub fn new(sweep: &'a SweepRecord) -> Grouped<'a> {
        let axes: Vec<String> = sweep
            .manifest
            .axes
            .iter()
            .filter(|a| *a != "seed")
            .cloned()
            .collect();
        let value_of = |t: &TrialRecord, axis: &str| {
            t.config
                .params()
                .get(axis)
                .map(|v| display_value(&v))
                .unwrap_or_default()
        };
        let mut configs: Vec<Config> = Vec::new();
        let mut axis_values: Vec<Vec<String>> = vec![Vec::new(); axes.len()];
        let mut seeds = BTreeSet::new();
        for t in &sweep.trials {
            seeds.insert(t.config.params().seed());
            let values: Vec<String> = axes.iter().map(|a| value_of(t, a)).collect();
            for (i, v) in values.iter().enumerate() {
                if !axis_values[i].contains(v) {
                    axis_values[i].push(v.clone());
                }
            }
            match configs.iter_mut().find(|c| c.values == values) {
                Some(c) => c.trials.push(t),
                None => configs.push(Config {
                    label: if axes.is_empty() {
                        "base".into()
                    } else {
                        axes.iter()
                            .zip(&values)
                            .map(|(a, v)| format!("{a}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    values,
                    trials: vec![t],
                    stats: Aggregate::default(),
                    broken: Vec::new(),
                }),
            }
        }
        let objective = Objective::of(sweep);
        let objectives = sweep.manifest.objectives();
        for c in &mut configs {
            c.stats = Aggregate::of(&c.trials);
            c.broken = values::broken(&c.trials, &objectives.constraints, &objective)
                .into_iter()
                .map(|(k, v)| (k.clone(), v))
                .collect();
        }
        let per_config: Vec<Vec<f64>> = configs
            .iter()
            .map(|c| {
                c.trials
                    .iter()
                    .filter_map(|t| t.healthy().and_then(|m| m.final_value))
                    .collect()
            })
            .collect();
        Grouped {
            seed_std: analysis::pooled_seed_std(&per_config),
            objective,
            objectives,
            ranged: axes
                .iter()
                .map(|a| sweep.manifest.ranges.contains(a))
                .collect(),
            log_ranged: axes
                .iter()
                .map(|a| sweep.manifest.log_ranges.contains(a))
                .collect(),
            axes,
            axis_values,
            configs,
            seeds: seeds.into_iter().collect(),
        }
    }

    /// The final values of the objective of `trials` that completed without diverging: the
    /// samples the verdicts compare.
    pub fn seed_values(trials: &[&TrialRecord]) -> Vec<f64> {
        trials
            .iter()
            .filter(|t| t.completed().is_some())
            .filter_map(|t| t.healthy().and_then(|m| m.final_value))
            .filter(|v| v.is_finite())
            .collect()
    }

    /// The scale the verdicts compare on: log when every final value of the sweep is positive.
    pub fn scale(&self) -> Scale {
        let all: Vec<f64> = self
            .configs
            .iter()
            .flat_map(|c| Grouped::seed_values(&c.trials))
            .collect();
        Scale::of(&all)
    }

    /// The axes with listed values (not ranges), by index: the ones with per-value tables,
    /// charts and cross tables.
    pub fn list_axes(&self) -> Vec<usize> {
        (0..self.axes.len()).filter(|&i| !self.ranged[i]).collect()
    }

    /// The swept axes other than `axis`.
    pub fn other_axes(&self, axis: usize) -> Vec<&str> {
        self.axes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, a)| a.as_str())
            .collect()
    }

    /// Configurations sorted by the objective's mean (best first), those with a diverged
    /// trial after the others, and those that break a constraint after all of them.
    pub fn ranked(&self) -> Vec<&Config<'a>> {
        let mut c: Vec<&Config> = self.configs.iter().collect();
        let o = &self.objective;
        c.sort_by(|a, b| {
            let feasible = b.feasible().cmp(&a.feasible());
            let (a, b) = (a.stats.rank_key(o), b.stats.rank_key(o));
            feasible
                .then(a.0.cmp(&b.0))
                .then(a.1.cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
        });
        c
    }

    /// The best configuration: the first in [`Grouped::ranked`] with a completed trial that did
    /// not diverge and that keeps every constraint.
    pub fn best(&self) -> Option<&Config<'a>> {
        self.ranked()
            .into_iter()
            .find(|c| c.stats.completed > 0 && c.stats.value.is_some() && c.feasible())
    }

    /// The trial of the best configuration with the best final value (the one whose sample
    /// the summary quotes).
    pub fn best_trial(&self) -> Option<&'a TrialRecord> {
        let heldout = |t: &TrialRecord| {
            t.healthy()
                .and_then(|m| m.final_value)
                .map_or(f64::INFINITY, |v| self.objective.key(v))
        };
        self.best()?
            .trials
            .iter()
            .copied()
            .filter(|t| heldout(t).is_finite())
            .min_by(|a, b| heldout(a).total_cmp(&heldout(b)))
    }

    /// Rows of axis `axis`: each value aggregated over every other axis and seed (of the
    /// configurations that keep the constraints).
    pub fn axis_rows(&self, axis: usize) -> Vec<AxisRow> {
        self.axis_values[axis]
            .iter()
            .map(|value| {
                let trials: Vec<&TrialRecord> = self
                    .configs
                    .iter()
                    .filter(|c| &c.values[axis] == value && c.feasible())
                    .flat_map(|c| c.trials.iter().copied())
                    .collect();
                AxisRow {
                    value: value.clone(),
                    stats: Aggregate::of(&trials),
                }
            })
            .collect()
    }

    /// Rows of axis `axis` with every other axis at the best configuration's value.
    pub fn axis_rows_at_best(&self, axis: usize) -> Vec<AxisRow> {
        let Some(best) = self.best() else {
            return Vec::new();
        };
        self.axis_values[axis]
            .iter()
            .filter_map(|value| {
                let mut want = best.values.clone();
                want[axis] = value.clone();
                let c = self.configs.iter().find(|c| c.values == want)?;
                Some(AxisRow {
                    value: value.clone(),
                    stats: c.stats.clone(),
                })
            })
            .collect()
    }

    /// The aggregate of each pair of values of axes `rows` and `cols`, over any other axes and
    /// seeds (of the configurations that keep the constraints).
    pub fn cross_aggregates(&self, rows: usize, cols: usize) -> Vec<Vec<Aggregate>> {
        self.axis_values[rows]
            .iter()
            .map(|r| {
                self.axis_values[cols]
                    .iter()
                    .map(|c| {
                        let trials: Vec<&TrialRecord> = self
                            .configs
                            .iter()
                            .filter(|cfg| {
                                &cfg.values[rows] == r && &cfg.values[cols] == c && cfg.feasible()
                            })
                            .flat_map(|cfg| cfg.trials.iter().copied())
                            .collect();
                        Aggregate::of(&trials)
                    })
                    .collect()
            })
            .collect()
    }

    /// The objective's mean over the trials that did not diverge, for each pair of values of
    /// axes `rows` and `cols`.
    pub fn cross(&self, rows: usize, cols: usize) -> Vec<Vec<Option<f64>>> {
        self.cross_aggregates(rows, cols)
            .iter()
            .map(|row| {
                row.iter()
                    .map(|a| (a.completed > 0).then(|| a.value_mean()))
                    .collect()
            })
            .collect()
    }
}
