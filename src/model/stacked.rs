//! Stacked recurrent language models with plain candle ops: embedding V×V → `layers` RNN, GRU
//! or LSTM layers of H units → linear H→V, with PyTorch's gate layout, parameter names and
//! initialisation (`nn.RNN/GRU/LSTM(V, H, layers)`), so results compare with PyTorch.
//!
//! This is the general path (any cell, any depth), step by step through candle's graph; the
//! single-layer RNN has a fused fast path ([`super::RnnLm`]), which this matches exactly.
//!
//! Gates (`σ` the logistic function, `x` the layer's input, `h` its state):
//! - GRU, rows `[r; z; n]`: `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z` likewise,
//!   `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 - z) ⊙ n + z ⊙ h`;
//! - LSTM, rows `[i; f; g; o]`: `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`.

use std::collections::HashSet;
use std::sync::Mutex;

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::ops::sigmoid;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fused::{Fused, LayerVars};
use super::{cross_entropy, init, LanguageModel};
use crate::spec::Cell;

/// The weights of one recurrent layer.
struct Layer {
    weight_ih: Var,
    weight_hh: Var,
    bias_ih: Var,
    bias_hh: Var,
}

/// A stacked recurrent language model.
pub struct StackedLm {
    cell: Cell,
    hidden: usize,
    dropout: f64,
    fused: bool,
    embedding: Var,
    layers: Vec<Layer>,
    out_weight: Var,
    out_bias: Var,
    names: Vec<&'static str>,
}

