//! `sweep status [DIR]`: the state of every trial of the last sweep in a results folder, and
//! of its Slurm arrays when it ran on Slurm.

use std::path::Path;

use super::exit;
use crate::report::{load, numbers, Status};
use crate::spec::{GridSpec, Search};
use crate::store::proposals::ProposedBy;
use crate::store::rungs::RungDecision;
use crate::store::Store;

/// Prints one line per trial and the totals; reads only. Exits with 0 when every trial
/// completed without diverging, 1 otherwise (failed, diverged, damaged or not finished, or a
/// decision log damaged).
pub fn run(dir: &Path) -> anyhow::Result<u8> {
    let store = Store::open(dir)?;
    let sweep = load::load(&store)?;
    println!("sweep `{}` in {}", sweep.manifest.name, dir.display());
    for t in &sweep.trials {
        let status = t.status();
        let detail = match (status, t.result()) {
            (Status::Diverged, _) => {
                let m = t.measures().expect("a diverged trial was measured");
                let d = m.diverged.expect("diverged");
                format!(
                    "diverged at step {}: train ppl {}",
                    d.step,
                    numbers::opt(m.final_train_ppl, 2)
                )
            }
            (Status::Stopped, _) => sweep.stop_record(t).unwrap_or_else(|| {
                format!("stopped at step {}", t.result().map_or(0, |r| r.steps_done))
            }),
            (_, Some(r)) => match (&r.reason, r.objective()) {
                (Some(reason), _) => reason.clone(),
                (None, Some(value)) => match &r.metric {
                    Some(m) => format!("{} {}", m.name, numbers::fixed(value, 4)),
                    None => format!("held-out ppl {}", numbers::fixed(value, 2)),
                },
                (None, None) => String::new(),
            },
            (_, None) => format!(
                "{}/{} steps",
                t.curves().last_step(),
                t.config.params().steps()
            ),
        };
        println!(
            "  {:<10} {}  {:<40} {}",
            status.name(),
            t.config.id,
            t.config.label,
            detail
        );
    }
    for d in &sweep.damaged {
        println!(
            "  {:<10} {}  {:<40} {}: {}",
            Status::Damaged.name(),
            d.id,
            d.label.as_deref().unwrap_or("?"),
            d.file.display(),
            d.problem
        );
    }
    let totals: Vec<String> = Status::ALL
        .iter()
        .map(|&s| (s, sweep.count(s)))
        .filter(|&(_, n)| n > 0)
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    println!(
        "{}: {}",
        numbers::count(sweep.total(), "trial"),
        totals.join(", ")
    );
    if !sweep.damaged.is_empty() {
        println!(
            "damaged trials: run the grid again (`sweep {} --out {}`) to repair them",
            sweep.manifest.grid_file.display(),
            dir.display()
        );
    }
    for problem in &sweep.damaged_logs {
        println!("damaged: {problem}");
    }
    rung_lines(&sweep.rungs, &sweep);
    let unproposed = tpe_line(&sweep);
    if let Some(queue) = crate::executor::slurm::queue_summary(dir) {
        println!("{queue}");
    }
    Ok(if sweep.all_completed() && unproposed == 0 {
        exit::OK
    } else {
        exit::TRIALS_FAILED
    })
}

/// A line per rung of early stopping: how many configurations reached it, went on and
/// stopped; for asynchronous successive halving, also the rungs still deciding as results
/// come in.
fn rung_lines(records: &[RungDecision], sweep: &load::SweepRecord) {
    let bracketed = records.iter().any(|d| d.bracket > 0);
    let name = |d: &RungDecision| {
        let bracket = if bracketed {
            format!("bracket {}, ", d.bracket + 1)
        } else {
            String::new()
        };
        format!("{bracket}rung {} (step {})", d.rung + 1, d.step)
    };
    let closed: Vec<&RungDecision> = records.iter().filter(|d| d.arrived.is_none()).collect();
    for d in &closed {
        println!(
            "{}: {} reached it, {} went on, {} stopped",
            name(d),
            numbers::count(d.reached, "configuration"),
            d.promoted.len(),
            d.stopped.len()
        );
    }
    // Asynchronous rungs not closed yet: their results so far, and the promotions decided.
    let mut open: Vec<(usize, usize)> = records
        .iter()
        .filter(|d| d.arrived.is_some())
        .map(|d| (d.bracket, d.rung))
        .filter(|r| !closed.iter().any(|c| (c.bracket, c.rung) == *r))
        .collect();
    open.sort_unstable();
    open.dedup();
    for (bracket, rung) in open {
        let at: Vec<&RungDecision> = records
            .iter()
            .filter(|d| (d.bracket, d.rung) == (bracket, rung))
            .collect();
        let reached = at.iter().map(|d| d.reached).max().unwrap_or(0);
        let promoted: usize = at.iter().map(|d| d.promoted.len()).sum();
        println!(
            "{}: {} have their result so far, {promoted} went on (deciding as results come \
             in)",
            name(at[0]),
            numbers::count(reached, "configuration")
        );
    }
    if let Some(last) = closed
        .last()
        .filter(|_| !sweep.all_completed() && !records.iter().any(|d| d.arrived.is_some()))
    {
        let at_next = sweep
            .trials
            .iter()
            .filter(|t| t.config.run.budget.is_none_or(|b| b > last.step))
            .filter(|t| t.status() != Status::Stopped)
            .count();
        println!(
            "next: the {} promoted configurations ({}) train past step {}",
            last.promoted.len(),
            numbers::count(at_next, "trial"),
            last.step
        );
    }
}

/// For a TPE search: how many configurations are chosen, and, when its grid file can still be
/// read, how many TPE has yet to propose (returned; 0 when unknown).
fn tpe_line(sweep: &load::SweepRecord) -> usize {
    if sweep.proposals.is_empty() {
        return 0;
    }
    let tpe = sweep
        .proposals
        .iter()
        .filter(|p| p.by == ProposedBy::Tpe)
        .count();
    let chosen = sweep.proposals.len();
    let target = match GridSpec::load(&sweep.manifest.grid_file).map(|s| s.search) {
        Ok(Search::Tpe(t)) => Some(t.trials),
        _ => None,
    };
    let left = target.map_or(0, |t| t.saturating_sub(chosen));
    let of = target.map_or_else(String::new, |t| format!(" of {t}"));
    println!(
        "TPE: {chosen}{of} configurations chosen, {} at random and {tpe} proposed by TPE{}",
        chosen - tpe,
        if left > 0 {
            format!(
                "; {left} to propose as results come in (run `sweep {}` again to go on)",
                sweep.manifest.grid_file.display()
            )
        } else {
            String::new()
        }
    );
    left
}
