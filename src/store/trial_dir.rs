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
//! - `metrics.jsonl` and `program.log` (program trials, instead of `metrics.csv` and the
//!   checkpoints): the program's metrics lines and checkpoint markers (see
//!   [`super::program_metrics`]), and everything else it printed;
//! - `sample.json`: text generated with the best weights when the trial completed (what the
//!   summary quotes, so reports need no model);
//! - `result.json`: written last and atomically; its presence marks the trial as finished.
//!
//! A completed trial keeps its last checkpoint (so that it can be continued) but not the one
//! before it, which only guards against a kill during training. A longer run of the same
//! configuration can start from it: [`TrialDir::final_state`] reads and verifies what a trial
//! reached at its last step, and [`TrialDir::seed`] puts it in the longer run's folder.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::curves::Curves;
use super::program_metrics::{self, ProgramLine};
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
    /// Trained up to its budget (a rung of early stopping), short of its steps; its checkpoint
    /// stays, to be continued if it is promoted.
    Stopped,
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
    #[serde(default, with = "non_finite")]
    pub final_train_ppl: Option<f64>,
    /// Held-out perplexity after the last step.
    #[serde(default, with = "non_finite")]
    pub final_heldout_ppl: Option<f64>,
    /// Lowest held-out perplexity measured.
    #[serde(default, with = "non_finite")]
    pub best_heldout_ppl: Option<f64>,
    /// Training rate: steps per second of training time (held-out evaluations excluded).
    pub steps_per_sec: Option<f64>,
    /// Wall time of the worker.
    pub wall_seconds: f64,
    /// Peak resident memory of the worker process that finished the trial, in MiB.
    #[serde(default)]
    pub peak_memory_mb: Option<f64>,
    /// What a program trial placed on GPUs used of them, where NVML could measure it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuUsed>,
    /// Characters in the corpus' vocabulary: the perplexity of a model that knows nothing
    /// (absent in results stored before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<usize>,
    /// A program trial's objective metric: its last and best values (absent for the built-in
    /// model, whose objective is `final_heldout_ppl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Box<MetricOutcome>>,
}

/// What a program trial reported of its objective metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricOutcome {
    /// The metric's name.
    pub name: String,
    /// Its last reported value.
    #[serde(default, with = "non_finite")]
    pub last: Option<f64>,
    /// The step of the last value.
    pub last_step: usize,
    /// Its best value (lowest or highest, as the metric's mode says).
    #[serde(default, with = "non_finite")]
    pub best: Option<f64>,
    /// The step of the best value.
    pub best_step: usize,
}

/// What a trial used of its GPUs, measured through NVML while it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuUsed {
    /// The most GPU memory its processes held at once, in MiB.
    pub peak_memory_mb: f64,
    /// The memory of one of its GPUs, in MiB.
    pub memory_total_mb: f64,
    /// Its GPUs' mean utilisation over its run, in percent (the whole GPU's, shared with the
    /// trials beside it).
    pub mean_utilisation: f64,
}

impl TrialResult {
    /// The trial's objective after its last step: a program's metric, or the built-in
    /// model's held-out perplexity.
    pub fn objective(&self) -> Option<f64> {
        match &self.metric {
            Some(m) => m.last,
            None => self.final_heldout_ppl,
        }
    }

    /// The best objective value measured.
    pub fn best_objective(&self) -> Option<f64> {
        match &self.metric {
            Some(m) => m.best,
            None => self.best_heldout_ppl,
        }
    }
}

/// JSON has no infinity: a perplexity that blew up is stored as the string `"inf"` (or
/// `"nan"`), not as `null`, so `result.json` says what happened.
pub(crate) mod non_finite {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(v) if v.is_nan() => s.serialize_str("nan"),
            Some(v) if v.is_infinite() => s.serialize_str(if *v > 0.0 { "inf" } else { "-inf" }),
            Some(v) => s.serialize_some(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Float {
            Number(f64),
            Text(String),
        }
        match Option::<Float>::deserialize(d)? {
            None => Ok(None),
            Some(Float::Number(v)) => Ok(Some(v)),
            Some(Float::Text(t)) => t.parse::<f64>().map(Some).map_err(|_| {
                D::Error::custom(format!("expected a number, \"inf\" or \"nan\", got {t:?}"))
            }),
        }
    }

    /// The same for a value that is always there.
    pub mod always {
        use serde::de::Error;
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            super::serialize(&Some(*x), s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            super::deserialize(d)?.ok_or_else(|| D::Error::custom("expected a number, got null"))
        }
    }
}

