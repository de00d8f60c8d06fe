//! A whole training step's forward and backward pass of a recurrent language model with
//! `L` stacked layers of any [`GateCell`] (RNN, GRU, LSTM) as one candle custom op: gather →
//! recurrence per layer → output layer with softmax cross-entropy ([`super::head`]), and back,
//! as [`super::rnn_loss`] does for the one-layer RNN alone. Per step and block of windows, one
//! `gemm` for the hidden projections and the cell's arithmetic ([`super::cells`]);
//! backpropagation through time carries `∂loss/∂h` through one `gemm` per step, and `∂W_hh` is
//! one product over all steps. A layer above the first gets its input projections for all
//! steps from one product with the layer below's states, and sends its gradient back the same
//! way.
//!
//! Inputs:
//! - the input projections `(V_in + (L-1)(H+1), G·H)`: layer 0's table (embedding folded in,
//!   `b_ih` added), then for each layer above `W_ihᵀ` `(H, G·H)` and `b_ihᵀ` `(1, G·H)`;
//! - `[W_hh | b_hh]` of every layer, stacked: `(L·G·H, H + 1)`;
//! - the output layer `[W | b]` `(V, H + 1)`.
//!
//! The op holds the tokens and targets in block order ([`Blocks`], each block time-major)
//! and, optionally, the state to start from (`(L·parts, rows, H)`, not differentiated: a
//! carried, detached state). Output: `[loss, then for each layer its final h (rows×H) and, for
//! the LSTM, c]`, a vector; only the loss has a gradient.

use std::marker::PhantomData;
use std::sync::Mutex;

use candle_core::{CustomOp3, DType, Device, Result, Shape, Tensor, WithDType};

use super::blocks::{for_each, for_each_summed, Blocks};
use super::cells::{GateCell, Prev, StepGrad, StepOut};
use super::gemm::{matmul, matmul_into, rows, transposed};
use super::head::{self, Weight};
use super::recurrence::{pad_rows, padded};
use super::{cpu_fwd_by_kernel, Elem, SliceKernel};

/// Mean cross-entropy of a stacked `C` model's predictions for `tokens` against `targets`.
pub struct CellLoss<C: GateCell> {
    tokens: Vec<u32>,
    targets: Vec<u32>,
    blocks: Blocks,
    seq_len: usize,
    initial: Option<Tensor>,
    /// Dropout masks on the inputs of the layers above the first, `(L-1, N, H)` in block order.
    masks: Option<Tensor>,
    /// Per layer `[gates (N×G·Hp) | states (N×Hp) | kept (N×Hp)]`, then `∂loss/∂logits (N×V)`.
    saved: Mutex<Option<Tensor>>,
    cell: PhantomData<C>,
}

/// The backward pass: from the saved buffer, the hidden weights and the output matrix, the
/// gradients of the three inputs, concatenated, scaled by the loss's incoming gradient.
struct CellLossGrad<'a, C: GateCell> {
    forward: &'a CellLoss<C>,
    /// The input projections (for the layers above the first, their `W_ih`).
    input: Tensor,
    /// Rows of the input projections.
    input_rows: usize,
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
    /// Stacked layers.
    layers: usize,
    /// Rows of layer 0's table (the input vocabulary).
    v_in: usize,
}

