//! The grid file: parsing and validation ([`grid_file`]), the training parameters
//! ([`params`]), ranges and random search ([`search`]), and expansion into trials with stable
//! ids ([`plan`]).

pub mod grid_file;
pub mod params;
pub mod plan;
pub mod search;
pub mod slurm;
pub mod tpe;

pub use grid_file::{GridSpec, SpecError};
pub use params::{display_value, Cell, OptimizerKind, RunOptions, Sampling, TrainParams};
pub use plan::{CorpusRef, Plan, Trial, TrialConfig};
pub use search::{Domain, Search, Tpe};
pub use slurm::SlurmOptions;
