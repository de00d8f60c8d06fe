//! The worker: trains the trial in one folder (`sweep worker <trial-dir>`), appending metrics
//! there and writing `result.json` last. Local and cluster executors both run this.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::protocol::WorkerMessage;
use crate::data::{batch::Split, Corpus, Vocab};
use crate::store::{MetricRow, TrialDir, TrialResult, TrialStatus};
use crate::train::{self, TrainError, Trainer};

/// Training steps averaged for the final training perplexity.
pub const FINAL_TRAIN_WINDOW: usize = 50;

/// Least time between two progress messages.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Trains the trial in `dir` to the end and records its result.
///
/// A non-finite loss is a recorded failure (`Ok(TrialStatus::Failed)`); errors that prevent
/// training or recording (unreadable config, changed corpus, full disk) are returned.
pub fn run(dir: &Path) -> anyhow::Result<TrialStatus> {
    let started = Instant::now();
    let trial = TrialDir::new(dir.to_path_buf());
    let config = trial
        .config()
        .with_context(|| format!("cannot load the trial in {}", dir.display()))?;
    let corpus = Corpus::reload(
        &config.corpus.name,
        config.corpus.path.as_deref(),
        &config.corpus.sha256,
    )?;
    let vocab = Vocab::from_text(&corpus.text);
    let split = Split::new(vocab.encode(&corpus.text));
    let mut trainer = Trainer::new(&config.params, vocab.len())?;
    let parameters = trainer.model().parameter_count();

    let mut metrics = trial.metrics_writer()?;
    let mut rows = Vec::with_capacity(config.params.steps);
    let mut stdout = std::io::stdout().lock();
    let mut say = |m: WorkerMessage| {
        // The orchestrator may be gone; the trial folder is the record, so keep training.
        let _ = writeln!(stdout, "{}", m.to_line()).and_then(|_| stdout.flush());
    };
    say(WorkerMessage::Started {
        steps: config.params.steps,
        parameters,
    });

    let clock = Instant::now();
    let mut last_report = clock;
    let outcome = train::run(&mut trainer, &split, &mut |record| {
        let elapsed_s = clock.elapsed().as_secs_f64();
        let row = MetricRow {
            step: record.step,
            train_loss: record.train_loss,
            train_ppl: record.train_loss.exp(),
            heldout_ppl: record.heldout_loss.map(f64::exp),
            elapsed_s,
        };
        metrics.push(&row)?;
        if row.heldout_ppl.is_some() {
            metrics.sync()?;
        }
        if row.heldout_ppl.is_some() || last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            say(WorkerMessage::Progress {
                step: row.step,
                train_ppl: row.train_ppl,
                heldout_ppl: row.heldout_ppl,
                elapsed_s,
            });
        }
        rows.push(row);
        Ok(())
    });
    metrics.sync()?;

    let (status, reason) = match outcome {
        Ok(()) => (TrialStatus::Completed, None),
        Err(e @ TrainError::NonFinite { .. }) => (TrialStatus::Failed, Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let result = summarize(&rows, status, reason, parameters, started.elapsed());
    trial.write_result(&result)?;
    Ok(status)
}

/// The headline numbers of a trial from its metric rows.
pub fn summarize(
    rows: &[MetricRow],
    status: TrialStatus,
    reason: Option<String>,
    parameters: usize,
    wall: Duration,
) -> TrialResult {
    let completed = status == TrialStatus::Completed;
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
    }
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
