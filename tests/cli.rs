//! End-to-end tests through the `sweep` binary: real grids, real worker processes, real files.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{worker_pid, Run, Workspace};
use serde_json::Value;

const TINY_GRID: &str = r#"{
  "name": "tiny",
  "base": { "seq_len": 35, "lr": 0.01, "steps": 30, "eval_every": 10 },
  "grid": { "hidden": [8, 16], "batch_size": [4, 8] },
  "seeds": [0]
}"#;

fn parse(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn a_tiny_grid_writes_every_output() {
    let ws = Workspace::new();
    let grid = ws.write("tiny.json", TINY_GRID);
    let run = ws.sweep(&grid, &[]);
    run.expect_code(0);
    assert!(run.stdout().contains("wrote "), "{}", run.stdout());

    // trials.csv: one row per trial, every hyperparameter, the parameter count.
    let trials = ws.csv("trials.csv");
    assert_eq!(trials.len(), 4);
    let manifest: Value = serde_json::from_str(&ws.read("sweep.json")).unwrap();
    let ids: Vec<&str> = manifest["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        trials.iter().map(|t| t["id"].as_str()).collect::<Vec<_>>()
    );
    for t in &trials {
        assert_eq!(t["status"], "completed");
        assert_eq!(t["steps_done"], "30");
        assert_eq!(t["seq_len"], "35");
        let (v, h) = (44usize, t["hidden"].parse::<usize>().unwrap());
        let formula = v * v + h * v + h * h + 2 * h + h * v + v;
        assert_eq!(t["parameters"], formula.to_string());
        assert!(
            parse(&t["final_heldout_ppl"]) < 44.0,
            "trained below uniform guessing"
        );
        assert!(parse(&t["best_heldout_ppl"]) <= parse(&t["final_heldout_ppl"]));
        assert!(parse(&t["steps_per_sec"]) > 0.0);
        assert!(parse(&t["peak_memory_mb"]) > 1.0);

        // The trial folder: config, one metrics row per step, result.
        let dir = format!("trials/{}", t["id"]);
        let config: Value = serde_json::from_str(&ws.read(&format!("{dir}/config.json"))).unwrap();
        assert_eq!(
            config["params"]["hidden"].as_u64().unwrap().to_string(),
            t["hidden"]
        );
        let result: Value = serde_json::from_str(&ws.read(&format!("{dir}/result.json"))).unwrap();
        assert_eq!(result["status"], "completed");
        let mut metrics =
            csv::Reader::from_path(ws.results().join(format!("{dir}/metrics.csv"))).unwrap();
        let rows: Vec<csv::StringRecord> = metrics.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 30);
        let evals: Vec<&str> = rows
            .iter()
            .filter(|r| !r[3].is_empty())
            .map(|r| &r[0])
            .collect();
        assert_eq!(evals, ["10", "20", "30"]);
        assert_eq!(parse(&rows[29][3]), parse(&t["final_heldout_ppl"]));
        let last50: Vec<f64> = rows.iter().map(|r| parse(&r[2])).collect();
        let mean = last50.iter().sum::<f64>() / last50.len() as f64;
        assert!((mean - parse(&t["final_train_ppl"])).abs() < 1e-9);
    }

    // curves.csv: tidy, every (trial, step) exactly once, held-out where evaluated.
    let curves = ws.csv("curves.csv");
    assert_eq!(curves.len(), 4 * 30);
    let mut keys: Vec<(String, String)> = curves
        .iter()
        .map(|c| (c["trial_id"].clone(), c["step"].clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 120);
    for c in &curves {
        assert!(
            (parse(&c["train_loss"]).exp() - parse(&c["train_ppl"])).abs()
                < 1e-6 * parse(&c["train_ppl"])
        );
        assert_eq!(
            c["heldout_ppl"].is_empty(),
            !(parse(&c["step"]) as usize).is_multiple_of(10)
        );
    }

    // summary.md: configurations ranked with the best marked once, every trial sorted by
    // held-out perplexity.
    let summary = ws.read("summary.md");
    assert_eq!(summary.matches("| ✅ |").count(), 1, "{summary}");
    let best = trials
        .iter()
        .min_by(|a, b| parse(&a["final_heldout_ppl"]).total_cmp(&parse(&b["final_heldout_ppl"])))
        .unwrap();
    let best_row = summary.lines().find(|l| l.starts_with("| ✅ |")).unwrap();
    assert!(
        best_row.starts_with(&format!(
            "| ✅ | {} | {} | 1 |",
            best["hidden"], best["batch_size"]
        )),
        "{best_row}"
    );
    let all_trials = &summary[summary.find("## All trials").unwrap()..];
    let table_ids: Vec<&str> = all_trials
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.rsplit('`').nth(1).unwrap())
        .collect();
    let mut sorted = trials.clone();
    sorted
        .sort_by(|a, b| parse(&a["final_heldout_ppl"]).total_cmp(&parse(&b["final_heldout_ppl"])));
    assert_eq!(
        table_ids,
        sorted.iter().map(|t| t["id"].as_str()).collect::<Vec<_>>()
    );
    for section in [
        "## Verdict",
        "## hidden",
        "## batch_size",
        "## Held-out perplexity: hidden × batch_size",
        "## Definitions",
    ] {
        assert!(summary.contains(section), "{section}");
    }
    assert!(summary.contains("| trials | 4: 4 completed |"), "{summary}");

    // Charts: PNG and SVG, linked from the summary, decodable, of the stated size, not blank.
    for (png, size) in [
        ("curves.png", (1100, 700)),
        ("heatmap.png", (700, 500)),
        ("charts/hidden-8.png", (700, 450)),
        ("charts/batch_size-4.png", (700, 450)),
    ] {
        assert!(summary.contains(&format!("]({png})")), "{png} is linked");
        let image = image::open(ws.results().join(png)).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), size, "{png}");
        let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
        colours.sort();
        colours.dedup();
        assert!(
            colours.len() > 50,
            "{png} has only {} colours",
            colours.len()
        );
        let svg = std::fs::read_to_string(ws.results().join(png.replace(".png", ".svg"))).unwrap();
        assert!(svg.contains("<svg"), "{png}");
    }

    // The same analysis in Chinese, from the stored results.
    let zh = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["report", "--lang", "zh"])
        .arg(ws.results())
        .output()
        .unwrap();
    assert!(zh.status.success());
    let summary_zh = ws.read("summary.md");
    assert!(
        summary_zh.contains("## 结论") && summary_zh.contains("## 指标定义"),
        "{summary_zh}"
    );
    assert!(summary_zh.contains(&format!("`{}`", best["id"])));
}

