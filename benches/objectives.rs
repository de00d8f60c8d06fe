//! Two objectives: random search, TPE (MOTPE's split: non-dominated rank, then crowding) and TPE
//! with successive halving ranking rungs the same way, on ZDT1 over four variables
//! (`bench/programs/zdt1.py`): the hypervolume the front of the configurations trained to the
//! end covers after k configurations (reference point f1 = 1.1, f2 = 11; the true front's is
//! about 11.77), mean and spread over search seeds, and the steps trained. Run with
//! `cargo bench --bench objectives`.
//!
//! `TRIALS=N` (default 30) configurations per search, `SEEDS=N` (default 3) search seeds,
//! `JOBS=N` (default: every core), `OUT=dir` (default `bench/out/objectives`). The sweeps
//! resume: a second run only rereads them.

use std::path::{Path, PathBuf};

use support::{env, max, mean, min, sd};

mod support;

use serde_json::json;
use sweep::measures::pareto::{hypervolume, non_dominated};

const REFERENCE: [f64; 2] = [1.1, 11.0];

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trials = env("TRIALS", 30);
    let seeds = env("SEEDS", 3);
    let jobs = env(
        "JOBS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let out =
        std::env::var("OUT").map_or_else(|_| root.join("bench/out/objectives"), PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let methods = [
        ("random", false, false),
        ("TPE", true, false),
        ("TPE + successive halving", true, true),
    ];
    println!(
        "ZDT1 (4 variables), {trials} configurations per search, {seeds} search seeds, {jobs} \
         trials at once; hypervolume of the front after k configurations (reference 1.1, 11; \
         higher is better): mean ± sd over the seeds (worst–best seed)\n"
    );
    println!("| search | after 10 | after 20 | after {trials} | steps trained |");
    println!("|---|---|---|---|---|");
    for (name, tpe, halving) in methods {
        let short = format!(
            "{}{}",
            if tpe { "tpe" } else { "random" },
            if halving { "-sh" } else { "" }
        );
        let mut curves = Vec::new();
        let mut steps = Vec::new();
        for seed in 0..seeds {
            let run = format!("{short}-seed{seed}");
            let mut grid = json!({
                "name": run,
                "program": { "command": ["python3", "zdt1.py"],
                             "workdir": root.join("bench/programs") },
                "objectives": [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}],
                "base": { "steps": 90, "eval_every": 10, "x1": 0.5, "x2": 0.5, "x3": 0.5, "x4": 0.5 },
                "grid": { "x1": {"uniform": [0, 1]}, "x2": {"uniform": [0, 1]},
                          "x3": {"uniform": [0, 1]}, "x4": {"uniform": [0, 1]} },
                "search": { "method": if tpe { "tpe" } else { "random" }, "trials": trials, "seed": seed },
            });
            if halving {
                grid["early_stopping"] =
                    json!({"method": "successive_halving", "min_steps": 10, "eta": 3});
            }
            let file = out.join(format!("{run}.json"));
            std::fs::write(&file, serde_json::to_string_pretty(&grid)?)?;
            let results = out.join(&run);
            support::run_once(&file, &results, jobs)?;
            let (curve, trained) = read(&results, tpe)?;
            curves.push(curve);
            steps.push(trained as f64);
        }
        let mut row = vec![name.to_string()];
        for k in [10, 20, trials] {
            let v: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.get(k - 1).copied())
                .collect();
            row.push(format!(
                "{:.2} ± {:.2} ({:.2}–{:.2})",
                mean(&v),
                sd(&v),
                min(&v),
                max(&v)
            ));
        }
        row.push(format!("{:.0}", mean(&steps)));
        println!("| {} |", row.join(" | "));
    }
    Ok(())
}

/// The hypervolume after each configuration (in proposal order) and the steps trained.
fn read(results: &Path, tpe: bool) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut reader = csv::Reader::from_path(results.join("trials.csv"))?;
    let mut configs: Vec<(usize, Option<Vec<f64>>)> = Vec::new();
    let mut steps = 0;
    for (i, row) in reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .enumerate()
    {
        let row = row?;
        steps += row["steps_done"].parse::<usize>()?;
        let number = |key: &str| row[key].parse::<f64>().ok().filter(|v| v.is_finite());
        let order = if tpe { row["proposal"].parse()? } else { i + 1 };
        let full = row["status"] == "completed";
        let point = match (full, number("final_f1"), number("final_f2")) {
            (true, Some(a), Some(b)) => Some(vec![a, b]),
            _ => None,
        };
        configs.push((order, point));
    }
    configs.sort_by_key(|c| c.0);
    let mut known: Vec<Vec<f64>> = Vec::new();
    let curve = configs
        .into_iter()
        .map(|(_, point)| {
            known.extend(point);
            let front: Vec<Vec<f64>> = non_dominated(&known, &[])
                .into_iter()
                .zip(&known)
                .filter(|(on, _)| *on)
                .map(|(_, p)| p.clone())
                .collect();
            hypervolume(&front, &REFERENCE)
        })
        .collect();
    Ok((curve, steps))
}
