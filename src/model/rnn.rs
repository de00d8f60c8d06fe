//! The reference model: embedding V×V → single-layer tanh RNN (hidden H) → linear H→V.
//!
//! Equivalent to `nn.Embedding(V, V)`, `nn.RNN(V, H)` and `nn.Linear(H, V)` in PyTorch. Since
//! the embedding feeds straight into the RNN's input projection, both are folded into one V×H
//! table per forward pass (`E·W_ihᵀ + b_ih + b_hh`) and each time step gathers its rows: the same
//! function and gradients with one small matmul instead of one per step. The recurrence and the
//! output layer with its cross-entropy run as fused custom ops ([`super::kernels`]) on the
//! windows reordered block by block; the plain candle version stays as the reference.

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;

use super::fused::{block_order, Fused, LayerVars};
use super::kernels::{recurrence, rnn_loss::RnnLoss, Blocks};
use super::{cross_entropy, init, LanguageModel};
use crate::spec::Cell;

/// Character RNN language model with PyTorch's default initialisation.
pub struct RnnLm {
    embedding: Var,
    weight_ih: Var,
    weight_hh: Var,
    bias_ih: Var,
    bias_hh: Var,
    out_weight: Var,
    out_bias: Var,
    hidden: usize,
    recurrence: Recurrence,
}

impl RnnLm {
    /// A model for `vocab` characters with `hidden` units, initialised from `rng` in a fixed
    /// order: embedding N(0,1); RNN weights and biases U(±1/√H); output weight and bias U(±1/√H).
    pub fn new(
        vocab: usize,
        hidden: usize,
        dtype: DType,
        device: &Device,
        rng: &mut impl Rng,
    ) -> Result<RnnLm> {
        let bound = 1.0 / (hidden as f64).sqrt();
        Ok(RnnLm {
            embedding: init::normal(&[vocab, vocab], dtype, device, rng)?,
            weight_ih: init::uniform(&[hidden, vocab], bound, dtype, device, rng)?,
            weight_hh: init::uniform(&[hidden, hidden], bound, dtype, device, rng)?,
            bias_ih: init::uniform(&[hidden], bound, dtype, device, rng)?,
            bias_hh: init::uniform(&[hidden], bound, dtype, device, rng)?,
            out_weight: init::uniform(&[vocab, hidden], bound, dtype, device, rng)?,
            out_bias: init::uniform(&[vocab], bound, dtype, device, rng)?,
            hidden,
            recurrence: Recurrence::Fused,
        })
    }
}

impl RnnLm {
    /// Switches between the fused recurrence (the default) and the plain candle one.
    pub fn with_recurrence(mut self, recurrence: Recurrence) -> RnnLm {
        self.recurrence = recurrence;
        self
    }

    /// The input-projection table `E·W_ihᵀ + b_ih + b_hh` (V×H).
    fn table(&self) -> Result<Tensor> {
        let bias = (self.bias_ih.as_tensor() + self.bias_hh.as_tensor())?;
        self.embedding
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&bias)
    }

    /// States `(rows·seq_len, H)` with the fused op, in the block order of [`block_order`].
    fn states_fused(&self, inputs: &Tensor, blocks: &Blocks, order: &Tensor) -> Result<Tensor> {
        let seq_len = inputs.dims2()?.1;
        let tokens = inputs.flatten_all()?.index_select(order, 0)?.to_vec1()?;
        let op = recurrence::Recurrence::new(tokens, blocks.clone(), seq_len)?;
        self.table()?.apply_op2(self.weight_hh.as_tensor(), op)
    }

    /// States `(rows, seq_len, H)` with plain candle ops, step by step from `initial`
    /// (`(rows, H)`; zero when `None`): the reference.
    fn states_reference(&self, inputs: &Tensor, initial: Option<&Tensor>) -> Result<Tensor> {
        let seq_len = inputs.dims2()?.1;
        let table = self.table()?;
        let w_hh_t = self.weight_hh.t()?;
        let by_time = inputs.t()?.contiguous()?;
        let mut states: Vec<Tensor> = Vec::with_capacity(seq_len);
        for t in 0..seq_len {
            let pre = table.index_select(&by_time.get(t)?, 0)?;
            let pre = match states.last().or(initial) {
                None => pre,
                Some(h) => (pre + Tensor::matmul(h, &w_hh_t)?)?,
            };
            states.push(pre.tanh()?);
        }
        Tensor::stack(&states, 1)
    }

    /// The parameters for the fused loss [`Fused`].
    fn fused(&self) -> Fused<'_> {
        Fused {
            cell: Cell::Rnn,
            embedding: &self.embedding,
            layers: vec![LayerVars {
                weight_ih: &self.weight_ih,
                weight_hh: &self.weight_hh,
                bias_ih: &self.bias_ih,
                bias_hh: &self.bias_hh,
            }],
            out_weight: &self.out_weight,
            out_bias: &self.out_bias,
        }
    }
}

