//! One time step of a recurrent cell over a block of rows, forward and backward, on padded
//! rows: the arithmetic between the matrix products of [`super::cell_loss`].
//!
//! A row of gates holds `G` groups (PyTorch's order), each `hp` values wide (H rounded up to
//! whole SIMD registers, zeros beyond H); states are rows of `hp`. Inputs per step: the gates'
//! input projections `gi` (`x·W_ihᵀ + b_ih`) and hidden projections `gh` (`h·W_hhᵀ + b_hh`).
//! The logistic function is computed as `σ(x) = (1 + tanh(x/2)) / 2`, so that one vectorised
//! tanh ([`super::tanh`]) serves every gate.
//!
//! - RNN (`G = 1`): `h' = tanh(gi + gh)`.
//! - GRU (`[r; z; n]`): `r, z = σ(gi + gh)`, `n = tanh(gi_n + r ⊙ gh_n)`,
//!   `h' = n + z ⊙ (h - n)`; keeps `gh_n` for the backward pass.
//! - LSTM (`[i; f; g; o]`): `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`; keeps `c'`.

use super::Elem;

/// The state before a step, per part; `None` is zero.
#[derive(Clone, Copy)]
pub struct Prev<'a, T> {
    /// `h` (b×hp).
    pub h: Option<&'a [T]>,
    /// The cell's kept value of the previous step: `c` for the LSTM (b×hp).
    pub kept: Option<&'a [T]>,
}

/// One step's buffers written by [`GateCell::forward`].
pub struct StepOut<'a, T> {
    /// Gates `(b, G·hp)`: the input projections on entry, the activated gates on return.
    pub gates: &'a mut [T],
    /// The new state `h` (b×hp).
    pub h: &'a mut [T],
    /// What the backward pass needs besides gates and states (b×hp): `c` (LSTM), `gh_n` (GRU).
    pub kept: &'a mut [T],
}

/// One step's gradients written by [`GateCell::backward`].
pub struct StepGrad<'a, T> {
    /// `∂loss/∂h` of this step on entry; on return, the part of `∂loss/∂h_prev` that does not
    /// go through the gates (GRU: `dh ⊙ z`; untouched for other cells).
    pub dh: &'a mut [T],
    /// The LSTM's `∂loss/∂c` from the step after (b×hp), updated to this step's for the one
    /// before; unused by other cells.
    pub dc: &'a mut [T],
    /// `∂loss/∂gh` (b×G·hp), written.
    pub d_gh: &'a mut [T],
    /// `∂loss/∂gi` (b×G·hp), written by cells where it differs from `∂loss/∂gh`
    /// ([`GateCell::SEPARATE_INPUT_GRAD`]).
    pub d_gi: &'a mut [T],
    /// Scratch of b×hp.
    pub scratch: &'a mut [T],
}

/// A recurrent cell's per-step arithmetic.
pub trait GateCell: Send + Sync + 'static {
    /// Gate groups `G`.
    const GROUPS: usize;
    /// State tensors: `h`, and `c` for the LSTM.
    const PARTS: usize;
    /// Whether `h_prev` also reaches `h` outside the gates (GRU), see [`StepGrad::dh`].
    const DIRECT: bool;
    /// Whether the gates are `gi + gh` throughout (RNN, LSTM): then the hidden product is added
    /// into the gates before [`GateCell::forward`], which gets only `b_hh` (one row) as `gh`.
    const ADDITIVE: bool;
    /// Whether `∂loss/∂gi` differs from `∂loss/∂gh` (GRU, where `r` multiplies `gh_n`).
    const SEPARATE_INPUT_GRAD: bool;
    /// Name used in errors.
    const NAME: &'static str;

    /// Activates one step of rows (`out.h.len() / hp` of them); `h` is the true width (≤ hp).
    /// `gh` is the rows' hidden projections with `b_hh`, or for [`GateCell::ADDITIVE`] cells
    /// `b_hh` alone.
    fn forward<T: Elem>(out: StepOut<'_, T>, gh: &[T], prev: Prev<'_, T>, hp: usize, h: usize);

    /// The gradients of one step's gate projections from `∂loss/∂h` (and, for the LSTM,
    /// `∂loss/∂c`), given what [`GateCell::forward`] left: `gates` and `kept` of this step.
    fn backward<T: Elem>(
        grad: StepGrad<'_, T>,
        gates: &[T],
        kept: &[T],
        prev: Prev<'_, T>,
        hp: usize,
        h: usize,
    );
}

