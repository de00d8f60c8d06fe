//! Runs trials on this machine: up to `jobs` worker processes at once, each on one thread
//! (`RAYON_NUM_THREADS=1`) so that N workers never oversubscribe N cores, until the tail of the
//! sweep, when the freed cores are shared among the trials still running ([`CoreShares`]).
//!
//! This is a [`Backend`] of the [`supervise`] loop, which decides what to launch and what an
//! attempt's end means; here, each attempt is a task owning one child process, sending typed
//! events over a channel. First Ctrl-C: the workers get SIGTERM (they checkpoint and exit) and
//! the supervisor waits for them; second Ctrl-C: SIGKILL. Workers run in their own process
//! groups, so a terminal's Ctrl-C reaches only the orchestrator, which decides.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use super::cores::{CoreShares, Running};
use super::gpus::{self, GpuPool};
use super::progress::Reporter;
use super::protocol::{OrchestratorMessage, WorkerMessage, GPUS_ENV, PARENT_PID_ENV};
use super::supervise::{
    supervise_feed, AfterStop, Backend, BackendEvent, Feed, RunReport, Stop, StopRequests,
    TrialEvent,
};
use crate::spec::TrialConfig;
use crate::store::{Store, TrialDir};

/// Lines of a failed worker's stderr kept for its failure reason.
const STDERR_TAIL: usize = 12;

/// How often the display is refreshed while nothing happens.
const TICK: Duration = Duration::from_millis(500);

/// Runs trials as local worker processes.
pub struct LocalExecutor {
    /// The `sweep` binary to start workers from.
    pub exe: PathBuf,
    /// Most trials running at once.
    pub jobs: usize,
    /// The GPUs trials are placed on, each on its own place; `None`: trials see every GPU.
    pub gpus: Option<GpuPool>,
}

impl LocalExecutor {
    /// An executor that starts workers from the running binary, `jobs` at a time, each on a
    /// place of `gpus` when given (which then bounds how many run at once too).
    pub fn new(jobs: usize, gpus: Option<GpuPool>) -> anyhow::Result<LocalExecutor> {
        Ok(LocalExecutor {
            exe: std::env::current_exe()?,
            jobs: jobs.max(1),
            gpus,
        })
    }

    /// Runs the trials `feed` hands out (their folders prepared in `store`) until they end or
    /// a signal stops the run, reporting progress.
    pub async fn run(
        &self,
        store: &Store,
        feed: &mut dyn Feed,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<RunReport> {
        let mut requests = StopRequests::from_signals()?;
        let mut backend = LocalBackend::new(self, store);
        supervise_feed(&mut backend, store, feed, &mut requests, reporter).await
    }
}

/// Worker processes on this machine, `jobs` at a time, sharing the cores at the tail.
pub struct LocalBackend {
    exe: PathBuf,
    jobs: usize,
    store: Store,
    dirs: Vec<TrialDir>,
    tx: mpsc::UnboundedSender<BackendEvent>,
    rx: mpsc::UnboundedReceiver<BackendEvent>,
    stop: watch::Sender<Stop>,
    shares: Arc<CoreShares>,
    /// The core share each started trial holds until it is settled.
    running: HashMap<usize, Running>,
    /// The GPU places, and those each running attempt holds (given back when it ends).
    gpus: Option<GpuPool>,
    placed: HashMap<usize, Vec<usize>>,
    /// Trials that ran out of GPU memory on a share: they run alone on a whole GPU.
    alone: std::collections::BTreeSet<usize>,
    /// Attempts of those waiting for their GPU to empty, in order.
    deferred: VecDeque<usize>,
    labels: Vec<String>,
}

impl LocalBackend {
    /// A backend for trials in `store`, run by `executor`'s binary at most `executor.jobs` at
    /// a time.
    pub fn new(executor: &LocalExecutor, store: &Store) -> LocalBackend {
        let (tx, rx) = mpsc::unbounded_channel();
        LocalBackend {
            exe: executor.exe.clone(),
            jobs: executor.jobs,
            store: store.clone(),
            dirs: Vec::new(),
            tx,
            rx,
            stop: watch::channel(Stop::No).0,
            shares: CoreShares::new(executor.jobs),
            running: HashMap::new(),
            gpus: executor.gpus.clone(),
            placed: HashMap::new(),
            alone: Default::default(),
            deferred: VecDeque::new(),
            labels: Vec::new(),
        }
    }
}

impl Backend for LocalBackend {
    fn capacity(&self) -> usize {
        self.gpus
            .as_ref()
            .map_or(self.jobs, |g| self.jobs.min(g.capacity(self.alone.len())))
    }

