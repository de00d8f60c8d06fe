//! `trials.csv` (one row per trial) and `curves.csv` (tidy: one row per trial and step), one
//! writer for every kind of trial: the objective's columns carry its name (`final_val_loss`,
//! `best_val_loss`; `final_heldout_ppl` for the built-in model), and the columns only the
//! built-in model has (corpus, parameter count, the analysis' flags, training perplexity)
//! appear where its trials are. The dashboard's `/api/trials` serves the same rows.

use serde::{Serialize, Serializer};

use super::front::Front;
use super::groups::Grouped;
use super::load::{SweepRecord, TrialRecord};
use super::objective::Objective;
use crate::store::attempts::rfc3339;
use crate::store::proposals::ProposedBy;

/// One cell of a table: written to CSV as the `csv` crate writes the value (an empty field
/// for none), and to JSON as a number, string, boolean or `null` (non-finite numbers too).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Empty,
    /// A count or step.
    Int(i64),
    /// A measured number.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// Text.
    Text(String),
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Empty => s.serialize_none(),
            Cell::Int(n) => s.serialize_i64(*n),
            Cell::Float(x) => s.serialize_f64(*x),
            Cell::Bool(b) => s.serialize_bool(*b),
            Cell::Text(t) => s.serialize_str(t),
        }
    }
}

impl Cell {
    fn int(n: Option<usize>) -> Cell {
        n.map_or(Cell::Empty, |n| Cell::Int(n as i64))
    }

    fn float(x: Option<f64>) -> Cell {
        x.map_or(Cell::Empty, Cell::Float)
    }

    fn text(t: Option<&str>) -> Cell {
        t.map_or(Cell::Empty, |t| Cell::Text(t.to_string()))
    }

    /// A parameter's value from the grid file.
    fn of_value(v: Option<serde_json::Value>) -> Cell {
        use serde_json::Value;
        match v {
            None | Some(Value::Null) => Cell::Empty,
            Some(Value::Bool(b)) => Cell::Bool(b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Some(Value::String(s)) => Cell::Text(s),
            Some(other) => Cell::Text(other.to_string()),
        }
    }
}

/// Where each configuration stands with several objectives or constraints (its trials' ids
/// and `yes` on the front, `no` dominated, `infeasible`, or empty while unknown); `None` for a
/// sweep with one objective and no constraints.
fn standing(sweep: &SweepRecord) -> Option<Vec<(Vec<String>, &'static str)>> {
    if !sweep.manifest.objectives().is_multi() {
        return None;
    }
    let g = Grouped::new(sweep);
    let front = Front::of(&g);
    Some(
        g.configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ids = c.trials.iter().map(|t| t.config.id.clone()).collect();
                let word = if !c.feasible() {
                    "infeasible"
                } else {
                    match &front {
                        Some(f) if f.on_front[i] => "yes",
                        Some(f) if f.values[i].iter().all(Option::is_some) => "no",
                        _ => "",
                    }
                };
                (ids, word)
            })
            .collect(),
    )
}

/// `trials.csv` and `/api/trials` as columns and rows (with `gpus`, where each trial ran, when
/// the run placed trials on GPUs).
#[derive(Debug, Clone)]
pub struct TrialTable {
    /// Column names.
    pub columns: Vec<String>,
    /// The parameter columns (a prefix of `columns` after `id` and `label`).
    pub params: Vec<String>,
    /// One row per readable trial, in expansion order, with the trial's id.
    pub rows: Vec<(String, Vec<Cell>)>,
}

