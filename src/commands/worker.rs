//! `sweep worker <trial-dir>`: train one trial folder.

use std::path::Path;

use super::exit;
use crate::executor::worker;
use crate::store::TrialStatus;

/// Runs the worker; exit 0 when the trial completed, 1 when it failed and was recorded.
pub fn run(trial_dir: &Path) -> anyhow::Result<u8> {
    Ok(match worker::run(trial_dir)? {
        TrialStatus::Completed => exit::OK,
        TrialStatus::Failed => exit::TRIALS_FAILED,
    })
}
