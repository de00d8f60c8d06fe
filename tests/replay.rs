//! Schedulers at scales this machine cannot hold, through the replayed backend (the real
//! scheduler and supervisor, virtual workers): asynchronous successive halving and Hyperband
//! decide the same with 1, 3, 64 and 512 workers, though the order results arrive in differs
//! with each; more workers finish sooner on the virtual clock.

use std::collections::BTreeMap;

use sweep::data::Corpus;
use sweep::executor::replay::{Recorded, ReplayBackend, Silent, Table};
use sweep::executor::supervise::{supervise_feed, StopRequests};
use sweep::schedule::asha_search::{AshaSearch, Shape};
use sweep::spec::{GridSpec, Plan, TrialConfig};
use sweep::store::Store;

/// 40 drawn configurations, rungs at 100, 300 and 900 steps.
fn grid(method: &str) -> String {
    format!(
        r#"{{
  "name": "replay",
  "base": {{ "steps": 900, "eval_every": 100 }},
  "search": {{ "method": "random", "trials": 40, "seed": 7 }},
  "grid": {{ "lr": {{ "loguniform": [0.001, 0.1] }}, "hidden": {{ "int": [32, 256] }} }},
  "early_stopping": {{ "method": "{method}", "min_steps": 100, "eta": 3 }}
}}"#
    )
}

/// A made-up full-budget run per trial: curves that cross (a slow starter can end best) and
/// rates over a 30× range, so that results arrive in very different orders.
fn table(trials: &[TrialConfig]) -> Table {
    let runs: BTreeMap<String, Recorded> = trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let a = ((i * 37) % 23) as f64 / 23.0;
            let b = ((i * 11) % 17) as f64 / 17.0;
            let heldout = (1..=9)
                .map(|k| {
                    let x = k as f64 / 9.0;
                    (k * 100, 5.0 + 4.0 * a * (1.0 - x) + 1.5 * b * x)
                })
                .collect();
            let recorded = Recorded {
                heldout,
                steps_per_sec: 20.0 + 600.0 * ((i * 13) % 29) as f64 / 29.0,
            };
            (t.id.clone(), recorded)
        })
        .collect();
    Table {
        startup_s: 0.5,
        runs,
    }
}

/// Runs the search on `workers` replayed workers: its `rungs.jsonl` and virtual wall time.
fn replay(method: &str, workers: usize) -> (String, f64) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.json");
    std::fs::write(&file, grid(method)).unwrap();
    let spec = GridSpec::load(&file).unwrap();
    let plan = Plan::build(&spec, Some(&Corpus::builtin())).unwrap();
    let table = table(&plan.trials);
    let store = Store::create(&dir.path().join("results")).unwrap();
    for t in &plan.trials {
        store.trial(&t.id).prepare(t).unwrap();
    }
    let es = spec.early_stopping.as_ref().unwrap();
    let shape = Shape::of(&plan.trials, &spec.objectives);
    let mut search = AshaSearch::new(&store, &plan.trials, es, 0, shape).unwrap();
    let mut backend = ReplayBackend::new(&store, &table, workers);
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut requests = StopRequests::from_channel(rx);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime
        .block_on(supervise_feed(
            &mut backend,
            &store,
            &mut search,
            &mut requests,
            &mut Silent,
        ))
        .unwrap();
    assert!(!report.interrupted);
    search.finish().unwrap();
    let rungs = std::fs::read_to_string(dir.path().join("results/rungs.jsonl")).unwrap();
    (rungs, backend.now())
}

#[test]
fn asha_decides_the_same_on_1_to_512_replayed_workers() {
    for method in ["asha", "async_hyperband"] {
        let (one, wall_one) = replay(method, 1);
        assert!(one.lines().count() > 40, "{one}");
        let mut walls = vec![wall_one];
        for workers in [3, 64, 512] {
            let (rungs, wall) = replay(method, workers);
            assert_eq!(rungs, one, "{method}, {workers} workers");
            walls.push(wall);
        }
        assert!(
            walls[1] < walls[0] && walls[3] <= walls[1],
            "{method}: more workers finish sooner: {walls:?}"
        );
    }
}
