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
