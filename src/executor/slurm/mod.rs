//! Runs trials on a Slurm cluster as job arrays: each task runs the same worker entry point as
//! a local trial (`sweep worker --task-list FILE`, which picks its trial folder by
//! `$SLURM_ARRAY_TASK_ID`) on a results folder that every node sees. The trial folders stay
//! the single source of truth: a task that leaves no `result.json` behind is not done, whatever
//! Slurm says about it.
//!
//! Submissions are recorded in `slurm/arrays.jsonl` (job id, a unique token also put in the
//! job's comment, since job ids can repeat after a controller restart, and the trial of each
//! task), so that a sweep started again follows the tasks still queued or running instead of
//! submitting them twice. Tasks that end without a result (time limit, preemption,
//! cancellation, a crash) are submitted again, up to `max_retries`, and resume from their
//! checkpoints.

pub mod commands;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::progress::Reporter;
use super::protocol::GPUS_ENV;
use super::supervise::{
    supervise_feed, AfterStop, Backend, BackendEvent, Feed, RunReport, Stop, StopRequests,
    TrialEvent,
};
use crate::measures::numbers;
use crate::spec::{SlurmOptions, TrialConfig};
use crate::store::metrics_tail::CurvesTail;
use crate::store::Store;
use crate::store::TrialDir;
use commands::{JobState, TaskId, TaskState};

/// Environment variable Slurm sets to a task's index in its array.
pub const TASK_ID_ENV: &str = "SLURM_ARRAY_TASK_ID";

/// Most tasks per array: Slurm's default `MaxArraySize` (1001) allows indices up to 1000.
const MAX_ARRAY: usize = 1000;

/// How long a submitted task may be missing from `squeue` before it counts as gone.
const GRACE: Duration = Duration::from_secs(10);

/// What [`SlurmExecutor::run`] did.
#[derive(Debug)]
pub enum SlurmRun {
    /// Submitted (or found queued) and left to Slurm: these arrays.
    Detached { jobs: Vec<String> },
    /// Followed until every trial ended or a signal stopped it.
    Followed(RunReport),
}

/// Runs trials as Slurm job arrays.
pub struct SlurmExecutor {
    /// The `sweep` binary the tasks run (it must be visible on the nodes).
    pub exe: PathBuf,
    /// sbatch settings from the grid file.
    pub options: SlurmOptions,
    /// The sweep's name, for job names.
    pub name: String,
    /// How often the trial folders and `squeue` are read.
    pub poll: Duration,
}

/// One submitted array, as recorded in `slurm/arrays.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Submission {
    /// Unique per submission; the job's comment is `sweep:<token>`.
    token: String,
    /// Slurm's job id of the array.
    job: String,
    /// The trial ids, in task order (`per_task` of them to a task).
    trials: Vec<String>,
    /// Trials run side by side in each task (1 unless trials share a GPU).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    per_task: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// The task running one trial's current attempt.
struct Tracked {
    /// The array task running it.
    task: TaskId,
    /// When that task was submitted (or found).
    since: Instant,
    /// Last step reported.
    step: usize,
    started: bool,
    /// Its end was reported to the supervisor.
    ended: bool,
    /// Its trial's metric rows, read as they grow.
    curves: CurvesTail,
}

impl SlurmExecutor {
    /// An executor that submits the running binary.
    pub fn new(options: SlurmOptions, name: &str) -> anyhow::Result<SlurmExecutor> {
        Ok(SlurmExecutor {
            exe: std::env::current_exe()?,
            options,
            name: name.to_string(),
            poll: Duration::from_secs(1),
        })
    }

