//! What a search ranks configurations by: a [`Score`] over the sweep's reproducible objectives
//! (the metrics, the parameter count) and how far the configuration breaks its reproducible
//! constraints, from the results in its trial folders. Measured objectives (time, memory) are
//! left to the reports, so decisions never depend on timing.

use crate::measures::pareto::Score;
use crate::spec::{Measure, MetricSpec, Objectives, TrialConfig};
use crate::store::rungs::Arrival;
use crate::store::{Store, TrialStatus};

/// The objectives and constraints a search decides by.
#[derive(Debug, Clone)]
pub struct Scoring {
    objectives: Objectives,
}

impl Scoring {
    /// Scoring by `objectives`' reproducible objectives and constraints.
    pub fn new(objectives: &Objectives) -> Scoring {
        Scoring {
            objectives: objectives.searched(),
        }
    }

    /// The objective the records name (the sweep's metric).
    pub fn primary(&self) -> &MetricSpec {
        self.objectives.primary()
    }

    /// The score of `trials` (a configuration's seeds) at rung `step`: each objective's mean
    /// there, oriented (lower is better), the last value reported by that step; +∞ when a trial
    /// failed or has no finite value by then, which ranks the configuration last on it.
    pub fn at(&self, store: &Store, trials: &[&TrialConfig], step: usize) -> Score {
        self.score(store, trials, |store, trial, name| {
            let dir = store.trial(&trial.id);
            let r = match dir.result() {
                Ok(Some(r)) if r.status != TrialStatus::Failed && r.steps_done >= step => r,
                _ => return None,
            };
            match Measure::named(name) {
                Some(Measure::Parameters) => r.parameters.map(|p| p as f64),
                Some(_) => None,
                None => dir.curves(trial).0.value_at(name, step),
            }
        })
    }

    /// The score of a finished configuration (its values after the last step) and the fewest
    /// steps its trials reached; `None` when a trial failed, has no result, or has no finite
    /// value of the sweep's metric.
    pub fn finished(&self, store: &Store, trials: &[TrialConfig]) -> Option<(usize, Score)> {
        let mut reached = usize::MAX;
        for trial in trials {
            match store.trial(&trial.id).result() {
                Ok(Some(r)) if r.status != TrialStatus::Failed => {
                    r.objective().filter(|v| v.is_finite())?;
                    reached = reached.min(r.steps_done);
                }
                _ => return None,
            }
        }
        let trials: Vec<&TrialConfig> = trials.iter().collect();
        let primary = self.primary().name.clone();
        let score = self.score(store, &trials, |store, trial, name| {
            let dir = store.trial(&trial.id);
            let r = dir.result().ok().flatten()?;
            match Measure::named(name) {
                Some(Measure::Parameters) => r.parameters.map(|p| p as f64),
                Some(_) => None,
                None if name == primary => r.objective(),
                None => dir.curves(trial).0.last(name).map(|(_, v)| v),
            }
        });
        Some((reached, score))
    }

    /// The score from each objective's value of a trial (`None`: no value), averaged over
    /// `trials`.
    fn score(
        &self,
        store: &Store,
        trials: &[&TrialConfig],
        value: impl Fn(&Store, &TrialConfig, &str) -> Option<f64>,
    ) -> Score {
        let mean = |name: &str| -> Option<f64> {
            let mut sum = 0.0;
            for trial in trials {
                sum += value(store, trial, name).filter(|v| v.is_finite())?;
            }
            Some(sum / trials.len().max(1) as f64)
        };
        Score {
            values: self
                .objectives
                .list
                .iter()
                .map(|m| mean(&m.name).map_or(f64::INFINITY, |v| m.mode.key(v)))
                .collect(),
            violation: self
                .objectives
                .constraints
                .iter()
                .map(|c| c.violation(mean(&c.name)))
                .sum(),
        }
    }

    /// The record of `score` as a configuration's arrival at a rung: the first objective's own
    /// value, the others' after it, and the violation.
    pub fn arrival(&self, config: String, score: &Score) -> Arrival {
        let own = |i: usize| {
            let v = score.values.get(i).copied().unwrap_or(f64::INFINITY);
            v.is_finite().then(|| self.objectives.list[i].mode.key(v))
        };
        Arrival {
            config,
            value: own(0),
            others: (1..self.objectives.list.len()).map(own).collect(),
            violation: score.violation,
        }
    }

    /// The score an arrival recorded ([`Scoring::arrival`] read back).
    pub fn from_arrival(&self, arrival: &Arrival) -> Score {
        let values = std::iter::once(arrival.value)
            .chain(arrival.others.iter().copied())
            .zip(&self.objectives.list)
            .map(|(v, m)| v.map_or(f64::INFINITY, |v| m.mode.key(v)));
        let mut values: Vec<f64> = values.collect();
        values.resize(self.objectives.list.len(), f64::INFINITY);
        Score {
            values,
            violation: arrival.violation,
        }
    }
}
