//! Groups trials for the analysis: configurations (a trial's parameters without its seed) and
//! the rows of per-axis tables, each with its measures aggregated (mean ± std over trials).

use std::collections::BTreeSet;

use super::analysis::{self, Stat, TrialMeasures};
use super::load::{SweepRecord, TrialRecord};

/// Measures aggregated over a set of trials.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    /// Trials in the set.
    pub trials: usize,
    /// Of which completed.
    pub completed: usize,
    /// Of which failed.
    pub failed: usize,
    /// Steps to convergence.
    pub convergence: Option<Stat>,
    /// Volatility.
    pub volatility: Option<Stat>,
    /// Final training perplexity.
    pub train: Option<Stat>,
    /// Final held-out perplexity.
    pub heldout: Option<Stat>,
    /// Best held-out perplexity.
    pub best_heldout: Option<Stat>,
    /// Smallest and largest parameter count.
    pub parameters: Option<(usize, usize)>,
    /// Training steps per second.
    pub steps_per_sec: Option<Stat>,
    /// Worker wall seconds.
    pub wall: Option<Stat>,
    /// Completed trials that overfit.
    pub overfitting: usize,
}

impl Aggregate {
    /// Aggregates `trials`.
    pub fn of(trials: &[&TrialRecord]) -> Aggregate {
        let mut measures: Vec<TrialMeasures> = Vec::new();
        let (mut best, mut rate, mut wall, mut params) = (vec![], vec![], vec![], vec![]);
        let mut failed = 0;
        for t in trials {
            if t.status_name() == "failed" {
                failed += 1;
            }
            let Some(r) = t.completed() else { continue };
            if let Some(m) = analysis::measure(&t.metrics) {
                measures.push(m);
            }
            best.extend(r.best_heldout_ppl);
            rate.extend(r.steps_per_sec);
            wall.push(r.wall_seconds);
            params.extend(r.parameters);
        }
        let stat = |f: &dyn Fn(&TrialMeasures) -> Option<f64>| {
            Stat::of(&measures.iter().filter_map(f).collect::<Vec<_>>())
        };
        Aggregate {
            trials: trials.len(),
            completed: measures.len(),
            failed,
            convergence: stat(&|m| Some(m.convergence_step as f64)),
            volatility: stat(&|m| Some(m.volatility)),
            train: stat(&|m| Some(m.final_train_ppl)),
            heldout: stat(&|m| m.final_heldout_ppl),
            best_heldout: Stat::of(&best),
            parameters: params
                .iter()
                .min()
                .zip(params.iter().max())
                .map(|(a, b)| (*a, *b)),
            steps_per_sec: Stat::of(&rate),
            wall: Stat::of(&wall),
            overfitting: measures.iter().filter(|m| m.overfitting).count(),
        }
    }

    /// Mean held-out perplexity, +∞ when nothing completed (sorts last).
    pub fn heldout_mean(&self) -> f64 {
        self.heldout.map_or(f64::INFINITY, |s| s.mean)
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
}

/// The analysis' view of a sweep.
#[derive(Debug, Clone)]
pub struct Grouped<'a> {
    /// Swept axes other than seed, in file order.
    pub axes: Vec<String>,
    /// Each axis' values in first-seen (file) order.
    pub axis_values: Vec<Vec<String>>,
    /// Configurations in expansion order.
    pub configs: Vec<Config<'a>>,
    /// Seed-to-seed standard deviation of held-out perplexity (see
    /// [`analysis::pooled_seed_std`]).
    pub seed_std: Option<f64>,
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
                .params
                .get(axis)
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    v => v.to_string(),
                })
                .unwrap_or_default()
        };
        let mut configs: Vec<Config> = Vec::new();
        let mut axis_values: Vec<Vec<String>> = vec![Vec::new(); axes.len()];
        let mut seeds = BTreeSet::new();
        for t in &sweep.trials {
            seeds.insert(t.config.params.seed);
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
                }),
            }
        }
        for c in &mut configs {
            c.stats = Aggregate::of(&c.trials);
        }
        let per_config: Vec<Vec<f64>> = configs
            .iter()
            .map(|c| {
                c.trials
                    .iter()
                    .filter_map(|t| t.completed().and_then(|r| r.final_heldout_ppl))
                    .collect()
            })
            .collect();
        Grouped {
            seed_std: analysis::pooled_seed_std(&per_config),
            axes,
            axis_values,
            configs,
            seeds: seeds.into_iter().collect(),
        }
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

    /// Configurations sorted by mean held-out perplexity (best first).
    pub fn ranked(&self) -> Vec<&Config<'a>> {
        let mut c: Vec<&Config> = self.configs.iter().collect();
        c.sort_by(|a, b| a.stats.heldout_mean().total_cmp(&b.stats.heldout_mean()));
        c
    }

    /// The best configuration, if any completed.
    pub fn best(&self) -> Option<&Config<'a>> {
        self.ranked()
            .into_iter()
            .next()
            .filter(|c| c.stats.heldout.is_some())
    }

    /// Rows of axis `axis`: each value aggregated over every other axis and seed.
    pub fn axis_rows(&self, axis: usize) -> Vec<AxisRow> {
        self.axis_values[axis]
            .iter()
            .map(|value| {
                let trials: Vec<&TrialRecord> = self
                    .configs
                    .iter()
                    .filter(|c| &c.values[axis] == value)
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

    /// Mean held-out perplexity for each pair of values of axes `rows` and `cols`,
    /// aggregated over any other axes and seeds.
    pub fn cross(&self, rows: usize, cols: usize) -> Vec<Vec<Option<f64>>> {
        self.axis_values[rows]
            .iter()
            .map(|r| {
                self.axis_values[cols]
                    .iter()
                    .map(|c| {
                        let trials: Vec<&TrialRecord> = self
                            .configs
                            .iter()
                            .filter(|cfg| &cfg.values[rows] == r && &cfg.values[cols] == c)
                            .flat_map(|cfg| cfg.trials.iter().copied())
                            .collect();
                        Aggregate::of(&trials).heldout.map(|s| s.mean)
                    })
                    .collect()
            })
            .collect()
    }
}
