//! `proposals.jsonl`: how each configuration of a TPE search was chosen, one line per
//! configuration in order, written before it trains, so that a resumed, followed or extended
//! search trains the same configurations instead of proposing again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::decision_log;

/// File name inside a results folder.
pub const FILE: &str = "proposals.jsonl";

/// Who chose a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposedBy {
    /// Drawn at random, as random search draws it (TPE's `startup`).
    Random,
    /// Proposed by TPE from the results of earlier configurations.
    Tpe,
}

/// How one configuration was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its place in the search (0 = first).
    pub index: usize,
    /// Drawn at random or proposed by TPE.
    pub by: ProposedBy,
    /// Its key (the trial id with the seed left out).
    pub config: String,
    /// Its value of each searched axis.
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The keys of the configurations TPE learned from, in order (none for a random one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned_from: Vec<String>,
    /// A digest of the search settings it was chosen under (seed, startup, lag, axes).
    pub search: String,
}

/// The proposals stored in the results folder `root`, in order.
pub fn read(root: &Path) -> anyhow::Result<Vec<Proposal>> {
    decision_log::read(&root.join(FILE))
}

/// Appends one proposal (synced to disk before it trains).
pub fn append(root: &Path, proposal: &Proposal) -> anyhow::Result<()> {
    decision_log::append(&root.join(FILE), proposal)
}

/// Keeps only `kept` (the proposals still valid).
pub fn keep(root: &Path, kept: &[Proposal]) -> anyhow::Result<()> {
    decision_log::rewrite(&root.join(FILE), kept)
}
