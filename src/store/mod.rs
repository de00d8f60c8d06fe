//! The results directory, the single source of truth of a sweep:
//!
//! ```text
//! results/
//!   sweep.json            the last plan run here: name, axes, trial ids in order
//!   trials/<id>/          one folder per trial (see [`trial_dir`])
//!   trials.csv curves.csv summary.md   reports, regenerated from the above
//! ```

pub mod atomic;
pub mod manifest;
pub mod trial_dir;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use manifest::Manifest;
pub use trial_dir::{MetricRow, TrialDir, TrialResult, TrialState, TrialStatus};

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

    /// Reads `sweep.json`.
    pub fn manifest(&self) -> anyhow::Result<Manifest> {
        Manifest::read(&self.root)
    }

    /// Replaces `sweep.json` atomically.
    pub fn write_manifest(&self, manifest: &Manifest) -> anyhow::Result<()> {
        manifest.write(&self.root)
    }
}
