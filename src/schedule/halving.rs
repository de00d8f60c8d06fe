//! Early stopping by synchronous successive halving: every configuration trains to the first
//! rung; at each rung the configurations are ranked by the objective at the rung's step (mean
//! over their seeds; a configuration goes on or stops as a whole), or with several objectives
//! by non-dominated sorting and crowding distance ([`crate::measures::pareto::rank_order`]);
//! the best ⌈n/η⌉ go on to the next rung, the others stop there with their checkpoints.
//!
//! Decisions never depend on timing: a rung is decided only when every configuration at it
//! has reached it, from the measured numbers, ties broken by the order of the plan; each
//! decision is stored in the results folder (`rungs.jsonl`) before it is acted on, so a run
//! that is interrupted, resumed, run with other `--jobs` or on Slurm decides the same. The
//! price is idle cores at the tail of each rung (docs/time-to-a-good-model.md measures it).

use super::scoring::Scoring;
use super::{configurations, Ended};
use crate::measures::pareto::{rank_order, Score};
use crate::spec::search::EarlyStopping;
use crate::spec::TrialConfig;
use crate::store::rungs::{self, RungDecision, Stopped};
use crate::store::{Store, TrialStatus};

/// Runs successive halving (one bracket, or Hyperband's brackets in lockstep: round j trains
/// every bracket's j-th rung together) over `trials`, training each round's trials with
/// `train` (which gets their configurations with the rung's budget). The brackets are numbered
/// from `first_bracket` in `rungs.jsonl` (a TPE search runs one search per wave); rungs rank
/// by `scoring`.
pub fn successive_halving(
    store: &Store,
    trials: &[TrialConfig],
    es: &EarlyStopping,
    scoring: &Scoring,
    first_bracket: usize,
    mut train: impl FnMut(&[TrialConfig]) -> anyhow::Result<Ended>,
) -> anyhow::Result<Ended> {
    let configs = configurations(trials);
    let steps = trials.first().map_or(0, |t| t.params().steps());
    let rung_steps = es.rungs(steps);
    let mut stored = rungs::read(store.root())?;
    // Each bracket: the rung it starts at and its configurations (consecutive in draw order).
    let mut next = 0;
    let mut brackets: Vec<(usize, Vec<usize>)> = es
        .brackets(configs.len(), steps)
        .into_iter()
        .map(|(start, n)| {
            let members = (next..next + n).collect();
            next += n;
            (start, members)
        })
        .collect();
    for round in 0..rung_steps.len() {
        let active: Vec<(usize, usize)> = (0..brackets.len())
            .map(|b| (b, brackets[b].0 + round))
            .filter(|&(_, k)| k < rung_steps.len())
            .collect();
        if active.is_empty() {
            break;
        }
        let mut to_run = Vec::new();
        let mut said = Vec::new();
        for &(b, k) in &active {
            let trials = prepare(store, &configs, &brackets[b].1, rung_steps[k], steps)?;
            said.push(format!(
                "{}rung {} of {} (step {}): {}, {}",
                if brackets.len() > 1 {
                    format!("bracket {}, ", b + 1)
                } else {
                    String::new()
                },
                k + 1,
                rung_steps.len(),
                rung_steps[k],
                crate::measures::numbers::count(brackets[b].1.len(), "configuration"),
                match trials.len() {
                    1 => "1 trial to train".to_string(),
                    n => format!("{n} trials to train"),
                }
            ));
            to_run.extend(trials);
        }
        if !to_run.is_empty() {
            eprintln!("{}", said.join("; "));
            match train(&to_run)? {
                Ended::Done => {}
                ended => return Ok(ended),
            }
        }
        for &(b, k) in &active {
            if k + 1 == rung_steps.len() {
                continue;
            }
            let participants = &brackets[b].1;
            let keys: Vec<&str> = participants
                .iter()
                .map(|&c| configs[c].0.as_str())
                .collect();
            let found = stored
                .iter()
                .find(|d| d.bracket == first_bracket + b && d.rung == k)
                .cloned();
            let decision = match found {
                Some(d) if d.step == rung_steps[k] && same_configs(&d, &keys) => d,
                stale => {
                    if stale.is_some() {
                        eprintln!(
                            "warning: the stored rung decisions are of another search; deciding \
                             again"
                        );
                        rungs::clear(store.root())?;
                        stored.clear();
                    }
                    let at = (first_bracket + b, k);
                    let d = decide_and_store(
                        store,
                        &configs,
                        participants,
                        at,
                        rung_steps[k],
                        (es, scoring),
                    )?;
                    stored.push(d.clone());
                    d
                }
            };
            brackets[b].1 = decision
                .promoted
                .iter()
                .filter_map(|key| configs.iter().position(|c| &c.0 == key))
                .collect();
        }
    }
    Ok(Ended::Done)
}

