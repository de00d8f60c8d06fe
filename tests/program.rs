//! Program trials through the binary: grid files with a `program` section, run with the
//! example program examples/stdlib-bigram/train.py (Python stdlib only) and its test knobs
//! (`fail_at`, `bad_line_at`, `no_metric`, `checkpoint_every`, `ignore_sigterm`,
//! `step_delay_s`, `crash_signal_at`).
//!
//! Every interrupted sweep (SIGINT, kill -9, a program killed by a signal) must end with the
//! metrics lines of an uninterrupted one; failures end in `result.json` with a reason that
//! says what went wrong. Without `python3` on PATH each test says so and passes, unless
//! `REQUIRE_PYTHON=1`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{python_available, send, wait_until, worker_pids_under, Run};
use serde_json::{json, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Exit codes (src/commands/mod.rs `exit`).
const OK: i32 = 0;
const TRIALS_FAILED: i32 = 1;
const FATAL: i32 = 2;
const INTERRUPTED: i32 = 130;

// ---------------------------------------------------------------------------------------------
// Setup

macro_rules! require_python {
    () => {
        if !python_available() {
            return;
        }
    };
}

/// A program grid file: by default train.py on the repository's corpus, metric `val_loss`
/// (min), `PYTHONUNBUFFERED=1`.
struct Grid {
    name: String,
    base: Value,
    grid: Value,
    program: Value,
    top: Value,
}

impl Grid {
    fn new(name: &str, base: Value, grid: Value) -> Grid {
        Grid {
            name: name.to_string(),
            base,
            grid,
            program: json!({}),
            top: json!({}),
        }
    }

    /// Keys replacing or added to the `program` section (`command`, `workdir`, `env`,
    /// `stop_grace_s`).
    fn program(mut self, extra: Value) -> Grid {
        self.program = extra;
        self
    }

    /// Top-level keys of the grid file (e.g. `seeds`).
    fn top(mut self, extra: Value) -> Grid {
        self.top = extra;
        self
    }

    /// Writes `<dir>/<name>.json` and returns its path.
    fn write(&self, dir: &Path) -> PathBuf {
        let mut program = json!({
            "command": ["python3", "train.py", "--corpus", format!("{ROOT}/data/timemachine.txt")],
            "workdir": format!("{ROOT}/examples/stdlib-bigram"),
            "env": { "PYTHONUNBUFFERED": "1" },
        });
        for (k, v) in self.program.as_object().expect("an object") {
            program[k] = v.clone();
        }
        let mut file = json!({
            "name": self.name,
            "program": program,
            "metric": { "name": "val_loss", "mode": "min" },
            "base": self.base,
            "grid": self.grid,
        });
        for (k, v) in self.top.as_object().expect("an object") {
            file[k] = v.clone();
        }
        let path = dir.join(format!("{}.json", self.name));
        std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
        path
    }
}

/// `sweep GRID --out OUT ARGS...`, to the end.
fn sweep(grid: &Path, out: &Path, args: &[&str]) -> Run {
    Run(Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg(grid)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap())
}

/// Runs `grid` into `out` with `--jobs 2` on a thread of its own (an uninterrupted reference
/// run next to the one under test); joining it gives its rows by label.
fn reference(grid: &Path, out: PathBuf) -> std::thread::JoinHandle<BTreeMap<String, Vec<Value>>> {
    let grid = grid.to_path_buf();
    std::thread::spawn(move || {
        sweep(&grid, &out, &["--jobs", "2"]).expect_code(OK);
        rows_by_label(&out)
    })
}

/// A sweep started in the background; killed (-9) if the test ends while it still runs.
struct Sweep {
    child: Option<Child>,
}

impl Sweep {
    /// Starts `sweep GRID --out OUT --jobs 2`.
    fn start(grid: &Path, out: &Path) -> Sweep {
        let child = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg(grid)
            .arg("--out")
            .arg(out)
            .args(["--jobs", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Sweep { child: Some(child) }
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn wait(mut self) -> Run {
        Run(self.child.take().unwrap().wait_with_output().unwrap())
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a results folder

/// The trial folders under `out`, sorted.
fn trial_dirs(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out.join("trials")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

fn config(trial: &Path) -> Value {
    read_json(&trial.join("config.json"))
}

fn label(trial: &Path) -> String {
    config(trial)["label"].as_str().unwrap().to_string()
}

/// `result.json`, or `None` while the trial is unfinished.
fn result(trial: &Path) -> Option<Value> {
    let path = trial.join("result.json");
    path.exists().then(|| read_json(&path))
}

fn finished(trial: &Path) -> Value {
    result(trial).unwrap_or_else(|| panic!("{} has no result.json", trial.display()))
}

/// The trial whose parameters include every `(name, value)` of `params`.
fn trial_with(out: &Path, params: &[(&str, Value)]) -> PathBuf {
    trial_dirs(out)
        .into_iter()
        .find(|t| {
            let c = config(t);
            params.iter().all(|(k, v)| c["params"][*k] == *v)
        })
        .unwrap_or_else(|| panic!("no trial with {params:?} under {}", out.display()))
}

/// Every line of `metrics.jsonl` (rows and checkpoint markers), `elapsed_s` removed: what a
/// rerun must reproduce exactly.
fn lines(trial: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(trial.join("metrics.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad line {l}: {e}", trial.display()));
            v.as_object_mut().expect("an object").remove("elapsed_s");
            v
        })
        .collect()
}

/// The metrics rows (checkpoint markers dropped, `elapsed_s` removed).
fn rows(trial: &Path) -> Vec<Value> {
    lines(trial)
        .into_iter()
        .filter(|v| v.get("checkpoint").is_none())
        .collect()
}

/// The steps of the checkpoint markers in `metrics.jsonl`, in order.
fn checkpoints(trial: &Path) -> Vec<u64> {
    lines(trial)
        .iter()
        .filter_map(|v| v.get("checkpoint").and_then(Value::as_u64))
        .collect()
}

/// The step of each row.
fn steps(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(|r| r["step"].as_u64().unwrap()).collect()
}

/// Each trial's rows, by label.
fn rows_by_label(out: &Path) -> BTreeMap<String, Vec<Value>> {
    trial_dirs(out)
        .iter()
        .map(|t| (label(t), rows(t)))
        .collect()
}

fn log(trial: &Path) -> String {
    std::fs::read_to_string(trial.join("program.log")).unwrap_or_default()
}

/// The `(from, to)` steps of each `--- sweep: ... (step FROM → TO) in ...` header of
/// `program.log`: one per attempt.
fn attempts(trial: &Path) -> Vec<(u64, u64)> {
    log(trial)
        .lines()
        .filter(|l| l.starts_with("--- sweep: "))
        .map(|l| {
            let at = l
                .rfind("(step ")
                .unwrap_or_else(|| panic!("header without steps: {l}"));
            let rest = &l[at + "(step ".len()..];
            let (from, rest) = rest.split_once(" → ").expect(l);
            let (to, _) = rest.split_once(')').expect(l);
            (from.parse().expect(l), to.parse().expect(l))
        })
        .collect()
}

/// Pids of the processes (the programs) whose `SWEEP_TRIAL_DIR` lies under `out`.
fn program_pids_under(out: &Path) -> Vec<i32> {
    let needle = format!("SWEEP_TRIAL_DIR={}", out.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|&b| b == 0)
                .any(|var| String::from_utf8_lossy(var).starts_with(&needle))
                .then_some(pid)
        })
        .collect()
}

/// Waits until neither a worker nor a program of `out` runs.
fn wait_all_gone(out: &Path, seconds: u64) {
    wait_until(seconds, "the workers and programs to be gone", || {
        worker_pids_under(out).is_empty() && program_pids_under(out).is_empty()
    });
}

/// Waits until some trial of `out` has a checkpoint marker past `after` (by trial folder);
/// returns that trial.
fn wait_for_checkpoint(out: &Path, after: &BTreeMap<PathBuf, u64>) -> PathBuf {
    let mut found = None;
    wait_until(60, "a new checkpoint marker", || {
        found = trial_dirs(out).into_iter().find(|t| {
            checkpoints(t)
                .last()
                .is_some_and(|&c| c > after.get(t).copied().unwrap_or(0))
        });
        found.is_some()
    });
    found.unwrap()
}

/// Each trial's last checkpoint marker (0 without one).
fn last_checkpoints(out: &Path) -> BTreeMap<PathBuf, u64> {
    trial_dirs(out)
        .into_iter()
        .map(|t| {
            let last = checkpoints(&t).last().copied().unwrap_or(0);
            (t, last)
        })
        .collect()
}

/// Asserts that every trial of `out` completed its `steps` and that its rows are
/// `want`'s, by label.
fn assert_rows_as_uninterrupted(out: &Path, want: &BTreeMap<String, Vec<Value>>, budget: u64) {
    let got = rows_by_label(out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same trials"
    );
    for (label, want_rows) in want {
        assert!(
            !want_rows.is_empty(),
            "the reference trial {label} has rows"
        );
        assert_eq!(
            steps(&got[label]),
            steps(want_rows),
            "trial {label}: missing or duplicated steps"
        );
        assert_eq!(
            &got[label], want_rows,
            "trial {label}: rows differ from the uninterrupted run"
        );
    }
    for t in trial_dirs(out) {
        let r = finished(&t);
        assert_eq!(r["status"], "completed", "{}: {r}", t.display());
        assert_eq!(r["steps_done"], budget, "{}: {r}", t.display());
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn a_program_sweep_completes_and_is_the_same_whatever_the_jobs() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = Grid::new(
        "lr",
        json!({ "steps": 200, "eval_every": 50 }),
        json!({ "lr": [0.5, 2] }),
    )
    .top(json!({ "seeds": [0, 1] }))
    .write(tmp.path());
    let two = tmp.path().join("two");
    let run = sweep(&grid, &two, &["--jobs", "2"]);
    run.expect_code(OK);

    let trials = trial_dirs(&two);
    assert_eq!(trials.len(), 4, "2 lr × 2 seeds");
    let mut labels: Vec<String> = trials.iter().map(|t| label(t)).collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "lr=0.5 seed=0",
            "lr=0.5 seed=1",
            "lr=2 seed=0",
            "lr=2 seed=1"
        ]
    );
    for t in &trials {
        let c = config(t);
        assert!(c["program"].is_object(), "config.json has the program: {c}");
        assert_eq!(c["params"]["steps"], 200, "{c}");
        assert_eq!(c["params"]["eval_every"], 50, "{c}");
        assert!(
            c["params"]["lr"].is_number() && c["params"]["seed"].is_u64(),
            "{c}"
        );

        let rows = rows(t);
        assert_eq!(steps(&rows), [50, 100, 150, 200], "{}", t.display());
        assert_eq!(checkpoints(t), [50, 100, 150, 200], "{}", t.display());
        for row in &rows {
            for key in ["train_loss", "val_loss", "val_ppl"] {
                assert!(row[key].is_f64(), "{key} in {row}");
            }
        }
        let val: Vec<f64> = rows
            .iter()
            .map(|r| r["val_loss"].as_f64().unwrap())
            .collect();
        let r = finished(t);
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(r["steps_done"], 200, "{r}");
        let m = &r["metric"];
        assert_eq!(m["name"], "val_loss", "{r}");
        assert_eq!(
            m["last"].as_f64(),
            Some(val[3]),
            "the last row's val_loss: {r}"
        );
        assert_eq!(m["last_step"], 200, "{r}");
        let (best_i, best) = val
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(m["best"].as_f64(), Some(best), "the lowest val_loss: {r}");
        assert_eq!(m["best_step"], rows[best_i]["step"], "{r}");

        assert_eq!(attempts(t), [(0, 200)], "one attempt: {}", log(t));
        assert!(log(t).contains("V=27"), "the program's stderr: {}", log(t));
    }
    // The learning rate matters: the trials are not all the same.
    let finals: Vec<f64> = trials
        .iter()
        .map(|t| finished(t)["metric"]["last"].as_f64().unwrap())
        .collect();
    assert!(finals.iter().any(|&f| f != finals[0]), "{finals:?}");
    // The reports speak of the program's metric and parameters, not of perplexity.
    let summary = std::fs::read_to_string(two.join("summary.md")).unwrap();
    assert!(
        summary.contains("| metric | `val_loss` (lower is better) |"),
        "{summary}"
    );
    assert!(summary.contains("Best configuration: **lr="), "{summary}");
    assert!(!summary.contains("perplexity"), "{summary}");
    assert!(
        summary.contains("![val_loss per step, mean over seeds")
            && summary.contains("](curves.png)"),
        "{summary}"
    );
    assert!(two.join("curves.png").is_file() && two.join("curves.svg").is_file());
    let trials_csv = std::fs::read_to_string(two.join("trials.csv")).unwrap();
    assert!(
        trials_csv.lines().next().unwrap().contains(",lr,")
            && trials_csv.contains("final_val_loss"),
        "{trials_csv}"
    );
    let curves = std::fs::read_to_string(two.join("curves.csv")).unwrap();
    assert_eq!(
        curves.lines().next().unwrap(),
        "trial_id,step,train_loss,val_loss,val_ppl,elapsed_s"
    );
    assert_eq!(curves.lines().count(), 1 + 4 * 4, "4 trials × 4 rows");

    // --jobs 1 into another folder: the same trials, the same lines.
    let one = tmp.path().join("one");
    sweep(&grid, &one, &["--jobs", "1"]).expect_code(OK);
    let names = |out: &Path| -> Vec<_> {
        trial_dirs(out)
            .iter()
            .map(|t| t.file_name().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&one), names(&two), "the same trial ids");
    for t in &trials {
        let other = one.join("trials").join(t.file_name().unwrap());
        assert_eq!(
            lines(&other),
            lines(t),
            "{}: metrics.jsonl (minus elapsed_s) differs between --jobs 1 and 2",
            label(t)
        );
    }
}

#[test]
fn failing_programs_fail_their_trials_with_the_reason_and_the_others_complete() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();

    // Exit 3 at step 30, a line that is not JSON at step 40 (0 turns a knob off).
    let grid = Grid::new(
        "fail",
        json!({ "steps": 100, "eval_every": 20 }),
        json!({ "fail_at": [0, 30], "bad_line_at": [0, 40] }),
    )
    .write(tmp.path());
    let out = tmp.path().join("fail");
    let run = sweep(&grid, &out, &["--jobs", "2"]);
    run.expect_code(TRIALS_FAILED);
    assert!(
        run.stderr().contains("3 of 4 trials failed"),
        "{}",
        run.stderr()
    );

    let ok = trial_with(&out, &[("fail_at", json!(0)), ("bad_line_at", json!(0))]);
    let r = finished(&ok);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["steps_done"], 100, "{r}");
    assert_eq!(steps(&rows(&ok)), [20, 40, 60, 80, 100]);

    for bad_line_at in [0, 40] {
        // A failure at step 30 comes before the bad line.
        let t = trial_with(
            &out,
            &[("fail_at", json!(30)), ("bad_line_at", json!(bad_line_at))],
        );
        let r = finished(&t);
        assert_eq!(r["status"], "failed", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("program exited with code 3 — output: "),
            "{reason}"
        );
        assert!(
            reason.contains("simulated failure at step 30"),
            "the output's tail: {reason}"
        );
        assert!(
            !reason.contains("--- sweep:"),
            "no header in the tail: {reason}"
        );
        assert_eq!(r["steps_done"], 20, "the last row's step: {r}");
        assert_eq!(r["metric"]["last"], Value::Null, "{r}");
        assert_eq!(r["metric"]["best_step"], 20, "{r}");
        assert_eq!(
            steps(&rows(&t)),
            [20],
            "the rows before the failure are kept"
        );
        assert!(
            log(&t).contains("simulated failure at step 30"),
            "{}",
            log(&t)
        );
    }

    let bad = trial_with(&out, &[("fail_at", json!(0)), ("bad_line_at", json!(40))]);
    let r = finished(&bad);
    assert_eq!(r["status"], "failed", "{r}");
    let reason = r["reason"].as_str().unwrap();
    // stdout: row 20, marker 20, then the Python dict.
    assert!(
        reason.starts_with("line 3 of the program's output is not a metrics line ("),
        "{reason}"
    );
    assert!(
        reason.contains("`{'step': 40}`"),
        "the line itself: {reason}"
    );
    assert!(
        reason.contains(" — output: "),
        "the output's tail: {reason}"
    );
    assert!(
        log(&bad).contains("{'step': 40}"),
        "the bad line is logged: {}",
        log(&bad)
    );
    assert_eq!(
        steps(&rows(&bad)),
        [20],
        "nothing after the bad line is recorded"
    );
    assert_eq!(r["steps_done"], 20, "{r}");

    // A program that never reports the metric.
    let grid = Grid::new(
        "nometric",
        json!({ "steps": 60, "eval_every": 20 }),
        json!({ "no_metric": [0, 1] }),
    )
    .write(tmp.path());
    let out = tmp.path().join("nometric");
    sweep(&grid, &out, &["--jobs", "2"]).expect_code(TRIALS_FAILED);
    let r = finished(&trial_with(&out, &[("no_metric", json!(0))]));
    assert_eq!(r["status"], "completed", "{r}");
    let silent = trial_with(&out, &[("no_metric", json!(1))]);
    let r = finished(&silent);
    assert_eq!(r["status"], "failed", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason
            .starts_with("the program never reported `val_loss` (reported: train_loss) — output: "),
        "{reason}"
    );
    assert!(
        reason.contains("'no_metric': True"),
        "the output's tail: {reason}"
    );
    assert_eq!(steps(&rows(&silent)), [20, 40, 60], "its rows are kept");

    // A command that does not exist.
    let grid = Grid::new("missing", json!({ "steps": 10 }), json!({ "lr": [1] }))
        .program(json!({ "command": ["no-such-program-xyz", "--lr", "{lr}"] }))
        .write(tmp.path());
    let out = tmp.path().join("missing");
    let run = sweep(&grid, &out, &["--jobs", "2"]);
    run.expect_code(TRIALS_FAILED);
    let trials = trial_dirs(&out);
    assert_eq!(trials.len(), 1);
    let r = finished(&trials[0]);
    assert_eq!(r["status"], "failed", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("`no-such-program-xyz` not found"),
        "{reason}"
    );
    assert!(
        reason.contains("stdlib-bigram"),
        "names the workdir: {reason}"
    );
    assert_eq!(r["steps_done"], 0, "{r}");
}

