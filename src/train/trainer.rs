//! Training steps: sample a batch, forward, mean cross-entropy, backward, clipping when asked,
//! the optimizer; held-out loss
//! every `eval_every` steps and after the last one; an error as soon as a loss is not finite.
//! The caller owns the loop (and so decides when to checkpoint or stop).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::TrainingState;
use super::clip::clip_grad_norm;
use super::optimizer::Optimizer;
use crate::data::batch::{self, Batch, Split, StreamCursor};
use crate::model::{self, LanguageModel};
use crate::spec::{Sampling, TrainParams};

/// Held-out windows evaluated per forward pass: bounds the memory of an evaluation to about
/// that of a training step (peak RSS of a hidden-300/batch-64 worker: 109 MB at 256, 73 MB at
/// 64); the result does not depend on it beyond rounding.
const EVAL_ROWS: usize = 64;

/// The checkpoint tensor holding sequential sampling's carried state.
const CARRY: &str = "carry.state";

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
}

/// A model with its optimizer and random generator: the whole state of a training run.
pub struct Trainer {
    model: Box<dyn LanguageModel>,
    optimizer: Optimizer,
    vars: Vec<candle_core::Var>,
    rng: ChaCha8Rng,
    params: TrainParams,
    device: Device,
    step: usize,
    eval_time: std::time::Duration,
    /// Sequential sampling: where the stream stands, and the state after the last batch.
    stream: Option<StreamCursor>,
    carry: Option<Tensor>,
}

impl Trainer {
    /// A freshly initialised model for `vocab` characters. The seed drives the initialisation
    /// first and the batch sampling after it, from one ChaCha8 stream.
    pub fn new(params: &TrainParams, vocab: usize) -> candle_core::Result<Trainer> {
        Trainer::with_model(params, |rng, device| {
            model::build(params, vocab, rng, device)
        })
    }

    /// Like [`Trainer::new`], with the model `build` makes from the seeded generator (for
    /// benchmarks that compare implementations of one model).
    pub fn with_model(
        params: &TrainParams,
        build: impl FnOnce(&mut ChaCha8Rng, &Device) -> candle_core::Result<Box<dyn LanguageModel>>,
    ) -> candle_core::Result<Trainer> {
        let device = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let model = build(&mut rng, &device)?;
        let vars: Vec<_> = model
            .parameters()
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect();
        let optimizer = Optimizer::new(params.optimizer, vars.clone(), params.lr)?;
        Ok(Trainer {
            model,
            optimizer,
            vars,
            rng,
            params: params.clone(),
            device,
            step: 0,
            eval_time: std::time::Duration::ZERO,
            stream: None,
            carry: None,
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

    /// One optimizer step on the next batch; returns the batch's mean cross-entropy.
    pub fn step(&mut self, train: &[u32]) -> candle_core::Result<f64> {
        let (rows, len) = (self.params.batch_size, self.params.seq_len);
        let (b, fresh) = match self.params.sampling {
            Sampling::Block => (batch::sample(train, rows, len, &mut self.rng), true),
            Sampling::Random => (batch::sample_random(train, rows, len, &mut self.rng), true),
            Sampling::Sequential => {
                batch::sample_sequential(train, rows, len, &mut self.stream, &mut self.rng)
            }
        };
        let inputs = Tensor::from_slice(&b.inputs, (b.rows, b.seq_len), &self.device)?;
        let targets = Tensor::from_slice(&b.targets, (b.rows, b.seq_len), &self.device)?;
        let loss = if self.params.sampling == Sampling::Sequential {
            let carried = if fresh { None } else { self.carry.as_ref() };
            let (loss, last) =
                self.model
                    .training_loss_carrying(&inputs, &targets, carried, &mut self.rng)?;
            self.carry = Some(last);
            loss
        } else {
            self.model.training_loss(&inputs, &targets, &mut self.rng)?
        };
        let value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        let mut grads = loss.backward()?;
        if let Some(max_norm) = self.params.clip {
            clip_grad_norm(&mut grads, &self.vars, max_norm)?;
        }
        self.optimizer.step(&grads)?;
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

    /// Takes one step, measures the held-out loss when it is due (every `eval_every` steps and
    /// after the last), and fails on a non-finite loss.
    pub fn advance(&mut self, data: &Split) -> Result<StepRecord, TrainError> {
        let train_loss = self.step(&data.train)?;
        let step = self.step;
        if !train_loss.is_finite() {
            return Err(TrainError::NonFinite {
                step,
                what: "training loss",
                value: train_loss,
            });
        }
        let due = step.is_multiple_of(self.params.eval_every) || step == self.params.steps;
        let heldout_loss = if due {
            let started = std::time::Instant::now();
            let loss = self.evaluate(&data.heldout)?;
            self.eval_time += started.elapsed();
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
        Ok(StepRecord {
            step,
            train_loss,
            heldout_loss,
        })
    }

    /// Time spent in held-out evaluations by [`Trainer::advance`] so far (this process only).
    pub fn eval_time(&self) -> std::time::Duration {
        self.eval_time
    }

    /// True once every step of the run is done.
    pub fn finished(&self) -> bool {
        self.step >= self.params.steps
    }

    /// The complete state after the last step, for a checkpoint.
    pub fn state(&self, elapsed_s: f64) -> TrainingState {
        let mut tensors = Vec::new();
        let params = self.model.parameters();
        for (name, var) in &params {
            tensors.push((format!("param.{name}"), var.as_tensor().clone()));
        }
        let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        tensors.extend(self.optimizer.state(&names));
        if let Some(carry) = &self.carry {
            tensors.push((CARRY.to_string(), carry.clone()));
        }
        TrainingState {
            step: self.step,
            elapsed_s,
            rng: self.rng.clone(),
            adam_steps: self.optimizer.steps(),
            stream: self.stream,
            tensors,
        }
    }

    /// Continues from `state` (as produced by [`Trainer::state`] for the same configuration).
    pub fn restore(&mut self, state: TrainingState) -> candle_core::Result<()> {
        let mut by_name: HashMap<String, Tensor> = state.tensors.into_iter().collect();
        let mut take = |key: String| {
            by_name
                .remove(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("checkpoint lacks `{key}`")))
        };
        let params = self.model.parameters();
        for (name, var) in &params {
            let value = take(format!("param.{name}"))?;
            if value.shape() != var.shape() {
                candle_core::bail!(
                    "`{name}` has shape {:?}, expected {:?}",
                    value.shape(),
                    var.shape()
                );
            }
            var.set(&value)?;
        }
        let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        self.optimizer
            .restore(&names, &mut take, state.adam_steps)?;
        self.carry = by_name.remove(CARRY);
        self.stream = state.stream;
        self.rng = state.rng;
        self.step = state.step;
        Ok(())
    }

    /// The model's weights by name (what `model.safetensors` holds).
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        self.model
            .parameters()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.as_tensor().clone()))
            .collect()
    }

    fn loss(&self, b: &Batch) -> candle_core::Result<Tensor> {
        let inputs = Tensor::from_slice(&b.inputs, (b.rows, b.seq_len), &self.device)?;
        let targets = Tensor::from_slice(&b.targets, (b.rows, b.seq_len), &self.device)?;
        self.model.loss(&inputs, &targets)
    }
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
        while !trainer.finished() {
            out.push(trainer.advance(&split)?);
        }
        Ok(out)
    }

