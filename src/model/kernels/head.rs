//! The output layer and the mean softmax cross-entropy as one candle custom op:
//! `loss = mean_i (logsumexp(z_i) - z_i[y_i])` with `z = S·Wᵀ + b`, for states `S` `(N, H)`,
//! weight `W` `(V, H)`, bias `b` `(V)` and targets `y` (one per row, held by the op).
//!
//! The forward pass keeps `∂loss/∂z = (softmax(z) - onehot(y)) / N` for the backward pass, which
//! is then three products; no logits, log-probabilities or one-hot tensors go through candle's
//! graph. Rows are processed in the blocks given (partial sums added in block order).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor, WithDType};

use super::blocks::{for_each, Blocks};
use super::gemm::{matmul, rows, transposed};
use super::{run_kernel, Elem, SliceKernel};
use num_traits::Float;

/// Mean softmax cross-entropy of `S·Wᵀ + b` against `targets`, rows cut into `blocks`.
pub struct SoftmaxCrossEntropy {
    targets: Vec<u32>,
    blocks: Blocks,
    /// `∂loss/∂logits` `(N, V)` from the forward pass.
    d_logits: Mutex<Option<Tensor>>,
}

impl SoftmaxCrossEntropy {
    /// The loss against `targets` (one class per row), with rows cut into `blocks`.
    pub fn new(targets: Vec<u32>, blocks: Blocks) -> SoftmaxCrossEntropy {
        SoftmaxCrossEntropy {
            targets,
            blocks,
            d_logits: Mutex::new(None),
        }
    }
}

/// The backward products, scaled by the loss's incoming gradient: `∂S = D·W`, `∂W = Dᵀ·S`,
/// `∂b = Σ_rows D`, concatenated in one flat buffer.
struct HeadGrad {
    blocks: Blocks,
    scale: f64,
}

impl CustomOp3 for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax-cross-entropy"
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
        run_kernel(self, [(s1, l1), (s2, l2), (s3, l3)])
    }

    fn bwd(
        &self,
        states: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _loss: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d_logits = self
            .d_logits
            .lock()
            .expect("no panics while held")
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("softmax-cross-entropy: no forward".into()))?;
        let (n, h) = states.dims2()?;
        let v = weight.dims2()?.0;
        let scale = grad.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let op = HeadGrad {
            blocks: self.blocks.clone(),
            scale,
        };
        let flat = states
            .contiguous()?
            .apply_op3_no_bwd(&weight.contiguous()?, &d_logits, &op)?;
        let d_states = flat.narrow(0, 0, n * h)?.reshape((n, h))?;
        let d_weight = flat.narrow(0, n * h, v * h)?.reshape((v, h))?;
        let d_bias = flat.narrow(0, n * h + v * h, v)?;
        Ok((Some(d_states), Some(d_weight), Some(d_bias)))
    }
}

impl SliceKernel<3> for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax cross-entropy"
    }

    fn run<T: Elem>(
        &self,
        [states, weight, bias]: [&[T]; 3],
        [s_shape, w_shape, b_shape]: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let (n, h) = s_shape.dims2()?;
        let v = w_shape.dims2()?.0;
        if w_shape.dims2()? != (v, h) || b_shape.dims() != [v] {
            candle_core::bail!(
                "softmax cross-entropy: shapes {s_shape:?}, {w_shape:?}, {b_shape:?}"
            );
        }
        if self.targets.len() != n || self.blocks.rows() != n {
            candle_core::bail!(
                "softmax cross-entropy: {} targets for {n} rows",
                self.targets.len()
            );
        }
        if let Some(bad) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("softmax cross-entropy: target {bad} outside {v} classes");
        }
        let mut d_logits = vec![T::zero(); n * v];
        let mut items: Vec<_> = self
            .blocks
            .split(states, h)
            .into_iter()
            .zip(self.blocks.split(&self.targets, 1))
            .zip(self.blocks.split_mut(&mut d_logits, v))
            .map(|((s, y), d)| (s, y, d, 0.0f64))
            .collect();
        let inv_n = T::one() / T::from(n.max(1)).expect("row count fits");
        for_each(&mut items, |(s, y, d, loss)| {
            *loss = block_forward(s, weight, bias, y, d, inv_n, h, v);
        });
        let total: f64 = items.iter().map(|item| item.3).sum();
        drop(items);
        *self.d_logits.lock().expect("no panics while held") =
            Some(Tensor::from_vec(d_logits, (n, v), &Device::Cpu)?);
        Ok((
            vec![<T as WithDType>::from_f64(total / n.max(1) as f64)],
            Shape::from(()),
        ))
    }
}