/// Plain tanh recurrence.
pub struct Rnn;
/// Gated recurrent unit.
pub struct Gru;
/// Long short-term memory.
pub struct Lstm;

fn half<T: Elem>() -> T {
    T::from(0.5).expect("0.5 fits")
}

/// `a = (a + b) * s` elementwise.
#[inline(always)]
fn add_scaled<T: Elem>(a: &mut [T], b: &[T], s: T) {
    a.iter_mut().zip(b).for_each(|(x, &y)| *x = (*x + y) * s);
}

/// From `tanh(x/2)` to `σ(x)`, in place.
#[inline(always)]
fn to_sigmoid<T: Elem>(a: &mut [T]) {
    let half = half::<T>();
    a.iter_mut().for_each(|y| *y = half * *y + half);
}

/// Row `r` of a buffer of rows `width` long, or zeros.
fn row_or_zero<'a, T: Elem>(
    buf: Option<&'a [T]>,
    r: usize,
    width: usize,
    zeros: &'a [T],
) -> &'a [T] {
    buf.map_or(zeros, |b| &b[r * width..][..width])
}

impl GateCell for Rnn {
    const GROUPS: usize = 1;
    const PARTS: usize = 1;
    const DIRECT: bool = false;
    const SEPARATE_INPUT_GRAD: bool = false;
    const ADDITIVE: bool = true;
    const NAME: &'static str = "rnn";

    #[inline(always)]
    fn forward<T: Elem>(out: StepOut<'_, T>, b_hh: &[T], _: Prev<'_, T>, hp: usize, _: usize) {
        for row in out.gates.chunks_exact_mut(hp) {
            add_scaled(row, b_hh, T::one());
        }
        T::tanh_in_place(out.gates);
        out.h.copy_from_slice(out.gates);
    }

    #[inline(always)]
    fn backward<T: Elem>(
        grad: StepGrad<'_, T>,
        gates: &[T],
        _: &[T],
        _: Prev<'_, T>,
        hp: usize,
        h: usize,
    ) {
        let rows = grad.dh.chunks_exact(hp).zip(gates.chunks_exact(hp));
        for ((dh, y), d_gh) in rows.zip(grad.d_gh.chunks_exact_mut(hp)) {
            let (dh, y, d_gh) = (&dh[..h], &y[..h], &mut d_gh[..h]);
            for j in 0..h {
                d_gh[j] = dh[j] * (T::one() - y[j] * y[j]);
            }
        }
    }
}

impl GateCell for Gru {
    const GROUPS: usize = 3;
    const PARTS: usize = 1;
    const DIRECT: bool = true;
    const SEPARATE_INPUT_GRAD: bool = true;
    const ADDITIVE: bool = false;
    const NAME: &'static str = "gru";

    #[inline(always)]
    fn forward<T: Elem>(out: StepOut<'_, T>, gh: &[T], prev: Prev<'_, T>, hp: usize, h: usize) {
        let zeros = vec![T::zero(); hp];
        let rows = out
            .gates
            .chunks_exact_mut(3 * hp)
            .zip(gh.chunks_exact(3 * hp));
        let states = out
            .h
            .chunks_exact_mut(hp)
            .zip(out.kept.chunks_exact_mut(hp));
        for (r, ((g, gh), (hr, kept))) in rows.zip(states).enumerate() {
            let (rz, n) = g.split_at_mut(2 * hp);
            add_scaled(rz, &gh[..2 * hp], half());
            T::tanh_in_place(rz);
            to_sigmoid(rz);
            let gh_n = &gh[2 * hp..];
            kept.copy_from_slice(gh_n);
            for j in 0..hp {
                n[j] += rz[j] * gh_n[j];
            }
            T::tanh_in_place(n);
            let h_prev = &row_or_zero(prev.h, r, hp, &zeros)[..h];
            let (z, n, hr) = (&rz[hp..][..h], &n[..h], &mut hr[..h]);
            for j in 0..h {
                hr[j] = n[j] + z[j] * (h_prev[j] - n[j]);
            }
        }
    }

