//! `sweep status [DIR]`: the state of every trial of the last sweep in a results folder, and
//! of its Slurm arrays when it ran on Slurm.

use std::path::Path;

use super::exit;
use crate::report::load;
use crate::store::Store;

/// Prints one line per trial and the totals; reads only.
pub fn run(dir: &Path) -> anyhow::Result<u8> {
    let store = Store::open(dir)?;
    let sweep = load::load(&store)?;
    let mut counts = std::collections::BTreeMap::new();
    println!("sweep `{}` in {}", sweep.manifest.name, dir.display());
    for t in &sweep.trials {
        let name = t.status_name();
        *counts.entry(name).or_insert(0) += 1;
        let detail = match t.result() {
            Some(r) => match (&r.reason, r.final_heldout_ppl) {
                (Some(reason), _) => reason.clone(),
                (None, Some(ppl)) => format!("held-out ppl {ppl:.2}"),
                (None, None) => String::new(),
            },
            None => format!("{}/{} steps", t.metrics.len(), t.config.params.steps),
        };
        println!(
            "  {:<10} {}  {:<40} {}",
            name, t.config.id, t.config.label, detail
        );
    }
    let totals: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{} trials: {}", sweep.trials.len(), totals.join(", "));
    if let Some(queue) = crate::executor::slurm::queue_summary(dir) {
        println!("{queue}");
    }
    Ok(exit::OK)
}