/// How [`RnnLm`] computes its recurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    /// Fused custom ops: the whole loss ([`RnnLoss`]) and, for logits, the recurrence
    /// ([`recurrence::Recurrence`]).
    Fused,
    /// Plain candle ops per time step (the reference the fused op is tested against).
    Reference,
}

impl LanguageModel for RnnLm {
    fn logits(&self, inputs: &Tensor) -> Result<Tensor> {
        let (rows, seq_len) = inputs.dims2()?;
        let states = match self.recurrence {
            Recurrence::Fused => {
                let blocks = Blocks::for_rows(rows);
                let order = block_order(&blocks, seq_len);
                let back = inverse(&order);
                let device = inputs.device();
                self.states_fused(inputs, &blocks, &Tensor::new(order, device)?)?
                    .index_select(&Tensor::new(back, device)?, 0)?
            }
            Recurrence::Reference => self
                .states_reference(inputs, None)?
                .reshape((rows * seq_len, self.hidden))?,
        };
        states
            .matmul(&self.out_weight.t()?)?
            .broadcast_add(self.out_bias.as_tensor())
    }

    fn loss(&self, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        if self.recurrence == Recurrence::Reference {
            return cross_entropy(&self.logits(inputs)?, &targets.flatten_all()?);
        }
        let (rows, seq_len) = inputs.dims2()?;
        let blocks = Blocks::for_rows(rows);
        let order = Tensor::new(block_order(&blocks, seq_len), inputs.device())?;
        let reorder = |x: &Tensor| x.flatten_all()?.index_select(&order, 0)?.to_vec1();
        let op = RnnLoss::new(reorder(inputs)?, reorder(targets)?, blocks, seq_len)?;
        let output = Tensor::cat(
            &[self.out_weight.as_tensor(), &self.out_bias.unsqueeze(1)?],
            1,
        )?;
        self.table()?
            .apply_op3(self.weight_hh.as_tensor(), &output, op)
    }