/// Two trials of about 2 s each (400 steps of 5 ms), a row every 20 steps, a checkpoint
/// every 40.
fn slow_grid(dir: &Path, name: &str, checkpoint_every: u64) -> PathBuf {
    Grid::new(
        name,
        json!({ "steps": 400, "eval_every": 20, "checkpoint_every": checkpoint_every,
                "step_delay_s": 0.005 }),
        json!({ "lr": [0.5, 2] }),
    )
    .write(dir)
}

#[test]
fn sigint_stops_the_programs_and_the_rerun_resumes_from_their_checkpoints() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = slow_grid(tmp.path(), "sigint", 40);
    let want = reference(&grid, tmp.path().join("reference"));
    let out = tmp.path().join("out");

    let sweep_ = Sweep::start(&grid, &out);
    wait_for_checkpoint(&out, &BTreeMap::new());
    send(sweep_.pid(), "INT");
    let run = sweep_.wait();
    run.expect_code(INTERRUPTED);
    let err = run.stderr();
    assert!(
        err.contains("stopping: running trials save a checkpoint"),
        "{err}"
    );
    assert!(err.contains("interrupted: "), "{err}");
    assert!(
        worker_pids_under(&out).is_empty() && program_pids_under(&out).is_empty(),
        "the workers and programs ended with the sweep"
    );

    // The trials stopped part-way, each with the checkpoint it saved on SIGTERM.
    let unfinished: BTreeMap<PathBuf, u64> = last_checkpoints(&out)
        .into_iter()
        .filter(|(t, _)| result(t).is_none())
        .collect();
    assert!(!unfinished.is_empty(), "some trial is unfinished");
    for (t, &checkpoint) in &unfinished {
        // A program with a checkpoint was in its training loop, where SIGTERM is answered
        // (one still starting up dies of it).
        if checkpoint > 0 {
            assert!(
                log(t).contains("SIGTERM: stopped at step"),
                "the program was asked to stop: {}",
                log(t)
            );
        }
        let last_row = steps(&rows(t)).last().copied().unwrap_or(0);
        assert!(last_row < 400, "{}", t.display());
    }
    assert!(
        unfinished.values().any(|&c| c > 0),
        "some unfinished trial has a checkpoint: {unfinished:?}"
    );

    let rerun = sweep(&grid, &out, &["--jobs", "2"]);
    rerun.expect_code(OK);
    for (t, &checkpoint) in &unfinished {
        let attempts = attempts(t);
        assert_eq!(attempts.len(), 2, "{}", log(t));
        assert_eq!(attempts[0], (0, 400), "{}", log(t));
        assert_eq!(
            attempts[1],
            (checkpoint, 400),
            "resumed from its last checkpoint marker: {}",
            log(t)
        );
        if checkpoint > 0 {
            assert!(
                log(t).contains(&format!("resumed from step {checkpoint} ")),
                "the program got SWEEP_RESUME_STEP={checkpoint}: {}",
                log(t)
            );
        }
    }
    assert_rows_as_uninterrupted(&out, &want.join().unwrap(), 400);
}

