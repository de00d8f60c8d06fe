//! The worker of a program trial: runs the user's command in its own process group, turns the
//! JSON lines it prints into the trial folder's `metrics.jsonl` (with its checkpoint markers),
//! keeps everything else in `program.log`, and writes `result.json` when it ends.
//!
//! The program gets its parameters and budget in `SWEEP_*` variables. Stopped (Ctrl-C, a dying
//! sweep, Slurm), it gets SIGTERM, then SIGKILL after `stop_grace_s`. Restarted, it resumes
//! from its last `{"checkpoint": n}` with `SWEEP_RESUME_STEP=n`, its rows past `n` dropped, so
//! no step is missing or counted twice; without a checkpoint it starts over, its rows cleared.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::protocol::{WorkerEnd, WorkerMessage, PARENT_PID_ENV};
use crate::spec::{MetricSpec, ProgramParams, ProgramRef, TrialConfig};
use crate::store::curves::best_of;
use crate::store::{MetricOutcome, ProgramLine, ProgramRow, TrialDir, TrialResult, TrialStatus};

/// Least time between two progress messages without the metric.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// Lines of `program.log` quoted in a failure.
const TAIL_LINES: usize = 12;
/// Characters of `program.log` quoted in a failure, at most.
const TAIL_CHARS: usize = 1500;
/// Once the program exited (and what it left in its group was killed), its output is read to
/// the end; only a process that left the group (`setsid`) can keep the pipe open, so reading
/// stops after this long without a line.
const DRAIN_IDLE: Duration = Duration::from_secs(1);

/// The environment variables a program trial gets.
pub mod env {
    /// The trial's parameters as a JSON object (also `config.json`'s `params`).
    pub const PARAMS: &str = "SWEEP_PARAMS";
    /// The trial's own folder, absolute (`work/` in the trial's folder): where to keep
    /// checkpoints and files. sweep's records, one level up, are written by sweep alone.
    pub const TRIAL_DIR: &str = "SWEEP_TRIAL_DIR";
    /// The trial's id.
    pub const TRIAL_ID: &str = "SWEEP_TRIAL_ID";
    /// The step to train to now (raised when early stopping promotes the trial).
    pub const STEPS: &str = "SWEEP_STEPS";
    /// The trial's seed.
    pub const SEED: &str = "SWEEP_SEED";
    /// The step of the checkpoint to resume from; absent for a fresh start.
    pub const RESUME_STEP: &str = "SWEEP_RESUME_STEP";
}