impl TrialTable {
    /// The table of `sweep`: id, label, every parameter, the TPE proposal, the status, the
    /// objective's step, final and best values, speed, memory, timing and the reason a trial
    /// stopped; with the built-in model's columns where its trials are.
    pub fn of(sweep: &SweepRecord) -> TrialTable {
        let o = Objective::of(sweep);
        let mut params: Vec<String> = Vec::new();
        for t in &sweep.trials {
            for k in t.config.params().keys() {
                if !params.contains(&k) {
                    params.push(k);
                }
            }
        }
        let name = o.name();
        let mut columns: Vec<String> = vec!["id".into(), "label".into()];
        columns.extend(params.iter().cloned());
        columns.extend(["proposal", "proposed_by"].map(String::from));
        if o.builtin {
            columns.extend(["corpus", "parameters"].map(String::from));
        }
        columns.push("status".into());
        // With several objectives or constraints: where each trial's configuration stands.
        let standing = standing(sweep);
        if standing.is_some() {
            columns.push("front".into());
        }
        if o.builtin {
            columns.extend(
                [
                    "diverged_at_step",
                    "degraded",
                    "overfitting",
                    // Its name from before programs existed, kept for scripts reading it.
                    "best_heldout_step",
                ]
                .map(String::from),
            );
        } else {
            columns.push(format!("best_{name}_step"));
        }
        columns.push("steps_done".into());
        if o.builtin {
            columns.push("final_train_ppl".into());
        }
        columns.extend([format!("final_{name}"), format!("best_{name}")]);
        // The other metrics the objectives and constraints name.
        let objectives = sweep.manifest.objectives();
        let mut others: Vec<String> = objectives
            .list
            .iter()
            .map(|m| m.name.clone())
            .chain(objectives.constraints.iter().map(|c| c.name.clone()))
            .filter(|n| n != name && crate::spec::Measure::named(n).is_none())
            .collect();
        let mut seen = std::collections::HashSet::new();
        others.retain(|n| seen.insert(n.clone()));
        columns.extend(others.iter().map(|n| format!("final_{n}")));
        columns.extend(
            [
                "steps_per_sec",
                "peak_memory_mb",
                "wall_seconds",
                "started_at",
                "finished_at",
                "worker_seconds",
                "rungs_at",
                "reason",
            ]
            .map(String::from),
        );
        // Where trials ran, when the run placed them on GPUs.
        let placed = sweep
            .trials
            .iter()
            .any(|t| t.attempts.iter().any(|a| a.gpus.is_some()));
        if placed {
            columns.insert(columns.len() - 1, "gpus".into());
        }
        // What they used of them, where NVML measured it.
        let measured = sweep
            .trials
            .iter()
            .any(|t| t.result().is_some_and(|r| r.gpu.is_some()));
        if measured {
            for name in [
                "peak_gpu_memory_mb",
                "gpu_memory_total_mb",
                "gpu_utilisation",
            ] {
                columns.insert(columns.len() - 1, name.into());
            }
        }
        let chosen = super::proposals::chosen(sweep);
        let rows = sweep
            .trials
            .iter()
            .map(|t| {
                let proposal = chosen.get(t.config.config_key().as_str());
                let r = t.result();
                let m = t.measures();
                let mut cells = vec![
                    Cell::Text(t.config.id.clone()),
                    Cell::Text(t.config.label.clone()),
                ];
                cells.extend(
                    params
                        .iter()
                        .map(|k| Cell::of_value(t.config.params().get(k))),
                );
                cells.push(Cell::int(proposal.map(|p| p.index + 1)));
                cells.push(Cell::text(proposal.map(|p| match p.by {
                    ProposedBy::Random => "random",
                    ProposedBy::Tpe => "tpe",
                })));
                if o.builtin {
                    let corpus = t.config.model().map(|(_, c)| c.name.as_str());
                    cells.push(Cell::text(corpus));
                    cells.push(Cell::int(r.and_then(|r| r.parameters)));
                }
                cells.push(Cell::Text(t.status().name().into()));
                if let Some(standing) = &standing {
                    let at = standing.iter().find(|(ids, _)| ids.contains(&t.config.id));
                    cells.push(Cell::Text(at.map_or("", |s| s.1).into()));
                }
                if o.builtin {
                    cells.push(Cell::int(
                        m.as_ref().and_then(|m| m.diverged.map(|d| d.step)),
                    ));
                    cells.push(Cell::Bool(m.as_ref().is_some_and(|m| m.degraded.is_some())));
                    cells.push(Cell::Bool(m.as_ref().is_some_and(|m| m.overfitting)));
                }
                cells.push(Cell::int(best_step(t)));
                cells.push(Cell::int(Some(
                    r.map_or_else(|| t.curves().last_step(), |r| r.steps_done),
                )));
                if o.builtin {
                    cells.push(Cell::float(r.and_then(|r| r.final_train_ppl)));
                }
                cells.push(Cell::float(r.and_then(|r| r.objective())));
                cells.push(Cell::float(r.and_then(|r| r.best_objective())));
                for n in &others {
                    let last = r.and(t.curves().last(n)).map(|(_, v)| v);
                    cells.push(Cell::float(last));
                }
                cells.push(Cell::float(r.and_then(|r| r.steps_per_sec)));
                cells.push(Cell::float(r.and_then(|r| r.peak_memory_mb)));
                cells.push(Cell::float(r.map(|r| r.wall_seconds)));
                let timing = t.timing();
                cells.push(Cell::text(timing.started_at.map(rfc3339).as_deref()));
                cells.push(Cell::text(timing.finished_at.map(rfc3339).as_deref()));
                // Rounded to the millisecond, as written.
                cells.push(if t.attempts.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Float(
                        format!("{:.3}", timing.worker_seconds)
                            .parse()
                            .unwrap_or(0.0),
                    )
                });
                cells.push(Cell::Text(
                    timing
                        .rungs
                        .iter()
                        .map(|(step, at)| format!("{step}@{}", rfc3339(*at)))
                        .collect::<Vec<_>>()
                        .join(";"),
                ));
                if placed {
                    cells.push(Cell::Text(gpus_of(t)));
                }
                if measured {
                    let gpu = r.and_then(|r| r.gpu.as_ref());
                    cells.push(Cell::float(gpu.map(|g| g.peak_memory_mb)));
                    cells.push(Cell::float(gpu.map(|g| g.memory_total_mb)));
                    cells.push(Cell::float(gpu.map(|g| g.mean_utilisation)));
                }
                cells.push(Cell::text(r.and_then(|r| r.reason.as_deref())));
                (t.config.id.clone(), cells)
            })
            .collect();
        TrialTable {
            columns,
            params,
            rows,
        }
    }
}

