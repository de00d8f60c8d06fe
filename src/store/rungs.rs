//! `rungs.jsonl`: the decisions of early stopping, written before they are acted on, so that a
//! resumed (or followed) search reads them back instead of deciding again. Synchronous
//! successive halving writes one line per rung. Asynchronous successive halving writes one
//! line each time a rung's next entrant (in plan order) has its result (`arrived`: which
//! configuration, its value, and what that promoted), and a closing line per rung like the
//! synchronous one once the rung can take no more entrants.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::decision_log;

/// File name inside a results folder.
pub const FILE: &str = "rungs.jsonl";

/// A configuration stopped at a rung, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    /// The configuration's key.
    pub config: String,
    /// Its held-out perplexity at the rung, averaged over its seeds (`"inf"` when a trial
    /// failed before it).
    #[serde(with = "super::trial_dir::non_finite::always")]
    pub heldout: f64,
    /// Its rank among the configurations at the rung (1 = best).
    pub rank: usize,
}

/// What was decided at one rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungDecision {
    /// The Hyperband bracket (0 for successive halving).
    #[serde(default)]
    pub bracket: usize,
    /// The rung's index (0 = first).
    pub rung: usize,
    /// The step of the rung.
    pub step: usize,
    /// How many configurations reached it.
    pub reached: usize,
    /// The keys of the configurations that go on, best first.
    pub promoted: Vec<String>,
    /// Those that stop here.
    pub stopped: Vec<Stopped>,
    /// Asynchronous successive halving: the entrant whose result made this decision (the
    /// `reached`-th); `promoted` are then the configurations this result promoted. `None` on
    /// a rung's closing line (and every line of synchronous successive halving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived: Option<Arrival>,
}

/// A configuration's result at a rung of asynchronous successive halving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrival {
    /// The configuration's key.
    pub config: String,
    /// Its objective at the rung averaged over its seeds (the metric's own value); `None`
    /// when a trial failed or has no finite value there.
    #[serde(default, with = "super::trial_dir::non_finite")]
    pub value: Option<f64>,
    /// With several objectives: the others' values (their own, in the grid file's order after
    /// the first; `null` where there is none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<Option<f64>>,
    /// How far it breaks the constraints a search decides by (0, left out, when it keeps them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub violation: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The decisions stored in the results folder `root`, in rung order.
pub fn read(root: &Path) -> anyhow::Result<Vec<RungDecision>> {
    decision_log::read(&root.join(FILE))
}

/// Appends one decision (synced to disk before it is acted on).
pub fn append(root: &Path, decision: &RungDecision) -> anyhow::Result<()> {
    decision_log::append(&root.join(FILE), decision)
}

/// Replaces the decisions with `decisions` at once.
pub fn rewrite(root: &Path, decisions: &[RungDecision]) -> anyhow::Result<()> {
    decision_log::rewrite(&root.join(FILE), decisions)
}

/// Removes the decisions (a new search over the folder).
pub fn clear(root: &Path) -> anyhow::Result<()> {
    decision_log::clear(&root.join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_that_failed_before_its_rung_reads_back() {
        // Its value is infinite; JSON has no infinity, and `null` would not read back.
        let dir = tempfile::tempdir().unwrap();
        let decision = RungDecision {
            bracket: 0,
            rung: 0,
            step: 100,
            reached: 2,
            promoted: vec!["a".into()],
            stopped: vec![Stopped {
                config: "b".into(),
                heldout: f64::INFINITY,
                rank: 2,
            }],
            arrived: Some(Arrival {
                config: "b".into(),
                value: None,
                others: vec![Some(2.5), None],
                violation: 0.25,
            }),
        };
        append(dir.path(), &decision).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains(r#""heldout":"inf""#), "{text}");
        assert_eq!(read(dir.path()).unwrap(), vec![decision]);
    }
}
