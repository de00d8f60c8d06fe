//! The tanh recurrence `h_t = tanh(pre_t + h_{t-1}·W_hhᵀ)` over a whole sequence as one candle
//! custom op: forward over all steps and backpropagation through time each run as a single
//! loop of `gemm` calls on contiguous buffers, instead of a few dozen small candle ops (each
//! with its own allocation and zero-filled gradient) per time step.
//!
//! Inputs: `pre` `(T, B, H)` (input projections with both biases; the state before step 0 is
//! zero) and `W_hh` `(H, H)`. Output: the states `(T, B, H)`. f32 (with the vectorised tanh of
//! [`super::tanh`]) and f64, CPU only; the plain
//! candle recurrence in [`super::rnn`] is the reference the tests hold this to. Single-threaded
//! and deterministic, so runs and resumes are bit-reproducible.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use num_traits::Float;

use super::tanh::SliceTanh;

/// The fused recurrence (forward, with [`RecurrenceGrad`] as its backward).
pub struct Recurrence;

/// Backpropagation through time of [`Recurrence`]: from the states, `W_hh` and the gradient of
/// the states, the gradients of `pre` and of `W_hh`, concatenated in one flat buffer.
struct RecurrenceGrad;

fn contiguous<'a, T>(data: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("fused rnn: {what} must be contiguous"),
    }
}

fn dims3(layout: &Layout) -> Result<(usize, usize, usize)> {
    layout.shape().dims3()
}

impl CustomOp2 for Recurrence {
    fn name(&self) -> &'static str {
        "fused-rnn-recurrence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (t, b, h) = dims3(l1)?;
        if l2.shape().dims2()? != (h, h) {
            candle_core::bail!("fused rnn: W_hh must be ({h}, {h}), got {:?}", l2.shape());
        }
        let storage = match (s1, s2) {
            (CpuStorage::F32(pre), CpuStorage::F32(w)) => CpuStorage::F32(forward(
                contiguous(pre, l1, "pre")?,
                contiguous(w, l2, "W_hh")?,
                t,
                b,
                h,
            )),
            (CpuStorage::F64(pre), CpuStorage::F64(w)) => CpuStorage::F64(forward(
                contiguous(pre, l1, "pre")?,
                contiguous(w, l2, "W_hh")?,
                t,
                b,
                h,
            )),
            _ => candle_core::bail!("fused rnn: f32 or f64 inputs of one dtype expected"),
        };
        Ok((storage, Shape::from((t, b, h))))
    }

    fn bwd(
        &self,
        _pre: &Tensor,
        w: &Tensor,
        states: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (t, b, h) = states.dims3()?;
        let flat =
            states.apply_op3_no_bwd(&w.contiguous()?, &grad.contiguous()?, &RecurrenceGrad)?;
        let d_pre = flat.narrow(0, 0, t * b * h)?.reshape((t, b, h))?;
        let d_w = flat.narrow(0, t * b * h, h * h)?.reshape((h, h))?;
        Ok((Some(d_pre), Some(d_w)))
    }
}

impl CustomOp3 for RecurrenceGrad {
    fn name(&self) -> &'static str {
        "fused-rnn-recurrence-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (t, b, h) = dims3(l1)?;
        let storage = match (s1, s2, s3) {
            (CpuStorage::F32(s), CpuStorage::F32(w), CpuStorage::F32(g)) => {
                CpuStorage::F32(backward(
                    contiguous(s, l1, "states")?,
                    contiguous(w, l2, "W_hh")?,
                    contiguous(g, l3, "gradient")?,
                    t,
                    b,
                    h,
                ))
            }
            (CpuStorage::F64(s), CpuStorage::F64(w), CpuStorage::F64(g)) => {
                CpuStorage::F64(backward(
                    contiguous(s, l1, "states")?,
                    contiguous(w, l2, "W_hh")?,
                    contiguous(g, l3, "gradient")?,
                    t,
                    b,
                    h,
                ))
            }
            _ => candle_core::bail!("fused rnn backward: f32 or f64 inputs of one dtype expected"),
        };
        Ok((storage, Shape::from(t * b * h + h * h)))
    }
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)` with explicit row/column strides, one thread.
#[allow(clippy::too_many_arguments)]
fn matmul<T: Float + 'static>(
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    (lhs_rs, lhs_cs): (isize, isize),
    rhs: &[T],
    (rhs_rs, rhs_cs): (isize, isize),
    (m, n, k): (usize, usize, usize),
) {
    debug_assert!(dst.len() >= m * n);
    // SAFETY: every pointer covers the m×k, k×n and m×n index ranges described by the strides
    // (checked by the callers' slice lengths); dst does not alias lhs or rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// States of the recurrence for `pre` `(T, B, H)` and `w` `(H, H)`.
pub fn forward<T: Float + SliceTanh + 'static>(
    pre: &[T],
    w: &[T],
    t: usize,
    b: usize,
    h: usize,
) -> Vec<T> {
    let n = b * h;
    let mut out = pre.to_vec();
    let first = n.min(out.len());
    T::tanh_in_place(&mut out[..first]);
    for s in 1..t {
        let (done, rest) = out.split_at_mut(s * n);
        let prev = &done[(s - 1) * n..];
        let cur = &mut rest[..n];
        // cur (B×H) += prev (B×H) · Wᵀ: Wᵀ[k][j] = w[j·H + k], so row stride 1, column stride H.
        matmul(
            cur,
            true,
            prev,
            (h as isize, 1),
            w,
            (1, h as isize),
            (b, h, h),
        );
        T::tanh_in_place(cur);
    }
    out
}

/// Gradients of `pre` and `w` (concatenated) from the states and the states' gradient.
pub fn backward<T: Float + 'static>(
    states: &[T],
    w: &[T],
    grad: &[T],
    t: usize,
    b: usize,
    h: usize,
) -> Vec<T> {
    let n = b * h;
    let mut out = vec![T::zero(); t * n + h * h];
    let (d_pre, d_w) = out.split_at_mut(t * n);
    let mut carry = vec![T::zero(); n];
    for s in (0..t).rev() {
        let da = &mut d_pre[s * n..(s + 1) * n];
        let hs = &states[s * n..(s + 1) * n];
        let gs = &grad[s * n..(s + 1) * n];
        for i in 0..n {
            da[i] = (gs[i] + carry[i]) * (T::one() - hs[i] * hs[i]);
        }
        if s > 0 {
            let prev = &states[(s - 1) * n..s * n];
            // dW (H×H) += daᵀ (H×B) · prev (B×H); daᵀ[j][i] = da[i·H + j].
            matmul(
                d_w,
                true,
                da,
                (1, h as isize),
                prev,
                (h as isize, 1),
                (h, h, b),
            );
            // carry (B×H) = da (B×H) · W (H×H).
            matmul(
                &mut carry,
                false,
                da,
                (h as isize, 1),
                w,
                (h as isize, 1),
                (b, h, h),
            );
        }
    }
    out
}
