//! The Slurm commands sweep uses — `sbatch`, `squeue`, `scancel` — run with stdin from
//! `/dev/null` (a closed stdin makes some Slurm commands hang), with clear errors when one is
//! missing or refuses (Slurm's own message included).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Runs `program args`, returning its stdout; an error carries its stderr.
fn run(program: &str, args: &[String]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "`{program}` was not found: the Slurm executor needs Slurm's commands on \
                     PATH (on a Debian machine, scripts/slurm-up.sh sets up a one-node Slurm)"
                )
            } else {
                anyhow::anyhow!("cannot run `{program}`: {e}")
            }
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            stderr.trim()
        );
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

/// One array task as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// The array's job id.
    pub job: String,
    /// The task's index in the array.
    pub index: usize,
    /// Slurm's state name (`PENDING`, `RUNNING`, `COMPLETED`, `TIMEOUT`, …).
    pub state: String,
    /// The job's comment (sweep puts its submission token there).
    pub comment: String,
}

impl TaskState {
    /// Whether the task may still run (or is running): not in a final state.
    pub fn live(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SIGNALING"
                | "STAGE_OUT"
                | "SUSPENDED"
                | "STOPPED"
        )
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
        Err(e) if e.to_string().contains("Invalid job id") => return Ok(Vec::new()),
        Err(e) => return Err(e),
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
                job: job.to_string(),
                index,
                state: state.to_string(),
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
    run("scancel", jobs).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_with_ranges_expand_to_tasks() {
        let out = "41|0|RUNNING|sweep:ab\n41|2-4%2|PENDING|sweep:ab\n41|[6,8]|PENDING|sweep:ab\n";
        let tasks = parse_squeue(out);
        let listed: Vec<(usize, &str)> =
            tasks.iter().map(|t| (t.index, t.state.as_str())).collect();
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
            .all(|t| t.job == "41" && t.comment == "sweep:ab" && t.live()));
        let done = TaskState {
            state: "TIMEOUT".into(),
            ..tasks[0].clone()
        };
        assert!(!done.live());
    }
}
