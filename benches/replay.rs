//! The replay bench: early stopping at scales this machine cannot hold. Each search runs the
//! real scheduler (synchronous or asynchronous successive halving, Hyperband's brackets of
//! either, or every configuration to the end) over [`ReplayBackend`]'s virtual workers, which
//! play `bench/replay/search.json`: every configuration of `sweeps/search.json`'s space (random
//! search, seed 0) trained to the full 900 steps on this machine, its held-out perplexity at
//! each evaluation and its steps/s. Prints, per method, configurations and workers: how busy
//! the workers were, the virtual wall time, the steps trained, the best found and the time
//! until the best found is within 2% of the best of all.
//!
//! `bench/replay.sh` runs it; `CONFIGS=27,300` and `WORKERS=2,8,64,512` choose the rows.
//! `TABLE_FROM=results-folder` makes the table from a full-budget results folder instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sweep::data::Corpus;
use sweep::executor::replay::{Recorded, ReplayBackend, Silent, Table};
use sweep::executor::supervise::{supervise, supervise_feed, FixedFeed, StopRequests};
use sweep::schedule::asha_search::{AshaSearch, Shape};
use sweep::schedule::scoring::Scoring;
use sweep::schedule::{successive_halving, Ended};
use sweep::spec::{GridSpec, Plan, TrialConfig};
use sweep::store::Store;

/// The methods compared: the grid file's `early_stopping.method`, or none.
const METHODS: [(&str, Option<&str>); 5] = [
    ("every configuration to the end", None),
    ("successive halving", Some("successive_halving")),
    ("ASHA", Some("asha")),
    ("Hyperband", Some("hyperband")),
    ("asynchronous Hyperband", Some("async_hyperband")),
];

fn list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name).map_or_else(
        |_| default.to_vec(),
        |v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
    )
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table_file = root.join("bench/replay/search.json");
    if let Ok(folder) = std::env::var("TABLE_FROM") {
        let table = table_from(Path::new(&folder))?;
        std::fs::create_dir_all(table_file.parent().unwrap())?;
        std::fs::write(&table_file, serde_json::to_string(&table)? + "\n")?;
        eprintln!(
            "wrote {} ({} runs, start-up {:.2} s an attempt)",
            table_file.display(),
            table.runs.len(),
            table.startup_s
        );
        return Ok(());
    }
    let table: Table = serde_json::from_str(&std::fs::read_to_string(&table_file)?)?;
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("sweeps/search.json"))?)?;
    let corpus = Corpus::builtin();
    println!(
        "| configurations | method | workers | busy | virtual wall | steps | best found | to within 2% of the best |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for configs in list("CONFIGS", &[27, 300]) {
        for (name, method) in METHODS {
            for workers in list("WORKERS", &[2, 8, 64, 512]) {
                let scratch = tempfile::tempdir()?;
                let mut grid = base.clone();
                grid["search"] = json!({"method": "random", "trials": configs, "seed": 0});
                match method {
                    Some(m) => grid["early_stopping"]["method"] = json!(m),
                    None => {
                        grid.as_object_mut().unwrap().remove("early_stopping");
                    }
                }
                let file = scratch.path().join("grid.json");
                std::fs::write(&file, serde_json::to_string(&grid)?)?;
                let spec = GridSpec::load(&file)?;
                let plan = Plan::build(&spec, Some(&corpus))?;
                let store = Store::create(&scratch.path().join("results"))?;
                let mut backend = ReplayBackend::new(&store, &table, workers);
                run(&spec, &plan.trials, &store, &mut backend)?;
                let best_all = plan
                    .trials
                    .iter()
                    .filter_map(|t| table.runs.get(&t.id)?.at(900))
                    .fold(f64::INFINITY, f64::min);
                let best = backend
                    .completed
                    .iter()
                    .map(|c| c.1)
                    .fold(f64::INFINITY, f64::min);
                let mut so_far = f64::INFINITY;
                let within = backend.completed.iter().find_map(|&(t, v)| {
                    so_far = so_far.min(v);
                    (so_far <= 1.02 * best_all).then_some(t)
                });
                let wall = backend.now();
                println!(
                    "| {configs} | {name} | {workers} | {:.0}% | {} | {:.0}% | {best:.2} (best of all {best_all:.2}) | {} |",
                    100.0 * backend.busy_s / (wall * workers as f64),
                    seconds(wall),
                    100.0 * backend.steps as f64 / (900 * plan.trials.len()) as f64,
                    within.map_or_else(|| "never".to_string(), seconds),
                );
            }
        }
    }
    Ok(())
}

