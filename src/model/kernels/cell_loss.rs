//! A whole training step's forward and backward pass of a one-layer recurrent language model
//! (any [`GateCell`]: RNN, GRU, LSTM) as one candle custom op: gather → recurrence → output
//! layer with softmax cross-entropy ([`super::head`]), and back, as [`super::rnn_loss`] does for
//! the RNN alone. Per step and block of windows, one `gemm` for the hidden projections and the
//! cell's arithmetic ([`super::cells`]); backpropagation through time carries `∂loss/∂h`
//! through one `gemm` per step, and `∂W_hh` is one product per gate group over all steps.
//!
//! Inputs: the input-projection table `(V_in, G·H)` (embedding folded in, `b_ih` added),
//! `[W_hh | b_hh]` `(G·H, H + 1)`, and the output layer `[W | b]` `(V, H + 1)`. The op holds
//! the tokens and targets in block order ([`Blocks`], each block time-major) and, optionally,
//! the state to start from (`(parts, rows, H)`, not differentiated: a carried, detached state).
//!
//! Output: `[loss, final h (rows×H), final c (rows×H, LSTM)]`, a vector; only the loss has a
//! gradient.

use std::marker::PhantomData;
use std::sync::Mutex;

use candle_core::{CustomOp3, DType, Device, Result, Shape, Tensor, WithDType};

use super::blocks::{for_each, for_each_summed, Blocks};
use super::cells::{GateCell, Prev, StepGrad, StepOut};
use super::gemm::{matmul, matmul_into, rows};
use super::head::{self, Weight};
use super::recurrence::{pad_rows, padded};
use super::{cpu_fwd_by_kernel, Elem, SliceKernel};

/// Mean cross-entropy of a one-layer `C` model's predictions for `tokens` against `targets`.
pub struct CellLoss<C: GateCell> {
    tokens: Vec<u32>,
    targets: Vec<u32>,
    blocks: Blocks,
    seq_len: usize,
    initial: Option<Tensor>,
    /// `[gates (N×G·Hp) | states (N×Hp) | kept (N×Hp) | ∂loss/∂logits (N×V)]`.
    saved: Mutex<Option<Tensor>>,
    cell: PhantomData<C>,
}

/// The backward pass: from the saved buffer, `[W_hh | b_hh]` and the output matrix, the
/// gradients of the three inputs, concatenated, scaled by the loss's incoming gradient.
struct CellLossGrad<'a, C: GateCell> {
    forward: &'a CellLoss<C>,
    vocab_in: usize,
    scale: f64,
}

/// Sizes of one op's buffers.
#[derive(Clone, Copy)]
struct Dims {
    /// Hidden units.
    h: usize,
    /// `h` padded.
    hp: usize,
    /// A padded row of gates, `G·hp`.
    gp: usize,
    /// Output classes.
    v: usize,
    /// Steps per window.
    t: usize,
}

impl<C: GateCell> CellLoss<C> {
    /// The loss over windows of `seq_len` steps cut into `blocks`; `tokens` and `targets` in
    /// block order; `initial` the state to start from (`(parts, rows, H)`, zero when `None`).
    pub fn new(
        tokens: Vec<u32>,
        targets: Vec<u32>,
        blocks: Blocks,
        seq_len: usize,
        initial: Option<Tensor>,
    ) -> Result<Self> {
        let n = seq_len * blocks.rows();
        if tokens.len() != n || targets.len() != n {
            candle_core::bail!(
                "fused {} loss: {} tokens and {} targets for {} windows of {seq_len} steps",
                C::NAME,
                tokens.len(),
                targets.len(),
                blocks.rows()
            );
        }
        Ok(CellLoss {
            tokens,
            targets,
            blocks,
            seq_len,
            initial,
            saved: Mutex::new(None),
            cell: PhantomData,
        })
    }

