//! End-to-end tests of `--executor slurm` against a real Slurm (`scripts/slurm-up.sh` brings up
//! a one-node cluster; `.ci/run` runs it first). Without a Slurm that answers, each test says
//! so on stderr and passes without checking anything.
//!
//! The tests take turns (one Slurm node, two CPUs), and compare with local runs of the same
//! grid: trials are deterministic, so a sweep through job arrays — interrupted or not — must
//! give the local numbers exactly.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Workspace;

/// One Slurm test at a time.
static SLURM: Mutex<()> = Mutex::new(());

/// This test's turn on the Slurm node, or `None` (with a message) when there is no Slurm.
fn turn(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    slurm_available(test).then_some(guard)
}

/// True when `sinfo` lists a usable node; otherwise prints why the test is skipped.
fn slurm_available(test: &str) -> bool {
    let out = Command::new("sinfo")
        .args(["--noheader", "--format=%t"])
        .stdin(Stdio::null())
        .output();
    let up = out.is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|s| ["idle", "mix", "alloc"].contains(&s.trim()))
    });
    if !up {
        eprintln!("SKIPPED {test}: no Slurm here (run scripts/slurm-up.sh as root to test it)");
    }
    up
}

const TINY: &str = r#"{
  "name": "tiny",
  "base": { "seq_len": 35, "lr": 0.01, "steps": 40, "eval_every": 20 },
  "grid": { "hidden": [8, 16], "batch_size": [4, 8] }
}"#;

/// Two trials of about 10 s each (hidden 300, batch 64), checkpointing every 50 steps.
const SLOW: &str = r#"{
  "name": "slow",
  "base": { "hidden": 300, "batch_size": 64, "steps": 400, "eval_every": 200 },
  "checkpoint_every": 50,
  "grid": { "seed": [0, 1] }
}"#;

