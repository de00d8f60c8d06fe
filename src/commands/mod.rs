//! One module per command; each returns the process exit code.

pub mod params;
pub mod report;
pub mod run;
pub mod sample;
pub mod serve;
pub mod status;
pub mod worker;

/// Exit codes (as documented in README).
pub mod exit {
    /// Every trial completed.
    pub const OK: u8 = 0;
    /// The sweep ran but some trials failed.
    pub const TRIALS_FAILED: u8 = 1;
    /// Bad input or an error that stopped the sweep.
    pub const FATAL: u8 = 2;
    /// A worker was asked to stop and saved a checkpoint.
    pub const WORKER_INTERRUPTED: u8 = 3;
    /// The sweep was interrupted (Ctrl-C or SIGTERM); re-running it resumes.
    pub const INTERRUPTED: u8 = 130;
}
