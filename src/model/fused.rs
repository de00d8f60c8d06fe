//! The fused training loss of a stacked model ([`CellLoss`]) from its parameters: the
//! embedding folded into layer 0's input projection (`E·W_ihᵀ + b_ih`, one row per token),
//! `[W_ihᵀ; b_ihᵀ]` of the layers above, `[W_hh | b_hh]` of every layer and `[W_out | b_out]`,
//! the windows reordered block by block.

use candle_core::{Result, Tensor, Var};

use super::kernels::cell_loss::CellLoss;
use super::kernels::cells::{GateCell, Gru, Lstm, Rnn};
use super::kernels::Blocks;
use crate::spec::Cell;

/// One recurrent layer's parameters, PyTorch's names and shapes (`G` gate groups, `I` inputs).
pub struct LayerVars<'a> {
    /// `(G·H, I)`.
    pub weight_ih: &'a Var,
    /// `(G·H, H)`.
    pub weight_hh: &'a Var,
    /// `(G·H,)`.
    pub bias_ih: &'a Var,
    /// `(G·H,)`.
    pub bias_hh: &'a Var,
}

/// The parameters of a stacked model.
pub struct Fused<'a> {
    /// The cell.
    pub cell: Cell,
    /// `(V, V)`.
    pub embedding: &'a Var,
    /// Bottom to top.
    pub layers: Vec<LayerVars<'a>>,
    /// `(V, H)`.
    pub out_weight: &'a Var,
    /// `(V,)`.
    pub out_bias: &'a Var,
}

impl Fused<'_> {
    /// Mean cross-entropy for `inputs` against `targets` (`(rows, seq_len)` token ids),
    /// starting from `initial` (`(layers·parts, rows, H)`; zero when `None`), and the state
    /// after each window's last step, `(layers·parts, rows, H)`, detached. `masks`: dropout
    /// masks on the inputs of the layers above the first, `(layers - 1, rows·seq_len, H)` with
    /// row `r·seq_len + t` for window `r`, step `t`.
    pub fn loss(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        initial: Option<&Tensor>,
        masks: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        match self.cell {
            Cell::Rnn => self.loss_with::<Rnn>(inputs, targets, initial, masks),
            Cell::Gru => self.loss_with::<Gru>(inputs, targets, initial, masks),
            Cell::Lstm => self.loss_with::<Lstm>(inputs, targets, initial, masks),
        }
    }

    fn loss_with<C: GateCell>(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        initial: Option<&Tensor>,
        masks: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let (rows, seq_len) = inputs.dims2()?;
        let first = &self.layers[0];
        let hidden = first.weight_hh.dims2()?.1;
        let blocks = Blocks::for_rows(rows);
        let order = Tensor::new(block_order(&blocks, seq_len), inputs.device())?;
        let reorder = |x: &Tensor| x.flatten_all()?.index_select(&order, 0)?.to_vec1();
        let initial = initial.map(Tensor::detach);
        let masks = masks
            .map(|m| m.detach().index_select(&order, 1))
            .transpose()?;
        let op = CellLoss::<C>::new(
            reorder(inputs)?,
            reorder(targets)?,
            blocks,
            seq_len,
            initial,
            masks,
        )?;
        let mut projections = vec![self
            .embedding
            .matmul(&first.weight_ih.t()?)?
            .broadcast_add(first.bias_ih.as_tensor())?];
        for layer in &self.layers[1..] {
            projections.push(layer.weight_ih.t()?);
            projections.push(layer.bias_ih.unsqueeze(0)?);
        }
        let with_bias = |w: &Var, b: &Var| Tensor::cat(&[w.as_tensor(), &b.unsqueeze(1)?], 1);
        let hidden_weights = self
            .layers
            .iter()
            .map(|l| with_bias(l.weight_hh, l.bias_hh))
            .collect::<Result<Vec<_>>>()?;
        let out = Tensor::cat(&projections, 0)?.apply_op3(
            &Tensor::cat(&hidden_weights, 0)?,
            &with_bias(self.out_weight, self.out_bias)?,
            op,
        )?;
        let loss = out.get(0)?;
        let parts = self.layers.len() * C::PARTS;
        let state = out
            .narrow(0, 1, parts * rows * hidden)?
            .detach()
            .reshape((parts, rows, hidden))?;
        Ok((loss, state))
    }
}

