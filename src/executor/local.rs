//! Runs trials on this machine: up to `jobs` worker processes at once, each on one thread
//! (`RAYON_NUM_THREADS=1`) so that N workers never oversubscribe N cores, until the tail of the
//! sweep, when the freed cores are shared among the trials still running ([`CoreShares`]).
//!
//! Only the dispatcher loop talks to the outside world (worker events, SIGINT/SIGTERM, the
//! progress tick); per-trial tasks own their child process and send typed events over a
//! channel. First Ctrl-C: start nothing new, SIGTERM the workers (they checkpoint and exit),
//! wait for them. Second Ctrl-C: SIGKILL them. Workers run in their own process groups, so a
//! terminal's Ctrl-C reaches only the orchestrator, which decides.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Semaphore};

use super::cores::CoreShares;
use super::progress::Reporter;
use super::protocol::{OrchestratorMessage, WorkerMessage};
use crate::commands::worker::PARENT_PID_ENV;
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
    /// The sweep was stopped before the trial finished; its checkpoint (if any) stays.
    Interrupted,
}

/// Something that happened to the `index`-th trial of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialEvent {
    /// Its worker started training, from step `resumed_from`.
    Started {
        index: usize,
        steps: usize,
        resumed_from: usize,
    },
    /// Its worker reported progress.
    Progress {
        index: usize,
        step: usize,
        train_ppl: f64,
        heldout_ppl: Option<f64>,
        /// Seconds the worker has been training.
        elapsed_s: f64,
        /// Threads the worker trains on now.
        threads: usize,
    },
    /// Its worker warned about something (e.g. a damaged checkpoint it skipped).
    Warning { index: usize, message: String },
    /// Its worker died; it is started again from the last checkpoint.
    Retrying {
        index: usize,
        reason: String,
        attempt: u32,
        max_retries: u32,
    },
    /// It ended.
    Finished { index: usize, outcome: Outcome },
}

/// How far the run has been asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Keep going.
    No,
    /// Start nothing new; running workers checkpoint and exit.
    Graceful,
    /// Kill the workers now.
    Now,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunReport {
    /// Each trial's outcome, in the order given.
    pub outcomes: Vec<Outcome>,
    /// True when a signal stopped the run.
    pub interrupted: bool,
}

impl RunReport {
    /// The report of a run where the trials without an outcome were interrupted.
    pub fn new(outcomes: Vec<Option<Outcome>>, interrupted: bool) -> RunReport {
        RunReport {
            outcomes: outcomes
                .into_iter()
                .map(|o| o.unwrap_or(Outcome::Interrupted))
                .collect(),
            interrupted,
        }
    }
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

    /// Runs `trials` (whose folders are already prepared in `store`) until they end or a signal
    /// stops the run, reporting progress.
    pub async fn run(
        &self,
        store: &Store,
        trials: &[TrialConfig],
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<RunReport> {
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let (stop_tx, stop_rx) = watch::channel(Stop::No);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(self.jobs));
        let shares = CoreShares::new(self.jobs, trials.len());
        let mut tasks = tokio::task::JoinSet::new();
        for (index, trial) in trials.iter().enumerate() {
            let worker = Worker {
                exe: self.exe.clone(),
                dir: store.trial(&trial.id),
                index,
                max_retries: trial.run.max_retries,
                tx: tx.clone(),
                stop: stop_rx.clone(),
                shares: shares.clone(),
            };
            let slots = slots.clone();
            tasks.spawn(async move {
                let outcome = worker.run_when_free(slots).await;
                let _ = worker.tx.send(TrialEvent::Finished { index, outcome });
            });
        }
        drop(tx);

        let mut outcomes = vec![None; trials.len()];
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            let signalled = tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        if let TrialEvent::Finished { index, outcome } = &event {
                            outcomes[*index] = Some(outcome.clone());
                        }
                        reporter.event(&event);
                        false
                    }
                    None => break,
                },
                _ = sigint.recv() => true,
                _ = sigterm.recv() => true,
                _ = tick.tick() => {
                    reporter.tick();
                    false
                }
            };
            if signalled {
                if *stop_tx.borrow() == Stop::No {
                    stop_tx.send_replace(Stop::Graceful);
                    reporter.notice(
                        "stopping: running trials save a checkpoint and exit \
                         (press Ctrl-C again to stop at once)",
                    );
                } else {
                    stop_tx.send_replace(Stop::Now);
                    reporter.notice("stopping at once; checkpoints already saved stay valid");
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        let interrupted = *stop_tx.borrow() != Stop::No;
        Ok(RunReport::new(outcomes, interrupted))
    }
}

/// One trial's task: waits for a free slot, runs the worker, retries it after a crash.
struct Worker {
    exe: PathBuf,
    dir: TrialDir,
    index: usize,
    max_retries: u32,
    tx: mpsc::UnboundedSender<TrialEvent>,
    stop: watch::Receiver<Stop>,
    shares: Arc<CoreShares>,
}

