//! Reports: pure functions of the stored results (so `sweep report` needs no training and no
//! model), one set for every kind of trial, named by the sweep's [`objective`]. [`load`] reads
//! a results folder; [`analysis`] computes the measures and [`groups`] aggregates them;
//! [`tables`] writes `trials.csv` and `curves.csv`; [`figures`] decides the charts that
//! [`charts`] draws; [`summary`] renders `summary.md` in a [`lang`], with numbers written by
//! [`numbers`]; [`busy`] says how busy the workers were and [`proposals`] how TPE chose. With
//! several objectives, [`values`] reads any objective of a trial, [`front`] finds the
//! trade-off front and [`tradeoff`] writes its section.

pub mod analysis;
pub mod busy;
pub mod charts;
pub mod compare;
pub mod figures;
pub mod front;
pub mod groups;
pub mod lang;
pub mod load;
pub mod numbers;
pub mod objective;
pub mod proposals;
pub mod stats;
pub mod summary;
pub mod tables;
pub mod tradeoff;
pub mod values;

use std::path::PathBuf;

use crate::store::{atomic, Store};

pub use lang::Lang;
pub use load::{Status, SweepRecord, TrialRecord};

/// The files a report run wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// `trials.csv`.
    pub trials_csv: PathBuf,
    /// `curves.csv`.
    pub curves_csv: PathBuf,
    /// `summary.md`.
    pub summary_md: PathBuf,
}

/// Regenerates every report of the sweep last run in `store`: CSVs, charts and summary.
pub fn write_all(store: &Store, lang: Lang) -> anyhow::Result<(SweepRecord, Written)> {
    let sweep = load::load(store)?;
    let root = store.root();
    let written = Written {
        trials_csv: root.join("trials.csv"),
        curves_csv: root.join("curves.csv"),
        summary_md: root.join("summary.md"),
    };
    atomic::write(&written.trials_csv, &tables::trials_csv(&sweep)?)?;
    atomic::write(&written.curves_csv, &tables::curves_csv(&sweep)?)?;
    let grouped = groups::Grouped::new(&sweep);
    let links = figures::draw_all(root, &grouped)?;
    let mut ctx = summary::Context::of_this_machine(lang);
    ctx.results = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    ctx.sample = grouped.best_trial().and_then(|best| {
        let stored = store.trial(&best.config.id).sample().ok()??;
        Some(summary::Sample {
            label: best.config.label.clone(),
            id: best.config.id.clone(),
            stored,
        })
    });
    let summary = summary::render(&sweep, &ctx, &links);
    atomic::write(&written.summary_md, summary.as_bytes())?;
    Ok((sweep, written))
}
