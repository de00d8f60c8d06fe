//! `trials/<id>/attempts.jsonl`: when each worker attempt on a trial ran, written by the worker
//! as the attempt ends (one JSON line each): when it started, how long it ran, the budget it
//! trained to, the steps done and how it ended. Reports read it for start and finish times, the
//! time each rung's result was known, and the workers' busy time. An attempt killed outright
//! leaves no line.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// File name inside a trial folder.
pub const FILE: &str = "attempts.jsonl";

/// One worker attempt on a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started, in seconds since the Unix epoch.
    pub started_at: f64,
    /// How long it ran, in seconds.
    pub seconds: f64,
    /// The step it was asked to reach (a rung of early stopping, or the trial's steps).
    pub budget: usize,
    /// The steps done when it ended.
    pub steps_done: usize,
    /// How it ended: "completed", "stopped" (at its budget), "failed" or "interrupted".
    pub end: String,
    /// The GPUs it was placed on (`0,1`), when the run placed trials on GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<String>,
}

impl Attempt {
    /// When it ended, in seconds since the Unix epoch.
    pub fn finished_at(&self) -> f64 {
        self.started_at + self.seconds
    }
}

/// Appends `attempt` to the trial folder `dir`.
pub fn append(dir: &Path, attempt: &Attempt) -> anyhow::Result<()> {
    super::decision_log::append(&dir.join(FILE), attempt)
}

/// The attempts recorded in the trial folder `dir`, in order; lines that cannot be read (a
/// torn last line) are left out.
pub fn read(dir: &Path) -> Vec<Attempt> {
    std::fs::read_to_string(dir.join(FILE))
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Seconds since the Unix epoch now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `seconds` since the Unix epoch as an RFC 3339 time in UTC, to the millisecond.
pub fn rfc3339(seconds: f64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(seconds.max(0.0));
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_round_trip_and_a_torn_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let a = Attempt {
            started_at: 1_700_000_000.25,
            seconds: 1.5,
            budget: 100,
            steps_done: 100,
            end: "stopped".into(),
            gpus: None,
        };
        append(dir.path(), &a).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"started_at\": 17"))
            .unwrap();
        assert_eq!(read(dir.path()), vec![a.clone()]);
        assert_eq!(a.finished_at(), 1_700_000_001.75);
        assert_eq!(rfc3339(a.started_at), "2023-11-14T22:13:20.250Z");
    }
}
