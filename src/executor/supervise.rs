//! The trial lifecycle, one for every executor: which trials to launch next, what an attempt's
//! end means (completed, failed, or a retry from the last checkpoint, with one wording), what
//! Ctrl-C and SIGTERM do, and the events the progress display and the run report consume.
//!
//! A [`Backend`] only launches attempts, reports what they say and when they end, and stops
//! them: local worker processes ([`super::local`]), Slurm array tasks ([`super::slurm`]), or a
//! scripted fake in the tests. The trial folder, not the backend, says whether a trial
//! finished: an attempt that ends without a `result.json` did not.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

pub use super::events::{Outcome, Reporter, TrialEvent, TrialLine};
use crate::spec::TrialConfig;
use crate::store::{Store, TrialDir, TrialResult, TrialStatus};

/// How far the run has been asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Keep going.
    No,
    /// Start nothing new; running attempts checkpoint and exit.
    Graceful,
    /// Kill the running attempts now.
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

/// What a backend says about an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendEvent {
    /// The attempt started, progressed or warned ([`TrialEvent::Started`], `Progress` or
    /// `Warning`).
    Trial(TrialEvent),
    /// The attempt of trial `index` ended (or its trial folder holds a result); `how` says how,
    /// for a failure reason ("worker exited with code 2: …", "Slurm task 12_3 ended TIMEOUT").
    Ended { index: usize, how: String },
}

/// What the supervisor does once a backend has been asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Wait until the running attempts have ended (they checkpoint and exit).
    WaitForAttempts,
    /// Return at once; the attempts go on without this process (Slurm tasks left running).
    Return,
}

/// Where trials run. The [`supervise`] loop drives it; it decides nothing about outcomes.
#[allow(async_fn_in_trait)] // used with generics only, never as `dyn Backend`
pub trait Backend {
    /// Most attempts running at once.
    fn capacity(&self) -> usize;
    /// Trial `index` (the next index, counting from 0) joins the run; its folder is prepared.
    /// True when an attempt of it is already live (a followed Slurm task): it is not launched.
    fn add(&mut self, index: usize, trial: &TrialConfig, reporter: &mut dyn Reporter) -> bool;
    /// Starts an attempt of each trial in `indices` (their folders are prepared); `retry` when
    /// they ran before in this run.
    async fn launch(
        &mut self,
        indices: &[usize],
        retry: bool,
        reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()>;
    /// The next event; `None` when a display tick passed without one.
    async fn next(&mut self) -> anyhow::Result<Option<BackendEvent>>;
    /// Trial `index` will not be launched again in this run (it finished, failed or was
    /// interrupted): what it held can go.
    fn settled(&mut self, _index: usize) {}
    /// `count` trials wait for a slot (known so far): 0 at the tail of a run, or when it stops.
    fn waiting(&mut self, _count: usize) {}
    /// Trial `index` failed with `reason`: when its next attempt can have more room (a GPU of
    /// its own after running out of memory on a share), says so, and the trial is retried.
    fn more_room(&mut self, _index: usize, _reason: &str) -> Option<String> {
        None
    }
    /// The run is asked to stop at `level` (`Now` after a second request).
    async fn stop(&mut self, level: Stop, reporter: &mut dyn Reporter) -> AfterStop;
}

/// Requests to stop the run: Ctrl-C and SIGTERM, or whatever a test sends.
pub struct StopRequests(mpsc::UnboundedReceiver<()>);

impl StopRequests {
    /// SIGINT and SIGTERM of this process (the one signal-handling model of every executor).
    pub fn from_signals() -> anyhow::Result<StopRequests> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = sigint.recv() => {}
                    _ = sigterm.recv() => {}
                }
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        Ok(StopRequests(rx))
    }

    /// Requests sent on a channel (for tests).
    pub fn from_channel(rx: mpsc::UnboundedReceiver<()>) -> StopRequests {
        StopRequests(rx)
    }

    async fn next(&mut self) {
        if self.0.recv().await.is_none() {
            // No more requests can come: never wake up for this branch again.
            std::future::pending::<()>().await;
        }
    }
}

/// One trial's place in the run.
struct Slot {
    attempts: u32,
    first_launch: Option<Instant>,
    running: bool,
    outcome: Option<Outcome>,
}

/// Where the trials of a run come from: a fixed list, or a scheduler that decides what trains
/// next as results come in (asynchronous successive halving, pipelined TPE).
pub trait Feed {
    /// Up to `room` trials to launch now, their folders prepared, in the order they should
    /// start; none when nothing is ready (yet).
    fn ready(&mut self, room: usize) -> anyhow::Result<Vec<TrialConfig>>;
    /// How many trials are known to wait for a slot (for sharing the cores at the tail).
    fn waiting(&self) -> usize;
    /// `trial` ended with `outcome` (completed, stopped at its budget, failed or interrupted).
    fn ended(&mut self, trial: &TrialConfig, outcome: &Outcome) -> anyhow::Result<()>;
    /// Lines for the progress display about what the feed decided since it was last asked.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// A fixed list of trials, handed out in order.
pub struct FixedFeed<'a> {
    trials: &'a [TrialConfig],
    next: usize,
}

