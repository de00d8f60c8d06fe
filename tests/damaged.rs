//! A damaged trial never stops a report: `sweep status` and `sweep report` show it as damaged
//! (which file, what is wrong), report every other trial, exit with 1, and running the grid
//! again repairs it without training anything else again.

mod common;

use common::Workspace;

const GRID: &str = r#"{
  "name": "damaged",
  "base": { "hidden": 8, "batch_size": 4, "steps": 30, "eval_every": 10 },
  "grid": { "lr": [0.01, 0.02, 0.03, 0.05] }
}"#;

#[test]
fn damaged_config_and_result_files_are_reported_and_repaired() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    ws.sweep(&grid, &[]).expect_code(0);
    let curves = ws.read("curves.csv");
    let before = ws.csv("trials.csv");
    let results = ws.results();
    let results = results.to_str().unwrap();

    // A truncated config.json, a truncated result.json, a result.json that is not UTF-8.
    let config = ws.trial_dir("lr=0.01").join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, &text[..text.len() / 2]).unwrap();
    let result = ws.trial_dir("lr=0.02").join("result.json");
    std::fs::write(&result, "{\"status\": \"compl").unwrap();
    let binary = ws.trial_dir("lr=0.03").join("result.json");
    std::fs::write(&binary, b"\xff\xfe\x00garbage").unwrap();

    let status = ws.command(&["status", results]);
    status.expect_code(1);
    let out = status.stdout();
    assert!(out.contains("4 trials: 1 completed, 3 damaged"), "{out}");
    for (file, problem) in [
        (&config, "EOF while parsing"),
        (&result, "EOF while parsing"),
        (&binary, "valid UTF-8"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&file.display().to_string()))
            .unwrap_or_else(|| panic!("{} is not named:\n{out}", file.display()));
        assert!(line.trim_start().starts_with("damaged"), "{line}");
        assert!(line.contains(problem), "{line}");
    }
    assert!(out.contains("run the grid again"), "{out}");

    let report = ws.command(&["report", results]);
    report.expect_code(1);
    assert!(
        report.stderr().contains("warning: trial") && report.stderr().contains("is damaged"),
        "{}",
        report.stderr()
    );
    let summary = ws.read("summary.md");
    assert!(
        summary.contains("| trials | 4: 1 completed, 3 damaged |"),
        "{summary}"
    );
    assert!(summary.contains("## Damaged trials"), "{summary}");
    assert!(
        summary.contains("To repair them, run the grid again"),
        "{summary}"
    );
    assert!(
        summary.contains("Best configuration: **lr=0.05**"),
        "{summary}"
    );
    let trials = ws.csv("trials.csv");
    assert_eq!(trials.len(), 1, "only the readable trial has a row");
    assert_eq!(trials[0]["label"], "lr=0.05");

    // Running the grid again repairs all three and trains nothing from scratch: the numbers
    // are those of the first run.
    let rerun = ws.sweep(&grid, &[]);
    rerun.expect_code(0);
    let err = rerun.stderr();
    assert!(err.contains("written again from the grid"), "{err}");
    assert!(
        err.contains("is finished again from its last checkpoint"),
        "{err}"
    );
    assert!(
        err.contains("2 to run, 2 of them from a checkpoint"),
        "{err}"
    );
    ws.command(&["status", results]).expect_code(0);
    assert_eq!(ws.read("curves.csv"), curves);
    let after = ws.csv("trials.csv");
    for (a, b) in after.iter().zip(&before) {
        for key in [
            "id",
            "status",
            "final_train_ppl",
            "final_heldout_ppl",
            "best_heldout_ppl",
        ] {
            assert_eq!(a[key], b[key], "{key} of {}", a["label"]);
        }
    }
}

#[test]
fn a_results_folder_without_sweep_json_is_still_an_error() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.results().join("trials")).unwrap();
    let report = ws.command(&["report", ws.results().to_str().unwrap()]);
    report.expect_code(2);
    assert!(
        report.stderr().contains("sweep.json"),
        "{}",
        report.stderr()
    );
}

