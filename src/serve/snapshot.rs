//! What the dashboard shows, read from the results folder at most once per [`REFRESH`]
//! whatever the number of clients: the sweep (counts, ETA, the summary's verdict), every
//! trial's row (the numbers of `trials.csv`, plus where a running trial is), and every
//! trial's metrics, read on from where they were read last ([`CurvesTail`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::report::groups::Grouped;
use crate::report::load::{load_with, Status, SweepRecord};
use crate::report::{summary, tables, Lang};
use crate::store::metrics_tail::CurvesTail;
use crate::store::{Curves, MetricRow, Store};

/// How long a snapshot is served before the folder is read again.
pub const REFRESH: Duration = Duration::from_millis(900);

/// A results folder as the dashboard sees it.
pub struct Dashboard {
    store: Store,
    state: Mutex<State>,
}

struct State {
    tails: HashMap<String, CurvesTail>,
    current: Option<Arc<Snapshot>>,
    refreshed: Option<Instant>,
    generation: u64,
}

/// The folder at one moment.
pub struct Snapshot {
    /// Grows whenever what the API returns changed.
    pub generation: u64,
    /// The stored results.
    pub record: SweepRecord,
    /// `/api/sweep`.
    pub sweep: Value,
    /// `/api/trials`.
    pub trials: Value,
    summary: OnceLock<String>,
}

impl Dashboard {
    /// A dashboard of the results folder `store`.
    pub fn new(store: Store) -> Dashboard {
        Dashboard {
            store,
            state: Mutex::new(State {
                tails: HashMap::new(),
                current: None,
                refreshed: None,
                generation: 0,
            }),
        }
    }

    /// The results folder.
    pub fn root(&self) -> &Path {
        self.store.root()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The folder now: the last snapshot if it is younger than [`REFRESH`], else a new one.
    pub fn snapshot(&self) -> anyhow::Result<Arc<Snapshot>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(current), Some(at)) = (&state.current, state.refreshed) {
            if at.elapsed() < REFRESH {
                return Ok(Arc::clone(current));
            }
        }
        let state = &mut *state;
        let tails = &mut state.tails;
        let record = load_with(&self.store, |config, dir| {
            let tail = tails
                .entry(config.id.clone())
                .or_insert_with(|| CurvesTail::for_trial(dir, config));
            tail.refresh();
            (tail.curves(), tail.damaged().map(String::from))
        })?;
        let sweep = sweep_json(&record, self.store.root());
        let trials = trials_json(&record);
        let changed = state
            .current
            .as_ref()
            .is_none_or(|c| c.sweep != sweep || c.trials != trials);
        if changed {
            state.generation += 1;
        }
        let mut sweep = sweep;
        sweep["generation"] = json!(state.generation);
        let snapshot = Arc::new(Snapshot {
            generation: state.generation,
            record,
            sweep,
            trials,
            summary: OnceLock::new(),
        });
        state.current = Some(Arc::clone(&snapshot));
        state.refreshed = Some(Instant::now());
        Ok(snapshot)
    }
}

impl Snapshot {
    /// The summary: once no trial is left to train, `summary.md` as the sweep (or `sweep
    /// report`) wrote it, with its charts; until then rendered from the folder as it is now,
    /// without charts (the server writes nothing).
    pub fn summary(&self, results: &Path) -> &str {
        self.summary.get_or_init(|| {
            let unfinished = [Status::Running, Status::Partial, Status::Pending]
                .iter()
                .any(|&s| self.record.count(s) > 0);
            if !unfinished {
                if let Ok(text) = std::fs::read_to_string(results.join("summary.md")) {
                    return text;
                }
            }
            let mut ctx = summary::Context::of_this_machine(Lang::En);
            ctx.results = std::path::absolute(results).unwrap_or_else(|_| results.to_path_buf());
            summary::render(&self.record, &ctx, &summary::ChartLinks::default())
        })
    }

    /// The curves of trial `id`, if it is in the sweep.
    pub fn curves(&self, id: &str) -> Option<Curves> {
        self.record
            .trials
            .iter()
            .find(|t| t.config.id == id)
            .map(|t| t.curves())
    }

    /// The metric rows of trial `id`, if it is in the sweep.
    pub fn rows(&self, id: &str) -> Option<&Arc<Vec<MetricRow>>> {
        self.record
            .trials
            .iter()
            .find(|t| t.config.id == id)
            .map(|t| t.metrics())
    }
}

/// `/api/sweep`: the sweep's name, search, counts, ETA and verdict.
fn sweep_json(record: &SweepRecord, root: &Path) -> Value {
    let m = &record.manifest;
    let search = if !record.proposals.is_empty() {
        "tpe"
    } else if !m.ranges.is_empty() {
        "random"
    } else {
        "grid"
    };
    let counts: Map<String, Value> = Status::ALL
        .iter()
        .map(|&s| (s.name().to_string(), json!(record.count(s))))
        .collect();
    let grouped = Grouped::new(record);
    let metric = m.objective();
    let verdict = summary::verdict(record, &grouped, Lang::En);
    json!({
        "name": m.name,
        "grid_file": m.grid_file,
        "corpus": m.corpus,
        "search": search,
        "early_stopping": !record.rungs.is_empty() || record.count(Status::Stopped) > 0,
        "axes": m.axes,
        "ranged": m.ranges,
        "log_ranged": m.log_ranges,
        "counts": counts,
        "total": record.total(),
        "eta_seconds": eta_seconds(record),
        "started_at": m.started_at,
        "wall_seconds": m.wall_seconds,
        // How busy the workers were, once a local run has recorded its wall time.
        "busy": crate::report::busy::Busy::of(record).map(|b| json!({
            "share": b.share(),
            "worker_seconds": b.worker_seconds,
            "wall_seconds": b.wall_seconds,
            "workers": b.workers,
        })),
        "verdict": verdict,
        "metric": { "name": metric.name, "mode": metric.mode, "builtin": m.metric.is_none() },
        "front": front_json(&grouped),
        "program": m.program,
        "results": std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
        "charts": charts(root),
    })
}