#[test]
fn kill_9_of_the_sweep_stops_its_programs_and_the_rerun_ends_as_an_uninterrupted_run() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = slow_grid(tmp.path(), "kill", 40);
    let want = reference(&grid, tmp.path().join("reference"));
    let out = tmp.path().join("out");

    // Two rounds: a kill after the first checkpoint, then one after the resumed run saved
    // another.
    let stopped_on_sigterm = |t: &Path| log(t).matches("SIGTERM: stopped at step").count();
    let mut before = BTreeMap::new();
    for round in 0..2 {
        let said_before: BTreeMap<PathBuf, usize> = trial_dirs(&out)
            .into_iter()
            .map(|t| {
                let n = stopped_on_sigterm(&t);
                (t, n)
            })
            .collect();
        let sweep_ = Sweep::start(&grid, &out);
        let trial = wait_for_checkpoint(&out, &before);
        send(sweep_.pid(), "KILL");
        let run = sweep_.wait();
        assert_eq!(
            run.0.status.code(),
            None,
            "round {round}: killed by a signal"
        );
        // The workers get SIGTERM (PDEATHSIG) and stop their programs with SIGTERM: the one
        // that just saved a checkpoint was in its training loop and says so.
        wait_all_gone(&out, 15);
        assert_eq!(
            stopped_on_sigterm(&trial),
            said_before.get(&trial).copied().unwrap_or(0) + 1,
            "round {round}: the program of {} stopped on SIGTERM: {}",
            trial.display(),
            log(&trial)
        );
        assert!(result(&trial).is_none(), "round {round}: unfinished");
        before = last_checkpoints(&out);
    }

    let rerun = sweep(&grid, &out, &["--jobs", "2"]);
    rerun.expect_code(OK);
    assert!(
        rerun.stderr().contains("of them from a checkpoint"),
        "{}",
        rerun.stderr()
    );
    assert!(
        program_pids_under(&out).is_empty(),
        "no program left behind"
    );
    for t in trial_dirs(&out) {
        let attempts = attempts(&t);
        assert!(attempts.len() >= 2, "{}", log(&t));
        assert!(
            attempts.windows(2).all(|w| w[1].0 >= w[0].0),
            "each attempt resumes at or after the one before: {attempts:?}"
        );
    }
    assert_rows_as_uninterrupted(&out, &want.join().unwrap(), 400);
}

