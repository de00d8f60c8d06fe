//! Training: the optimizers ([`adam`], [`sgd`], one type for both in [`optimizer`]), gradient
//! clipping ([`clip`]), training steps with held-out evaluation ([`trainer`]) and the encoding
//! of a run's complete state ([`checkpoint`]). Nothing here
//! knows about files or processes: the worker decides when to checkpoint and where to write.

pub mod adam;
pub mod checkpoint;
pub mod clip;
mod elements;
pub mod optimizer;
pub mod sgd;
pub mod trainer;

pub use adam::{Adam, AdamConfig};
pub use checkpoint::TrainingState;
pub use trainer::{StepRecord, TrainError, Trainer};