/// With several objectives or constraints: the objectives, the constraints, and each
/// configuration's mean value of every objective, its trials, whether it is on the front and
/// which constraints it breaks (`null` otherwise).
fn front_json(g: &Grouped) -> Value {
    if !g.objectives.is_multi() {
        return Value::Null;
    }
    let front = crate::report::front::Front::of(g);
    json!({
        "objectives": g.objectives.list,
        "constraints": g.objectives.constraints.iter().map(|c| c.text()).collect::<Vec<_>>(),
        "configurations": g.configs.iter().enumerate().map(|(i, c)| json!({
            "label": c.label,
            "trials": c.trials.iter().map(|t| t.config.id.as_str()).collect::<Vec<_>>(),
            "values": front.as_ref().map(|f| f.values[i].clone()),
            "on_front": front.as_ref().is_some_and(|f| f.on_front[i]),
            "feasible": c.feasible(),
            "broken": c.broken.iter().map(|(k, _)| k.text()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Seconds until every unfinished trial has trained its steps at the running trials'
/// current training rate (`None` when none is running).
fn eta_seconds(record: &SweepRecord) -> Option<f64> {
    let mut remaining = 0usize;
    let mut rate = 0.0;
    for t in &record.trials {
        let status = t.status();
        if !matches!(status, Status::Running | Status::Partial | Status::Pending) {
            continue;
        }
        let target = t.config.budget();
        let curves = t.curves();
        let step = curves.last_step();
        remaining += target.saturating_sub(step);
        if let Some(elapsed) = curves
            .last_elapsed()
            .filter(|&e| status == Status::Running && e > 0.0)
        {
            rate += step as f64 / elapsed;
        }
    }
    (rate > 0.0).then(|| remaining as f64 / rate)
}

/// The chart files the last report wrote, relative to the folder.
fn charts(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (folder, prefix) in [(root.to_path_buf(), ""), (root.join("charts"), "charts/")] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for name in entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
        {
            if name.ends_with(".png") {
                found.push(format!("{prefix}{name}"));
            }
        }
    }
    found.sort();
    found
}

/// A number JSON can hold, or null.
fn finite(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite())
        .map_or(Value::Null, |v| json!(v))
}

/// `/api/trials`: each trial's row of `trials.csv` (the objective under its own name:
/// `final_<metric>`, `best_<metric>`) with its parameters grouped under `params`, where it is
/// now (`step`, `last_<metric>`; the built-in model's rows keep `train_ppl` and `heldout_ppl`
/// too), and the damaged trials.
fn trials_json(record: &SweepRecord) -> Value {
    let table = tables::TrialTable::of(record);
    let metric = record.manifest.objective();
    let builtin = record.manifest.metric.is_none();
    let by_id: HashMap<&str, &crate::report::TrialRecord> = record
        .trials
        .iter()
        .map(|t| (t.config.id.as_str(), t))
        .collect();
    let mut out: Vec<Value> = table
        .rows
        .iter()
        .filter_map(|(id, cells)| {
            let t = by_id.get(id.as_str())?;
            let mut fields = Map::new();
            let mut params = Map::new();
            for (column, cell) in table.columns.iter().zip(cells) {
                let value = serde_json::to_value(cell).unwrap_or_default();
                if table.params.contains(column) {
                    params.insert(column.clone(), value);
                } else {
                    fields.insert(column.clone(), value);
                }
            }
            let curves = t.curves();
            let last = match t.result() {
                Some(r) => r.objective(),
                None => curves.last(&metric.name).map(|l| l.1),
            };
            fields.insert("params".into(), Value::Object(params));
            fields.insert("config_key".into(), json!(t.config.config_key()));
            fields.insert("config_label".into(), json!(t.config.config_label()));
            fields.insert("step".into(), json!(curves.last_step()));
            fields.insert("steps".into(), json!(t.config.budget()));
            fields.insert(format!("last_{}", metric.name), finite(last));
            if builtin {
                // The names the dashboard read before the metric had its own.
                let rows = t.metrics();
                fields.insert("train_ppl".into(), json!(rows.last().map(|r| r.train_ppl)));
                fields.insert(
                    "heldout_ppl".into(),
                    json!(rows.iter().rev().find_map(|r| r.heldout_ppl)),
                );
            } else {
                // A running program's best so far, before its result records one.
                let best = format!("best_{}", metric.name);
                if fields.get(&best).is_none_or(Value::is_null) {
                    let so_far = curves.best(&metric).map(|b| b.1);
                    fields.insert(best, finite(so_far));
                }
            }
            Some(Value::Object(fields))
        })
        .collect();
    out.retain(|v| !v.is_null());
    for d in &record.damaged {
        out.push(json!({
            "id": d.id,
            "label": d.label.clone().unwrap_or_else(|| d.id.clone()),
            "status": "damaged",
            "reason": format!("{}: {}", d.file.display(), d.problem),
            "params": {},
            "step": 0,
            "steps": 0,
        }));
    }
    json!({ "trials": out })
}