    /// A trainer after `steps` steps.
    fn trained(p: &TrainParams, steps: usize) -> Trainer {
        let (split, vocab) = data();
        let mut t = Trainer::new(p, vocab).unwrap();
        for _ in 0..steps {
            t.advance(&split).unwrap();
        }
        t
    }

    /// The records of a fresh trainer restored from `state` (through the checkpoint encoding)
    /// and run to the end.
    fn resumed(p: &TrainParams, state: &TrainingState) -> Vec<StepRecord> {
        let (split, vocab) = data();
        let bytes = crate::train::checkpoint::encode(state).unwrap();
        let mut b = Trainer::new(p, vocab).unwrap();
        b.restore(crate::train::checkpoint::decode(&bytes).unwrap())
            .unwrap();
        let mut rest = Vec::new();
        while !b.finished() {
            rest.push(b.advance(&split).unwrap());
        }
        rest
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

    /// Stop after 23 steps, encode, decode into a fresh trainer, continue: every later number
    /// and the final weights equal those of the uninterrupted run.
    #[test]
    fn a_restored_trainer_continues_bit_identically() {
        let p = params(3, 0.01);
        let (split, vocab) = data();
        let straight = records(&p).unwrap();
        let mut first = Trainer::new(&p, vocab).unwrap();
        for _ in 0..23 {
            first.advance(&split).unwrap();
        }
        let bytes = crate::train::checkpoint::encode(&first.state(1.5)).unwrap();
        drop(first);
        let mut second = Trainer::new(&p, vocab).unwrap();
        let state = crate::train::checkpoint::decode(&bytes).unwrap();
        assert_eq!(state.elapsed_s, 1.5);
        second.restore(state).unwrap();
        let mut rest = Vec::new();
        while !second.finished() {
            rest.push(second.advance(&split).unwrap());
        }
        assert_eq!(rest, straight[23..]);
        let mut reference = Trainer::new(&p, vocab).unwrap();
        while !reference.finished() {
            reference.advance(&split).unwrap();
        }
        for ((n, a), (_, b)) in second.weights().iter().zip(reference.weights()) {
            let (a, b): (Vec<f32>, Vec<f32>) = (
                a.flatten_all().unwrap().to_vec1().unwrap(),
                b.flatten_all().unwrap().to_vec1().unwrap(),
            );
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{n}"
            );
        }
    }

