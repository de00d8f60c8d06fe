//! What the supervisor tells the progress display and the run report: the events of a run's
//! trials ([`TrialEvent`], [`Outcome`]) and the [`Reporter`] that receives them, apart from
//! both so that neither imports the other.

use crate::store::TrialResult;

/// How a trial ended in a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The worker trained every step asked of it (all of them, or up to a rung's budget).
    Completed(TrialResult),
    /// The trial failed; the reason is also in its `result.json`.
    Failed(String),
    /// The run was stopped before the trial finished; its checkpoint (if any) stays.
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
        /// Training perplexity (none for a program trial).
        train_ppl: Option<f64>,
        /// The objective, when measured at this step: the model's held-out perplexity, or a
        /// program's metric.
        objective: Option<f64>,
        /// Seconds the worker has been training.
        elapsed_s: f64,
        /// Threads the worker trains on now.
        threads: usize,
    },
    /// Its worker warned about something (e.g. a damaged checkpoint it skipped).
    Warning { index: usize, message: String },
    /// Its attempt ended without a result; it is started again from the last checkpoint.
    Retrying {
        index: usize,
        reason: String,
        attempt: u32,
        max_retries: u32,
    },
    /// It ended.
    Finished { index: usize, outcome: Outcome },
}

/// Receives the events of a run, in order, from the dispatcher.
pub trait Reporter {
    /// A trial joins the run (the next index, counting from 0).
    fn add(&mut self, _trial: TrialLine) {}
    /// A trial started, advanced or ended.
    fn event(&mut self, event: &TrialEvent);
    /// A message about the whole run (e.g. that it is stopping).
    fn notice(&mut self, message: &str);
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
    /// A program trial's metric (`None`: the built-in model's held-out perplexity).
    pub metric: Option<String>,
}

impl TrialLine {
    /// What its objective is called: "held-out ppl" or the program's metric.
    pub(super) fn objective(&self) -> &str {
        self.metric.as_deref().unwrap_or("held-out ppl")
    }
}