/// Runs the program trial in `trial` (configured as `config`) until it ends or `stop` is set.
pub fn run(
    trial: &TrialDir,
    config: &TrialConfig,
    stop: &AtomicBool,
    started: Instant,
) -> anyhow::Result<WorkerEnd> {
    let program = config.program().expect("a program trial");
    let params = config
        .params()
        .program()
        .expect("a program trial's parameters");
    let steps = params.steps();
    let budget = config.budget();

    let (lines, resume) = resume(trial, &config.id, budget);
    trial.rewrite_program_lines(&lines)?;
    let rows = crate::store::program_metrics::rows(&lines);
    let elapsed_base = rows.last().map_or(0.0, |r| r.elapsed_s);
    let mut run = Run {
        trial,
        metric: &program.metric,
        budget,
        resume,
        rows,
        out: trial.program_appender()?,
        log: OpenOptions::new()
            .create(true)
            .append(true)
            .open(trial.log_path())
            .with_context(|| format!("cannot open {}", trial.log_path().display()))?,
        elapsed_base,
        clock: Instant::now(),
        last_report: Instant::now(),
        last_value: None,
        unreported: false,
        line_no: 0,
        malformed: None,
        gpu: None,
    };
    say(&WorkerMessage::Started {
        steps: budget,
        parameters: 0,
        resumed_from: resume,
    });
    let argv = program.argv(params);
    writeln!(
        run.log,
        "--- sweep: {} (step {resume} → {budget}) in {}",
        argv.join(" "),
        program.workdir_abs.display()
    )?;
    let mut child = match spawn(
        trial, config, program, params, &argv, budget, resume, &run.log,
    ) {
        Ok(child) => child,
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "command `{}` not found (workdir {})",
                    argv[0],
                    program.workdir_abs.display()
                ),
                std::io::ErrorKind::PermissionDenied => {
                    format!("command `{}` is not executable: {e}", argv[0])
                }
                _ => format!("command `{}` could not start: {e}", argv[0]),
            };
            return run.finish(TrialStatus::Failed, Some(reason), started);
        }
    };
    let pgid = child.id() as i32;
    say(&WorkerMessage::Program { pgid });
    // Placed on GPUs: what its processes use of them, where NVML can tell.
    let gpus: Vec<u32> = std::env::var(super::protocol::GPUS_ENV)
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect();
    let sampler = super::gpu_usage::Sampler::start(&gpus, pgid);
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });

    // Read its output until it exits; a stop or a malformed line ends it early.
    let mut terminated_at: Option<Instant> = None;
    let mut killed = false;
    let mut exited: Option<ExitStatus> = None;
    let mut last_line = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(bytes) => {
                last_line = Instant::now();
                run.line(&bytes)?;
                if exited.is_some() {
                    // Read what it printed to the end before looking at anything else.
                    continue;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if exited.is_none() {
                    exited = Some(wait_stopping(&mut child, stop, pgid, program.stop_grace_s)?);
                }
                break;
            }
            Err(RecvTimeoutError::Timeout) => run.report_due()?,
        }
        let asked_to_stop = stop.load(Ordering::SeqCst) || run.malformed.is_some();
        if asked_to_stop && terminated_at.is_none() && exited.is_none() {
            signal_group(pgid, libc::SIGTERM);
            terminated_at = Some(Instant::now());
        }
        if let Some(t) = terminated_at {
            if !killed && exited.is_none() && t.elapsed().as_secs_f64() >= program.stop_grace_s {
                signal_group(pgid, libc::SIGKILL);
                killed = true;
            }
        }
        if exited.is_none() {
            if let Some(status) = child.try_wait()? {
                exited = Some(status);
                // What it left behind in its group would hold the pipe open.
                signal_group(pgid, libc::SIGKILL);
            }
        }
        if exited.is_some() && last_line.elapsed() >= DRAIN_IDLE {
            break;
        }
    }
    run.gpu = sampler.and_then(super::gpu_usage::Sampler::finish);
    // Whatever it left behind in its group goes with it.
    signal_group(pgid, libc::SIGKILL);
    let status = exited.expect("the loop ends once the program exited");
    run.out.sync()?;
    run.log.flush()?;

    if let Some(reason) = run.malformed.take() {
        let reason = format!("{reason}{}", tail_suffix(trial));
        return run.finish(TrialStatus::Failed, Some(reason), started);
    }
    let reached = run.rows.last().map_or(0, |r| r.step);
    if stop.load(Ordering::SeqCst) && !(status.success() && reached >= budget) {
        return Ok(WorkerEnd::Interrupted);
    }
    if let Some(signal) = status.signal() {
        // Not sent by sweep (an out-of-memory kill, a crash): a worker error, retried from the
        // last checkpoint.
        anyhow::bail!(
            "program killed by signal {signal} ({}){}",
            signal_name(signal),
            tail_suffix(trial)
        );
    }
    if !status.success() {
        let code = status.code().unwrap_or(-1);
        let reason = format!("program exited with code {code}{}", tail_suffix(trial));
        return run.finish(TrialStatus::Failed, Some(reason), started);
    }
    if !run
        .rows
        .iter()
        .any(|r| r.values.contains_key(&run.metric.name))
    {
        let mut reported: Vec<&str> = run
            .rows
            .iter()
            .flat_map(|r| r.values.keys().map(String::as_str))
            .collect();
        reported.sort_unstable();
        reported.dedup();
        let reported = if reported.is_empty() {
            "no metrics lines".to_string()
        } else {
            format!("reported: {}", reported.join(", "))
        };
        let reason = format!(
            "the program never reported `{}` ({reported}){}",
            run.metric.name,
            tail_suffix(trial)
        );
        return run.finish(TrialStatus::Failed, Some(reason), started);
    }
    if reached < budget {
        let reason = format!(
            "the program exited 0 at step {reached}, before SWEEP_STEPS={budget}: it ended \
             early (steps count from 1; report the last as step {budget}){}",
            tail_suffix(trial)
        );
        return run.finish(TrialStatus::Failed, Some(reason), started);
    }
    if run
        .rows
        .iter()
        .filter_map(|r| r.values.get(&run.metric.name))
        .all(|v| v.is_nan())
    {
        let reason = format!(
            "every value of `{}` the program reported is NaN{}",
            run.metric.name,
            tail_suffix(trial)
        );
        return run.finish(TrialStatus::Failed, Some(reason), started);
    }
    let status = if budget < steps {
        TrialStatus::Stopped
    } else {
        TrialStatus::Completed
    };
    run.finish(status, None, started)
}

