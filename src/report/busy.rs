//! How busy the workers were: the time worker processes ran (every attempt of every trial,
//! from `attempts.jsonl`) over the sweep's wall time × its concurrent workers.

use super::load::SweepRecord;

/// The workers' busy time of a local sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Busy {
    /// Seconds worker processes ran, all attempts of all trials together.
    pub worker_seconds: f64,
    /// The sweep's wall time, over every run that recorded one.
    pub wall_seconds: f64,
    /// Concurrent workers (`--jobs`).
    pub workers: usize,
}

impl Busy {
    /// The sweep's, when it ran locally to its end and its trials recorded their attempts.
    pub fn of(sweep: &SweepRecord) -> Option<Busy> {
        let m = &sweep.manifest;
        if m.executor.is_some() || sweep.trials.iter().all(|t| t.attempts.is_empty()) {
            return None;
        }
        Some(Busy {
            worker_seconds: sweep.trials.iter().map(|t| t.timing().worker_seconds).sum(),
            wall_seconds: m.wall_seconds.filter(|w| *w > 0.0)?,
            workers: m.jobs.max(1),
        })
    }

    /// Worker time over wall time × workers, from 0 to 1.
    pub fn share(&self) -> f64 {
        self.worker_seconds / (self.wall_seconds * self.workers as f64)
    }

    /// "busy 94% of the time (57.5 s of worker time over 30.5 s × 2 workers)".
    pub fn sentence(&self) -> String {
        format!(
            "busy {:.0}% of the time ({} of worker time over {} × {})",
            100.0 * self.share(),
            super::numbers::duration(self.worker_seconds),
            super::numbers::duration(self.wall_seconds),
            super::numbers::count(self.workers, "worker")
        )
    }
}