    fn add(&mut self, index: usize, trial: &TrialConfig, _reporter: &mut dyn Reporter) -> bool {
        debug_assert_eq!(index, self.dirs.len());
        self.dirs.push(self.store.trial(&trial.id));
        self.labels.push(trial.label.clone());
        false
    }

    async fn launch(
        &mut self,
        indices: &[usize],
        _retry: bool,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()> {
        for &index in indices {
            // A retry keeps the share its trial took when it first started.
            self.running
                .entry(index)
                .or_insert_with(|| self.shares.start());
            // Its GPUs: a place of its own for this attempt (at most `capacity` run at once, so
            // one is free), or a whole GPU alone once one empties.
            let gpus = match &mut self.gpus {
                None => None,
                Some(pool) if self.alone.contains(&index) => match pool.take_whole(index) {
                    Some((places, ids)) => {
                        self.placed.insert(index, places);
                        let ids = gpus::join(&ids);
                        let label = &self.labels[index];
                        reporter.notice(&format!("{label} runs alone on GPU {ids}"));
                        Some(ids)
                    }
                    None => {
                        if let Some(gpu) = pool.kept_for(index) {
                            let label = &self.labels[index];
                            reporter.notice(&format!(
                                "{label} will run alone on GPU {gpu} once the trials there end"
                            ));
                        }
                        self.deferred.push_back(index);
                        continue;
                    }
                },
                Some(pool) => {
                    let (place, ids) = pool
                        .take()
                        .ok_or_else(|| anyhow::anyhow!("no free GPU place for a trial"))?;
                    self.placed.insert(index, vec![place]);
                    let ids = gpus::join(&ids);
                    reporter.notice(&format!("{} runs on GPU {ids}", self.labels[index]));
                    Some(ids)
                }
            };
            self.spawn(index, gpus);
        }
        Ok(())
    }

    async fn next(&mut self) -> anyhow::Result<Option<BackendEvent>> {
        let event = tokio::select! {
            event = self.rx.recv() => event,
            () = tokio::time::sleep(TICK) => None,
        };
        if let Some(BackendEvent::Ended { index, .. }) = &event {
            // The attempt is over: its GPUs go to the next (a retry may land elsewhere).
            if let (Some(pool), Some(places)) = (&mut self.gpus, self.placed.remove(index)) {
                for place in places {
                    pool.give_back(place);
                }
            }
            self.start_deferred();
        }
        Ok(event)
    }

    fn settled(&mut self, index: usize) {
        self.running.remove(&index);
        self.alone.remove(&index);
    }

    fn more_room(&mut self, index: usize, reason: &str) -> Option<String> {
        let shared = self.gpus.as_ref().is_some_and(GpuPool::shared);
        (shared && gpus::out_of_memory(reason) && self.alone.insert(index)).then(|| {
            "out of GPU memory on a shared GPU: it runs alone on a whole GPU next".to_string()
        })
    }

    fn waiting(&mut self, count: usize) {
        self.shares.set_waiting(count);
    }

    async fn stop(&mut self, level: Stop, reporter: &mut dyn Reporter) -> AfterStop {
        self.stop.send_replace(level);
        // Attempts still waiting for a GPU of their own never start.
        for index in self.deferred.drain(..) {
            let how = "stopped before a GPU of its own was free".to_string();
            let _ = self.tx.send(BackendEvent::Ended { index, how });
        }
        reporter.notice(match level {
            Stop::Now => "stopping at once; checkpoints already saved stay valid",
            _ => {
                "stopping: running trials save a checkpoint and exit \
                 (press Ctrl-C again to stop at once)"
            }
        });
        AfterStop::WaitForAttempts
    }
}

impl LocalBackend {
    /// Starts an attempt of trial `index`: its worker process, seeing `gpus` when given.
    fn spawn(&mut self, index: usize, gpus: Option<String>) {
        let attempt = Attempt {
            exe: self.exe.clone(),
            dir: self.dirs[index].clone(),
            index,
            tx: self.tx.clone(),
            stop: self.stop.subscribe(),
            shares: self.shares.clone(),
            gpus,
        };
        tokio::spawn(async move {
            let (status, tail) = attempt.run().await;
            let how = match status {
                Ok(s) => format!("worker {}", describe_exit(s)),
                Err(e) => format!("worker could not be run: {e}"),
            };
            let how = if tail.is_empty() {
                how
            } else {
                format!("{how}: {}", tail.join(" | "))
            };
            let _ = attempt.tx.send(BackendEvent::Ended { index, how });
        });
    }