/// One block: logits, loss summed over its rows (returned), and `∂loss/∂logits` into `d`.
#[allow(clippy::too_many_arguments)]
fn block_forward<T: Elem>(
    states: &[T],
    weight: &[T],
    bias: &[T],
    targets: &[u32],
    d: &mut [T],
    inv_n: T,
    h: usize,
    v: usize,
) -> f64 {
    let rows_here = targets.len();
    for row in d.chunks_exact_mut(v) {
        row.copy_from_slice(bias);
    }
    // z (rows×V) = b + S (rows×H) · Wᵀ.
    matmul(
        d,
        true,
        (states, rows(h)),
        (weight, transposed(h)),
        (rows_here, v, h),
    );
    let mut loss = 0.0;
    for (z, &y) in d.chunks_exact_mut(v).zip(targets) {
        let max = z.iter().fold(T::neg_infinity(), |m, &x| Float::max(m, x));
        let y = y as usize;
        let z_y = z[y] - max;
        let mut sum = T::zero();
        for x in z.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        // -log softmax(z)[y] = log Σ exp(z - max) - (z_y - max).
        loss += WithDType::to_f64(sum.ln() - z_y);
        let scale = inv_n / sum;
        for x in z.iter_mut() {
            *x *= scale;
        }
        z[y] -= inv_n;
    }
    loss
}

impl CustomOp3 for HeadGrad {
    fn name(&self) -> &'static str {
        "softmax-cross-entropy-grad"
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
        run_kernel(self, [(s1, l1), (s2, l2), (s3, l3)])
    }
}

impl SliceKernel<3> for HeadGrad {
    fn name(&self) -> &'static str {
        "softmax cross-entropy backward"
    }

    fn run<T: Elem>(
        &self,
        [states, weight, d_logits]: [&[T]; 3],
        [s_shape, w_shape, _]: [&Shape; 3],
    ) -> Result<(Vec<T>, Shape)> {
        let (n, h) = s_shape.dims2()?;
        let v = w_shape.dims2()?.0;
        let mut out = vec![T::zero(); n * h + v * h + v];
        let (d_states, params) = out.split_at_mut(n * h);
        let mut partials = vec![vec![T::zero(); v * h + v]; self.blocks.sizes().len() - 1];
        let d_params = std::iter::once(params).chain(partials.iter_mut().map(|p| p.as_mut_slice()));
        let mut items: Vec<_> = self
            .blocks
            .split(states, h)
            .into_iter()
            .zip(self.blocks.split(d_logits, v))
            .zip(self.blocks.split_mut(d_states, h))
            .zip(d_params)
            .collect();
        for_each(&mut items, |(((s, d), ds), dp)| {
            let rows_here = d.len() / v;
            // ∂S (rows×H) = D (rows×V) · W (V×H).
            matmul(
                ds,
                false,
                (d, rows(v)),
                (weight, rows(h)),
                (rows_here, h, v),
            );
            let (dw, db) = dp.split_at_mut(v * h);
            // ∂W (V×H) = Dᵀ (V×rows) · S (rows×H).
            matmul(
                dw,
                false,
                (d, transposed(v)),
                (s, rows(h)),
                (v, h, rows_here),
            );
            for row in d.chunks_exact(v) {
                db.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
            }
        });
        drop(items);
        let params = &mut out[n * h..];
        for partial in &partials {
            params.iter_mut().zip(partial).for_each(|(a, &b)| *a += b);
        }
        if self.scale != 1.0 {
            let scale = <T as WithDType>::from_f64(self.scale);
            out.iter_mut().for_each(|x| *x *= scale);
        }
        Ok((out, Shape::from(n * h + v * h + v)))
    }
}