#[test]
fn a_program_without_checkpoints_restarts_from_step_0() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = Grid::new(
        "nockpt",
        json!({ "steps": 400, "eval_every": 20, "checkpoint_every": 0, "step_delay_s": 0.005 }),
        json!({ "lr": [2] }),
    )
    .write(tmp.path());
    let want = reference(&grid, tmp.path().join("reference"));
    let out = tmp.path().join("out");

    let sweep_ = Sweep::start(&grid, &out);
    wait_until(60, "rows up to step 60", || {
        trial_dirs(&out)
            .iter()
            .any(|t| steps(&rows(t)).last().is_some_and(|&s| s >= 60))
    });
    send(sweep_.pid(), "INT");
    sweep_.wait().expect_code(INTERRUPTED);
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    assert!(result(trial).is_none(), "unfinished");
    let before = rows(trial);
    assert!(
        steps(&before)
            .last()
            .is_some_and(|&s| (60..400).contains(&s)),
        "{before:?}"
    );
    assert!(checkpoints(trial).is_empty(), "no checkpoint marker");
    assert!(
        log(trial).contains("SIGTERM: stopped at step"),
        "{}",
        log(trial)
    );

    let rerun = sweep(&grid, &out, &["--jobs", "2"]);
    rerun.expect_code(OK);
    assert!(
        rerun
            .stderr()
            .contains("restarts from step 0: its program reported no checkpoint"),
        "{}",
        rerun.stderr()
    );
    assert_eq!(attempts(trial), [(0, 400), (0, 400)], "{}", log(trial));
    assert!(!log(trial).contains("resumed from step"), "{}", log(trial));
    assert_rows_as_uninterrupted(&out, &want.join().unwrap(), 400);
}

