//! What the dashboard shows, read from the results folder at most once per [`REFRESH`]
//! whatever the number of clients: the sweep (counts, ETA, the summary's verdict), every
//! trial's row (the numbers of `trials.csv`, plus where a running trial is), and every
//! trial's metrics, read on from where they were read last ([`MetricsTail`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::report::groups::Grouped;
use crate::report::load::{load_with, Status, SweepRecord};
use crate::report::{summary, tables, Lang};
use crate::store::metrics_tail::MetricsTail;
use crate::store::{MetricRow, Store};

/// How long a snapshot is served before the folder is read again.
pub const REFRESH: Duration = Duration::from_millis(900);

/// The parameters of a trial, in the order the dashboard lists them.
pub const PARAMS: [&str; 13] = [
    "cell",
    "layers",
    "dropout",
    "hidden",
    "batch_size",
    "seq_len",
    "sampling",
    "lr",
    "optimizer",
    "clip",
    "steps",
    "eval_every",
    "seed",
];

/// A results folder as the dashboard sees it.
pub struct Dashboard {
    store: Store,
    state: Mutex<State>,
}

struct State {
    tails: HashMap<String, MetricsTail>,
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
        let record = load_with(&self.store, |id, dir| {
            let tail = tails
                .entry(id.to_string())
                .or_insert_with(|| MetricsTail::new(dir.metrics_path()));
            tail.refresh();
            Arc::clone(tail.rows())
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
        "verdict": summary::verdict(record, &grouped, Lang::En),
        "results": std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
        "charts": charts(root),
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
        let target = t.config.run.budget.unwrap_or(t.config.params.steps());
        let last = t.metrics().last();
        remaining += target.saturating_sub(last.map_or(0, |r| r.step));
        if let Some(r) = last.filter(|r| status == Status::Running && r.elapsed_s > 0.0) {
            rate += r.step as f64 / r.elapsed_s;
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

/// `/api/trials`: each trial's row of `trials.csv` with its parameters grouped, where it is
/// now (step, last perplexities), and the damaged trials.
fn trials_json(record: &SweepRecord) -> Value {
    let rows = tables::trial_rows(record);
    let mut out: Vec<Value> = record
        .trials
        .iter()
        .zip(rows)
        .map(|(t, row)| {
            let Value::Object(mut fields) = serde_json::to_value(row).unwrap_or_default() else {
                return Value::Null;
            };
            let params: Map<String, Value> = PARAMS
                .iter()
                .filter_map(|&k| fields.remove(k).map(|v| (k.to_string(), v)))
                .collect();
            let last = t.metrics().last();
            fields.insert("params".into(), Value::Object(params));
            fields.insert("config_key".into(), json!(t.config.config_key()));
            let config_label: Vec<&str> = t
                .config
                .label
                .split(' ')
                .filter(|w| !w.starts_with("seed="))
                .collect();
            fields.insert("config_label".into(), json!(config_label.join(" ")));
            fields.insert("step".into(), json!(last.map_or(0, |r| r.step)));
            fields.insert(
                "steps".into(),
                json!(t.config.run.budget.unwrap_or(t.config.params.steps())),
            );
            fields.insert("train_ppl".into(), json!(last.map(|r| r.train_ppl)));
            fields.insert(
                "heldout_ppl".into(),
                json!(t.metrics().iter().rev().find_map(|r| r.heldout_ppl)),
            );
            Value::Object(fields)
        })
        .collect();
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
