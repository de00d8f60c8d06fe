//! Messages between a worker and its orchestrator, one JSON object per line: the worker prints
//! [`WorkerMessage`]s on stdout (they only drive the progress display: the trial folder is the
//! record of what happened), the orchestrator writes [`OrchestratorMessage`]s to its stdin.

use serde::{Deserialize, Serialize};

/// The GPUs a worker was placed on (`0,1`), set by the orchestrator; the worker records them
/// with its attempt.
pub const GPUS_ENV: &str = "SWEEP_GPUS";

/// Environment variable holding the PID of the orchestrator that started a worker: the worker
/// asks the kernel for SIGTERM when that process goes (see `commands::worker`).
pub const PARENT_PID_ENV: &str = "SWEEP_PARENT_PID";

/// One line of worker output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// Training starts.
    Started {
        /// Steps the trial will train.
        steps: usize,
        /// Trainable parameters.
        parameters: usize,
        /// The step training continues from (0 for a fresh start).
        resumed_from: usize,
    },
    /// A program trial's program started, in a process group of its own.
    Program {
        /// The group's id: what the program leaves behind is killed with the worker.
        pgid: i32,
    },
    /// Something the user should know (e.g. a damaged checkpoint was skipped).
    Warning {
        /// What happened.
        message: String,
    },
    /// Training advanced (sent at most a few times per second, and at every evaluation).
    Progress {
        /// Steps done.
        step: usize,
        /// Training perplexity of the last step (none for a program trial).
        #[serde(default)]
        train_ppl: Option<f64>,
        /// The sweep's objective when measured at this step: the model's held-out perplexity,
        /// or a program's metric (named by the grid file).
        objective: Option<f64>,
        /// Seconds of training so far.
        elapsed_s: f64,
        /// Threads the worker trains on now.
        #[serde(default = "one")]
        threads: usize,
    },
}

fn one() -> usize {
    1
}

/// How a worker run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerEnd {
    /// Trained every step; `result.json` says completed.
    Completed,
    /// Stopped by a non-finite loss; `result.json` says failed.
    Failed,
    /// Asked to stop; a checkpoint was saved and the trial is not finished.
    Interrupted,
}

/// One line of orchestrator input to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OrchestratorMessage {
    /// The worker may now use this many threads (cores freed at the tail of a sweep).
    Threads {
        /// Threads, at least 1.
        threads: usize,
    },
}

impl OrchestratorMessage {
    /// The line the orchestrator writes.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("messages serialize")
    }

    /// Parses a line; `None` for anything else.
    pub fn parse(line: &str) -> Option<OrchestratorMessage> {
        serde_json::from_str(line).ok()
    }
}

impl WorkerMessage {
    /// The line a worker prints.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("messages serialize")
    }

    /// Parses a line; `None` for anything that is not a message (e.g. stray library output).
    pub fn parse(line: &str) -> Option<WorkerMessage> {
        serde_json::from_str(line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_noise_is_ignored() {
        let m = WorkerMessage::Progress {
            step: 3,
            train_ppl: Some(12.5),
            objective: None,
            elapsed_s: 0.25,
            threads: 1,
        };
        assert_eq!(WorkerMessage::parse(&m.to_line()), Some(m));
        assert!(WorkerMessage::parse("warning: something").is_none());
        let t = OrchestratorMessage::Threads { threads: 2 };
        assert_eq!(t.to_line(), r#"{"event":"threads","threads":2}"#);
        assert_eq!(OrchestratorMessage::parse(&t.to_line()), Some(t));
        assert!(OrchestratorMessage::parse("threads 2").is_none());
    }
}