impl Worker {
    async fn run_when_free(&self, slots: Arc<Semaphore>) -> Outcome {
        let mut stop = self.stop.clone();
        let _slot = tokio::select! {
            slot = slots.acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s != Stop::No) => {
                self.shares.skip();
                return Outcome::Interrupted;
            }
        };
        if *stop.borrow() != Stop::No {
            self.shares.skip();
            return Outcome::Interrupted;
        }
        let _running = self.shares.start();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let (status, tail) = self.run_once().await;
            match self.dir.result() {
                Ok(Some(r)) if r.status == TrialStatus::Completed => return Outcome::Completed(r),
                Ok(Some(r)) => return Outcome::Failed(r.reason.unwrap_or_else(|| "failed".into())),
                _ => {}
            }
            if *self.stop.borrow() != Stop::No {
                return Outcome::Interrupted;
            }
            let how = match status {
                Ok(s) => describe_exit(s),
                Err(e) => format!("could not be run: {e}"),
            };
            let reason = if tail.is_empty() {
                format!("worker {how}")
            } else {
                format!("worker {how}: {}", tail.join(" | "))
            };
            if attempt < self.max_retries {
                attempt += 1;
                let _ = self.tx.send(TrialEvent::Retrying {
                    index: self.index,
                    reason,
                    attempt,
                    max_retries: self.max_retries,
                });
                continue;
            }
            let reason = if attempt > 0 {
                format!(
                    "{reason} (after {attempt} {})",
                    if attempt == 1 { "retry" } else { "retries" }
                )
            } else {
                reason
            };
            return record_failure(&self.dir, reason, started);
        }
    }

    /// Runs the worker process once; returns its exit status and the tail of its stderr.
    async fn run_once(&self) -> (std::io::Result<ExitStatus>, Vec<String>) {
        let spawned = Command::new(&self.exe)
            .arg("worker")
            .arg(self.dir.path())
            .env("RAYON_NUM_THREADS", "1")
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => return (Err(e), Vec::new()),
        };
        let pid = child.id().map(|p| p as i32);
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let stdin = child.stdin.take().expect("piped");
        let mut stop = self.stop.clone();
        let wait = async {
            let mut sent = Stop::No;
            loop {
                tokio::select! {
                    status = child.wait() => return status,
                    changed = stop.changed(), if sent != Stop::Now => {
                        let level = if changed.is_ok() { *stop.borrow() } else { Stop::No };
                        if changed.is_err() {
                            sent = Stop::Now; // no more stop requests can come
                        } else if level > sent {
                            let sig = if level == Stop::Now { libc::SIGKILL } else { libc::SIGTERM };
                            if let Some(pid) = pid {
                                // SAFETY: kill(2) on our own child's pid has no memory-safety
                                // preconditions; the child is not reaped until wait() returns.
                                unsafe { libc::kill(pid, sig) };
                            }
                            sent = level;
                        }
                    }
                }
            }
        };
        let io = async { tokio::join!(wait, self.forward(stdout), collect_tail(stderr)) };
        tokio::pin!(io);
        let (status, (), tail) = tokio::select! {
            ended = &mut io => ended,
            () = self.send_thread_shares(stdin) => io.await,
        };
        (status, tail)
    }

    /// Tells the worker its share of the cores whenever it changes; returns when the worker
    /// no longer listens.
    async fn send_thread_shares(&self, mut stdin: tokio::process::ChildStdin) {
        let mut share = self.shares.subscribe();
        loop {
            let threads = *share.borrow_and_update();
            let line = OrchestratorMessage::Threads { threads }.to_line() + "\n";
            if stdin.write_all(line.as_bytes()).await.is_err() || share.changed().await.is_err() {
                return;
            }
        }
    }

    async fn forward(&self, stdout: impl AsyncRead + Unpin) {
        let index = self.index;
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let event = match WorkerMessage::parse(&line) {
                Some(WorkerMessage::Started {
                    steps,
                    resumed_from,
                    ..
                }) => TrialEvent::Started {
                    index,
                    steps,
                    resumed_from,
                },
                Some(WorkerMessage::Progress {
                    step,
                    train_ppl,
                    heldout_ppl,
                    elapsed_s,
                    threads,
                }) => TrialEvent::Progress {
                    index,
                    step,
                    train_ppl,
                    heldout_ppl,
                    elapsed_s,
                    threads,
                },
                Some(WorkerMessage::Warning { message }) => TrialEvent::Warning { index, message },
                None => continue,
            };
            let _ = self.tx.send(event);
        }
    }
}

/// Writes a failed `result.json` for a worker that could not write one itself.
pub(crate) fn record_failure(dir: &TrialDir, reason: String, started: Instant) -> Outcome {
    let steps_done = dir.metrics_readable().0.last().map_or(0, |r| r.step);
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
        peak_memory_mb: None,
        vocab_size: None,
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

async fn collect_tail(stderr: impl AsyncRead + Unpin) -> Vec<String> {
    let mut tail = VecDeque::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim().to_string();
        if line.is_empty() || line.starts_with("warning: ") {
            continue;
        }
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}
