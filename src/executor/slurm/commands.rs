//! The Slurm commands sweep uses — `sbatch`, `squeue`, `scancel` — run with stdin from
//! `/dev/null` (a closed stdin makes some Slurm commands hang), with clear errors when one is
//! missing or refuses (Slurm's own message included).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Why a Slurm command did not do what was asked: recognised here, in one place, from how the
/// command could not start or from its exit status and message.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The command is not on `PATH`.
    #[error(
        "`{program}` was not found: the Slurm executor needs Slurm's commands on PATH (on a \
         Debian machine, scripts/slurm-up.sh sets up a one-node Slurm)"
    )]
    Missing { program: String },
    /// The command could not be started for another reason.
    #[error("cannot run `{program}`: {error}")]
    Unrunnable { program: String, error: String },
    /// The command ran and refused (non-zero exit status), with Slurm's message.
    #[error("`{program} {args}` failed ({status}): {message}")]
    Refused {
        program: String,
        args: String,
        status: String,
        message: String,
    },
}

impl SlurmError {
    /// Whether Slurm said that none of the job ids asked about is known (all purged).
    pub fn unknown_jobs(&self) -> bool {
        matches!(self, SlurmError::Refused { message, .. } if message.contains("Invalid job id"))
    }
}

/// Runs `program args`, returning its stdout; an error carries its stderr.
fn run(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SlurmError::Missing {
                    program: program.into(),
                }
            } else {
                SlurmError::Unrunnable {
                    program: program.into(),
                    error: e.to_string(),
                }
            }
        })?;
    if !output.status.success() {
        return Err(SlurmError::Refused {
            program: program.into(),
            args: args.join(" "),
            status: output.status.to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Submits `script` as a job array over `indices` (a Slurm index list such as `0-9` or
/// `0,3,5`), at most `max_parallel` tasks at once, with further `args`; returns the job id.
pub fn sbatch(
    script: &Path,
    indices: &str,
    max_parallel: Option<u32>,
    args: &[String],
) -> anyhow::Result<String> {
    let mut array = format!("--array={indices}");
    if let Some(k) = max_parallel {
        array.push_str(&format!("%{k}"));
    }
    let mut all = vec!["--parsable".to_string(), array];
    all.extend(args.iter().cloned());
    all.push(script.display().to_string());
    let out = run("sbatch", &all).context("Slurm refused the submission")?;
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed {out:?}, expected a job id");
    }
    Ok(id)
}

/// One task of a job array: `12_3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The array's job id.
    pub job: String,
    /// The task's index in the array.
    pub index: usize,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.job, self.index)
    }
}

/// A job's state as `squeue` names it (`%T`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobState {
    Pending,
    Running,
    Configuring,
    Completing,
    Requeued,
    RequeueHold,
    RequeueFed,
    Resizing,
    Signaling,
    StageOut,
    Suspended,
    Stopped,
    Completed,
    Cancelled,
    Failed,
    Timeout,
    Preempted,
    NodeFail,
    BootFail,
    Deadline,
    OutOfMemory,
    /// A state this version does not know, by its name (counted as ended).
    Other(String),
}

/// Every known state with its name.
const STATES: [(JobState, &str); 21] = [
    (JobState::Pending, "PENDING"),
    (JobState::Running, "RUNNING"),
    (JobState::Configuring, "CONFIGURING"),
    (JobState::Completing, "COMPLETING"),
    (JobState::Requeued, "REQUEUED"),
    (JobState::RequeueHold, "REQUEUE_HOLD"),
    (JobState::RequeueFed, "REQUEUE_FED"),
    (JobState::Resizing, "RESIZING"),
    (JobState::Signaling, "SIGNALING"),
    (JobState::StageOut, "STAGE_OUT"),
    (JobState::Suspended, "SUSPENDED"),
    (JobState::Stopped, "STOPPED"),
    (JobState::Completed, "COMPLETED"),
    (JobState::Cancelled, "CANCELLED"),
    (JobState::Failed, "FAILED"),
    (JobState::Timeout, "TIMEOUT"),
    (JobState::Preempted, "PREEMPTED"),
    (JobState::NodeFail, "NODE_FAIL"),
    (JobState::BootFail, "BOOT_FAIL"),
    (JobState::Deadline, "DEADLINE"),
    (JobState::OutOfMemory, "OUT_OF_MEMORY"),
];

impl JobState {
    /// The state named `name` by `squeue`.
    pub fn parse(name: &str) -> JobState {
        STATES
            .iter()
            .find(|(_, n)| *n == name)
            .map_or_else(|| JobState::Other(name.to_string()), |(s, _)| s.clone())
    }

    /// Slurm's name of the state.
    pub fn name(&self) -> &str {
        match self {
            JobState::Other(name) => name,
            known => STATES
                .iter()
                .find(|(s, _)| s == known)
                .map_or("UNKNOWN", |(_, n)| n),
        }
    }