/// Runs `trials` as the grid file says, on `backend`.
fn run(
    spec: &GridSpec,
    trials: &[TrialConfig],
    store: &Store,
    backend: &mut ReplayBackend,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut requests = StopRequests::from_channel(rx);
    for t in trials {
        store.trial(&t.id).prepare(t)?;
    }
    match &spec.early_stopping {
        None => {
            let sorted = longest_first(trials, backend);
            let mut feed = FixedFeed::new(&sorted);
            runtime.block_on(supervise_feed(
                backend,
                store,
                &mut feed,
                &mut requests,
                &mut Silent,
            ))?;
        }
        Some(es) if es.method.is_async() => {
            let shape = Shape::of(trials, &spec.objectives);
            let mut search = AshaSearch::new(store, trials, es, 0, shape)?;
            runtime.block_on(supervise_feed(
                backend,
                store,
                &mut search,
                &mut requests,
                &mut Silent,
            ))?;
            search.finish()?;
        }
        Some(es) => {
            let scoring = Scoring::new(&spec.objectives);
            successive_halving(store, trials, es, &scoring, 0, |batch| {
                let sorted = longest_first(batch, backend);
                runtime.block_on(supervise(
                    backend,
                    store,
                    &sorted,
                    &mut requests,
                    &mut Silent,
                ))?;
                Ok(Ended::Done)
            })?;
        }
    }
    Ok(())
}

/// The trials in the order `sweep` launches a batch: longest first (here by their replayed
/// steps/s).
fn longest_first(trials: &[TrialConfig], backend: &ReplayBackend) -> Vec<TrialConfig> {
    let mut sorted = trials.to_vec();
    let rate = |t: &TrialConfig| backend.steps_per_sec(&t.id);
    sorted.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    sorted
}

/// "1 h 2 min", "3 min 20 s", "45.0 s".
fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{} h {:.0} min", (s / 3600.0).floor(), (s % 3600.0) / 60.0)
    }
}

/// The table of a results folder in which every trial trained to its end: each trial's
/// held-out perplexity at its evaluations and steps/s, and the median start-up of an attempt
/// (its wall time less its training time).
fn table_from(folder: &Path) -> anyhow::Result<Table> {
    let sweep = sweep::report::load::load(&Store::at(&PathBuf::from(folder)))?;
    let mut runs = BTreeMap::new();
    let mut startups = Vec::new();
    for t in &sweep.trials {
        let Some(r) = t.result() else { continue };
        let Some(rate) = r.steps_per_sec else {
            continue;
        };
        let heldout: Vec<(usize, f64)> = t
            .metrics()
            .iter()
            .filter_map(|m| Some((m.step, m.heldout_ppl?)))
            .collect();
        for a in &t.attempts {
            startups.push(a.seconds - a.steps_done as f64 / rate);
        }
        runs.insert(
            t.config.id.clone(),
            Recorded {
                heldout,
                steps_per_sec: rate,
            },
        );
    }
    startups.sort_by(f64::total_cmp);
    Ok(Table {
        startup_s: startups
            .get(startups.len() / 2)
            .copied()
            .unwrap_or(0.0)
            .max(0.0),
        runs,
    })
}