/// `sample.json`: a greedy continuation generated by a trial's best weights, and how to
/// generate it again with `sweep sample`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSample {
    /// The text the model read first.
    pub prefix: String,
    /// Characters generated after it.
    pub chars: usize,
    /// Softmax temperature (0: greedy).
    pub temperature: f64,
    /// Seed of the draws.
    pub seed: u64,
    /// The weights file used, in the trial folder.
    pub weights: String,
    /// The prefix followed by the generated characters.
    pub text: String,
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

/// What a trial reached after all of its steps, read and verified: the checkpoint at its last
/// step, the metric rows up to it and its best weights. A longer run of the same configuration
/// continues from it exactly (see [`TrialDir::seed`]).
#[derive(Debug, Clone)]
pub struct FinalState {
    /// The trial's steps, all of them trained.
    pub steps: usize,
    checkpoint: Vec<u8>,
    rows: Vec<MetricRow>,
    best: Vec<u8>,
}

/// A file of a trial folder that exists but cannot be read or parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} is damaged: {problem}", file.display())]
pub struct DamagedFile {
    /// The file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

impl DamagedFile {
    /// `file` is damaged: `message` (which may name the file already, as the readers' messages
    /// do; the name is not repeated).
    pub fn new(file: PathBuf, message: String) -> DamagedFile {
        let prefix = format!("{} is damaged: ", file.display());
        DamagedFile {
            problem: message
                .strip_prefix(&prefix)
                .unwrap_or(&message)
                .to_string(),
            file,
        }
    }
}

/// A trial's folder.
#[derive(Debug, Clone)]
pub struct TrialDir {
    path: PathBuf,
}

const CONFIG: &str = "config.json";
const METRICS: &str = "metrics.csv";
const PROGRAM_METRICS: &str = "metrics.jsonl";
const PROGRAM_LOG: &str = "program.log";
const RESULT: &str = "result.json";
const CHECKPOINT: &str = "checkpoint.safetensors";
const PREVIOUS_CHECKPOINT: &str = "checkpoint.prev.safetensors";
const MODEL: &str = "model.safetensors";
const BEST: &str = "best.safetensors";
const SAMPLE: &str = "sample.json";
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

    /// Path of a program trial's `metrics.jsonl`.
    pub fn program_metrics_path(&self) -> PathBuf {
        self.path.join(PROGRAM_METRICS)
    }

    /// A program trial's own folder (`work/`), for its checkpoints and files.
    pub fn work_path(&self) -> PathBuf {
        self.path.join("work")
    }

    /// Moves a program's own files from the trial's folder into `work/`: a folder written
    /// before programs had a folder of their own keeps its checkpoints where the program will
    /// look for them. sweep's records stay. Returns how many files moved.
    pub fn move_program_files_into_work(&self) -> anyhow::Result<usize> {
        let own = [
            CONFIG,
            METRICS,
            PROGRAM_METRICS,
            PROGRAM_LOG,
            RESULT,
            CHECKPOINT,
            PREVIOUS_CHECKPOINT,
            MODEL,
            BEST,
            SAMPLE,
            LOCK,
            super::attempts::FILE,
        ];
        let work = self.work_path();
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let mut moved = 0;
        let entries = std::fs::read_dir(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file || name.to_str().is_some_and(|n| own.contains(&n)) {
                continue;
            }
            std::fs::rename(entry.path(), work.join(&name))
                .with_context(|| format!("cannot move {} into work/", entry.path().display()))?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Path of a program trial's `program.log` (what it printed besides metrics lines).
    pub fn log_path(&self) -> PathBuf {
        self.path.join(PROGRAM_LOG)
    }

    /// Reads the lines of `metrics.jsonl` up to the first damaged one; the second value
    /// describes the damage, if any.
    pub fn program_lines_readable(&self) -> (Vec<ProgramLine>, Option<String>) {
        let path = self.program_metrics_path();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let (lines, damage) = program_metrics::parse_all(&bytes);
                (
                    lines,
                    damage.map(|d| format!("{} is damaged: {d}", path.display())),
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
            Err(e) => (
                Vec::new(),
                Some(format!("cannot read {}: {e}", path.display())),
            ),
        }
    }

    /// Replaces `metrics.jsonl` atomically with `lines`.
    pub fn rewrite_program_lines(&self, lines: &[ProgramLine]) -> anyhow::Result<()> {
        let mut text = String::new();
        for line in lines {
            text.push_str(&line.to_json());
            text.push('\n');
        }
        atomic::write(&self.program_metrics_path(), text.as_bytes())
    }

    /// Appends to `metrics.jsonl`, which must exist (see [`TrialDir::rewrite_program_lines`]).
    pub fn program_appender(&self) -> anyhow::Result<ProgramMetricsWriter> {
        let path = self.program_metrics_path();
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(ProgramMetricsWriter {
            file: BufWriter::new(file),
            path,
        })
    }

    /// The file of the recorded rows of the trial configured as `config`.
    pub fn curves_path(&self, config: &TrialConfig) -> PathBuf {
        if config.program().is_some() {
            self.program_metrics_path()
        } else {
            self.metrics_path()
        }
    }

    /// The recorded rows of the trial configured as `config`, up to the first damaged one.
    pub fn curves(&self, config: &TrialConfig) -> (Curves, Option<String>) {
        if config.program().is_some() {
            let (lines, damage) = self.program_lines_readable();
            (
                Curves::Program(Arc::new(program_metrics::rows(&lines))),
                damage,
            )
        } else {
            let (rows, damage) = self.metrics_readable();
            (Curves::Model(Arc::new(rows)), damage)
        }
    }

    /// Creates the folder and writes `config.json`; any training state already there stays
    /// (the worker resumes from it).
    pub fn prepare(&self, config: &TrialConfig) -> anyhow::Result<()> {
        if self.is_link() {
            anyhow::bail!(
                "{} is a symbolic link: sweep writes only into folders of its own (remove the \
                 link; the trial then trains again)",
                self.path.display()
            );
        }
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))?;
        atomic::write_json(&self.path.join(CONFIG), config)
    }