    /// Submits the trials `feed` hands out that no live task of an earlier submission holds,
    /// then follows all of them to the end (or returns at once with `detach`, having submitted
    /// those ready now), reporting progress as a local run does.
    pub fn run(
        &self,
        store: &Store,
        feed: &mut dyn Feed,
        reporter: &mut dyn Reporter,
        detach: bool,
    ) -> anyhow::Result<SlurmRun> {
        let root = std::fs::canonicalize(store.root())
            .with_context(|| format!("results folder {}", store.root().display()))?;
        let ledger = Ledger::open(&root)?;
        let live = ledger.live_tasks()?;
        let mut backend = SlurmBackend {
            executor: self,
            store: store.clone(),
            root,
            ledger,
            live,
            trials: Vec::new(),
            tracked: Vec::new(),
            pending: VecDeque::new(),
            last_poll: None,
        };
        if detach {
            // What is ready now: the whole list, or an asynchronous search's first trials.
            let mut rest = Vec::new();
            for trial in feed.ready(usize::MAX)? {
                let index = backend.trials.len();
                if !backend.add(index, &trial, reporter) {
                    rest.push(index);
                }
            }
            backend.submit_all(&rest, "", reporter)?;
            return Ok(SlurmRun::Detached {
                jobs: backend.live_jobs(),
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(async {
                let mut requests = StopRequests::from_signals()?;
                supervise_feed(&mut backend, store, feed, &mut requests, reporter).await
            })
            .map(SlurmRun::Followed)
    }

    /// The batch script of one submission.
    fn script(&self, token: &str, dir: &Path, task_list: &Path) -> String {
        let o = &self.options;
        let mut lines = vec![
            "#!/bin/sh".to_string(),
            format!("#SBATCH --job-name=sweep-{}", shell_word(&self.name)),
            format!("#SBATCH --comment={}", comment(token)),
            format!("#SBATCH --output={}/task-%a.out", dir.display()),
            format!(
                "#SBATCH --cpus-per-task={}",
                o.cpus_per_task * o.trials_per_task
            ),
        ];
        if let Some(p) = &o.partition {
            lines.push(format!("#SBATCH --partition={p}"));
        }
        if let Some(m) = &o.memory {
            lines.push(format!("#SBATCH --mem={m}"));
        }
        if let Some(t) = &o.time_limit {
            lines.push(format!("#SBATCH --time={t}"));
        }
        if let Some(n) = o.gpus_per_task {
            lines.push(format!("#SBATCH --gres=gpu:{n}"));
        }
        if o.gpus_per_task.is_some() {
            // The GPUs Slurm gave the task, recorded with each attempt as a local run does.
            lines.push(format!("export {GPUS_ENV}=\"$CUDA_VISIBLE_DEVICES\""));
        }
        lines.push(format!(
            "exec {} worker --task-list {}",
            quote(&self.exe.display().to_string()),
            quote(&task_list.display().to_string())
        ));
        lines.join("\n") + "\n"
    }
}

/// Slurm job arrays as a [`Backend`]: launching submits arrays, and every `poll` the trial
/// folders and `squeue` say how the tasks are doing and which have ended.
struct SlurmBackend<'a> {
    executor: &'a SlurmExecutor,
    store: Store,
    root: PathBuf,
    ledger: Ledger,
    /// The live tasks of earlier submissions, by trial id.
    live: HashMap<String, TaskId>,
    trials: Vec<TrialConfig>,
    /// The task of each trial's current attempt, once submitted or found.
    tracked: Vec<Option<Tracked>>,
    /// Events of the last poll not yet handed to the supervisor.
    pending: VecDeque<BackendEvent>,
    last_poll: Option<Instant>,
}

impl Backend for SlurmBackend<'_> {
    fn capacity(&self) -> usize {
        // Slurm queues them (`max_parallel` limits how many run at once).
        usize::MAX
    }

    fn add(&mut self, index: usize, trial: &TrialConfig, reporter: &mut dyn Reporter) -> bool {
        debug_assert_eq!(index, self.trials.len());
        let dir = self.store.trial(&trial.id);
        let followed = self
            .live
            .remove(&trial.id)
            .map(|task| Tracked::new(task, &dir, trial));
        if followed.is_some() {
            reporter.notice(&format!(
                "trial {} ({}) is still queued or running on Slurm from an earlier submission: \
                 following it",
                trial.id, trial.label
            ));
        }
        let live = followed.is_some();
        self.trials.push(trial.clone());
        self.tracked.push(followed);
        live
    }

    async fn launch(
        &mut self,
        indices: &[usize],
        retry: bool,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()> {
        self.submit_all(indices, if retry { " again" } else { "" }, reporter)
    }

    async fn next(&mut self) -> anyhow::Result<Option<BackendEvent>> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(Some(event));
        }
        if let Some(last) = self.last_poll {
            let wait = self.executor.poll.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                return Ok(None);
            }
        }
        self.poll()?;
        Ok(self.pending.pop_front())
    }

    async fn stop(&mut self, _level: Stop, reporter: &mut dyn Reporter) -> AfterStop {
        interrupted(&self.live_jobs(), reporter);
        AfterStop::Return
    }
}

