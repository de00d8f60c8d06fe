//! Running trials: the worker entry point that trains one trial folder ([`worker`]), the
//! messages it sends its orchestrator ([`protocol`]), the local executor that runs workers as
//! concurrent processes under tokio ([`local`]) sharing the cores ([`cores`]), and the progress
//! display ([`progress`]), and the Slurm executor that runs the same workers as job arrays
//! ([`slurm`]).

pub mod cores;
pub mod local;
pub mod progress;
pub mod protocol;
pub mod slurm;
pub mod worker;

pub use local::{LocalExecutor, Outcome, TrialEvent};
pub use slurm::{SlurmExecutor, SlurmRun};
