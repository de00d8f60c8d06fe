//! The output layer with the mean softmax cross-entropy, on one block of rows:
//! `loss = mean_i (logsumexp(z_i) - z_i[y_i])` with `z = S·Wᵀ + b`, for states `S` `(rows, H)`,
//! weight `W` `(V, H)` (stored with a row stride, so that it can sit next to its bias) and
//! targets `y`. States are `H` wide in rows `stride` apart (the recurrence's padded rows).
//! The forward pass leaves `∂loss/∂z = (softmax(z) - onehot(y)) / N` for the
//! backward pass, which is then three products; no logits, log-probabilities or one-hot tensors
//! exist outside these buffers.

use candle_core::WithDType;
use num_traits::Float;

use super::gemm::{matmul, matmul_into, rows, transposed, Strides};
use super::Elem;

/// The output layer's weight `(V, H)` inside a slice whose rows are `stride` long.
#[derive(Clone, Copy)]
pub struct Weight<'a, T> {
    /// The elements.
    pub data: &'a [T],
    /// Distance between rows.
    pub stride: usize,
}

impl<T> Weight<'_, T> {
    fn as_rows(&self) -> Strides {
        rows(self.stride)
    }

    fn as_transposed(&self) -> Strides {
        transposed(self.stride)
    }
}

/// Logits for one block, the sum of its rows' losses (returned), and `∂loss/∂logits` in `d`
/// (`rows×V`, overwritten), for a mean over `1/inv_n` rows in all; `states` holds `rows` rows of
/// `h` values, `stride` apart.
pub fn forward<T: Elem>(
    (states, stride): (&[T], usize),
    h: usize,
    (weight, bias): (Weight<'_, T>, &[T]),
    targets: &[u32],
    d: &mut [T],
    inv_n: T,
) -> f64 {
    let (rows_here, v) = (targets.len(), bias.len());
    for row in d.chunks_exact_mut(v) {
        row.copy_from_slice(bias);
    }
    // z (rows×V) = b + S (rows×H) · Wᵀ.
    let (s, w) = (
        (states, rows(stride)),
        (weight.data, weight.as_transposed()),
    );
    matmul(d, true, s, w, (rows_here, v, h));
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

/// The backward products for one block: `∂S = D·W` into `d_states` (rows `stride` apart, as
/// the states), and this block's `∂W = Dᵀ·S` (`V×H`, row-major) and `∂b = Σ_rows D` into
/// `d_weight` and `d_bias` (added to).
pub fn backward<T: Elem>(
    (states, stride): (&[T], usize),
    h: usize,
    d: &[T],
    weight: Weight<'_, T>,
    d_states: &mut [T],
    (d_weight, d_bias): (&mut [T], &mut [T]),
) {
    let v = d_bias.len();
    let rows_here = d.len() / v;
    // ∂S (rows×H) = D (rows×V) · W (V×H).
    let w = (weight.data, weight.as_rows());
    matmul_into(
        (d_states, stride),
        false,
        (d, rows(v)),
        w,
        (rows_here, h, v),
    );
    // ∂W (V×H) = Dᵀ (V×rows) · S (rows×H).
    let s = (states, rows(stride));
    matmul(d_weight, false, (d, transposed(v)), s, (v, h, rows_here));
    for row in d.chunks_exact(v) {
        d_bias.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
    }
}
