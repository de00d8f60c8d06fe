//! Runs trials on this machine: up to `jobs` worker processes at once, each single-threaded
//! (`RAYON_NUM_THREADS=1`) so that N workers never oversubscribe N cores.
//!
//! Only the dispatcher loop talks to the reporter; per-trial tasks own their child process and
//! send typed events over a channel.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, Semaphore};

use super::progress::Reporter;
use super::protocol::WorkerMessage;
use crate::spec::TrialConfig;
use crate::store::{Store, TrialDir, TrialResult, TrialStatus};

/// Lines of a failed worker's stderr kept for its failure reason.
const STDERR_TAIL: usize = 12;

/// How a trial run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The worker trained every step.
    Completed(TrialResult),
    /// The trial failed; the reason is also in its `result.json`.
    Failed(String),
}

/// Something that happened to the `index`-th trial of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialEvent {
    /// Its worker started training.
    Started { index: usize, steps: usize },
    /// Its worker reported progress.
    Progress {
        index: usize,
        step: usize,
        train_ppl: f64,
        heldout_ppl: Option<f64>,
        /// Seconds the worker has been training.
        elapsed_s: f64,
    },
    /// It ended.
    Finished { index: usize, outcome: Outcome },
}

/// Runs trials as local worker processes.
pub struct LocalExecutor {
    /// The `sweep` binary to start workers from.
    pub exe: PathBuf,
    /// Most trials running at once.
    pub jobs: usize,
}

impl LocalExecutor {
    /// An executor that starts workers from the running binary.
    pub fn new(jobs: usize) -> anyhow::Result<LocalExecutor> {
        Ok(LocalExecutor {
            exe: std::env::current_exe()?,
            jobs: jobs.max(1),
        })
    }

    /// Runs `trials` (whose folders are already prepared in `store`), reporting progress, and
    /// returns each trial's outcome in the order given.
    pub async fn run(
        &self,
        store: &Store,
        trials: &[TrialConfig],
        reporter: &mut dyn Reporter,
    ) -> Vec<Outcome> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(self.jobs));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, trial) in trials.iter().enumerate() {
            let dir = store.trial(&trial.id);
            let exe = self.exe.clone();
            let tx = tx.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.expect("semaphore never closes");
                let outcome = run_worker(&exe, &dir, index, &tx).await;
                let _ = tx.send(TrialEvent::Finished { index, outcome });
            });
        }
        drop(tx);

        let mut outcomes = vec![None; trials.len()];
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        if let TrialEvent::Finished { index, outcome } = &event {
                            outcomes[*index] = Some(outcome.clone());
                        }
                        reporter.event(&event);
                    }
                    None => break,
                },
                _ = tick.tick() => reporter.tick(),
            }
        }
        while tasks.join_next().await.is_some() {}
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Failed("the trial's task ended unexpectedly".into()))
            })
            .collect()
    }
}

/// Starts one worker, forwards its progress, and decides the outcome from its trial folder.
async fn run_worker(
    exe: &PathBuf,
    dir: &TrialDir,
    index: usize,
    tx: &mpsc::UnboundedSender<TrialEvent>,
) -> Outcome {
    let started = Instant::now();
    let spawned = Command::new(exe)
        .arg("worker")
        .arg(dir.path())
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            return record_failure(
                dir,
                format!("cannot start worker {}: {e}", exe.display()),
                started,
            )
        }
    };
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let forward = forward_progress(stdout, index, tx);
    let tail = collect_tail(stderr);
    let (status, (), tail) = tokio::join!(child.wait(), forward, tail);

    match dir.result() {
        Ok(Some(result)) if result.status == TrialStatus::Completed => Outcome::Completed(result),
        Ok(Some(result)) => Outcome::Failed(result.reason.unwrap_or_else(|| "failed".into())),
        Ok(None) | Err(_) => {
            let how = match status {
                Ok(s) => describe_exit(s),
                Err(e) => format!("could not be waited for: {e}"),
            };
            let reason = if tail.is_empty() {
                format!("worker {how}")
            } else {
                format!("worker {how}: {}", tail.join(" | "))
            };
            record_failure(dir, reason, started)
        }
    }
}

/// Writes a failed `result.json` for a worker that could not write one itself.
fn record_failure(dir: &TrialDir, reason: String, started: Instant) -> Outcome {
    let steps_done = dir
        .metrics()
        .ok()
        .and_then(|m| m.last().map(|r| r.step))
        .unwrap_or(0);
    let result = TrialResult {
        status: TrialStatus::Failed,
        reason: Some(reason.clone()),
        steps_done,
        parameters: None,
        final_train_ppl: None,
        final_heldout_ppl: None,
        best_heldout_ppl: None,
        steps_per_sec: None,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    match dir.write_result(&result) {
        Ok(()) => Outcome::Failed(reason),
        Err(e) => Outcome::Failed(format!(
            "{reason} (and its result could not be recorded: {e:#})"
        )),
    }
}

fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(9)) => "was killed by SIGKILL (out of memory, or killed by hand)".into(),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => format!("ended with {status}"),
    }
}

async fn forward_progress(
    stdout: impl AsyncRead + Unpin,
    index: usize,
    tx: &mpsc::UnboundedSender<TrialEvent>,
) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let event = match WorkerMessage::parse(&line) {
            Some(WorkerMessage::Started { steps, .. }) => TrialEvent::Started { index, steps },
            Some(WorkerMessage::Progress {
                step,
                train_ppl,
                heldout_ppl,
                elapsed_s,
            }) => TrialEvent::Progress {
                index,
                step,
                train_ppl,
                heldout_ppl,
                elapsed_s,
            },
            None => continue,
        };
        let _ = tx.send(event);
    }
}

async fn collect_tail(stderr: impl AsyncRead + Unpin) -> Vec<String> {
    let mut tail = VecDeque::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}
