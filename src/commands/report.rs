//! `sweep report [DIR]`: regenerate the reports of a results folder without training.

use std::path::Path;

use super::exit;
use crate::report::{self, numbers, Lang, Status};
use crate::store::{proposals, rungs, Store};

/// Rewrites trials.csv, curves.csv, the charts and summary.md in `dir`. Exits with 0 when
/// every trial completed without diverging, 1 otherwise (failed, diverged, damaged or not
/// finished): the reports are written either way, unless a decision log (`rungs.jsonl`,
/// `proposals.jsonl`) is damaged.
pub fn run(dir: &Path, lang: Lang) -> anyhow::Result<u8> {
    let store = Store::open(dir)?;
    // A damaged decision log would drop what it records from the reports: keep the ones
    // written while it could be read.
    let damaged_logs: Vec<String> = [
        rungs::read(store.root()).err(),
        proposals::read(store.root()).err(),
    ]
    .into_iter()
    .flatten()
    .map(|e| format!("{e:#}"))
    .collect();
    if !damaged_logs.is_empty() {
        for problem in &damaged_logs {
            eprintln!("damaged: {problem}");
        }
        eprintln!("the reports in {} were left as they were", dir.display());
        return Ok(exit::TRIALS_FAILED);
    }
    // Trials completed before workers stored their sample get one now, once.
    crate::sample::backfill(&store);
    let (sweep, written) = report::write_all(&store, lang)?;
    println!(
        "wrote {}, {} and {} ({})",
        written.summary_md.display(),
        written.trials_csv.display(),
        written.curves_csv.display(),
        numbers::count(sweep.total(), "trial")
    );
    for d in &sweep.damaged {
        eprintln!(
            "warning: trial {} is damaged: {}: {} (summary.md says how to repair it)",
            d.id,
            d.file.display(),
            d.problem
        );
    }
    let unfinished: usize = [
        Status::Failed,
        Status::Diverged,
        Status::Running,
        Status::Partial,
        Status::Pending,
    ]
    .iter()
    .map(|&s| sweep.count(s))
    .sum();
    if unfinished > 0 {
        eprintln!(
            "{} of {} did not complete cleanly (failed, diverged or not finished)",
            unfinished,
            numbers::count(sweep.total(), "trial")
        );
    }
    Ok(if sweep.all_completed() {
        exit::OK
    } else {
        exit::TRIALS_FAILED
    })
}