    /// Whether the folder is a symbolic link (to somewhere sweep never wrote).
    pub fn is_link(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink())
    }

    /// Removes `result.json`, so that a finished (failed) trial runs again.
    pub fn clear_result(&self) -> anyhow::Result<()> {
        remove_if_exists(&self.result_path())
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

    /// Path of `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join(CONFIG)
    }

    /// Path of `result.json`.
    pub fn result_path(&self) -> PathBuf {
        self.path.join(RESULT)
    }

    /// Reads `config.json`.
    pub fn config(&self) -> anyhow::Result<TrialConfig> {
        atomic::read_json(&self.config_path())
    }

    /// Reads `result.json`, `None` if the trial has not finished (there is no such file); a
    /// file that cannot be read or parsed is an error.
    pub fn result(&self) -> anyhow::Result<Option<TrialResult>> {
        atomic::read_json_if_exists(&self.result_path())
    }

    /// Removes the checkpoint before the last one: a completed trial needs only its last.
    pub fn drop_previous_checkpoint(&self) -> anyhow::Result<()> {
        remove_if_exists(&self.path.join(PREVIOUS_CHECKPOINT))
    }

    /// Writes `sample.json`.
    pub fn write_sample(&self, sample: &StoredSample) -> anyhow::Result<()> {
        atomic::write_json(&self.path.join(SAMPLE), sample)
    }

    /// Reads `sample.json`, `None` when there is none.
    pub fn sample(&self) -> anyhow::Result<Option<StoredSample>> {
        atomic::read_json_if_exists(&self.path.join(SAMPLE))
    }

    /// Writes `result.json` atomically: the last file a trial writes.
    pub fn write_result(&self, result: &TrialResult) -> anyhow::Result<()> {
        atomic::write_json(&self.path.join(RESULT), result)
    }

    /// Reads the rows of `metrics.csv` up to the first damaged one; the second value describes
    /// the damage, if any. A last line without its newline (a worker killed mid-write) is left
    /// out, and is not damage.
    pub fn metrics_readable(&self) -> (Vec<MetricRow>, Option<String>) {
        let path = self.metrics_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), None),
            Err(e) => {
                return (
                    Vec::new(),
                    Some(format!("cannot read {}: {e}", path.display())),
                )
            }
        };
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(&[][..], |end| &bytes[..=end]);
        let mut reader = csv::Reader::from_reader(complete);
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

    /// What the folder says about the trial. Only missing files mean "not yet"; a file that
    /// cannot be read or parsed is a [`DamagedFile`].
    /// A metric row that cannot be read (other than a torn last line) is damage too.
    pub fn state(&self) -> Result<TrialState, DamagedFile> {
        let (rows, damage) = self.metrics_readable();
        if let Some(problem) = damage {
            return Err(DamagedFile::new(self.metrics_path(), problem));
        }
        let (lines, damage) = self.program_lines_readable();
        if let Some(problem) = damage {
            return Err(DamagedFile::new(self.program_metrics_path(), problem));
        }
        self.state_with(|| rows.len() + program_metrics::rows(&lines).len())
    }

    /// [`TrialDir::state`], with the number of metric rows from `rows` (called only when the
    /// trial has no result and no running worker) instead of reading `metrics.csv`.
    pub fn state_with(&self, rows: impl FnOnce() -> usize) -> Result<TrialState, DamagedFile> {
        let damaged = |file: PathBuf, problem: String| DamagedFile { file, problem };
        match self.result() {
            Ok(Some(result)) => return Ok(TrialState::Finished(result)),
            Ok(None) => {}
            Err(e) => return Err(damaged(self.result_path(), e.root_cause().to_string())),
        }
        match lock::FileLock::holder(&self.lock_path()) {
            Ok(Some(pid)) => return Ok(TrialState::Running { pid }),
            Ok(None) => {}
            Err(e) => return Err(damaged(self.lock_path(), e.to_string())),
        }
        let steps = rows();
        Ok(if steps == 0 {
            TrialState::Pending
        } else {
            TrialState::Partial { steps }
        })
    }

    /// The training state this trial reached after its `steps` (those of its config.json).
    ///
    /// `Ok(None)` when it has not reached them: still training, stopped earlier, or failed.
    /// An error when it has (a completed result.json, or a valid checkpoint at step `steps`) but
    /// what a longer run needs is missing or damaged: the checkpoint at that step, every metric
    /// row up to it, or `best.safetensors`.
    pub fn final_state(&self, steps: usize) -> anyhow::Result<Option<FinalState>> {
        let completed = match self.state()? {
            TrialState::Finished(r) if r.status == TrialStatus::Completed => true,
            TrialState::Partial { .. } | TrialState::Pending => false,
            TrialState::Finished(_) | TrialState::Running { .. } => return Ok(None),
        };
        let mut problems = Vec::new();
        let mut last = None;
        for path in self.checkpoints() {
            let verified = std::fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|bytes| Ok((super::checkpoint_file::verify(&bytes)?.0, bytes)));
            match verified {
                Ok((step, bytes)) if step == steps => {
                    last = Some(bytes);
                    break;
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{}: {e:#}", path.display())),
            }
        }
        let Some(checkpoint) = last else {
            if !completed {
                return Ok(None);
            }
            problems.insert(0, format!("no usable checkpoint at step {steps}"));
            anyhow::bail!("{}", problems.join("; "));
        };
        let (mut rows, damage) = self.metrics_readable();
        rows.retain(|r| r.step <= steps);
        if rows.len() != steps || rows.iter().enumerate().any(|(i, r)| r.step != i + 1) {
            anyhow::bail!(
                "{} does not hold every step up to {steps}{}",
                self.metrics_path().display(),
                damage.map(|d| format!(" ({d})")).unwrap_or_default()
            );
        }
        let best = std::fs::read(self.best_path()).with_context(|| {
            format!(
                "cannot read {} (trials stored before it was kept cannot be continued)",
                self.best_path().display()
            )
        })?;
        Ok(Some(FinalState {
            steps,
            checkpoint,
            rows,
            best,
        }))
    }

    /// Seeds this folder, which holds no training yet, with the final state of a shorter run of
    /// its configuration: its worker then resumes from step `state.steps`.
    ///
    /// Every file is written atomically and `metrics.csv` last: until it is in place the folder
    /// has no metric rows, so it is still pending (and seeded again by the next sweep), and a
    /// worker never trusts a checkpoint without the rows up to it.
    pub fn seed(&self, state: &FinalState) -> anyhow::Result<()> {
        remove_if_exists(&self.path.join(PREVIOUS_CHECKPOINT))?;
        atomic::write(&self.path.join(CHECKPOINT), &state.checkpoint)?;
        self.write_best(&state.best)?;
        self.rewrite_metrics(&state.rows)
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

/// Removes a file; one that is not there is fine.
fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Appends lines to a program trial's `metrics.jsonl`.
pub struct ProgramMetricsWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl ProgramMetricsWriter {
    /// Appends one line (buffered).
    pub fn push(&mut self, line: &ProgramLine) -> anyhow::Result<()> {
        use std::io::Write;
        writeln!(self.file, "{}", line.to_json())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Hands buffered lines to the file (readers see them; not yet synced to the disk).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        use std::io::Write;
        self.file
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes buffered lines through to the disk.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        use std::io::Write;
        self.file
            .flush()
            .and_then(|_| self.file.get_ref().sync_data())
            .with_context(|| format!("cannot write {}", self.path.display()))
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
        assert_eq!(damage, None, "a kill mid-write is not damage");
        assert!(matches!(t.state(), Ok(TrialState::Partial { steps: 2 })));
    }

    #[test]
    fn a_programs_files_from_before_work_move_there_and_sweeps_records_stay() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        for name in [
            "config.json",
            "metrics.jsonl",
            "program.log",
            "attempts.jsonl",
            "checkpoint.json",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        assert_eq!(t.move_program_files_into_work().unwrap(), 2);
        for name in ["checkpoint.json", "notes.txt"] {
            assert_eq!(
                std::fs::read_to_string(t.work_path().join(name)).unwrap(),
                name
            );
            assert!(!dir.path().join(name).exists());
        }
        for name in [
            "config.json",
            "metrics.jsonl",
            "program.log",
            "attempts.jsonl",
        ] {
            assert!(dir.path().join(name).exists(), "{name} stays");
        }
        assert_eq!(t.move_program_files_into_work().unwrap(), 0, "once");
    }

    #[test]
    fn a_damaged_row_before_the_last_makes_the_trial_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        t.rewrite_metrics(&[row(1, None), row(2, Some(3.0)), row(3, None)])
            .unwrap();
        let text = std::fs::read_to_string(t.metrics_path()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = "1,2,3";
        std::fs::write(t.metrics_path(), lines.join("\n") + "\n").unwrap();
        let (rows, damage) = t.metrics_readable();
        assert_eq!(rows, [row(1, None)]);
        assert!(damage.unwrap().contains("metrics.csv is damaged"));
        let e = t.state().unwrap_err();
        assert_eq!(e.file, t.metrics_path());
        assert!(e.problem.contains("line: 3"), "{}", e.problem);
    }

    #[test]
    fn blown_up_perplexities_survive_result_json() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        let r = TrialResult {
            status: TrialStatus::Completed,
            reason: None,
            steps_done: 60,
            parameters: Some(10),
            final_train_ppl: Some(f64::INFINITY),
            final_heldout_ppl: Some(4.7e85),
            best_heldout_ppl: Some(f64::NAN),
            steps_per_sec: Some(1.0),
            wall_seconds: 0.1,
            peak_memory_mb: None,
            gpu: None,
            vocab_size: Some(44),
            metric: None,
        };
        t.write_result(&r).unwrap();
        let text = std::fs::read_to_string(t.result_path()).unwrap();
        assert!(text.contains("\"final_train_ppl\": \"inf\""), "{text}");
        assert!(text.contains("\"best_heldout_ppl\": \"nan\""), "{text}");
        let back = t.result().unwrap().unwrap();
        assert_eq!(back.final_train_ppl, Some(f64::INFINITY));
        assert_eq!(back.final_heldout_ppl, Some(4.7e85));
        assert!(back.best_heldout_ppl.unwrap().is_nan());
        // Results stored before: null, or the field missing.
        std::fs::write(
            t.result_path(),
            r#"{"status":"completed","reason":null,"steps_done":1,"parameters":null,
                "final_train_ppl":null,"steps_per_sec":null,"wall_seconds":0.5}"#,
        )
        .unwrap();
        let old = t.result().unwrap().unwrap();
        assert_eq!((old.final_train_ppl, old.final_heldout_ppl), (None, None));
    }

    #[test]
    fn only_a_missing_file_means_not_yet() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        assert_eq!(t.state().unwrap(), TrialState::Pending);
        assert_eq!(t.metrics_readable(), (Vec::new(), None));
        // A result.json that cannot be read is damaged, not pending.
        std::fs::create_dir(t.result_path()).unwrap();
        let e = t.state().unwrap_err();
        assert_eq!(e.file, t.result_path());
        assert!(e.problem.contains("directory"), "{e}");
        assert!(e.to_string().contains("result.json is damaged: "), "{e}");
        // A metrics.csv that cannot be read is reported, not taken for "no steps".
        std::fs::create_dir(t.metrics_path()).unwrap();
        let (rows, damage) = t.metrics_readable();
        assert!(rows.is_empty());
        assert!(damage.unwrap().contains("cannot read"));
    }

    fn checkpoint_at(step: usize) -> Vec<u8> {
        use rand::SeedableRng;
        let w = candle_core::Tensor::new(&[step as f32, 2.0], &candle_core::Device::Cpu).unwrap();
        crate::train::checkpoint::encode(&crate::train::TrainingState {
            step,
            elapsed_s: 0.5,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(1),
            adam_steps: step as u64,
            stream: None,
            tensors: vec![("param.w".into(), w)],
        })
        .unwrap()
    }

    fn completed(steps: usize) -> TrialResult {
        TrialResult {
            status: TrialStatus::Completed,
            reason: None,
            steps_done: steps,
            parameters: Some(2),
            final_train_ppl: None,
            final_heldout_ppl: None,
            best_heldout_ppl: None,
            steps_per_sec: None,
            wall_seconds: 0.1,
            peak_memory_mb: None,
            gpu: None,
            vocab_size: None,
            metric: None,
        }
    }

    #[test]
    fn a_final_state_seeds_a_longer_run_and_a_half_seeded_folder_stays_pending() {
        let root = tempfile::tempdir().unwrap();
        let short = TrialDir::new(root.path().join("short"));
        std::fs::create_dir(short.path()).unwrap();
        let rows: Vec<MetricRow> = (1..=3).map(|s| row(s, (s == 3).then_some(9.0))).collect();
        short.rewrite_metrics(&rows).unwrap();
        short.write_checkpoint(&checkpoint_at(2)).unwrap();
        // Not at its last step yet: not a run to continue, and no error either.
        assert!(short.final_state(3).unwrap().is_none());
        short.write_checkpoint(&checkpoint_at(3)).unwrap();
        short.write_best(b"best").unwrap();
        // Stopped after its last checkpoint, before result.json: it reached its end.
        let state = short.final_state(3).unwrap().unwrap();
        assert_eq!((state.steps, state.rows.len()), (3, 3));
        short.write_result(&completed(3)).unwrap();
        short.drop_previous_checkpoint().unwrap();
        let state = short.final_state(3).unwrap().unwrap();

        let long = TrialDir::new(root.path().join("long"));
        std::fs::create_dir(long.path()).unwrap();
        // A kill before metrics.csv is written leaves a pending folder (seeded again later).
        atomic::write(&long.path().join(CHECKPOINT), &state.checkpoint).unwrap();
        assert_eq!(long.state().unwrap(), TrialState::Pending);
        long.seed(&state).unwrap();
        assert_eq!(long.state().unwrap(), TrialState::Partial { steps: 3 });
        assert_eq!(long.metrics_readable(), (rows, None));
        assert_eq!(std::fs::read(long.best_path()).unwrap(), b"best");
        assert_eq!(
            std::fs::read(long.path().join(CHECKPOINT)).unwrap(),
            std::fs::read(short.path().join(CHECKPOINT)).unwrap()
        );
        for absent in [RESULT, MODEL, SAMPLE, PREVIOUS_CHECKPOINT] {
            assert!(!long.path().join(absent).exists(), "{absent}");
        }
    }

    #[test]
    fn a_completed_trial_that_cannot_be_continued_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrialDir::new(dir.path().to_path_buf());
        t.rewrite_metrics(&[row(1, None), row(2, Some(9.0))])
            .unwrap();
        t.write_result(&completed(2)).unwrap();
        let e = format!("{:#}", t.final_state(2).unwrap_err());
        assert!(e.contains("no usable checkpoint at step 2"), "{e}");
        let mut damaged = checkpoint_at(2);
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        t.write_checkpoint(&damaged).unwrap();
        let e = format!("{:#}", t.final_state(2).unwrap_err());
        assert!(e.contains("checksum mismatch"), "{e}");
        t.write_checkpoint(&checkpoint_at(2)).unwrap();
        let e = format!("{:#}", t.final_state(2).unwrap_err());
        assert!(e.contains("best.safetensors"), "{e}");
        t.write_best(b"best").unwrap();
        t.rewrite_metrics(&[row(2, Some(9.0))]).unwrap();
        let e = format!("{:#}", t.final_state(2).unwrap_err());
        assert!(e.contains("does not hold every step up to 2"), "{e}");
        // A failed trial is not a run to continue.
        t.write_result(&TrialResult {
            status: TrialStatus::Failed,
            ..completed(2)
        })
        .unwrap();
        assert!(t.final_state(2).unwrap().is_none());
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
            gpu: None,
            vocab_size: Some(44),
            metric: None,
        };
        t.write_result(&r).unwrap();
        assert_eq!(t.state().unwrap(), TrialState::Finished(r));
    }
}
