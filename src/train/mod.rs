//! Training: the Adam optimizer ([`adam`]) and the training loop with held-out evaluation
//! ([`trainer`]). The loop knows nothing about files or processes: it reports each step to a
//! caller-supplied sink.

pub mod adam;
pub mod trainer;

pub use adam::{Adam, AdamConfig};
pub use trainer::{run, StepRecord, TrainError, Trainer};