    /// The classic d2l recipe, SGD at learning rate 1 with the gradient norm clipped to 1,
    /// trains; and it resumes bit-identically from a checkpoint (which holds no Adam state).
    #[test]
    fn sgd_with_clipping_trains_and_resumes_exactly() {
        let p = TrainParams {
            optimizer: crate::spec::OptimizerKind::Sgd,
            clip: Some(1.0),
            ..params(4, 1.0)
        };
        let (split, vocab) = data();
        let straight = records(&p).unwrap();
        let first = straight[0].train_loss;
        let last = straight[50..].iter().map(|s| s.train_loss).sum::<f64>() / 10.0;
        assert!(last < first - 0.5, "first {first}, last {last}");
        let mut a = Trainer::new(&p, vocab).unwrap();
        for _ in 0..30 {
            a.advance(&split).unwrap();
        }
        let state = a.state(0.0);
        assert!(state.tensors.iter().all(|(n, _)| n.starts_with("param.")));
        let mut b = Trainer::new(&p, vocab).unwrap();
        b.restore(state).unwrap();
        let mut rest = Vec::new();
        while !b.finished() {
            rest.push(b.advance(&split).unwrap());
        }
        assert_eq!(rest, straight[30..]);
    }

    /// Two LSTM layers with dropout between them (the stacked candle path) train, and resume
    /// bit-identically: the dropout masks come from the checkpointed generator.
    #[test]
    fn stacked_lstm_with_dropout_trains_and_resumes_exactly() {
        let p = TrainParams {
            cell: crate::spec::Cell::Lstm,
            layers: 2,
            dropout: 0.2,
            hidden: 16,
            ..params(7, 0.02)
        };
        let straight = records(&p).unwrap();
        let last = straight[50..].iter().map(|s| s.train_loss).sum::<f64>() / 10.0;
        assert!(last < straight[0].train_loss - 0.5, "{last}");
        let state = trained(&p, 25).state(0.0);
        assert_eq!(resumed(&p, &state), straight[25..]);
    }

    /// Independent random windows train too, on other batches than block sampling.
    #[test]
    fn random_sampling_trains_on_other_batches() {
        let p = TrainParams {
            sampling: Sampling::Random,
            ..params(1, 0.01)
        };
        let random = records(&p).unwrap();
        let block = records(&params(1, 0.01)).unwrap();
        assert_ne!(random[0].train_loss, block[0].train_loss);
        let last = random[50..].iter().map(|s| s.train_loss).sum::<f64>() / 10.0;
        assert!(last < random[0].train_loss - 0.8, "{last}");
    }

    /// Sequential sampling (the d2l recipe with its carried state) trains, and resumes
    /// bit-identically from a checkpoint taken in the middle of a pass, for the fused RNN and
    /// a stacked GRU.
    #[test]
    fn sequential_sampling_trains_and_resumes_exactly() {
        for (cell, layers) in [(crate::spec::Cell::Rnn, 1), (crate::spec::Cell::Gru, 2)] {
            let p = TrainParams {
                sampling: Sampling::Sequential,
                cell,
                layers,
                ..params(8, 0.01)
            };
            let straight = records(&p).unwrap();
            let last = straight[50..].iter().map(|s| s.train_loss).sum::<f64>() / 10.0;
            assert!(last < straight[0].train_loss - 0.5, "{cell:?}: {last}");
            let state = trained(&p, 17).state(0.0);
            assert_eq!(state.stream.map(|c| c.next), Some(17), "mid-pass");
            let carry = state.tensors.iter().find(|(n, _)| n == CARRY).unwrap();
            assert_eq!(carry.1.dims(), [layers, 8, 32]);
            assert_eq!(resumed(&p, &state), straight[17..], "{cell:?}");
        }
    }

    /// Clipping changes the run when gradients exceed the bound (a tiny bound always does).
    #[test]
    fn clipping_changes_the_trajectory() {
        let plain = records(&params(2, 0.01)).unwrap();
        let clipped = records(&TrainParams {
            clip: Some(1e-3),
            ..params(2, 0.01)
        })
        .unwrap();
        assert_eq!(plain[0].train_loss, clipped[0].train_loss);
        assert_ne!(plain[59].train_loss, clipped[59].train_loss);
    }

    #[test]
    fn a_checkpoint_of_another_shape_is_refused() {
        let (_, vocab) = data();
        let small = Trainer::new(&params(0, 0.01), vocab).unwrap();
        let mut big = Trainer::new(
            &TrainParams {
                hidden: 33,
                ..params(0, 0.01)
            },
            vocab,
        )
        .unwrap();
        let err = big.restore(small.state(0.0)).unwrap_err().to_string();
        assert!(err.contains("has shape"), "{err}");
    }

    #[test]
    fn an_absurd_learning_rate_stops_with_a_non_finite_loss() {
        let err = records(&params(0, 1e38)).unwrap_err();
        assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
        assert!(err.to_string().contains("became NaN"), "{err}");
    }
}
