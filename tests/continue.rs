//! Raising `steps` in a grid: trials continue the shorter runs of their configuration stored
//! in the results folder, and end with exactly the numbers and weights of a fresh run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Workspace;

/// Two tiny trials (well under a second each), evaluated every 10 steps.
fn grid(steps: usize) -> String {
    format!(
        r#"{{
  "name": "continue",
  "base": {{ "batch_size": 4, "steps": {steps}, "eval_every": 10 }},
  "grid": {{ "hidden": [8, 16] }},
  "checkpoint_every": 25
}}"#
    )
}

/// A workspace where the grid of `steps` ran from scratch.
fn fresh(steps: usize) -> Workspace {
    let ws = Workspace::new();
    let path = ws.write("grid.json", grid(steps));
    ws.sweep(&path, &[]).expect_code(0);
    ws
}

/// Runs the grid of `steps` in `ws`, expecting success; returns its stderr.
fn sweep(ws: &Workspace, steps: usize) -> String {
    let path = ws.write("grid.json", grid(steps));
    let run = ws.sweep(&path, &[]);
    run.expect_code(0);
    run.stderr()
}

/// `model.safetensors` of the trials of the grid just run (trials.csv), by label: the folder
/// also holds the shorter runs.
fn final_weights(ws: &Workspace) -> Vec<(String, Vec<u8>)> {
    ws.csv("trials.csv")
        .iter()
        .map(|t| {
            let dir = ws.results().join("trials").join(&t["id"]);
            let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
            (t["label"].clone(), bytes)
        })
        .collect()
}

/// trials.csv and curves.csv without timing columns, and the final weights, equal those of
/// `reference`.
fn assert_same_results(ws: &Workspace, reference: &Workspace, steps: usize) {
    let (trials, curves) = ws.numbers();
    let (want_trials, want_curves) = reference.numbers();
    assert_eq!(trials, want_trials, "trials.csv differs from a fresh run");
    assert_eq!(
        curves.len(),
        1 + 2 * steps,
        "a header and every step of both"
    );
    for (got, want) in curves.iter().zip(&want_curves) {
        assert_eq!(got, want, "curves.csv differs from a fresh run");
    }
    assert_eq!(
        final_weights(ws),
        final_weights(reference),
        "final weights differ from a fresh run"
    );
}

/// Every file of a folder, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The `elapsed_s` column of a metrics.csv: training-clock readings that only the run that
/// trained those steps could have written.
fn clock(metrics_csv: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(metrics_csv).unwrap();
    r.records().map(|rec| rec.unwrap()[4].to_string()).collect()
}

#[test]
fn raising_steps_continues_the_trials_and_ends_as_a_fresh_run() {
    let want = fresh(80);
    let ws = Workspace::new();
    sweep(&ws, 40);
    let short: Vec<_> = ["hidden=8", "hidden=16"]
        .map(|label| ws.trial_dir(label))
        .into();

    let dry = ws.sweep(&ws.write("grid.json", grid(80)), &["--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stderr()
            .contains("2 to run, 2 of them continue shorter runs, 0 already completed"),
        "{}",
        dry.stderr()
    );
    for dir in &short {
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        let line = format!("(continues the 40-step trial {id})");
        assert!(dry.stdout().contains(&line), "{}", dry.stdout());
    }

    let stderr = sweep(&ws, 80);
    for line in [
        "2 to run, 2 of them continue shorter runs, 0 already completed",
        "continuing 2 trials from the trials of 40 steps they extend",
        "resumed hidden=8 at step 40/80",
        "resumed hidden=16 at step 40/80",
    ] {
        assert!(stderr.contains(line), "no {line:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_same_results(&ws, &want, 80);
    // Steps 1–40 were copied, not trained again: their training clock is the shorter run's.
    for (dir, label) in short.iter().zip(["hidden=8", "hidden=16"]) {
        let long = ws.trial_dir(label);
        assert_ne!(&long, dir);
        let (old, new) = (
            clock(&dir.join("metrics.csv")),
            clock(&long.join("metrics.csv")),
        );
        assert_eq!((old.len(), new.len()), (40, 80));
        assert_eq!(
            new[..40],
            old[..],
            "{label}: the first 40 rows are the copy"
        );
        assert_eq!(
            std::fs::read(long.join("best.safetensors")).unwrap(),
            std::fs::read(want.trial_dir(label).join("best.safetensors")).unwrap(),
            "{label}: best weights as in a fresh run"
        );
    }
}

#[test]
fn a_shorter_run_off_the_eval_schedule_is_not_continued() {
    let want = fresh(80);
    let ws = Workspace::new();
    sweep(&ws, 45);
    let stderr = sweep(&ws, 80);
    assert!(stderr.contains("2 to run, 0 already completed"), "{stderr}");
    for label in ["hidden=8", "hidden=16"] {
        let line = format!(
            "warning: trial {} ({label}) trains from step 0, not the 45-step trial",
            want.trial_dir(label).file_name().unwrap().to_string_lossy()
        );
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    assert!(
        stderr.contains(
            "45 is not a multiple of eval_every 10, so it evaluated held-out perplexity after \
             step 45, which a longer run does not"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("continuing"), "{stderr}");
    assert!(!stderr.contains("resumed"), "{stderr}");
    assert_same_results(&ws, &want, 80);
}

#[test]
fn the_shorter_run_is_left_as_it_was() {
    let ws = Workspace::new();
    sweep(&ws, 40);
    let dirs = ["hidden=8", "hidden=16"].map(|label| ws.trial_dir(label));
    let before = dirs.clone().map(|d| files(&d));
    for (files, dir) in before.iter().zip(&dirs) {
        for name in [
            "config.json",
            "result.json",
            "metrics.csv",
            "checkpoint.safetensors",
            "best.safetensors",
            "model.safetensors",
        ] {
            assert!(files.contains_key(name), "{} has no {name}", dir.display());
        }
    }
    let stderr = sweep(&ws, 80);
    assert!(stderr.contains("continuing 2 trials"), "{stderr}");
    for (dir, before) in dirs.iter().zip(&before) {
        assert_eq!(&files(dir), before, "{} changed", dir.display());
    }
    // And it is still a completed trial of its own grid.
    let again = sweep(&ws, 40);
    assert!(again.contains("0 to run, 2 already completed"), "{again}");
}

#[test]
fn the_longest_shorter_run_is_continued_even_one_stopped_before_its_result() {
    let want = fresh(80);
    let ws = Workspace::new();
    sweep(&ws, 40);
    let stderr = sweep(&ws, 60);
    assert!(
        stderr.contains("continuing 2 trials from the trials of 40 steps they extend"),
        "{stderr}"
    );
    // The 60-step runs as if killed after their last checkpoint, before result.json.
    for label in ["hidden=8", "hidden=16"] {
        let dir = ws.trial_dir(label);
        for name in ["result.json", "model.safetensors", "sample.json"] {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
    }
    let stderr = sweep(&ws, 80);
    assert!(
        stderr.contains("continuing 2 trials from the trials of 60 steps they extend"),
        "{stderr}"
    );
    assert!(
        stderr.contains("resumed hidden=8 at step 60/80"),
        "{stderr}"
    );
    assert_same_results(&ws, &want, 80);
}
