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

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::local::{record_failure, Outcome, RunReport, TrialEvent};
use super::progress::Reporter;
use crate::report::numbers;
use crate::spec::{SlurmOptions, TrialConfig};
use crate::store::{Store, TrialStatus};
use commands::TaskState;

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
    /// The trial id of each task index.
    trials: Vec<String>,
}

/// Where one trial of the run stands.
struct Tracked {
    /// The array and task running it.
    task: (String, usize),
    /// When that task was submitted (or found).
    since: Instant,
    /// Retries used.
    attempts: u32,
    /// Last step reported.
    step: usize,
    started: bool,
    done: bool,
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

    /// Submits the trials that no live task of an earlier submission holds, then follows all
    /// of them to the end (or returns at once with `detach`), reporting progress as a local
    /// run does.
    pub fn run(
        &self,
        store: &Store,
        trials: &[TrialConfig],
        reporter: &mut dyn Reporter,
        detach: bool,
    ) -> anyhow::Result<SlurmRun> {
        let root = std::fs::canonicalize(store.root())
            .with_context(|| format!("results folder {}", store.root().display()))?;
        let ledger = Ledger::open(&root)?;
        let live = ledger.live_tasks()?;
        let mut tracked: Vec<Option<Tracked>> = Vec::with_capacity(trials.len());
        let mut to_submit = Vec::new();
        for (i, trial) in trials.iter().enumerate() {
            match live.get(&trial.id) {
                Some(task) => tracked.push(Some(Tracked::new(task.clone(), 0))),
                None => {
                    tracked.push(None);
                    to_submit.push(i);
                }
            }
        }
        let following = trials.len() - to_submit.len();
        if following > 0 {
            let (what, verb) = match following {
                1 => ("1 trial is".to_string(), "it"),
                n => (format!("{n} trials are"), "them"),
            };
            reporter.notice(&format!(
                "{what} still queued or running on Slurm from an earlier submission: following \
                 {verb}"
            ));
        }
        for (i, task) in self.submit_all(&ledger, &root, trials, &to_submit, "", reporter)? {
            tracked[i] = Some(Tracked::new(task, 0));
        }
        let mut tracked: Vec<Tracked> = tracked.into_iter().map(|t| t.expect("set")).collect();
        if detach {
            return Ok(SlurmRun::Detached {
                jobs: live_jobs(&tracked),
            });
        }
        self.follow(store, &ledger, &root, trials, &mut tracked, reporter)
            .map(SlurmRun::Followed)
    }

