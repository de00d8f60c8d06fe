//! The tanh recurrence `h_t = tanh(pre_t + h_{t-1}·W_hhᵀ)` over a whole sequence as one candle
//! custom op: the forward pass over all steps and backpropagation through time each run as one
//! loop of `gemm` calls per block of windows, instead of a few dozen small candle ops (each
//! with its own allocation and zero-filled gradient) per time step.
//!
//! Inputs: a table `(V, H)` of input projections per token (with both biases) and `W_hh`
//! `(H, H)`; the op holds the tokens, `pre_t` being their rows. Tokens and the output states
//! `(N, H)` are laid out block after block ([`Blocks`]), each block time-major `(T, b, H)`; the
//! state before step 0 is zero. f32 (with the vectorised tanh of [`super::tanh`]) and f64; the
//! plain candle recurrence in [`crate::model::rnn`] is the reference the tests hold this to.

use candle_core::{CustomOp2, CustomOp3, Result, Shape, Tensor};

use super::blocks::{for_each, for_each_summed, Blocks};
use super::gemm::{matmul, rows, transposed};
use super::{cpu_fwd_by_kernel, Elem, SliceKernel};

/// The fused recurrence over windows of `seq_len` steps cut into `blocks`.
#[derive(Debug, Clone)]
pub struct Recurrence {
    blocks: Blocks,
    seq_len: usize,
    tokens: Vec<u32>,
}

/// Backpropagation through time: from the states, `W_hh` and the states' gradient, the
/// gradients of the table `(V, H)` and of `W_hh`, concatenated in one flat buffer.
struct RecurrenceGrad {
    forward: Recurrence,
    vocab: usize,
}

impl Recurrence {
    /// The recurrence over `tokens` in block order (see the module docs): `blocks` of windows
    /// of `seq_len` steps.
    pub fn new(tokens: Vec<u32>, blocks: Blocks, seq_len: usize) -> Result<Recurrence> {
        if tokens.len() != seq_len * blocks.rows() {
            candle_core::bail!(
                "fused rnn: {} tokens for {} windows of {seq_len} steps",
                tokens.len(),
                blocks.rows()
            );
        }
        Ok(Recurrence {
            blocks,
            seq_len,
            tokens,
        })
    }
}

impl CustomOp2 for Recurrence {
    fn name(&self) -> &'static str {
        "fused-rnn-recurrence"
    }

    cpu_fwd_by_kernel!(2);

    fn bwd(
        &self,
        table: &Tensor,
        w: &Tensor,
        states: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (v, h) = table.dims2()?;
        let op = RecurrenceGrad {
            forward: self.clone(),
            vocab: v,
        };
        let flat = states.apply_op3_no_bwd(&w.contiguous()?, &grad.contiguous()?, &op)?;
        let d_table = flat.narrow(0, 0, v * h)?.reshape((v, h))?;
        let d_w = flat.narrow(0, v * h, h * h)?.reshape((h, h))?;
        Ok((Some(d_table), Some(d_w)))
    }
}

impl SliceKernel<2> for Recurrence {
    fn name(&self) -> &'static str {
        "fused rnn"
    }

    fn run<T: Elem>(
        &self,
        [table, w]: [&[T]; 2],
        [table_shape, w_shape]: [&Shape; 2],
    ) -> Result<(Vec<T>, Shape)> {
        let (v, h) = table_shape.dims2()?;
        if w_shape.dims2()? != (h, h) {
            candle_core::bail!("fused rnn: W_hh must be ({h}, {h}), got {w_shape:?}");
        }
        if let Some(bad) = self.tokens.iter().find(|&&x| x as usize >= v) {
            candle_core::bail!("fused rnn: token {bad} outside the {v}-row table");
        }
        let (t, n, hp) = (self.seq_len, self.tokens.len(), padded(h));
        let mut work = Vec::with_capacity(n * hp);
        gather(&self.tokens, table, h, &mut work);
        let w_t = pad_columns(w, h, true);
        for_each(&mut self.blocks.split_mut(&mut work, t * hp), |block| {
            forward(block, &w_t, t, h)
        });
        let mut out = vec![T::zero(); n * h];
        copy_rows(&work, hp, &mut out, h, h);
        Ok((out, Shape::from((n, h))))
    }
}

impl CustomOp3 for RecurrenceGrad {
    fn name(&self) -> &'static str {
        "fused-rnn-recurrence-grad"
    }

    cpu_fwd_by_kernel!(3);
}

impl SliceKernel<3> for RecurrenceGrad {
    fn name(&self) -> &'static str {
        "fused rnn backward"
    }

    fn run<T: Elem>(
        &self,
        [states, w, grad]: [&[T]; 3],
        [shape, _, _]: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let Recurrence {
            blocks,
            seq_len: t,
            tokens,
        } = &self.forward;
        let (t, h) = (*t, shape.dims2()?.1);
        let (states, grad) = (pad_rows(states, h), pad_rows(grad, h));
        let hp = padded(h);
        let mut items: Vec<_> = blocks
            .split(tokens, t)
            .into_iter()
            .zip(blocks.split(&states, t * hp))
            .zip(blocks.split(&grad, t * hp))
            .collect();
        let len = self.vocab * h + h * h;
        let w_p = pad_columns(w, h, false);
        let out = for_each_summed(&mut items, len, |((x, s), g), d| {
            let (d_table, d_w) = d.split_at_mut(self.vocab * h);
            backward(x, s, &w_p, &mut g.to_vec(), d_table, d_w, t, h)
        });
        Ok((out, Shape::from(len)))
    }
}