#[test]
fn rerunning_skips_completed_trials_and_an_edited_grid_runs_only_new_ones() {
    let ws = Workspace::new();
    let grid = ws.write("tiny.json", TINY_GRID);
    ws.sweep(&grid, &[]).expect_code(0);
    let before = ws.read("curves.csv");

    let again = ws.sweep(&grid, &[]);
    again.expect_code(0);
    assert!(
        again.stderr().contains(
            "4 trials (hidden × batch_size × seed on timemachine), 0 to run, 4 already completed"
        ),
        "{}",
        again.stderr()
    );
    assert_eq!(ws.read("curves.csv"), before, "nothing was trained again");

    let wider = ws.write("wider.json", TINY_GRID.replace("[8, 16]", "[8, 16, 12]"));
    let run = ws.sweep(&wider, &[]);
    run.expect_code(0);
    assert!(run.stderr().contains("6 trials"), "{}", run.stderr());
    assert!(
        run.stderr().contains("2 to run, 4 already completed"),
        "{}",
        run.stderr()
    );
    assert_eq!(ws.csv("trials.csv").len(), 6);
    let chart = ws.results().join("charts/hidden-12.png");
    assert!(chart.exists());

    // Back to the smaller grid: reports describe the grid just run, the extra trials stay stored,
    // and the charts of the value no longer in the grid are gone.
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(ws.csv("trials.csv").len(), 4);
    assert!(!chart.exists() && !chart.with_extension("svg").exists());
    assert!(ws.results().join("charts/hidden-16.png").exists());
    assert_eq!(ws.read("curves.csv"), before);
    assert_eq!(
        std::fs::read_dir(ws.results().join("trials"))
            .unwrap()
            .count(),
        6
    );
}

