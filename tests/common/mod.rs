//! Test harness shared by the end-to-end tests: a temporary workspace, the `sweep` binary,
//! and helpers to find and signal its processes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod server;

/// A temporary folder with grid files and a results folder.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn results(&self) -> PathBuf {
        self.path("results")
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `sweep GRID --out results --jobs 2 ARGS...`
    pub fn sweep(&self, grid: &Path, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg(grid)
            .arg("--out")
            .arg(self.results())
            .args(["--jobs", "2"])
            .args(args)
            .output()
            .unwrap();
        Run(out)
    }

    pub fn csv(&self, name: &str) -> Vec<HashMap<String, String>> {
        let mut r = csv::Reader::from_path(self.results().join(name)).unwrap();
        r.deserialize().map(Result::unwrap).collect()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.results().join(rel)).unwrap()
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Finds the pid of the worker process training in `trial_dir`.
pub fn worker_pid(trial_dir: &Path) -> Option<i32> {
    let needle = trial_dir.to_string_lossy().into_owned();
    workers()
        .into_iter()
        .find(|(_, args)| args.contains(&needle))
        .map(|(pid, _)| pid)
}

/// Pids of every worker process training a trial under `root`.
pub fn worker_pids_under(root: &Path) -> Vec<i32> {
    let prefix = root.to_string_lossy().into_owned();
    workers()
        .into_iter()
        .filter(|(_, args)| args.iter().any(|a| a.starts_with(&prefix)))
        .map(|(pid, _)| pid)
        .collect()
}

/// Every running `sweep worker` process: pid and command line.
fn workers() -> Vec<(i32, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.iter().any(|a| a == "worker").then_some((pid, args))
        })
        .collect()
}

/// Sends `signal` (`KILL`, `INT` or `TERM`) to `pid`.
pub fn send(pid: i32, signal: &str) {
    let sig = match signal {
        "KILL" => libc::SIGKILL,
        "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        other => panic!("unknown signal {other}"),
    };
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) };
}

/// Polls `condition` every 20 ms; panics with `what` after `seconds`.
pub fn wait_until(seconds: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Workspace {
    /// Starts `sweep GRID --out results --jobs 2 ARGS...` without waiting.
    pub fn spawn(&self, grid: &Path, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg(grid)
            .arg("--out")
            .arg(self.results())
            .args(["--jobs", "2"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Rows of metrics.csv of every trial so far.
    pub fn steps_recorded(&self) -> usize {
        let Ok(dirs) = std::fs::read_dir(self.results().join("trials")) else {
            return 0;
        };
        dirs.flatten()
            .filter_map(|d| std::fs::read_to_string(d.path().join("metrics.csv")).ok())
            .map(|t| t.lines().count().saturating_sub(1))
            .sum()
    }

    /// The reports without the columns that measure time or memory, or say which GPU a trial
    /// happened to get (they vary from run to run): what an exact resume must reproduce.
    pub fn numbers(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let timing = [
            "elapsed_s",
            "steps_per_sec",
            "peak_memory_mb",
            "wall_seconds",
            "started_at",
            "finished_at",
            "worker_seconds",
            "rungs_at",
            "gpus",
            "peak_gpu_memory_mb",
            "gpu_memory_total_mb",
            "gpu_utilisation",
        ];
        let read = |name: &str| -> Vec<Vec<String>> {
            let mut r = csv::Reader::from_path(self.results().join(name)).unwrap();
            let headers = r.headers().unwrap().clone();
            let keep: Vec<usize> = (0..headers.len())
                .filter(|&i| !timing.contains(&&headers[i]))
                .collect();
            let mut rows = vec![keep.iter().map(|&i| headers[i].to_string()).collect()];
            for rec in r.records() {
                let rec = rec.unwrap();
                rows.push(keep.iter().map(|&i| rec[i].to_string()).collect());
            }
            rows
        };
        (read("trials.csv"), read("curves.csv"))
    }

    /// Each trial's final weights file, by trial id (a trial stopped at a rung of early
    /// stopping has its best weights instead: its checkpoint also holds the training clock).
    pub fn final_weights(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.results().join("trials"))
            .unwrap()
            .flatten()
            .map(|d| {
                let id = d.file_name().to_string_lossy().into_owned();
                let stopped = std::fs::read_to_string(d.path().join("result.json"))
                    .is_ok_and(|r| r.contains("\"stopped\""));
                let file = if stopped {
                    "best.safetensors"
                } else {
                    "model.safetensors"
                };
                let bytes = std::fs::read(d.path().join(file))
                    .unwrap_or_else(|_| panic!("trial {id} has no {file}"));
                (id, bytes)
            })
            .collect();
        out.sort();
        out
    }
}

/// Starts `sweep GRID` in `ws` once per moment, waits for the moment (a condition, named for
/// the timeout message), then kills the orchestrator with SIGKILL, and its workers too for the
/// first `kill_workers` rounds; each round must end before the sweep does.
pub fn kill_rounds(
    ws: &Workspace,
    grid: &Path,
    moments: &[(&str, &dyn Fn() -> bool)],
    kill_workers: usize,
) {
    for (round, (what, moment)) in moments.iter().enumerate() {
        let child = ws.spawn(grid, &[]);
        wait_until(120, what, moment);
        std::thread::sleep(std::time::Duration::from_millis(50));
        send(child.id() as i32, "KILL");
        if round < kill_workers {
            for pid in worker_pids_under(&ws.results()) {
                send(pid, "KILL");
            }
        }
        let out = Run(child.wait_with_output().unwrap());
        assert!(
            !out.stdout().contains("wrote "),
            "round {round} ended first"
        );
    }
}

/// Runs `grid` (a file in `one`) with `--jobs 1` in `one`, and a copy of it with `--jobs 2` in
/// a workspace of its own, both to the end: the first run and the second workspace.
pub fn with_one_and_two_jobs(one: &Workspace, grid: &Path) -> (Run, Workspace) {
    let out = one.results();
    let run = one.command(&[
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ]);
    run.expect_code(0);
    let two = Workspace::new();
    let name = grid.file_name().unwrap().to_str().unwrap();
    let copy = two.write(name, std::fs::read(grid).unwrap());
    two.sweep(&copy, &[]).expect_code(0);
    (run, two)
}

impl Workspace {
    /// `sweep ARGS...` (a subcommand such as `status` or `report`).
    pub fn command(&self, args: &[&str]) -> Run {
        Run(Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(args)
            .output()
            .unwrap())
    }

    /// The folder of the trial whose label is `label`, from trials.csv.
    pub fn trial_dir(&self, label: &str) -> PathBuf {
        let trials = self.csv("trials.csv");
        let row = trials
            .iter()
            .find(|t| t["label"] == label)
            .unwrap_or_else(|| panic!("no trial {label} in trials.csv"));
        self.results().join("trials").join(&row["id"])
    }
}

/// Whether `python3` runs (a program sweep needs it); without it the calling test says it is
/// skipped, or fails when `REQUIRE_PYTHON=1`.
pub fn python_available() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("REQUIRE_PYTHON").as_deref() != Ok("1"),
            "python3 is not on PATH and REQUIRE_PYTHON=1"
        );
        eprintln!("SKIPPED: python3 is not on PATH (REQUIRE_PYTHON=1 makes this a failure)");
    }
    ok
}