    /// Whether a task in this state may still run (or is running): not in a final state.
    pub fn live(&self) -> bool {
        matches!(
            self,
            JobState::Pending
                | JobState::Running
                | JobState::Configuring
                | JobState::Completing
                | JobState::Requeued
                | JobState::RequeueHold
                | JobState::RequeueFed
                | JobState::Resizing
                | JobState::Signaling
                | JobState::StageOut
                | JobState::Suspended
                | JobState::Stopped
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One array task as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// The task.
    pub task: TaskId,
    /// Its state.
    pub state: JobState,
    /// The job's comment (sweep puts its submission token there).
    pub comment: String,
}

impl TaskState {
    /// Whether the task may still run (or is running).
    pub fn live(&self) -> bool {
        self.state.live()
    }
}

/// Every task of the arrays `jobs` that Slurm still knows about, in any state. Finished tasks
/// stay visible for the cluster's `MinJobAge`; a task that never ran and was cancelled alone
/// may not be listed at all.
pub fn squeue(jobs: &[String]) -> anyhow::Result<Vec<TaskState>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let args = [
        "--noheader",
        "--array",
        "--states=all",
        &format!("--jobs={}", jobs.join(",")),
        "--format=%F|%K|%T|%k",
    ]
    .map(String::from);
    let out = match run("squeue", &args) {
        Ok(out) => out,
        // Every job id unknown (purged): nothing to list.
        Err(e) if e.unknown_jobs() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(parse_squeue(&out))
}

/// Lines of `%F|%K|%T|%k`; a pending array's unstarted tasks may come as one line with a
/// range of indices (`0-7%2`, `3,5-6`), expanded here.
fn parse_squeue(out: &str) -> Vec<TaskState> {
    let mut tasks = Vec::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.trim().splitn(4, '|').collect();
        let [job, indices, state, comment] = fields[..] else {
            continue;
        };
        for index in expand(indices) {
            tasks.push(TaskState {
                task: TaskId {
                    job: job.to_string(),
                    index,
                },
                state: JobState::parse(state),
                comment: comment.to_string(),
            });
        }
    }
    tasks
}

/// `3`, `0-7%2`, `[1,4-5]` → the indices.
fn expand(list: &str) -> Vec<usize> {
    let list = list.split('%').next().unwrap_or("");
    let list = list.trim_matches(['[', ']']);
    let mut out = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

/// Cancels the arrays `jobs` (their running tasks get SIGTERM, checkpoint and exit).
pub fn scancel(jobs: &[String]) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    run("scancel", jobs).map(|_| ())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_with_ranges_expand_to_tasks() {
        let out = "41|0|RUNNING|sweep:ab\n41|2-4%2|PENDING|sweep:ab\n41|[6,8]|PENDING|sweep:ab\n";
        let tasks = parse_squeue(out);
        let listed: Vec<(usize, &str)> = tasks
            .iter()
            .map(|t| (t.task.index, t.state.name()))
            .collect();
        assert_eq!(
            listed,
            [
                (0, "RUNNING"),
                (2, "PENDING"),
                (3, "PENDING"),
                (4, "PENDING"),
                (6, "PENDING"),
                (8, "PENDING")
            ]
        );
        assert!(tasks
            .iter()
            .all(|t| t.task.job == "41" && t.comment == "sweep:ab" && t.live()));
        assert_eq!(tasks[0].task.to_string(), "41_0");
        let done = TaskState {
            state: JobState::parse("TIMEOUT"),
            ..tasks[0].clone()
        };
        assert!(!done.live());
    }

    #[test]
    fn states_parse_by_name_and_unknown_ones_count_as_ended() {
        for (state, name) in STATES.iter() {
            assert_eq!(JobState::parse(name), *state);
            assert_eq!(state.name(), *name);
        }
        let odd = JobState::parse("SPECIAL_EXIT");
        assert_eq!(odd, JobState::Other("SPECIAL_EXIT".into()));
        assert_eq!(odd.to_string(), "SPECIAL_EXIT");
        assert!(!odd.live());
        assert!(JobState::Pending.live() && !JobState::Timeout.live());
    }

    #[test]
    fn slurm_errors_are_recognised_in_one_place() {
        let refused = |message: &str| SlurmError::Refused {
            program: "squeue".into(),
            args: "--jobs=1".into(),
            status: "exit status: 1".into(),
            message: message.into(),
        };
        assert!(refused("slurm_load_jobs error: Invalid job id specified").unknown_jobs());
        assert!(
            !refused("slurm_load_jobs error: Unable to contact slurm controller").unknown_jobs()
        );
        let missing = SlurmError::Missing {
            program: "sbatch".into(),
        };
        assert!(!missing.unknown_jobs());
        assert!(missing.to_string().starts_with("`sbatch` was not found"));
    }
}
