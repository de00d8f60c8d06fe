//! The trade-off front of a sweep with several objectives: each configuration's mean value of
//! every objective over its seeds, and which configurations no other beats. A configuration is
//! dominated only when another keeps every constraint, is no worse on any objective by more
//! than that objective's seed noise margin ([`analysis::NOISE_SIGMAS`] × the pooled seed
//! standard deviation), and better on one by more than its margin; so seed noise alone never
//! drops a configuration from the front. A configuration that breaks a constraint is never on
//! it.

use super::analysis;
use super::groups::Grouped;
use super::values;
use crate::measures::pareto;
use crate::spec::MetricSpec;

/// The front of a sweep with several objectives.
#[derive(Debug, Clone)]
pub struct Front {
    /// The objectives, in the grid file's order.
    pub objectives: Vec<MetricSpec>,
    /// For each configuration ([`Grouped::configs`] order), its mean of each objective.
    pub values: Vec<Vec<Option<f64>>>,
    /// The pooled seed standard deviation of each objective (`None` with one seed each).
    pub noise: Vec<Option<f64>>,
    /// The margin of each objective within which a difference does not count.
    pub margins: Vec<f64>,
    /// For each configuration: it has every value, keeps every constraint, and no other
    /// dominates it.
    pub on_front: Vec<bool>,
}

impl Front {
    /// The front of `g`; `None` when the sweep has a single objective.
    pub fn of(g: &Grouped) -> Option<Front> {
        let objectives = &g.objectives.list;
        if objectives.len() < 2 {
            return None;
        }
        let o = &g.objective;
        let values: Vec<Vec<Option<f64>>> = g
            .configs
            .iter()
            .map(|c| {
                objectives
                    .iter()
                    .map(|m| values::mean(&c.trials, &m.name, o))
                    .collect()
            })
            .collect();
        let noise: Vec<Option<f64>> = objectives
            .iter()
            .map(|m| {
                let per_config: Vec<Vec<f64>> = g
                    .configs
                    .iter()
                    .map(|c| values::of_trials(&c.trials, &m.name, o))
                    .collect();
                analysis::pooled_seed_std(&per_config)
            })
            .collect();
        let margins: Vec<f64> = noise
            .iter()
            .map(|s| s.map_or(0.0, |s| analysis::NOISE_SIGMAS * s))
            .collect();
        let candidates: Vec<usize> = (0..g.configs.len())
            .filter(|&i| g.configs[i].feasible() && values[i].iter().all(Option::is_some))
            .collect();
        let points: Vec<Vec<f64>> = candidates
            .iter()
            .map(|&i| {
                values[i]
                    .iter()
                    .zip(objectives)
                    .map(|(v, m)| m.mode.key(v.expect("a candidate has every value")))
                    .collect()
            })
            .collect();
        let mut on_front = vec![false; g.configs.len()];
        for (k, on) in pareto::non_dominated(&points, &margins)
            .into_iter()
            .enumerate()
        {
            on_front[candidates[k]] = on;
        }
        Some(Front {
            objectives: objectives.clone(),
            values,
            noise,
            margins,
            on_front,
        })
    }

    /// The configurations on the front, best first along the first objective.
    pub fn members(&self) -> Vec<usize> {
        let mut members: Vec<usize> = (0..self.on_front.len())
            .filter(|&i| self.on_front[i])
            .collect();
        let key = |i: usize| {
            self.objectives
                .iter()
                .zip(&self.values[i])
                .map(|(m, v)| m.mode.key(v.unwrap_or(f64::NAN)))
                .collect::<Vec<f64>>()
        };
        members.sort_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            ka.iter()
                .zip(&kb)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        members
    }

    /// A configuration on the front that dominates configuration `i` (the first along the first
    /// objective), if any.
    pub fn dominator(&self, i: usize) -> Option<usize> {
        let oriented = |k: usize| -> Option<Vec<f64>> {
            self.values[k]
                .iter()
                .zip(&self.objectives)
                .map(|(v, m)| v.map(|v| m.mode.key(v)))
                .collect()
        };
        let target = oriented(i)?;
        self.members()
            .into_iter()
            .find(|&j| oriented(j).is_some_and(|p| pareto::dominates(&p, &target, &self.margins)))
    }

    /// The configurations with every value that keep the constraints but are dominated.
    pub fn dominated(&self, g: &Grouped) -> Vec<usize> {
        (0..self.on_front.len())
            .filter(|&i| {
                !self.on_front[i]
                    && g.configs[i].feasible()
                    && self.values[i].iter().all(Option::is_some)
            })
            .collect()
    }

    /// The hypervolume the front covers up to `reference` (each objective's own values).
    pub fn hypervolume(&self, reference: &[f64]) -> f64 {
        let points: Vec<Vec<f64>> = self
            .members()
            .into_iter()
            .map(|i| {
                self.values[i]
                    .iter()
                    .zip(&self.objectives)
                    .map(|(v, m)| m.mode.key(v.unwrap_or(f64::NAN)))
                    .collect()
            })
            .collect();
        let reference: Vec<f64> = reference
            .iter()
            .zip(&self.objectives)
            .map(|(r, m)| m.mode.key(*r))
            .collect();
        pareto::hypervolume(&points, &reference)
    }
}