impl SlurmBackend<'_> {
    /// Reads `squeue` and the folders of the trials whose attempt has not ended: progress, and
    /// the end of attempts whose folder holds a result or whose task is gone.
    fn poll(&mut self) -> anyhow::Result<()> {
        self.last_poll = Some(Instant::now());
        let states: HashMap<TaskId, TaskState> = commands::squeue(&self.live_jobs())?
            .into_iter()
            .filter(|t| self.ledger.owns(t))
            .map(|t| (t.task.clone(), t))
            .collect();
        for (index, t) in self.tracked.iter_mut().enumerate() {
            let Some(t) = t.as_mut().filter(|t| !t.ended) else {
                continue;
            };
            let dir = self.store.trial(&self.trials[index].id);
            let state = states.get(&t.task);
            // Anything but "no result yet" ends the attempt: a result, or one that cannot be
            // read (the supervisor says which).
            let how = if !matches!(dir.result(), Ok(None)) {
                Some(format!("Slurm task {} wrote its result", t.task))
            } else {
                progress(index, &self.trials[index], state, t, &mut self.pending);
                let gone = match state {
                    Some(s) => !s.live(),
                    None => t.since.elapsed() > GRACE,
                };
                gone.then(|| {
                    let how = state.map_or("no longer listed by squeue".to_string(), |s| {
                        format!("ended {}", s.state)
                    });
                    format!("Slurm task {} {how} without a result", t.task)
                })
            };
            if let Some(how) = how {
                t.ended = true;
                self.pending.push_back(BackendEvent::Ended { index, how });
            }
        }
        Ok(())
    }

    /// The arrays holding attempts that have not ended, each once.
    fn live_jobs(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .tracked
            .iter()
            .flatten()
            .filter(|t| !t.ended)
            .map(|t| &t.task.job)
            .collect();
        set.into_iter().cloned().collect()
    }

    /// Submits the trials `which` (indices into `trials`) in arrays of at most
    /// [`MAX_ARRAY`] tasks and tracks each one's task.
    fn submit_all(
        &mut self,
        which: &[usize],
        again: &str,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()> {
        let per_task = self.executor.options.trials_per_task.max(1) as usize;
        for chunk in which.chunks(MAX_ARRAY * per_task) {
            let ids: Vec<String> = chunk.iter().map(|&i| self.trials[i].id.clone()).collect();
            let job = self.submit(&ids, per_task)?;
            reporter.notice(&format!(
                "submitted {}{again} as Slurm job array {job}{}",
                numbers::count(ids.len(), "trial"),
                if per_task > 1 {
                    format!(" ({per_task} trials to a task, sharing its GPU)")
                } else {
                    String::new()
                }
            ));
            for (k, &i) in chunk.iter().enumerate() {
                let dir = self.store.trial(&self.trials[i].id);
                let task = TaskId {
                    job: job.clone(),
                    index: k / per_task,
                };
                self.tracked[i] = Some(Tracked::new(task, &dir, &self.trials[i]));
            }
        }
        Ok(())
    }

    /// Writes the task list and job script for `trials` and submits them as one array,
    /// `per_task` trials to a task (a line of the task list, tab-separated).
    fn submit(&mut self, trials: &[String], per_task: usize) -> anyhow::Result<String> {
        let root = &self.root;
        let token = format!("{:016x}", rand::random::<u64>());
        let dir = root.join("slurm").join(&token);
        create_dir(&dir, root)?;
        // Absolute paths: tasks start in whatever folder Slurm gives them.
        let absolute = Store::at(root);
        let tasks: String = trials
            .chunks(per_task)
            .map(|ids| {
                let dirs: Vec<String> = ids
                    .iter()
                    .map(|id| absolute.trial(id).path().display().to_string())
                    .collect();
                format!("{}\n", dirs.join("\t"))
            })
            .collect();
        let task_count = trials.len().div_ceil(per_task);
        let task_list = dir.join("tasks.txt");
        std::fs::write(&task_list, tasks)
            .with_context(|| format!("cannot write {}", task_list.display()))?;
        let script = dir.join("job.sh");
        std::fs::write(&script, self.executor.script(&token, &dir, &task_list))
            .with_context(|| format!("cannot write {}", script.display()))?;
        let options = &self.executor.options;
        let job = commands::sbatch(
            &script,
            &format!("0-{}", task_count - 1),
            options.max_parallel,
            &options.sbatch_args,
        )?;
        self.ledger.record(&Submission {
            token,
            job: job.clone(),
            trials: trials.to_vec(),
            per_task,
        })?;
        Ok(job)
    }
}