/// `sweep GRID --out results --executor slurm ARGS...`, started in the background.
fn start(ws: &Workspace, grid: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(grid)
        .arg("--out")
        .arg(ws.results())
        .args(["--executor", "slurm"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts the sweep in the background and waits for its first submission, which it returns.
fn start_submitted(ws: &Workspace, grid: &Path) -> (std::process::Child, serde_json::Value) {
    let child = start(ws, grid, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ws.results().join("slurm/arrays.jsonl").exists() {
        assert!(Instant::now() < deadline, "nothing submitted");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, submissions(ws).remove(0))
}

/// Cancels one task, `job_index`.
fn scancel(task: &str) {
    let status = Command::new("scancel")
        .arg(task)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "scancel {task}");
}

/// Waits for the sweep to end with `code`; returns its stderr.
fn ended(child: std::process::Child, code: i32) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// trials.csv by trial id.
fn trials(ws: &Workspace) -> HashMap<String, HashMap<String, String>> {
    ws.csv("trials.csv")
        .into_iter()
        .map(|row| (row["id"].clone(), row))
        .collect()
}

/// The same grid run locally, in a workspace of its own.
fn local_run(grid: &str) -> Workspace {
    let ws = Workspace::new();
    let path = ws.write("grid.json", grid);
    ws.sweep(&path, &[]).expect_code(0);
    ws
}

/// Every trial has the local run's status and numbers.
fn assert_same_numbers(slurm: &Workspace, local: &Workspace) {
    let (a, b) = (trials(slurm), trials(local));
    assert_eq!(a.len(), b.len());
    for (id, row) in &b {
        let other = &a[id];
        for key in [
            "status",
            "steps_done",
            "final_train_ppl",
            "final_heldout_ppl",
        ] {
            assert_eq!(other[key], row[key], "trial {id}: {key}");
        }
    }
}

/// The submissions recorded in `slurm/arrays.jsonl`.
fn submissions(ws: &Workspace) -> Vec<serde_json::Value> {
    ws.read("slurm/arrays.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until trial `id` of the results has at least `rows` metric rows.
fn wait_for_rows(ws: &Workspace, id: &str, rows: usize) {
    let metrics = ws.results().join("trials").join(id).join("metrics.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count());
        if n > rows {
            return;
        }
        assert!(Instant::now() < deadline, "trial {id} did not train");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_sweep_through_job_arrays_writes_what_a_local_run_writes() {
    let Some(_turn) = turn("a_sweep_through_job_arrays_writes_what_a_local_run_writes") else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write("grid.json", TINY);
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("submitted 4 trials as Slurm job array"),
        "{}",
        run.stderr()
    );
    for file in [
        "summary.md",
        "trials.csv",
        "curves.csv",
        "curves.png",
        "heatmap.png",
    ] {
        assert!(ws.results().join(file).exists(), "{file}");
    }
    assert!(ws
        .read("summary.md")
        .contains("trials as Slurm job array tasks"));
    let subs = submissions(&ws);
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["trials"].as_array().unwrap().len(), 4);
    assert_same_numbers(&ws, &local_run(TINY));
    // Nothing left to do: a second run submits nothing.
    let again = ws.sweep(&grid, &["--executor", "slurm"]);
    again.expect_code(0);
    assert!(
        again.stderr().contains("4 already completed"),
        "{}",
        again.stderr()
    );
    assert_eq!(submissions(&ws).len(), 1);
}

#[test]
fn a_failing_trial_is_recorded_and_the_others_complete() {
    let Some(_turn) = turn("a_failing_trial_is_recorded_and_the_others_complete") else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write(
        "grid.json",
        r#"{ "base": { "hidden": 8, "batch_size": 4, "steps": 30, "eval_every": 10 },
             "grid": { "lr": [0.01, 1e38] } }"#,
    );
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(1);
    let rows = ws.csv("trials.csv");
    let status = |lr: &str| {
        rows.iter()
            .find(|r| r["lr"].parse::<f64>().unwrap() == lr.parse::<f64>().unwrap())
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("0.01"), "completed");
    assert_eq!(status("1e38"), "failed");
    assert!(ws.read("summary.md").contains("became NaN"));
}

#[test]
fn a_task_cancelled_mid_run_is_submitted_again_and_resumes_exactly() {
    let Some(_turn) = turn("a_task_cancelled_mid_run_is_submitted_again_and_resumes_exactly")
    else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write("grid.json", SLOW);
    let (child, first) = start_submitted(&ws, &grid);
    let (job, trial) = (
        first["job"].as_str().unwrap(),
        first["trials"][0].as_str().unwrap(),
    );
    // Past the first checkpoint (step 50), then cancel that task alone.
    wait_for_rows(&ws, trial, 60);
    scancel(&format!("{job}_0"));
    let stderr = ended(child, 0);
    assert!(stderr.contains("without a result; retrying"), "{stderr}");
    let subs = submissions(&ws);
    assert_eq!(subs.len(), 2, "one array, then the cancelled trial again");
    assert_eq!(subs[1]["trials"][0], trial);
    assert_same_numbers(&ws, &local_run(SLOW));
}

#[test]
fn a_killed_orchestrator_is_resumed_by_following_the_live_array() {
    let Some(_turn) = turn("a_killed_orchestrator_is_resumed_by_following_the_live_array") else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write("grid.json", SLOW);
    let (mut child, first) = start_submitted(&ws, &grid);
    wait_for_rows(&ws, first["trials"][0].as_str().unwrap(), 20);
    child.kill().unwrap(); // SIGKILL: the tasks keep running on Slurm.
    child.wait().unwrap();
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    assert_eq!(
        run.stderr()
            .matches("is still queued or running on Slurm from an earlier submission")
            .count(),
        2,
        "{}",
        run.stderr()
    );
    assert_eq!(submissions(&ws).len(), 1, "nothing submitted twice");
    assert_same_numbers(&ws, &local_run(SLOW));
}

#[test]
fn detach_submits_and_returns_and_a_later_run_writes_the_reports() {
    let Some(_turn) = turn("detach_submits_and_returns_and_a_later_run_writes_the_reports") else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write("grid.json", TINY);
    let run = ws.sweep(&grid, &["--executor", "slurm", "--detach"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("detached: Slurm job arrays"),
        "{}",
        run.stderr()
    );
    assert!(!ws.results().join("summary.md").exists());
    assert_eq!(submissions(&ws).len(), 1);
    let status = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("status")
        .arg(ws.results())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&status.stdout);
    // 1 while the tasks have not all completed, 0 once they have.
    assert!(matches!(status.status.code(), Some(0 | 1)), "{said}");
    assert!(said.contains("Slurm arrays "), "{said}");
    // Following again: the trials finish (or have finished) without a second submission.
    ws.sweep(&grid, &["--executor", "slurm"]).expect_code(0);
    assert_eq!(submissions(&ws).len(), 1);
    assert_same_numbers(&ws, &local_run(TINY));
}

#[test]
fn without_slurm_commands_the_error_says_what_is_missing() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", TINY);
    let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(&grid)
        .arg("--out")
        .arg(ws.results())
        .args(["--executor", "slurm"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`squeue` was not found") || stderr.contains("`sbatch` was not found"),
        "{stderr}"
    );
    let local = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(&grid)
        .args(["--detach", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&local.stderr).contains("--detach needs --executor slurm"));
}

#[test]
fn a_refused_submission_shows_slurms_message() {
    let Some(_turn) = turn("a_refused_submission_shows_slurms_message") else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write(
        "grid.json",
        r#"{ "base": { "hidden": 8, "batch_size": 4, "steps": 10 },
             "slurm": { "partition": "no-such-partition" } }"#,
    );
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(2);
    let stderr = run.stderr();
    assert!(stderr.contains("Slurm refused the submission"), "{stderr}");
    assert!(stderr.contains("invalid partition"), "{stderr}");
}

#[test]
fn ctrl_c_without_a_terminal_leaves_the_array_running_for_the_next_run() {
    let Some(_turn) = turn("ctrl_c_without_a_terminal_leaves_the_array_running_for_the_next_run")
    else {
        return;
    };
    let ws = Workspace::new();
    let grid = ws.write("grid.json", SLOW);
    let (child, first) = start_submitted(&ws, &grid);
    wait_for_rows(&ws, first["trials"][0].as_str().unwrap(), 10);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let stderr = ended(child, 130);
    assert!(stderr.contains("left running on Slurm"), "{stderr}");
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    assert_eq!(
        submissions(&ws).len(),
        1,
        "the running array was followed, not resubmitted"
    );
    assert_same_numbers(&ws, &local_run(SLOW));
}

#[test]
fn a_pending_task_cancelled_alone_is_noticed_and_submitted_again() {
    let Some(_turn) = turn("a_pending_task_cancelled_alone_is_noticed_and_submitted_again") else {
        return;
    };
    let ws = Workspace::new();
    // One task at a time, so the second waits as PENDING.
    let grid = ws.write(
        "grid.json",
        SLOW.replace(
            r#""checkpoint_every": 50,"#,
            r#""checkpoint_every": 50, "slurm": { "max_parallel": 1 },"#,
        ),
    );
    let (child, first) = start_submitted(&ws, &grid);
    let job = first["job"].as_str().unwrap().to_string();
    wait_for_rows(&ws, first["trials"][0].as_str().unwrap(), 5);
    scancel(&format!("{job}_1"));
    let stderr = ended(child, 0);
    assert!(stderr.contains(&format!("Slurm task {job}_1")), "{stderr}");
    assert_eq!(submissions(&ws).len(), 2);
    assert_same_numbers(&ws, &local_run(SLOW));
}

#[test]
fn a_task_that_keeps_failing_is_retried_then_recorded_with_slurms_state() {
    let Some(_turn) = turn("a_task_that_keeps_failing_is_retried_then_recorded_with_slurms_state")
    else {
        return;
    };
    let ws = Workspace::new();
    // One task at a time, on a corpus file that disappears once the first trial has read it:
    // the second trial's worker then exits without a result every time.
    let corpus = ws.write(
        "corpus.txt",
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/timemachine.txt")).unwrap(),
    );
    let grid = ws.write(
        "grid.json",
        SLOW.replace(
            r#""checkpoint_every": 50,"#,
            r#""checkpoint_every": 50, "corpus": "corpus.txt", "max_retries": 1,
               "slurm": { "max_parallel": 1 },"#,
        ),
    );
    let (child, first) = start_submitted(&ws, &grid);
    let (ok, broken) = (
        first["trials"][0].as_str().unwrap().to_string(),
        first["trials"][1].as_str().unwrap().to_string(),
    );
    wait_for_rows(&ws, &ok, 5);
    std::fs::remove_file(&corpus).unwrap();
    let stderr = ended(child, 1);
    assert!(stderr.contains("retry 1 of 1"), "{stderr}");
    let rows = trials(&ws);
    assert_eq!(rows[&ok]["status"], "completed");
    assert_eq!(rows[&broken]["status"], "failed");
    let reason = &rows[&broken]["reason"];
    assert!(
        reason.contains("ended FAILED without a result (after 1 retry)"),
        "{reason}"
    );
    assert_eq!(submissions(&ws).len(), 2);
}

/// Successive halving through Slurm: each rung is one or more job arrays (the promoted trials
/// continue from their checkpoints on whatever node), and the decisions and numbers are a
/// local run's.
#[test]
fn successive_halving_through_job_arrays_decides_as_a_local_run() {
    let Some(_turn) = turn("successive_halving_through_job_arrays_decides_as_a_local_run") else {
        return;
    };
    const HALVING: &str = r#"{
      "name": "halving",
      "base": { "hidden": 8, "batch_size": 4, "steps": 60, "eval_every": 20 },
      "search": { "method": "random", "trials": 4, "seed": 5 },
      "grid": { "lr": { "loguniform": [0.001, 0.1] } },
      "early_stopping": { "method": "successive_halving", "min_steps": 20, "eta": 2 }
    }"#;
    let ws = Workspace::new();
    let grid = ws.write("grid.json", HALVING);
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("rung 1 of 3 (step 20): 4 configurations"),
        "{err}"
    );
    assert!(
        err.contains("rung 2 of 3 (step 40): 2 configurations"),
        "{err}"
    );
    assert!(
        err.contains("rung 3 of 3 (step 60): 1 configuration,"),
        "{err}"
    );
    assert_eq!(submissions(&ws).len(), 3, "one array per rung");
    let local = local_run(HALVING);
    assert_same_numbers(&ws, &local);
    assert_eq!(ws.read("rungs.jsonl"), local.read("rungs.jsonl"));
}

/// Asynchronous successive halving through Slurm: each promotion is submitted as it is
/// decided, and the decisions and numbers are a local run's.
#[test]
fn asha_through_job_arrays_decides_as_a_local_run() {
    let Some(_turn) = turn("asha_through_job_arrays_decides_as_a_local_run") else {
        return;
    };
    const ASHA: &str = r#"{
      "name": "asha",
      "base": { "hidden": 8, "batch_size": 4, "steps": 60, "eval_every": 20 },
      "search": { "method": "random", "trials": 4, "seed": 5 },
      "grid": { "lr": { "loguniform": [0.001, 0.1] } },
      "early_stopping": { "method": "asha", "min_steps": 20, "eta": 2 }
    }"#;
    let ws = Workspace::new();
    let grid = ws.write("grid.json", ASHA);
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    assert!(run.stderr().contains("ASHA: "), "{}", run.stderr());
    // The first rung's four in one array, then arrays as promotions come.
    assert!(submissions(&ws).len() >= 3, "{:?}", submissions(&ws));
    let local = local_run(ASHA);
    assert_same_numbers(&ws, &local);
    assert_eq!(ws.read("rungs.jsonl"), local.read("rungs.jsonl"));
}

