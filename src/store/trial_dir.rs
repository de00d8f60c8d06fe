//! One trial's folder, the contract between orchestrator and worker:
//!
//! - `config.json`: written by the orchestrator before the worker starts ([`TrialConfig`]);
//! - `metrics.csv`: one row per step, appended by the worker; rows past the last checkpoint
//!   are discarded on resume and computed again;
//! - `checkpoint.safetensors` (and `checkpoint.prev.safetensors`, the one before): the
//!   complete training state, replaced atomically;
//! - `worker.lock`: held by the worker training the trial, so two never write one folder;
//! - `best.safetensors`: the weights at the lowest held-out perplexity so far (for sampling);
//! - `model.safetensors`: the final weights of a completed trial;
//! - `result.json`: written last and atomically; its presence marks the trial as finished.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::{atomic, lock};
use crate::spec::TrialConfig;

/// How a finished trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Trained every step.
    Completed,
    /// Stopped by an error (non-finite loss, crash); see the reason.
    Failed,
}

/// `result.json`: the outcome and headline numbers of a finished trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// Completed or failed.
    pub status: TrialStatus,
    /// Why a trial failed.
    pub reason: Option<String>,
    /// Steps trained.
    pub steps_done: usize,
    /// Trainable parameters of the model.
    pub parameters: Option<usize>,
    /// Mean training perplexity of the last 50 steps.
    pub final_train_ppl: Option<f64>,
    /// Held-out perplexity after the last step.
    pub final_heldout_ppl: Option<f64>,
    /// Lowest held-out perplexity measured.
    pub best_heldout_ppl: Option<f64>,
    /// Training rate: steps per second of training time (held-out evaluations excluded).
    pub steps_per_sec: Option<f64>,
    /// Wall time of the worker.
    pub wall_seconds: f64,
    /// Peak resident memory of the worker process that finished the trial, in MiB.
    #[serde(default)]
    pub peak_memory_mb: Option<f64>,
}

/// One row of `metrics.csv` (and, with the trial id, of `curves.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// 1-based step.
    pub step: usize,
    /// Mean cross-entropy of the step's batch.
    pub train_loss: f64,
    /// exp(train_loss).
    pub train_ppl: f64,
    /// Held-out perplexity, where measured.
    pub heldout_ppl: Option<f64>,
    /// Seconds of training so far, held-out evaluations excluded (continues across resumes).
    pub elapsed_s: f64,
}

/// What a trial folder says about its trial.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialState {
    /// No folder or no metrics yet.
    Pending,
    /// A worker holds the trial's lock.
    Running { pid: Option<u32> },
    /// Some steps recorded, not finished.
    Partial { steps: usize },
    /// Finished: see the result.
    Finished(TrialResult),
}

/// A trial's folder.
#[derive(Debug, Clone)]
pub struct TrialDir {
    path: PathBuf,
}

const CONFIG: &str = "config.json";
const METRICS: &str = "metrics.csv";
const RESULT: &str = "result.json";
const CHECKPOINT: &str = "checkpoint.safetensors";
const PREVIOUS_CHECKPOINT: &str = "checkpoint.prev.safetensors";
const MODEL: &str = "model.safetensors";
const BEST: &str = "best.safetensors";
const LOCK: &str = "worker.lock";
const METRICS_HEADER: [&str; 5] = [
    "step",
    "train_loss",
    "train_ppl",
    "heldout_ppl",
    "elapsed_s",
];