impl Tracked {
    fn new(task: TaskId, dir: &TrialDir, trial: &TrialConfig) -> Tracked {
        Tracked {
            task,
            since: Instant::now(),
            step: 0,
            started: false,
            ended: false,
            curves: CurvesTail::for_trial(dir, trial),
        }
    }
}

/// The job comment that marks a submission of this tool.
fn comment(token: &str) -> String {
    format!("sweep:{token}")
}

/// Started and progress events from a trial's metrics (read on from where they were read last),
/// into `events`.
fn progress(
    index: usize,
    trial: &TrialConfig,
    state: Option<&TaskState>,
    t: &mut Tracked,
    events: &mut VecDeque<BackendEvent>,
) {
    if state.is_some_and(|s| s.state == JobState::Pending) && t.started {
        return; // a resubmitted trial waiting for a node: nothing new in its folder
    }
    let running = state.is_some_and(|s| s.state == JobState::Running);
    t.curves.refresh();
    let curves = t.curves.curves();
    let last_step = (!curves.is_empty()).then(|| curves.last_step());
    started(index, trial, running, last_step, t, events);
    if let Some(step) = last_step.filter(|&s| s > t.step) {
        t.step = step;
        events.push_back(BackendEvent::Trial(TrialEvent::Progress {
            index,
            step,
            train_ppl: curves.model().last().map(|r| r.train_ppl),
            objective: curves.last(&trial.objective().name).map(|l| l.1),
            elapsed_s: curves.last_elapsed().unwrap_or(0.0),
            threads: 1,
        }));
    }
}

/// The started event, once: when the task runs or its folder has rows (at `last_step`).
fn started(
    index: usize,
    trial: &TrialConfig,
    running: bool,
    last_step: Option<usize>,
    t: &mut Tracked,
    events: &mut VecDeque<BackendEvent>,
) {
    if !t.started && (running || last_step.is_some()) {
        t.started = true;
        t.step = last_step.unwrap_or(0);
        events.push_back(BackendEvent::Trial(TrialEvent::Started {
            index,
            steps: trial.budget(),
            resumed_from: t.step,
        }));
    }
}

/// Ctrl-C: on a terminal, asks whether to cancel the arrays; otherwise leaves them running.
fn interrupted(jobs: &[String], reporter: &mut dyn Reporter) {
    if jobs.is_empty() {
        return;
    }
    let list = jobs.join(" ");
    let cancel = std::io::stdin().is_terminal() && {
        eprint!(
            "\ncancel the Slurm job arrays {list} (their trials keep their checkpoints)? [y/N] "
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes")
    };
    if cancel {
        match commands::scancel(jobs) {
            Ok(()) => reporter.notice(&format!("cancelled {list}")),
            Err(e) => reporter.notice(&format!("could not cancel {list}: {e:#}")),
        }
    } else {
        reporter.notice(&format!(
            "left running on Slurm: {list} (cancel with `scancel {list}`; `sweep status` \
             shows progress; running the sweep again follows them)"
        ));
    }
}

/// For `sweep status`: the Slurm arrays recorded in the results folder `root` and how many of
/// their tasks are pending or running now; `None` when the folder never used Slurm. Reads only.
pub fn queue_summary(root: &Path) -> Option<String> {
    let ledger = Ledger::read(root)
        .ok()
        .filter(|l| !l.submissions.is_empty())?;
    let jobs = ledger.jobs();
    let list = jobs.join(", ");
    let tasks = match commands::squeue(&jobs) {
        Ok(tasks) => tasks,
        Err(e) => return Some(format!("Slurm arrays {list}; squeue failed: {e:#}")),
    };
    let mut states = std::collections::BTreeMap::new();
    for t in tasks.iter().filter(|t| t.live() && ledger.owns(t)) {
        *states.entry(t.state.name().to_lowercase()).or_insert(0) += 1;
    }
    let now = if states.is_empty() {
        "no task queued or running".to_string()
    } else {
        let parts: Vec<String> = states.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!("tasks now: {}", parts.join(", "))
    };
    Some(format!("Slurm arrays {list}; {now}"))
}

/// Creates `dir` inside the results folder `root`, or says that the folder is not writable.
fn create_dir(dir: &Path, root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot write to the results folder {}: the Slurm executor keeps its job scripts \
             and task lists there",
            root.display()
        )
    })
}