#[test]
fn a_diverging_trial_fails_alone() {
    let ws = Workspace::new();
    let grid = ws.write(
        "nan.json",
        r#"{ "base": { "hidden": 8, "batch_size": 4, "steps": 30, "eval_every": 10 },
             "grid": { "lr": [0.01, 1e38] } }"#,
    );
    let run = ws.sweep(&grid, &[]);
    run.expect_code(1);
    let trials = ws.csv("trials.csv");
    assert_eq!(trials[0]["status"], "completed");
    assert_eq!(trials[1]["status"], "failed");
    assert!(
        trials[1]["reason"].contains("became NaN at step"),
        "{:?}",
        trials[1]
    );
    assert_eq!(trials[1]["final_heldout_ppl"], "");
    let summary = ws.read("summary.md");
    assert!(summary.contains("## Failed trials"), "{summary}");
    assert!(summary.contains("| lr=1e38 |"), "{summary}");
    assert!(
        summary.contains("**Failed** (see below): lr=1e38 (1/1)."),
        "{summary}"
    );
    assert_eq!(summary.matches("| ✅ |").count(), 1);

    // Sampling the failed trial says that it failed, and why.
    let failed = ws.command(&[
        "sample",
        &trials[1]["id"],
        "--out",
        ws.results().to_str().unwrap(),
    ]);
    failed.expect_code(2);
    assert!(
        failed.stderr().contains(&format!(
            "trial {} failed after {} steps (training loss became NaN at step",
            trials[1]["id"], trials[1]["steps_done"]
        )),
        "{}",
        failed.stderr()
    );

    // Failed trials are kept on a re-run unless asked to retry them.
    let again = ws.sweep(&grid, &[]);
    again.expect_code(1);
    assert!(
        again
            .stderr()
            .contains("0 to run, 1 already completed, 1 failed earlier (--retry-failed"),
        "{}",
        again.stderr()
    );
    let retry = ws.sweep(&grid, &["--retry-failed"]);
    retry.expect_code(1);
    assert!(retry.stderr().contains("1 to run"), "{}", retry.stderr());
}