impl TrialDir {
    /// The trial folder at `path`.
    pub fn new(path: PathBuf) -> TrialDir {
        TrialDir { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of `metrics.csv`.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(METRICS)
    }

    /// Creates the folder and writes `config.json`; any training state already there stays
    /// (the worker resumes from it).
    pub fn prepare(&self, config: &TrialConfig) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))?;
        atomic::write_json(&self.path.join(CONFIG), config)
    }

    /// Removes `result.json`, so that a finished (failed) trial runs again.
    pub fn clear_result(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.path.join(RESULT)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {RESULT} in {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Path of the worker lock.
    pub fn lock_path(&self) -> PathBuf {
        self.path.join(LOCK)
    }

    /// Saves checkpoint bytes atomically, keeping the one before as a fallback.
    pub fn write_checkpoint(&self, bytes: &[u8]) -> anyhow::Result<()> {
        atomic::write_keeping_previous(
            &self.path.join(CHECKPOINT),
            &self.path.join(PREVIOUS_CHECKPOINT),
            bytes,
        )
    }

    /// Existing checkpoint files, newest first.
    pub fn checkpoints(&self) -> Vec<PathBuf> {
        [CHECKPOINT, PREVIOUS_CHECKPOINT]
            .iter()
            .map(|f| self.path.join(f))
            .filter(|p| p.exists())
            .collect()
    }

    /// Writes the final weights of a completed trial.
    pub fn write_model(&self, bytes: &[u8]) -> anyhow::Result<()> {
        atomic::write(&self.path.join(MODEL), bytes)
    }

    /// Writes the weights at the best held-out perplexity so far.
    pub fn write_best(&self, bytes: &[u8]) -> anyhow::Result<()> {
        atomic::write(&self.path.join(BEST), bytes)
    }

    /// Path of the weights at the best held-out perplexity.
    pub fn best_path(&self) -> PathBuf {
        self.path.join(BEST)
    }

    /// Path of the final weights.
    pub fn model_path(&self) -> PathBuf {
        self.path.join(MODEL)
    }

    /// Reads `config.json`.
    pub fn config(&self) -> anyhow::Result<TrialConfig> {
        atomic::read_json(&self.path.join(CONFIG))
    }

    /// Reads `result.json`, `None` if the trial has not finished.
    pub fn result(&self) -> anyhow::Result<Option<TrialResult>> {
        let path = self.path.join(RESULT);
        if !path.exists() {
            return Ok(None);
        }
        atomic::read_json(&path).map(Some)
    }

    /// Writes `result.json` atomically: the last file a trial writes.
    pub fn write_result(&self, result: &TrialResult) -> anyhow::Result<()> {
        atomic::write_json(&self.path.join(RESULT), result)
    }

    /// Reads the rows of `metrics.csv` up to the first damaged one (a kill can leave a partial
    /// last line); the second value describes the damage, if any.
    pub fn metrics_readable(&self) -> (Vec<MetricRow>, Option<String>) {
        let path = self.metrics_path();
        let mut reader = match csv::Reader::from_path(&path) {
            Ok(r) => r,
            Err(_) => return (Vec::new(), None),
        };
        let mut rows = Vec::new();
        for row in reader.deserialize::<MetricRow>() {
            match row {
                Ok(r) => rows.push(r),
                Err(e) => return (rows, Some(format!("{} is damaged: {e}", path.display()))),
            }
        }
        (rows, None)
    }

    /// Replaces `metrics.csv` atomically with a header and `rows`.
    pub fn rewrite_metrics(&self, rows: &[MetricRow]) -> anyhow::Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.write_record(METRICS_HEADER)?;
        for r in rows {
            w.serialize(r)?;
        }
        atomic::write(&self.metrics_path(), &w.into_inner()?)
    }

    /// What the folder says about the trial.
    pub fn state(&self) -> anyhow::Result<TrialState> {
        if let Some(result) = self.result()? {
            return Ok(TrialState::Finished(result));
        }
        if let Some(pid) = lock::FileLock::holder(&self.lock_path()) {
            return Ok(TrialState::Running { pid });
        }
        let steps = self.metrics_readable().0.len();
        Ok(if steps == 0 {
            TrialState::Pending
        } else {
            TrialState::Partial { steps }
        })
    }

    /// Appends to `metrics.csv`, which must exist (see [`TrialDir::rewrite_metrics`]).
    pub fn metrics_appender(&self) -> anyhow::Result<MetricsWriter> {
        let path = self.metrics_path();
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(BufWriter::new(file));
        Ok(MetricsWriter { writer, path })
    }
}

/// Appends rows to a trial's `metrics.csv`.
pub struct MetricsWriter {
    writer: csv::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl MetricsWriter {
    /// Appends one row (buffered).
    pub fn push(&mut self, row: &MetricRow) -> anyhow::Result<()> {
        self.writer
            .serialize(row)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Flushes buffered rows and syncs them to disk.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().get_ref().sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize, heldout: Option<f64>) -> MetricRow {
        MetricRow {
            step,
            train_loss: 2.0,
            train_ppl: 2f64.exp(),
            heldout_ppl: heldout,
            elapsed_s: step as f64 * 0.5,
        }
    }

    #[test]
    fn metrics_round_trip_with_empty_heldout_cells() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        assert_eq!(t.state().unwrap(), TrialState::Pending);
        t.rewrite_metrics(&[]).unwrap();
        let mut w = t.metrics_appender().unwrap();
        let rows = vec![row(1, None), row(2, Some(9.5))];
        for r in &rows {
            w.push(r).unwrap();
        }
        w.sync().unwrap();
        assert_eq!(t.metrics_readable(), (rows, None));
        let text = std::fs::read_to_string(t.metrics_path()).unwrap();
        assert!(
            text.starts_with("step,train_loss,train_ppl,heldout_ppl,elapsed_s\n1,2.0,"),
            "{text}"
        );
        assert_eq!(t.state().unwrap(), TrialState::Partial { steps: 2 });
        let held = lock::FileLock::try_acquire(&t.lock_path()).unwrap();
        assert!(matches!(t.state().unwrap(), TrialState::Running { .. }));
        drop(held);
    }

    #[test]
    fn a_torn_last_line_keeps_the_rows_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        t.rewrite_metrics(&[row(1, None), row(2, Some(3.0))])
            .unwrap();
        let mut text = std::fs::read_to_string(t.metrics_path()).unwrap();
        text.push_str("3,2.0,7.3");
        std::fs::write(t.metrics_path(), text).unwrap();
        let (rows, damage) = t.metrics_readable();
        assert_eq!(rows, [row(1, None), row(2, Some(3.0))]);
        assert!(damage.unwrap().contains("metrics.csv is damaged"));
    }

    #[test]
    fn result_marks_the_trial_finished() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        let r = TrialResult {
            status: TrialStatus::Failed,
            reason: Some("training loss became NaN at step 3".into()),
            steps_done: 2,
            parameters: Some(10),
            final_train_ppl: None,
            final_heldout_ppl: None,
            best_heldout_ppl: None,
            steps_per_sec: None,
            wall_seconds: 0.1,
            peak_memory_mb: Some(50.0),
        };
        t.write_result(&r).unwrap();
        assert_eq!(t.state().unwrap(), TrialState::Finished(r));
    }
}
