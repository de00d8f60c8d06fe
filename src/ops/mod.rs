//! What the commands do, below the command line: `commands/` parses and prints, `ops/` runs.
//! [`triage`] decides which trials of a plan train and readies their folders, [`training`]
//! trains a set of trials on an executor, [`sweep`] trains a whole plan as its search and
//! early stopping ask, [`placement`] says which GPUs the trials may use.

pub mod placement;
pub mod sweep;
pub mod training;
pub mod triage;
