//! Interruption and resume, with real processes and real signals: kill -9 of the orchestrator
//! and of workers, SIGINT, damaged files, and two sweeps contending for one folder. Every
//! interrupted sweep must end with exactly the numbers and weights of an uninterrupted one.

mod common;

use std::time::Duration;

use common::{send, wait_until, worker_pids_under, Workspace};

/// Three trials of about two seconds each (measured 2026-11), checkpointing often.
/// Long enough that the kill rounds below interrupt them mid-training.
const GRID: &str = r#"{
  "name": "resume",
  "base": { "batch_size": 8, "steps": 3000, "eval_every": 100 },
  "grid": { "hidden": [16, 24, 32] },
  "checkpoint_every": 25,
  "max_retries": 1
}"#;

/// Runs GRID uninterrupted in a workspace of its own.
fn reference() -> Workspace {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    ws.sweep(&grid, &[]).expect_code(0);
    ws
}

fn assert_same_results(resumed: &Workspace, reference: &Workspace) {
    let (trials, curves) = resumed.numbers();
    let (want_trials, want_curves) = reference.numbers();
    assert_eq!(
        trials, want_trials,
        "trials.csv differs from the uninterrupted run"
    );
    assert_eq!(
        curves.len(),
        want_curves.len(),
        "curves.csv has missing or duplicate steps"
    );
    for (got, want) in curves.iter().zip(&want_curves) {
        assert_eq!(got, want, "curves.csv differs from the uninterrupted run");
    }
    assert_eq!(
        resumed.final_weights(),
        reference.final_weights(),
        "final weights differ from the uninterrupted run"
    );
}

/// A small deterministic generator for kill moments (xorshift).
fn moments(mut state: u64, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Duration::from_millis(250 + state % 1500)
        })
        .collect()
}

#[test]
fn kill_9_of_the_orchestrator_and_its_workers_loses_and_duplicates_nothing() {
    let want = reference();
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    let mut resumed_rounds = 0;
    for (round, moment) in moments(0x5eed, 5).into_iter().enumerate() {
        let child = ws.spawn(&grid, &[]);
        std::thread::sleep(moment);
        send(child.id() as i32, "KILL");
        if round % 2 == 1 {
            // Every other round, the workers die too, at the same instant.
            for pid in worker_pids_under(&ws.results()) {
                send(pid, "KILL");
            }
        }
        let out = common::Run(child.wait_with_output().unwrap());
        if out.stderr().contains("of them from a checkpoint") {
            resumed_rounds += 1;
        }
    }
    assert!(resumed_rounds > 0, "some round resumed a partial trial");
    ws.sweep(&grid, &[]).expect_code(0);
    assert_same_results(&ws, &want);
}