/// Whether `decision` was made over exactly the configurations `keys`.
fn same_configs(decision: &RungDecision, keys: &[&str]) -> bool {
    let mut decided: Vec<&str> = decision
        .promoted
        .iter()
        .map(String::as_str)
        .chain(decision.stopped.iter().map(|s| s.config.as_str()))
        .collect();
    let mut keys = keys.to_vec();
    decided.sort_unstable();
    keys.sort_unstable();
    decided == keys
}

/// Writes each participating trial's budget for the rung into its folder and returns those
/// that have not reached it yet (a stopped trial promoted to this rung loses its stopped
/// result and continues from its checkpoint).
fn prepare(
    store: &Store,
    configs: &[(String, Vec<&TrialConfig>)],
    participants: &[usize],
    budget: usize,
    steps: usize,
) -> anyhow::Result<Vec<TrialConfig>> {
    let mut to_run = Vec::new();
    for &c in participants {
        for trial in &configs[c].1 {
            let dir = store.trial(&trial.id);
            let reached = match dir.result() {
                Ok(Some(r)) => match r.status {
                    TrialStatus::Stopped => r.steps_done >= budget,
                    TrialStatus::Completed | TrialStatus::Failed => true,
                },
                _ => false,
            };
            if reached {
                continue;
            }
            let mut config = (*trial).clone();
            config.run.budget = (budget < steps).then_some(budget);
            dir.prepare(&config)?;
            if matches!(dir.result(), Ok(Some(_)) | Err(_)) {
                dir.clear_result()?;
            }
            to_run.push(config);
        }
    }
    Ok(to_run)
}

/// Ranks the configurations at rung `k` (step `step`), keeps the best ⌈n/η⌉, and stores the
/// decision before it is acted on.
fn decide_and_store(
    store: &Store,
    configs: &[(String, Vec<&TrialConfig>)],
    participants: &[usize],
    (bracket, k): (usize, usize),
    step: usize,
    (es, scoring): (&EarlyStopping, &Scoring),
) -> anyhow::Result<RungDecision> {
    let mode = scoring.primary().mode;
    let scores: Vec<(usize, Score)> = participants
        .iter()
        .map(|&c| (c, scoring.at(store, &configs[c].1, step)))
        .collect();
    let mut decision = decide(&scores, |c| configs[c].0.clone(), k, step, es);
    decision.bracket = bracket;
    for stopped in &mut decision.stopped {
        // Scores are oriented (lower is better); the record keeps the metric's own value.
        stopped.heldout = mode.key(stopped.heldout);
    }
    rungs::append(store.root(), &decision)?;
    Ok(decision)
}

/// The decision at rung `k` from each configuration's score, in [`rank_order`] (ties go to
/// the configuration earlier in the plan).
pub fn decide(
    scores: &[(usize, Score)],
    key: impl Fn(usize) -> String,
    k: usize,
    step: usize,
    es: &EarlyStopping,
) -> RungDecision {
    let mut by_plan = scores.to_vec();
    by_plan.sort_by_key(|s| s.0);
    let order = rank_order(&by_plan.iter().map(|s| s.1.clone()).collect::<Vec<_>>());
    let ranked: Vec<(usize, f64)> = order
        .into_iter()
        .map(|i| (by_plan[i].0, by_plan[i].1.primary()))
        .collect();
    let keep = es.keep(ranked.len());
    RungDecision {
        bracket: 0,
        rung: k,
        step,
        reached: ranked.len(),
        promoted: ranked[..keep].iter().map(|&(c, _)| key(c)).collect(),
        stopped: ranked[keep..]
            .iter()
            .enumerate()
            .map(|(i, &(c, heldout))| Stopped {
                config: key(c),
                heldout,
                rank: keep + i + 1,
            })
            .collect(),
        arrived: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_third_goes_on_and_ties_go_to_the_earlier_configuration() {
        let es = EarlyStopping {
            method: crate::spec::search::StoppingMethod::SuccessiveHalving,
            min_steps: 100,
            eta: 3,
        };
        let scores = [
            (0, 9.0),
            (1, 7.0),
            (2, 8.0),
            (3, 7.0),
            (4, f64::INFINITY),
            (5, 8.5),
        ];
        let scores: Vec<(usize, Score)> =
            scores.iter().map(|&(c, s)| (c, Score::single(s))).collect();
        let d = decide(&scores, |c| format!("c{c}"), 0, 100, &es);
        assert_eq!(d.promoted, ["c1", "c3"]);
        assert_eq!(d.reached, 6);
        let stopped: Vec<(&str, usize)> = d
            .stopped
            .iter()
            .map(|s| (s.config.as_str(), s.rank))
            .collect();
        assert_eq!(stopped, [("c2", 3), ("c5", 4), ("c0", 5), ("c4", 6)]);
        // The order scores arrive in does not matter.
        let mut shuffled = scores.to_vec();
        shuffled.reverse();
        assert_eq!(decide(&shuffled, |c| format!("c{c}"), 0, 100, &es), d);
    }
}