impl<C: GateCell> CellLoss<C> {
    /// The loss over windows of `seq_len` steps cut into `blocks`; `tokens` and `targets` in
    /// block order; `initial` the state to start from (`(L·parts, rows, H)`, zero when
    /// `None`); `masks` the dropout masks multiplied into the input of each layer above the
    /// first (`(L-1, N, H)`, rows in block order; none when `None`).
    pub fn new(
        tokens: Vec<u32>,
        targets: Vec<u32>,
        blocks: Blocks,
        seq_len: usize,
        initial: Option<Tensor>,
        masks: Option<Tensor>,
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
            masks,
            saved: Mutex::new(None),
            cell: PhantomData,
        })
    }

    /// Buffer sizes from the shapes of the input projections, the hidden weights and the
    /// output matrix, checked against each other, the tokens and the initial state.
    fn dims(&self, [input, w, out]: [&Shape; 3]) -> Result<Dims> {
        let fail = || {
            candle_core::Error::Msg(format!(
                "fused {} loss: shapes {input:?}, {w:?}, {out:?} do not fit",
                C::NAME
            ))
        };
        let (input_rows, gh) = input.dims2()?;
        let h = gh / C::GROUPS;
        let (w_rows, w_cols) = w.dims2()?;
        let (v, h1) = out.dims2()?;
        if h == 0 || gh != C::GROUPS * h || w_cols != h + 1 || h1 != h + 1 || w_rows % gh != 0 {
            return Err(fail());
        }
        let layers = w_rows / gh;
        let upper = (layers.max(1) - 1) * (h + 1);
        if layers == 0 || input_rows <= upper {
            return Err(fail());
        }
        let v_in = input_rows - upper;
        if let Some(bad) = self.tokens.iter().find(|&&x| x as usize >= v_in) {
            candle_core::bail!("fused {} loss: token {bad} outside the table", C::NAME);
        }
        if let Some(bad) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("fused {} loss: target {bad} outside {v} classes", C::NAME);
        }
        if let Some(init) = &self.initial {
            let want = (layers * C::PARTS, self.blocks.rows(), h);
            if init.dims3()? != want {
                candle_core::bail!(
                    "fused {} loss: initial state {:?}, expected {want:?}",
                    C::NAME,
                    init.shape()
                );
            }
        }
        if let Some(masks) = &self.masks {
            let want = (layers - 1, self.tokens.len(), h);
            if masks.dims3()? != want {
                candle_core::bail!(
                    "fused {} loss: dropout masks {:?}, expected {want:?}",
                    C::NAME,
                    masks.shape()
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
            layers,
            v_in,
        })
    }

    /// The initial state's parts (per layer, `h` then `c`) as padded rows (`rows×hp` each),
    /// or `None` for zeros.
    fn initial_rows<T: Elem>(&self, d: Dims) -> Result<Option<Vec<Vec<T>>>> {
        let Some(init) = &self.initial else {
            return Ok(None);
        };
        let init = init.to_dtype(T::DTYPE)?;
        let parts = (0..d.layers * C::PARTS)
            .map(|p| {
                let values: Vec<T> = init.get(p)?.flatten_all()?.to_vec1()?;
                Ok(pad_rows(&values, d.h))
            })
            .collect::<Result<_>>()?;
        Ok(Some(parts))
    }

    /// The dropout masks as padded rows, per layer above the first (`N×hp` each).
    fn mask_rows<T: Elem>(&self, d: Dims) -> Result<Option<Vec<Vec<T>>>> {
        let Some(masks) = &self.masks else {
            return Ok(None);
        };
        let masks = masks.to_dtype(T::DTYPE)?;
        let rows = (0..d.layers - 1)
            .map(|l| {
                let values: Vec<T> = masks.get(l)?.flatten_all()?.to_vec1()?;
                Ok(pad_rows(&values, d.h))
            })
            .collect::<Result<_>>()?;
        Ok(Some(rows))
    }

    /// Per layer, each block's slice of the mask on that layer's input (none for layer 0).
    fn mask_blocks<'a, T>(
        &self,
        masks: Option<&'a [Vec<T>]>,
        d: Dims,
    ) -> Vec<Vec<Option<&'a [T]>>> {
        let count = self.blocks.sizes().len();
        (0..d.layers)
            .map(|l| match masks {
                Some(m) if l > 0 => self
                    .blocks
                    .split(&m[l - 1], d.t * d.hp)
                    .into_iter()
                    .map(Some)
                    .collect(),
                _ => vec![None; count],
            })
            .collect()
    }

    /// Per layer, the state each block starts from.
    fn initial_blocks<'a, T: Elem>(
        &self,
        initial: Option<&'a [Vec<T>]>,
        d: Dims,
    ) -> Vec<Vec<Prev<'a, T>>> {
        (0..d.layers)
            .map(|l| {
                let parts = initial.map(|p| &p[l * C::PARTS..(l + 1) * C::PARTS]);
                per_block(&self.blocks, parts, d.hp)
            })
            .collect()
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
        let (input_rows, gh) = table.dims2()?;
        let w_rows = w.dims2()?.0;
        let (v, h1) = out.dims2()?;
        let op = CellLossGrad {
            forward: self,
            input: table.contiguous()?,
            input_rows,
            scale: grad.get(0)?.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        };
        let flat = saved.apply_op3_no_bwd(&w.contiguous()?, &out.contiguous()?, &op)?;
        let d_table = flat
            .narrow(0, 0, input_rows * gh)?
            .reshape((input_rows, gh))?;
        let d_w = flat
            .narrow(0, input_rows * gh, w_rows * h1)?
            .reshape((w_rows, h1))?;
        let d_out = flat
            .narrow(0, input_rows * gh + w_rows * h1, v * h1)?
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
        [input, w, out]: [&[T]; 3],
        shapes: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let d = self.dims(shapes)?;
        let Dims {
            h,
            hp,
            gp,
            v,
            t,
            layers,
            v_in,
        } = d;
        let n = self.tokens.len();
        let initial = self.initial_rows::<T>(d)?;
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let bias: Vec<T> = out.chunks_exact(h + 1).map(|row| row[h]).collect();
        let inv_n = T::one() / T::from(n.max(1)).expect("row count fits");
        let layer_len = n * (gp + 2 * hp);
        let total_len = layers * layer_len + n * v;
        let mut saved = Vec::with_capacity(total_len);
        gather(&self.tokens, &input[..v_in * gp / hp * h], d, &mut saved);
        saved.resize(total_len, T::zero());
        let blocks = &self.blocks;
        let (layer_bufs, d_logits) = saved.split_at_mut(layers * layer_len);
        // Per block: its slices of every layer's buffers, the initial states, targets, logits.
        let masks = self.mask_rows::<T>(d)?;
        let mut per_layer: Vec<_> = layer_bufs
            .chunks_exact_mut(layer_len.max(1))
            .zip(self.initial_blocks(initial.as_deref(), d))
            .zip(self.mask_blocks(masks.as_deref(), d))
            .map(|((buf, inits), masks)| {
                let (g, rest) = buf.split_at_mut(n * gp);
                let (s, k) = rest.split_at_mut(n * hp);
                blocks
                    .split_mut(g, t * gp)
                    .into_iter()
                    .zip(blocks.split_mut(s, t * hp))
                    .zip(blocks.split_mut(k, t * hp))
                    .zip(inits.into_iter().zip(masks))
                    .map(|(((g, s), k), (init, mask))| LayerMut {
                        g,
                        s,
                        k,
                        init,
                        mask,
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
            })
            .collect();
        let mut items: Vec<_> = blocks
            .split(&self.targets, t)
            .into_iter()
            .zip(blocks.split_mut(d_logits, t * v))
            .map(|(y, dl)| {
                let stack: Vec<_> = per_layer
                    .iter_mut()
                    .map(|l| l.next().expect("per block"))
                    .collect();
                (y, dl, stack, 0.0)
            })
            .collect();
        let hidden: Vec<_> = (0..layers)
            .map(|l| hidden_projection(layer_hidden(w, l, d), d, C::GROUPS))
            .collect();
        let inputs: Vec<_> = (1..layers)
            .map(|l| input_projection(layer_input(input, l, d), d, C::GROUPS))
            .collect();
        for_each(&mut items, |(y, dl, stack, loss)| {
            for l in 0..stack.len() {
                let (below, here) = stack.split_at_mut(l);
                let layer = &mut here[0];
                if let Some(lower) = below.last() {
                    // gates (T·b × G·hp) = b_ih + states below (T·b × H) · W_ihᵀ (H × G·hp).
                    let (u, b_in) = &inputs[l - 1];
                    for row in layer.g.chunks_exact_mut(gp) {
                        row.copy_from_slice(b_in);
                    }
                    let rows_here = lower.s.len() / hp;
                    let masked = layer.mask.map(|m| masked(lower.s, m));
                    let lhs = (masked.as_deref().unwrap_or(lower.s), rows(hp));
                    matmul(layer.g, true, lhs, (&u[..], rows(gp)), (rows_here, gp, h));
                }
                let (w_t, b_hh) = &hidden[l];
                forward::<C, T>(layer.g, layer.s, layer.k, layer.init, (w_t, b_hh), d);
            }
            let top = stack.last().expect("at least one layer");
            *loss = head::forward((&top.s[..], hp), h, (weight, &bias), y, dl, inv_n);
        });
        // Block order, so the same bits whatever the thread count.
        let total: f64 = items.iter().map(|item| item.3).sum();
        drop(items);
        drop(per_layer);
        // Each layer's state after each window's last step, in row order.
        let mut output = vec![<T as WithDType>::from_f64(total / n.max(1) as f64)];
        let last = |buf: &[T]| -> Vec<T> {
            let mut rows_out = Vec::with_capacity(blocks.rows() * h);
            for block in blocks.split(buf, t * hp) {
                let step = &block[block.len() - block.len() / t.max(1)..];
                for row in step.chunks_exact(hp) {
                    rows_out.extend_from_slice(&row[..h]);
                }
            }
            rows_out
        };
        for buf in layer_bufs.chunks_exact(layer_len.max(1)).take(layers) {
            let (states, kept) = buf[n * gp..].split_at(n * hp);
            output.extend(last(states));
            if C::PARTS > 1 {
                output.extend(last(kept));
            }
        }
        *self.saved.lock().expect("no panics while held") =
            Some(Tensor::from_vec(saved, total_len, &Device::Cpu)?);
        let len = output.len();
        Ok((output, Shape::from(len)))
    }
}