#[test]
fn a_killed_worker_is_retried_from_its_checkpoint() {
    let want = reference();
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    let child = ws.spawn(&grid, &[]);
    wait_until(60, "training to pass 200 steps", || {
        ws.steps_recorded() > 200
    });
    let victims = worker_pids_under(&ws.results());
    assert!(!victims.is_empty());
    send(victims[0], "KILL");
    let out = common::Run(child.wait_with_output().unwrap());
    out.expect_code(0);
    assert!(
        out.stderr().contains("was killed by SIGKILL"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr()
            .contains("retrying from its last checkpoint (retry 1 of 1)"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("resumed hidden="), "{}", out.stderr());
    assert_same_results(&ws, &want);
}

#[test]
fn sigint_checkpoints_prints_the_resume_command_and_the_rerun_finishes_exactly() {
    let want = reference();
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    let child = ws.spawn(&grid, &[]);
    wait_until(60, "training to pass 100 steps", || {
        ws.steps_recorded() > 100
    });
    send(child.id() as i32, "INT");
    let out = common::Run(child.wait_with_output().unwrap());
    out.expect_code(130);
    let err = out.stderr();
    assert!(
        err.contains("stopping: running trials save a checkpoint"),
        "{err}"
    );
    // "interrupted: D done, P partial, Q pending, F failed (of 3). Resume with:"
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .expect(&err);
    let counts: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let [done, partial, pending, failed, total] = counts[..] else {
        panic!("{line}")
    };
    assert_eq!((done, failed, total), (0, 0, 3), "{line}");
    assert!(partial >= 1 && partial + pending == 3, "{line}");
    assert!(line.ends_with("Resume with:"), "{line}");
    assert!(
        err.contains(&format!(
            "{} --out {} --jobs 2",
            grid.display(),
            ws.results().display()
        )),
        "{err}"
    );
    assert!(
        worker_pids_under(&ws.results()).is_empty(),
        "workers exited"
    );

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sweep"))
        .arg("status")
        .arg(ws.results())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    let expected = if pending > 0 {
        format!("3 trials: {partial} partial, {pending} pending")
    } else {
        format!("3 trials: {partial} partial")
    };
    assert!(text.contains(&expected), "{text}");

    let rerun = ws.sweep(&grid, &[]);
    rerun.expect_code(0);
    let resuming = format!("3 to run, {partial} of them from a checkpoint");
    assert!(rerun.stderr().contains(&resuming), "{}", rerun.stderr());
    assert_same_results(&ws, &want);
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    // Steps of a second or more, so that a graceful stop would take a while.
    let ws = Workspace::new();
    let grid = ws.write(
        "slow.json",
        r#"{ "base": { "hidden": 3000, "batch_size": 128, "steps": 1000 } }"#,
    );
    let child = ws.spawn(&grid, &[]);
    // The worker writes metrics.csv just before its first step: from then on a graceful stop
    // waits for a step of a second or more (a stop before it would end at once).
    wait_until(60, "the worker to start training", || {
        !worker_pids_under(&ws.results()).is_empty()
            && std::fs::read_dir(ws.results().join("trials"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|d| d.path().join("metrics.csv").exists())
    });
    std::thread::sleep(Duration::from_millis(300));
    send(child.id() as i32, "INT");
    // Signals that arrive together may be merged into one: leave a gap.
    std::thread::sleep(Duration::from_millis(300));
    send(child.id() as i32, "INT");
    let out = common::Run(child.wait_with_output().unwrap());
    out.expect_code(130);
    assert!(
        out.stderr().contains("stopping at once"),
        "{}",
        out.stderr()
    );
    wait_until(10, "the workers to be gone", || {
        worker_pids_under(&ws.results()).is_empty()
    });
}

#[test]
fn damaged_checkpoints_metrics_and_results_are_survived() {
    let want = reference();
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    // Interrupt twice so that trials have a checkpoint and a previous one.
    for threshold in [150, 400] {
        let child = ws.spawn(&grid, &[]);
        wait_until(60, "more training", || ws.steps_recorded() > threshold);
        send(child.id() as i32, "INT");
        child.wait_with_output().unwrap();
    }
    let trials = ws.results().join("trials");
    let mut damaged = 0;
    for dir in std::fs::read_dir(&trials)
        .unwrap()
        .flatten()
        .map(|d| d.path())
    {
        let ckpt = dir.join("checkpoint.safetensors");
        if let Ok(bytes) = std::fs::read(&ckpt) {
            // Truncate the newest checkpoint; on the first trial, damage the older one too.
            std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
            if damaged == 0 {
                let prev = dir.join("checkpoint.prev.safetensors");
                if prev.exists() {
                    std::fs::write(&prev, b"not a checkpoint").unwrap();
                }
            }
            // A kill in the middle of a write leaves a torn last line.
            let mut metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
            metrics.push_str("99999,1.2");
            std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged >= 1);
    let run = ws.sweep(&grid, &[]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("cannot resume from") && err.contains("checkpoint.safetensors"),
        "{err}"
    );
    assert!(
        !err.contains("metrics.csv is damaged"),
        "a torn last line is a kill mid-write, left out without a warning: {err}"
    );
    assert_same_results(&ws, &want);

    // A corrupt result.json: the trial is finished again from its final checkpoint, without
    // training, and ends with the same numbers.
    let first = std::fs::read_dir(&trials)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(first.join("result.json"), "{\"status\": \"compl").unwrap();
    let run = ws.sweep(&grid, &[]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("result.json is damaged"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("resumed hidden="), "{}", run.stderr());
    assert_same_results(&ws, &want);
}

#[test]
fn two_sweeps_on_one_folder_the_second_is_refused_until_the_first_dies() {
    let ws = Workspace::new();
    let grid = ws.write("grid.json", GRID);
    let first = ws.spawn(&grid, &[]);
    wait_until(60, "the first sweep to train", || ws.steps_recorded() > 10);
    let second = ws.sweep(&grid, &[]);
    second.expect_code(2);
    assert!(
        second
            .stderr()
            .contains(&format!("is in use by another sweep (pid {})", first.id())),
        "{}",
        second.stderr()
    );
    // A lock left by a process killed with -9 is taken over.
    send(first.id() as i32, "KILL");
    let mut first = first;
    first.wait().unwrap();
    let third = ws.sweep(&grid, &[]);
    third.expect_code(0);
    assert_eq!(
        ws.csv("trials.csv")
            .iter()
            .filter(|t| t["status"] == "completed")
            .count(),
        3
    );
}

/// Successive halving over 6 configurations of about a second each per rung (rungs at 500,
/// 1500, 3000 steps), checkpointing often.
const HALVING: &str = r#"{
  "name": "halving",
  "base": { "batch_size": 8, "steps": 3000, "eval_every": 100 },
  "search": { "method": "random", "trials": 6, "seed": 4 },
  "grid": { "lr": { "loguniform": [0.001, 0.05] }, "hidden": { "int": [12, 32] } },
  "early_stopping": { "method": "successive_halving", "min_steps": 500, "eta": 3 },
  "checkpoint_every": 25,
  "max_retries": 1
}"#;

#[test]
fn a_search_killed_again_and_again_decides_and_ends_as_an_uninterrupted_one() {
    let want = Workspace::new();
    let grid = want.write("grid.json", HALVING);
    want.sweep(&grid, &[]).expect_code(0);
    let ws = Workspace::new();
    let grid = ws.write("grid.json", HALVING);
    for (round, moment) in moments(0xab5e, 6).into_iter().enumerate() {
        let child = ws.spawn(&grid, &[]);
        std::thread::sleep(moment);
        send(child.id() as i32, "KILL");
        if round % 2 == 0 {
            for pid in worker_pids_under(&ws.results()) {
                send(pid, "KILL");
            }
        }
        child.wait_with_output().unwrap();
    }
    ws.sweep(&grid, &[]).expect_code(0);
    assert_eq!(
        ws.read("rungs.jsonl"),
        want.read("rungs.jsonl"),
        "same decisions"
    );
    assert_same_results(&ws, &want);
}