    #[inline(always)]
    fn backward<T: Elem>(
        grad: StepGrad<'_, T>,
        gates: &[T],
        kept: &[T],
        prev: Prev<'_, T>,
        hp: usize,
        h: usize,
    ) {
        let zeros = vec![T::zero(); hp];
        let one = T::one();
        let rows = grad.dh.chunks_exact_mut(hp).zip(gates.chunks_exact(3 * hp));
        let outs = grad
            .d_gh
            .chunks_exact_mut(3 * hp)
            .zip(grad.d_gi.chunks_exact_mut(3 * hp));
        for (row, (((dh, g), gh_n), (d_gh, d_gi))) in
            rows.zip(kept.chunks_exact(hp)).zip(outs).enumerate()
        {
            let h_prev = &row_or_zero(prev.h, row, hp, &zeros)[..h];
            let [r, z, n] = groups(g, hp, h);
            let (dh, gh_n) = (&mut dh[..h], &gh_n[..h]);
            let [dr, dz, dn] = groups_mut(d_gh, hp, h);
            let [ir, iz, i_n] = groups_mut(d_gi, hp, h);
            for j in 0..h {
                let d = dh[j];
                let da_n = d * (one - z[j]) * (one - n[j] * n[j]);
                let da_z = d * (h_prev[j] - n[j]) * z[j] * (one - z[j]);
                let da_r = da_n * gh_n[j] * r[j] * (one - r[j]);
                dr[j] = da_r;
                dz[j] = da_z;
                dn[j] = da_n * r[j];
                ir[j] = da_r;
                iz[j] = da_z;
                i_n[j] = da_n;
                dh[j] = d * z[j];
            }
        }
    }
}

/// [`groups`], mutable.
#[inline(always)]
fn groups_mut<T, const G: usize>(row: &mut [T], hp: usize, h: usize) -> [&mut [T]; G] {
    let mut rest = row;
    std::array::from_fn(|_| {
        let taken = std::mem::take(&mut rest);
        let at = hp.min(taken.len());
        let (head, tail) = taken.split_at_mut(at);
        rest = tail;
        &mut head[..h]
    })
}

impl GateCell for Lstm {
    const GROUPS: usize = 4;
    const PARTS: usize = 2;
    const DIRECT: bool = false;
    const SEPARATE_INPUT_GRAD: bool = false;
    const ADDITIVE: bool = true;
    const NAME: &'static str = "lstm";

    #[inline(always)]
    fn forward<T: Elem>(out: StepOut<'_, T>, b_hh: &[T], prev: Prev<'_, T>, hp: usize, h: usize) {
        for g in out.gates.chunks_exact_mut(4 * hp) {
            for k in 0..4 {
                let scale = if k == 2 { T::one() } else { half() };
                add_scaled(&mut g[k * hp..][..hp], &b_hh[k * hp..][..hp], scale);
            }
        }
        T::tanh_in_place(out.gates);
        let zeros = vec![T::zero(); hp];
        let rows = out.gates.chunks_exact_mut(4 * hp);
        let states = out
            .h
            .chunks_exact_mut(hp)
            .zip(out.kept.chunks_exact_mut(hp));
        for (r, (g, (hr, c))) in rows.zip(states).enumerate() {
            let c_prev = &row_or_zero(prev.kept, r, hp, &zeros)[..h];
            let [i, f, cand, o] = groups_mut(g, hp, h);
            lstm_cell_row(c_prev, (i, f, &*cand, o), &mut c[..h], &mut hr[..h]);
        }
        T::tanh_in_place(out.h);
        for (hr, g) in out
            .h
            .chunks_exact_mut(hp)
            .zip(out.gates.chunks_exact(4 * hp))
        {
            let o = &g[3 * hp..][..h];
            hr[..h].iter_mut().zip(o).for_each(|(x, &o)| *x *= o);
        }
    }

