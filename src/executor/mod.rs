//! Running trials: the worker entry point that trains one trial folder ([`worker`]) and the
//! messages it exchanges with its orchestrator ([`protocol`]); the trial lifecycle shared by
//! every executor ([`supervise`]), which drives a backend: worker processes on this machine
//! under tokio ([`local`], sharing the cores: [`cores`], placed on GPUs: [`gpus`]) or Slurm
//! job arrays ([`slurm`]); and the progress display ([`progress`]), both fed the run's
//! [`events`]. The worker side runs a program trial through [`program`], measuring what it
//! uses of its GPUs ([`gpu_usage`]). [`replay`] plays stored full-budget runs on a virtual
//! clock, for scheduler benchmarks at scales this machine cannot hold.

pub mod cores;
pub mod events;
pub mod gpu_usage;
pub mod gpus;
pub mod local;
pub mod program;
pub mod progress;
pub mod protocol;
pub mod replay;
pub mod slurm;
pub mod supervise;
pub mod worker;

pub use local::LocalExecutor;
pub use slurm::{SlurmExecutor, SlurmRun};
pub use supervise::{Outcome, TrialEvent};
