//! `sweep report [DIR]`: regenerate the reports of a results folder without training.

use std::path::Path;

use super::exit;
use crate::report::{self, Lang};
use crate::store::Store;

/// Rewrites trials.csv, curves.csv, the charts and summary.md in `dir`.
pub fn run(dir: &Path, lang: Lang) -> anyhow::Result<u8> {
    let store = Store::open(dir)?;
    let (sweep, written) = report::write_all(&store, lang)?;
    println!(
        "wrote {}, {} and {} ({} trials)",
        written.summary_md.display(),
        written.trials_csv.display(),
        written.curves_csv.display(),
        sweep.trials.len()
    );
    Ok(exit::OK)
}
