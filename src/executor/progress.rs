//! Progress display of a running sweep, fed by [`TrialEvent`]s: live bars on a terminal
//! (indicatif), plain log lines otherwise (CI logs, files, pipes).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::events::{Outcome, TrialEvent};
pub use super::events::{Reporter, TrialLine};
use crate::measures::{final_train_diverged, numbers, DIVERGED_FACTOR, FINAL_TRAIN_WINDOW};
use crate::store::TrialStatus;

/// The live display on a terminal, plain lines on stderr otherwise; trials join as the run
/// hands them out ([`Reporter::add`]).
pub fn for_stderr() -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Box::new(TerminalReporter::new(Vec::new()))
    } else {
        Box::new(PlainReporter::new(Vec::new()))
    }
}

/// Bookkeeping and the event lines shared by both displays.
struct Tally {
    trials: Vec<TrialLine>,
    step: Vec<usize>,
    done: usize,
    failed: usize,
}

impl Tally {
    fn new(trials: Vec<TrialLine>) -> Tally {
        Tally {
            step: vec![0; trials.len()],
            trials,
            done: 0,
            failed: 0,
        }
    }

    fn add(&mut self, trial: TrialLine) {
        self.trials.push(trial);
        self.step.push(0);
    }

    /// Updates the counts and returns the line an event deserves, if any.
    fn line(&mut self, event: &TrialEvent) -> Option<String> {
        let n = self.trials.len();
        match event {
            TrialEvent::Started {
                index,
                steps,
                resumed_from,
            } => {
                self.step[*index] = *resumed_from;
                let label = &self.trials[*index].label;
                Some(if *resumed_from > 0 {
                    format!("resumed {label} at step {resumed_from}/{steps}")
                } else {
                    format!("started {label} ({steps} steps)")
                })
            }
            TrialEvent::Progress { index, step, .. } => {
                self.step[*index] = *step;
                None
            }
            TrialEvent::Warning { index, message } => Some(format!(
                "warning: {}: {message}",
                self.trials[*index].label
            )),
            TrialEvent::Retrying {
                index,
                reason,
                attempt,
                max_retries,
            } => Some(format!(
                "↻ {}: {reason}; retrying from its last checkpoint (retry {attempt} of {max_retries})",
                self.trials[*index].label
            )),
            TrialEvent::Finished { index, outcome } => {
                let label = &self.trials[*index].label;
                let objective = self.trials[*index].objective();
                match outcome {
                    Outcome::Completed(r) if r.status == TrialStatus::Stopped => {
                        self.done += 1;
                        Some(format!(
                            "[{}/{n}] ⏹ {label}: reached its rung at step {} · {objective} {}",
                            self.done,
                            r.steps_done,
                            fmt_ppl(r.objective()),
                        ))
                    }
                    Outcome::Completed(r) if r.metric.is_some() => {
                        self.done += 1;
                        let best = r.metric.as_ref().and_then(|m| {
                            Some(format!(" (best {} at step {})", numbers::fixed(m.best?, 4), m.best_step))
                        });
                        Some(format!(
                            "[{}/{n}] ✓ {label}: {objective} {}{} · {:.1} s",
                            self.done,
                            numbers::opt(r.objective(), 4),
                            best.unwrap_or_default(),
                            r.wall_seconds,
                        ))
                    }
                    Outcome::Completed(r)
                        if final_train_diverged(r.final_train_ppl, r.vocab_size) =>
                    {
                        self.done += 1;
                        Some(format!(
                            "[{}/{n}] ⚠ {label} diverged: train ppl {} (mean of the last \
                             {FINAL_TRAIN_WINDOW} steps), more than {DIVERGED_FACTOR}× what a \
                             model that knows nothing reaches · held-out ppl {}",
                            self.done,
                            fmt_ppl(r.final_train_ppl),
                            fmt_ppl(r.final_heldout_ppl),
                        ))
                    }
                    Outcome::Completed(r) => {
                        self.done += 1;
                        Some(format!(
                            "[{}/{n}] ✓ {label}: held-out ppl {} · train ppl {} (mean of the last \
                             {FINAL_TRAIN_WINDOW} steps) · {:.1} s",
                            self.done,
                            fmt_ppl(r.final_heldout_ppl),
                            fmt_ppl(r.final_train_ppl),
                            r.wall_seconds,
                        ))
                    }
                    Outcome::Failed(reason) => {
                        self.done += 1;
                        self.failed += 1;
                        Some(format!("[{}/{n}] ✗ {label} failed: {reason}", self.done))
                    }
                    Outcome::Interrupted if self.step[*index] > 0 => Some(format!(
                        "⏸ {label}: stopped after step {} of {} (resumes from its last checkpoint)",
                        self.step[*index], self.trials[*index].steps
                    )),
                    Outcome::Interrupted => None,
                }
            }
        }
    }
}