/// The lines to keep from an earlier attempt and the step to resume from: those up to the
/// last checkpoint at or below `budget`, or none.
fn resume(trial: &TrialDir, id: &str, budget: usize) -> (Vec<ProgramLine>, usize) {
    let (lines, damage) = trial.program_lines_readable();
    if let Some(damage) = damage {
        warn(damage);
    }
    let marker = lines
        .iter()
        .rposition(|l| matches!(l, ProgramLine::Checkpoint(c) if *c <= budget));
    match marker {
        Some(i) => {
            let ProgramLine::Checkpoint(step) = lines[i] else {
                unreachable!()
            };
            let kept = lines[..=i]
                .iter()
                .filter(|l| !matches!(l, ProgramLine::Row(r) if r.step > step))
                .cloned()
                .collect();
            (kept, step)
        }
        None => {
            if !lines.is_empty() {
                warn(format!(
                    "trial {id} restarts from step 0: its program reported no checkpoint"
                ));
            }
            (Vec::new(), 0)
        }
    }
}

/// Starts the program: its own process group, killed with the worker, stdout piped, stderr
/// into `program.log`.
#[allow(clippy::too_many_arguments)]
fn spawn(
    trial: &TrialDir,
    config: &TrialConfig,
    program: &ProgramRef,
    params: &ProgramParams,
    argv: &[String],
    budget: usize,
    resume: usize,
    log: &File,
) -> std::io::Result<Child> {
    // A folder of its own: sweep's records beside it are written by sweep alone. A folder from
    // before there was one: the program's files (its checkpoints) move there first.
    let work = trial.work_path();
    if !work.exists() && resume > 0 {
        trial
            .move_program_files_into_work()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    }
    std::fs::create_dir_all(&work)?;
    let trial_dir = std::path::absolute(work)?;
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(&program.workdir_abs)
        .envs(&program.env)
        .env_remove(PARENT_PID_ENV)
        .env(env::PARAMS, params.to_json().to_string())
        .env(env::TRIAL_DIR, &trial_dir)
        .env(env::TRIAL_ID, &config.id)
        .env(env::STEPS, budget.to_string())
        .env(env::SEED, params.seed().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.try_clone()?);
    if resume > 0 {
        command.env(env::RESUME_STEP, resume.to_string());
    } else {
        command.env_remove(env::RESUME_STEP);
    }
    // SAFETY: setpgid and prctl are async-signal-safe and touch no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            // Its own group: a stop reaches every process it started.
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // A worker killed outright (SIGKILL) takes the program along.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command.spawn()
}

