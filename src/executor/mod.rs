//! Running trials: the worker entry point that trains one trial folder ([`worker`]), the
//! messages it sends its orchestrator ([`protocol`]), the local executor that runs workers as
//! concurrent processes under tokio ([`local`]) sharing the cores ([`cores`]), and the progress
//! display ([`progress`]).

pub mod cores;
pub mod local;
pub mod progress;
pub mod protocol;
pub mod worker;

pub use local::{LocalExecutor, Outcome, TrialEvent};