/// Positions of a `(rows, seq_len)` batch (row-major indices) in the order the fused kernels
/// use: block after block, each block time-major (`t` outer, row within the block inner).
pub fn block_order(blocks: &Blocks, seq_len: usize) -> Vec<u32> {
    let mut order = Vec::with_capacity(blocks.rows() * seq_len);
    let mut first = 0;
    for &size in blocks.sizes() {
        for t in 0..seq_len {
            order.extend((first..first + size).map(|row| (row * seq_len + t) as u32));
        }
        first += size;
    }
    order
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::model::{LanguageModel, StackedLm};
    use crate::spec::Cell;

    fn model(cell: Cell, vocab: usize, hidden: usize, dtype: DType, fused: bool) -> StackedLm {
        stacked(cell, 1, vocab, hidden, dtype, fused)
    }

    fn stacked(
        cell: Cell,
        layers: usize,
        vocab: usize,
        hidden: usize,
        dtype: DType,
        fused: bool,
    ) -> StackedLm {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        StackedLm::new(cell, layers, vocab, hidden, dtype, &Device::Cpu, &mut rng)
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
    /// (f64), for each cell at 1, 2 and 3 layers, one block and three (70 rows), a hidden size
    /// that is a whole number of SIMD rows and one that is not, from zero and from a carried
    /// state.
    #[test]
    fn fused_loss_equals_the_candle_model() {
        let (vocab, seq_len) = (7, 5);
        for cell in Cell::ALL {
            for (layers, rows, hidden) in
                [(1, 3, 16), (1, 70, 6), (2, 3, 16), (2, 70, 6), (3, 4, 5)]
            {
                let fused = stacked(cell, layers, vocab, hidden, DType::F64, true);
                let plain = stacked(cell, layers, vocab, hidden, DType::F64, false);
                let x = tokens(rows, seq_len, vocab, 1);
                let y = tokens(rows, seq_len, vocab, 2);
                let mut rng = ChaCha8Rng::seed_from_u64(0);
                let parts = layers * if cell == Cell::Lstm { 2 } else { 1 };
                let start = Tensor::randn(0.0, 0.5, (parts, rows, hidden), &Device::Cpu).unwrap();
                for initial in [None, Some(&start)] {
                    let what = format!(
                        "{cell:?}×{layers} {rows}×{hidden} from {}",
                        initial.is_some()
                    );
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

    /// With dropout between layers, the fused op draws the same masks from the same generator
    /// as the candle path, and gives the same loss, state and gradients (f64).
    #[test]
    fn fused_dropout_equals_the_candle_model() {
        let (vocab, seq_len, hidden) = (6, 4, 5);
        for cell in Cell::ALL {
            for (layers, rows) in [(2, 3), (3, 40)] {
                let fused =
                    stacked(cell, layers, vocab, hidden, DType::F64, true).with_dropout(0.3);
                let plain =
                    stacked(cell, layers, vocab, hidden, DType::F64, false).with_dropout(0.3);
                let x = tokens(rows, seq_len, vocab, 3);
                let y = tokens(rows, seq_len, vocab, 4);
                let what = format!("{cell:?}×{layers}, {rows} rows");
                let run = |m: &StackedLm| {
                    let mut rng = ChaCha8Rng::seed_from_u64(11);
                    let (loss, state) = m.training_loss_carrying(&x, &y, None, &mut rng).unwrap();
                    let again = m.training_loss(&x, &y, &mut rng).unwrap();
                    let grads = loss.backward().unwrap();
                    let g: Vec<Vec<f64>> = m
                        .parameters()
                        .iter()
                        .map(|(_, v)| flat(grads.get(v).unwrap()))
                        .collect();
                    (flat(&loss), flat(&state), flat(&again), g)
                };
                let (a, b) = (run(&fused), run(&plain));
                assert_close(&a.0, &b.0, 1e-12, &format!("{what}: loss"));
                assert_close(&a.1, &b.1, 1e-12, &format!("{what}: state"));
                assert_close(&a.2, &b.2, 1e-12, &format!("{what}: second loss"));
                for (i, (ga, gb)) in a.3.iter().zip(&b.3).enumerate() {
                    assert_close(ga, gb, 1e-10, &format!("{what}: gradient {i}"));
                }
                let no_dropout = flat(&fused.loss(&x, &y).unwrap());
                assert!(
                    (no_dropout[0] - a.0[0]).abs() > 1e-6,
                    "{what}: masks unused"
                );
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
