//! A whole training step's forward and backward pass of the RNN language model as one candle
//! custom op: gather → tanh recurrence ([`super::recurrence`]) → output layer with softmax
//! cross-entropy ([`super::head`]), and back. Between the three parameters and the loss,
//! nothing goes through candle's graph: the states and `∂loss/∂logits` stay in one buffer the
//! op keeps for its backward pass, so no state-sized gradient is allocated, zeroed and added.
//!
//! Inputs: the input-projection table `(V_in, H)` (embedding folded in, both biases added),
//! `W_hh` `(H, H)`, and the output layer as one `(V, H + 1)` matrix (weight, then the bias as
//! the last column). The op holds the tokens and targets in block order ([`Blocks`], each block
//! time-major). Output: the mean cross-entropy, a scalar.

use std::sync::Mutex;

use candle_core::{CustomOp3, DType, Device, Result, Shape, Tensor, WithDType};

use super::blocks::{for_each, for_each_summed, Blocks};
use super::head::{self, Weight};
use super::recurrence;
use super::{cpu_fwd_by_kernel, Elem, SliceKernel};

/// Mean cross-entropy of the RNN's predictions for `tokens` against `targets`.
pub struct RnnLoss {
    tokens: Vec<u32>,
    targets: Vec<u32>,
    blocks: Blocks,
    seq_len: usize,
    /// `[states (N×H) | ∂loss/∂logits (N×V)]` from the forward pass.
    saved: Mutex<Option<Tensor>>,
}

/// The backward pass: from the saved buffer, `W_hh` and the output matrix, the gradients of the
/// table, `W_hh` and the output matrix, concatenated, scaled by the loss's incoming gradient.
struct RnnLossGrad<'a> {
    forward: &'a RnnLoss,
    vocab_in: usize,
    scale: f64,
}

impl RnnLoss {
    /// The loss over windows of `seq_len` steps cut into `blocks`; `tokens` and `targets` in
    /// block order.
    pub fn new(
        tokens: Vec<u32>,
        targets: Vec<u32>,
        blocks: Blocks,
        seq_len: usize,
    ) -> Result<Self> {
        let n = seq_len * blocks.rows();
        if tokens.len() != n || targets.len() != n {
            candle_core::bail!(
                "fused rnn loss: {} tokens and {} targets for {} windows of {seq_len} steps",
                tokens.len(),
                targets.len(),
                blocks.rows()
            );
        }
        Ok(RnnLoss {
            tokens,
            targets,
            blocks,
            seq_len,
            saved: Mutex::new(None),
        })
    }

    /// H and V from the shapes of the table, `W_hh` and the output matrix, checked.
    fn dims(&self, [table, w, out]: [&Shape; 3]) -> Result<(usize, usize)> {
        let (v_in, h) = table.dims2()?;
        let (v, h1) = out.dims2()?;
        if w.dims2()? != (h, h) || h1 != h + 1 {
            candle_core::bail!("fused rnn loss: shapes {table:?}, {w:?}, {out:?} do not fit");
        }
        if let Some(bad) = self.tokens.iter().find(|&&x| x as usize >= v_in) {
            candle_core::bail!("fused rnn loss: token {bad} outside the {v_in}-row table");
        }
        if let Some(bad) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("fused rnn loss: target {bad} outside {v} classes");
        }
        Ok((h, v))
    }
}

impl CustomOp3 for RnnLoss {
    fn name(&self) -> &'static str {
        "fused-rnn-loss"
    }

    cpu_fwd_by_kernel!(3);

    fn bwd(
        &self,
        table: &Tensor,
        w: &Tensor,
        out: &Tensor,
        _loss: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.saved.lock().expect("no panics while held").clone();
        let saved =
            saved.ok_or_else(|| candle_core::Error::Msg("fused rnn loss: no forward".into()))?;
        let (v_in, h) = table.dims2()?;
        let v = out.dims2()?.0;
        let op = RnnLossGrad {
            forward: self,
            vocab_in: v_in,
            scale: grad.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        };
        let flat = saved.apply_op3_no_bwd(&w.contiguous()?, &out.contiguous()?, &op)?;
        let d_table = flat.narrow(0, 0, v_in * h)?.reshape((v_in, h))?;
        let d_w = flat.narrow(0, v_in * h, h * h)?.reshape((h, h))?;
        let d_out = flat
            .narrow(0, v_in * h + h * h, v * (h + 1))?
            .reshape((v, h + 1))?;
        Ok((Some(d_table), Some(d_w), Some(d_out)))
    }
}