#[test]
fn a_killed_worker_is_recorded_as_failed_and_the_others_go_on() {
    let ws = Workspace::new();
    let grid = ws.write(
        "crash.json",
        r#"{ "base": { "hidden": 8, "batch_size": 4, "eval_every": 10 },
             "grid": { "steps": [40, 100000000] }, "max_retries": 0 }"#,
    );
    let child = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(&grid)
        .arg("--out")
        .arg(ws.results())
        .args(["--jobs", "2"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the long trial to be training, then kill its worker.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        assert!(Instant::now() < deadline, "the long trial never started");
        let long = std::fs::read_dir(ws.results().join("trials"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                std::fs::read_to_string(p.join("config.json"))
                    .is_ok_and(|c| c.contains("100000000"))
            });
        if let Some(dir) = long.filter(|d| d.join("metrics.csv").exists()) {
            if let Some(pid) = worker_pid(&dir) {
                break pid;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    common::send(pid, "KILL");
    let out = child.wait_with_output().unwrap();
    let run = Run(out);
    run.expect_code(1);
    let trials = ws.csv("trials.csv");
    assert_eq!(trials[0]["status"], "completed", "{trials:?}");
    assert_eq!(trials[1]["status"], "failed");
    assert!(
        trials[1]["reason"].contains("killed by SIGKILL"),
        "{:?}",
        trials[1]
    );
}

#[test]
fn bad_input_is_a_clear_error_before_any_training() {
    let ws = Workspace::new();
    ws.write("small.txt", "A short text.\nJust a few lines.\n".repeat(20));
    ws.write("latin1.txt", b"caf\xe9\n".repeat(100));
    let fifo = std::ffi::CString::new(ws.path("fifo.txt").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path only.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    // 1,000 hidden sizes × 1,000 seeds: refused before a million trials are planned.
    let huge_grid = &format!(
        r#"{{"seeds": {:?}, "grid": {{"hidden": {:?}}}}}"#,
        (0..1000).collect::<Vec<_>>(),
        (1..=1000).collect::<Vec<_>>()
    );
    let cases: Vec<(&str, &str, String)> = vec![
        ("missing.json", "", "cannot read grid file".into()),
        (
            "malformed.json",
            "{\n  \"grid\": {\"hidden\": [1,]}\n}",
            "malformed.json:2:".into(),
        ),
        (
            "empty_axis.json",
            r#"{"grid": {"hidden": []}}"#,
            "`grid.hidden`: expected a non-empty list of values, got []".into(),
        ),
        (
            "zero.json",
            r#"{"base": {"hidden": 0}}"#,
            "`base.hidden`: expected an integer from 1 to 16384, got 0".into(),
        ),
        (
            "unknown.json",
            r#"{"base": {"batch": 4}}"#,
            "`base.batch`: unknown parameter".into(),
        ),
        (
            "short.json",
            r#"{"corpus": "small.txt", "base": {"batch_size": 32}}"#,
            "`corpus`: too short for batch_size 32 × seq_len 35".into(),
        ),
        (
            "latin.json",
            r#"{"corpus": "latin1.txt"}"#,
            "is not UTF-8 text: invalid byte at line 1".into(),
        ),
        (
            "nocorpus.json",
            r#"{"corpus": "nothere.txt"}"#,
            "cannot read corpus".into(),
        ),
        (
            "fifo.json",
            r#"{"corpus": "fifo.txt"}"#,
            "fifo.txt is not a regular file".into(),
        ),
        (
            "zero_corpus.json",
            r#"{"corpus": "/dev/zero"}"#,
            "corpus /dev/zero is not a regular file".into(),
        ),
        (
            "huge_search.json",
            r#"{"search": {"method": "random", "trials": 1000000000000000000, "seed": 0},
                "grid": {"lr": {"loguniform": [0.001, 0.1]}}}"#,
            "`search.trials`: the sweep would have 1000000000000000000 trials".into(),
        ),
        (
            "huge_grid.json",
            huge_grid,
            "a sweep runs at most 100000".into(),
        ),
    ];
    for (name, content, expected) in cases {
        let grid = if content.is_empty() {
            ws.path(name)
        } else {
            ws.write(name, content)
        };
        let run = ws.sweep(&grid, &[]);
        run.expect_code(2);
        assert!(run.stderr().contains(&expected), "{name}: {}", run.stderr());
        assert!(
            run.stderr().starts_with("error: "),
            "{name}: {}",
            run.stderr()
        );
        assert!(
            !ws.results().exists(),
            "{name}: nothing is created for bad input"
        );
    }
}

/// An unreadable file's error names the file and gives the operating system's reason exactly
/// once (the reason is the error's source, which `error: {:#}` prints after the message).
#[test]
fn an_unreadable_file_names_its_cause_once() {
    let ws = Workspace::new();
    let cases = [
        ("no_corpus.json", "nothere.txt", "No such file or directory"),
        ("no_grid.json", "no_grid.json", "No such file or directory"),
        ("lock.json", "sweep.lock", "Is a directory"),
    ];
    ws.write(
        "no_corpus.json",
        r#"{"corpus": "nothere.txt", "base": {"hidden": 4, "steps": 1, "eval_every": 1}}"#,
    );
    ws.write(
        "lock.json",
        r#"{"base": {"hidden": 4, "batch_size": 2, "steps": 1, "eval_every": 1}}"#,
    );
    // A results folder whose lock file cannot be opened: `sweep.lock` is a folder.
    std::fs::create_dir_all(ws.results().join("sweep.lock")).unwrap();
    for (grid, file, cause) in cases {
        let run = ws.sweep(&ws.path(grid), &[]);
        run.expect_code(2);
        let err = run.stderr();
        assert_eq!(err.matches(cause).count(), 1, "{grid}: {err}");
        assert!(err.contains(file), "{grid}: {err}");
        assert!(err.starts_with("error: "), "{grid}: {err}");
    }
    assert_eq!(ws.steps_recorded(), 0, "nothing trained");
}

#[test]
fn a_corpus_file_trains_and_report_and_status_read_the_results() {
    let ws = Workspace::new();
    ws.write(
        "text.txt",
        "the quick brown fox jumps over the lazy dog.\n".repeat(60),
    );
    let grid = ws.write(
        "file.json",
        r#"{ "corpus": "text.txt", "base": { "hidden": 8, "batch_size": 4, "seq_len": 10,
             "steps": 20, "eval_every": 10 } }"#,
    );
    ws.sweep(&grid, &["--dry-run"]).expect_code(0);
    assert!(!ws.results().exists(), "a dry run writes nothing");
    ws.sweep(&grid, &[]).expect_code(0);
    let trials = ws.csv("trials.csv");
    assert_eq!(trials.len(), 1);
    assert!(trials[0]["corpus"].ends_with("text.txt"));
    // 28 distinct characters: a-z (all of them are in the pangram), space and '.'.
    let (v, h) = (28, 8);
    assert_eq!(
        trials[0]["parameters"],
        (v * v + 2 * h * v + h * h + 2 * h + v).to_string()
    );

    let summary = ws.read("summary.md");
    let trials_csv = ws.read("trials.csv");
    std::fs::remove_file(ws.results().join("summary.md")).unwrap();
    std::fs::remove_file(ws.results().join("trials.csv")).unwrap();
    let report = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("report")
        .arg(ws.results())
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(ws.read("summary.md"), summary);
    assert_eq!(ws.read("trials.csv"), trials_csv);

    let status = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("status")
        .arg(ws.results())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("1 trial: 1 completed"), "{text}");
    assert_eq!(status.status.code(), Some(0), "everything completed");

    let nothing = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("report")
        .arg(ws.path("nowhere"))
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("is not a sweep results folder"));
}