/// The GPUs a trial's attempts ran on, each set once in the order used (`0;1` for a trial
/// that moved from GPU 0 to GPU 1).
fn gpus_of(t: &TrialRecord) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for g in t.attempts.iter().filter_map(|a| a.gpus.as_deref()) {
        if !seen.contains(&g) {
            seen.push(g);
        }
    }
    seen.join(";")
}

/// The step of a finished trial's best objective value: where the analysis found it for the
/// built-in model, as the program's result records it for a program.
fn best_step(t: &TrialRecord) -> Option<usize> {
    match t.measures() {
        Some(m) => m.best.map(|b| b.0),
        None => {
            let outcome = t.result()?.metric.as_deref()?;
            outcome.best.map(|_| outcome.best_step)
        }
    }
}

/// `trials.csv`: see [`TrialTable::of`]. Damaged trials are left out (`sweep status` and
/// summary.md list them).
pub fn trials_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    let table = TrialTable::of(sweep);
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(&table.columns)?;
    for (_, cells) in &table.rows {
        w.serialize(cells)?;
    }
    Ok(w.into_inner()?)
}

/// `curves.csv`: every row of every trial, tidy long format: trial_id, step, each value the
/// trials report (the built-in model's `train_loss`, `train_ppl`, `heldout_ppl`; every metric
/// a program reported, in name order), elapsed_s. A value a row did not report is empty.
pub fn curves_csv(sweep: &SweepRecord) -> anyhow::Result<Vec<u8>> {
    let mut names: Vec<String> = Vec::new();
    for t in &sweep.trials {
        for n in t.curves().value_names() {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    if !Objective::of(sweep).builtin {
        names.sort();
    } else if names.is_empty() {
        // The header of a model sweep without rows yet.
        names = crate::store::Curves::default().value_names();
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut header = vec!["trial_id".to_string(), "step".into()];
    header.extend(names.iter().cloned());
    header.push("elapsed_s".into());
    w.write_record(&header)?;
    for t in &sweep.trials {
        let id = Cell::Text(t.config.id.clone());
        for (step, elapsed, values) in t.curves().rows(&names) {
            let mut row = vec![id.clone(), Cell::Int(step as i64)];
            row.extend(values.into_iter().map(Cell::float));
            row.push(Cell::Float(elapsed));
            w.serialize(&row)?;
        }
    }
    Ok(w.into_inner()?)
}
