//! Random search against TPE, each without early stopping, with synchronous successive halving
//! and with asynchronous successive halving (ASHA), on the space of `sweeps/search.json`: the
//! best held-out perplexity found after each configuration (anytime curves, mean and spread
//! over search seeds), the steps trained, the wall time and how busy the workers were (every
//! worker attempt's time, from trials.csv's `worker_seconds`, over wall time × jobs). Run with
//! `bench/search.sh` (or `cargo bench --bench search_methods`).
//!
//! `TRIALS=N` (default 30) configurations per search, `SEEDS=N` (default 3) search seeds,
//! `JOBS=N` (default: every core) trials at once, `OUT=dir` (default `bench/out/search`) for the
//! results folders and the chart, `METHODS=tpe,tpe-sh` (default all of random, tpe, random-sh,
//! tpe-sh, random-asha, tpe-asha) for some of them. The sweeps resume: a second run only rereads them.

use std::path::{Path, PathBuf};

use support::{env, max, mean, min, sd};

mod support;

use serde_json::{json, Value};
use sweep::report::charts::{anytime, AnytimeAxis, Curve};

/// One search method.
struct Method {
    name: &'static str,
    tpe: bool,
    /// `early_stopping.method`, if any, and its short name.
    halving: Option<(&'static str, &'static str)>,
}

const SH: Option<(&str, &str)> = Some(("successive_halving", "sh"));
const ASHA: Option<(&str, &str)> = Some(("asha", "asha"));

const METHODS: [Method; 6] = [
    Method {
        name: "random",
        tpe: false,
        halving: None,
    },
    Method {
        name: "TPE",
        tpe: true,
        halving: None,
    },
    Method {
        name: "random + successive halving",
        tpe: false,
        halving: SH,
    },
    Method {
        name: "TPE + successive halving",
        tpe: true,
        halving: SH,
    },
    Method {
        name: "random + ASHA",
        tpe: false,
        halving: ASHA,
    },
    Method {
        name: "TPE + ASHA",
        tpe: true,
        halving: ASHA,
    },
];

/// What one search produced.
struct Outcome {
    /// Best final held-out perplexity among the first k configurations (k = 1, 2, …), over
    /// those that trained all their steps.
    best_after: Vec<f64>,
    steps: usize,
    wall: f64,
    /// Worker time (every attempt) over wall time × jobs.
    busy: f64,
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trials = env("TRIALS", 30);
    let seeds = env("SEEDS", 3);
    let jobs = env(
        "JOBS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let out = std::env::var("OUT").map_or_else(|_| root.join("bench/out/search"), PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("sweeps/search.json"))?)?;

    let only = std::env::var("METHODS").ok();
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for method in &METHODS {
        let short = format!(
            "{}{}",
            if method.tpe { "tpe" } else { "random" },
            method
                .halving
                .map_or_else(String::new, |(_, short)| format!("-{short}"))
        );
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|m| m == short))
        {
            continue;
        }
        let mut outcomes = Vec::new();
        for seed in 0..seeds {
            let name = format!("{short}-seed{seed}");
            let mut grid = base.clone();
            grid["name"] = json!(name);
            grid["search"] = if method.tpe {
                json!({"method": "tpe", "trials": trials, "seed": seed})
            } else {
                json!({"method": "random", "trials": trials, "seed": seed})
            };
            match method.halving {
                Some((name, _)) => grid["early_stopping"]["method"] = json!(name),
                None => {
                    grid.as_object_mut().unwrap().remove("early_stopping");
                }
            }
            let file = out.join(format!("{name}.json"));
            std::fs::write(&file, serde_json::to_string_pretty(&grid)?)?;
            let results = out.join(&name);
            eprintln!("{name}: {}", results.display());
            support::run_once(&file, &results, jobs)?;
            outcomes.push(read(&results, method.tpe, jobs)?);
        }
        let k_max = outcomes
            .iter()
            .map(|o| o.best_after.len())
            .min()
            .unwrap_or(0);
        let at = |k: usize| -> Vec<f64> { outcomes.iter().map(|o| o.best_after[k - 1]).collect() };
        curves.push(Curve {
            label: method.name.to_string(),
            mean: (1..=k_max).map(|k| (k as f64, mean(&at(k)))).collect(),
            band: (1..=k_max)
                .map(|k| {
                    let v = at(k);
                    (k as f64, min(&v), max(&v))
                })
                .collect(),
        });
        let mut row = vec![method.name.to_string()];
        for k in [10, 20, trials] {
            let v = if k <= k_max { at(k) } else { Vec::new() };
            let none = v.iter().filter(|x| !x.is_finite()).count();
            row.push(if v.is_empty() {
                "–".into()
            } else if none > 0 {
                format!("– ({none} of {seeds} seeds: none trained to the end yet)")
            } else {
                format!(
                    "{:.2} ± {:.2} ({:.2}–{:.2})",
                    mean(&v),
                    sd(&v),
                    min(&v),
                    max(&v)
                )
            });
        }
        let steps: Vec<f64> = outcomes.iter().map(|o| o.steps as f64).collect();
        let wall: Vec<f64> = outcomes.iter().map(|o| o.wall).collect();
        let busy: Vec<f64> = outcomes.iter().map(|o| o.busy).collect();
        row.push(format!("{:.0}", mean(&steps)));
        row.push(format!("{:.0} s", mean(&wall)));
        row.push(format!("{:.0}%", 100.0 * mean(&busy)));
        rows.push(row);
    }

    println!(
        "{trials} configurations per search, {seeds} search seeds, {jobs} trials at once; best \
         held-out perplexity after k configurations: mean ± sd over the seeds (best–worst seed)\n"
    );
    println!(
        "| search | after 10 | after 20 | after {trials} | steps trained | wall | workers busy |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
    let [png, _] = anytime(
        &out.join("anytime"),
        &format!(
            "Best held-out perplexity found, mean of {seeds} search seeds (band: best to worst)"
        ),
        AnytimeAxis::Configurations,
        &curves,
        (900, 540),
    )?;
    println!("\nchart: {}", png.display());
    Ok(())
}

/// The anytime curve, steps, wall time and core use of the search in `results`.
fn read(results: &Path, tpe: bool, jobs: usize) -> anyhow::Result<Outcome> {
    let mut reader = csv::Reader::from_path(results.join("trials.csv"))?;
    let mut configs: Vec<(usize, f64)> = Vec::new();
    let (mut steps, mut worker) = (0usize, 0.0);
    for (i, row) in reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .enumerate()
    {
        let row = row?;
        let number = |key: &str| row[key].parse::<f64>().unwrap_or(f64::NAN);
        steps += row["steps_done"].parse::<usize>()?;
        // Every attempt of the trial (a promoted one trains rung by rung); older folders
        // have only the last attempt's wall time.
        let all = number("worker_seconds");
        worker += if all.is_finite() {
            all
        } else {
            number("wall_seconds")
        };
        let order = if tpe { row["proposal"].parse()? } else { i + 1 };
        let heldout = number("final_heldout_ppl");
        let full = row["status"] == "completed" && heldout.is_finite();
        configs.push((order, if full { heldout } else { f64::INFINITY }));
    }
    configs.sort_by_key(|c| c.0);
    let mut best = f64::INFINITY;
    let best_after = configs
        .iter()
        .map(|c| {
            best = best.min(c.1);
            best
        })
        .collect();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("sweep.json"))?)?;
    let wall = manifest["wall_seconds"].as_f64().unwrap_or(f64::NAN);
    Ok(Outcome {
        best_after,
        steps,
        wall,
        busy: worker / (wall * jobs as f64),
    })
}