#[test]
fn a_program_ignoring_sigterm_is_killed_after_stop_grace_s() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    // About 30 s of training if nothing stopped it.
    let grid = Grid::new(
        "stubborn",
        json!({ "steps": 3000, "eval_every": 20, "step_delay_s": 0.01, "ignore_sigterm": 1 }),
        json!({ "lr": [2] }),
    )
    .program(json!({ "stop_grace_s": 1 }))
    .write(tmp.path());
    let out = tmp.path().join("out");
    let sweep_ = Sweep::start(&grid, &out);
    wait_until(60, "the first row", || {
        trial_dirs(&out).iter().any(|t| !rows(t).is_empty())
    });
    let asked = Instant::now();
    send(sweep_.pid(), "INT");
    let run = sweep_.wait();
    let took = asked.elapsed();
    run.expect_code(INTERRUPTED);
    assert!(
        took >= Duration::from_millis(950),
        "SIGKILL waited for stop_grace_s (1 s): the sweep ended after {took:?}"
    );
    assert!(
        took < Duration::from_secs(8),
        "the program was SIGKILLed 1 s after SIGTERM: the sweep took {took:?}"
    );
    wait_all_gone(&out, 5);
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    assert!(result(trial).is_none(), "unfinished");
    assert!(
        !log(trial).contains("SIGTERM: stopped"),
        "it ignored SIGTERM: {}",
        log(trial)
    );
    assert!(steps(&rows(trial)).last().is_some_and(|&s| s < 3000));
}

#[test]
fn a_program_killed_by_a_signal_is_retried_from_its_checkpoint() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let base = json!({ "steps": 200, "eval_every": 50, "checkpoint_every": 50 });
    let plain = Grid::new("plain", base.clone(), json!({ "lr": [0.5, 2] })).write(tmp.path());
    let want = reference(&plain, tmp.path().join("reference"));
    let mut crashing = base;
    // The program SIGKILLs itself before step 100, once per trial folder.
    crashing["crash_signal_at"] = json!(100);
    let grid = Grid::new("crash", crashing, json!({ "lr": [0.5, 2] })).write(tmp.path());
    let out = tmp.path().join("out");
    let run = sweep(&grid, &out, &["--jobs", "2"]);
    run.expect_code(OK);
    let err = run.stderr();
    assert!(err.contains("program killed by signal 9"), "{err}");
    assert!(
        err.matches("retrying from its last checkpoint (retry 1 of 2)")
            .count()
            == 2,
        "{err}"
    );
    for t in trial_dirs(&out) {
        assert!(t.join("work/crashed_at_100").exists(), "the knob fired");
        assert_eq!(attempts(&t), [(0, 200), (50, 200)], "{}", log(&t));
        assert!(
            log(&t).contains("simulated SIGKILL at step 100"),
            "{}",
            log(&t)
        );
        assert!(log(&t).contains("resumed from step 50 "), "{}", log(&t));
    }
    assert_rows_as_uninterrupted(&out, &want.join().unwrap(), 200);
}

#[test]
fn a_program_that_keeps_dying_fails_after_max_retries() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    // A shell that kills itself every time.
    let grid = Grid::new("dying", json!({ "steps": 10 }), json!({ "lr": [1] }))
        .program(json!({ "command": ["sh", "-c", "echo about to die >&2; kill -9 $$"] }))
        .top(json!({ "max_retries": 1 }))
        .write(tmp.path());
    let out = tmp.path().join("out");
    let run = sweep(&grid, &out, &["--jobs", "2"]);
    run.expect_code(TRIALS_FAILED);
    let err = run.stderr();
    assert!(
        err.contains("retrying from its last checkpoint (retry 1 of 1)"),
        "{err}"
    );
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    let r = finished(trial);
    assert_eq!(r["status"], "failed", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("program killed by signal 9"), "{reason}");
    assert!(
        reason.contains("about to die"),
        "the output's tail: {reason}"
    );
    assert!(reason.ends_with("(after 1 retry)"), "{reason}");
    assert!(
        r["metric"]["name"].is_string(),
        "a program failure names its metric: {r}"
    );
    assert!(r["metric"]["last"].is_null(), "{r}");
    assert_eq!(
        attempts(trial).len(),
        2,
        "the first run and one retry: {}",
        log(trial)
    );
}