fn fmt_ppl(p: Option<f64>) -> String {
    numbers::opt(p, 2)
}

/// Plain lines on stderr: trial start, every held-out evaluation, trial end.
pub struct PlainReporter {
    tally: Tally,
}

impl PlainReporter {
    /// A reporter for `trials`.
    pub fn new(trials: Vec<TrialLine>) -> PlainReporter {
        PlainReporter {
            tally: Tally::new(trials),
        }
    }
}

/// " · N threads" for a worker given more than one thread, else nothing.
fn threads_note(threads: usize) -> String {
    if threads > 1 {
        format!(" · {threads} threads")
    } else {
        String::new()
    }
}

impl Reporter for PlainReporter {
    fn add(&mut self, trial: TrialLine) {
        self.tally.add(trial);
    }

    fn event(&mut self, event: &TrialEvent) {
        if let TrialEvent::Progress {
            index,
            step,
            train_ppl,
            objective: Some(heldout),
            elapsed_s,
            threads,
        } = event
        {
            let line = &self.tally.trials[*index];
            let rate = *step as f64 / elapsed_s.max(1e-9);
            let eta = line.steps.saturating_sub(*step) as f64 / rate.max(1e-9);
            let train = train_ppl.map_or_else(String::new, |p| {
                format!(" · train ppl {}", numbers::fixed(p, 2))
            });
            eprintln!(
                "  {}: step {step}/{}{train} · {} {} · {rate:.0} steps/s{} · ETA {}",
                line.label,
                line.steps,
                line.objective(),
                numbers::fixed(*heldout, if line.metric.is_some() { 4 } else { 2 }),
                threads_note(*threads),
                humantime::format_duration(Duration::from_secs(eta.round() as u64)),
            );
        }
        if let Some(line) = self.tally.line(event) {
            eprintln!("{line}");
        }
    }

