//! The worker: trains the trial in one folder (`sweep worker <trial-dir>`), appending metrics
//! there, checkpointing every `checkpoint_every` steps and when asked to stop, and writing
//! `result.json` last. It resumes from the folder's last good checkpoint, so a trial killed at
//! any moment continues exactly where its checkpoint left it. Local and cluster executors both
//! run this.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

pub use super::protocol::WorkerEnd;
use super::protocol::WorkerMessage;
use crate::data::{batch::Split, Vocab};
use crate::measures::FINAL_TRAIN_WINDOW;
use crate::model::kernels::thread_budget;
use crate::spec::TrainParams;
use crate::spec::TrialConfig;
use crate::store::lock::{FileLock, LockError};
use crate::store::{attempts, MetricRow, TrialDir, TrialResult, TrialStatus};
use crate::train::{checkpoint, TrainError, Trainer};

/// Least time between two progress messages.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// How long a worker waits for the trial lock: an orphaned worker that was told to stop
/// needs at most one step and one checkpoint to let go.
const LOCK_PATIENCE: Duration = Duration::from_secs(30);

/// Trains the trial in `dir` until it is finished or `stop` is set.
///
/// A non-finite loss is a recorded failure; errors that prevent training or recording
/// (unreadable config, changed corpus, full disk) are returned.
pub fn run(dir: &Path, stop: &AtomicBool) -> anyhow::Result<WorkerEnd> {
    let started = Instant::now();
    let trial = TrialDir::new(dir.to_path_buf());
    let _lock =
        FileLock::acquire_within(&trial.lock_path(), LOCK_PATIENCE).map_err(|e| match e {
            LockError::Held { .. } => anyhow::anyhow!(
                "trial {} is being trained by another worker ({e})",
                dir.display()
            ),
            e => e.into(),
        })?;
    let config = trial
        .config()
        .with_context(|| format!("cannot load the trial in {}", dir.display()))?;
    if let Ok(Some(result)) = trial.result() {
        // Finished while this worker waited for the lock (by a worker of an earlier sweep):
        // say so, as a resumed trial.
        say_line(&WorkerMessage::Started {
            steps: config.params().steps(),
            parameters: result.parameters.unwrap_or(0),
            resumed_from: result.steps_done,
        });
        return Ok(match result.status {
            TrialStatus::Completed | TrialStatus::Stopped => WorkerEnd::Completed,
            TrialStatus::Failed => WorkerEnd::Failed,
        });
    }
    let started_at = attempts::now();
    let end = if config.program().is_some() {
        super::program::run(&trial, &config, stop, started)
    } else {
        train(&trial, &config, stop, started)
    };
    // When this attempt ran, for the reports (start and finish times, busy workers).
    let budget = config.budget();
    let result = trial.result().ok().flatten();
    let steps_done = result
        .as_ref()
        .map_or_else(|| trial.curves(&config).0.last_step(), |r| r.steps_done);
    let how = match (&end, &result) {
        (Ok(WorkerEnd::Interrupted), _) | (Err(_), _) => "interrupted",
        (_, Some(r)) => match r.status {
            TrialStatus::Completed => "completed",
            TrialStatus::Stopped => "stopped",
            TrialStatus::Failed => "failed",
        },
        (_, None) => "interrupted",
    };
    let record = attempts::Attempt {
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        budget,
        steps_done,
        end: how.to_string(),
        gpus: std::env::var(super::protocol::GPUS_ENV).ok(),
    };
    if let Err(e) = attempts::append(trial.path(), &record) {
        eprintln!("warning: cannot record the attempt: {e:#}");
    }
    end
}