impl SliceKernel<3> for RnnLoss {
    fn name(&self) -> &'static str {
        "fused rnn loss"
    }

    fn run<T: Elem>(
        &self,
        [table, w, out]: [&[T]; 3],
        shapes: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let (h, v) = self.dims(shapes)?;
        let (t, n, hp) = (self.seq_len, self.tokens.len(), recurrence::padded(h));
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let bias: Vec<T> = out.chunks_exact(h + 1).map(|row| row[h]).collect();
        let inv_n = T::one() / T::from(n.max(1)).expect("row count fits");
        // [padded states (N×Hp) | ∂loss/∂logits (N×V)], kept for the backward pass.
        let mut saved = Vec::with_capacity(n * (hp + v));
        recurrence::gather(&self.tokens, table, h, &mut saved);
        saved.resize(n * (hp + v), T::zero());
        let (states, d_logits) = saved.split_at_mut(n * hp);
        let blocks = &self.blocks;
        let mut items: Vec<_> = blocks
            .split(&self.targets, t)
            .into_iter()
            .zip(blocks.split_mut(states, t * hp))
            .zip(blocks.split_mut(d_logits, t * v))
            .map(|((y, s), d)| (y, s, d, 0.0))
            .collect();
        let w_t = recurrence::pad_columns(w, h, true);
        for_each(&mut items, |(y, s, d, loss)| {
            recurrence::forward(s, &w_t, t, h);
            *loss = head::forward((s, hp), h, (weight, &bias), y, d, inv_n);
        });
        // Block order, so the same bits whatever the thread count.
        let total: f64 = items.iter().map(|item| item.3).sum();
        drop(items);
        *self.saved.lock().expect("no panics while held") =
            Some(Tensor::from_vec(saved, n * (hp + v), &Device::Cpu)?);
        let loss = <T as WithDType>::from_f64(total / n.max(1) as f64);
        Ok((vec![loss], Shape::from(())))
    }
}

impl CustomOp3 for RnnLossGrad<'_> {
    fn name(&self) -> &'static str {
        "fused-rnn-loss-grad"
    }

    cpu_fwd_by_kernel!(3);
}

impl SliceKernel<3> for RnnLossGrad<'_> {
    fn name(&self) -> &'static str {
        "fused rnn loss backward"
    }

    fn run<T: Elem>(
        &self,
        [saved, w, out]: [&[T]; 3],
        [_, w_shape, out_shape]: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let RnnLoss {
            tokens,
            blocks,
            seq_len: t,
            ..
        } = self.forward;
        let (t, h, v) = (*t, w_shape.dims2()?.0, out_shape.dims2()?.0);
        let (n, hp) = (tokens.len(), recurrence::padded(h));
        let (states, d_logits) = saved.split_at(n * hp);
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let mut items: Vec<_> = blocks
            .split(tokens, t)
            .into_iter()
            .zip(blocks.split(states, t * hp))
            .zip(blocks.split(d_logits, t * v))
            .collect();
        let (table_len, w_len) = (self.vocab_in * h, h * h);
        let len = table_len + w_len + v * (h + 1);
        let w_p = recurrence::pad_columns(w, h, false);
        let mut grads = for_each_summed(&mut items, len, |((x, s), d), grads| {
            let (d_table, rest) = grads.split_at_mut(table_len);
            let (d_w, d_out) = rest.split_at_mut(w_len);
            // ∂loss/∂states from the head, then through time in the same buffer.
            let mut work = vec![T::zero(); s.len()];
            let (mut d_weight, mut d_bias) = (vec![T::zero(); v * h], vec![T::zero(); v]);
            let d_head = (&mut d_weight[..], &mut d_bias[..]);
            head::backward((s, hp), h, d, weight, &mut work, d_head);
            for ((row, dw), &db) in d_out
                .chunks_exact_mut(h + 1)
                .zip(d_weight.chunks_exact(h))
                .zip(&d_bias)
            {
                row[..h].copy_from_slice(dw);
                row[h] = db;
            }
            recurrence::backward(x, s, &w_p, &mut work, d_table, d_w, t, h);
        });
        if self.scale != 1.0 {
            let scale = <T as WithDType>::from_f64(self.scale);
            grads.iter_mut().for_each(|g| *g *= scale);
        }
        Ok((grads, Shape::from(len)))
    }
}
