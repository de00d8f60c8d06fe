//! `sweep report [DIR]`: regenerate the reports of a results folder without training.

use std::path::Path;

use super::exit;
use crate::report::{self, numbers, Lang, Status};
use crate::store::Store;

/// Rewrites trials.csv, curves.csv, the charts and summary.md in `dir`. Exits with 0 when
/// every trial completed without diverging, 1 otherwise (failed, diverged, damaged or not
/// finished): the reports are written either way.
pub fn run(dir: &Path, lang: Lang) -> anyhow::Result<u8> {
    let store = Store::open(dir)?;
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