    /// Buffer sizes from the shapes of the table, `[W_hh | b_hh]` and the output matrix,
    /// checked against each other, the tokens and the initial state.
    fn dims(&self, [table, w, out]: [&Shape; 3]) -> Result<Dims> {
        let (v_in, gh) = table.dims2()?;
        let h = gh / C::GROUPS;
        let (v, h1) = out.dims2()?;
        if gh != C::GROUPS * h || w.dims2()? != (gh, h + 1) || h1 != h + 1 {
            candle_core::bail!(
                "fused {} loss: shapes {table:?}, {w:?}, {out:?} do not fit",
                C::NAME
            );
        }
        if let Some(bad) = self.tokens.iter().find(|&&x| x as usize >= v_in) {
            candle_core::bail!("fused {} loss: token {bad} outside the table", C::NAME);
        }
        if let Some(bad) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("fused {} loss: target {bad} outside {v} classes", C::NAME);
        }
        if let Some(init) = &self.initial {
            let want = (C::PARTS, self.blocks.rows(), h);
            if init.dims3()? != want {
                candle_core::bail!(
                    "fused {} loss: initial state {:?}, expected {want:?}",
                    C::NAME,
                    init.shape()
                );
            }
        }
        let hp = padded(h);
        Ok(Dims {
            h,
            hp,
            gp: C::GROUPS * hp,
            v,
            t: self.seq_len,
        })
    }

    /// The initial state's parts as padded rows (`rows×hp` each), or `None` for zeros.
    fn initial_rows<T: Elem>(&self, d: Dims) -> Result<Option<Vec<Vec<T>>>> {
        let Some(init) = &self.initial else {
            return Ok(None);
        };
        let init = init.to_dtype(T::DTYPE)?;
        let parts = (0..C::PARTS)
            .map(|p| {
                let values: Vec<T> = init.get(p)?.flatten_all()?.to_vec1()?;
                Ok(pad_rows(&values, d.h))
            })
            .collect::<Result<_>>()?;
        Ok(Some(parts))
    }
}

impl<C: GateCell> CustomOp3 for CellLoss<C> {
    fn name(&self) -> &'static str {
        "fused-cell-loss"
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
        let saved = saved.ok_or_else(|| {
            candle_core::Error::Msg(format!("fused {} loss: no forward", C::NAME))
        })?;
        let (v_in, gh) = table.dims2()?;
        let (v, h1) = out.dims2()?;
        let op = CellLossGrad {
            forward: self,
            vocab_in: v_in,
            scale: grad.get(0)?.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        };
        let flat = saved.apply_op3_no_bwd(&w.contiguous()?, &out.contiguous()?, &op)?;
        let d_table = flat.narrow(0, 0, v_in * gh)?.reshape((v_in, gh))?;
        let d_w = flat.narrow(0, v_in * gh, gh * h1)?.reshape((gh, h1))?;
        let d_out = flat
            .narrow(0, v_in * gh + gh * h1, v * h1)?
            .reshape((v, h1))?;
        Ok((Some(d_table), Some(d_w), Some(d_out)))
    }
}

impl<C: GateCell> SliceKernel<3> for CellLoss<C> {
    fn name(&self) -> &'static str {
        "fused cell loss"
    }

    fn run<T: Elem>(
        &self,
        [table, w, out]: [&[T]; 3],
        shapes: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let d = self.dims(shapes)?;
        let Dims { h, hp, gp, v, t } = d;
        let n = self.tokens.len();
        let initial = self.initial_rows::<T>(d)?;
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let bias: Vec<T> = out.chunks_exact(h + 1).map(|row| row[h]).collect();
        let inv_n = T::one() / T::from(n.max(1)).expect("row count fits");
        let mut saved = Vec::with_capacity(n * (gp + 2 * hp + v));
        gather(&self.tokens, table, d, &mut saved);
        saved.resize(n * (gp + 2 * hp + v), T::zero());
        let (gates, rest) = saved.split_at_mut(n * gp);
        let (states, rest) = rest.split_at_mut(n * hp);
        let (kept, d_logits) = rest.split_at_mut(n * hp);
        let blocks = &self.blocks;
        let inits = per_block(blocks, initial.as_deref(), hp);
        let mut items: Vec<_> = blocks
            .split(&self.targets, t)
            .into_iter()
            .zip(blocks.split_mut(gates, t * gp))
            .zip(blocks.split_mut(states, t * hp))
            .zip(blocks.split_mut(kept, t * hp))
            .zip(blocks.split_mut(d_logits, t * v))
            .zip(inits)
            .map(|(((((y, g), s), k), dl), init)| (y, g, s, k, dl, init, 0.0))
            .collect();
        let (w_t, b_hh) = hidden_projection(w, d, C::GROUPS);
        for_each(&mut items, |(y, g, s, k, dl, init, loss)| {
            forward::<C, T>(g, s, k, *init, (&w_t, &b_hh), d);
            *loss = head::forward((s, hp), h, (weight, &bias), y, dl, inv_n);
        });
        // Block order, so the same bits whatever the thread count.
        let total: f64 = items.iter().map(|item| item.6).sum();
        drop(items);
        // The state after each window's last step, in row order.
        let mut output = vec![<T as WithDType>::from_f64(total / n.max(1) as f64)];
        let last = |buf: &[T], unit: usize| -> Vec<T> {
            let mut rows_out = Vec::with_capacity(blocks.rows() * h);
            for block in blocks.split(buf, t * unit) {
                let step = &block[block.len() - block.len() / t.max(1)..];
                for row in step.chunks_exact(unit) {
                    rows_out.extend_from_slice(&row[..h]);
                }
            }
            rows_out
        };
        output.extend(last(states, hp));
        if C::PARTS > 1 {
            output.extend(last(kept, hp));
        }
        *self.saved.lock().expect("no panics while held") = Some(Tensor::from_vec(
            saved,
            n * (gp + 2 * hp + v),
            &Device::Cpu,
        )?);
        let len = output.len();
        Ok((output, Shape::from(len)))
    }
}