    #[inline(always)]
    fn backward<T: Elem>(
        grad: StepGrad<'_, T>,
        gates: &[T],
        kept: &[T],
        prev: Prev<'_, T>,
        hp: usize,
        h: usize,
    ) {
        let zeros = vec![T::zero(); hp];
        let tanh_c = grad.scratch;
        tanh_c.copy_from_slice(kept);
        T::tanh_in_place(tanh_c);
        let rows = grad.dh.chunks_exact(hp).zip(gates.chunks_exact(4 * hp));
        let carry = grad.dc.chunks_exact_mut(hp).zip(tanh_c.chunks_exact(hp));
        for (r, (((dh, g), (dc, tc)), d_gh)) in rows
            .zip(carry)
            .zip(grad.d_gh.chunks_exact_mut(4 * hp))
            .enumerate()
        {
            let c_prev = &row_or_zero(prev.kept, r, hp, &zeros)[..h];
            let (dh, dc, tc) = (&dh[..h], &mut dc[..h], &tc[..h]);
            let [i, f, cand, o] = groups(g, hp, h);
            let (d_i, rest) = d_gh.split_at_mut(hp);
            let (d_f, rest) = rest.split_at_mut(hp);
            let (d_g, d_o) = rest.split_at_mut(hp);
            lstm_grad_row(
                (dh, tc, c_prev),
                (i, f, cand, o),
                dc,
                &mut d_i[..h],
                &mut d_f[..h],
                &mut d_g[..h],
                &mut d_o[..h],
            );
        }
    }
}

/// One row of [`Lstm::forward`] after the tanh of the gates: `i`, `f`, `o` from `tanh(x/2)` to
/// `σ(x)` in place, `c = f ⊙ c_prev + i ⊙ g`, and `c` copied into `h` (for its tanh), in one
/// pass (separate `&mut` arguments, as [`lstm_grad_row`]).
#[inline(never)]
fn lstm_cell_row<T: Elem>(
    c_prev: &[T],
    (i, f, cand, o): (&mut [T], &mut [T], &[T], &mut [T]),
    c: &mut [T],
    h_out: &mut [T],
) {
    let half = half::<T>();
    let n = c.len();
    let (c_prev, i, f, cand, o, h_out) = (
        &c_prev[..n],
        &mut i[..n],
        &mut f[..n],
        &cand[..n],
        &mut o[..n],
        &mut h_out[..n],
    );
    for j in 0..n {
        let (si, sf) = (half * i[j] + half, half * f[j] + half);
        i[j] = si;
        f[j] = sf;
        o[j] = half * o[j] + half;
        let cj = sf * c_prev[j] + si * cand[j];
        c[j] = cj;
        h_out[j] = cj;
    }
}

/// One row of [`Lstm::backward`]. Separate `&mut` arguments tell the compiler that the
/// outputs do not overlap, so the loop vectorises (with the slices made in the caller, the
/// overlap checks it would need are too many and it stays scalar).
#[inline(never)]
fn lstm_grad_row<T: Elem>(
    (dh, tc, c_prev): (&[T], &[T], &[T]),
    (i, f, cand, o): (&[T], &[T], &[T], &[T]),
    dc: &mut [T],
    d_i: &mut [T],
    d_f: &mut [T],
    d_g: &mut [T],
    d_o: &mut [T],
) {
    let one = T::one();
    let h = dc.len();
    let (dh, tc, c_prev) = (&dh[..h], &tc[..h], &c_prev[..h]);
    let (i, f, cand, o) = (&i[..h], &f[..h], &cand[..h], &o[..h]);
    let (d_i, d_f, d_g, d_o) = (&mut d_i[..h], &mut d_f[..h], &mut d_g[..h], &mut d_o[..h]);
    for j in 0..h {
        let d = dh[j];
        let dcj = dc[j] + d * o[j] * (one - tc[j] * tc[j]);
        d_i[j] = dcj * cand[j] * i[j] * (one - i[j]);
        d_f[j] = dcj * c_prev[j] * f[j] * (one - f[j]);
        d_g[j] = dcj * i[j] * (one - cand[j] * cand[j]);
        d_o[j] = d * tc[j] * o[j] * (one - o[j]);
        dc[j] = dcj * f[j];
    }
}

/// The first `h` values of each of the `G` groups of a padded gate row.
#[inline(always)]
fn groups<T, const G: usize>(row: &[T], hp: usize, h: usize) -> [&[T]; G] {
    std::array::from_fn(|k| &row[k * hp..][..h])
}
