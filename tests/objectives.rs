//! Several objectives and constraints, end to end, over a program whose front is known:
//! f1 = x, f2 = 1 − √x (both + 1/step), a nuisance axis `n` that adds 0.3 to f2 at n=1 and
//! a hair (0.001 on both) at n=2, and ±0.003 of seed noise. Every x with n ∈ {0, 2} is on the
//! front; n=1 is dominated; n=2 is worse than n=0 on both objectives, but by less than the
//! seed noise, so it stays. Successive halving and TPE rank by both objectives and decide the
//! same whatever `--jobs` and kill -9. The program is tests/programs/front.py.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{python_available, Workspace};
use serde_json::{json, Value};

macro_rules! require_python {
    () => {
        if !python_available() {
            eprintln!("skipped: no python3 on PATH");
            return;
        }
    };
}

/// The folder of the test programs (the same absolute path in every workspace, so trial ids
/// agree between them).
fn programs() -> String {
    format!("{}/tests/programs", env!("CARGO_MANIFEST_DIR"))
}

/// A grid over the program with `objectives` and these other top-level entries.
fn grid(ws: &Workspace, rest: Value) -> PathBuf {
    let mut grid = json!({
        "name": "front",
        "program": { "command": ["python3", "front.py"], "workdir": programs() },
        "objectives": [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}],
        "base": { "steps": 20, "eval_every": 10, "x": 0.5 },
    });
    for (k, v) in rest.as_object().unwrap() {
        grid[k] = v.clone();
    }
    ws.write("grid.json", grid.to_string())
}

/// The labels the summary's trade-off section lists on the front.
fn front_labels(summary: &str) -> BTreeSet<String> {
    let section = summary
        .split("## Trade-off")
        .nth(1)
        .expect("a trade-off section")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter(|l| l.contains(" — "))
        .filter_map(|l| l.strip_prefix("- **"))
        .filter_map(|l| l.split("**").next())
        .map(String::from)
        .collect()
}

fn labels(xs: &[&str], ns: &[u8]) -> BTreeSet<String> {
    xs.iter()
        .flat_map(|x| ns.iter().map(move |n| format!("x={x} n={n}")))
        .collect()
}

const XS: [&str; 5] = ["0", "0.25", "0.5", "0.75", "1"];

#[test]
fn the_front_is_the_known_one_and_seed_noise_does_not_drop_a_point_from_it() {
    require_python!();
    let ws = Workspace::new();
    let g = grid(
        &ws,
        json!({"grid": {"x": [0, 0.25, 0.5, 0.75, 1.0], "n": [0, 1, 2]}, "seeds": [0, 1]}),
    );
    let run = ws.sweep(&g, &[]);
    run.expect_code(0);
    let summary = ws.read("summary.md");
    assert_eq!(front_labels(&summary), labels(&XS, &[0, 2]), "{summary}");
    assert!(
        run.stdout()
            .contains("front of f1 and f2 (10 of 15): x=0 n=0; x=0 n=2; x=0.25 n=0;"),
        "{}",
        run.stdout()
    );
    assert!(
        summary.contains("Dominated (another configuration"),
        "{summary}"
    );
    assert!(summary.contains("![f1 / f2](front.png)"), "{summary}");
    assert!(ws.results().join("front.svg").is_file());
    // Sorted along f1, each against the one before: x=0 first, x=1 last.
    let section = summary.split("## Trade-off").nth(1).unwrap();
    let first = section.find("- **x=0 n=").unwrap();
    let last = section.find("- **x=1 n=").unwrap();
    assert!(first < last, "{section}");
    assert!(section.contains("the best f1"), "{section}");
    assert!(section.contains("% higher (worse)") && section.contains("% lower (better)"));

    // Without the noise margin, n=2 would drop: it is worse than n=0 on both means.
    let trials = ws.csv("trials.csv");
    let mean = |label: &str, key: &str| {
        let v: Vec<f64> = trials
            .iter()
            .filter(|t| t["label"].starts_with(&format!("{label} seed=")))
            .map(|t| t[key].parse::<f64>().unwrap())
            .collect();
        assert_eq!(v.len(), 2, "{label}");
        v.iter().sum::<f64>() / 2.0
    };
    assert!(mean("x=0.5 n=2", "final_f1") > mean("x=0.5 n=0", "final_f1"));
    assert!(mean("x=0.5 n=2", "final_f2") > mean("x=0.5 n=0", "final_f2"));
    for t in &trials {
        let n = t["n"].as_str();
        let want = if n == "1" { "no" } else { "yes" };
        assert_eq!(t["front"], want, "{}", t["label"]);
    }

    // The same front in Chinese.
    let zh = ws.command(&["report", ws.results().to_str().unwrap(), "--lang", "zh"]);
    zh.expect_code(0);
    let summary = ws.read("summary.md");
    assert!(summary.contains("## 权衡：f1 与 f2"), "{summary}");
}