impl<C: GateCell> CustomOp3 for CellLossGrad<'_, C> {
    fn name(&self) -> &'static str {
        "fused-cell-loss-grad"
    }

    cpu_fwd_by_kernel!(3);
}

impl<C: GateCell> SliceKernel<3> for CellLossGrad<'_, C> {
    fn name(&self) -> &'static str {
        "fused cell loss backward"
    }

    fn run<T: Elem>(
        &self,
        [saved, w, out]: [&[T]; 3],
        [_, w_shape, out_shape]: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let fwd = self.forward;
        let (gh, h1) = w_shape.dims2()?;
        let (h, v) = (h1 - 1, out_shape.dims2()?.0);
        let hp = padded(h);
        let d = Dims {
            h,
            hp,
            gp: C::GROUPS * hp,
            v,
            t: fwd.seq_len,
        };
        let (n, t, gp, blocks) = (fwd.tokens.len(), d.t, d.gp, &fwd.blocks);
        let initial = fwd.initial_rows::<T>(d)?;
        let (gates, rest) = saved.split_at(n * gp);
        let (states, rest) = rest.split_at(n * hp);
        let (kept, d_logits) = rest.split_at(n * hp);
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let inits = per_block(blocks, initial.as_deref(), hp);
        let mut items: Vec<_> = blocks
            .split(&fwd.tokens, t)
            .into_iter()
            .zip(blocks.split(gates, t * gp))
            .zip(blocks.split(states, t * hp))
            .zip(blocks.split(kept, t * hp))
            .zip(blocks.split(d_logits, t * v))
            .zip(inits)
            .map(|(((((x, g), s), k), dl), init)| (x, g, s, k, dl, init))
            .collect();
        let (table_len, w_len) = (self.vocab_in * gh, gh * h1);
        let len = table_len + w_len + v * h1;
        let w_p = pad_hidden_weight(w, d, C::GROUPS);
        let mut grads = for_each_summed(&mut items, len, |(x, g, s, k, dl, init), grads| {
            let (d_table, rest) = grads.split_at_mut(table_len);
            let (d_w, d_out) = rest.split_at_mut(w_len);
            let mut d_states = vec![T::zero(); s.len()];
            let (mut d_weight, mut d_bias) = (vec![T::zero(); v * h], vec![T::zero(); v]);
            head::backward(
                (s, hp),
                h,
                dl,
                weight,
                &mut d_states,
                (&mut d_weight[..], &mut d_bias[..]),
            );
            for ((row, dw), &db) in d_out
                .chunks_exact_mut(h1)
                .zip(d_weight.chunks_exact(h))
                .zip(&d_bias)
            {
                row[..h].copy_from_slice(dw);
                row[h] = db;
            }
            let block = Block {
                tokens: x,
                gates: g,
                states: s,
                kept: k,
                init: *init,
            };
            backward::<C, T>(&block, &w_p, &mut d_states, (d_table, d_w), d);
        });
        if self.scale != 1.0 {
            let scale = <T as WithDType>::from_f64(self.scale);
            grads.iter_mut().for_each(|g| *g *= scale);
        }
        Ok((grads, Shape::from(len)))
    }
}

/// The state each block starts from: its rows of the padded initial parts (`h`, and `c` for
/// the LSTM), or zeros.
fn per_block<'a, T: Elem>(
    blocks: &Blocks,
    initial: Option<&'a [Vec<T>]>,
    hp: usize,
) -> Vec<Prev<'a, T>> {
    let Some(parts) = initial else {
        return vec![
            Prev {
                h: None,
                kept: None
            };
            blocks.sizes().len()
        ];
    };
    let kept: Vec<Option<&[T]>> = match parts.get(1) {
        Some(c) => blocks.split(c, hp).into_iter().map(Some).collect(),
        None => vec![None; blocks.sizes().len()],
    };
    blocks
        .split(&parts[0], hp)
        .into_iter()
        .zip(kept)
        .map(|(h, kept)| Prev { h: Some(h), kept })
        .collect()
}

