//! Early stopping and TPE over a user's program (examples/stdlib-bigram): rungs rank by the
//! program's metric in its mode, a promoted trial resumes its program from its checkpoint and
//! ends with the numbers of a plain full run, and TPE proposes the same whatever `--jobs`.

mod common;

use std::path::{Path, PathBuf};

use common::Workspace;
use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/stdlib-bigram")
}

/// A program grid over the bigram example with these extra top-level entries.
fn grid(ws: &Workspace, mode: &str, rest: &str) -> PathBuf {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/timemachine.txt");
    ws.write(
        "program.json",
        format!(
            r#"{{ "name": "bigram",
                 "program": {{ "command": ["python3", "train.py", "--corpus", "{}"],
                               "workdir": "{}" }},
                 "metric": {{ "name": "val_loss", "mode": "{mode}" }},
                 {rest} }}"#,
            corpus.display(),
            example().display()
        ),
    )
}

/// The metrics rows of a trial folder, without the clock, and its checkpoint markers left out.
fn rows(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("checkpoint").is_none())
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

fn rungs(ws: &Workspace) -> Vec<Value> {
    ws.read("rungs.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// val_loss at `step` of the trial with this config key (its rows up to the rung).
fn value_at(ws: &Workspace, id: &str, step: u64) -> f64 {
    rows(&ws.results().join("trials").join(id))
        .iter()
        .rev()
        .find(|r| r["step"].as_u64().unwrap() <= step && r.get("val_loss").is_some())
        .unwrap()["val_loss"]
        .as_f64()
        .unwrap()
}

const HALVING: &str = r#""base": { "steps": 180, "eval_every": 20, "checkpoint_every": 20 },
    "search": { "method": "random", "trials": 6, "seed": 5 },
    "grid": { "lr": { "loguniform": [0.05, 50] } },
    "early_stopping": { "method": "successive_halving", "min_steps": 20, "eta": 3 }"#;

#[test]
fn halving_ranks_by_the_metric_in_its_mode_and_the_winner_equals_a_full_run() {
    if !common::python_available() {
        return;
    }
    for mode in ["min", "max"] {
        let ws = Workspace::new();
        let g = grid(&ws, mode, HALVING);
        let run = ws.sweep(&g, &[]);
        run.expect_code(0);
        let decisions = rungs(&ws);
        assert_eq!(decisions.len(), 2, "{mode}: rungs at 20 and 60");
        let status = ws.command(&["status", ws.results().to_str().unwrap()]);
        let out = status.stdout();
        assert!(
            out.contains("stopped at rung 1 (step 20): val_loss "),
            "status names the metric: {out}"
        );
        for d in &decisions {
            let step = d["step"].as_u64().unwrap();
            let promoted: Vec<f64> = d["promoted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| value_at(&ws, k.as_str().unwrap(), step))
                .collect();
            for s in d["stopped"].as_array().unwrap() {
                let value = s["heldout"].as_f64().unwrap();
                // The stored value is the metric's own, read at the rung.
                assert_eq!(value, value_at(&ws, s["config"].as_str().unwrap(), step));
                for p in &promoted {
                    match mode {
                        "min" => assert!(p <= &value, "{mode} step {step}: {p} vs {value}"),
                        _ => assert!(p >= &value, "{mode} step {step}: {p} vs {value}"),
                    }
                }
            }
        }
        // The winner trained 20 → 60 → 180 through two promotions, its program resumed from
        // its checkpoints; its rows are those of a plain 180-step run of its parameters.
        let winner = decisions[1]["promoted"][0].as_str().unwrap().to_string();
        let dir = ws.results().join("trials").join(&winner);
        let result: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap())
                .unwrap();
        assert_eq!(result["status"], "completed");
        let log = std::fs::read_to_string(dir.join("program.log")).unwrap();
        assert!(
            log.contains("(step 20 → 60)") && log.contains("(step 60 → 180)"),
            "{log}"
        );
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let lr = &config["params"]["lr"];
        let plain = Workspace::new();
        let g = grid(
            &plain,
            mode,
            &format!(
                r#""base": {{ "steps": 180, "eval_every": 20, "checkpoint_every": 20 }},
                   "grid": {{ "lr": [{lr}] }}"#
            ),
        );
        plain.sweep(&g, &[]).expect_code(0);
        let same = plain.results().join("trials").join(&winner);
        assert!(same.is_dir(), "the same parameters make the same trial id");
        assert_eq!(rows(&dir), rows(&same), "{mode}");
    }
}

#[test]
fn tpe_proposes_the_same_over_a_program_whatever_the_jobs() {
    if !common::python_available() {
        return;
    }
    let rest = r#""base": { "steps": 60, "eval_every": 20 },
        "search": { "method": "tpe", "trials": 7, "seed": 2, "startup": 3, "lag": 2 },
        "grid": { "lr": { "loguniform": [0.05, 50] }, "batch_size": [8, 32] }"#;
    let one = Workspace::new();
    let g = grid(&one, "min", rest);
    let (_, two) = common::with_one_and_two_jobs(&one, &g);
    assert_eq!(one.read("proposals.jsonl"), two.read("proposals.jsonl"));
    assert_eq!(one.read("proposals.jsonl").lines().count(), 7);
    let ids: Vec<String> = one
        .csv("trials.csv")
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids.len(), 7);
    for id in &ids {
        let a = rows(&one.results().join("trials").join(id));
        let b = rows(&two.results().join("trials").join(id));
        assert!(!a.is_empty());
        assert_eq!(a, b, "trial {id}");
    }
    let csv = one.read("trials.csv");
    assert!(
        csv.lines().next().unwrap().contains("final_val_loss"),
        "{csv}"
    );
}

/// Whether some trial's metrics.jsonl has a row.
fn any_rows(ws: &Workspace) -> bool {
    std::fs::read_dir(ws.results().join("trials")).is_ok_and(|dirs| {
        dirs.flatten().any(|d| {
            std::fs::read_to_string(d.path().join("metrics.jsonl"))
                .is_ok_and(|t| t.contains("\"step\""))
        })
    })
}

#[test]
fn halving_over_a_program_decides_the_same_whatever_the_jobs_and_kill_9_rounds() {
    if !common::python_available() {
        return;
    }
    // About 0.5 s a trial, so that the kills land mid-sweep.
    let rest = HALVING.replace(
        r#""checkpoint_every": 20"#,
        r#""checkpoint_every": 20, "step_delay_s": 0.003"#,
    );
    let one = Workspace::new();
    let g = grid(&one, "min", &rest);
    let (_, two) = common::with_one_and_two_jobs(&one, &g);
    assert_eq!(one.read("rungs.jsonl"), two.read("rungs.jsonl"));
    assert_eq!(one.numbers(), two.numbers());

    let ws = Workspace::new();
    let g = grid(&ws, "min", &rest);
    let decided = || {
        std::fs::read_to_string(ws.results().join("rungs.jsonl")).map_or(0, |t| t.lines().count())
    };
    let moments: [(&str, &dyn Fn() -> bool); 2] = [
        ("the first rung to train", &|| any_rows(&ws)),
        ("the first decision", &|| decided() >= 1),
    ];
    for (what, moment) in moments {
        let child = ws.spawn(&g, &[]);
        common::wait_until(120, what, moment);
        common::send(child.id() as i32, "KILL");
        for pid in common::worker_pids_under(&ws.results()) {
            common::send(pid, "KILL");
        }
        let out = common::Run(child.wait_with_output().unwrap());
        assert!(
            !out.stdout().contains("best configuration"),
            "{what}: ended first"
        );
    }
    ws.sweep(&g, &[]).expect_code(0);
    assert_eq!(ws.read("rungs.jsonl"), one.read("rungs.jsonl"));
    assert_eq!(ws.numbers(), one.numbers());
}
