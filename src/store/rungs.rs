//! `rungs.jsonl`: the decisions of early stopping, one line per rung, written before they are
//! acted on, so that a resumed (or followed) search reads them back instead of deciding again.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

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
    let path = path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} is damaged at line {}", path.display(), i + 1))
        })
        .collect()
}

/// Appends one decision (synced to disk before it is acted on).
pub fn append(root: &Path, decision: &RungDecision) -> anyhow::Result<()> {
    let path = path(root);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{}", serde_json::to_string(decision)?)?;
    file.sync_all()?;
    Ok(())
}

/// Removes the decisions (a new search over the folder).
pub fn clear(root: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path(root)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path(root).display()))
        }
        _ => Ok(()),
    }
}

fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}