    fn training_loss_carrying(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        state: Option<&Tensor>,
        _rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<(Tensor, Tensor)> {
        if self.recurrence == Recurrence::Fused {
            return self.fused().loss(inputs, targets, state, None);
        }
        let (rows, seq_len) = inputs.dims2()?;
        let initial = state.map(|s| s.detach().get(0)).transpose()?;
        let states = self.states_reference(inputs, initial.as_ref())?;
        let last = states.get_on_dim(1, seq_len - 1)?.unsqueeze(0)?.detach();
        let logits = states
            .reshape((rows * seq_len, self.hidden))?
            .matmul(&self.out_weight.t()?)?
            .broadcast_add(self.out_bias.as_tensor())?;
        Ok((cross_entropy(&logits, &targets.flatten_all()?)?, last))
    }

    fn step(&self, state: Option<&Tensor>, token: u32) -> Result<(Tensor, Tensor)> {
        let pre = self.table()?.get(token as usize)?.unsqueeze(0)?;
        let pre = match state {
            None => pre,
            Some(h) => (pre + h.matmul(&self.weight_hh.t()?)?)?,
        };
        let h = pre.tanh()?;
        let logits = h
            .matmul(&self.out_weight.t()?)?
            .broadcast_add(self.out_bias.as_tensor())?
            .squeeze(0)?;
        Ok((h, logits))
    }

    fn parameters(&self) -> Vec<(&'static str, &Var)> {
        vec![
            ("embedding.weight", &self.embedding),
            ("rnn.weight_ih_l0", &self.weight_ih),
            ("rnn.weight_hh_l0", &self.weight_hh),
            ("rnn.bias_ih_l0", &self.bias_ih),
            ("rnn.bias_hh_l0", &self.bias_hh),
            ("output.weight", &self.out_weight),
            ("output.bias", &self.out_bias),
        ]
    }
}

/// The permutation that undoes `order`.
fn inverse(order: &[u32]) -> Vec<u32> {
    let mut back = vec![0u32; order.len()];
    for (i, &o) in order.iter().enumerate() {
        back[o as usize] = i as u32;
    }
    back
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::count;
    use crate::spec::Cell;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(vocab: usize, hidden: usize, dtype: DType, seed: u64) -> RnnLm {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        RnnLm::new(vocab, hidden, dtype, &Device::Cpu, &mut rng).unwrap()
    }

    fn loss(m: &RnnLm, inputs: &[u32], targets: &[u32], rows: usize) -> Tensor {
        let seq = inputs.len() / rows;
        let x = Tensor::from_slice(inputs, (rows, seq), &Device::Cpu).unwrap();
        let y = Tensor::from_slice(targets, (rows, seq), &Device::Cpu).unwrap();
        m.loss(&x, &y).unwrap()
    }

    #[test]
    fn parameter_count_matches_the_formula() {
        assert_eq!(count::language_model(Cell::Rnn, 1, 44, 128), 29_884);
        for (v, h) in [(44, 128), (44, 200), (5, 3)] {
            assert_eq!(
                model(v, h, DType::F32, 0).parameter_count(),
                count::language_model(Cell::Rnn, 1, v, h)
            );
        }
    }

    #[test]
    fn initialisation_follows_pytorch_bounds_and_is_seeded() {
        let a = model(10, 16, DType::F32, 1);
        let bound = 0.25_f32; // 1/√16
        for (name, var) in a.parameters().into_iter().skip(1) {
            let v: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
            assert!(v.iter().all(|x| x.abs() <= bound), "{name}");
        }
        let emb: Vec<f32> = a.embedding.flatten_all().unwrap().to_vec1().unwrap();
        assert!(
            emb.iter().any(|x| x.abs() > 1.0),
            "embedding is N(0,1), not U(±1/√H)"
        );
        let same = model(10, 16, DType::F32, 1);
        let other = model(10, 16, DType::F32, 2);
        let flat =
            |m: &RnnLm| -> Vec<f32> { m.weight_hh.flatten_all().unwrap().to_vec1().unwrap() };
        assert_eq!(flat(&a), flat(&same));
        assert_ne!(flat(&a), flat(&other));
    }

    /// Unrolls the RNN by hand on plain vectors: an independent check of the tensor version.
    #[test]
    fn logits_match_a_scalar_reference() {
        let m = model(6, 4, DType::F64, 7);
        let get = |v: &Var| -> Vec<f64> { v.flatten_all().unwrap().to_vec1().unwrap() };
        let (e, wih, whh) = (get(&m.embedding), get(&m.weight_ih), get(&m.weight_hh));
        let (bih, bhh, wo, bo) = (
            get(&m.bias_ih),
            get(&m.bias_hh),
            get(&m.out_weight),
            get(&m.out_bias),
        );
        let (v, h) = (6, 4);
        let inputs = [1u32, 5, 0, 3, 3, 2];
        let x = Tensor::from_slice(&inputs, (2, 3), &Device::Cpu).unwrap();
        let got: Vec<Vec<f64>> = m.logits(&x).unwrap().to_vec2().unwrap();
        for row in 0..2 {
            let mut state = vec![0.0; h];
            for t in 0..3 {
                let tok = inputs[row * 3 + t] as usize;
                let emb = &e[tok * v..(tok + 1) * v];
                let next: Vec<f64> = (0..h)
                    .map(|i| {
                        let a: f64 = (0..v).map(|j| wih[i * v + j] * emb[j]).sum::<f64>()
                            + (0..h).map(|j| whh[i * h + j] * state[j]).sum::<f64>()
                            + bih[i]
                            + bhh[i];
                        a.tanh()
                    })
                    .collect();
                state = next;
                for k in 0..v {
                    let want = (0..h).map(|j| wo[k * h + j] * state[j]).sum::<f64>() + bo[k];
                    let have = got[row * 3 + t][k];
                    assert!(
                        (want - have).abs() < 1e-12,
                        "row {row} t {t} k {k}: {want} vs {have}"
                    );
                }
            }
        }
    }

    /// The fused loss and the fused recurrence against the plain candle model: same logits, loss
    /// and gradients for every parameter (f64: 1e-12 relative; f32: 1e-5 relative to the largest entry), for one
    /// block of windows and for several (70 windows: blocks of 24, 23, 23).
    #[test]
    fn fused_recurrence_matches_the_reference() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            for rows in [3, 70] {
                let fused = model(9, 12, dtype, 5);
                let reference = model(9, 12, dtype, 5).with_recurrence(Recurrence::Reference);
                let inputs: Vec<u32> = (0..rows * 7).map(|i| (i * 5 % 9) as u32).collect();
                let targets: Vec<u32> = (0..rows * 7).map(|i| (i * i % 9) as u32).collect();
                let to64 = |t: &Tensor| -> Vec<f64> {
                    t.to_dtype(DType::F64)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap()
                };
                let close = |a: &[f64], b: &[f64], what: &str| {
                    let scale = b.iter().fold(1e-30f64, |m, x| m.max(x.abs()));
                    for (x, y) in a.iter().zip(b) {
                        assert!(
                            (x - y).abs() <= tol * scale,
                            "{what} ({dtype:?}, {rows} rows): {x} vs {y}"
                        );
                    }
                };
                let x = Tensor::from_slice(&inputs, (rows, 7), &Device::Cpu).unwrap();
                close(
                    &to64(&fused.logits(&x).unwrap()),
                    &to64(&reference.logits(&x).unwrap()),
                    "logits",
                );
                let (lf, lr) = (
                    loss(&fused, &inputs, &targets, rows),
                    loss(&reference, &inputs, &targets, rows),
                );
                close(&to64(&lf), &to64(&lr), "loss");
                // The fused loss, and the fused recurrence under candle's own loss.
                let y = Tensor::from_slice(&targets, rows * 7, &Device::Cpu).unwrap();
                let lg = cross_entropy(&fused.logits(&x).unwrap(), &y).unwrap();
                close(&to64(&lg), &to64(&lr), "loss from logits");
                let gr = lr.backward().unwrap();
                for g in [lf.backward().unwrap(), lg.backward().unwrap()] {
                    for ((name, vf), (_, vr)) in
                        fused.parameters().into_iter().zip(reference.parameters())
                    {
                        close(&to64(g.get(vf).unwrap()), &to64(gr.get(vr).unwrap()), name);
                    }
                }
            }
        }
    }

    /// Blocks of a batch may run on several threads: the loss and every gradient are the same
    /// bits whatever the thread budget (batch of 70 windows, 3 blocks).
    #[test]
    fn results_do_not_depend_on_the_thread_budget() {
        use crate::model::kernels::set_thread_budget;
        let m = model(9, 20, DType::F32, 8);
        let inputs: Vec<u32> = (0..70 * 11).map(|i| (i * 7 % 9) as u32).collect();
        let targets: Vec<u32> = (0..70 * 11).map(|i| (i * 4 % 9) as u32).collect();
        let bits = |budget: usize| -> Vec<Vec<u32>> {
            set_thread_budget(budget);
            let l = loss(&m, &inputs, &targets, 70);
            let grads = l.backward().unwrap();
            let flat = |t: &Tensor| -> Vec<u32> {
                let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                v.iter().map(|x| x.to_bits()).collect()
            };
            let mut out = vec![flat(&l)];
            out.extend(
                m.parameters()
                    .iter()
                    .map(|(_, v)| flat(grads.get(v).unwrap())),
            );
            out
        };
        let one = bits(1);
        assert_eq!(one, bits(2));
        assert_eq!(one, bits(3));
        set_thread_budget(1);
    }

    /// 100 training steps (Adam, real batches of the Time Machine) with the fused recurrence
    /// and with the reference: the loss curves agree within 1e-5 relative at every step (f32;
    /// they differ only by the tanh approximation and summation order).
    #[test]
    fn fused_and_reference_loss_curves_agree_over_100_steps() {
        use crate::data::{batch, Corpus, Vocab};
        use crate::train::{Adam, AdamConfig};
        let corpus = Corpus::builtin();
        let vocab = Vocab::from_text(&corpus.text);
        let split = batch::Split::new(vocab.encode(&corpus.text));
        let curve = |recurrence: Recurrence| -> Vec<f32> {
            let m = model(vocab.len(), 64, DType::F32, 11).with_recurrence(recurrence);
            let vars = m.parameters().into_iter().map(|(_, v)| v.clone()).collect();
            let config = AdamConfig {
                lr: 0.01,
                ..AdamConfig::default()
            };
            let mut adam = Adam::new(vars, config).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(12);
            (0..100)
                .map(|_| {
                    let b = batch::sample(&split.train, 16, 35, &mut rng);
                    let l = loss(&m, &b.inputs, &b.targets, 16);
                    adam.step(&l.backward().unwrap()).unwrap();
                    l.to_scalar::<f32>().unwrap()
                })
                .collect()
        };
        let (fused, reference) = (curve(Recurrence::Fused), curve(Recurrence::Reference));
        for (step, (f, r)) in fused.iter().zip(&reference).enumerate() {
            assert!((f - r).abs() <= 1e-5 * r.abs(), "step {step}: {f} vs {r}");
        }
        assert!(
            fused[99] < fused[0] - 0.5,
            "it trained: {} -> {}",
            fused[0],
            fused[99]
        );
    }

    /// Reading a window one step at a time gives the logits of the whole-window pass.
    #[test]
    fn stepping_matches_the_window_logits() {
        let m = model(7, 5, DType::F64, 4);
        let tokens = [3u32, 0, 6, 6, 2];
        let x = Tensor::from_slice(&tokens, (1, 5), &Device::Cpu).unwrap();
        let whole: Vec<Vec<f64>> = m.logits(&x).unwrap().to_vec2().unwrap();
        let mut state = None;
        for (t, &token) in tokens.iter().enumerate() {
            let (h, logits) = m.step(state.as_ref(), token).unwrap();
            let logits: Vec<f64> = logits.to_vec1().unwrap();
            for (a, b) in logits.iter().zip(&whole[t]) {
                assert!((a - b).abs() < 1e-12, "step {t}: {a} vs {b}");
            }
            state = Some(h);
        }
    }

    /// Backpropagation through time against central finite differences, in f64.
    #[test]
    fn gradients_match_finite_differences() {
        let m = model(5, 6, DType::F64, 3);
        let inputs = [0u32, 1, 2, 3, 4, 4, 3, 2, 1, 0, 2, 2];
        let targets = [1u32, 2, 3, 4, 0, 3, 2, 1, 0, 4, 2, 1];
        let x = Tensor::from_slice(&inputs, (2, 6), &Device::Cpu).unwrap();
        let y = Tensor::from_slice(&targets, (2, 6), &Device::Cpu).unwrap();
        crate::model::grad_check::assert_gradients_match(&m, &x, &y, 6);
    }
}
