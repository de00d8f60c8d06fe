//! The results directory, the single source of truth of a sweep:
//!
//! ```text
//! results/
//!   sweep.json            the last plan run here: name, axes, trial ids in order
//!   sweep.lock            held by the sweep running here (its PID inside)
//!   trials/<id>/          one folder per trial (see [`trial_dir`])
//!   trials.csv curves.csv summary.md   reports, regenerated from the above
//! ```

pub mod atomic;
pub mod lock;
pub mod manifest;
pub mod rungs;
pub mod trial_dir;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use manifest::Manifest;
pub use trial_dir::{
    DamagedFile, MetricRow, StoredSample, TrialDir, TrialResult, TrialState, TrialStatus,
};

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
