//! Definitions that the worker, the orchestrator and the reports share, so that none of them
//! imports another for them: the window of the final training perplexity, the divergence rule,
//! how numbers are written for people ([`numbers`]), and how configurations compare on several
//! objectives ([`pareto`]). Imports nothing of this crate.

pub mod numbers;
pub mod pareto;

/// Training steps averaged for the final training perplexity (the worker's `result.json` and
/// every table use the same window).
pub const FINAL_TRAIN_WINDOW: usize = 50;

/// A run has diverged when its final training perplexity is more than this many times what a
/// model that knows nothing reaches (the vocabulary size: a uniform guess), or infinite.
pub const DIVERGED_FACTOR: f64 = 2.0;

/// Whether a completed trial's headline numbers already show that it diverged: its final
/// training perplexity is not finite, or beyond [`DIVERGED_FACTOR`] × the vocabulary size. For
/// the live display; reports decide from the whole curve (`report::analysis::measure`).
pub fn final_train_diverged(final_train_ppl: Option<f64>, vocab_size: Option<usize>) -> bool {
    match final_train_ppl {
        Some(p) if !p.is_finite() => true,
        Some(p) => vocab_size.is_some_and(|v| p > DIVERGED_FACTOR * v as f64),
        None => false,
    }
}
