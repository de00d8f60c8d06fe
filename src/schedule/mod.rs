//! Scheduling beyond "train every trial": early stopping by synchronous successive halving and
//! Hyperband ([`halving`]) or asynchronously ([`asha`]'s rules, run by [`asha_search`]), and
//! TPE's proposals, in waves ([`tpe`], with synchronous halving) or pipelined
//! ([`tpe_pipeline`]); all of them rank by one objective or several ([`scoring`]). Every
//! decision is made from stored results only, never from timing, and stored in the results
//! folder before it is acted on.

pub mod asha;
pub mod asha_search;
pub mod halving;
pub mod scoring;
pub mod tpe;
pub mod tpe_pipeline;

pub use halving::successive_halving;

use crate::spec::TrialConfig;

/// How training ended: a set of trials as the executor reports it, or a whole search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every trial got its outcome (and every rung is decided and trained).
    Done,
    /// Training stopped (a signal); run the command again to go on.
    Interrupted,
    /// The trials were handed to Slurm (`--detach`).
    Detached,
}

/// `trials` grouped by everything but the seed (configurations), in order, with the key that
/// names each in `rungs.jsonl` and `proposals.jsonl`.
pub fn configurations(trials: &[TrialConfig]) -> Vec<(String, Vec<&TrialConfig>)> {
    let mut groups: Vec<(String, Vec<&TrialConfig>)> = Vec::new();
    for trial in trials {
        let key = trial.config_key();
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(trial),
            None => groups.push((key, vec![trial])),
        }
    }
    groups
}