#[test]
fn a_dry_run_lists_the_trials_and_an_unknown_placeholder_is_bad_input() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = Grid::new(
        "dry",
        json!({ "steps": 20, "eval_every": 10 }),
        json!({ "lr": [0.5, 2] }),
    )
    .program(json!({ "command": ["python3", "train.py", "--corpus",
                                 format!("{ROOT}/data/timemachine.txt"), "--lr", "{lr}"] }))
    .top(json!({ "seeds": [0, 1] }))
    .write(tmp.path());
    let out = tmp.path().join("out");
    let dry = sweep(&grid, &out, &["--dry-run"]);
    dry.expect_code(OK);
    assert!(!out.exists(), "a dry run writes nothing");
    let listed: BTreeMap<String, String> = dry
        .stdout()
        .lines()
        .map(|l| {
            let id = l.split_whitespace().next().unwrap().to_string();
            assert!(
                id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()),
                "an id: {l}"
            );
            (id, l.split("  ").last().unwrap().trim().to_string())
        })
        .collect();
    let mut labels: Vec<&String> = listed.values().collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "lr=0.5 seed=0",
            "lr=0.5 seed=1",
            "lr=2 seed=0",
            "lr=2 seed=1"
        ],
        "{}",
        dry.stdout()
    );
    // The listed ids are the folders a run creates.
    sweep(&grid, &out, &["--jobs", "2"]).expect_code(OK);
    let created: BTreeMap<String, String> = trial_dirs(&out)
        .iter()
        .map(|t| {
            (
                t.file_name().unwrap().to_string_lossy().into_owned(),
                label(t),
            )
        })
        .collect();
    assert_eq!(created, listed);

    let typo = Grid::new("typo", json!({ "steps": 20 }), json!({ "lr": [0.5, 2] }))
        .program(json!({ "command": ["python3", "train.py", "--lr", "{lrr}"] }))
        .write(tmp.path());
    let out = tmp.path().join("typo");
    for args in [&["--dry-run"][..], &["--jobs", "2"][..]] {
        let run = sweep(&typo, &out, args);
        run.expect_code(FATAL);
        let err = run.stderr();
        assert!(err.contains("`program.command[3]`"), "{err}");
        assert!(err.contains("unknown placeholder `{lrr}`"), "{err}");
        assert!(err.contains("did you mean `{lr}`"), "{err}");
        assert!(!out.exists(), "nothing ran: {args:?}");
    }

    // A NUL byte no command line or environment can hold, and a lone `}`: refused with exit 2
    // when the file is read, not when the program fails to start.
    for (name, program, expected) in [
        (
            "nul_arg",
            json!({ "command": ["python3", "train.py", "a\u{0}b"] }),
            "`program.command[2]`: contains a NUL byte",
        ),
        (
            "nul_env",
            json!({ "env": { "X": "a\u{0}b" } }),
            "`program.env.X`: contains a NUL byte",
        ),
        (
            "brace",
            json!({ "command": ["python3", "train.py", "x}"] }),
            "a `}` without its `{`",
        ),
    ] {
        let grid = Grid::new(name, json!({ "steps": 20 }), json!({ "lr": [0.5] }))
            .program(program)
            .write(tmp.path());
        let run = sweep(&grid, &tmp.path().join(name), &["--dry-run"]);
        run.expect_code(FATAL);
        assert!(run.stderr().contains(expected), "{name}: {}", run.stderr());
    }
}