    /// Starts the trials waiting for a GPU of their own whose GPU has emptied.
    fn start_deferred(&mut self) {
        let Some(pool) = &mut self.gpus else {
            return;
        };
        let mut started = Vec::new();
        self.deferred.retain(|&i| match pool.take_whole(i) {
            Some((places, ids)) => {
                started.push((i, places, gpus::join(&ids)));
                false
            }
            None => true,
        });
        for (i, places, ids) in started {
            self.placed.insert(i, places);
            self.spawn(i, Some(ids));
        }
    }
}

/// One attempt: a worker process on one trial folder.
struct Attempt {
    exe: PathBuf,
    dir: TrialDir,
    index: usize,
    tx: mpsc::UnboundedSender<BackendEvent>,
    stop: watch::Receiver<Stop>,
    shares: Arc<CoreShares>,
    /// The GPUs it may see (`0,1`); `None`: whatever the machine has.
    gpus: Option<String>,
}

impl Attempt {
    /// Runs the worker process once; returns its exit status and the tail of its stderr.
    async fn run(&self) -> (std::io::Result<ExitStatus>, Vec<String>) {
        let mut command = Command::new(&self.exe);
        if let Some(ids) = &self.gpus {
            // PCI bus order: CUDA then numbers the GPUs as nvidia-smi and NVML do.
            command
                .env(gpus::CUDA_VISIBLE_DEVICES, ids)
                .env("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
                .env(GPUS_ENV, ids);
        }
        let spawned = command
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
        let (status, program, tail) = tokio::select! {
            ended = &mut io => ended,
            () = self.send_thread_shares(stdin) => io.await,
        };
        if let Some(pgid) = program.filter(|&g| g > 1) {
            // A program dies with its worker, but not what it started (`sleep &`): its group
            // goes too. (A process that called setsid left the group and escapes.)
            // SAFETY: kill(2) has no memory-safety preconditions; a group that is gone is fine.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
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

    /// Passes the worker's messages on as events; returns the process group of its program,
    /// if it started one.
    async fn forward(&self, stdout: impl AsyncRead + Unpin) -> Option<i32> {
        let index = self.index;
        let mut program = None;
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let event = match WorkerMessage::parse(&line) {
                Some(WorkerMessage::Program { pgid }) => {
                    program = Some(pgid);
                    continue;
                }
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
                    objective,
                    elapsed_s,
                    threads,
                }) => TrialEvent::Progress {
                    index,
                    step,
                    train_ppl,
                    objective,
                    elapsed_s,
                    threads,
                },
                Some(WorkerMessage::Warning { message }) => TrialEvent::Warning { index, message },
                None => continue,
            };
            let _ = self.tx.send(BackendEvent::Trial(event));
        }
        program
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
