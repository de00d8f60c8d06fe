//! `sweep worker <trial-dir>`: train one trial folder; or `sweep worker --task-list FILE`, the
//! folder on line `$SLURM_ARRAY_TASK_ID` of FILE (a task of a Slurm job array).
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
        (None, Some(list)) => from_task_list(list)?,
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

/// The trial folder on line `$SLURM_ARRAY_TASK_ID` (from 0) of `list`.
fn from_task_list(list: &Path) -> anyhow::Result<PathBuf> {
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
    Ok(PathBuf::from(line))
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
