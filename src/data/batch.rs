//! Train/held-out split and batching as in the reference recipe.
//!
//! A training batch ([`sample`], `sampling: "block"`) picks one random start in the training part
//! and takes `batch_size` consecutive windows of `seq_len` characters from there;
//! [`sample_random`] (`"random"`) starts every window at its own random position. Targets are
//! the inputs shifted by one.
//! Held-out evaluation covers the whole held-out part in consecutive windows.

use rand::Rng;

/// Lengths of the training part (first 90%) and held-out part (last 10%) of `n` tokens.
pub fn split_lengths(n: usize) -> (usize, usize) {
    let train = n * 9 / 10;
    (train, n - train)
}

/// Tokens needed in the training part for one batch (inputs plus the shifted last target).
pub fn min_train_len(batch_size: usize, seq_len: usize) -> usize {
    batch_size * seq_len + 1
}

/// The tokens of a corpus split into a training part and a held-out part.
#[derive(Debug, Clone)]
pub struct Split {
    /// First 90% of the tokens.
    pub train: Vec<u32>,
    /// Last 10% of the tokens.
    pub heldout: Vec<u32>,
}

impl Split {
    /// Splits `tokens` at 90%.
    pub fn new(mut tokens: Vec<u32>) -> Split {
        let (train, _) = split_lengths(tokens.len());
        let heldout = tokens.split_off(train);
        Split {
            train: tokens,
            heldout,
        }
    }
}

/// A batch of windows, row-major `(rows, seq_len)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Input tokens.
    pub inputs: Vec<u32>,
    /// Target tokens: each input's successor in the text.
    pub targets: Vec<u32>,
    /// Number of windows.
    pub rows: usize,
    /// Window length.
    pub seq_len: usize,
}

/// Samples a training batch: `batch_size` consecutive windows from one random start.
pub fn sample(train: &[u32], batch_size: usize, seq_len: usize, rng: &mut impl Rng) -> Batch {
    let span = batch_size * seq_len;
    assert!(
        train.len() > span,
        "training part too short for one batch (checked when the plan is built)"
    );
    let start = rng.random_range(0..=train.len() - span - 1);
    Batch {
        inputs: train[start..start + span].to_vec(),
        targets: train[start + 1..start + span + 1].to_vec(),
        rows: batch_size,
        seq_len,
    }
}

/// Samples a training batch of `batch_size` windows, each from its own random start.
pub fn sample_random(
    train: &[u32],
    batch_size: usize,
    seq_len: usize,
    rng: &mut impl Rng,
) -> Batch {
    assert!(
        train.len() > seq_len,
        "training part too short for one window (checked when the plan is built)"
    );
    let mut inputs = Vec::with_capacity(batch_size * seq_len);
    let mut targets = Vec::with_capacity(batch_size * seq_len);
    for _ in 0..batch_size {
        let start = rng.random_range(0..=train.len() - seq_len - 1);
        inputs.extend_from_slice(&train[start..start + seq_len]);
        targets.extend_from_slice(&train[start + 1..start + seq_len + 1]);
    }
    Batch {
        inputs,
        targets,
        rows: batch_size,
        seq_len,
    }
}

/// The held-out part as consecutive non-overlapping windows, at most `max_rows` per batch.
pub fn heldout_batches(heldout: &[u32], seq_len: usize, max_rows: usize) -> Vec<Batch> {
    let windows = heldout.len().saturating_sub(1) / seq_len;
    (0..windows)
        .step_by(max_rows)
        .map(|first| {
            let rows = max_rows.min(windows - first);
            let start = first * seq_len;
            let span = rows * seq_len;
            Batch {
                inputs: heldout[start..start + span].to_vec(),
                targets: heldout[start + 1..start + span + 1].to_vec(),
                rows,
                seq_len,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn split_is_90_10() {
        let s = Split::new((0..1000).collect());
        assert_eq!(s.train.len(), 900);
        assert_eq!(s.heldout[0], 900);
        assert_eq!(split_lengths(175_758), (158_182, 17_576));
    }

    #[test]
    fn windows_are_consecutive_and_targets_shifted_by_one() {
        let train: Vec<u32> = (0..500).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let b = sample(&train, 4, 7, &mut rng);
            assert_eq!((b.rows, b.seq_len), (4, 7));
            assert_eq!(b.inputs.len(), 28);
            let start = b.inputs[0];
            // Token values equal positions here, so consecutive windows mean consecutive values.
            assert_eq!(b.inputs, (start..start + 28).collect::<Vec<_>>());
            assert_eq!(b.targets, (start + 1..start + 29).collect::<Vec<_>>());
            assert!(*b.targets.last().unwrap() < 500);
        }
    }

    #[test]
    fn sampling_reaches_both_ends_of_the_training_part() {
        let train: Vec<u32> = (0..40).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let starts: Vec<u32> = (0..2000)
            .map(|_| sample(&train, 2, 5, &mut rng).inputs[0])
            .collect();
        assert_eq!(starts.iter().min(), Some(&0));
        assert_eq!(
            starts.iter().max(),
            Some(&29),
            "last start leaves room for the shifted target"
        );
    }

    #[test]
    fn random_windows_start_independently_and_reach_both_ends() {
        let train: Vec<u32> = (0..40).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut starts = Vec::new();
        let mut apart = 0;
        for _ in 0..500 {
            let b = sample_random(&train, 3, 5, &mut rng);
            assert_eq!((b.rows, b.inputs.len(), b.targets.len()), (3, 15, 15));
            for w in 0..3 {
                let row = &b.inputs[w * 5..w * 5 + 5];
                assert_eq!(row, (row[0]..row[0] + 5).collect::<Vec<_>>());
                assert_eq!(b.targets[w * 5], row[0] + 1);
                starts.push(row[0]);
            }
            apart += usize::from(b.inputs[5] != b.inputs[4] + 1);
        }
        assert_eq!(starts.iter().min(), Some(&0));
        assert_eq!(starts.iter().max(), Some(&34));
        assert!(apart > 400, "windows are not laid end to end: {apart}/500");
    }

    #[test]
    fn sampling_is_deterministic_per_seed() {
        let train: Vec<u32> = (0..1000).collect();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..5)
                .map(|_| sample(&train, 3, 4, &mut rng).inputs[0])
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn heldout_batches_cover_the_tail_in_order() {
        let heldout: Vec<u32> = (0..100).collect();
        let batches = heldout_batches(&heldout, 7, 5);
        // (100 - 1) / 7 = 14 windows: batches of 5, 5, 4.
        assert_eq!(
            batches.iter().map(|b| b.rows).collect::<Vec<_>>(),
            [5, 5, 4]
        );
        let inputs: Vec<u32> = batches.iter().flat_map(|b| b.inputs.clone()).collect();
        assert_eq!(inputs, (0..98).collect::<Vec<_>>());
        let targets: Vec<u32> = batches.iter().flat_map(|b| b.targets.clone()).collect();
        assert_eq!(targets, (1..99).collect::<Vec<_>>());
    }
}