/// Waits for the program after its output closed, still honouring a stop.
fn wait_stopping(
    child: &mut Child,
    stop: &AtomicBool,
    pgid: i32,
    grace: f64,
) -> anyhow::Result<ExitStatus> {
    let mut terminated_at: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if stop.load(Ordering::SeqCst) {
            match terminated_at {
                None => {
                    signal_group(pgid, libc::SIGTERM);
                    terminated_at = Some(Instant::now());
                }
                Some(t) if t.elapsed().as_secs_f64() >= grace => signal_group(pgid, libc::SIGKILL),
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; a group that is gone is fine.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL: out of memory, or killed by another process",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        _ => "signal",
    }
}

/// One attempt's reading of the program's output.
struct Run<'a> {
    trial: &'a TrialDir,
    metric: &'a MetricSpec,
    budget: usize,
    resume: usize,
    rows: Vec<ProgramRow>,
    out: crate::store::trial_dir::ProgramMetricsWriter,
    log: File,
    elapsed_base: f64,
    clock: Instant,
    last_report: Instant,
    /// The metric's last value reported by the program.
    last_value: Option<f64>,
    /// Rows since the last progress message.
    unreported: bool,
    line_no: usize,
    /// Why the program's output broke the protocol, once it did.
    malformed: Option<String>,
    /// What it used of its GPUs, once measured.
    gpu: Option<crate::store::GpuUsed>,
}

impl Run<'_> {
    /// Flushes the rows for readers (the dashboard) and says where the program is, at most
    /// every [`PROGRESS_INTERVAL`]; the rows are synced to the disk at checkpoints and at the
    /// end, not per line.
    fn report_due(&mut self) -> anyhow::Result<()> {
        if !self.unreported || self.last_report.elapsed() < PROGRESS_INTERVAL {
            return Ok(());
        }
        let Some(row) = self.rows.last() else {
            return Ok(());
        };
        self.out.flush()?;
        say(&WorkerMessage::Progress {
            step: row.step,
            train_ppl: None,
            objective: self.last_value,
            elapsed_s: row.elapsed_s,
            threads: 1,
        });
        self.last_report = Instant::now();
        self.unreported = false;
        Ok(())
    }

    /// Handles one line of the program's stdout.
    fn line(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.line_no += 1;
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        if self.malformed.is_some() || !text.trim_start().starts_with('{') {
            writeln!(self.log, "{text}")?;
            return Ok(());
        }
        let elapsed = self.elapsed_base + self.clock.elapsed().as_secs_f64();
        let problem = match ProgramLine::parse(text, elapsed) {
            Err(e) => Some(e),
            Ok(ProgramLine::Checkpoint(step)) => {
                if step < self.resume.max(1) || step > self.budget {
                    Some(format!(
                        "checkpoint step {step} is outside {}..={} (resumed at {}, \
                         SWEEP_STEPS {})",
                        self.resume.max(1),
                        self.budget,
                        self.resume,
                        self.budget
                    ))
                } else {
                    // Rows first, then the marker: a marker never points past the rows on disk.
                    self.out.sync()?;
                    self.out.push(&ProgramLine::Checkpoint(step))?;
                    self.out.sync()?;
                    None
                }
            }
            Ok(ProgramLine::Row(row)) => {
                let last = self.rows.last().map_or(0, |r| r.step);
                if row.step == 0 {
                    Some("step 0: steps count from 1".to_string())
                } else if row.step > self.budget {
                    Some(format!(
                        "step {} is past SWEEP_STEPS={} (stop training there)",
                        row.step, self.budget
                    ))
                } else if row.step < last || (self.resume > 0 && row.step <= self.resume) {
                    Some(format!(
                        "step {} goes back (the last was {}{})",
                        row.step,
                        last,
                        if self.resume > 0 {
                            format!(", resumed after step {}", self.resume)
                        } else {
                            String::new()
                        }
                    ))
                } else {
                    self.out.push(&ProgramLine::Row(row.clone()))?;
                    if let Some(&value) = row.values.get(&self.metric.name) {
                        self.last_value = Some(value);
                    }
                    self.unreported = true;
                    self.rows.push(row);
                    self.report_due()?;
                    None
                }
            }
        };
        if let Some(problem) = problem {
            writeln!(self.log, "{text}")?;
            self.malformed = Some(format!(
                "line {} of the program's output is not a metrics line ({problem}): `{}`",
                self.line_no,
                shorten(text, 200)
            ));
        }
        Ok(())
    }

    /// Writes `result.json` and says how the worker ended.
    fn finish(
        &mut self,
        status: TrialStatus,
        reason: Option<String>,
        started: Instant,
    ) -> anyhow::Result<WorkerEnd> {
        let series: Vec<(usize, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.step, *r.values.get(&self.metric.name)?)))
            .collect();
        let last = series.last().copied();
        let best = best_of(&series, self.metric.mode);
        let last_row = self.rows.last();
        let failed = status == TrialStatus::Failed;
        let result = TrialResult {
            status,
            reason,
            // The last step it reported (one that ended well reported its budget).
            steps_done: last_row.map_or(0, |r| r.step),
            parameters: None,
            final_train_ppl: None,
            final_heldout_ppl: None,
            best_heldout_ppl: None,
            steps_per_sec: training_rate(&self.rows),
            wall_seconds: started.elapsed().as_secs_f64(),
            peak_memory_mb: children_peak_memory_mb(),
            gpu: self.gpu.take(),
            vocab_size: None,
            metric: Some(Box::new(MetricOutcome {
                name: self.metric.name.clone(),
                last: if failed { None } else { last.map(|l| l.1) },
                last_step: last.map_or(0, |l| l.0),
                best: best.map(|b| b.1),
                best_step: best.map_or(0, |b| b.0),
            })),
        };
        self.trial.write_result(&result)?;
        Ok(if failed {
            WorkerEnd::Failed
        } else {
            WorkerEnd::Completed
        })
    }
}