#[test]
fn the_program_gets_its_parameters_command_line_environment_and_folder() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    // Records what it was given, reports `val_loss` = its first argument at SWEEP_STEPS.
    std::fs::write(
        tmp.path().join("env.py"),
        r#"import json, os, sys
seen = {
    "env": {k: v for k, v in os.environ.items() if k.startswith("SWEEP_") or k == "EXTRA"},
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
}
with open(os.path.join(os.environ["SWEEP_TRIAL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
print("a line that is not JSON")
print(json.dumps(dict(step=int(os.environ["SWEEP_STEPS"]), val_loss=float(sys.argv[1]))))
"#,
    )
    .unwrap();
    let grid = Grid::new(
        "env",
        json!({ "steps": 7, "opt": "adam" }),
        json!({ "lr": [0.25] }),
    )
    .program(json!({
        "command": ["python3", "env.py", "{lr}", "--seed={seed}", "{opt}", "{{literal}}"],
        "workdir": ".",
        "env": { "EXTRA": "x y" },
    }))
    .top(json!({ "seeds": [3] }))
    .write(tmp.path());
    let out = tmp.path().join("out");
    sweep(&grid, &out, &["--jobs", "2"]).expect_code(OK);
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    let seen = read_json(&trial.join("work/seen.json"));
    assert_eq!(
        seen["argv"],
        json!(["0.25", "--seed=3", "adam", "{literal}"])
    );
    assert_eq!(
        Path::new(seen["cwd"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        tmp.path().canonicalize().unwrap(),
        "a relative workdir is read from the grid file's folder"
    );
    let env = &seen["env"];
    let params: Value = serde_json::from_str(env["SWEEP_PARAMS"].as_str().unwrap()).unwrap();
    assert_eq!(params, config(trial)["params"]);
    assert_eq!(
        params,
        json!({ "lr": 0.25, "opt": "adam", "seed": 3, "steps": 7 })
    );
    assert_eq!(
        env["SWEEP_TRIAL_ID"],
        trial.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(
        Path::new(env["SWEEP_TRIAL_DIR"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        trial.join("work").canonicalize().unwrap(),
        "a folder of its own, beside sweep's records"
    );
    assert!(Path::new(env["SWEEP_TRIAL_DIR"].as_str().unwrap()).is_absolute());
    assert_eq!(env["SWEEP_STEPS"], "7");
    assert_eq!(env["SWEEP_SEED"], "3");
    assert_eq!(env["EXTRA"], "x y");
    assert!(
        env.get("SWEEP_RESUME_STEP").is_none(),
        "a fresh start: {env}"
    );
    assert!(
        env.get("SWEEP_PARENT_PID").is_none(),
        "the worker's own variable: {env}"
    );

    assert_eq!(rows(trial), [json!({ "step": 7, "val_loss": 0.25 })]);
    assert!(
        log(trial).contains("a line that is not JSON"),
        "{}",
        log(trial)
    );
    let r = finished(trial);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["metric"]["last"], 0.25, "{r}");
    assert_eq!(r["metric"]["last_step"], 7, "{r}");
}

/// The shipped program grids are valid (sweeps/pytorch.json needs no torch to be read) and
/// both example programs parse as Python.
#[test]
fn the_shipped_examples_are_valid() {
    require_python!();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for (grid, trials) in [("sweeps/program.json", 8), ("sweeps/pytorch.json", 18)] {
        let dry = sweep(&root.join(grid), &tmp.path().join("out"), &["--dry-run"]);
        dry.expect_code(OK);
        assert_eq!(
            dry.stdout().lines().count(),
            trials,
            "{grid}: {}",
            dry.stdout()
        );
    }
    for program in [
        "examples/stdlib-bigram/train.py",
        "examples/pytorch-char-rnn/train.py",
    ] {
        let parsed = Command::new("python3")
            .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
            .arg(root.join(program))
            .output()
            .unwrap();
        assert!(
            parsed.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&parsed.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing lost, nothing forged

/// A program whose first argument says how it misbehaves; it reports `val_loss` at every step
/// up to `SWEEP_STEPS` unless told otherwise.
const MISBEHAVING: &str = r#"import json, os, subprocess, sys, time
mode = sys.argv[1]
steps = int(os.environ["SWEEP_STEPS"])
work = os.environ["SWEEP_TRIAL_DIR"]
def row(step, value):
    print(json.dumps({"step": step, "val_loss": value}))
if mode == "flood":
    for s in range(1, steps + 1):
        row(s, 1.0 / s)
elif mode == "early":
    for s in range(1, 4):
        row(s, 1.0)
elif mode == "nan":
    for s in range(1, steps + 1):
        print('{"step": %d, "val_loss": NaN}' % s)
elif mode == "zero":
    row(0, 1.0)
elif mode == "huge":
    for s in range(1, steps + 1):
        print('{"step": %d, "val_loss": 1e400}' % s)
elif mode == "forge":
    # sweep's own record names, written where the program keeps its files.
    with open(os.path.join(work, "result.json"), "w") as f:
        json.dump({"status": "completed", "steps_done": steps, "wall_seconds": 1,
                   "metric": {"name": "val_loss", "last": -99.0, "last_step": steps,
                              "best": -99.0, "best_step": steps}}, f)
    with open(os.path.join(work, "metrics.jsonl"), "a") as f:
        f.write("garbage\n")
    for s in range(1, steps + 1):
        row(s, 2.0)
elif mode == "orphan":
    child = subprocess.Popen(["sleep", "300"])
    with open(os.path.join(work, "child.pid"), "w") as f:
        f.write(str(child.pid))
    for s in range(1, steps + 1):
        row(s, 1.0)
        sys.stdout.flush()
        time.sleep(0.05)
"#;

/// A grid of `MISBEHAVING` programs, one per mode, `steps` each.
fn misbehaving(dir: &Path, name: &str, modes: &[&str], steps: u64) -> PathBuf {
    std::fs::write(dir.join("misbehave.py"), MISBEHAVING).unwrap();
    Grid::new(name, json!({ "steps": steps }), json!({ "mode": modes }))
        .program(json!({
            "command": ["python3", "misbehave.py", "{mode}"],
            "workdir": ".",
        }))
        .write(dir)
}

#[test]
fn a_program_s_output_is_read_to_the_end_after_it_exits() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = misbehaving(tmp.path(), "flood", &["flood"], 50_000);
    let out = tmp.path().join("out");
    sweep(&grid, &out, &["--jobs", "1"]).expect_code(OK);
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    // 50,000 lines printed at once, the program gone before most were read: all are kept.
    let got = steps(&rows(trial));
    assert_eq!(got.len(), 50_000);
    assert_eq!(got.last(), Some(&50_000));
    let r = finished(trial);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["steps_done"], 50_000, "{r}");
    assert_eq!(r["metric"]["last_step"], 50_000, "{r}");
}

#[test]
fn a_program_s_ending_is_trusted_no_further_than_its_rows() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = misbehaving(tmp.path(), "endings", &["early", "nan", "zero", "huge"], 10);
    let out = tmp.path().join("out");
    sweep(&grid, &out, &["--jobs", "2"]).expect_code(TRIALS_FAILED);
    let of = |mode: &str| finished(&trial_with(&out, &[("mode", json!(mode))]));

    let early = of("early");
    assert_eq!(early["status"], "failed", "{early}");
    assert_eq!(early["steps_done"], 3, "the last step it reported: {early}");
    assert!(
        early["reason"]
            .as_str()
            .unwrap()
            .contains("exited 0 at step 3, before SWEEP_STEPS=10: it ended early"),
        "{early}"
    );
    let nan = of("nan");
    assert_eq!(nan["status"], "failed", "{nan}");
    assert!(nan["reason"].as_str().unwrap().contains("is NaN"), "{nan}");
    let zero = of("zero");
    assert_eq!(zero["status"], "failed", "{zero}");
    assert!(
        zero["reason"]
            .as_str()
            .unwrap()
            .contains("step 0: steps count from 1"),
        "{zero}"
    );
    // Too large for a float: infinite, as the built-in model's perplexities, not a failure.
    let huge = of("huge");
    assert_eq!(huge["status"], "completed", "{huge}");
    assert_eq!(huge["metric"]["last"], "inf", "{huge}");
}

#[test]
fn what_a_program_writes_in_its_folder_cannot_change_sweeps_records() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = misbehaving(tmp.path(), "forge", &["forge"], 5);
    let out = tmp.path().join("out");
    sweep(&grid, &out, &["--jobs", "1"]).expect_code(OK);
    let [trial] = &trial_dirs(&out)[..] else {
        panic!("one trial")
    };
    let r = finished(trial);
    assert_eq!(
        r["metric"]["last"], 2.0,
        "what it printed, not what it wrote: {r}"
    );
    assert_eq!(steps(&rows(trial)), [1, 2, 3, 4, 5]);
    assert!(trial.join("work/result.json").exists());
    let status = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["status", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(OK), "{status:?}");
}

#[test]
fn a_killed_worker_takes_what_its_program_started_along() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    let grid = misbehaving(tmp.path(), "orphan", &["orphan"], 2000);
    let out = tmp.path().join("out");
    let run = Sweep::start(&grid, &out);
    let mut child_pid = None;
    wait_until(60, "the program's child", || {
        child_pid = trial_dirs(&out)
            .first()
            .and_then(|t| std::fs::read_to_string(t.join("work/child.pid")).ok())
            .and_then(|p| p.trim().parse::<i32>().ok());
        child_pid.is_some()
    });
    let child_pid = child_pid.unwrap();
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    assert!(alive(child_pid));
    let trial = trial_dirs(&out).remove(0);
    let worker = common::worker_pid(&trial).expect("a worker trains the trial");
    send(worker, "KILL");
    wait_until(
        20,
        "the program's child to be killed with the worker",
        || !alive(child_pid),
    );
    drop(run);
    // The retried attempt's child, left when the test killed the sweep itself.
    if let Ok(pid) = std::fs::read_to_string(trial.join("work/child.pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            if pid != child_pid {
                send(pid, "KILL");
            }
        }
    }
}

/// The `##` headings of a summary, with the objective's name replaced by `<metric>`.
fn headings(summary: &str, metric: &[&str]) -> Vec<String> {
    summary
        .lines()
        .filter(|l| l.starts_with("## "))
        .map(|l| {
            metric
                .iter()
                .fold(l.to_string(), |l, m| l.replace(m, "<metric>"))
        })
        .collect()
}

/// The charts a report drew (PNG), by kind: `charts/lr-0.5.png` → `charts/lr`.
fn chart_kinds(out: &Path) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for (dir, prefix) in [(out.to_path_buf(), ""), (out.join("charts"), "charts/")] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".png") {
                let axis = stem.rsplit_once('-').map_or(stem, |(a, _)| a);
                kinds.push(format!(
                    "{prefix}{}",
                    if prefix.is_empty() { stem } else { axis }
                ));
            }
        }
    }
    kinds.sort();
    kinds
}

