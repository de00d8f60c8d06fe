//! The training loop: sample a batch, forward, mean cross-entropy, backward, Adam; measure
//! held-out loss every `eval_every` steps and after the last one. Stops with an error as soon
//! as the loss is not finite.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::adam::{Adam, AdamConfig};
use crate::data::batch::{self, Batch, Split};
use crate::model::{self, rnn::cross_entropy, LanguageModel};
use crate::spec::TrainParams;

/// Held-out windows evaluated per forward pass (bounds memory, not the result).
const EVAL_ROWS: usize = 256;

/// What one training step produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRecord {
    /// 1-based step number.
    pub step: usize,
    /// Mean cross-entropy of this step's batch (before the update).
    pub train_loss: f64,
    /// Mean cross-entropy over the held-out part after this step, when it was measured.
    pub heldout_loss: Option<f64>,
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error("{what} became {value} at step {step}")]
    NonFinite {
        step: usize,
        what: &'static str,
        value: f64,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The step sink failed (e.g. the metrics file could not be written).
    #[error(transparent)]
    Sink(anyhow::Error),
}

/// A model with its optimizer and random generator: the whole state of a training run.
pub struct Trainer {
    model: Box<dyn LanguageModel>,
    adam: Adam,
    rng: ChaCha8Rng,
    params: TrainParams,
    device: Device,
    step: usize,
}

impl Trainer {
    /// A freshly initialised model for `vocab` characters. The seed drives the initialisation
    /// first and the batch sampling after it, from one ChaCha8 stream.
    pub fn new(params: &TrainParams, vocab: usize) -> candle_core::Result<Trainer> {
        let device = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let model = model::build(params, vocab, &mut rng, &device)?;
        let vars = model
            .parameters()
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect();
        let adam = Adam::new(
            vars,
            AdamConfig {
                lr: params.lr,
                ..AdamConfig::default()
            },
        )?;
        Ok(Trainer {
            model,
            adam,
            rng,
            params: params.clone(),
            device,
            step: 0,
        })
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn LanguageModel {
        self.model.as_ref()
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// One optimizer step on a freshly sampled batch; returns the batch's mean cross-entropy.
    pub fn step(&mut self, train: &[u32]) -> candle_core::Result<f64> {
        let b = batch::sample(
            train,
            self.params.batch_size,
            self.params.seq_len,
            &mut self.rng,
        );
        let loss = self.loss(&b)?;
        let value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        self.adam.step(&loss.backward()?)?;
        self.step += 1;
        Ok(value)
    }

    /// Mean cross-entropy over the whole held-out part, windows of `seq_len`, zero state.
    pub fn evaluate(&self, heldout: &[u32]) -> candle_core::Result<f64> {
        let mut total = 0.0;
        let mut count = 0usize;
        for b in batch::heldout_batches(heldout, self.params.seq_len, EVAL_ROWS) {
            let loss = self.loss(&b)?.detach();
            let n = b.inputs.len();
            total += loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()? * n as f64;
            count += n;
        }
        Ok(total / count as f64)
    }

    fn loss(&self, b: &Batch) -> candle_core::Result<Tensor> {
        let inputs = Tensor::from_slice(&b.inputs, (b.rows, b.seq_len), &self.device)?;
        let targets = Tensor::from_slice(&b.targets, b.targets.len(), &self.device)?;
        cross_entropy(&self.model.logits(&inputs)?, &targets)
    }
}

/// Trains until `params.steps`, handing every step to `sink`.
pub fn run(
    trainer: &mut Trainer,
    data: &Split,
    sink: &mut dyn FnMut(&StepRecord) -> anyhow::Result<()>,
) -> Result<(), TrainError> {
    let steps = trainer.params.steps;
    let eval_every = trainer.params.eval_every;
    while trainer.step < steps {
        let train_loss = trainer.step(&data.train)?;
        let step = trainer.step;
        if !train_loss.is_finite() {
            return Err(TrainError::NonFinite {
                step,
                what: "training loss",
                value: train_loss,
            });
        }
        let heldout_loss = if step.is_multiple_of(eval_every) || step == steps {
            let loss = trainer.evaluate(&data.heldout)?;
            if !loss.is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    what: "held-out loss",
                    value: loss,
                });
            }
            Some(loss)
        } else {
            None
        };
        sink(&StepRecord {
            step,
            train_loss,
            heldout_loss,
        })
        .map_err(TrainError::Sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Corpus, Vocab};

    fn data() -> (Split, usize) {
        let corpus = Corpus::builtin();
        let vocab = Vocab::from_text(&corpus.text);
        (Split::new(vocab.encode(&corpus.text)), vocab.len())
    }

    fn params(seed: u64, lr: f64) -> TrainParams {
        TrainParams {
            hidden: 32,
            batch_size: 8,
            steps: 60,
            eval_every: 20,
            seed,
            lr,
            ..TrainParams::default()
        }
    }

    fn records(p: &TrainParams) -> Result<Vec<StepRecord>, TrainError> {
        let (split, vocab) = data();
        let mut trainer = Trainer::new(p, vocab).unwrap();
        let mut out = Vec::new();
        run(&mut trainer, &split, &mut |r| {
            out.push(*r);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn training_reduces_loss_and_evaluates_on_schedule() {
        let r = records(&params(0, 0.01)).unwrap();
        assert_eq!(r.len(), 60);
        assert_eq!(
            r.iter().map(|s| s.step).collect::<Vec<_>>(),
            (1..=60).collect::<Vec<_>>()
        );
        let evals: Vec<usize> = r
            .iter()
            .filter(|s| s.heldout_loss.is_some())
            .map(|s| s.step)
            .collect();
        assert_eq!(evals, [20, 40, 60]);
        // An untrained model is near ln(44) ≈ 3.8 or worse; 60 steps reach well below.
        let first = r[0].train_loss;
        let last = r[50..].iter().map(|s| s.train_loss).sum::<f64>() / 10.0;
        assert!(
            first > 3.5 && last < first - 0.8,
            "first {first}, last {last}"
        );
        assert!(r[59].heldout_loss.unwrap() < r[19].heldout_loss.unwrap() + 0.1);
    }

    #[test]
    fn same_seed_same_numbers_other_seed_other_numbers() {
        let a = records(&params(5, 0.01)).unwrap();
        assert_eq!(a, records(&params(5, 0.01)).unwrap());
        assert_ne!(a, records(&params(6, 0.01)).unwrap());
    }

    #[test]
    fn an_absurd_learning_rate_stops_with_a_non_finite_loss() {
        let err = records(&params(0, 1e38)).unwrap_err();
        assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
        assert!(err.to_string().contains("became NaN"), "{err}");
    }
}