/// Steps per second between the first and the last row: the training rate without the
/// program's start-up (imports, data loading) before its first row; with one row, its step
/// over its clock.
fn training_rate(rows: &[ProgramRow]) -> Option<f64> {
    let (first, last) = (rows.first()?, rows.last()?);
    let (steps, seconds) = if last.step > first.step && last.elapsed_s > first.elapsed_s {
        (last.step - first.step, last.elapsed_s - first.elapsed_s)
    } else {
        (last.step, last.elapsed_s)
    };
    (seconds > 0.0 && seconds.is_finite()).then(|| steps as f64 / seconds)
}

/// ` — output: …` with the last lines of `program.log`, or nothing when it is empty.
fn tail_suffix(trial: &TrialDir) -> String {
    let text = std::fs::read_to_string(trial.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--- sweep:"))
        .collect();
    let tail: Vec<&str> = lines
        .iter()
        .skip(lines.len().saturating_sub(TAIL_LINES))
        .copied()
        .collect();
    if tail.is_empty() {
        return String::new();
    }
    let joined = tail.join(" | ");
    let chars = joined.chars().count();
    let joined = if chars > TAIL_CHARS {
        format!(
            "…{}",
            joined.chars().skip(chars - TAIL_CHARS).collect::<String>()
        )
    } else {
        joined
    };
    format!(" — output: {joined}")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_string()
    }
}

fn say(m: &WorkerMessage) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", m.to_line()).and_then(|_| stdout.flush());
}

fn warn(message: String) {
    eprintln!("warning: {message}");
    say(&WorkerMessage::Warning { message });
}

/// Peak resident memory of the largest finished child (the program), in MiB.
fn children_peak_memory_mb() -> Option<f64> {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        (libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) == 0).then_some(usage)
    }?;
    (usage.ru_maxrss > 0).then(|| usage.ru_maxrss as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: usize, elapsed_s: f64) -> ProgramRow {
        ProgramRow {
            step,
            elapsed_s,
            values: Default::default(),
        }
    }

    #[test]
    fn the_training_rate_leaves_out_the_start_up() {
        // 2 s of imports, then 100 steps a second.
        let rows = [row(100, 3.0), row(200, 4.0), row(300, 5.0)];
        assert_eq!(training_rate(&rows), Some(100.0));
        assert_eq!(training_rate(&rows[..1]), Some(100.0 / 3.0));
        assert_eq!(training_rate(&[]), None);
    }
}