/// Row length of the work buffers: H rounded up to a whole number of SIMD registers (16 f32),
/// so that `gemm` reads `W_hh` in place instead of packing it at every step.
pub(super) fn padded(h: usize) -> usize {
    h.next_multiple_of(16)
}

/// `w` (H×H, row-major) or its transpose, as an H×padded(H) row-major matrix with zero columns
/// beyond H.
pub(super) fn pad_columns<T: Elem>(w: &[T], h: usize, transpose: bool) -> Vec<T> {
    let hp = padded(h);
    let mut out = vec![T::zero(); h * hp];
    for i in 0..h {
        for j in 0..h {
            out[i * hp + j] = if transpose {
                w[j * h + i]
            } else {
                w[i * h + j]
            };
        }
    }
    out
}

/// Copies rows of length `h` between buffers with row lengths `from` and `to`.
fn copy_rows<T: Copy>(src: &[T], from: usize, dst: &mut [T], to: usize, h: usize) {
    for (d, s) in dst.chunks_exact_mut(to).zip(src.chunks_exact(from)) {
        d[..h].copy_from_slice(&s[..h]);
    }
}

/// `src` (rows of `h`) with its rows padded to `padded(h)` with zeros.
pub(super) fn pad_rows<T: Elem>(src: &[T], h: usize) -> Vec<T> {
    let hp = padded(h);
    let mut out = Vec::with_capacity(src.len() / h.max(1) * hp);
    for row in src.chunks_exact(h) {
        out.extend_from_slice(row);
        out.extend(std::iter::repeat_n(T::zero(), hp - h));
    }
    out
}

/// Appends the pre-activations of `tokens` to `work`: their rows of `table` (`V×H`), each
/// padded to `padded(H)` with zeros.
pub(super) fn gather<T: Elem>(tokens: &[u32], table: &[T], h: usize, work: &mut Vec<T>) {
    let pad = padded(h) - h;
    work.reserve(tokens.len() * (h + pad));
    for &x in tokens {
        work.extend_from_slice(&table[x as usize * h..][..h]);
        work.extend(std::iter::repeat_n(T::zero(), pad));
    }
}

/// Runs the recurrence over one block in place: `work` holds the padded pre-activations
/// `(T, b, padded(H))` from [`gather`] on entry and the padded states on return; `w_t` is
/// `pad_columns(W_hh, H, true)`.
pub(super) fn forward<T: Elem>(work: &mut [T], w_t: &[T], t: usize, h: usize) {
    let hp = padded(h);
    let n = work.len() / t.max(1);
    let b = n / hp;
    if n == 0 {
        return;
    }
    // Padding columns stay zero: zero input, zero weights, tanh(0) = 0.
    T::tanh_in_place(&mut work[..n]);
    for s in 1..t {
        let (done, rest) = work.split_at_mut(s * n);
        let cur = &mut rest[..n];
        // cur (b×Hp) += prev (b×H) · W_hhᵀ (H×Hp).
        let prev = (&done[(s - 1) * n..], rows(hp));
        matmul(cur, true, prev, (w_t, rows(hp)), (b, hp, h));
        T::tanh_in_place(cur);
    }
}

/// Backpropagation through time over one block, in place: `work` holds the gradient of the
/// padded `states` `(T, b, padded(H))` on entry (its padding is never read) and the gradient of
/// the pre-activations on return. Adds this block's gradient of the table into `d_table`
/// (V×H) and sets `d_w` (H×H) to its gradient of `W_hh`; `w_p` is
/// `pad_columns(W_hh, H, false)`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward<T: Elem>(
    tokens: &[u32],
    states: &[T],
    w_p: &[T],
    work: &mut [T],
    d_table: &mut [T],
    d_w: &mut [T],
    t: usize,
    h: usize,
) {
    let hp = padded(h);
    let n = work.len() / t.max(1);
    let b = n / hp;
    if n == 0 {
        return;
    }
    let mut carry = vec![T::zero(); n];
    for s in (0..t).rev() {
        let da = &mut work[s * n..(s + 1) * n];
        let hs = &states[s * n..(s + 1) * n];
        for ((da, c), hs) in da
            .chunks_exact_mut(hp)
            .zip(carry.chunks_exact(hp))
            .zip(hs.chunks_exact(hp))
        {
            for i in 0..h {
                da[i] = (da[i] + c[i]) * (T::one() - hs[i] * hs[i]);
            }
        }
        if s > 0 {
            // carry (b×Hp) = da (b×H) · W_hh (H×Hp).
            matmul(
                &mut carry,
                false,
                (da, rows(hp)),
                (w_p, rows(hp)),
                (b, hp, h),
            );
        }
    }
    for (da, &x) in work.chunks_exact(hp).zip(tokens) {
        let row = &mut d_table[x as usize * h..][..h];
        row.iter_mut().zip(da).for_each(|(a, &d)| *a += d);
    }
    // d_w (H×H) = Σ_{s≥1} da_sᵀ · h_{s-1}: one product over all steps, D[1..]ᵀ · S[..T-1].
    if t > 1 {
        let k = (t - 1) * b;
        let (d_later, earlier) = (
            (&work[n..], transposed(hp)),
            (&states[..(t - 1) * n], rows(hp)),
        );
        matmul(d_w, false, d_later, earlier, (h, h, k));
    }
}
