//! Reads what a results folder holds about the sweep last run there.

use anyhow::Context;

use crate::spec::TrialConfig;
use crate::store::{Manifest, MetricRow, Store, TrialResult, TrialState, TrialStatus};

/// Everything stored about one trial.
#[derive(Debug, Clone)]
pub struct TrialRecord {
    /// Its configuration.
    pub config: TrialConfig,
    /// Pending, partial or finished.
    pub state: TrialState,
    /// Its metric rows, one per step trained.
    pub metrics: Vec<MetricRow>,
}

impl TrialRecord {
    /// The result, when finished.
    pub fn result(&self) -> Option<&TrialResult> {
        match &self.state {
            TrialState::Finished(r) => Some(r),
            _ => None,
        }
    }

    /// The result, when the trial completed successfully.
    pub fn completed(&self) -> Option<&TrialResult> {
        self.result().filter(|r| r.status == TrialStatus::Completed)
    }

    /// `completed`, `failed`, `running`, `partial` or `pending`.
    pub fn status_name(&self) -> &'static str {
        match &self.state {
            TrialState::Finished(r) if r.status == TrialStatus::Completed => "completed",
            TrialState::Finished(_) => "failed",
            TrialState::Running { .. } => "running",
            TrialState::Partial { .. } => "partial",
            TrialState::Pending => "pending",
        }
    }
}

/// The sweep last run in a results folder, with all its trials.
#[derive(Debug, Clone)]
pub struct SweepRecord {
    /// `sweep.json`.
    pub manifest: Manifest,
    /// The trials, in expansion order.
    pub trials: Vec<TrialRecord>,
}

impl SweepRecord {
    /// Number of trials whose [`TrialRecord::status_name`] is `status`.
    pub fn count(&self, status: &str) -> usize {
        self.trials
            .iter()
            .filter(|t| t.status_name() == status)
            .count()
    }
}

/// Reads the manifest and every trial it lists.
pub fn load(store: &Store) -> anyhow::Result<SweepRecord> {
    let manifest = store.manifest()?;
    let trials = manifest
        .trials
        .iter()
        .map(|id| {
            let dir = store.trial(id);
            let config = dir
                .config()
                .with_context(|| format!("trial {id} is listed in sweep.json but unreadable"))?;
            Ok(TrialRecord {
                config,
                state: dir.state()?,
                // A torn last line (a worker killed mid-write) is left out, not an error.
                metrics: dir.metrics_readable().0,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(SweepRecord { manifest, trials })
}
