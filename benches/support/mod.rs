//! What the search benches share: running a grid file once into its results folder, and the
//! statistics of their tables.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `sweep FILE --out RESULTS --jobs JOBS` unless `sweep status` says the results folder is
/// already finished (running it again would add to its wall time): a rerun only rereads.
pub fn run_once(file: &Path, results: &Path, jobs: usize) -> anyhow::Result<()> {
    let finished = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("status")
        .arg(results)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !finished {
        let status = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg(file)
            .arg("--out")
            .arg(results)
            .args(["--jobs", &jobs.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "{} failed: {status}", file.display());
    }
    Ok(())
}

/// A number from the environment variable `name`, or `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The mean of `v`.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The sample standard deviation of `v`.
pub fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0).max(1.0)).sqrt()
}

/// The smallest of `v`.
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The largest of `v`.
pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
