//! The analysis reads real runs right: trials that blow up without a NaN are diverged
//! everywhere (and the exit code says so), a run that gets better and then falls apart is
//! degraded with its best weights named, reports stand on stored files alone, and a program with
//! fixed per-seed values gets verdicts from its own seeds (tests/programs/fixed.py).

mod common;

use common::Workspace;

/// Adam at lr 0.01 learns; at lr 10 the perplexity reaches about 1e44 without a NaN; at lr 1000
/// it becomes infinite.
const BLOW_UP: &str = r#"{
  "name": "blow-up",
  "base": { "hidden": 16, "batch_size": 8, "steps": 60, "eval_every": 20 },
  "grid": { "lr": [0.01, 10, 1000] }
}"#;

#[test]
fn runs_that_blow_up_without_a_nan_are_diverged_and_the_exit_code_says_so() {
    let ws = Workspace::new();
    let grid = ws.write("blow.json", BLOW_UP);
    let run = ws.sweep(&grid, &[]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("⚠ lr=10 diverged: train ppl "), "{err}");
    assert!(err.contains("⚠ lr=1000 diverged: train ppl inf"), "{err}");
    assert!(
        err.contains("2 of 3 trials diverged (see summary.md)"),
        "{err}"
    );
    assert!(
        run.stdout()
            .contains("best configuration: lr=0.01 — held-out perplexity"),
        "{}",
        run.stdout()
    );
    // Never a number of dozens of digits, on the console or in the summary.
    let summary = ws.read("summary.md");
    for text in [&err, &run.stdout(), &summary] {
        let longest = text
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 16, "a {longest}-digit number in\n{text}");
    }

    let trials = ws.csv("trials.csv");
    let status: Vec<&str> = trials.iter().map(|t| t["status"].as_str()).collect();
    assert_eq!(status, ["completed", "diverged", "diverged"]);
    assert_eq!(trials[0]["diverged_at_step"], "");
    assert!(!trials[1]["diverged_at_step"].is_empty(), "{:?}", trials[1]);
    // result.json keeps the infinity instead of a null.
    let inf = std::fs::read_to_string(ws.trial_dir("lr=1000").join("result.json")).unwrap();
    assert!(inf.contains("\"final_train_ppl\": \"inf\""), "{inf}");
    assert_eq!(trials[2]["final_train_ppl"], "inf");

    assert!(
        summary.contains("| trials | 3: 1 completed, 2 diverged |"),
        "{summary}"
    );
    assert!(summary.contains("- **Diverged** ("), "{summary}");
    let configs = &summary[summary.find("## Configurations").unwrap()..];
    let row = |value: &str| {
        configs
            .lines()
            .find(|l| l.contains(&format!("| {value} |")))
            .unwrap_or_else(|| panic!("no row {value}:\n{configs}"))
    };
    assert!(row("0.01").starts_with("| ✅ |"), "{}", row("0.01"));
    assert!(
        row("0.01").ends_with("| fast · stable |"),
        "{}",
        row("0.01")
    );
    assert!(row("10").contains("diverged 1/1 (at step"), "{}", row("10"));
    assert!(row("1000").contains("| inf |"), "{}", row("1000"));
    assert!(summary.contains("## Diverged trials"), "{summary}");

    // The same reading from `sweep status` and `sweep report`, which exit with 1 as well.
    let status = ws.command(&["status", ws.results().to_str().unwrap()]);
    status.expect_code(1);
    assert!(
        status.stdout().contains("diverged at step"),
        "{}",
        status.stdout()
    );
    assert!(
        status
            .stdout()
            .contains("3 trials: 1 completed, 2 diverged"),
        "{}",
        status.stdout()
    );
    let report = ws.command(&["report", ws.results().to_str().unwrap()]);
    report.expect_code(1);
    assert_eq!(ws.read("summary.md"), summary);
}

/// A GRU at Adam lr 0.5 learns for about 100 steps, then falls apart: training and held-out
/// perplexity both end far above their best, without passing twice the vocabulary size.
const FALLS_APART: &str = r#"{
  "name": "falls-apart",
  "base": { "cell": "gru", "hidden": 64, "batch_size": 32, "lr": 0.5, "steps": 600,
            "eval_every": 50 }
}"#;

#[test]
fn a_run_that_gets_better_then_worse_is_degraded_and_its_best_weights_are_named() {
    let ws = Workspace::new();
    let grid = ws.write("gru.json", FALLS_APART);
    let run = ws.sweep(&grid, &[]);
    // Degraded is a finding about the recipe, not a failure of the run.
    run.expect_code(0);
    let trials = ws.csv("trials.csv");
    assert_eq!(trials[0]["status"], "completed");
    assert_eq!(trials[0]["degraded"], "true");
    assert_eq!(trials[0]["overfitting"], "false");
    let best_step = &trials[0]["best_heldout_step"];
    let best: f64 = trials[0]["best_heldout_ppl"].parse().unwrap();
    let last: f64 = trials[0]["final_heldout_ppl"].parse().unwrap();
    assert!(last > best * 1.15, "{best} → {last}");

    let summary = ws.read("summary.md");
    let line = summary
        .lines()
        .find(|l| l.starts_with("- **Degraded**: base got worse after step "))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        line.contains(&format!(
            "Its weights at step {best_step} reach {best:.2}; `sweep sample {}` uses them.",
            trials[0]["id"]
        )),
        "{line}"
    );
    let row = summary.lines().find(|l| l.starts_with("| ✅ |")).unwrap();
    assert!(row.contains("degraded 1/1"), "{row}");
    // Converged against the lowest level its smoothed training curve reached (about 30, near
    // step 350), not against its final level (about 65), which the untrained model (about 44)
    // is already within 10% of.
    let cells: Vec<&str> = row.split(" | ").collect();
    let converged: usize = cells[6].parse().unwrap_or_else(|_| panic!("{row}"));
    assert!(
        (100..450).contains(&converged),
        "converged by {converged}: {row}"
    );
}