#[test]
fn a_configuration_that_breaks_a_constraint_is_never_on_the_front_nor_the_best() {
    require_python!();
    let ws = Workspace::new();
    let g = grid(
        &ws,
        json!({"grid": {"x": [0, 0.25, 0.5, 1.0], "n": [0, 1]}, "seeds": [0, 1],
               "constraints": ["f2 <= 0.9"]}),
    );
    ws.sweep(&g, &[]).expect_code(0);
    let summary = ws.read("summary.md");
    // x=0 has the best f1 but f2 ≈ 1.05.
    assert_eq!(
        front_labels(&summary),
        labels(&["0.25", "0.5", "1"], &[0]),
        "{summary}"
    );
    assert!(
        summary.contains("- **x=0 n=0** breaks `f2 <= 0.9` (f2 1.05)."),
        "{summary}"
    );
    assert!(
        summary.contains("Best configuration: **x=0.25 n=0**"),
        "{summary}"
    );
    let infeasible: BTreeSet<String> = ws
        .csv("trials.csv")
        .into_iter()
        .filter(|t| t["front"] == "infeasible")
        .map(|t| t["label"].replace(" seed=0", "").replace(" seed=1", ""))
        .collect();
    // x=0.25 n=1: f2 = 0.5 + 0.3 + 0.05 keeps it; x=0.5 n=1 too; x=0 breaks it either way.
    assert_eq!(infeasible, labels(&["0"], &[0, 1]), "{summary}");
}

#[test]
fn halving_and_tpe_on_two_objectives_decide_the_same_whatever_the_jobs_and_kill_9_rounds() {
    require_python!();
    let rest = json!({
        "base": { "steps": 90, "eval_every": 10, "x": 0.5, "step_delay_s": 0.004 },
        "search": { "method": "tpe", "trials": 9, "seed": 3, "startup": 6, "lag": 3 },
        "grid": { "x": { "uniform": [0, 1] }, "n": [0, 1] },
        "early_stopping": { "method": "successive_halving", "min_steps": 10, "eta": 3 },
    });
    let one = Workspace::new();
    let g = grid(&one, rest.clone());
    let (_, two) = common::with_one_and_two_jobs(&one, &g);
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));
    assert_eq!(one.numbers(), two.numbers());

    // The first rung ranks by both objectives: the configuration with the best f2 goes on,
    // and ranking by f1 alone would have promoted others. One seed (0): a configuration's key
    // in rungs.jsonl is its trial's id.
    let first: Value =
        serde_json::from_str(one.read("rungs.jsonl").lines().next().unwrap()).unwrap();
    let keys = |field: &str| -> Vec<String> {
        first[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().or(v["config"].as_str()).unwrap().to_string())
            .collect()
    };
    let (promoted, stopped) = (keys("promoted"), keys("stopped"));
    assert_eq!(promoted.len() + stopped.len(), 6, "{first}");
    let at_10 = |metric: &str, id: &str| value_at(&one, id, metric, 10);
    let best_f2 = promoted
        .iter()
        .chain(&stopped)
        .min_by(|a, b| at_10("f2", a).total_cmp(&at_10("f2", b)))
        .unwrap();
    assert!(
        promoted.contains(best_f2),
        "{first}: {best_f2} has the best f2"
    );
    let worst_promoted_f1 = promoted
        .iter()
        .map(|id| at_10("f1", id))
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(
        stopped.iter().any(|id| at_10("f1", id) < worst_promoted_f1),
        "{first}: by f1 alone the promotions would differ"
    );

    // Killed (orchestrator and workers) mid-rung and after the first decision, then resumed.
    let ws = Workspace::new();
    let g = grid(&ws, rest);
    let decided = || {
        std::fs::read_to_string(ws.results().join("rungs.jsonl")).map_or(0, |t| t.lines().count())
    };
    let started = || {
        std::fs::read_dir(ws.results().join("trials")).is_ok_and(|d| {
            d.flatten().any(|d| {
                std::fs::read_to_string(d.path().join("metrics.jsonl"))
                    .is_ok_and(|t| t.contains("\"step\""))
            })
        })
    };
    let moments: [(&str, &dyn Fn() -> bool); 2] = [
        ("the first rung to train", &started),
        ("the first decision", &|| decided() >= 1),
    ];
    common::kill_rounds(&ws, &g, &moments, 2);
    ws.sweep(&g, &[]).expect_code(0);
    assert_eq!(ws.read("rungs.jsonl"), one.read("rungs.jsonl"));
    assert_eq!(ws.read("proposals.jsonl"), one.read("proposals.jsonl"));
    assert_eq!(ws.numbers(), one.numbers());
}

/// The value of `metric` at `step` in trial `id`'s metrics.jsonl.
fn value_at(ws: &Workspace, id: &str, metric: &str, step: u64) -> f64 {
    std::fs::read_to_string(ws.results().join("trials").join(id).join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["step"].as_u64() == Some(step))
        .unwrap()[metric]
        .as_f64()
        .unwrap()
}