/// Trains the built-in model of the trial in `trial` (its lock held) until it reaches its
/// budget or `stop` is set.
fn train(
    trial: &TrialDir,
    config: &TrialConfig,
    stop: &AtomicBool,
    started: Instant,
) -> anyhow::Result<WorkerEnd> {
    let trial = trial.clone();
    let (params, corpus) = config
        .model()
        .context("config.json has neither a corpus nor a program")?;
    let corpus = corpus.load()?;
    let vocab = Vocab::from_text(&corpus.text);
    let split = Split::new(vocab.encode(&corpus.text));

    let say = |m: WorkerMessage| say_line(&m);
    let mut warn = |message: String| {
        eprintln!("warning: {message}");
        say(WorkerMessage::Warning { message });
    };
    let (mut trainer, mut rows, elapsed_base) =
        resume(&trial, &config.id, params, vocab.len(), &mut warn)?;
    trial.rewrite_metrics(&rows)?;
    let mut metrics = trial.metrics_appender()?;
    let parameters = trainer.model().parameter_count();
    // Early stopping trains a trial rung by rung: up to its budget now, its checkpoint kept.
    let budget = config.budget();
    say(WorkerMessage::Started {
        steps: budget,
        parameters,
        resumed_from: trainer.steps_done(),
    });

    let clock = Instant::now();
    // The training clock: held-out evaluations are left out, so steps/elapsed is the training
    // rate. It continues from the checkpoint's clock after a resume.
    let elapsed = |trainer: &Trainer| {
        elapsed_base + (clock.elapsed().saturating_sub(trainer.eval_time())).as_secs_f64()
    };
    let save = |trainer: &Trainer| -> anyhow::Result<()> {
        trial.write_checkpoint(&checkpoint::encode(&trainer.state(elapsed(trainer)))?)
    };
    let mut last_report = clock;
    let mut failure = None;
    // The best held-out perplexity whose weights are in best.safetensors (the rows kept on
    // resume were all followed by their best-weights write).
    let mut best = rows
        .iter()
        .filter_map(|r| r.heldout_ppl)
        .fold(f64::INFINITY, f64::min);
    let at_budget = |trainer: &Trainer| trainer.steps_done() >= budget;
    while !at_budget(&trainer) {
        if stop.load(Ordering::SeqCst) {
            metrics.sync()?;
            save(&trainer)?;
            if let Some(last) = rows.last() {
                say(WorkerMessage::Progress {
                    step: last.step,
                    train_ppl: Some(last.train_ppl),
                    objective: None,
                    elapsed_s: last.elapsed_s,
                    threads: thread_budget(),
                });
            }
            return Ok(WorkerEnd::Interrupted);
        }
        let record = match trainer.advance(&split) {
            Ok(record) => record,
            Err(e @ TrainError::NonFinite { .. }) => {
                failure = Some(e.to_string());
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let row = MetricRow {
            step: record.step,
            train_loss: record.train_loss,
            train_ppl: record.train_loss.exp(),
            heldout_ppl: record.heldout_loss.map(f64::exp),
            elapsed_s: elapsed(&trainer),
        };
        metrics.push(&row)?;
        if let Some(ppl) = row.heldout_ppl.filter(|&p| p < best) {
            // Before the checkpoint of this step: a resume never skips an improvement.
            trial.write_best(&weights_file(&trainer)?)?;
            best = ppl;
        }
        if row.step.is_multiple_of(config.run.checkpoint_every) || at_budget(&trainer) {
            // Rows first, then the checkpoint: a checkpoint never points past the rows on disk.
            metrics.sync()?;
            save(&trainer)?;
        }
        if row.heldout_ppl.is_some() || last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            say(WorkerMessage::Progress {
                step: row.step,
                train_ppl: Some(row.train_ppl),
                objective: row.heldout_ppl,
                elapsed_s: row.elapsed_s,
                threads: thread_budget(),
            });
        }
        rows.push(row);
    }
    metrics.sync()?;

    let status = if failure.is_some() {
        TrialStatus::Failed
    } else if !trainer.finished() {
        TrialStatus::Stopped
    } else {
        trial.write_model(&weights_file(&trainer)?)?;
        // The summary quotes this text; stored here so that reports need no model.
        if let Err(e) = crate::sample::store_summary_sample(&trial) {
            let message = format!("no sample stored: {e:#}");
            eprintln!("warning: {message}");
            say(WorkerMessage::Warning { message });
        }
        TrialStatus::Completed
    };
    let mut result = summarize(&rows, status, failure, parameters, started.elapsed());
    result.vocab_size = Some(vocab.len());
    trial.write_result(&result)?;
    if status == TrialStatus::Completed {
        // Only a kill during training needs the checkpoint before the last.
        trial.drop_previous_checkpoint()?;
    }
    Ok(match status {
        TrialStatus::Completed | TrialStatus::Stopped => WorkerEnd::Completed,
        TrialStatus::Failed => WorkerEnd::Failed,
    })
}

/// Writes one message to the orchestrator on stdout (which may be gone: the trial folder is
/// the record).
fn say_line(m: &WorkerMessage) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", m.to_line()).and_then(|_| stdout.flush());
}

/// The model's weights as a safetensors file.
fn weights_file(trainer: &Trainer) -> anyhow::Result<Vec<u8>> {
    let weights = trainer.weights();
    let named: Vec<(&str, &candle_core::Tensor)> =
        weights.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Ok(safetensors::serialize(named, None)?)
}