impl StackedLm {
    /// A model for `vocab` characters with `layers` layers of `hidden` units, initialised from
    /// `rng` in a fixed order: embedding N(0,1); per layer `weight_ih`, `weight_hh`, `bias_ih`,
    /// `bias_hh` U(±1/√H); output weight and bias U(±1/√H).
    pub fn new(
        cell: Cell,
        layers: usize,
        vocab: usize,
        hidden: usize,
        dtype: DType,
        device: &Device,
        rng: &mut impl Rng,
    ) -> Result<StackedLm> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let rows = cell.gate_groups() * hidden;
        let embedding = init::normal(&[vocab, vocab], dtype, device, rng)?;
        let mut stack = Vec::with_capacity(layers);
        for l in 0..layers {
            let inputs = if l == 0 { vocab } else { hidden };
            stack.push(Layer {
                weight_ih: init::uniform(&[rows, inputs], bound, dtype, device, rng)?,
                weight_hh: init::uniform(&[rows, hidden], bound, dtype, device, rng)?,
                bias_ih: init::uniform(&[rows], bound, dtype, device, rng)?,
                bias_hh: init::uniform(&[rows], bound, dtype, device, rng)?,
            });
        }
        let out_weight = init::uniform(&[vocab, hidden], bound, dtype, device, rng)?;
        let out_bias = init::uniform(&[vocab], bound, dtype, device, rng)?;
        let prefix = cell.name();
        let mut names = vec!["embedding.weight"];
        for l in 0..layers {
            for part in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                names.push(interned(format!("{prefix}.{part}_l{l}")));
            }
        }
        names.extend(["output.weight", "output.bias"]);
        Ok(StackedLm {
            cell,
            hidden,
            dropout: 0.0,
            fused: true,
            embedding,
            layers: stack,
            out_weight,
            out_bias,
            names,
        })
    }

    /// Drops each output of every layer but the last with probability `p` during training
    /// (scaling the kept ones by 1/(1-p)), as PyTorch's `dropout` argument; none at evaluation.
    pub fn with_dropout(mut self, p: f64) -> StackedLm {
        self.dropout = p;
        self
    }

    /// With `false`, the model runs through plain candle ops only, instead of the fused loss
    /// ([`Fused`]): the reference the fused op is tested against.
    pub fn with_fused(mut self, fused: bool) -> StackedLm {
        self.fused = fused;
        self
    }

    /// The parameters for the fused loss, when it is on.
    fn fused(&self) -> Option<Fused<'_>> {
        self.fused.then(|| Fused {
            cell: self.cell,
            embedding: &self.embedding,
            layers: self
                .layers
                .iter()
                .map(|l| LayerVars {
                    weight_ih: &l.weight_ih,
                    weight_hh: &l.weight_hh,
                    bias_ih: &l.bias_ih,
                    bias_hh: &l.bias_hh,
                })
                .collect(),
            out_weight: &self.out_weight,
            out_bias: &self.out_bias,
        })
    }

    /// Whether training draws dropout masks (more than one layer and `dropout` > 0).
    fn drops(&self) -> bool {
        self.dropout > 0.0 && self.layers.len() > 1
    }

    /// The dropout masks of a training step for the fused op, `(layers - 1, rows·seq_len, H)`
    /// (row `r·seq_len + t`), drawn in the candle path's order (step by step, layer by layer,
    /// [`StackedLm::mask`]), so that both paths train the same model from the same generator.
    fn fused_masks(&self, rng: &mut ChaCha8Rng, rows: usize, seq_len: usize) -> Result<Tensor> {
        let (above, h) = (self.layers.len() - 1, self.hidden);
        let mut values = vec![0.0f64; above * rows * seq_len * h];
        for t in 0..seq_len {
            for l in 0..above {
                let mask = self.mask_values(rng, rows);
                for (r, row) in mask.chunks_exact(h).enumerate() {
                    let at = (l * rows * seq_len + r * seq_len + t) * h;
                    values[at..at + h].copy_from_slice(row);
                }
            }
        }
        Tensor::from_vec(values, (above, rows * seq_len, h), self.embedding.device())?
            .to_dtype(self.embedding.dtype())
    }

    /// State tensors per layer: `h`, and `c` for the LSTM.
    fn parts(&self) -> usize {
        if self.cell == Cell::Lstm {
            2
        } else {
            1
        }
    }

    /// One step of layer `layer` from input projections `gi` (`x·W_ihᵀ + b_ih`, rows × gH)
    /// and the layer's state parts (`None` at the start: zeros); returns the new parts.
    fn cell_step(
        &self,
        layer: &Layer,
        gi: &Tensor,
        state: Option<&[Tensor]>,
    ) -> Result<Vec<Tensor>> {
        let h_prev = state.map(|s| &s[0]);
        let gh = match h_prev {
            Some(h) => h
                .matmul(&layer.weight_hh.t()?)?
                .broadcast_add(&layer.bias_hh)?,
            None => layer
                .bias_hh
                .unsqueeze(0)?
                .broadcast_as(gi.shape())?
                .contiguous()?,
        };
        let hs = self.hidden;
        match self.cell {
            Cell::Rnn => Ok(vec![(gi + gh)?.tanh()?]),
            Cell::Gru => {
                let r = sigmoid(&(gi.narrow(1, 0, hs)? + gh.narrow(1, 0, hs)?)?)?;
                let z = sigmoid(&(gi.narrow(1, hs, hs)? + gh.narrow(1, hs, hs)?)?)?;
                let n = (gi.narrow(1, 2 * hs, hs)? + (r * gh.narrow(1, 2 * hs, hs)?)?)?.tanh()?;
                let h = match h_prev {
                    Some(h) => (((1.0 - &z)? * n)? + (z * h)?)?,
                    None => ((1.0 - z)? * n)?,
                };
                Ok(vec![h])
            }
            Cell::Lstm => {
                let g = (gi + gh)?;
                let gate = |k: usize| g.narrow(1, k * hs, hs);
                let (i, f, cand, o) = (
                    sigmoid(&gate(0)?)?,
                    sigmoid(&gate(1)?)?,
                    gate(2)?.tanh()?,
                    sigmoid(&gate(3)?)?,
                );
                let c = match state {
                    Some(s) => ((f * &s[1])? + (i * cand)?)?,
                    None => (i * cand)?,
                };
                let h = (o * c.tanh()?)?;
                Ok(vec![h, c])
            }
        }
    }

    /// Runs every layer one step on the tokens `x` (rows,) from `state` (per layer, its parts);
    /// returns the new state. With `dropout`, the input to every layer above the first is
    /// masked with draws from it.
    fn advance(
        &self,
        x: &Tensor,
        state: Option<&[Vec<Tensor>]>,
        mut dropout: Option<&mut ChaCha8Rng>,
    ) -> Result<Vec<Vec<Tensor>>> {
        let mut out = Vec::with_capacity(self.layers.len());
        let mut input = self.embedding.index_select(x, 0)?;
        for (l, layer) in self.layers.iter().enumerate() {
            if let (true, Some(rng)) = (l > 0, dropout.as_deref_mut()) {
                input = (input * self.mask(rng, x.dims1()?)?)?;
            }
            let gi = input
                .matmul(&layer.weight_ih.t()?)?
                .broadcast_add(&layer.bias_ih)?;
            let parts = self.cell_step(layer, &gi, state.map(|s| s[l].as_slice()))?;
            input = parts[0].clone();
            out.push(parts);
        }
        Ok(out)
    }

    /// A dropout mask `(rows, H)`: 0 with probability p, 1/(1-p) otherwise.
    fn mask(&self, rng: &mut ChaCha8Rng, rows: usize) -> Result<Tensor> {
        Tensor::from_vec(
            self.mask_values(rng, rows),
            (rows, self.hidden),
            self.embedding.device(),
        )?
        .to_dtype(self.embedding.dtype())
    }

    /// The values of [`StackedLm::mask`], row-major.
    fn mask_values(&self, rng: &mut ChaCha8Rng, rows: usize) -> Vec<f64> {
        let keep = 1.0 - self.dropout;
        (0..rows * self.hidden)
            .map(|_| {
                if rng.random::<f64>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Logits `(rows·seq_len, V)` from `initial` (per layer, its parts; zeros when `None`),
    /// with dropout masks from `dropout` when given; and the state after the last step.
    fn run(
        &self,
        inputs: &Tensor,
        initial: Option<Vec<Vec<Tensor>>>,
        mut dropout: Option<&mut ChaCha8Rng>,
    ) -> Result<(Tensor, Vec<Vec<Tensor>>)> {
        let (rows, seq_len) = inputs.dims2()?;
        let by_time = inputs.t()?.contiguous()?;
        let mut state = initial;
        let mut tops = Vec::with_capacity(seq_len);
        for t in 0..seq_len {
            let next = self.advance(&by_time.get(t)?, state.as_deref(), dropout.as_deref_mut())?;
            tops.push(next.last().expect("at least one layer")[0].clone());
            state = Some(next);
        }
        let states = Tensor::stack(&tops, 1)?.reshape((rows * seq_len, self.hidden))?;
        let last = state.expect("at least one step (checked by the plan)");
        Ok((self.head(&states)?, last))
    }

    /// `(layers·parts, rows, H)` as per layer, its parts.
    fn unpack(&self, state: &Tensor) -> Result<Vec<Vec<Tensor>>> {
        let parts = self.parts();
        (0..self.layers.len())
            .map(|l| (0..parts).map(|p| state.get(l * parts + p)).collect())
            .collect()
    }

    fn head(&self, top: &Tensor) -> Result<Tensor> {
        top.matmul(&self.out_weight.t()?)?
            .broadcast_add(self.out_bias.as_tensor())
    }
}

impl LanguageModel for StackedLm {
    fn logits(&self, inputs: &Tensor) -> Result<Tensor> {
        Ok(self.run(inputs, None, None)?.0)
    }

    fn loss(&self, inputs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        match self.fused() {
            Some(fused) => Ok(fused.loss(inputs, targets, None, None)?.0),
            None => cross_entropy(&self.logits(inputs)?, &targets.flatten_all()?),
        }
    }

    fn training_loss(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor> {
        if !self.drops() {
            return self.loss(inputs, targets);
        }
        if let Some(fused) = self.fused() {
            let (rows, seq_len) = inputs.dims2()?;
            let masks = self.fused_masks(rng, rows, seq_len)?;
            return Ok(fused.loss(inputs, targets, None, Some(&masks))?.0);
        }
        let logits = self.run(inputs, None, Some(rng))?.0;
        cross_entropy(&logits, &targets.flatten_all()?)
    }

    fn training_loss_carrying(
        &self,
        inputs: &Tensor,
        targets: &Tensor,
        state: Option<&Tensor>,
        rng: &mut ChaCha8Rng,
    ) -> Result<(Tensor, Tensor)> {
        if let Some(fused) = self.fused() {
            let (rows, seq_len) = inputs.dims2()?;
            let masks = if self.drops() {
                Some(self.fused_masks(rng, rows, seq_len)?)
            } else {
                None
            };
            return fused.loss(inputs, targets, state, masks.as_ref());
        }
        let initial = state.map(|s| self.unpack(&s.detach())).transpose()?;
        let dropout = self.drops().then_some(rng);
        let (logits, last) = self.run(inputs, initial, dropout)?;
        let loss = cross_entropy(&logits, &targets.flatten_all()?)?;
        let flat: Vec<Tensor> = last.into_iter().flatten().collect();
        Ok((loss, Tensor::stack(&flat, 0)?.detach()))
    }

    fn step(&self, state: Option<&Tensor>, token: u32) -> Result<(Tensor, Tensor)> {
        // The state is every layer's parts stacked: (layers × parts, H).
        let unpacked = state.map(|s| self.unpack(&s.unsqueeze(1)?)).transpose()?;
        let x = Tensor::new(&[token], self.embedding.device())?;
        let next = self.advance(&x, unpacked.as_deref(), None)?;
        let logits = self
            .head(&next.last().expect("at least one layer")[0])?
            .squeeze(0)?;
        let flat: Vec<Tensor> = next.into_iter().flatten().collect();
        Ok((Tensor::cat(&flat, 0)?, logits))
    }

    fn parameters(&self) -> Vec<(&'static str, &Var)> {
        let mut vars = vec![&self.embedding];
        for l in &self.layers {
            vars.extend([&l.weight_ih, &l.weight_hh, &l.bias_ih, &l.bias_hh]);
        }
        vars.extend([&self.out_weight, &self.out_bias]);
        self.names.iter().copied().zip(vars).collect()
    }
}

/// `name` as a `&'static str`, allocated once per distinct name (there are a few dozen).
fn interned(name: String) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().expect("no panics while held");
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{count, RnnLm};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(cell: Cell, layers: usize, vocab: usize, hidden: usize, seed: u64) -> StackedLm {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        StackedLm::new(
            cell,
            layers,
            vocab,
            hidden,
            DType::F64,
            &Device::Cpu,
            &mut rng,
        )
        .unwrap()
    }

    fn get(v: &Var) -> Vec<f64> {
        v.flatten_all().unwrap().to_vec1().unwrap()
    }

    fn sigma(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Every parameter is counted: the model's trainable scalars equal the PyTorch-convention
    /// count of `sweep params` plus the embedding, for every cell and depth.
    #[test]
    fn parameter_counts_match_the_calculator() {
        for cell in Cell::ALL {
            for layers in [1, 2, 3] {
                let m = model(cell, layers, 11, 6, 0);
                assert_eq!(
                    m.parameter_count(),
                    count::language_model(cell, layers, 11, 6),
                    "{cell:?} × {layers}"
                );
                assert_eq!(m.parameters().len(), 3 + 4 * layers);
            }
        }
        let names: Vec<&str> = model(Cell::Lstm, 2, 5, 3, 0)
            .parameters()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names[5], "lstm.weight_ih_l1");
    }

    /// The one-layer stacked RNN is the fused fast path's model: same initialisation, logits
    /// and loss.
    #[test]
    fn one_rnn_layer_equals_the_fused_model() {
        let stacked = model(Cell::Rnn, 1, 7, 5, 9);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let fused = RnnLm::new(7, 5, DType::F64, &Device::Cpu, &mut rng).unwrap();
        let tokens: Vec<u32> = (0..12).map(|i| (i * 3 % 7) as u32).collect();
        let x = Tensor::from_slice(&tokens, (3, 4), &Device::Cpu).unwrap();
        let a: Vec<Vec<f64>> = stacked.logits(&x).unwrap().to_vec2().unwrap();
        let b: Vec<Vec<f64>> = fused.logits(&x).unwrap().to_vec2().unwrap();
        for (ra, rb) in a.iter().zip(&b) {
            for (p, q) in ra.iter().zip(rb) {
                assert!((p - q).abs() < 1e-12, "{p} vs {q}");
            }
        }
    }

    /// Two layers of GRU and of LSTM against the gate equations unrolled on plain numbers.
    #[test]
    fn gated_cells_follow_pytorchs_equations() {
        let (v, h) = (5, 3);
        let tokens = [2u32, 0, 4, 4];
        for cell in [Cell::Gru, Cell::Lstm] {
            let m = model(cell, 2, v, h, 3);
            let x = Tensor::from_slice(&tokens, (1, 4), &Device::Cpu).unwrap();
            let got: Vec<Vec<f64>> = m.logits(&x).unwrap().to_vec2().unwrap();
            let e = get(&m.embedding);
            let g = cell.gate_groups();
            let mut hs = vec![vec![0.0; h]; 2];
            let mut cs = vec![vec![0.0; h]; 2];
            for (t, &tok) in tokens.iter().enumerate() {
                let mut input: Vec<f64> = e[tok as usize * v..][..v].to_vec();
                for (l, layer) in m.layers.iter().enumerate() {
                    let (wi, wh) = (get(&layer.weight_ih), get(&layer.weight_hh));
                    let (bi, bh) = (get(&layer.bias_ih), get(&layer.bias_hh));
                    let n_in = input.len();
                    let gi: Vec<f64> = (0..g * h)
                        .map(|r| {
                            bi[r] + (0..n_in).map(|k| wi[r * n_in + k] * input[k]).sum::<f64>()
                        })
                        .collect();
                    let gh: Vec<f64> = (0..g * h)
                        .map(|r| bh[r] + (0..h).map(|k| wh[r * h + k] * hs[l][k]).sum::<f64>())
                        .collect();
                    let mut next = vec![0.0; h];
                    for j in 0..h {
                        if cell == Cell::Gru {
                            let r = sigma(gi[j] + gh[j]);
                            let z = sigma(gi[h + j] + gh[h + j]);
                            let n = (gi[2 * h + j] + r * gh[2 * h + j]).tanh();
                            next[j] = (1.0 - z) * n + z * hs[l][j];
                        } else {
                            let a = |k: usize| gi[k * h + j] + gh[k * h + j];
                            let c = sigma(a(1)) * cs[l][j] + sigma(a(0)) * a(2).tanh();
                            cs[l][j] = c;
                            next[j] = sigma(a(3)) * c.tanh();
                        }
                    }
                    hs[l] = next.clone();
                    input = next;
                }
                let (wo, bo) = (get(&m.out_weight), get(&m.out_bias));
                for k in 0..v {
                    let want = bo[k] + (0..h).map(|j| wo[k * h + j] * hs[1][j]).sum::<f64>();
                    let have = got[t][k];
                    assert!(
                        (want - have).abs() < 1e-12,
                        "{cell:?} t {t}: {want} vs {have}"
                    );
                }
            }
        }
    }

    /// Reading one character at a time gives the whole-window logits (2 layers, each cell).
    #[test]
    fn stepping_matches_the_window_logits() {
        let tokens = [1u32, 3, 0, 2, 2];
        for cell in Cell::ALL {
            let m = model(cell, 2, 4, 3, 6);
            let x = Tensor::from_slice(&tokens, (1, 5), &Device::Cpu).unwrap();
            let whole: Vec<Vec<f64>> = m.logits(&x).unwrap().to_vec2().unwrap();
            let mut state = None;
            for (t, &tok) in tokens.iter().enumerate() {
                let (next, logits) = m.step(state.as_ref(), tok).unwrap();
                let logits: Vec<f64> = logits.to_vec1().unwrap();
                for (a, b) in logits.iter().zip(&whole[t]) {
                    assert!((a - b).abs() < 1e-12, "{cell:?} step {t}: {a} vs {b}");
                }
                state = Some(next);
            }
        }
    }

    /// Dropout acts between layers in training only, drawn from the given generator.
    #[test]
    fn dropout_masks_training_only_and_follows_the_generator() {
        let m = model(Cell::Gru, 2, 5, 8, 1).with_dropout(0.5);
        let x = Tensor::from_slice(&[1u32, 2, 3, 4, 0, 1], (2, 3), &Device::Cpu).unwrap();
        let y = Tensor::from_slice(&[2u32, 3, 4, 0, 1, 2], (2, 3), &Device::Cpu).unwrap();
        let value = |t: Tensor| t.to_scalar::<f64>().unwrap();
        let eval = value(m.loss(&x, &y).unwrap());
        let plain = model(Cell::Gru, 2, 5, 8, 1);
        assert_eq!(
            eval,
            value(plain.loss(&x, &y).unwrap()),
            "no dropout at evaluation"
        );
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            value(m.training_loss(&x, &y, &mut rng).unwrap())
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        assert_ne!(draw(3), eval);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let one_layer = model(Cell::Gru, 1, 5, 8, 1).with_dropout(0.5);
        let single = value(one_layer.training_loss(&x, &y, &mut rng).unwrap());
        assert_eq!(
            single,
            value(one_layer.loss(&x, &y).unwrap()),
            "one layer: nothing to drop"
        );
    }

    /// Gradients of the loss against central finite differences, in f64 (2 layers).
    #[test]
    fn gradients_match_finite_differences() {
        let inputs = [0u32, 1, 2, 3, 3, 2, 1, 0];
        let targets = [1u32, 2, 3, 0, 2, 1, 0, 3];
        let x = Tensor::from_slice(&inputs, (2, 4), &Device::Cpu).unwrap();
        let y = Tensor::from_slice(&targets, (2, 4), &Device::Cpu).unwrap();
        for cell in [Cell::Gru, Cell::Lstm] {
            crate::model::grad_check::assert_gradients_match(&model(cell, 2, 4, 3, 2), &x, &y, 3);
        }
    }
}
