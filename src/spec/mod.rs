//! The grid file: parsing and validation ([`grid_file`]), the training parameters
//! ([`params`]), a user's program and its free-form parameters ([`program`],
//! [`trial_params`]), several objectives and constraints ([`objectives`]), ranges and random search ([`search`]), TPE's proposals ([`tpe`]), what
//! each trial needs ([`resources`]), the Slurm section ([`slurm`]), and expansion into trials
//! with stable ids ([`plan`]).

pub mod grid_file;
pub mod objectives;
pub mod params;
pub mod plan;
pub mod program;
pub mod resources;
pub mod search;
pub mod slurm;
pub mod tpe;
pub mod trial_params;

pub use grid_file::{GridSpec, SpecError};
pub use objectives::{Constraint, Measure, Objectives};
pub use params::{display_value, Cell, OptimizerKind, RunOptions, Sampling, TrainParams};
pub use plan::{CorpusRef, Plan, Trial, TrialConfig, TrialKind};
pub use program::{MetricSpec, Mode, ProgramParams, ProgramRef};
pub use resources::{GpuShare, Resources};
pub use search::{Domain, Search, Tpe};
pub use slurm::SlurmOptions;
pub use trial_params::{Params, ParamsRef};