impl<'a> FixedFeed<'a> {
    /// Hands out `trials` (folders prepared), in order.
    pub fn new(trials: &'a [TrialConfig]) -> FixedFeed<'a> {
        FixedFeed { trials, next: 0 }
    }
}

impl Feed for FixedFeed<'_> {
    fn ready(&mut self, room: usize) -> anyhow::Result<Vec<TrialConfig>> {
        let end = self.next.saturating_add(room).min(self.trials.len());
        let batch = self.trials[self.next..end].to_vec();
        self.next = end;
        Ok(batch)
    }

    fn waiting(&self) -> usize {
        self.trials.len() - self.next
    }

    fn ended(&mut self, _trial: &TrialConfig, _outcome: &Outcome) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Runs `trials` (folders prepared in `store`) on `backend` until each has an outcome or the
/// run is stopped; see [`supervise_feed`].
pub async fn supervise<B: Backend>(
    backend: &mut B,
    store: &Store,
    trials: &[TrialConfig],
    stop_requests: &mut StopRequests,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<RunReport> {
    let mut feed = FixedFeed::new(trials);
    let mut report = supervise_feed(backend, store, &mut feed, stop_requests, reporter).await?;
    // Trials never handed out (the run stopped first) were interrupted too.
    report.outcomes.resize(trials.len(), Outcome::Interrupted);
    Ok(report)
}

/// Runs the trials `feed` hands out on `backend`, launching them as slots free up (at most
/// [`Backend::capacity`] at a time; a trial the backend already runs is followed), until the
/// feed has nothing more and nothing runs, or the run is stopped. The report's outcomes are in
/// the order the feed handed the trials out.
pub async fn supervise_feed<B: Backend>(
    backend: &mut B,
    store: &Store,
    feed: &mut dyn Feed,
    stop_requests: &mut StopRequests,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<RunReport> {
    let mut trials: Vec<TrialConfig> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut retries: VecDeque<usize> = VecDeque::new();
    let mut stop = Stop::No;
    loop {
        let mut fed = false;
        if stop == Stop::No {
            launch_free(backend, &mut slots, &mut retries, true, reporter).await?;
            let running = slots.iter().filter(|s| s.running).count();
            let room = backend.capacity().saturating_sub(running);
            let mut queue = VecDeque::new();
            if room > 0 {
                for trial in feed.ready(room)? {
                    fed = true;
                    let index = trials.len();
                    reporter.add(trial_line(&trial));
                    let live = backend.add(index, &trial, reporter);
                    slots.push(Slot {
                        attempts: 0,
                        first_launch: live.then(Instant::now),
                        running: live,
                        outcome: None,
                    });
                    trials.push(trial);
                    if !live {
                        queue.push_back(index);
                    }
                }
            }
            for notice in feed.take_notices() {
                reporter.notice(&notice);
            }
            backend.waiting(retries.len() + feed.waiting());
            launch_free(backend, &mut slots, &mut queue, false, reporter).await?;
        }
        let running = slots.iter().filter(|s| s.running).count();
        if running == 0 && !fed && (stop != Stop::No || retries.is_empty()) {
            break;
        }
        if running == 0 {
            continue; // launch what was just handed out, or the retries
        }
        tokio::select! {
            event = backend.next() => match event? {
                Some(BackendEvent::Trial(event)) => reporter.event(&event),
                Some(BackendEvent::Ended { index, how }) => {
                    let slot = &mut slots[index];
                    if !slot.running {
                        continue; // a late report of an attempt already concluded
                    }
                    slot.running = false;
                    let trial = &trials[index];
                    let dir = store.trial(&trial.id);
                    let mut conclusion = conclude(&dir, &how, stop, slot, trial.run.max_retries);
                    if let Conclusion::Ends(Outcome::Failed(reason)) = &conclusion {
                        if let Some(why) = retry_with_room(backend, &dir, index, reason, stop, slot, trial.run.max_retries) {
                            conclusion = Conclusion::Retry(why);
                        }
                    }
                    match conclusion {
                        Conclusion::Retry(reason) => {
                            reporter.event(&TrialEvent::Retrying {
                                index,
                                reason,
                                attempt: slot.attempts,
                                max_retries: trial.run.max_retries,
                            });
                            retries.push_back(index);
                        }
                        Conclusion::Ends(outcome) => {
                            slot.outcome = Some(outcome.clone());
                            backend.settled(index);
                            reporter.event(&TrialEvent::Finished { index, outcome: outcome.clone() });
                            feed.ended(trial, &outcome)?;
                        }
                    }
                }
                None => reporter.tick(),
            },
            () = stop_requests.next() => {
                stop = if stop == Stop::No { Stop::Graceful } else { Stop::Now };
                if backend.stop(stop, reporter).await == AfterStop::Return {
                    break;
                }
            }
        }
    }
    // Retries that will not run: what they hold can go; nothing waits any more.
    for index in retries {
        backend.settled(index);
    }
    backend.waiting(0);
    Ok(RunReport {
        outcomes: slots
            .into_iter()
            .map(|s| s.outcome.unwrap_or(Outcome::Interrupted))
            .collect(),
        interrupted: stop != Stop::No,
    })
}

/// What the progress display shows for `trial`.
pub fn trial_line(trial: &TrialConfig) -> TrialLine {
    TrialLine {
        label: trial.label.clone(),
        steps: trial.budget(),
        metric: trial.program().map(|p| p.metric.name.clone()),
    }
}

/// Launches as many of `waiting` as the backend has room for.
async fn launch_free<B: Backend>(
    backend: &mut B,
    slots: &mut [Slot],
    waiting: &mut VecDeque<usize>,
    retry: bool,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<()> {
    let running = slots.iter().filter(|s| s.running).count();
    let free = backend
        .capacity()
        .saturating_sub(running)
        .min(waiting.len());
    if free == 0 {
        return Ok(());
    }
    let batch: Vec<usize> = waiting.drain(..free).collect();
    for &i in &batch {
        slots[i].running = true;
        slots[i].first_launch.get_or_insert_with(Instant::now);
    }
    backend.launch(&batch, retry, reporter).await
}

/// A failed trial that the backend can give more room (see [`Backend::more_room`]) is retried
/// from its last checkpoint, while retries are left and the run goes on: its result is cleared,
/// and the returned reason says why.
fn retry_with_room<B: Backend>(
    backend: &mut B,
    dir: &TrialDir,
    index: usize,
    reason: &str,
    stop: Stop,
    slot: &mut Slot,
    max_retries: u32,
) -> Option<String> {
    if stop != Stop::No || slot.attempts >= max_retries {
        return None;
    }
    let why = backend.more_room(index, reason)?;
    dir.clear_result().ok()?;
    slot.attempts += 1;
    Some(why)
}

/// What an ended attempt means for its trial.
enum Conclusion {
    /// The trial has its outcome.
    Ends(Outcome),
    /// Start it again from its last checkpoint; the reason names the attempt's end.
    Retry(String),
}

/// Reads the trial folder after an attempt ended `how`: its result, or else a retry while
/// retries are left and the run goes on, or else a recorded failure.
fn conclude(
    dir: &TrialDir,
    how: &str,
    stop: Stop,
    slot: &mut Slot,
    max_retries: u32,
) -> Conclusion {
    match dir.result() {
        // Completed, or stopped at its rung's budget: the attempt did what it was asked.
        Ok(Some(r)) if r.status != TrialStatus::Failed => {
            return Conclusion::Ends(Outcome::Completed(r))
        }
        Ok(Some(r)) => {
            return Conclusion::Ends(Outcome::Failed(r.reason.unwrap_or_else(|| "failed".into())))
        }
        Ok(None) => {}
        Err(e) => {
            let reason = format!("{how}, and its result.json cannot be read: {e:#}");
            return Conclusion::Ends(record_failure(dir, reason, slot.first_launch));
        }
    }
    if stop != Stop::No {
        return Conclusion::Ends(Outcome::Interrupted);
    }
    if slot.attempts < max_retries {
        slot.attempts += 1;
        return Conclusion::Retry(how.to_string());
    }
    let reason = match slot.attempts {
        0 => how.to_string(),
        1 => format!("{how} (after 1 retry)"),
        n => format!("{how} (after {n} retries)"),
    };
    Conclusion::Ends(record_failure(dir, reason, slot.first_launch))
}

/// Writes a failed `result.json` for a trial whose attempts could not write one.
pub fn record_failure(dir: &TrialDir, reason: String, since: Option<Instant>) -> Outcome {
    let config = dir.config().ok();
    let curves = config.as_ref().map(|c| dir.curves(c).0);
    let steps_done = match &curves {
        Some(curves) => curves.last_step(),
        None => dir.metrics_readable().0.last().map_or(0, |r| r.step),
    };
    // A program trial's result names its metric, with the best value it reported.
    let metric = config.as_ref().and_then(|c| c.program()).map(|p| {
        let best = curves.as_ref().and_then(|c| c.best(&p.metric));
        Box::new(crate::store::MetricOutcome {
            name: p.metric.name.clone(),
            last: None,
            last_step: curves
                .as_ref()
                .and_then(|c| c.last(&p.metric.name))
                .map_or(0, |l| l.0),
            best: best.map(|b| b.1),
            best_step: best.map_or(0, |b| b.0),
        })
    });
    let result = TrialResult {
        status: TrialStatus::Failed,
        reason: Some(reason.clone()),
        steps_done,
        parameters: None,
        final_train_ppl: None,
        final_heldout_ppl: None,
        best_heldout_ppl: None,
        steps_per_sec: None,
        wall_seconds: since.map_or(0.0, |s| s.elapsed().as_secs_f64()),
        peak_memory_mb: None,
        gpu: None,
        vocab_size: None,
        metric,
    };
    match dir.write_result(&result) {
        Ok(()) => Outcome::Failed(reason),
        Err(e) => Outcome::Failed(format!(
            "{reason} (and its result could not be recorded: {e:#})"
        )),
    }
}

#[cfg(test)]
#[path = "supervise_tests.rs"]
mod tests;