/// A TPE search through job arrays (the random configurations in one array, then each
/// proposal as it is made) proposes and trains exactly what a local run does.
#[test]
fn tpe_through_job_arrays_proposes_as_a_local_run() {
    let Some(_turn) = turn("tpe_through_job_arrays_proposes_as_a_local_run") else {
        return;
    };
    const TPE: &str = r#"{
      "name": "tpe",
      "base": { "hidden": 8, "batch_size": 4, "steps": 40, "eval_every": 20 },
      "search": { "method": "tpe", "trials": 5, "seed": 2, "startup": 3, "lag": 2 },
      "grid": { "lr": { "loguniform": [0.001, 0.1] }, "cell": ["rnn", "gru"] }
    }"#;
    let ws = Workspace::new();
    let grid = ws.write("grid.json", TPE);
    let run = ws.sweep(&grid, &["--executor", "slurm"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("TPE: configuration 4 of 5 (")
            && run
                .stderr()
                .contains("), proposed from the results of the first 3"),
        "{}",
        run.stderr()
    );
    let arrays = submissions(&ws).len();
    assert!(
        (2..=3).contains(&arrays),
        "the random ones, then each proposal: {arrays}"
    );
    let local = local_run(TPE);
    assert_eq!(ws.read("proposals.jsonl"), local.read("proposals.jsonl"));
    assert_same_numbers(&ws, &local);
}

