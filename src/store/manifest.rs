//! `sweep.json`: which trials the last sweep run in a results folder consists of, so that
//! reports describe exactly that grid even when the folder holds trials of earlier grids.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic;

/// File name of the manifest inside a results folder.
pub const FILE: &str = "sweep.json";

/// The plan last run in a results folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The sweep's name.
    pub name: String,
    /// The grid file it came from.
    pub grid_file: PathBuf,
    /// Corpus name (empty for a program sweep).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub corpus: String,
    /// The command of a program sweep, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The metric a program sweep optimises; absent for the built-in model (held-out
    /// perplexity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<crate::spec::MetricSpec>,
    /// Every objective, when the sweep has several (the first is the sweep's metric).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<crate::spec::MetricSpec>,
    /// Limits a configuration must keep to be feasible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<crate::spec::Constraint>,
    /// Swept parameters, in file order.
    pub axes: Vec<String>,
    /// Those of them that are ranges drawn by a random search (reports show them as scatter,
    /// not one row per value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<String>,
    /// Those ranges drawn uniformly in the logarithm (charts use a log axis for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_ranges: Vec<String>,
    /// Trial ids, in expansion order.
    pub trials: Vec<String>,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Wall time of the runs that produced the results (added up over the runs of the same
    /// grid), once the last one finished.
    pub wall_seconds: Option<f64>,
    /// Trials trained during that wall time; the others were trained by runs of other grids,
    /// or by runs killed before they could record their time. Absent in manifests from
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained: Option<usize>,
    /// Concurrent workers used (local runs).
    pub jobs: usize,
    /// `"slurm"` when the trials ran as Slurm job arrays; absent for local runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
}

impl Manifest {
    /// The metric the sweep optimises.
    pub fn objective(&self) -> crate::spec::MetricSpec {
        self.metric
            .clone()
            .unwrap_or_else(crate::spec::MetricSpec::builtin)
    }

    /// What the sweep optimises: its objectives (one unless the grid file listed several) and
    /// constraints.
    pub fn objectives(&self) -> crate::spec::Objectives {
        crate::spec::Objectives {
            list: match self.objectives.is_empty() {
                true => vec![self.objective()],
                false => self.objectives.clone(),
            },
            constraints: self.constraints.clone(),
        }
    }

    /// Reads the manifest of the results folder `root`.
    pub fn read(root: &Path) -> anyhow::Result<Manifest> {
        atomic::read_json(&root.join(FILE))
    }

    /// Writes the manifest into the results folder `root`.
    pub fn write(&self, root: &Path) -> anyhow::Result<()> {
        atomic::write_json(&root.join(FILE), self)
    }
}