    fn notice(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

/// Live bars: one for the whole sweep, one per running trial.
pub struct TerminalReporter {
    tally: Tally,
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Vec<Option<ProgressBar>>,
    heldout: Vec<Option<f64>>,
    counted: Vec<usize>,
    running: usize,
}

impl TerminalReporter {
    /// A reporter for `trials`, drawing on stderr.
    pub fn new(trials: Vec<TrialLine>) -> TerminalReporter {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total: usize = trials.iter().map(|t| t.steps).sum();
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template(
                "{spinner} sweep [{elapsed_precise}] {wide_bar:.cyan/blue} {percent:>3}% · ETA {eta} · {msg}",
            )
            .expect("valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        let n = trials.len();
        let r = TerminalReporter {
            tally: Tally::new(trials),
            multi,
            overall,
            bars: vec![None; n],
            heldout: vec![None; n],
            counted: vec![0; n],
            running: 0,
        };
        r.refresh_message();
        r
    }

    fn refresh_message(&self) {
        let t = &self.tally;
        let mut msg = format!(
            "{}/{} trials done · {} running",
            t.done,
            t.trials.len(),
            self.running
        );
        if t.failed > 0 {
            msg.push_str(&format!(" · {} failed", t.failed));
        }
        self.overall.set_message(msg);
    }

    /// Moves the overall bar to account for `step` steps of trial `index`.
    fn count(&mut self, index: usize, step: usize) {
        self.overall
            .inc(step.saturating_sub(self.counted[index]) as u64);
        self.counted[index] = self.counted[index].max(step);
    }
}

impl Reporter for TerminalReporter {
    fn add(&mut self, trial: TrialLine) {
        self.overall.inc_length(trial.steps as u64);
        self.tally.add(trial);
        self.bars.push(None);
        self.heldout.push(None);
        self.counted.push(0);
        self.refresh_message();
    }

    fn event(&mut self, event: &TrialEvent) {
        let line = self.tally.line(event);
        match event {
            TrialEvent::Started {
                index,
                steps,
                resumed_from,
            } => {
                if self.bars[*index].is_none() {
                    self.running += 1;
                }
                self.count(*index, *resumed_from);
                let bar = self.multi.add(ProgressBar::new(*steps as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix:<36!} {bar:24.green/white} {pos:>6}/{len:<6} {msg} · ETA {eta:>4}",
                    )
                    .expect("valid template")
                    .progress_chars("━╸─"),
                );
                bar.set_prefix(self.tally.trials[*index].label.clone());
                bar.set_position(*resumed_from as u64);
                bar.reset_eta();
                bar.set_message(match &self.tally.trials[*index].metric {
                    Some(metric) => format!("{metric} –"),
                    None => "ppl      – · held-out      –".to_string(),
                });
                if let Some(old) = self.bars[*index].replace(bar) {
                    old.finish_and_clear();
                    self.multi.remove(&old);
                }
            }
            TrialEvent::Progress {
                index,
                step,
                train_ppl,
                objective,
                elapsed_s,
                threads,
            } => {
                self.count(*index, *step);
                if objective.is_some() {
                    self.heldout[*index] = *objective;
                }
                if let Some(bar) = &self.bars[*index] {
                    bar.set_position(*step as u64);
                    let rate = *step as f64 / elapsed_s.max(1e-9);
                    let heldout = self.heldout[*index].map_or_else(
                        || "     –".into(),
                        |h| format!("{:>6}", numbers::fixed(h, 2)),
                    );
                    let line = &self.tally.trials[*index];
                    bar.set_message(match (&line.metric, train_ppl) {
                        (Some(metric), _) => format!(
                            "{metric} {} · {rate:>4.0} steps/s",
                            self.heldout[*index]
                                .map_or_else(|| "–".into(), |h| numbers::fixed(h, 4)),
                        ),
                        (None, train_ppl) => format!(
                            "ppl {:>6} · held-out {heldout} · {rate:>4.0} steps/s{}",
                            train_ppl.map_or_else(|| "–".to_string(), |p| numbers::fixed(p, 2)),
                            threads_note(*threads)
                        ),
                    });
                }
            }
            TrialEvent::Warning { .. } | TrialEvent::Retrying { .. } => {}
            TrialEvent::Finished { index, outcome } => {
                if !matches!(outcome, Outcome::Interrupted) {
                    self.count(*index, self.tally.trials[*index].steps);
                }
                if let Some(bar) = self.bars[*index].take() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                    self.running -= 1;
                }
            }
        }
        if let Some(line) = line {
            let _ = self.multi.println(line);
        }
        self.refresh_message();
    }

    fn notice(&mut self, message: &str) {
        let _ = self.multi.println(message);
    }

    fn tick(&mut self) {
        self.overall.tick();
    }

    fn finish(&mut self) {
        self.overall.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_for_a_resumed_retried_and_interrupted_trial() {
        let mut t = Tally::new(vec![TrialLine {
            label: "hidden=8".into(),
            steps: 100,
            metric: None,
        }]);
        let started = TrialEvent::Started {
            index: 0,
            steps: 100,
            resumed_from: 40,
        };
        assert_eq!(t.line(&started).unwrap(), "resumed hidden=8 at step 40/100");
        let retry = TrialEvent::Retrying {
            index: 0,
            reason: "worker was killed by signal 9".into(),
            attempt: 1,
            max_retries: 2,
        };
        assert!(t.line(&retry).unwrap().contains("retry 1 of 2"));
        let progress = TrialEvent::Progress {
            index: 0,
            step: 57,
            train_ppl: Some(9.0),
            objective: None,
            elapsed_s: 1.0,
            threads: 1,
        };
        assert_eq!(t.line(&progress), None);
        let stopped = TrialEvent::Finished {
            index: 0,
            outcome: Outcome::Interrupted,
        };
        assert!(t
            .line(&stopped)
            .unwrap()
            .contains("stopped after step 57 of 100"));
        assert_eq!((t.done, t.failed), (0, 0));
    }
}
