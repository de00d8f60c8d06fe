//! `trials.csv` (one row per trial) and `curves.csv` (tidy: one row per trial and step).

use serde::Serialize;

use super::load::SweepRecord;
use crate::store::attempts::rfc3339;
use crate::store::proposals::ProposedBy;

/// One row of `trials.csv` (and of the dashboard's `/api/trials`).
#[derive(Serialize)]
pub struct TrialRow<'a> {
    id: &'a str,
    label: &'a str,
    cell: &'static str,
    layers: usize,
    dropout: f64,
    hidden: usize,
    batch_size: usize,
    seq_len: usize,
    sampling: &'static str,
    lr: f64,
    optimizer: &'static str,
    clip: Option<f64>,
    steps: usize,
    eval_every: usize,
    seed: u64,
    /// TPE searches: the configuration's place in the search (1 = first) and who chose it.
    proposal: Option<usize>,
    proposed_by: Option<&'static str>,
    corpus: &'a str,
    parameters: Option<usize>,
    status: &'static str,
    diverged_at_step: Option<usize>,
    degraded: bool,
    overfitting: bool,
    best_heldout_step: Option<usize>,
    steps_done: usize,
    final_train_ppl: Option<f64>,
    final_heldout_ppl: Option<f64>,
    best_heldout_ppl: Option<f64>,
    steps_per_sec: Option<f64>,
    peak_memory_mb: Option<f64>,
    wall_seconds: Option<f64>,
    /// When its first worker attempt started and its last one ended with a result (UTC).
    started_at: Option<String>,
    finished_at: Option<String>,
    /// Seconds its workers ran, every attempt (every rung) together.
    worker_seconds: Option<f64>,
    /// For a trial trained rung by rung: "step@time" when each rung's result was known.
    rungs_at: String,
    reason: Option<&'a str>,
}

/// The timing columns of a trial: started_at, finished_at, worker_seconds and rungs_at.
pub fn timing_columns(t: &super::load::TrialRecord) -> [String; 4] {
    let timing = t.timing();
    [
        timing.started_at.map(rfc3339).unwrap_or_default(),
        timing.finished_at.map(rfc3339).unwrap_or_default(),
        if t.attempts.is_empty() {
            String::new()
        } else {
            format!("{:.3}", timing.worker_seconds)
        },
        timing
            .rungs
            .iter()
            .map(|(step, at)| format!("{step}@{}", rfc3339(*at)))
            .collect::<Vec<_>>()
            .join(";"),
    ]
}

/// `trials.csv`: every hyperparameter, the parameter count, status (`diverged` for a trial
/// the analysis flags), the flags of the analysis and headline numbers. Damaged trials are
/// left out (`sweep status` and summary.md list them).
pub fn trials_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    if sweep.manifest.metric.is_some() {
        return super::program::trials_csv(sweep);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in trial_rows(sweep) {
        w.serialize(row)?;
    }
    Ok(w.into_inner()?)
}

/// The rows of `trials.csv`, one per readable model trial, in expansion order.
pub fn trial_rows(sweep: &SweepRecord) -> Vec<TrialRow<'_>> {
    let chosen = super::proposals::chosen(sweep);
    sweep
        .trials
        .iter()
        .filter_map(|t| {
            let (p, corpus) = t.config.model()?;
            let proposal = chosen.get(t.config.config_key().as_str());
            let r = t.result();
            let m = t.measures();
            let [started_at, finished_at, worker_seconds, rungs_at] = timing_columns(t);
            Some(TrialRow {
                id: &t.config.id,
                label: &t.config.label,
                cell: p.cell.name(),
                layers: p.layers,
                dropout: p.dropout,
                hidden: p.hidden,
                batch_size: p.batch_size,
                seq_len: p.seq_len,
                sampling: p.sampling.name(),
                lr: p.lr,
                optimizer: p.optimizer.name(),
                clip: p.clip,
                steps: p.steps,
                eval_every: p.eval_every,
                seed: p.seed,
                proposal: proposal.map(|p| p.index + 1),
                proposed_by: proposal.map(|p| match p.by {
                    ProposedBy::Random => "random",
                    ProposedBy::Tpe => "tpe",
                }),
                corpus: &corpus.name,
                parameters: r.and_then(|r| r.parameters),
                status: t.status().name(),
                diverged_at_step: m.as_ref().and_then(|m| m.diverged.map(|d| d.step)),
                degraded: m.as_ref().is_some_and(|m| m.degraded.is_some()),
                overfitting: m.as_ref().is_some_and(|m| m.overfitting),
                best_heldout_step: m.as_ref().and_then(|m| m.best_heldout.map(|b| b.0)),
                steps_done: r.map_or(t.metrics().len(), |r| r.steps_done),
                final_train_ppl: r.and_then(|r| r.final_train_ppl),
                final_heldout_ppl: r.and_then(|r| r.final_heldout_ppl),
                best_heldout_ppl: r.and_then(|r| r.best_heldout_ppl),
                steps_per_sec: r.and_then(|r| r.steps_per_sec),
                peak_memory_mb: r.and_then(|r| r.peak_memory_mb),
                wall_seconds: r.map(|r| r.wall_seconds),
                started_at: Some(started_at).filter(|s| !s.is_empty()),
                finished_at: Some(finished_at).filter(|s| !s.is_empty()),
                worker_seconds: worker_seconds.parse().ok(),
                rungs_at,
                reason: r.and_then(|r| r.reason.as_deref()),
            })
        })
        .collect()
}

/// One row of `curves.csv`.
#[derive(Serialize)]
struct CurveRow<'a> {
    trial_id: &'a str,
    step: usize,
    train_loss: f64,
    train_ppl: f64,
    heldout_ppl: Option<f64>,
    elapsed_s: f64,
}

/// `curves.csv`: every metric row of every trial, tidy long format.
pub fn curves_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    if sweep.manifest.metric.is_some() {
        return super::program::curves_csv(sweep);
    }
    // The header is written by hand so that a sweep without metrics still gets one.
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record([
        "trial_id",
        "step",
        "train_loss",
        "train_ppl",
        "heldout_ppl",
        "elapsed_s",
    ])?;
    for t in &sweep.trials {
        for m in t.metrics().iter() {
            w.serialize(CurveRow {
                trial_id: &t.config.id,
                step: m.step,
                train_loss: m.train_loss,
                train_ppl: m.train_ppl,
                heldout_ppl: m.heldout_ppl,
                elapsed_s: m.elapsed_s,
            })?;
        }
    }
    Ok(w.into_inner()?)
}
