//! sweep: hyperparameter sweeps for character-level language models trained with candle.
//!
//! The pipeline, one module each: [`spec`] (grid file → trials) → [`store`] (the results
//! folder) → [`executor`] (worker processes running [`train`] on [`model`]s over [`data`]) →
//! [`report`] (CSVs and summary). [`schedule`] decides what trains next (early stopping, TPE),
//! [`serve`] is the live dashboard, [`sample`] generates text from a trained trial, and
//! [`measures`] holds the definitions and number formatting that workers, orchestrator and
//! reports share. [`cli`] and [`commands`] are the command-line front end; [`ops`] does
//! what the commands ask, below them.

pub mod cli;
pub mod commands;
pub mod data;
pub mod executor;
pub mod measures;
pub mod model;
pub mod ops;
pub mod report;
pub mod sample;
pub mod schedule;
pub mod serve;
pub mod spec;
pub mod store;
pub mod train;

/// mimalloc: candle allocates (and zero-fills) fresh buffers for every op of every step; a
/// faster allocator speeds training up measurably (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
