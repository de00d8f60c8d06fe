//! Text generation from a trained model: read a prefix, then draw one character at a time from
//! the softmax of the logits divided by the temperature (the most likely one at temperature 0).

use candle_core::{DType, Result};
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
    let (mut state, mut logits) = model.step(None, first)?;
    for &token in rest {
        (state, logits) = model.step(Some(&state), token)?;
    }
    let mut out = Vec::with_capacity(chars);
    for _ in 0..chars {
        let scores: Vec<f64> = logits.to_dtype(DType::F64)?.to_vec1()?;
        let next = pick(&scores, temperature, rng);
        out.push(next);
        (state, logits) = model.step(Some(&state), next)?;
    }
    Ok(out)
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
}
