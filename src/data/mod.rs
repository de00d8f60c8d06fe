//! Training data: the corpus ([`corpus`]), its character vocabulary ([`vocab`]) and the
//! train/held-out split with batching ([`batch`]).

pub mod batch;
pub mod corpus;
pub mod vocab;

pub use corpus::{Corpus, CorpusError, CorpusSource};
pub use vocab::Vocab;
