//! Character-level language models behind one small interface, so that the training loop does
//! not depend on how a model computes its logits (a fused kernel can replace the insides).

pub mod count;
pub mod fused;
pub mod generate;
#[cfg(test)]
mod grad_check;
pub mod init;
pub mod kernels;
pub mod rnn;
pub mod stacked;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;

use crate::spec::{Cell, TrainParams};

pub use rnn::RnnLm;
pub use stacked::StackedLm;

/// Mean cross-entropy of `logits` `(N, V)` against `targets` `(N,)`, with candle-nn's ops.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    candle_nn::loss::nll(&log_probs, targets)
}

/// A model that predicts the next character at every position of a batch of windows.
pub trait LanguageModel: Send {
    /// Logits of shape `(rows * seq_len, vocab)` for token ids of shape `(rows, seq_len)`,
    /// row-major, so that row `r * seq_len + t` predicts the successor of `inputs[r][t]`.
    /// The hidden state starts at zero for every window.
    fn logits(&self, inputs: &Tensor) -> Result<Tensor>;

    /// Mean cross-entropy of the predictions for `inputs` against `targets`, both token ids of
    /// shape `(rows, seq_len)`: a scalar. Models with a fused loss override this.
    fn loss(&self, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        cross_entropy(&self.logits(inputs)?, &targets.flatten_all()?)
    }

    /// The loss of a training step: [`LanguageModel::loss`], plus whatever randomness training
    /// adds (dropout), drawn from `rng` so that a run resumes exactly.
    fn training_loss(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<Tensor> {
        let _ = rng;
        self.loss(inputs, targets)
    }

    /// The training loss of windows that continue where the previous batch's stopped
    /// (sequential sampling): the state starts from `state`, `(layers·parts, rows, H)` as this
    /// returned for the previous batch (zero when `None`), and the loss comes with the state
    /// after each window's last step, detached, so that no gradient reaches earlier batches.
    fn training_loss_carrying(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        state: Option<&Tensor>,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<(Tensor, Tensor)>;

    /// One step of reading text: the state after `token` (starting from `state`, or zero when
    /// `None`) and the logits `(vocab,)` for the character after it. For generation.
    fn step(&self, state: Option<&Tensor>, token: u32) -> Result<(Tensor, Tensor)>;

    /// Trainable parameters under stable names (the keys of checkpoints), in a fixed order.
    fn parameters(&self) -> Vec<(&'static str, &Var)>;

    /// Total number of trainable scalars.
    fn parameter_count(&self) -> usize {
        self.parameters()
            .iter()
            .map(|(_, v)| v.as_tensor().elem_count())
            .sum()
    }
}

/// Builds the model `params` describe, initialised from `rng`: the fused single-layer RNN, or
/// the stacked candle model for other cells and depths.
pub fn build(
    params: &TrainParams,
    vocab: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> Result<Box<dyn LanguageModel>> {
    match (params.cell, params.layers) {
        (Cell::Gru | Cell::Lstm, _) | (Cell::Rnn, 2..) => Ok(Box::new(
            StackedLm::new(
                params.cell,
                params.layers,
                vocab,
                params.hidden,
                DType::F32,
                device,
                rng,
            )?
            .with_dropout(params.dropout),
        )),
        (Cell::Rnn, _) => Ok(Box::new(RnnLm::new(
            vocab,
            params.hidden,
            DType::F32,
            device,
            rng,
        )?)),
    }
}

/// Sets `model`'s parameters from a safetensors file holding them by name (as
/// `model.safetensors` and `best.safetensors` do).
pub fn load_weights(model: &dyn LanguageModel, bytes: &[u8]) -> Result<()> {
    let loaded = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    for (name, var) in model.parameters() {
        let Some(value) = loaded.get(name) else {
            candle_core::bail!("the weights lack `{name}`");
        };
        if value.shape() != var.shape() {
            candle_core::bail!(
                "`{name}` has shape {:?}, the model needs {:?}",
                value.shape(),
                var.shape()
            );
        }
        var.set(&value.to_dtype(var.dtype())?)?;
    }
    Ok(())
}