    /// Polls the trial folders and `squeue` until every trial has a result or a signal comes.
    fn follow(
        &self,
        store: &Store,
        ledger: &Ledger,
        root: &Path,
        trials: &[TrialConfig],
        tracked: &mut [Tracked],
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<RunReport> {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, stop.clone())?;
        }
        let started = Instant::now();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; trials.len()];
        loop {
            if stop.load(Ordering::SeqCst) {
                self.interrupted(&live_jobs(tracked), reporter);
                break;
            }
            let states: HashMap<(String, usize), TaskState> =
                commands::squeue(&live_jobs(tracked))?
                    .into_iter()
                    .filter(|t| {
                        ledger
                            .token_of(&t.job)
                            .is_some_and(|tok| t.comment == comment(&tok))
                    })
                    .map(|t| ((t.job.clone(), t.index), t))
                    .collect();
            let mut again = Vec::new();
            for (i, (trial, t)) in trials.iter().zip(tracked.iter_mut()).enumerate() {
                if t.done {
                    continue;
                }
                let dir = store.trial(&trial.id);
                if let Some(outcome) = finished(&dir) {
                    t.done = true;
                    outcomes[i] = Some(outcome.clone());
                    reporter.event(&TrialEvent::Finished { index: i, outcome });
                    continue;
                }
                let state = states.get(&t.task);
                report_progress(i, trial, &dir, state, t, reporter);
                let gone = match state {
                    Some(s) => !s.live(),
                    None => t.since.elapsed() > GRACE,
                };
                if !gone {
                    continue;
                }
                // The task ended; a result may have landed since the check above.
                if let Some(outcome) = finished(&dir) {
                    t.done = true;
                    outcomes[i] = Some(outcome.clone());
                    reporter.event(&TrialEvent::Finished { index: i, outcome });
                    continue;
                }
                let (job, index) = &t.task;
                let how = state.map_or("no longer listed by squeue".to_string(), |s| {
                    format!("ended {}", s.state)
                });
                let reason = format!("Slurm task {job}_{index} {how} without a result");
                let max_retries = trial.run.max_retries;
                if t.attempts < max_retries {
                    t.attempts += 1;
                    reporter.event(&TrialEvent::Retrying {
                        index: i,
                        reason,
                        attempt: t.attempts,
                        max_retries,
                    });
                    again.push(i);
                } else {
                    let reason = if t.attempts > 0 {
                        format!(
                            "{reason} (after {} {})",
                            t.attempts,
                            if t.attempts == 1 { "retry" } else { "retries" }
                        )
                    } else {
                        reason
                    };
                    let outcome = record_failure(&dir, reason, started);
                    t.done = true;
                    outcomes[i] = Some(outcome.clone());
                    reporter.event(&TrialEvent::Finished { index: i, outcome });
                }
            }
            for (i, task) in self.submit_all(ledger, root, trials, &again, " again", reporter)? {
                let attempts = tracked[i].attempts;
                tracked[i] = Tracked::new(task, attempts);
            }
            if tracked.iter().all(|t| t.done) {
                break;
            }
            reporter.tick();
            std::thread::sleep(self.poll);
        }
        Ok(RunReport::new(outcomes, stop.load(Ordering::SeqCst)))
    }

    /// Ctrl-C: on a terminal, asks whether to cancel the arrays; otherwise leaves them running.
    fn interrupted(&self, jobs: &[String], reporter: &mut dyn Reporter) {
        if jobs.is_empty() {
            return;
        }
        let list = jobs.join(" ");
        let cancel = std::io::stdin().is_terminal()
            && {
                eprint!("\ncancel the Slurm job arrays {list} (their trials keep their checkpoints)? [y/N] ");
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

    /// Submits the trials `which` (indices into `trials`) in arrays of at most
    /// [`MAX_ARRAY`] tasks; returns each one's task.
    fn submit_all(
        &self,
        ledger: &Ledger,
        root: &Path,
        trials: &[TrialConfig],
        which: &[usize],
        again: &str,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<Vec<(usize, (String, usize))>> {
        let mut tasks = Vec::with_capacity(which.len());
        for chunk in which.chunks(MAX_ARRAY) {
            let ids: Vec<&str> = chunk.iter().map(|&i| trials[i].id.as_str()).collect();
            let job = self.submit(ledger, root, &ids)?;
            reporter.notice(&format!(
                "submitted {}{again} as Slurm job array {job}",
                numbers::count(ids.len(), "trial")
            ));
            tasks.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| (i, (job.clone(), k))),
            );
        }
        Ok(tasks)
    }

    /// Writes the task list and job script for `trials` and submits them as one array.
    fn submit(&self, ledger: &Ledger, root: &Path, trials: &[&str]) -> anyhow::Result<String> {
        let token = format!("{:016x}", rand::random::<u64>());
        let dir = root.join("slurm").join(&token);
        create_dir(&dir, root)?;
        // Absolute paths: tasks start in whatever folder Slurm gives them.
        let absolute = Store::at(root);
        let tasks: String = trials
            .iter()
            .map(|id| format!("{}\n", absolute.trial(id).path().display()))
            .collect();
        let task_list = dir.join("tasks.txt");
        std::fs::write(&task_list, tasks)
            .with_context(|| format!("cannot write {}", task_list.display()))?;
        let script = dir.join("job.sh");
        std::fs::write(&script, self.script(&token, &dir, &task_list))
            .with_context(|| format!("cannot write {}", script.display()))?;
        let job = commands::sbatch(
            &script,
            &format!("0-{}", trials.len() - 1),
            self.options.max_parallel,
            &self.options.sbatch_args,
        )?;
        ledger.record(&Submission {
            token,
            job: job.clone(),
            trials: trials.iter().map(|s| s.to_string()).collect(),
        })?;
        Ok(job)
    }

    /// The batch script of one submission.
    fn script(&self, token: &str, dir: &Path, task_list: &Path) -> String {
        let o = &self.options;
        let mut lines = vec![
            "#!/bin/sh".to_string(),
            format!("#SBATCH --job-name=sweep-{}", shell_word(&self.name)),
            format!("#SBATCH --comment={}", comment(token)),
            format!("#SBATCH --output={}/task-%a.out", dir.display()),
            format!("#SBATCH --cpus-per-task={}", o.cpus_per_task),
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
        lines.push(format!(
            "exec {} worker --task-list {}",
            quote(&self.exe.display().to_string()),
            quote(&task_list.display().to_string())
        ));
        lines.join("\n") + "\n"
    }
}

impl Tracked {
    fn new(task: (String, usize), attempts: u32) -> Tracked {
        Tracked {
            task,
            since: Instant::now(),
            attempts,
            step: 0,
            started: false,
            done: false,
        }
    }
}

/// The job comment that marks a submission of this tool.
fn comment(token: &str) -> String {
    format!("sweep:{token}")
}

/// The outcome of a trial whose folder holds a result.
fn finished(dir: &crate::store::TrialDir) -> Option<Outcome> {
    match dir.result() {
        Ok(Some(r)) if r.status == TrialStatus::Completed => Some(Outcome::Completed(r)),
        Ok(Some(r)) => Some(Outcome::Failed(r.reason.unwrap_or_else(|| "failed".into()))),
        _ => None,
    }
}

/// Started and progress events from a trial folder's metrics.
fn report_progress(
    index: usize,
    trial: &TrialConfig,
    dir: &crate::store::TrialDir,
    state: Option<&TaskState>,
    t: &mut Tracked,
    reporter: &mut dyn Reporter,
) {
    if state.is_some_and(|s| s.state == "PENDING") && t.started {
        return; // a resubmitted trial waiting for a node: nothing new in its folder
    }
    let running = state.is_some_and(|s| s.state == "RUNNING");
    let (rows, _) = dir.metrics_readable();
    let last = rows.last();
    if !t.started && (running || last.is_some()) {
        t.started = true;
        t.step = last.map_or(0, |r| r.step);
        reporter.event(&TrialEvent::Started {
            index,
            steps: trial.params.steps,
            resumed_from: t.step,
        });
    }
    if let Some(row) = last.filter(|r| r.step > t.step) {
        t.step = row.step;
        reporter.event(&TrialEvent::Progress {
            index,
            step: row.step,
            train_ppl: row.train_ppl,
            heldout_ppl: rows.iter().rev().find_map(|r| r.heldout_ppl),
            elapsed_s: row.elapsed_s,
            threads: 1,
        });
    }
}

/// The arrays holding the trials that have not ended, each once.
fn live_jobs(tracked: &[Tracked]) -> Vec<String> {
    let set: BTreeSet<&String> = tracked
        .iter()
        .filter(|t| !t.done)
        .map(|t| &t.task.0)
        .collect();
    set.into_iter().cloned().collect()
}

/// For `sweep status`: the Slurm arrays recorded in the results folder `root` and how many of
/// their tasks are pending or running now; `None` when the folder never used Slurm. Reads only.
pub fn queue_summary(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("slurm").join("arrays.jsonl")).ok()?;
    let subs: Vec<Submission> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let jobs: Vec<String> = subs.iter().map(|s| s.job.clone()).collect();
    let list = jobs.join(", ");
    let tasks = match commands::squeue(&jobs) {
        Ok(tasks) => tasks,
        Err(e) => return Some(format!("Slurm arrays {list}; squeue failed: {e:#}")),
    };
    let mut states = std::collections::BTreeMap::new();
    for t in tasks.iter().filter(|t| t.live()) {
        let ours = subs
            .iter()
            .rev()
            .find(|s| s.job == t.job)
            .is_some_and(|s| t.comment == comment(&s.token));
        if ours {
            *states.entry(t.state.to_lowercase()).or_insert(0) += 1;
        }
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
    submissions: std::sync::Mutex<Vec<Submission>>,
}

impl Ledger {
    fn open(root: &Path) -> anyhow::Result<Ledger> {
        let dir = root.join("slurm");
        create_dir(&dir, root)?;
        let path = dir.join("arrays.jsonl");
        let submissions = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Ledger {
            path,
            submissions: std::sync::Mutex::new(submissions),
        })
    }

    fn record(&self, s: &Submission) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        writeln!(file, "{}", serde_json::to_string(s)?)?;
        file.sync_all()?;
        self.submissions
            .lock()
            .expect("no panics while held")
            .push(s.clone());
        Ok(())
    }

    fn token_of(&self, job: &str) -> Option<String> {
        let subs = self.submissions.lock().expect("no panics while held");
        subs.iter()
            .rev()
            .find(|s| s.job == job)
            .map(|s| s.token.clone())
    }

    /// The trials that a live task of a recorded submission holds, with that task (the latest
    /// submission wins).
    fn live_tasks(&self) -> anyhow::Result<HashMap<String, (String, usize)>> {
        let subs = self
            .submissions
            .lock()
            .expect("no panics while held")
            .clone();
        let jobs: Vec<String> = subs
            .iter()
            .map(|s| s.job.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut live = HashMap::new();
        for task in commands::squeue(&jobs)? {
            let Some(sub) = subs.iter().rev().find(|s| s.job == task.job) else {
                continue;
            };
            if task.comment != comment(&sub.token) || !task.live() {
                continue;
            }
            if let Some(trial) = sub.trials.get(task.index) {
                live.insert(trial.clone(), (task.job.clone(), task.index));
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
            "exec '/opt/it'\\''s/sweep' worker --task-list '/r/slurm/ab12/tasks.txt'",
        ] {
            assert!(script.lines().any(|l| l == line), "{line} not in\n{script}");
        }
        assert!(script.starts_with("#!/bin/sh\n"));
    }
}
