//! Text generation from a trained model: read a prefix, then draw one character at a time from
//! the softmax of the logits divided by the temperature (the most likely one at temperature 0).

use candle_core::{DType, Result, Tensor};
use rand::Rng;

use super::LanguageModel;

/// `chars` characters following `prefix` (token ids), drawn with `rng` at `temperature`
/// (0: greedy). The prefix must not be empty.
pub fn generate(
    model: &dyn LanguageModel,
    prefix: &[u32],
    chars: usize,
    temperature: f64,
    rng: &mut impl Rng,
) -> Result<Vec<u32>> {
    let Some((&first, rest)) = prefix.split_first() else {
        candle_core::bail!("the prefix is empty");
    };
    let (mut state, mut logits) = detached(model.step(None, first)?);
    for &token in rest {
        (state, logits) = detached(model.step(Some(&state), token)?);
    }
    let mut out = Vec::with_capacity(chars);
    for _ in 0..chars {
        let scores: Vec<f64> = logits.to_dtype(DType::F64)?.to_vec1()?;
        let next = pick(&scores, temperature, rng);
        out.push(next);
        (state, logits) = detached(model.step(Some(&state), next)?);
    }
    Ok(out)
}

/// A step's state and logits without the op graph behind them. The model's parameters are
/// `Var`s, so each step's outputs record the ops that made them, and through the state those
/// of every step before: dropping a chain thousands of steps long recurses through each op and
/// overflows the stack. Generation needs no gradients, so each step starts a fresh graph.
fn detached((state, logits): (Tensor, Tensor)) -> (Tensor, Tensor) {
    (state.detach(), logits.detach())
}

/// The index drawn from `softmax(scores / temperature)`; the largest score at temperature 0.
fn pick(scores: &[f64], temperature: f64, rng: &mut impl Rng) -> u32 {
    let best = scores
        .iter()
        .enumerate()
        .fold(0, |b, (i, &s)| if s > scores[b] { i } else { b });
    if temperature <= 0.0 {
        return best as u32;
    }
    let max = scores[best];
    let weights: Vec<f64> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let mut x = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i as u32;
        }
        x -= w;
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn temperature_zero_is_greedy_and_higher_temperatures_follow_the_softmax() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let scores = [0.0, 2.0f64.ln(), 1.0f64.ln() - 40.0];
        assert_eq!(pick(&scores, 0.0, &mut rng), 1);
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[pick(&scores, 1.0, &mut rng) as usize] += 1;
        }
        // Probabilities 1/3, 2/3, ~0.
        assert!((900..1100).contains(&counts[0]), "{counts:?}");
        assert_eq!(counts[2], 0, "{counts:?}");
    }

    /// Each step's state must not hold the graph of the steps before it: without detaching,
    /// dropping the chain recurses once per op and overflows a 2 MiB stack after about 6000
    /// characters of a 2-layer GRU (measured in release), so 20 000 leave a wide margin. The
    /// stack size is set here so that `RUST_MIN_STACK` cannot hide the overflow.
    #[test]
    fn long_generation_does_not_build_a_graph_per_character() {
        use crate::spec::{Cell, TrainParams};
        use candle_core::Device;
        let run = || {
            let params = TrainParams {
                cell: Cell::Gru,
                layers: 2,
                hidden: 4,
                ..TrainParams::default()
            };
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let model = crate::model::build(&params, 5, &mut rng, &Device::Cpu).unwrap();
            generate(model.as_ref(), &[1, 2, 3], 20_000, 1.0, &mut rng).unwrap()
        };
        let out = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(out.len(), 20_000);
        assert!(
            out.iter().all(|&t| t < 5),
            "token ids within the vocabulary"
        );
    }
}