/// `s` made safe for a job name: letters, digits, `-`, `_`, `.`.
fn shell_word(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `s` quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `slurm/arrays.jsonl` in the results folder: one line per submission.
struct Ledger {
    path: PathBuf,
    submissions: Vec<Submission>,
}

impl Ledger {
    /// The ledger of the results folder `root`, creating its `slurm/` folder.
    fn open(root: &Path) -> anyhow::Result<Ledger> {
        create_dir(&root.join("slurm"), root)?;
        Ledger::read(root)
    }

    /// The ledger of the results folder `root` as it is (empty when there is none).
    fn read(root: &Path) -> anyhow::Result<Ledger> {
        let path = root.join("slurm").join("arrays.jsonl");
        let submissions = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Ledger { path, submissions })
    }

    fn record(&mut self, s: &Submission) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        writeln!(file, "{}", serde_json::to_string(s)?)?;
        file.sync_all()?;
        self.submissions.push(s.clone());
        Ok(())
    }

    /// The job ids of every recorded submission, each once.
    fn jobs(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.submissions.iter().map(|s| &s.job).collect();
        set.into_iter().cloned().collect()
    }

    /// The latest submission with `job`'s id (ids can repeat after a controller restart).
    fn submission(&self, job: &str) -> Option<&Submission> {
        self.submissions.iter().rev().find(|s| s.job == job)
    }

    /// Whether `task` belongs to a submission of this folder: its job's comment carries that
    /// submission's token.
    fn owns(&self, task: &TaskState) -> bool {
        self.submission(&task.task.job)
            .is_some_and(|s| task.comment == comment(&s.token))
    }

    /// The trials that a live task of a recorded submission holds, with that task (the latest
    /// submission wins).
    fn live_tasks(&self) -> anyhow::Result<HashMap<String, TaskId>> {
        let mut live = HashMap::new();
        for task in commands::squeue(&self.jobs())? {
            if !task.live() || !self.owns(&task) {
                continue;
            }
            let sub = self
                .submission(&task.task.job)
                .expect("owned tasks have one");
            let per = sub.per_task.max(1);
            let from = task.task.index * per;
            for trial in sub.trials.iter().skip(from).take(per) {
                live.insert(trial.clone(), task.task.clone());
            }
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_script_carries_the_grid_files_settings() {
        let executor = SlurmExecutor {
            exe: PathBuf::from("/opt/it's/sweep"),
            options: SlurmOptions {
                partition: Some("gpu".into()),
                cpus_per_task: 4,
                memory: Some("8G".into()),
                time_limit: Some("02:00:00".into()),
                max_parallel: Some(3),
                sbatch_args: vec!["--qos=short".into()],
                gpus_per_task: Some(2),
                trials_per_task: 1,
            },
            name: "my grid".into(),
            poll: Duration::from_secs(1),
        };
        let script = executor.script(
            "ab12",
            Path::new("/r/slurm/ab12"),
            Path::new("/r/slurm/ab12/tasks.txt"),
        );
        for line in [
            "#SBATCH --job-name=sweep-my_grid",
            "#SBATCH --comment=sweep:ab12",
            "#SBATCH --output=/r/slurm/ab12/task-%a.out",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --partition=gpu",
            "#SBATCH --mem=8G",
            "#SBATCH --time=02:00:00",
            "#SBATCH --gres=gpu:2",
            "export SWEEP_GPUS=\"$CUDA_VISIBLE_DEVICES\"",
            "exec '/opt/it'\\''s/sweep' worker --task-list '/r/slurm/ab12/tasks.txt'",
        ] {
            assert!(script.lines().any(|l| l == line), "{line} not in\n{script}");
        }
        assert!(script.starts_with("#!/bin/sh\n"));
    }
}
