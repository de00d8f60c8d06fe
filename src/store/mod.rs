//! The results directory, the single source of truth of a sweep:
//!
//! ```text
//! results/
//!   sweep.json            the last plan run here: name, axes, trial ids in order
//!   sweep.lock            held by the sweep running here (its PID inside)
//!   rungs.jsonl           early stopping's decisions (see [`rungs`])
//!   proposals.jsonl       how a TPE search chose each configuration (see [`proposals`])
//!   trials/<id>/          one folder per trial (see [`trial_dir`]; its worker attempts:
//!                         [`attempts`])
//!   trials.csv curves.csv summary.md   reports, regenerated from the above
//! ```
//!
//! Also here: [`atomic`] writes, the [`lock`]s, [`manifest`] (`sweep.json`), the metric rows
//! of both kinds of trial ([`curves`], [`program_metrics`], read live by [`metrics_tail`]),
//! the append-only [`decision_log`] under `rungs.jsonl` and `proposals.jsonl`, and what the
//! store checks of a checkpoint without decoding it ([`checkpoint_file`]).

pub mod atomic;
pub mod attempts;
pub mod checkpoint_file;
pub mod curves;
pub mod decision_log;
pub mod lock;
pub mod manifest;
pub mod metrics_tail;
pub mod program_metrics;
pub mod proposals;
pub mod rungs;
pub mod trial_dir;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use curves::Curves;
pub use manifest::Manifest;
pub use program_metrics::{ProgramLine, ProgramRow};
pub use trial_dir::{
    DamagedFile, FinalState, GpuUsed, MetricOutcome, MetricRow, StoredSample, TrialDir,
    TrialResult, TrialState, TrialStatus,
};

use crate::spec::TrialConfig;

/// A results directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens `root`, creating it and its `trials/` folder if needed.
    pub fn create(root: &Path) -> anyhow::Result<Store> {
        let trials = root.join("trials");
        std::fs::create_dir_all(&trials)
            .with_context(|| format!("cannot create results folder {}", trials.display()))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// A view of `root` that creates nothing (for dry runs); it may not exist.
    pub fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    /// Opens an existing results directory without changing anything.
    pub fn open(root: &Path) -> anyhow::Result<Store> {
        if !root.join(manifest::FILE).is_file() {
            anyhow::bail!(
                "{} is not a sweep results folder (no {} in it)",
                root.display(),
                manifest::FILE
            );
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of trial `id` (which may not exist yet).
    pub fn trial(&self, id: &str) -> TrialDir {
        TrialDir::new(self.root.join("trials").join(id))
    }

    /// Every trial folder here whose config.json can be read and whose name is the id of that
    /// configuration, with the configuration (the others are left out).
    pub fn stored_trials(&self) -> Vec<(TrialDir, TrialConfig)> {
        let Ok(entries) = std::fs::read_dir(self.root.join("trials")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let dir = TrialDir::new(entry.path());
                let config = dir.config().ok()?;
                let consistent = entry.file_name().to_str() == Some(config.id.as_str())
                    && config.identity() == config.id;
                consistent.then_some((dir, config))
            })
            .collect()
    }

    /// Locks the folder for one sweep run, or says which process holds it.
    pub fn lock(&self) -> anyhow::Result<lock::FileLock> {
        let path = self.root.join("sweep.lock");
        lock::FileLock::try_acquire(&path).map_err(|e| match e {
            lock::LockError::Held { pid } => anyhow::anyhow!(
                "results folder {} is in use by another sweep ({}); wait for it to finish, \
                 stop it, or choose another folder with --out",
                self.root.display(),
                pid.map_or_else(|| "unknown pid".to_string(), |p| format!("pid {p}"))
            ),
            e => e.into(),
        })
    }

    /// Reads `sweep.json`.
    pub fn manifest(&self) -> anyhow::Result<Manifest> {
        Manifest::read(&self.root)
    }

    /// Replaces `sweep.json` atomically.
    pub fn write_manifest(&self, manifest: &Manifest) -> anyhow::Result<()> {
        manifest.write(&self.root)
    }
}

/// Whether `shorter` is a shorter run of `trial`'s configuration: the same parameters and
/// corpus, fewer steps. A run of `trial` can continue from its last step (see
/// [`TrialDir::final_state`]). Only model trials: sweep cannot move a program's checkpoint.
pub fn is_shorter_run(shorter: &TrialConfig, trial: &TrialConfig) -> bool {
    let (Some((short, short_corpus)), Some((long, long_corpus))) = (shorter.model(), trial.model())
    else {
        return false;
    };
    short.steps < long.steps
        && short_corpus.sha256 == long_corpus.sha256
        && crate::spec::TrainParams {
            steps: long.steps,
            ..short.clone()
        } == *long
}