/// A program grid over examples/stdlib-bigram: two trials of about 3 s each, checkpointing
/// every 40 steps.
fn program_grid() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"{{ "name": "program",
             "program": {{ "command": ["python3", "train.py", "--corpus", "{}"], "workdir": "{}" }},
             "metric": {{ "name": "val_loss", "mode": "min" }},
             "base": {{ "steps": 300, "eval_every": 20, "checkpoint_every": 40, "step_delay_s": 0.01 }},
             "grid": {{ "lr": [0.5, 5] }} }}"#,
        root.join("data/timemachine.txt").display(),
        root.join("examples/stdlib-bigram").display()
    )
}

/// A program trial's metrics rows without the clock (checkpoint markers left out).
fn program_rows(ws: &Workspace, id: &str) -> Vec<serde_json::Value> {
    ws.read(&format!("trials/{id}/metrics.jsonl"))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("checkpoint").is_none())
        .map(|mut v| {
            v.as_object_mut().unwrap().remove("elapsed_s");
            v
        })
        .collect()
}

#[test]
fn a_program_task_cancelled_mid_run_resumes_its_program_as_a_local_run() {
    let Some(_turn) = turn("a_program_task_cancelled_mid_run_resumes_its_program_as_a_local_run")
    else {
        return;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(
            std::env::var("REQUIRE_PYTHON").is_err(),
            "python3 is required"
        );
        eprintln!("SKIPPED: no python3");
        return;
    }
    let grid_text = program_grid();
    let ws = Workspace::new();
    let grid = ws.write("grid.json", &grid_text);
    let (child, first) = start_submitted(&ws, &grid);
    let (job, trial) = (
        first["job"].as_str().unwrap(),
        first["trials"][0].as_str().unwrap(),
    );
    // Past its first checkpoint marker, then cancel that task alone.
    let metrics = ws
        .results()
        .join("trials")
        .join(trial)
        .join("metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&metrics).is_ok_and(|t| t.contains("checkpoint")) {
        assert!(
            Instant::now() < deadline,
            "trial {trial} did not checkpoint"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    scancel(&format!("{job}_0"));
    let stderr = ended(child, 0);
    assert!(stderr.contains("without a result; retrying"), "{stderr}");
    assert!(
        stderr.contains("val_loss"),
        "progress names the metric: {stderr}"
    );
    let log = ws.read(&format!("trials/{trial}/program.log"));
    // Two attempts; the second resumed from a checkpoint the program reported (every 40
    // steps, or where SIGTERM stopped it).
    let starts: Vec<usize> = log
        .lines()
        .filter_map(|l| l.strip_prefix("--- sweep:"))
        .map(|l| {
            let from = l.split("(step ").nth(1).unwrap();
            from.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(starts.len(), 2, "{log}");
    assert!(starts[0] == 0 && starts[1] > 0, "{log}");

    let local = Workspace::new();
    let path = local.write("grid.json", &grid_text);
    local.sweep(&path, &[]).expect_code(0);
    let ids: Vec<String> = trials(&local).into_keys().collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert_eq!(trials(&ws)[id]["status"], "completed");
        assert_eq!(
            program_rows(&ws, id),
            program_rows(&local, id),
            "trial {id}"
        );
    }
}

/// Whether the Slurm node has GPUs to hand out (scripts/slurm-up.sh gives it two fake ones,
/// `/dev/tty0` and `/dev/tty1`, where those exist).
fn slurm_has_gpus(test: &str) -> bool {
    let out = Command::new("sinfo")
        .args(["--noheader", "--format=%G"])
        .stdin(Stdio::null())
        .output();
    let gpus = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("gpu:"));
    if !gpus {
        eprintln!("SKIPPED {test}: the Slurm node has no GPU GRES (see scripts/slurm-up.sh)");
    }
    gpus
}

/// The program grid's two trials (60 steps) with these `resources`, run on Slurm to the end:
/// the workspace and the sweep's stderr.
fn gpu_sweep(resources: serde_json::Value) -> (Workspace, String) {
    let mut grid: serde_json::Value = serde_json::from_str(&program_grid()).unwrap();
    grid["base"]["steps"] = 60.into();
    grid["resources"] = resources;
    let ws = Workspace::new();
    let path = ws.write("grid.json", grid.to_string());
    let child = start(&ws, &path, &[]);
    let stderr = ended(child, 0);
    (ws, stderr)
}

#[test]
fn a_trial_that_needs_a_gpu_asks_slurm_for_one_and_records_which() {
    let test = "a_trial_that_needs_a_gpu_asks_slurm_for_one_and_records_which";
    let Some(_turn) = turn(test) else {
        return;
    };
    if !slurm_has_gpus(test) || Command::new("python3").arg("--version").output().is_err() {
        return;
    }
    let (ws, _) = gpu_sweep(serde_json::json!({"gpus": 1, "cpus": 1}));
    // The job script kept in the results folder asks for the GPU.
    let slurm = ws.results().join("slurm");
    let scripts: Vec<String> = std::fs::read_dir(&slurm)
        .unwrap()
        .filter_map(|d| std::fs::read_to_string(d.ok()?.path().join("job.sh")).ok())
        .collect();
    assert!(!scripts.is_empty());
    for script in &scripts {
        assert!(script.contains("#SBATCH --gres=gpu:1\n"), "{script}");
        assert!(script.contains("#SBATCH --cpus-per-task=1\n"), "{script}");
    }
    // Each trial ran on one of the node's two GPUs, as Slurm chose, and says which.
    let rows = trials(&ws);
    assert_eq!(rows.len(), 2);
    for (id, row) in &rows {
        assert!(matches!(row["gpus"].as_str(), "0" | "1"), "{id}: {row:?}");
        let attempts = ws.read(&format!("trials/{id}/attempts.jsonl"));
        assert!(
            attempts.contains(&format!("\"gpus\":\"{}\"", row["gpus"])),
            "{attempts}"
        );
    }
}

#[test]
fn trials_sharing_a_gpu_are_packed_into_one_task_on_its_gpu() {
    let test = "trials_sharing_a_gpu_are_packed_into_one_task_on_its_gpu";
    let Some(_turn) = turn(test) else {
        return;
    };
    if !slurm_has_gpus(test) || Command::new("python3").arg("--version").output().is_err() {
        return;
    }
    let (ws, stderr) = gpu_sweep(serde_json::json!({"gpus": 0.5}));
    assert!(
        stderr.contains("2 trials to a task, sharing its GPU"),
        "{stderr}"
    );
    // One task for the two trials: one GPU, the CPUs of both.
    let slurm = ws.results().join("slurm");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&slurm)
        .unwrap()
        .filter_map(|d| Some(d.ok()?.path()).filter(|p| p.is_dir()))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let script = std::fs::read_to_string(dirs[0].join("job.sh")).unwrap();
    assert!(script.contains("#SBATCH --gres=gpu:1\n"), "{script}");
    assert!(script.contains("#SBATCH --cpus-per-task=2\n"), "{script}");
    let tasks = std::fs::read_to_string(dirs[0].join("tasks.txt")).unwrap();
    assert_eq!(tasks.lines().count(), 1, "{tasks}");
    assert_eq!(tasks.trim_end().split('\t').count(), 2, "{tasks}");
    // Both completed on the same GPU, the task's.
    let rows = trials(&ws);
    assert_eq!(rows.len(), 2);
    let gpus: BTreeSet<&str> = rows.values().map(|r| r["gpus"].as_str()).collect();
    assert_eq!(gpus.len(), 1, "{rows:?}");
    assert!(matches!(gpus.first().copied(), Some("0" | "1")), "{rows:?}");
    assert!(
        rows.values().all(|r| r["status"] == "completed"),
        "{rows:?}"
    );
}