/// At the tail of a sweep the idle core joins the last trial (its batch of 64 windows is two
/// blocks of 32), and its weights are the same bytes as when it trains on one thread.
#[test]
fn the_tail_of_a_sweep_gets_the_free_cores_without_changing_results() {
    let ws = Workspace::new();
    let grid = ws.write(
        "tail.json",
        r#"{"name": "tail", "base": {"hidden": 48, "batch_size": 64, "steps": 600, "eval_every": 20},
            "grid": {"seed": [0, 1, 2]}}"#,
    );
    let run = |jobs: &str, out: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg(&grid)
            .args(["--out", ws.path(out).to_str().unwrap(), "--jobs", jobs])
            .output()
            .unwrap();
        Run(output).expect_code(0).stderr()
    };
    let shared = run("2", "shared");
    assert!(shared.contains(" · 2 threads"), "{shared}");
    let alone = run("1", "alone");
    assert!(!alone.contains("threads"), "{alone}");
    let models = |out: &str| -> Vec<Vec<u8>> {
        let mut dirs: Vec<_> = std::fs::read_dir(ws.path(out).join("trials"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        dirs.iter()
            .map(|d| std::fs::read(d.join("model.safetensors")).unwrap())
            .collect()
    };
    assert_eq!(models("shared").len(), 3);
    assert!(models("shared") == models("alone"), "weights differ");
}

/// `sweep params` prints the document's example: 40 parameters with one bias per layer, 46 with
/// PyTorch's two; a misspelt cell is a clear error.
#[test]
fn params_counts_the_textbook_example() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["params", "--cell", "rnn", "--layers", "2", "--input", "1"])
        .args(["--hidden", "3", "--output", "1"])
        .output()
        .unwrap();
    let run = Run(out);
    run.expect_code(0);
    assert!(
        run.stdout().contains("| **total** | | **40** | **46** |"),
        "{}",
        run.stdout()
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["params", "--cell", "gru2"])
        .output()
        .unwrap();
    let bad = Run(bad);
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr()
            .contains("expected rnn, gru or lstm, got `gru2`"),
        "{}",
        bad.stderr()
    );
}

/// `sweep params` accepts the sizes a grid file accepts and refuses the others with a usage
/// error naming the flag and the valid range.
#[test]
fn params_refuses_sizes_outside_the_grid_file_ranges() {
    let params = |args: &[&str]| {
        Run(std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg("params")
            .args(args)
            .output()
            .unwrap())
    };
    for (args, flag, range) in [
        (["--hidden", "0"], "--hidden", "1..=16384"),
        (["--hidden", "16385"], "--hidden", "1..=16384"),
        (["--layers", "100"], "--layers", "1..=16"),
        (["--layers", "0"], "--layers", "1..=16"),
        (["--input", "0"], "--input", "1..=16384"),
        (["--output", "0"], "--output", "1..=16384"),
    ] {
        let run = params(&args);
        run.expect_code(2);
        let err = run.stderr();
        assert!(err.contains(flag) && err.contains(range), "{args:?}: {err}");
        assert!(run.stdout().is_empty(), "{args:?}: {}", run.stdout());
    }
    params(&[
        "--layers", "16", "--hidden", "16384", "--input", "1", "--output", "1",
    ])
    .expect_code(0);
}