#[test]
fn reports_need_no_model_the_worker_stores_the_sample() {
    let ws = Workspace::new();
    let grid = ws.write("blow.json", BLOW_UP);
    ws.sweep(&grid, &[]).expect_code(1);
    let dir = ws.trial_dir("lr=0.01");
    // The sample the summary quotes is in the trial folder, with how to make it again.
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sample.json")).unwrap()).unwrap();
    assert_eq!(sample["prefix"], "time traveller");
    assert_eq!(sample["weights"], "best.safetensors");
    let summary = ws.read("summary.md");
    let text = sample["text"].as_str().unwrap();
    assert!(
        summary.contains(&format!("> {}\n", text.trim())),
        "{summary}"
    );
    // The command shown works as shown, from any folder.
    let shown = summary
        .lines()
        .find_map(|l| l.split("perplexity; `").nth(1)?.strip_suffix("`):"))
        .unwrap_or_else(|| panic!("{summary}"))
        .to_string();
    assert!(shown.starts_with("sweep sample "), "{shown}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(shown.replacen("sweep", env!("CARGO_BIN_EXE_sweep"), 1))
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        text.trim_end()
    );

    // A completed trial keeps its last checkpoint, not the one before.
    assert!(dir.join("checkpoint.safetensors").exists());
    assert!(!dir.join("checkpoint.prev.safetensors").exists());

    // Trials stored before workers wrote samples get theirs once, on the next report.
    std::fs::remove_file(dir.join("sample.json")).unwrap();
    ws.command(&["report", ws.results().to_str().unwrap()])
        .expect_code(1);
    assert!(dir.join("sample.json").exists());
    assert_eq!(ws.read("summary.md"), summary);
}

/// A program sweep of tests/programs/fixed.py: val_loss = mean × (1 ± spread) by seed.
fn fixed_values(ws: &Workspace, means: &[f64], spread: f64, seeds: u64) -> common::Run {
    let grid = serde_json::json!({
        "name": "fixed",
        "program": { "command": ["python3", "fixed.py"],
                     "workdir": format!("{}/tests/programs", env!("CARGO_MANIFEST_DIR")) },
        "metric": { "name": "val_loss", "mode": "min" },
        "base": { "steps": 1, "mean": 1.0, "spread": spread },
        "grid": { "mean": means },
        "seeds": (0..seeds).collect::<Vec<u64>>(),
    });
    let file = ws.write("fixed.json", grid.to_string());
    ws.sweep(&file, &[])
}

/// The verdict's lines of summary.md.
fn verdict(ws: &Workspace) -> Vec<String> {
    let summary = ws.read("summary.md");
    summary
        .split("\n## ")
        .find(|s| s.starts_with("Verdict"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(String::from)
        .collect()
}

#[test]
fn a_program_with_fixed_values_gets_verdicts_by_its_own_seeds() {
    if !common::python_available() {
        eprintln!("skipped: no python3 on PATH");
        return;
    }
    // A 5% gap, 1% noise, 5 seeds: real.
    let ws = Workspace::new();
    fixed_values(&ws, &[5.0, 5.25], 0.01, 5).expect_code(0);
    let lines = verdict(&ws);
    assert!(
        lines[1].starts_with("It is better than each of the other 1 configuration at the 5% level"),
        "{lines:#?}"
    );
    let mean = lines.iter().find(|l| l.starts_with("**mean**")).unwrap();
    assert!(
        mean.contains("5.25 is 5.0% higher, 95% interval +")
            && mean.ends_with("a real difference."),
        "{mean}"
    );
    // The same gap over 2 seeds of 6% noise: undecided, with how many seeds would decide.
    let ws = Workspace::new();
    let run = fixed_values(&ws, &[5.0, 5.25], 0.06, 2);
    run.expect_code(0);
    let lines = verdict(&ws);
    assert!(
        lines[1].contains("2 seeds cannot separate them; about 49 seeds each would"),
        "{lines:#?}"
    );
    assert!(
        run.stdout()
            .contains("; 1 other cannot be told apart from it at 5% (summary.md)"),
        "{}",
        run.stdout()
    );
    let summary = ws.read("summary.md");
    assert!(
        summary.contains("- **test**: two configurations"),
        "{summary}"
    );
    assert!(
        summary.contains("- **scale**: on the logarithm"),
        "{summary}"
    );
    assert!(
        summary.contains("- **level**: a difference is real"),
        "{summary}"
    );
}