/// Appends the input projections of `tokens` to `out`: their rows of `table` (`V×G·H`), each
/// gate group padded to `hp`.
fn gather<T: Elem>(tokens: &[u32], table: &[T], d: Dims, out: &mut Vec<T>) {
    let gh = d.gp / d.hp * d.h;
    for &x in tokens {
        let row = &table[x as usize * gh..][..gh];
        for group in row.chunks_exact(d.h) {
            out.extend_from_slice(group);
            out.extend(std::iter::repeat_n(T::zero(), d.hp - d.h));
        }
    }
}

/// From `[W_hh | b_hh]` (`G·H × (H+1)`): `W_hhᵀ` as `H × G·hp` (zero columns in each group's
/// padding), so that one product gives a step's padded hidden projections; and `b_hh` padded
/// the same way.
fn hidden_projection<T: Elem>(w: &[T], d: Dims, groups: usize) -> (Vec<T>, Vec<T>) {
    let Dims { h, hp, gp, .. } = d;
    let mut w_t = vec![T::zero(); h * gp];
    let mut bias = vec![T::zero(); gp];
    for g in 0..groups {
        for j in 0..h {
            let row = &w[(g * h + j) * (h + 1)..][..h + 1];
            for (k, &x) in row[..h].iter().enumerate() {
                w_t[k * gp + g * hp + j] = x;
            }
            bias[g * hp + j] = row[h];
        }
    }
    (w_t, bias)
}

/// `W_hh` as `G·hp × hp`: row `g·hp + j` is row `g·H + j` of `W_hh`, zeros elsewhere; so that
/// `∂loss/∂gh (b × G·hp) · this` is `∂loss/∂h_prev` through the gates.
fn pad_hidden_weight<T: Elem>(w: &[T], d: Dims, groups: usize) -> Vec<T> {
    let Dims { h, hp, gp, .. } = d;
    let mut out = vec![T::zero(); gp * hp];
    for g in 0..groups {
        for j in 0..h {
            let row = &w[(g * h + j) * (h + 1)..][..h];
            out[(g * hp + j) * hp..][..h].copy_from_slice(row);
        }
    }
    out
}

/// The recurrence over one block: `gates` `(T, b, G·hp)` holds the input projections on entry
/// and the activated gates on return; `states` and `kept` `(T, b, hp)` are written.
fn forward<C: GateCell, T: Elem>(
    gates: &mut [T],
    states: &mut [T],
    kept: &mut [T],
    init: Prev<'_, T>,
    (w_t, b_hh): (&[T], &[T]),
    d: Dims,
) {
    let Dims { h, hp, gp, t, .. } = d;
    let b = states.len() / (t * hp).max(1);
    if b == 0 {
        return;
    }
    let mut gh = vec![T::zero(); if C::ADDITIVE { 0 } else { b * gp }];
    for s in 0..t {
        let (done_s, rest_s) = states.split_at_mut(s * b * hp);
        let (done_k, rest_k) = kept.split_at_mut(s * b * hp);
        let prev = if s == 0 {
            init
        } else {
            Prev {
                h: Some(&done_s[(s - 1) * b * hp..]),
                kept: Some(&done_k[(s - 1) * b * hp..]),
            }
        };
        let gates = &mut gates[s * b * gp..][..b * gp];
        let product = (b, gp, h);
        let hidden = if C::ADDITIVE {
            // gates (b×G·hp) += h_prev (b×H) · W_hhᵀ (H×G·hp); the cell adds b_hh.
            if let Some(h_prev) = prev.h {
                matmul(gates, true, (h_prev, rows(hp)), (w_t, rows(gp)), product);
            }
            b_hh
        } else {
            // gh (b×G·hp) = b_hh + h_prev (b×H) · W_hhᵀ (H×G·hp).
            for row in gh.chunks_exact_mut(gp) {
                row.copy_from_slice(b_hh);
            }
            if let Some(h_prev) = prev.h {
                matmul(&mut gh, true, (h_prev, rows(hp)), (w_t, rows(gp)), product);
            }
            &gh
        };
        let out = StepOut {
            gates,
            h: &mut rest_s[..b * hp],
            kept: &mut rest_k[..b * hp],
        };
        C::forward(out, hidden, prev, hp, h);
    }
}

/// What the forward pass left for one block.
struct Block<'a, T> {
    tokens: &'a [u32],
    gates: &'a [T],
    states: &'a [T],
    kept: &'a [T],
    init: Prev<'a, T>,
}