/// `sweep sample` continues a prefix from a trained trial: the same text for the same seed,
/// greedy at temperature 0, clear errors for an unknown trial or character; and the weights it
/// uses (`best.safetensors`) score exactly the trial's best held-out perplexity.
#[test]
fn sample_generates_from_the_best_weights() {
    use sweep::data::{batch::Split, Corpus, Vocab};
    let ws = Workspace::new();
    let grid = ws.write(
        "s.json",
        r#"{"base": {"hidden": 24, "batch_size": 8, "steps": 150, "eval_every": 30, "lr": 0.02}}"#,
    );
    ws.sweep(&grid, &[]).expect_code(0);
    let id = ws.csv("trials.csv")[0]["id"].clone();
    let summary = ws.read("summary.md");
    assert!(summary.contains("## Sample\n"), "{summary}");
    assert!(summary.contains("\n> time traveller"), "{summary}");
    let sample = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(["sample", &id[..6], "--out", ws.results().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        Run(out)
    };
    let warm = sample(&["--chars", "40", "--temperature", "1", "--seed", "3"]);
    let text = warm.expect_code(0).stdout();
    assert!(text.starts_with("time traveller"), "{text}");
    assert_eq!(
        text.trim_end_matches('\n').chars().count(),
        14 + 40,
        "{text}"
    );
    let again = sample(&["--chars", "40", "--temperature", "1", "--seed", "3"]);
    assert_eq!(again.stdout(), text);
    let other = sample(&["--chars", "40", "--temperature", "1", "--seed", "4"]);
    assert_ne!(other.stdout(), text);
    let greedy = sample(&["--chars", "40", "--seed", "1"]).stdout();
    assert_eq!(sample(&["--chars", "40", "--seed", "2"]).stdout(), greedy);

    let bad = sample(&["--prefix", "Time"]);
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr().contains("the prefix contains 'T'"),
        "{}",
        bad.stderr()
    );
    let missing = Run(std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["sample", "zzzz", "--out", ws.results().to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(missing.code(), 2);
    assert!(
        missing.stderr().contains("no trial `zzzz`"),
        "{}",
        missing.stderr()
    );

    // The best weights reproduce the best held-out perplexity.
    let dir = ws.results().join("trials").join(&id);
    let config: sweep::spec::TrialConfig =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let corpus = Corpus::builtin();
    let vocab = Vocab::from_text(&corpus.text);
    let split = Split::new(vocab.encode(&corpus.text));
    let trainer =
        sweep::train::Trainer::new(config.params().model().unwrap(), vocab.len()).unwrap();
    let best = std::fs::read(dir.join("best.safetensors")).unwrap();
    sweep::model::load_weights(trainer.model(), &best).unwrap();
    let ppl = trainer.evaluate(&split.heldout).unwrap().exp();
    let recorded = parse(&ws.csv("trials.csv")[0]["best_heldout_ppl"]);
    assert!(
        (ppl - recorded).abs() < 1e-9 * recorded,
        "{ppl} vs {recorded}"
    );
}

/// An empty `--prefix` is a usage error from the argument parser (exit 2, one clear line),
/// not a failure deep in the model with a backtrace under `RUST_BACKTRACE=1`.
#[test]
fn sample_refuses_an_empty_prefix() {
    let ws = Workspace::new();
    let run = Run(Command::new(env!("CARGO_BIN_EXE_sweep"))
        .env("RUST_BACKTRACE", "1")
        .args(["sample", "x", "--prefix", ""])
        .arg("--out")
        .arg(ws.results())
        .output()
        .unwrap());
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("the prefix must not be empty"), "{err}");
    assert!(err.contains("--prefix"), "{err}");
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
    assert!(!err.lines().any(|l| l.starts_with("   0:")), "{err}");
}