#[test]
fn a_damaged_metric_row_makes_the_trial_damaged_and_a_torn_last_line_does_not() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    ws.sweep(&grid, &[]).expect_code(0);
    let curves = ws.read("curves.csv");
    let results = ws.results();
    let results = results.to_str().unwrap();

    // A torn last line (a worker killed mid-write) is left out: nothing is damaged.
    let torn = ws.trial_dir("lr=0.05").join("metrics.csv");
    let mut text = std::fs::read_to_string(&torn).unwrap();
    text.push_str("31,2.1");
    std::fs::write(&torn, text).unwrap();
    ws.command(&["status", results]).expect_code(0);

    // A middle row replaced: the rows after it would be dropped and the verdict changed.
    let metrics = ws.trial_dir("lr=0.01").join("metrics.csv");
    let text = std::fs::read_to_string(&metrics).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[5] = "1,2,3";
    std::fs::write(&metrics, lines.join("\n") + "\n").unwrap();

    let status = ws.command(&["status", results]);
    status.expect_code(1);
    let out = status.stdout();
    let line = out
        .lines()
        .find(|l| l.contains(&metrics.display().to_string()))
        .unwrap_or_else(|| panic!("{} is not named:\n{out}", metrics.display()));
    assert!(line.trim_start().starts_with("damaged"), "{line}");
    assert!(line.contains("line: 6"), "{line}");
    let report = ws.command(&["report", results]);
    report.expect_code(1);
    assert!(
        ws.read("summary.md")
            .contains("| trials | 4: 3 completed, 1 damaged |"),
        "{}",
        ws.read("summary.md")
    );

    // Running the grid again finishes it again from its checkpoint: the first run's numbers.
    let rerun = ws.sweep(&grid, &[]);
    rerun.expect_code(0);
    assert!(
        rerun
            .stderr()
            .contains("is finished again from its last checkpoint"),
        "{}",
        rerun.stderr()
    );
    ws.command(&["status", results]).expect_code(0);
    // Trained again from the same checkpoint: the same numbers (only the clock differs).
    let numbers = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                l.rsplit_once(',')
                    .map_or(l, |(numbers, _elapsed)| numbers)
                    .to_string()
            })
            .collect()
    };
    assert_eq!(numbers(&ws.read("curves.csv")), numbers(&curves));
}

/// Successive halving over four learning rates: rungs at 10 and 30 steps.
const HALVING: &str = r#"{
  "name": "halving",
  "base": { "hidden": 8, "batch_size": 4, "steps": 30, "eval_every": 10 },
  "grid": { "lr": [0.01, 0.02, 0.03, 0.05] },
  "early_stopping": { "method": "successive_halving", "min_steps": 10, "eta": 3 }
}"#;

#[test]
fn a_damaged_decision_log_stops_every_command_and_a_torn_last_line_is_decided_again() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", HALVING);
    ws.sweep(&grid, &[]).expect_code(0);
    let results = ws.results();
    let results = results.to_str().unwrap();
    let rungs = ws.read("rungs.jsonl");
    let manifest = ws.read("sweep.json");
    let summary = ws.read("summary.md");
    let log = ws.results().join("rungs.jsonl");
    assert!(rungs.lines().count() >= 1, "{rungs}");

    // A damaged line: the run refuses before writing anything, status and report say so.
    std::fs::write(&log, format!("{{\"bracket\": \n{rungs}")).unwrap();
    let run = ws.sweep(&grid, &[]);
    run.expect_code(2);
    for expected in [
        "rungs.jsonl is damaged at line 1",
        "remove that line and the ones after it",
    ] {
        assert!(run.stderr().contains(expected), "{}", run.stderr());
    }
    assert_eq!(
        ws.read("sweep.json"),
        manifest,
        "a refused run changes nothing"
    );
    let status = ws.command(&["status", results]);
    status.expect_code(1);
    assert!(
        status.stdout().contains("damaged: ")
            && status.stdout().contains("rungs.jsonl is damaged at line 1"),
        "{}",
        status.stdout()
    );
    let report = ws.command(&["report", results]);
    report.expect_code(1);
    assert!(
        report.stderr().contains("rungs.jsonl is damaged at line 1"),
        "{}",
        report.stderr()
    );
    assert_eq!(
        ws.read("summary.md"),
        summary,
        "the reports are left as they were"
    );

    // A torn last line (a crash mid-append) is dropped and decided again.
    let mut torn = rungs.trim_end_matches('\n').to_string();
    torn.truncate(torn.len() - 5);
    std::fs::write(&log, &torn).unwrap();
    ws.command(&["status", results]).expect_code(0);
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(ws.read("rungs.jsonl"), rungs);
}

#[test]
fn a_trial_folder_that_is_a_link_is_neither_read_nor_written() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    ws.sweep(&grid, &[]).expect_code(0);
    let results = ws.results();
    let results = results.to_str().unwrap();
    let trial = ws.trial_dir("lr=0.01");
    let elsewhere = ws.path("elsewhere");
    std::fs::rename(&trial, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &trial).unwrap();
    std::fs::remove_file(elsewhere.join("result.json")).unwrap();
    let before = std::fs::read_dir(&elsewhere).unwrap().count();

    let status = ws.command(&["status", results]);
    status.expect_code(1);
    assert!(
        status
            .stdout()
            .contains("a symbolic link, not a folder sweep wrote"),
        "{}",
        status.stdout()
    );
    let rerun = ws.sweep(&grid, &[]);
    assert_ne!(rerun.code(), 0);
    assert!(
        rerun.stderr().contains("is a symbolic link"),
        "{}",
        rerun.stderr()
    );
    assert!(
        !elsewhere.join("result.json").exists(),
        "nothing written through the link"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), before);
}
