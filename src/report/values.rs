//! The value of any objective or constraint name for a trial and for a configuration: the
//! sweep's metric (its final value), another metric a program reported (its last value), or
//! a measure sweep recorded ([`Measure`]). Only trials that completed without diverging have
//! values: a trial stopped at a rung trained less, so its cost and quality are not comparable.

use super::load::TrialRecord;
use super::objective::Objective;
use crate::spec::{Constraint, Measure};

/// The value of `name` for trial `t`, `None` when it has none (not completed, diverged, or
/// the name was not reported or measured).
pub fn of_trial(t: &TrialRecord, name: &str, o: &Objective) -> Option<f64> {
    let m = t.healthy()?;
    t.completed()?;
    let r = t.result()?;
    let value = match Measure::named(name) {
        Some(Measure::WallSeconds) => Some(r.wall_seconds),
        Some(Measure::StepsPerSec) => r.steps_per_sec,
        Some(Measure::PeakMemory) => r.peak_memory_mb,
        Some(Measure::Parameters) => r.parameters.map(|p| p as f64),
        Some(Measure::PeakGpuMemory) => r.gpu.as_ref().map(|g| g.peak_memory_mb),
        None if name == o.name() => m.final_value,
        None => t.curves().last(name).map(|(_, v)| v),
    };
    value.filter(|v| v.is_finite())
}

/// The values of `name` for each of `trials` that has one.
pub fn of_trials(trials: &[&TrialRecord], name: &str, o: &Objective) -> Vec<f64> {
    trials.iter().filter_map(|t| of_trial(t, name, o)).collect()
}

/// The mean value of `name` over `trials`, `None` when none has one.
pub fn mean(trials: &[&TrialRecord], name: &str, o: &Objective) -> Option<f64> {
    let values = of_trials(trials, name, o);
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The constraints a configuration of `trials` breaks, each with its mean value (`None`: it
/// has no value, which breaks it). Empty for a configuration with no completed trial: whether
/// it is feasible is not known yet.
pub fn broken<'c>(
    trials: &[&TrialRecord],
    constraints: &'c [Constraint],
    o: &Objective,
) -> Vec<(&'c Constraint, Option<f64>)> {
    if !trials
        .iter()
        .any(|t| t.completed().is_some() && t.healthy().is_some())
    {
        return Vec::new();
    }
    constraints
        .iter()
        .map(|c| (c, mean(trials, &c.name, o)))
        .filter(|(c, v)| c.violation(*v) > 0.0)
        .collect()
}
