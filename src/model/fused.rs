//! The fused training loss of a one-layer model ([`CellLoss`]) from its parameters: the
//! embedding folded into the input projection (`E·W_ihᵀ + b_ih`, one row per token),
//! `[W_hh | b_hh]` and `[W_out | b_out]`, the windows reordered block by block.

use candle_core::{Result, Tensor, Var};

use super::kernels::cell_loss::CellLoss;
use super::kernels::cells::{GateCell, Gru, Lstm, Rnn};
use super::kernels::Blocks;
use super::rnn::block_order;
use crate::spec::Cell;

/// The parameters of a one-layer model, PyTorch's names and shapes.
pub struct OneLayer<'a> {
    /// The cell.
    pub cell: Cell,
    /// `(V, V)`.
    pub embedding: &'a Var,
    /// `(G·H, V)`.
    pub weight_ih: &'a Var,
    /// `(G·H, H)`.
    pub weight_hh: &'a Var,
    /// `(G·H,)`.
    pub bias_ih: &'a Var,
    /// `(G·H,)`.
    pub bias_hh: &'a Var,
    /// `(V, H)`.
    pub out_weight: &'a Var,
    /// `(V,)`.
    pub out_bias: &'a Var,
}

impl OneLayer<'_> {
    /// Mean cross-entropy for `inputs` against `targets` (`(rows, seq_len)` token ids),
    /// starting from `initial` (`(parts, rows, H)`; zero when `None`), and the state after
    /// each window's last step, `(parts, rows, H)`, detached.
    pub fn loss(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        initial: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        match self.cell {
            Cell::Rnn => self.loss_with::<Rnn>(inputs, targets, initial),
            Cell::Gru => self.loss_with::<Gru>(inputs, targets, initial),
            Cell::Lstm => self.loss_with::<Lstm>(inputs, targets, initial),
        }
    }

    fn loss_with<C: GateCell>(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        initial: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let (rows, seq_len) = inputs.dims2()?;
        let hidden = self.weight_hh.dims2()?.1;
        let blocks = Blocks::for_rows(rows);
        let order = Tensor::new(block_order(&blocks, seq_len), inputs.device())?;
        let reorder = |x: &Tensor| x.flatten_all()?.index_select(&order, 0)?.to_vec1();
        let initial = initial.map(Tensor::detach);
        let op = CellLoss::<C>::new(
            reorder(inputs)?,
            reorder(targets)?,
            blocks,
            seq_len,
            initial,
        )?;
        let table = self
            .embedding
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(self.bias_ih.as_tensor())?;
        let with_bias = |w: &Var, b: &Var| Tensor::cat(&[w.as_tensor(), &b.unsqueeze(1)?], 1);
        let out = table.apply_op3(
            &with_bias(self.weight_hh, self.bias_hh)?,
            &with_bias(self.out_weight, self.out_bias)?,
            op,
        )?;
        let loss = out.get(0)?;
        let state = out
            .narrow(0, 1, C::PARTS * rows * hidden)?
            .detach()
            .reshape((C::PARTS, rows, hidden))?;
        Ok((loss, state))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::model::{LanguageModel, StackedLm};
    use crate::spec::Cell;

    fn model(cell: Cell, vocab: usize, hidden: usize, dtype: DType, fused: bool) -> StackedLm {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        StackedLm::new(cell, 1, vocab, hidden, dtype, &Device::Cpu, &mut rng)
            .unwrap()
            .with_fused(fused)
    }

    fn tokens(rows: usize, seq_len: usize, vocab: usize, seed: u64) -> Tensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ids: Vec<u32> = (0..rows * seq_len)
            .map(|_| rng.random_range(0..vocab as u32))
            .collect();
        Tensor::from_vec(ids, (rows, seq_len), &Device::Cpu).unwrap()
    }

    fn flat(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// Loss, final state and every gradient of the fused op equal the plain candle model's
    /// (f64), for each cell, one block and three (70 rows), a hidden size that is a whole
    /// number of SIMD rows and one that is not, from zero and from a carried state.
    #[test]
    fn fused_loss_equals_the_candle_model() {
        let (vocab, seq_len) = (7, 5);
        for cell in Cell::ALL {
            for (rows, hidden) in [(3, 16), (70, 6)] {
                let fused = model(cell, vocab, hidden, DType::F64, true);
                let plain = model(cell, vocab, hidden, DType::F64, false);
                let x = tokens(rows, seq_len, vocab, 1);
                let y = tokens(rows, seq_len, vocab, 2);
                let mut rng = ChaCha8Rng::seed_from_u64(0);
                let parts = if cell == Cell::Lstm { 2 } else { 1 };
                let start = Tensor::randn(0.0, 0.5, (parts, rows, hidden), &Device::Cpu).unwrap();
                for initial in [None, Some(&start)] {
                    let what = format!("{cell:?} {rows}×{hidden} from {}", initial.is_some());
                    let (la, sa) = fused
                        .training_loss_carrying(&x, &y, initial, &mut rng)
                        .unwrap();
                    let (lb, sb) = plain
                        .training_loss_carrying(&x, &y, initial, &mut rng)
                        .unwrap();
                    assert_eq!(sa.dims(), [parts, rows, hidden], "{what}");
                    assert_close(&flat(&la), &flat(&lb), 1e-12, &format!("{what}: loss"));
                    assert_close(&flat(&sa), &flat(&sb), 1e-12, &format!("{what}: state"));
                    let (ga, gb) = (la.backward().unwrap(), lb.backward().unwrap());
                    for ((name, va), (_, vb)) in fused.parameters().iter().zip(plain.parameters()) {
                        let (a, b) = (ga.get(va).unwrap(), gb.get(vb).unwrap());
                        assert_close(&flat(a), &flat(b), 1e-10, &format!("{what}: ∂{name}"));
                    }
                }
            }
        }
    }

    /// Carrying the state is reading on: two windows of 4, the second from the state the first
    /// left, give the loss of the 8-step windows they make up (each model kind and cell).
    #[test]
    fn a_carried_state_continues_the_windows() {
        let (vocab, rows) = (6, 3);
        let x = tokens(rows, 8, vocab, 11);
        let y = tokens(rows, 8, vocab, 12);
        let half = |t: &Tensor, i: usize| t.narrow(1, 4 * i, 4).unwrap().contiguous().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut models: Vec<(String, Box<dyn LanguageModel>)> = Vec::new();
        for cell in Cell::ALL {
            for (layers, fused) in [(1, true), (1, false), (2, true)] {
                let mut r = ChaCha8Rng::seed_from_u64(1);
                let m = StackedLm::new(cell, layers, vocab, 5, DType::F64, &Device::Cpu, &mut r)
                    .unwrap()
                    .with_fused(fused);
                models.push((format!("{cell:?}×{layers} fused {fused}"), Box::new(m)));
            }
        }
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let rnn = crate::model::RnnLm::new(vocab, 5, DType::F64, &Device::Cpu, &mut r).unwrap();
        models.push(("RnnLm".into(), Box::new(rnn)));
        for (what, m) in &models {
            let whole = flat(&m.loss(&x, &y).unwrap())[0];
            let (first, state) = m
                .training_loss_carrying(&half(&x, 0), &half(&y, 0), None, &mut rng)
                .unwrap();
            let (second, _) = m
                .training_loss_carrying(&half(&x, 1), &half(&y, 1), Some(&state), &mut rng)
                .unwrap();
            let (fresh, _) = m
                .training_loss_carrying(&half(&x, 1), &half(&y, 1), None, &mut rng)
                .unwrap();
            let joined = (flat(&first)[0] + flat(&second)[0]) / 2.0;
            assert!(
                (joined - whole).abs() < 1e-12,
                "{what}: {joined} vs {whole}"
            );
            assert!(
                (flat(&fresh)[0] - flat(&second)[0]).abs() > 1e-6,
                "{what}: state unused"
            );
        }
    }

    /// The fused gradients against finite differences (f64), as every model's are.
    #[test]
    fn fused_gradients_match_finite_differences() {
        let x = tokens(2, 4, 4, 3);
        let y = tokens(2, 4, 4, 5);
        for cell in [Cell::Gru, Cell::Lstm] {
            let m = model(cell, 4, 3, DType::F64, true);
            crate::model::grad_check::assert_gradients_match(&m, &x, &y, 3);
        }
    }

    /// In f32, the same bits whatever the number of threads (blocks add up in order).
    #[test]
    fn threads_do_not_change_the_bits() {
        let x = tokens(70, 6, 9, 7);
        let y = tokens(70, 6, 9, 8);
        for cell in [Cell::Gru, Cell::Lstm] {
            let m = model(cell, 9, 20, DType::F32, true);
            let run = |threads| {
                crate::model::kernels::set_thread_budget(threads);
                let loss = m.loss(&x, &y).unwrap();
                let grads = loss.backward().unwrap();
                let mut bits: Vec<u32> =
                    flat(&loss).iter().map(|v| (*v as f32).to_bits()).collect();
                for (_, var) in m.parameters() {
                    let g: Vec<f32> = grads
                        .get(var)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    bits.extend(g.iter().map(|v| v.to_bits()));
                }
                crate::model::kernels::set_thread_budget(1);
                bits
            };
            assert_eq!(run(1), run(3), "{cell:?}");
        }
    }
}
