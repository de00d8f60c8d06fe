//! `rungs.jsonl`: the decisions of early stopping, one line per rung, written before they are
//! acted on, so that a resumed (or followed) search reads them back instead of deciding again.

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
    /// Its held-out perplexity at the rung, averaged over its seeds.
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
}

/// The decisions stored in the results folder `root`, in rung order.
pub fn read(root: &Path) -> anyhow::Result<Vec<RungDecision>> {
    decision_log::read(&root.join(FILE))
}

/// Appends one decision (synced to disk before it is acted on).
pub fn append(root: &Path, decision: &RungDecision) -> anyhow::Result<()> {
    decision_log::append(&root.join(FILE), decision)
}

/// Removes the decisions (a new search over the folder).
pub fn clear(root: &Path) -> anyhow::Result<()> {
    decision_log::clear(&root.join(FILE))
}