/// One layer's buffers for one block, during the forward pass.
struct LayerMut<'a, T> {
    g: &'a mut [T],
    s: &'a mut [T],
    k: &'a mut [T],
    init: Prev<'a, T>,
    /// The dropout mask on this layer's input (layers above the first).
    mask: Option<&'a [T]>,
}

/// `states ⊙ mask`.
fn masked<T: Elem>(states: &[T], mask: &[T]) -> Vec<T> {
    states.iter().zip(mask).map(|(&s, &m)| s * m).collect()
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
        let (w_rows, h1) = w_shape.dims2()?;
        let (h, v) = (h1 - 1, out_shape.dims2()?.0);
        let (hp, gh) = (padded(h), C::GROUPS * h);
        let layers = w_rows / gh.max(1);
        let d = Dims {
            h,
            hp,
            gp: C::GROUPS * hp,
            v,
            t: fwd.seq_len,
            layers,
            v_in: self.input_rows - (layers.max(1) - 1) * (h + 1),
        };
        let (n, t, gp, blocks) = (fwd.tokens.len(), d.t, d.gp, &fwd.blocks);
        let initial = fwd.initial_rows::<T>(d)?;
        let layer_len = n * (gp + 2 * hp);
        let (layer_bufs, d_logits) = saved.split_at(layers * layer_len);
        let weight = Weight {
            data: out,
            stride: h + 1,
        };
        let masks = fwd.mask_rows::<T>(d)?;
        let mut per_layer: Vec<_> = layer_bufs
            .chunks_exact(layer_len.max(1))
            .zip(fwd.initial_blocks(initial.as_deref(), d))
            .zip(fwd.mask_blocks(masks.as_deref(), d))
            .map(|((buf, inits), masks)| {
                let (g, rest) = buf.split_at(n * gp);
                let (s, k) = rest.split_at(n * hp);
                blocks
                    .split(g, t * gp)
                    .into_iter()
                    .zip(blocks.split(s, t * hp))
                    .zip(blocks.split(k, t * hp))
                    .zip(inits.into_iter().zip(masks))
                    .map(|(((gates, states), kept), (init, mask))| Block {
                        gates,
                        states,
                        kept,
                        init,
                        mask,
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
            })
            .collect();
        let mut items: Vec<_> = blocks
            .split(&fwd.tokens, t)
            .into_iter()
            .zip(blocks.split(d_logits, t * v))
            .map(|(x, dl)| {
                let stack: Vec<_> = per_layer
                    .iter_mut()
                    .map(|l| l.next().expect("per block"))
                    .collect();
                (x, dl, stack)
            })
            .collect();
        let input_len = self.input_rows * gh;
        let len = input_len + w_rows * h1 + v * h1;
        let w_p: Vec<_> = (0..layers)
            .map(|l| pad_hidden_weight(layer_hidden(w, l, d), d, C::GROUPS))
            .collect();
        // W_ih of the layers above the first (nothing to read for one layer).
        let input: Vec<T> = if layers > 1 {
            self.input.flatten_all()?.to_dtype(T::DTYPE)?.to_vec1()?
        } else {
            Vec::new()
        };
        let v_p: Vec<_> = (1..layers)
            .map(|l| pad_input_weight(layer_input(&input, l, d), d, C::GROUPS))
            .collect();
        let mut grads = for_each_summed(&mut items, len, |(x, dl, stack), grads| {
            let (d_input, rest) = grads.split_at_mut(input_len);
            let (d_w, d_out) = rest.split_at_mut(w_rows * h1);
            let top = stack.last().expect("at least one layer");
            let mut d_states = vec![T::zero(); top.states.len()];
            let (mut d_weight, mut d_bias) = (vec![T::zero(); v * h], vec![T::zero(); v]);
            head::backward(
                (top.states, hp),
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
            for l in (0..stack.len()).rev() {
                let d_w_l = &mut d_w[l * gh * h1..][..gh * h1];
                let d_in = backward::<C, T>(&stack[l], &w_p[l], &mut d_states, d_w_l, d);
                if l == 0 {
                    scatter(&d_in, x, &mut d_input[..d.v_in * gh], d);
                    continue;
                }
                // Layer l's input weights, and ∂loss/∂(states below).
                let mask = stack[l].mask;
                let masked_below = mask.map(|m| masked(stack[l - 1].states, m));
                let below = masked_below.as_deref().unwrap_or(stack[l - 1].states);
                let rows_here = below.len() / hp;
                let start = (d.v_in + (l - 1) * h1) * gh;
                let d_rows = &mut d_input[start..][..h1 * gh];
                let mut d_u = vec![T::zero(); h * gp];
                let lhs = (below, transposed(hp));
                matmul(
                    &mut d_u,
                    false,
                    lhs,
                    (&d_in[..], rows(gp)),
                    (h, gp, rows_here),
                );
                let mut d_b = vec![T::zero(); gp];
                for row in d_in.chunks_exact(gp) {
                    d_b.iter_mut().zip(row).for_each(|(a, &g)| *a += g);
                }
                for (k, dst) in d_rows.chunks_exact_mut(gh).enumerate() {
                    let src = if k < h {
                        &d_u[k * gp..][..gp]
                    } else {
                        &d_b[..]
                    };
                    for (dst, src) in dst.chunks_exact_mut(h).zip(src.chunks_exact(hp)) {
                        dst.iter_mut().zip(src).for_each(|(a, &g)| *a += g);
                    }
                }
                d_states = vec![T::zero(); below.len()];
                let lhs = (&d_in[..], rows(gp));
                let rhs = (&v_p[l - 1][..], rows(hp));
                matmul_into((&mut d_states, hp), false, lhs, rhs, (rows_here, h, gp));
                if let Some(m) = mask {
                    d_states.iter_mut().zip(m).for_each(|(g, &m)| *g *= m);
                }
            }
        });
        if self.scale != 1.0 {
            let scale = <T as WithDType>::from_f64(self.scale);
            grads.iter_mut().for_each(|g| *g *= scale);
        }
        Ok((grads, Shape::from(len)))
    }
}

/// Layer `l`'s `[W_hh | b_hh]` rows of the stacked hidden weights.
fn layer_hidden<T>(w: &[T], l: usize, d: Dims) -> &[T] {
    let len = d.gp / d.hp * d.h * (d.h + 1);
    &w[l * len..][..len]
}

/// Layer `l`'s (≥ 1) rows `[W_ihᵀ; b_ihᵀ]` (`(H+1) × G·H`) of the input projections.
fn layer_input<T>(input: &[T], l: usize, d: Dims) -> &[T] {
    let gh = d.gp / d.hp * d.h;
    &input[(d.v_in + (l - 1) * (d.h + 1)) * gh..][..(d.h + 1) * gh]
}

/// From `[W_ihᵀ; b_ihᵀ]`: `W_ihᵀ` as `H × G·hp` (padded groups) and `b_ih` padded.
fn input_projection<T: Elem>(rows_in: &[T], d: Dims, groups: usize) -> (Vec<T>, Vec<T>) {
    let Dims { h, hp, gp, .. } = d;
    let gh = groups * h;
    let mut u = vec![T::zero(); h * gp];
    let mut bias = vec![T::zero(); gp];
    for k in 0..=h {
        let row = &rows_in[k * gh..][..gh];
        let dst = if k < h {
            &mut u[k * gp..][..gp]
        } else {
            &mut bias[..]
        };
        for (dst, src) in dst.chunks_exact_mut(hp).zip(row.chunks_exact(h)) {
            dst[..h].copy_from_slice(src);
        }
    }
    (u, bias)
}

/// `W_ih` (of a layer above the first) as `G·hp × hp` from `[W_ihᵀ; b_ihᵀ]`, so that
/// `∂gates (rows × G·hp) · this` is `∂loss/∂(states below)`.
fn pad_input_weight<T: Elem>(rows_in: &[T], d: Dims, groups: usize) -> Vec<T> {
    let Dims { h, hp, gp, .. } = d;
    let gh = groups * h;
    let mut out = vec![T::zero(); gp * hp];
    for k in 0..h {
        for g in 0..groups {
            for j in 0..h {
                out[(g * hp + j) * hp + k] = rows_in[k * gh + g * h + j];
            }
        }
    }
    out
}

/// Adds layer 0's input gradients `(T·b × G·hp)` into the table rows of their tokens.
fn scatter<T: Elem>(d_in: &[T], tokens: &[u32], d_table: &mut [T], d: Dims) {
    let gh = d.gp / d.hp * d.h;
    for (row, &x) in d_in.chunks_exact(d.gp).zip(tokens) {
        let dst = &mut d_table[x as usize * gh..][..gh];
        for (dst, src) in dst.chunks_exact_mut(d.h).zip(row.chunks_exact(d.hp)) {
            dst.iter_mut().zip(src).for_each(|(a, &g)| *a += g);
        }
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

/// What the forward pass left for one block of one layer.
struct Block<'a, T> {
    gates: &'a [T],
    states: &'a [T],
    kept: &'a [T],
    init: Prev<'a, T>,
    /// The dropout mask on this layer's input (layers above the first).
    mask: Option<&'a [T]>,
}

/// Backpropagation through time over one block of one layer: `d_states` holds `∂loss/∂h`
/// per step from above (the head, or the layer above); adds the block's gradient of the
/// layer's `[W_hh | b_hh]` (`G·H × (H+1)`) into `d_w` and returns `∂loss/∂gi` per step
/// `(T·b × G·hp)`, the gradient of the layer's input projections. `w_p` is
/// [`pad_hidden_weight`]'s.
fn backward<C: GateCell, T: Elem>(
    block: &Block<'_, T>,
    w_p: &[T],
    d_states: &mut [T],
    d_w: &mut [T],
    d: Dims,
) -> Vec<T> {
    let Dims { h, hp, gp, t, .. } = d;
    let b = block.states.len() / (t * hp).max(1);
    if b == 0 {
        return Vec::new();
    }
    let mut d_gh = vec![T::zero(); t * b * gp];
    // The GRU's ∂gi differs from its ∂gh; the other cells' are the same buffer.
    let mut d_gi = vec![
        T::zero();
        if C::SEPARATE_INPUT_GRAD {
            t * b * gp
        } else {
            b * gp
        }
    ];
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
        let d_gi_s = if C::SEPARATE_INPUT_GRAD {
            &mut d_gi[s * b * gp..][..b * gp]
        } else {
            &mut d_gi[..]
        };
        let grad = StepGrad {
            dh,
            dc: &mut dc,
            d_gh: d_gh_s,
            d_gi: d_gi_s,
            scratch: &mut scratch,
        };
        let (gates, kept) = (
            &block.gates[s * b * gp..][..b * gp],
            &block.kept[s * b * hp..][..b * hp],
        );
        C::backward(grad, gates, kept, prev, hp, h);
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
        let later = (&d_gh[b * gp..], transposed(gp));
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
        let first = (&d_gh[..], transposed(gp));
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
    if C::SEPARATE_INPUT_GRAD {
        d_gi
    } else {
        d_gh
    }
}