/// Backpropagation through time over one block: `d_states` holds `∂loss/∂h` per step from the
/// head; adds the block's gradients of the table (`V_in × G·H`) and of `[W_hh | b_hh]`
/// (`G·H × (H+1)`) into `d_table` and `d_w`. `w_p` is [`pad_hidden_weight`]'s.
fn backward<C: GateCell, T: Elem>(
    block: &Block<'_, T>,
    w_p: &[T],
    d_states: &mut [T],
    (d_table, d_w): (&mut [T], &mut [T]),
    d: Dims,
) {
    let Dims { h, hp, gp, t, .. } = d;
    let b = block.states.len() / (t * hp).max(1);
    if b == 0 {
        return;
    }
    let gh_width = C::GROUPS * h;
    let mut d_gh = vec![T::zero(); t * b * gp];
    let mut d_gi = vec![T::zero(); b * gp];
    let mut carry = vec![T::zero(); b * hp];
    let mut dc = vec![T::zero(); b * hp];
    let mut scratch = vec![T::zero(); b * hp];
    for s in (0..t).rev() {
        let dh = &mut d_states[s * b * hp..][..b * hp];
        dh.iter_mut().zip(&carry).for_each(|(a, &c)| *a += c);
        let prev = if s == 0 {
            block.init
        } else {
            Prev {
                h: Some(&block.states[(s - 1) * b * hp..][..b * hp]),
                kept: Some(&block.kept[(s - 1) * b * hp..][..b * hp]),
            }
        };
        let d_gh_s = &mut d_gh[s * b * gp..][..b * gp];
        let grad = StepGrad {
            dh,
            dc: &mut dc,
            d_gh: d_gh_s,
            d_gi: &mut d_gi,
            scratch: &mut scratch,
        };
        let (gates, kept) = (
            &block.gates[s * b * gp..][..b * gp],
            &block.kept[s * b * hp..][..b * hp],
        );
        C::backward(grad, gates, kept, prev, hp, h);
        let d_input = if C::SEPARATE_INPUT_GRAD {
            &d_gi
        } else {
            &d_gh[s * b * gp..][..b * gp]
        };
        for (row, &x) in d_input.chunks_exact(gp).zip(&block.tokens[s * b..][..b]) {
            let dst = &mut d_table[x as usize * gh_width..][..gh_width];
            for (dst, src) in dst.chunks_exact_mut(h).zip(row.chunks_exact(hp)) {
                dst.iter_mut().zip(src).for_each(|(a, &g)| *a += g);
            }
        }
        if s > 0 {
            // carry (b×hp) = [dh ⊙ z +] ∂gh (b×G·hp) · W_hh (G·hp×hp).
            if C::DIRECT {
                carry.copy_from_slice(&d_states[s * b * hp..][..b * hp]);
            }
            let lhs = (&d_gh[s * b * gp..][..b * gp], rows(gp));
            // Only the H true columns: the padding stays zero.
            matmul_into(
                (&mut carry, hp),
                C::DIRECT,
                lhs,
                (w_p, rows(hp)),
                (b, h, gp),
            );
        }
    }
    // ∂W_hh = Σ_s ∂gh_sᵀ · h_{s-1}, as one product over all steps into a padded
    // (G·hp × hp) buffer; ∂b_hh = Σ ∂gh.
    let mut d_w_p = vec![T::zero(); gp * hp];
    if t > 1 {
        let later = (&d_gh[b * gp..], (1, gp as isize));
        let earlier = (&block.states[..(t - 1) * b * hp], rows(hp));
        matmul_into(
            (&mut d_w_p, hp),
            false,
            later,
            earlier,
            (gp, h, (t - 1) * b),
        );
    }
    if let Some(h0) = block.init.h {
        let first = (&d_gh[..], (1, gp as isize));
        matmul_into((&mut d_w_p, hp), true, first, (h0, rows(hp)), (gp, h, b));
    }
    let h1 = h + 1;
    for g in 0..C::GROUPS {
        for j in 0..h {
            let dst = &mut d_w[(g * h + j) * h1..][..h];
            let src = &d_w_p[(g * hp + j) * hp..][..h];
            dst.iter_mut().zip(src).for_each(|(a, &x)| *a += x);
        }
    }
    let mut d_bias = vec![T::zero(); gp];
    for row in d_gh.chunks_exact(gp) {
        d_bias.iter_mut().zip(row).for_each(|(a, &x)| *a += x);
    }
    for g in 0..C::GROUPS {
        for j in 0..h {
            d_w[(g * h + j) * h1 + h] += d_bias[g * hp + j];
        }
    }
}