/// A trainer positioned after the newest usable checkpoint, with the metric rows up to it and
/// the training clock at it; a fresh trainer when there is none. Unusable checkpoints (damaged,
/// or ahead of the rows in metrics.csv) are reported through `warn` and skipped.
fn resume(
    trial: &TrialDir,
    id: &str,
    params: &TrainParams,
    vocab: usize,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<(Trainer, Vec<MetricRow>, f64)> {
    let (rows, damage) = trial.metrics_readable();
    if let Some(damage) = damage {
        warn(damage);
    }
    let checkpoints = trial.checkpoints();
    for path in &checkpoints {
        let attempt = || -> anyhow::Result<(Trainer, Vec<MetricRow>, f64)> {
            let bytes = std::fs::read(path)?;
            let state = checkpoint::decode(&bytes)?;
            let step = state.step;
            if step > params.steps {
                anyhow::bail!(
                    "it is at step {step}, past the trial's {} steps",
                    params.steps
                );
            }
            let kept: Vec<MetricRow> = rows.iter().filter(|r| r.step <= step).cloned().collect();
            if kept.len() != step || kept.iter().enumerate().any(|(i, r)| r.step != i + 1) {
                anyhow::bail!("metrics.csv does not hold every step up to {step}");
            }
            let elapsed = state.elapsed_s;
            let mut trainer = Trainer::new(params, vocab)?;
            trainer.restore(state)?;
            Ok((trainer, kept, elapsed))
        };
        match attempt() {
            Ok(resumed) => return Ok(resumed),
            Err(e) => warn(format!("cannot resume from {}: {e:#}", path.display())),
        }
    }
    if !checkpoints.is_empty() || !rows.is_empty() {
        warn(format!("trial {id} restarts from step 0"));
    }
    Ok((Trainer::new(params, vocab)?, Vec::new(), 0.0))
}

/// The headline numbers of a trial from its metric rows.
pub fn summarize(
    rows: &[MetricRow],
    status: TrialStatus,
    reason: Option<String>,
    parameters: usize,
    wall: Duration,
) -> TrialResult {
    // A trial stopped at a rung has numbers up to there, as a completed one has up to its end.
    let completed = status != TrialStatus::Failed;
    let tail = &rows[rows.len().saturating_sub(FINAL_TRAIN_WINDOW)..];
    let heldout: Vec<f64> = rows.iter().filter_map(|r| r.heldout_ppl).collect();
    let last = rows.last();
    TrialResult {
        status,
        reason,
        steps_done: last.map_or(0, |r| r.step),
        parameters: Some(parameters),
        final_train_ppl: (completed && !tail.is_empty())
            .then(|| tail.iter().map(|r| r.train_ppl).sum::<f64>() / tail.len() as f64),
        final_heldout_ppl: if completed {
            last.and_then(|r| r.heldout_ppl)
        } else {
            None
        },
        best_heldout_ppl: heldout.iter().copied().reduce(f64::min),
        steps_per_sec: last
            .filter(|r| r.elapsed_s > 0.0)
            .map(|r| r.step as f64 / r.elapsed_s),
        wall_seconds: wall.as_secs_f64(),
        peak_memory_mb: peak_memory_mb(),
        gpu: None,
        vocab_size: None,
        metric: None,
    }
}

/// Peak resident memory of this process so far, in MiB (`getrusage`).
fn peak_memory_mb() -> Option<f64> {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        (libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0).then_some(usage)
    }?;
    // Linux reports kilobytes.
    Some(usage.ru_maxrss as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_averages_the_last_50_steps_and_keeps_the_best_heldout() {
        let rows: Vec<MetricRow> = (1..=100)
            .map(|step| MetricRow {
                step,
                train_loss: 0.0,
                train_ppl: step as f64,
                heldout_ppl: (step % 40 == 0 || step == 100)
                    .then_some(200.0 - step as f64 + (step == 100) as u8 as f64 * 30.0),
                elapsed_s: step as f64 / 10.0,
            })
            .collect();
        let r = summarize(
            &rows,
            TrialStatus::Completed,
            None,
            7,
            Duration::from_secs(11),
        );
        assert_eq!(r.final_train_ppl, Some(75.5)); // mean of 51..=100
        assert_eq!(r.final_heldout_ppl, Some(130.0));
        assert_eq!(r.best_heldout_ppl, Some(120.0));
        assert_eq!(r.steps_per_sec, Some(10.0));
        let peak = r.peak_memory_mb.expect("measured on Linux");
        assert!(peak > 1.0 && peak < 100_000.0, "{peak} MiB");
        assert_eq!(r.steps_done, 100);
        let failed = summarize(
            &rows[..30],
            TrialStatus::Failed,
            Some("x".into()),
            7,
            Duration::ZERO,
        );
        assert_eq!(
            (failed.final_train_ppl, failed.final_heldout_ppl),
            (None, None)
        );
    }
}