#[test]
fn a_program_sweep_gets_the_same_report_as_a_model_sweep_in_both_languages() {
    require_python!();
    let tmp = tempfile::tempdir().unwrap();
    // The same two list axes and two seeds, for a program and for the built-in model.
    let grid = Grid::new(
        "two-axes",
        json!({"steps": 200, "eval_every": 100}),
        json!({"lr": [0.5, 5], "batch_size": [16, 32]}),
    )
    .top(json!({"seeds": [0, 1]}))
    .write(tmp.path());
    let program = tmp.path().join("program");
    sweep(&grid, &program, &["--jobs", "2"]).expect_code(OK);
    let model_grid = tmp.path().join("model.json");
    std::fs::write(
        &model_grid,
        json!({
            "name": "two-axes-model",
            "base": {"hidden": 8, "seq_len": 20, "steps": 30, "eval_every": 10},
            "grid": {"lr": [0.01, 0.02], "batch_size": [4, 8]},
            "seeds": [0, 1],
        })
        .to_string(),
    )
    .unwrap();
    let model = tmp.path().join("model");
    sweep(&model_grid, &model, &["--jobs", "2"]).expect_code(OK);

    let read = |dir: &Path| std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let (p, m) = (read(&program), read(&model));
    let model_only = ["## Sample"];
    let want: Vec<String> = headings(&m, &["held-out perplexity", "Held-out perplexity"])
        .into_iter()
        .filter(|h| !model_only.contains(&h.as_str()))
        .collect();
    assert_eq!(headings(&p, &["val_loss"]), want, "{p}");
    assert!(
        p.contains("## val_loss: lr × batch_size")
            && p.contains("![val_loss, mean over seeds](heatmap.png)"),
        "{p}"
    );
    // The same charts: curves, heatmap, best so far, one per value of each axis.
    assert_eq!(chart_kinds(&program), chart_kinds(&model));
    assert!(chart_kinds(&program).contains(&"heatmap".to_string()));
    assert_eq!(
        std::fs::read_dir(program.join("charts")).unwrap().count(),
        2 * (2 + 2),
        "PNG and SVG for each value of lr and batch_size"
    );

    // In Chinese: the same sections, the metric by its name.
    let zh = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(["report", "--lang", "zh"])
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        zh.status.success(),
        "{}",
        String::from_utf8_lossy(&zh.stderr)
    );
    let p_zh = read(&program);
    for heading in [
        "## 结论",
        "## 各配置按val_loss排序",
        "## lr",
        "## val_loss：lr × batch_size",
        "## 全部试验",
        "## 指标定义",
    ] {
        assert!(p_zh.contains(&format!("{heading}\n")), "{heading}: {p_zh}");
    }
    assert!(
        !p_zh.contains("困惑度") && !p_zh.contains("perplexity"),
        "{p_zh}"
    );
    assert_eq!(
        headings(&p_zh, &[]).len(),
        headings(&p, &[]).len(),
        "{p_zh}"
    );
}
