//! `sweep worker <trial-dir>`: train one trial folder; or `sweep worker --task-list FILE`, the
//! folder on line `$SLURM_ARRAY_TASK_ID` of FILE (a task of a Slurm job array). A line with
//! several folders (tab-separated: trials sharing the task's GPU) runs one worker for each,
//! side by side, each on its share of the task's CPUs.
//!
//! SIGTERM or SIGINT makes the worker checkpoint and exit. Started by a local sweep (which
//! sets `SWEEP_PARENT_PID`), it also gets SIGTERM when that sweep dies, even by `kill -9`, so
//! no orphan keeps training a trial that a new sweep will pick up.

use std::path::{Path, PathBuf};

use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::exit;
use crate::executor::protocol::{OrchestratorMessage, PARENT_PID_ENV};
use crate::executor::slurm::TASK_ID_ENV;
use crate::executor::worker::{self, WorkerEnd};

/// Runs the worker on `trial_dir`, or on the folder `task_list` names for this Slurm array
/// task: exit 0 completed, 1 failed (recorded), 3 interrupted (checkpointed).
pub fn run(trial_dir: Option<&Path>, task_list: Option<&Path>) -> anyhow::Result<u8> {
    let trial_dir = match (trial_dir, task_list) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(list)) => match from_task_list(list)?.as_slice() {
            [one] => one.clone(),
            several => return side_by_side(several),
        },
        (None, None) => anyhow::bail!("a trial folder or --task-list is required"),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    if let Some(parent) = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        stop_when_parent_dies(parent, &stop);
    }
    // A Slurm task trains on the CPUs it was given.
    if let Some(cpus) = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        crate::model::kernels::set_thread_budget(cpus);
    }
    follow_thread_budget();
    Ok(match worker::run(&trial_dir, &stop)? {
        WorkerEnd::Completed => exit::OK,
        WorkerEnd::Failed => exit::TRIALS_FAILED,
        WorkerEnd::Interrupted => exit::WORKER_INTERRUPTED,
    })
}

/// Runs a worker for each of `dirs` at once (trials sharing a Slurm task and its GPU), each on
/// an equal share of the task's CPUs, passing SIGTERM and SIGINT on; exits as the worst of
/// them (interrupted before failed before completed).
fn side_by_side(dirs: &[PathBuf]) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let cpus = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .map(|c| (c / dirs.len()).max(1));
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for dir in dirs {
        let mut command = std::process::Command::new(&exe);
        command.arg("worker").arg(dir);
        if let Some(cpus) = cpus {
            command.env("SLURM_CPUS_PER_TASK", cpus.to_string());
        }
        children.push(
            command
                .spawn()
                .with_context(|| format!("cannot start a worker for {}", dir.display()))?,
        );
    }
    let mut codes = vec![None; children.len()];
    let mut forwarded = false;
    while codes.iter().any(Option::is_none) {
        if stop.load(Ordering::SeqCst) && !forwarded {
            for c in &children {
                // SAFETY: kill(2) on our own children's pids has no memory-safety preconditions.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            }
            forwarded = true;
        }
        for (child, code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                if let Some(status) = child.try_wait()? {
                    *code = Some(status.code().map_or(exit::WORKER_INTERRUPTED, |c| c as u8));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let codes: Vec<u8> = codes.into_iter().flatten().collect();
    Ok([exit::WORKER_INTERRUPTED, exit::TRIALS_FAILED]
        .into_iter()
        .find(|c| codes.contains(c))
        .or_else(|| codes.iter().copied().find(|&c| c != exit::OK))
        .unwrap_or(exit::OK))
}

/// The trial folders on line `$SLURM_ARRAY_TASK_ID` (from 0) of `list`.
fn from_task_list(list: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let index: usize = std::env::var(TASK_ID_ENV)
        .ok()
        .and_then(|i| i.parse().ok())
        .with_context(|| {
            format!("--task-list needs ${TASK_ID_ENV} (set by Slurm for array tasks)")
        })?;
    let text = std::fs::read_to_string(list)
        .with_context(|| format!("cannot read the task list {}", list.display()))?;
    let line = text.lines().nth(index).with_context(|| {
        format!(
            "the task list {} has {} lines, no line for task {index}",
            list.display(),
            text.lines().count()
        )
    })?;
    Ok(line.split('\t').map(PathBuf::from).collect())
}

/// Applies the thread budgets the orchestrator writes to stdin, on a background thread (no
/// input, e.g. a worker started by hand or by Slurm: it keeps one thread).
fn follow_thread_budget() {
    std::thread::spawn(|| {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if let Some(OrchestratorMessage::Threads { threads }) =
                OrchestratorMessage::parse(&line)
            {
                crate::model::kernels::set_thread_budget(threads);
            }
        }
    });
}

/// Asks the kernel for SIGTERM when the parent dies; if it already died, stops right away.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that spawned this process exits, not when the
/// parent process does. It works here because the orchestrator spawns workers from its
/// single-threaded tokio runtime (`new_current_thread`), on the thread that lives as long as
/// the orchestrator; a multi-threaded runtime would send SIGTERM whenever the spawning worker
/// thread is retired. Keep the orchestrator's runtime single-threaded, or spawn from a thread
/// that lives as long as the process.
fn stop_when_parent_dies(parent: i32, stop: &AtomicBool) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid have no memory-safety preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        if libc::getppid() != parent {
            stop.store(true, Ordering::SeqCst);
        }
    }
}
