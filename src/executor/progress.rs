//! Progress display of a running sweep, fed by [`TrialEvent`]s: live bars on a terminal
//! (indicatif), plain log lines otherwise (CI logs, files, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::local::{Outcome, TrialEvent};

/// Receives the events of a run, in order, from the dispatcher.
pub trait Reporter {
    /// A trial started, advanced or ended.
    fn event(&mut self, event: &TrialEvent);
    /// Called periodically, to refresh time-based displays.
    fn tick(&mut self) {}
    /// The run is over.
    fn finish(&mut self) {}
}

/// What the reporter knows about one trial to run.
#[derive(Debug, Clone)]
pub struct TrialLine {
    /// Label shown for the trial.
    pub label: String,
    /// Steps it will train.
    pub steps: usize,
}

/// The live display on a terminal, plain lines on stderr otherwise.
pub fn for_stderr(trials: Vec<TrialLine>) -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Box::new(TerminalReporter::new(trials))
    } else {
        Box::new(PlainReporter::new(trials))
    }
}

/// Bookkeeping shared by both displays.
struct Tally {
    trials: Vec<TrialLine>,
    started: Vec<Option<Instant>>,
    done: usize,
    failed: usize,
}

impl Tally {
    fn new(trials: Vec<TrialLine>) -> Tally {
        Tally {
            started: vec![None; trials.len()],
            trials,
            done: 0,
            failed: 0,
        }
    }

    fn finished_line(&mut self, index: usize, outcome: &Outcome) -> String {
        let secs = self.started[index].map_or(0.0, |t| t.elapsed().as_secs_f64());
        let label = &self.trials[index].label;
        self.done += 1;
        let n = self.trials.len();
        match outcome {
            Outcome::Completed(r) => format!(
                "[{}/{n}] ✓ {label}: held-out ppl {} · train ppl {} · {secs:.1} s",
                self.done,
                fmt_ppl(r.final_heldout_ppl),
                fmt_ppl(r.final_train_ppl),
            ),
            Outcome::Failed(reason) => {
                self.failed += 1;
                format!("[{}/{n}] ✗ {label} failed: {reason}", self.done)
            }
        }
    }
}

fn fmt_ppl(p: Option<f64>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("{p:.2}"))
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

impl Reporter for PlainReporter {
    fn event(&mut self, event: &TrialEvent) {
        match event {
            TrialEvent::Started { index, steps } => {
                self.tally.started[*index] = Some(Instant::now());
                eprintln!(
                    "started {} ({steps} steps)",
                    self.tally.trials[*index].label
                );
            }
            TrialEvent::Progress {
                index,
                step,
                train_ppl,
                heldout_ppl: Some(heldout),
                elapsed_s,
            } => {
                let line = &self.tally.trials[*index];
                let rate = *step as f64 / elapsed_s.max(1e-9);
                let eta = (line.steps - step) as f64 / rate.max(1e-9);
                eprintln!(
                    "  {}: step {step}/{} · train ppl {train_ppl:.2} · held-out ppl {heldout:.2} · {rate:.0} steps/s · ETA {}",
                    line.label,
                    line.steps,
                    humantime::format_duration(Duration::from_secs(eta.round() as u64)),
                );
            }
            TrialEvent::Progress { .. } => {}
            TrialEvent::Finished { index, outcome } => {
                let line = self.tally.finished_line(*index, outcome);
                eprintln!("{line}");
            }
        }
    }
}

/// Live bars: one for the whole sweep, one per running trial.
pub struct TerminalReporter {
    tally: Tally,
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Vec<Option<ProgressBar>>,
    position: Vec<usize>,
    heldout: Vec<Option<f64>>,
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
            position: vec![0; n],
            heldout: vec![None; n],
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
}

impl Reporter for TerminalReporter {
    fn event(&mut self, event: &TrialEvent) {
        match event {
            TrialEvent::Started { index, steps } => {
                self.tally.started[*index] = Some(Instant::now());
                self.running += 1;
                let bar = self.multi.add(ProgressBar::new(*steps as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix:<36!} {bar:24.green/white} {pos:>6}/{len:<6} {msg} · ETA {eta:>4}",
                    )
                    .expect("valid template")
                    .progress_chars("━╸─"),
                );
                bar.set_prefix(self.tally.trials[*index].label.clone());
                bar.set_message("ppl –");
                self.bars[*index] = Some(bar);
                self.refresh_message();
            }
            TrialEvent::Progress {
                index,
                step,
                train_ppl,
                heldout_ppl,
                elapsed_s,
            } => {
                self.overall
                    .inc(step.saturating_sub(self.position[*index]) as u64);
                self.position[*index] = *step;
                if heldout_ppl.is_some() {
                    self.heldout[*index] = *heldout_ppl;
                }
                if let Some(bar) = &self.bars[*index] {
                    bar.set_position(*step as u64);
                    let rate = *step as f64 / elapsed_s.max(1e-9);
                    let heldout = self.heldout[*index]
                        .map_or_else(|| "     –".into(), |h| format!("{h:>6.2}"));
                    bar.set_message(format!(
                        "ppl {train_ppl:>6.2} · held-out {heldout} · {rate:>4.0} steps/s"
                    ));
                }
            }
            TrialEvent::Finished { index, outcome } => {
                let steps = self.tally.trials[*index].steps;
                self.overall
                    .inc(steps.saturating_sub(self.position[*index]) as u64);
                self.position[*index] = steps;
                if let Some(bar) = self.bars[*index].take() {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                    self.running -= 1;
                }
                let line = self.tally.finished_line(*index, outcome);
                let _ = self.multi.println(line);
                self.refresh_message();
            }
        }
    }

    fn tick(&mut self) {
        self.overall.tick();
    }

    fn finish(&mut self) {
        self.overall.finish_and_clear();
    }
}
